package alert_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/alert"
	"github.com/vigil-sec/vigil/pkg/finding"
)

func builder(t *testing.T, mod func(*alert.Config)) *alert.Builder {
	t.Helper()
	cfg := alert.Config{DedupKey: alert.DefaultDedupKey, Summary: alert.DefaultSummary, Source: alert.DefaultSource,
		Component: alert.DefaultComponent, Group: alert.DefaultGroup, Class: alert.DefaultClass, DashboardURL: "https://sensu.example.com/"}
	if mod != nil {
		mod(&cfg)
	}
	b, err := alert.NewBuilder(cfg)
	require.NoError(t, err)
	return b
}

var at = time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)

func event(status uint32, output string) *corev2.Event {
	ev := corev2.FixtureEvent("web-1", "file-integrity")
	ev.Timestamp = at.Unix()
	ev.Check.Status = status
	ev.Check.Output = output
	return ev
}

func TestATriggerCarriesTheFindingsAndTheEnrichment(t *testing.T) {
	t.Parallel()
	fs, err := json.Marshal([]finding.Finding{
		{Rule: "fim.added", Severity: finding.Medium, Object: "/etc/cron.d/sync"},
		{Rule: "fim.modified", Severity: finding.Critical, Object: "/usr/bin/ps", Changed: []string{"sha256"}},
	})
	require.NoError(t, err)
	ev := event(2, "check-file-integrity CRITICAL - 2 changes | findings=2;;;0\n[critical] fim.modified /usr/bin/ps")
	ev.Check.Annotations = map[string]string{
		finding.Annotation:      string(fs),
		alert.RunbookAnnotation: "https://wiki.example.com/runbooks/fim.modified",
		alert.RulesAnnotation:   `{"fim.modified":{"mitre":["T1036"],"compliance":["PCI DSS 11.5"]}}`,
	}
	ev.Check.Labels = map[string]string{"vigil.io/team": "payments", "vigil.io/owner": "alice", alert.TeamLabel: "payments"}

	it, err := builder(t, nil).Build(ev)
	require.NoError(t, err)
	require.Equal(t, "payments", it.Team)
	e := it.Event
	require.Empty(t, e.RoutingKey, "the key is looked up when sending, never kept")
	require.Equal(t, "trigger", e.Action)
	require.Equal(t, "default/web-1/file-integrity", e.DedupKey)
	require.Equal(t, "https://sensu.example.com/c/~/n/default/events/web-1/file-integrity", e.ClientURL)
	require.Equal(t, []any{
		map[string]string{"href": "https://sensu.example.com/c/~/n/default/events/web-1/file-integrity", "text": "Sensu event"},
		map[string]string{"href": "https://wiki.example.com/runbooks/fim.modified", "text": "Runbook"},
	}, e.Links)
	p := e.Payload
	require.Equal(t, "critical", p.Severity, "the worst finding's severity")
	require.Equal(t, "web-1/file-integrity: check-file-integrity CRITICAL - 2 changes", p.Summary)
	require.Equal(t, "web-1", p.Source)
	require.Equal(t, "file-integrity", p.Component)
	require.Equal(t, "payments", p.Group)
	require.Equal(t, "fim.modified", p.Class)
	require.Equal(t, "2026-11-23T10:05:00Z", p.Timestamp, "seconds read as seconds, not divided by 1000")

	b, err := json.Marshal(p.Details)
	require.NoError(t, err)
	var details map[string]any
	require.NoError(t, json.Unmarshal(b, &details))
	require.Len(t, details["findings"], 2)
	require.Equal(t, "fim.modified", details["findings"].([]any)[0].(map[string]any)["rule"], "worst first")
	enrich := details["enrichment"].(map[string]any)
	require.Equal(t, "alice", enrich["owner"])
	require.Equal(t, []any{"T1036"}, enrich["rules"].(map[string]any)["fim.modified"].(map[string]any)["mitre"], "JSON annotations arrive as objects")
	require.NotContains(t, enrich, "findings", "the findings annotation is not repeated")
}

func TestSeverityComesFromTheStatusWithoutFindings(t *testing.T) {
	t.Parallel()
	b := builder(t, func(c *alert.Config) { c.Severities = map[string]string{"status-unknown": "critical"} })
	for status, want := range map[uint32]string{1: "warning", 2: "critical", 3: "critical", 127: "critical"} {
		it, err := b.Build(event(status, "x"))
		require.NoError(t, err)
		require.Equal(t, want, it.Event.Payload.Severity, "status %d", status)
	}
	it, err := builder(t, nil).Build(event(3, "x"))
	require.NoError(t, err)
	require.Equal(t, "error", it.Event.Payload.Severity, "UNKNOWN is mapped explicitly, not as info")
}

func TestOKResolvesAndTheAcknowledgeStatusAcknowledges(t *testing.T) {
	t.Parallel()
	b := builder(t, func(c *alert.Config) { c.AckStatus = 1 })
	for status, want := range map[uint32]string{0: "resolve", 1: "acknowledge", 2: "trigger"} {
		it, err := b.Build(event(status, "x"))
		require.NoError(t, err)
		require.Equal(t, want, it.Event.Action)
		require.Equal(t, "default/web-1/file-integrity", it.Event.DedupKey, "the same incident")
		if want != "trigger" {
			require.Nil(t, it.Event.Payload)
		}
	}
}

func TestTemplatesAndTheirFunctions(t *testing.T) {
	t.Parallel()
	b := builder(t, func(c *alert.Config) {
		c.Summary = `{{truncate 12 .Check.Output}}`
		c.Group = `{{index .Check.Labels "nope" | default "none"}}`
		c.Class = `{{toJSON .Check.Status}}`
		c.Component = `{{.Check.Occurrences | default "first"}}`
	})
	it, err := b.Build(event(2, "ünïcödé output that is long"))
	require.NoError(t, err)
	require.Equal(t, "ünïcödé out…", it.Event.Payload.Summary)
	require.Equal(t, "none", it.Event.Payload.Group)
	require.Equal(t, "2", it.Event.Payload.Class)
	require.Equal(t, "first", it.Event.Payload.Component, "a zero number of any type takes the default")

	for _, bad := range []func(*alert.Config){
		func(c *alert.Config) { c.Summary = `{{.Check.Name` },
		func(c *alert.Config) { c.Severities = map[string]string{"high": "urgent"} },
		func(c *alert.Config) { c.Severities = map[string]string{"severe": "critical"} },
	} {
		cfg := alert.Config{DedupKey: "x", Summary: "x", Source: "x", Component: "x", Group: "x", Class: "x"}
		bad(&cfg)
		_, err := alert.NewBuilder(cfg)
		require.Error(t, err)
	}
}

func TestTheSummaryIsCutToPagerDutysLimitOnARuneBoundary(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 3000)
	it, err := builder(t, func(c *alert.Config) { c.Summary = `{{.Check.Output}}` }).Build(event(2, long))
	require.NoError(t, err)
	s := it.Event.Payload.Summary
	require.Equal(t, alert.MaxSummary, utf8.RuneCountInString(s))
	require.True(t, utf8.ValidString(s))
	require.True(t, strings.HasSuffix(s, "…"))
	require.Equal(t, "abc", alert.Truncate("abc", 3))
	require.Equal(t, "a…", alert.Truncate("abc", 2))
	require.Empty(t, alert.Truncate("abc", 0))
}

func TestAnEventWithoutCheckIsRefused(t *testing.T) {
	t.Parallel()
	ev := corev2.FixtureEvent("web-1", "x")
	ev.Check = nil
	_, err := builder(t, nil).Build(ev)
	require.Error(t, err)
}
