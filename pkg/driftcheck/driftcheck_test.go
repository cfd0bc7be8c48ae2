package driftcheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/drift"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

const fixtures = "../drift/testdata"

func config(t *testing.T, mod func(*Config)) *Config {
	t.Helper()
	c := &Config{Source: "puppet", LearnMin: DefaultLearnMin, LearnK: DefaultLearnK, LearnRuns: DefaultLearnRuns, MaxResources: 1000}
	if mod != nil {
		mod(c)
	}
	require.NoError(t, Validate(c))
	return c
}

func run(t *testing.T, c *Config, now time.Time) plugin.Result {
	t.Helper()
	res, err := Run(context.Background(), c, &plugin.Env{Now: func() time.Time { return now }})
	require.NoError(t, err)
	if res.Commit != nil {
		require.NoError(t, res.Commit())
	}
	return res
}

func rules(res plugin.Result) map[string]finding.Severity {
	out := map[string]finding.Severity{}
	for _, f := range res.Findings {
		out[f.Rule+" "+f.Object] = f.Severity
	}
	return out
}

// summaryAt writes a Puppet summary with n changes at the time t.
func summaryAt(t *testing.T, path string, changed int, at time.Time) {
	t.Helper()
	doc := fmt.Sprintf("---\nversion:\n  config: production-%d\n  puppet: 8.10.0\nresources:\n  changed: %d\n  corrective_change: 0\n  failed: 0\n  failed_to_restart: 0\n  out_of_sync: %d\n  restarted: 0\n  scheduled: 0\n  skipped: 0\n  total: 412\ntime:\n  total: 9.3\n  last_run: %d\nchanges:\n  total: %d\nevents:\n  failure: 0\n  success: %d\n  total: %d\n",
		at.Unix(), changed, changed, at.Unix(), changed, changed, changed)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o644))
}

func TestTheDefaultRatesOnlyWhatMatters(t *testing.T) {
	t.Parallel()
	report := filepath.Join(fixtures, "puppet/last_run_report.yaml")
	now := time.Date(2025, 11, 23, 10, 5, 0, 0, time.UTC)
	res := run(t, config(t, func(c *Config) { c.Path = report }), now)
	require.Equal(t, map[string]finding.Severity{
		"drift.changed File[/etc/ssh/sshd_config]":                       finding.Info,
		"drift.corrective_change File[/etc/ssh/sshd_config]":             finding.High,
		"drift.failed Service[nginx]":                                    finding.High,
		"drift.changed Exec[echo 'deploy: done' >> /var/log/deploy.log]": finding.Info,
		"drift.changed Exec[/usr/local/bin/rotate-app-secrets --vault https://vault.example.com:8200 --role web --ttl 720h --output /etc/app/secrets.env --owner app --group app --mode 0640]": finding.Info,
	}, rules(res))
	require.Equal(t, "puppet last_run_report of web-01.example.com, 4m ago: 7 resources, 3 changed (1 corrective), 1 failed, 0 out of sync", res.Summary)
	require.Equal(t, finding.StatusOK, res.Status)
	metrics := map[string]float64{}
	for _, m := range res.Metrics {
		metrics[m.Name] = m.Value
	}
	require.Equal(t, map[string]float64{"resources_total": 7, "resources_changed": 3, "resources_failed": 1, "resources_out_of_sync": 0,
		"resources_corrective": 1, "resources_skipped": 0, "run_duration": 4.302, "run_age": 296}, metrics)
}

func TestBaselines(t *testing.T) {
	t.Parallel()
	summary := filepath.Join(fixtures, "puppet/last_run_summary.yaml") // 2 changed, 1 corrective, 1 failed
	clean := filepath.Join(fixtures, "puppet/last_run_summary-clean.yaml")
	noop := filepath.Join(fixtures, "puppet/last_run_summary-noop.yaml") // 5 out of sync
	now := time.Unix(1763892012+600, 0)
	tests := []struct {
		name    string
		mod     func(*Config)
		status  finding.Status
		changed finding.Severity
	}{
		{"without a baseline a change is information", func(c *Config) { c.Path = summary }, finding.StatusOK, finding.Info},
		{"immutable: any change is critical", func(c *Config) { c.Path, c.Immutable = summary, true }, finding.StatusCritical, finding.Critical},
		{"immutable: a pending change is critical too", func(c *Config) { c.Path, c.Immutable = noop, true }, finding.StatusCritical, finding.Critical},
		{"immutable and nothing changed", func(c *Config) { c.Path, c.Immutable = clean, true }, finding.StatusOK, finding.Info},
		{"below the warning threshold", func(c *Config) { c.Path, c.ChangedWarning, c.ChangedCritical = summary, 3, 10 }, finding.StatusOK, finding.Info},
		{"at the warning threshold", func(c *Config) { c.Path, c.ChangedWarning, c.ChangedCritical = summary, 2, 10 }, finding.StatusWarning, finding.Medium},
		{"at the critical threshold", func(c *Config) { c.Path, c.ChangedWarning, c.ChangedCritical = noop, 2, 5 }, finding.StatusCritical, finding.High},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := run(t, config(t, tt.mod), now)
			require.Equal(t, tt.status, res.Status, res.Notes)
			for _, f := range res.Findings {
				if f.Rule == drift.RuleChanged {
					require.Equal(t, tt.changed, f.Severity)
				}
			}
		})
	}
}

func TestASummaryCountsWhatItCannotName(t *testing.T) {
	t.Parallel()
	res := run(t, config(t, func(c *Config) { c.Path = filepath.Join(fixtures, "puppet/last_run_summary.yaml") }), time.Unix(1763892012, 0))
	counts := map[string]int{}
	for _, f := range res.Findings {
		counts[f.Rule] = f.Count
		require.Equal(t, "puppet", f.Object)
	}
	require.Equal(t, map[string]int{drift.RuleChanged: 2, drift.RuleCorrective: 1, drift.RuleFailed: 1}, counts)
}

func TestStaleRunsAndDisabledAgents(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	state := filepath.Join(root, "opt/puppetlabs/puppet/cache/state")
	at := time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC)
	summaryAt(t, filepath.Join(root, "opt/puppetlabs/puppet/public/last_run_summary.yaml"), 0, at)
	c := config(t, func(c *Config) { c.Root, c.MaxAge = root, 2*time.Hour })

	res := run(t, c, at.Add(time.Hour))
	require.Empty(t, res.Findings)

	res = run(t, c, at.Add(3*time.Hour+5*time.Minute))
	require.Len(t, res.Findings, 1)
	require.Equal(t, drift.RuleStaleRun, res.Findings[0].Rule)
	require.Equal(t, "the last run ended 3h5m ago (2025-11-23T10:00:00Z), more than --max-age 2h", res.Findings[0].Message)

	require.NoError(t, os.MkdirAll(state, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(state, "agent_disabled.lock"), []byte(`{"disabled_message":"CHG-1234 kernel upgrade, back by 14:00"}`), 0o644))
	res = run(t, c, at.Add(time.Hour))
	require.Len(t, res.Findings, 1)
	require.Equal(t, drift.RuleAgentDisabled, res.Findings[0].Rule)
	require.Equal(t, finding.High, res.Findings[0].Severity)
	require.Equal(t, "the Puppet agent is disabled: CHG-1234 kernel upgrade, back by 14:00", res.Findings[0].Message)
	require.Contains(t, res.Summary, "agent disabled")

	// The older location is the fallback.
	old := t.TempDir()
	summaryAt(t, filepath.Join(old, "opt/puppetlabs/puppet/cache/state/last_run_summary.yaml"), 1, at)
	res = run(t, config(t, func(c *Config) { c.Root = old }), at)
	require.Equal(t, finding.StatusOK, res.Status)
	require.Equal(t, 1, res.Findings[0].Count)
}

func TestLearning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	report := filepath.Join(dir, "last_run_summary.yaml")
	learn := filepath.Join(dir, "state", "history.json")
	c := config(t, func(c *Config) { c.Path, c.Learn, c.LearnMin = report, learn, 5 })
	at := time.Date(2025, 11, 23, 0, 0, 0, 0, time.UTC)
	status := func(changed int) finding.Status {
		at = at.Add(30 * time.Minute)
		summaryAt(t, report, changed, at)
		return run(t, c, at).Status
	}
	// A big run before the minimum is learned, not judged.
	for _, n := range []int{2, 40, 3, 2, 1} {
		require.Equal(t, finding.StatusOK, status(n), "%d changes while learning", n)
	}
	// Median 2, MAD 1: the limit is 2 + 3·1 = 5 (then 2.5 + 3·1 once 5 is learned).
	require.Equal(t, finding.StatusOK, status(5))
	require.Equal(t, finding.StatusWarning, status(6))
	res := run(t, c, at)
	require.Equal(t, finding.StatusWarning, res.Status, "the same report read again is judged the same")
	require.Equal(t, "unusual: 6 changes, above the learned limit 5.5 (median 2.5 + 3 × MAD 1 over 6 runs)", res.Notes[0])
	var h History
	raw, err := os.ReadFile(learn)
	require.NoError(t, err)
	require.Contains(t, string(raw), `"kind":"config-drift-history","version":1`)
	fi, err := os.Stat(learn)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.NoError(t, loadHistory(learn, &h))
	require.Len(t, h.Runs, 7, "the report read twice counts once")

	// The history is bounded.
	c.LearnRuns = 5
	status(2)
	require.NoError(t, loadHistory(learn, &h))
	require.Len(t, h.Runs, 5)
}

func TestAZeroMADIsNotAHairTrigger(t *testing.T) {
	t.Parallel()
	b := baseline{cfg: &Config{LearnMin: 3, LearnK: 3}, key: "now"}
	for i := range 10 {
		b.hist.Runs = append(b.hist.Runs, LearnedRun{Key: fmt.Sprint(i), Changes: 0})
	}
	_, flagged := b.judge(3)
	require.False(t, flagged, "0 + 3·1")
	note, flagged := b.judge(4)
	require.True(t, flagged)
	require.Equal(t, "unusual: 4 changes, above the learned limit 3 (median 0 + 3 × MAD 1 over 10 runs)", note)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    Config
		want string
	}{
		{Config{Source: "salt", MaxResources: 1}, "--source: must be one of auto, puppet, chef, ansible, terraform, driftctl"},
		{Config{Source: "terraform", MaxResources: 1}, "--path (or VIGIL_DRIFT_PATH) is required for --source terraform: it has no default location"},
		{Config{Source: "auto", MaxResources: 1}, "--path (or VIGIL_DRIFT_PATH) is required unless --source is puppet or chef, which have default locations"},
		{Config{Source: "puppet", ChangedWarning: 10, ChangedCritical: 5, MaxResources: 1}, "--changed-critical (5) is below --changed-warning (10)"},
		{Config{Source: "puppet", Learn: "x", LearnMin: 1, LearnK: 3, LearnRuns: 50, MaxResources: 1}, "--learn-min must be at least 3, got 1"},
		{Config{Source: "puppet", Severity: map[string]string{"drift.nope": "high"}, MaxResources: 1}, `--severity: no rule "drift.nope"`},
	} {
		err := Validate(&tt.c)
		require.Error(t, err)
		require.Contains(t, err.Error(), tt.want)
	}
}

// An Ansible recap counts tasks without naming them: the findings carry
// the recap's counts, and nothing stands for a resource it does not list.
func TestAnAnsibleRecapIsCountedAsTheRecapSaysIt(t *testing.T) {
	t.Parallel()
	for file, want := range map[string][]string{
		"ansible/recap.txt": {
			"drift.changed ansible 2: 2 resources changed (the report does not name them)",
			"drift.failed ansible 1: 1 resource failed (the report does not name them)",
			"drift.run_failed ansible 0: the run failed: db01 unreachable",
		},
		"ansible/ansible.log": {
			"drift.changed ansible 1: 1 resource changed (the report does not name them)",
			"drift.run_failed ansible 0: the run failed: db01 unreachable",
		},
	} {
		res := run(t, config(t, func(c *Config) { c.Source, c.Path = "ansible", filepath.Join(fixtures, file) }), time.Now())
		var got []string
		for _, f := range res.Findings {
			got = append(got, fmt.Sprintf("%s %s %d: %s", f.Rule, f.Object, f.Count, f.Message))
		}
		require.Equal(t, want, got, file)
	}
}

// Nothing the check returns carries a failed command's line or output.
func TestAChefCommandFailureLeavesItsCredentialsOut(t *testing.T) {
	t.Parallel()
	res := run(t, config(t, func(c *Config) {
		c.Source, c.Path = "chef", filepath.Join(fixtures, "chef/chef-run-report-command-failed.json")
	}), time.Now())
	out := fmt.Sprintf("%+v", res)
	for _, bad := range []string{"S3cr3t", "Begin output", "mysql -uroot", "STDERR"} {
		require.NotContains(t, out, bad)
	}
	msgs := map[string]string{}
	for _, f := range res.Findings {
		msgs[f.Rule+" "+f.Object] = f.Message
	}
	require.Equal(t, map[string]string{
		"drift.changed template[/etc/mysql/conf.d/app.cnf]": "changed by chef",
		"drift.failed execute[create app db user]":          "failed to apply (Mixlib::ShellOut::ShellCommandFailed: execute[create app db user] (app::db line 18) had an error: Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0], but received '1')",
		"drift.run_failed db-01.example.com":                "the run failed: Mixlib::ShellOut::ShellCommandFailed: execute[create app db user] (app::db line 18) had an error: Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0], but received '1'",
	}, msgs)
}
