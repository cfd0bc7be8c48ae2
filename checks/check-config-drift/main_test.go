package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/drift"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

func TestAPuppetRunAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, err := filepath.Abs("testdata/root")
	require.NoError(t, err)
	ev := h.RunCheck(&corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "puppet-drift"}, Timeout: 30, OutputMetricFormat: corev2.NagiosOutputMetricFormat,
		Command: "check-config-drift --root " + testutil.Shell(root) + " --disable-lock /nonexistent",
	})
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	require.Contains(t, ev.Check.Output, "check-config-drift CRITICAL - puppet last_run_summary, ")
	require.Contains(t, ev.Check.Output, "412 resources, 2 changed (1 corrective), 1 failed, 0 out of sync |")
	require.Contains(t, ev.Check.Output, "[high] drift.corrective_change puppet: 1 resource changed correctively (someone changed them by hand) (the report does not name them)")
	points := map[string]float64{}
	for _, p := range ev.Metrics.Points {
		points[p.Name] = p.Value
	}
	require.InDelta(t, 412, points["resources_total"], 0)
	require.InDelta(t, 2, points["resources_changed"], 0)
	require.InDelta(t, 9.302, points["run_duration"], 0)
	require.Contains(t, points, "run_age")

	// The full report names the resources.
	report := filepath.Join(root, "opt/puppetlabs/puppet/cache/state/last_run_report.yaml")
	ev = h.RunCheck(&corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "puppet-drift"}, Timeout: 30, OutputMetricFormat: corev2.NagiosOutputMetricFormat,
		Command: "check-config-drift --path " + testutil.Shell(report) + " --immutable",
	})
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	require.Contains(t, ev.Check.Output, "[critical] drift.changed File[/etc/ssh/sshd_config]: changed by puppet (content)")
	require.Contains(t, ev.Check.Output, "--immutable: 3 changes where none are allowed")
}

func TestEveryFormatRunsAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	for _, tt := range []struct{ file, want string }{
		{"chef/run_converge.json", "chef run_converge of app-03.example.com"},
		{"chef/chef-run-report-20251123100041.json", "chef json report of web-01.example.com"},
		{"ansible/recap.txt", "ansible recap"},
		{"ansible/json-callback.json", "ansible json callback"},
		{"terraform/show.json", "terraform show -json (no-op)"},
		{"terraform/plan-stream.jsonl", "terraform -json stream (no-op)"},
		{"driftctl/scan.json", "driftctl json (no-op)"},
		{"puppet/last_run_report-noop.yaml", "puppet last_run_report of db-02.example.com (no-op)"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path, err := filepath.Abs(filepath.Join("../../pkg/drift/testdata", tt.file))
			require.NoError(t, err)
			ev := h.RunCheck(&corev2.CheckConfig{ObjectMeta: corev2.ObjectMeta{Name: "drift"}, Timeout: 30,
				Command: "check-config-drift --source auto --path " + testutil.Shell(path)})
			require.Less(t, ev.Check.Status, uint32(3), ev.Check.Output)
			require.Contains(t, ev.Check.Output, "check-config-drift ")
			require.Contains(t, ev.Check.Output, " - "+tt.want+", ")
		})
	}
}

func TestBadInputIsUnknownWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	abs := func(f string) string {
		p, err := filepath.Abs(filepath.Join("../../pkg/drift/testdata", f))
		require.NoError(t, err)
		return p
	}
	dir := t.TempDir()
	learn := filepath.Join(dir, "learn.json")
	require.NoError(t, os.WriteFile(learn, []byte(`{"kind":"audit-windows","version":1,"data":{}}`), 0o600))
	tests := []struct{ name, args, want string }{
		{"misspelt flag", "--max-ag 1h", "check-config-drift UNKNOWN - unknown flag --max-ag (did you mean --max-age?)"},
		{"no path for terraform", "--source terraform", "check-config-drift UNKNOWN - --path (or VIGIL_DRIFT_PATH) is required for --source terraform"},
		{"missing file", "--path /nonexistent/last_run_summary.yaml", fmt.Sprintf("check-config-drift UNKNOWN - read /nonexistent/last_run_summary.yaml: no such file (Puppet writes %s, older agents %s)", drift.PuppetSummaryPath, drift.PuppetOldSummaryPath)},
		{"no default file", "--root " + testutil.Shell(dir), "check-config-drift UNKNOWN - no Puppet run summary at " + dir + "/opt/puppetlabs/puppet/public/last_run_summary.yaml (Puppet 7+)"},
		{"broken YAML", "--path " + abs("puppet/last_run_report-broken.yaml"), "check-config-drift UNKNOWN - read " + abs("puppet/last_run_report-broken.yaml") + ": line 140: not valid YAML: bad indentation"},
		{"truncated report", "--path " + abs("puppet/last_run_report-truncated.yaml"), "check-config-drift UNKNOWN - read " + abs("puppet/last_run_report-truncated.yaml") + ": line 325: truncated: the last line is cut"},
		{"truncated JSON", "--source chef --path " + abs("chef/chef-run-report-truncated.json"), "check-config-drift UNKNOWN - read " + abs("chef/chef-run-report-truncated.json") + ": line 26: truncated"},
		{"wrong source", "--source terraform --path " + abs("driftctl/scan.json"), "check-config-drift UNKNOWN - read " + abs("driftctl/scan.json") + ": looks like a driftctl json, not a terraform report"},
		{"garbage", "--source auto --path /bin/sh", "check-config-drift UNKNOWN - read /bin/sh: cannot tell which tool wrote it"},
		{"a directory", "--source auto --path " + testutil.Shell(dir), "check-config-drift UNKNOWN - read " + dir + ": is a directory, not a report"},
		{"foreign learn state", "--path " + abs("puppet/last_run_summary.yaml") + " --learn " + testutil.Shell(learn), "check-config-drift UNKNOWN - --learn: state file " + learn + ` holds "audit-windows" state, not "config-drift-history"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := h.RunCheck(&corev2.CheckConfig{ObjectMeta: corev2.ObjectMeta{Name: "drift"}, Timeout: 30, Command: "check-config-drift " + tt.args})
			require.EqualValues(t, 3, ev.Check.Status, ev.Check.Output)
			require.True(t, strings.HasPrefix(ev.Check.Output, tt.want), ev.Check.Output)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(ev.Check.Output), "\n")+1, "one line: %q", ev.Check.Output)
		})
	}
}

func TestJSONOutputCarriesNoFailedCommand(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	path, err := filepath.Abs("../../pkg/drift/testdata/chef/chef-run-report-command-failed.json")
	require.NoError(t, err)
	ev := h.RunCheck(&corev2.CheckConfig{ObjectMeta: corev2.ObjectMeta{Name: "drift"}, Timeout: 30,
		Command: "check-config-drift --source chef --format json --path " + testutil.Shell(path)})
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	require.Contains(t, ev.Check.Output, "Expected process to exit with [0], but received '1'")
	for _, bad := range []string{"S3cr3t", "Begin output", "mysql -uroot", "STDERR"} {
		require.NotContains(t, ev.Check.Output, bad)
	}
}

func TestTheTimeoutHasADefault(t *testing.T) {
	t.Parallel()
	require.EqualValues(t, 30, check().Timeout)
}

// TestTheReadmeListsEveryRule keeps the README's rule table equal to the
// engine's (run with VIGIL_UPDATE=1 to rewrite it).
func TestTheReadmeListsEveryRule(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("<!-- BEGIN RULES -->\n| rule | catches | severity |\n|---|---|---|\n")
	for _, r := range drift.Rules() {
		sev := r.Severity.String()
		if r.Rated {
			sev += ", by baseline"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.ID, r.Catches, sev)
	}
	b.WriteString("<!-- END RULES -->")
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	start, end := strings.Index(string(readme), "<!-- BEGIN RULES -->"), strings.Index(string(readme), "<!-- END RULES -->")
	require.Positive(t, start)
	current := string(readme[start : end+len("<!-- END RULES -->")])
	if os.Getenv("VIGIL_UPDATE") != "" {
		require.NoError(t, os.WriteFile("README.md", []byte(strings.Replace(string(readme), current, b.String(), 1)), 0o644))
		return
	}
	require.Equal(t, b.String(), current, "README rule table is stale: VIGIL_UPDATE=1 go test ./checks/check-config-drift/ -run Readme")
}
