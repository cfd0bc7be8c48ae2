package finding_test

import (
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

func TestFromEvent(t *testing.T) {
	t.Parallel()
	ev := corev2.FixtureEvent("web1", "check-pii")
	_, _, ok := finding.FromEvent(ev)
	require.False(t, ok, "Nagios output carries no structured findings")

	ev.Check.Output = `{"plugin":"check-pii","status":2,"summary":"s","findings":[{"rule":"pii.email","severity":"high","object":"/var/log/app.log"}],"findings_total":7,"metrics":[]}` + "\n"
	fs, total, ok := finding.FromEvent(ev)
	require.True(t, ok)
	require.Equal(t, 7, total)
	require.Equal(t, []finding.Finding{{Rule: "pii.email", Severity: finding.High, Object: "/var/log/app.log"}}, fs)

	ev.Check.Output = `{"plugin":"check-pii","status":0,"summary":"no findings","findings":[],"findings_total":0,"metrics":[]}`
	fs, total, ok = finding.FromEvent(ev)
	require.True(t, ok, "an empty list is structured too: the check found nothing")
	require.Empty(t, fs)
	require.Zero(t, total)

	// A report cut by the agent's max_output_size falls back to the annotation.
	ev.Check.Output = `{"plugin":"check-pii","findings":[{"rule":"pii.em`
	ev.Check.Annotations = map[string]string{finding.Annotation: `[{"rule":"pii.iban","severity":"critical","object":"x"}]`}
	fs, total, ok = finding.FromEvent(ev)
	require.True(t, ok)
	require.Equal(t, 1, total)
	require.Equal(t, "pii.iban", fs[0].Rule)

	ev.Check.Annotations[finding.Annotation] = `not json`
	_, _, ok = finding.FromEvent(ev)
	require.False(t, ok)
	_, _, ok = finding.FromEvent(nil)
	require.False(t, ok)
}

func TestSummaryLine(t *testing.T) {
	t.Parallel()
	for out, want := range map[string]string{
		"check-pii CRITICAL - 2 findings | findings=2;;;0\n[critical] pii.email …": "check-pii CRITICAL - 2 findings",
		`{"plugin":"check-pii","summary":"2 findings: 2 high","findings":[]}`:      "2 findings: 2 high",
		`{"not":"a report"}`: `{"not":"a report"}`,
		"":                   "",
	} {
		require.Equal(t, want, finding.SummaryLine(out), out)
	}
}
