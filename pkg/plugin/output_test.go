package plugin

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleResult() Result {
	return Result{
		Findings: []finding.Finding{
			{Rule: "fim.modified", Severity: finding.High, Object: "/etc/passwd", Message: "content, mode changed", Kind: "modified", Changed: []string{"content", "mode"}},
			{Rule: "fim.modified", Severity: finding.Critical, Object: "/usr/bin/ssh", Message: "content changed", Location: "group system-binaries"},
			{Rule: "fim.added", Severity: finding.Low, Object: "/etc/cron.d/x=y|z", Message: "new file\nwith a newline"},
			{Rule: "fim.removed", Severity: finding.Info, Object: "/var/log/old.log", Message: "removed"},
		},
		Metrics: []Metric{
			{Name: "files_scanned", Value: 12345, Min: Zero()},
			{Name: "scan_time", Value: 1.25, UOM: "s", Warn: "60", Crit: "120", Min: Zero()},
			{Name: "changed", Value: 3, Tags: map[string]string{"group": "system binaries"}},
		},
		Notes: []string{"mode full: every file re-hashed"},
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, got, 0o600))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got))
}

func TestNagiosOutput(t *testing.T) {
	t.Parallel()
	rep := finalize("check-file-integrity", sampleResult(), finding.DefaultStatusMap())
	require.Equal(t, finding.StatusCritical, rep.Status)
	var b bytes.Buffer
	require.NoError(t, writeNagios(&b, rep, 3))
	golden(t, "nagios.txt", b.Bytes())
	out := b.String()
	first, rest, _ := strings.Cut(out, "\n")
	require.True(t, strings.HasPrefix(first, "check-file-integrity CRITICAL - 4 findings: 1 critical, 1 high, 1 low, 1 info | "))
	require.NotContains(t, rest, "|", "long output must not hold a second perfdata separator")
	require.NotContains(t, rest, "=", "long output must not look like perfdata to Sensu")
	require.Contains(t, rest, "… and 1 more\n")
	require.Equal(t, 1+3+1+1, strings.Count(out, "\n"))
}

// TestPerfdataReadsBackExactlyAsSensuExtractsIt feeds the output to the
// agent's nagios_perfdata extraction: every metric comes back with its
// value and nothing else does, although the long output holds words,
// numbers and the characters "=" and "|".
func TestPerfdataReadsBackExactlyAsSensuExtractsIt(t *testing.T) {
	t.Parallel()
	rep := finalize("check-x", sampleResult(), finding.DefaultStatusMap())
	var b bytes.Buffer
	require.NoError(t, writeNagios(&b, rep, 0))
	points := sensuexec.NagiosPerfdata(b.String(), 1700000000, nil)
	got := map[string]float64{}
	for _, p := range points {
		got[p.Name] = p.Value
		require.Equal(t, int64(1700000000), p.Timestamp)
	}
	require.Equal(t, map[string]float64{
		"findings": 4, "findings_critical": 1, "findings_high": 1, "findings_medium": 0, "findings_low": 1, "findings_info": 1,
		"files_scanned": 12345, "scan_time": 1.25, "changed.system_binaries": 3,
	}, got)
}

func TestJSONOutput(t *testing.T) {
	t.Parallel()
	rep := finalize("check-file-integrity", sampleResult(), finding.DefaultStatusMap())
	var b bytes.Buffer
	require.NoError(t, writeJSON(&b, rep, 2))
	golden(t, "report.json", b.Bytes())
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	for _, k := range []string{"plugin", "status", "summary", "findings", "findings_total", "metrics"} {
		require.Contains(t, doc, k)
	}
	require.Len(t, doc["findings"], 2)
	require.EqualValues(t, 4, doc["findings_total"])
	first := doc["findings"].([]any)[0].(map[string]any)
	require.Equal(t, "critical", first["severity"])

	b.Reset()
	require.NoError(t, writeJSON(&b, rep, 0))
	require.NoError(t, json.Unmarshal(b.Bytes(), &doc))
	require.Len(t, doc["findings"], 4, "--max-findings 0 prints all")
	whole, err := json.Marshal(rep)
	require.NoError(t, err)
	require.Equal(t, string(whole)+"\n", b.String(), "the streamed report is the Report type's own encoding, every field included")
}

func TestStatusFromFindingsAndFloor(t *testing.T) {
	t.Parallel()
	m, err := finding.ParseStatusMap(map[string]int{"high": 1})
	require.NoError(t, err)
	cases := []struct {
		name string
		r    Result
		m    finding.StatusMap
		want finding.Status
	}{
		{"no findings is OK", Result{}, finding.DefaultStatusMap(), finding.StatusOK},
		{"info findings stay OK", Result{Findings: []finding.Finding{{Rule: "r", Severity: finding.Info}}}, finding.DefaultStatusMap(), finding.StatusOK},
		{"a medium finding warns", Result{Findings: []finding.Finding{{Rule: "r", Severity: finding.Medium}}}, finding.DefaultStatusMap(), finding.StatusWarning},
		{"a high finding is critical by default", Result{Findings: []finding.Finding{{Rule: "r", Severity: finding.High}}}, finding.DefaultStatusMap(), finding.StatusCritical},
		{"the map can lower high to warning", Result{Findings: []finding.Finding{{Rule: "r", Severity: finding.High}}}, m, finding.StatusWarning},
		{"a floor from thresholds is kept", Result{Status: finding.StatusWarning}, finding.DefaultStatusMap(), finding.StatusWarning},
	}
	for _, c := range cases {
		require.Equal(t, c.want, finalize("x", c.r, c.m).Status, c.name)
	}
}

func TestCleanText(t *testing.T) {
	t.Parallel()
	require.Equal(t, `a¦b:c\x0ad\x1b[31m e`, cleanText("a|b=c\nd\x1b[31m\te", 0))
	cut := cleanText(strings.Repeat("é", 200), 21)
	require.LessOrEqual(t, len(cut), 21)
	require.True(t, strings.HasSuffix(cut, "…"))
	require.NotContains(t, cut, "\uFFFD")
}

func TestMetricTagsGoToJSONButNotToPerfdata(t *testing.T) {
	t.Parallel()
	r := sampleResult()
	r.MetricTags = map[string]string{"region": "eu-west-1", "group": "overridden"}
	rep := finalize("check-pii", r, finding.DefaultStatusMap())
	for _, m := range rep.Metrics {
		require.Equal(t, "eu-west-1", m.Tags["region"], m.Name)
		if m.Name == "changed" {
			require.Equal(t, "system binaries", m.Tags["group"], "the metric's own tag wins")
		}
	}
	var b bytes.Buffer
	require.NoError(t, writeNagios(&b, rep, 20))
	require.NotContains(t, b.String(), "eu-west-1")
	require.Contains(t, b.String(), " changed.system_binaries=3;;;;")
}
