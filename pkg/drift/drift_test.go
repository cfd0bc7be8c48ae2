package drift_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/drift"
)

type counts struct{ Total, Changed, Failed, OutOfSync, Corrective, Skipped int }

func countsOf(r *drift.Result) counts {
	return counts{r.Total, r.Changed, r.Failed, r.OutOfSync, r.Corrective, r.Skipped}
}

func ids(r *drift.Result) []string {
	var out []string
	for _, x := range r.Resources {
		out = append(out, x.ID)
	}
	return out
}

func TestEveryFormatReadsIntoOneResult(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file  string
		src         drift.Source
		format      string
		counts      counts
		runFailed   bool
		runError    string
		host, runID string
		end         time.Time
		duration    time.Duration
		noop        bool
		resources   []string
		firstProps  []string
		firstDetail string
	}{
		{name: "a Puppet summary", file: "puppet/last_run_summary.yaml", src: drift.Puppet, format: drift.FormatPuppetSummary,
			counts: counts{412, 2, 1, 0, 1, 0}, runID: "production-7f3c2a1@1763892012", end: time.Unix(1763892012, 0), duration: 9302221 * time.Microsecond},
		{name: "a Puppet noop summary leaves resources out of sync", file: "puppet/last_run_summary-noop.yaml", src: drift.Auto, format: drift.FormatPuppetSummary,
			counts: counts{412, 0, 0, 5, 0, 0}, runID: "production-7f3c2a1@1763892012", end: time.Unix(1763892012, 0), duration: 9302221 * time.Microsecond},
		{name: "a Puppet summary of a failed catalog", file: "puppet/last_run_summary-catalog-failed.yaml", src: drift.Puppet, format: drift.FormatPuppetSummary,
			runFailed: true, runError: "no catalog was applied (catalog retrieval or compilation failed; see last_run_report.yaml)", runID: "<nil>@1763895612", end: time.Unix(1763895612, 0)},
		{name: "a Puppet report with its Ruby tags", file: "puppet/last_run_report.yaml", src: drift.Auto, format: drift.FormatPuppetReport,
			counts: counts{7, 3, 1, 0, 1, 0}, host: "web-01.example.com", runID: "0b6e1f3a-6c2d-4f5e-9a8b-7c6d5e4f3a2b",
			end: time.Date(2025, 11, 23, 10, 0, 4, 403442331, time.UTC), duration: 4302221 * time.Microsecond,
			resources: []string{"File[/etc/ssh/sshd_config]", "Service[nginx]", "Exec[echo 'deploy: done' >> /var/log/deploy.log]",
				"Exec[/usr/local/bin/rotate-app-secrets --vault https://vault.example.com:8200 --role web --ttl 720h --output /etc/app/secrets.env --owner app --group app --mode 0640]"},
			firstProps: []string{"content"}},
		{name: "a Puppet noop report", file: "puppet/last_run_report-noop.yaml", src: drift.Puppet, format: drift.FormatPuppetReport,
			counts: counts{2, 0, 0, 1, 1, 0}, host: "db-02.example.com", runID: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a", noop: true,
			end: time.Date(2025, 11, 23, 11, 0, 2, 500000000, time.UTC), duration: 2500 * time.Millisecond,
			resources: []string{"File[/etc/sudoers.d/ops]"}, firstProps: []string{"mode"}, firstDetail: "noop: would change mode"},
		{name: "a Puppet report of a failed catalog", file: "puppet/last_run_report-catalog-failed.yaml", src: drift.Puppet, format: drift.FormatPuppetReport,
			runFailed: true, runError: "Could not retrieve catalog from remote server: Error 500 on SERVER: Server Error: Evaluation Error: Unknown variable: 'nginx::port'. (file: /etc/puppetlabs/code/environments/production/modules/nginx/manifests/init.pp, line: 12, column: 15)…",
			host: "web-01.example.com", runID: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", end: time.Date(2025, 11, 23, 12, 0, 0, 1221331, time.UTC)},
		{name: "a Chef JSON file handler report", file: "chef/chef-run-report-20251123100041.json", src: drift.Chef, format: drift.FormatChefHandler,
			counts: counts{5, 2, 1, 0, 0, 0}, runFailed: true, host: "web-01.example.com", runID: "6f0c2b7e-8d1a-4c3b-9e5f-2a1b0c9d8e7f",
			runError: "Mixlib::ShellOut::ShellCommandFailed: service[nginx] (nginx::default line 31) had an error: Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0], but received '1'",
			end:      time.Date(2025, 11, 23, 10, 0, 41, 0, time.UTC), duration: 41203118 * time.Microsecond,
			resources: []string{"template[/etc/nginx/nginx.conf]", "user[deploy]", "service[nginx]"}},
		{name: "a Chef command failure keeps the exception's first line, not its command and output", file: "chef/chef-run-report-command-failed.json", src: drift.Auto, format: drift.FormatChefHandler,
			counts: counts{3, 1, 1, 0, 0, 0}, runFailed: true, host: "db-01.example.com", runID: "3e1f6a0b-2c4d-4e8f-9a1b-5c6d7e8f9a0b",
			runError: "Mixlib::ShellOut::ShellCommandFailed: execute[create app db user] (app::db line 18) had an error: Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0], but received '1'",
			end:      time.Date(2025, 11, 23, 11, 0, 12, 0, time.UTC), duration: 12441100 * time.Microsecond,
			resources: []string{"template[/etc/mysql/conf.d/app.cnf]", "execute[create app db user]"},
		},
		{name: "a Chef data-collector run_converge message", file: "chef/run_converge.json", src: drift.Auto, format: drift.FormatChefConverge,
			counts: counts{5, 1, 1, 0, 0, 2}, runFailed: true, host: "app-03.example.com", runID: "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
			runError: "Mixlib::ShellOut::ShellCommandFailed: service[ssh] (base::ssh line 40) had an error: Mixlib::ShellOut::ShellCommandFailed: Expected process to exit with [0], but received '1'",
			end:      time.Date(2025, 11, 23, 10, 1, 2, 0, time.UTC), duration: 62 * time.Second,
			resources: []string{"file[/etc/ssh/sshd_config]", "service[ssh]"}},
		{name: "an Ansible PLAY RECAP", file: "ansible/recap.txt", src: drift.Ansible, format: drift.FormatAnsibleRecap,
			counts: counts{11, 2, 1, 0, 0, 1}, runFailed: true, runError: "db01 unreachable"},
		{name: "an Ansible log_path file: the last run's recap, without the log prefix", file: "ansible/ansible.log", src: drift.Auto, format: drift.FormatAnsibleRecap,
			counts: counts{5, 1, 0, 0, 0, 0}, runFailed: true, runError: "db01 unreachable"},
		{name: "the ansible.posix.json callback (failures, not failed)", file: "ansible/json-callback.json", src: drift.Auto, format: drift.FormatAnsibleJSON,
			counts: counts{9, 1, 1, 0, 0, 1}, end: time.Date(2025, 11, 23, 10, 0, 31, 802212000, time.UTC), duration: 30700978 * time.Microsecond,
			resources: []string{"web01: nginx : deploy nginx.conf", "web02: nginx : ensure nginx is running"}},
		{name: "terraform show -json with drift", file: "terraform/show.json", src: drift.Terraform, format: drift.FormatTerraformPlan,
			counts: counts{5, 0, 0, 3, 2, 0}, noop: true, end: time.Date(2025, 11, 23, 10, 0, 0, 0, time.UTC),
			resources: []string{"aws_security_group.web", "aws_instance.app[0]", "aws_iam_role.ci", "aws_s3_bucket.logs"}},
		{name: "terraform plan -json", file: "terraform/plan-stream.jsonl", src: drift.Auto, format: drift.FormatTerraformStream,
			counts: counts{3, 0, 0, 3, 1, 0}, noop: true, end: time.Date(2025, 11, 23, 10, 0, 3, 405001000, time.UTC),
			resources: []string{"aws_security_group.web", "aws_instance.app[0]", "aws_iam_role.ci"}},
		{name: "terraform plan -json that failed", file: "terraform/plan-stream-error.jsonl", src: drift.Terraform, format: drift.FormatTerraformStream,
			runFailed: true, runError: `provider["registry.terraform.io/hashicorp/aws"]: No valid credential sources found`, noop: true, end: time.Date(2025, 11, 23, 10, 0, 2, 101221000, time.UTC)},
		{name: "driftctl", file: "driftctl/scan.json", src: drift.Driftctl, format: drift.FormatDriftctl,
			counts: counts{42, 0, 0, 4, 0, 0}, noop: true, end: time.Date(2025, 11, 23, 10, 0, 38, 123456000, time.UTC), duration: 38 * time.Second,
			resources:  []string{"aws_security_group.sg-0a1b2c3d4e5f", "aws_flow_log.vpc-flow-logs", "aws_iam_access_key.AKIA-user-ci-old", "aws_s3_bucket.debug-bucket-2025"},
			firstProps: []string{"ingress.1", "tags.Env"}},
		{name: "driftctl before total_changed", file: "driftctl/scan-old.json", src: drift.Auto, format: drift.FormatDriftctl,
			counts: counts{42, 0, 0, 4, 0, 0}, noop: true, end: time.Date(2025, 11, 23, 10, 0, 38, 123456000, time.UTC), duration: 38 * time.Second,
			resources:  []string{"aws_security_group.sg-0a1b2c3d4e5f", "aws_flow_log.vpc-flow-logs", "aws_iam_access_key.AKIA-user-ci-old", "aws_s3_bucket.debug-bucket-2025"},
			firstProps: []string{"ingress.1", "tags.Env"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := drift.ParseFile(tt.src, filepath.Join("testdata", tt.file), drift.Options{})
			require.NoError(t, err)
			require.Equal(t, tt.format, r.Format)
			require.Equal(t, tt.counts, countsOf(r))
			require.Equal(t, tt.runFailed, r.RunFailed)
			require.Equal(t, tt.runError, r.RunError)
			require.Equal(t, tt.host, r.Host)
			require.Equal(t, tt.runID, r.RunID)
			require.Equal(t, tt.noop, r.Noop)
			if !tt.end.IsZero() {
				require.False(t, r.TimeFromFile)
				require.True(t, tt.end.Equal(r.Time), "end %s, want %s", r.Time, tt.end)
			} else {
				require.True(t, r.TimeFromFile)
			}
			require.Equal(t, tt.duration, r.Duration)
			require.Equal(t, tt.resources, ids(r))
			if tt.firstProps != nil {
				require.Equal(t, tt.firstProps, r.Resources[0].Properties)
			}
			if tt.firstDetail != "" {
				require.Equal(t, tt.firstDetail, r.Resources[0].Detail)
			}
		})
	}
}

func TestBrokenAndTruncatedFilesSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		src  drift.Source
		want string
	}{
		{"puppet/last_run_summary-broken.yaml", drift.Puppet, "puppet/last_run_summary-broken.yaml: line 14: not valid YAML: mapping values are not allowed in this context"},
		{"puppet/last_run_summary-truncated.yaml", drift.Auto, "puppet/last_run_summary-truncated.yaml: line 18: truncated: the last line is cut"},
		{"puppet/last_run_report-broken.yaml", drift.Puppet, "puppet/last_run_report-broken.yaml: line 140: not valid YAML: bad indentation (column 6, expected 5)"},
		{"puppet/last_run_report-truncated.yaml", drift.Puppet, "puppet/last_run_report-truncated.yaml: line 325: truncated: the last line is cut"},
		{"puppet/last_run_report-truncated-at-line.yaml", drift.Auto, `puppet/last_run_report-truncated-at-line.yaml: line 230: truncated or not a Puppet report: the file ends without a "host" key`},
		{"chef/chef-run-report-truncated.json", drift.Chef, "chef/chef-run-report-truncated.json: line 26: truncated: the JSON ends before it is complete"},
		{"chef/chef-run-report-broken.json", drift.Chef, "chef/chef-run-report-broken.json: line 14: not valid JSON: invalid character '\"' after object key:value pair"},
		{"ansible/json-callback-truncated.json", drift.Ansible, "ansible/json-callback-truncated.json: line 28: truncated: the JSON ends before it is complete"},
		{"ansible/recap-broken.txt", drift.Ansible, "ansible/recap-broken.txt: no PLAY RECAP host lines (host : ok=N changed=N unreachable=N failed=N …)"},
		{"terraform/show-truncated.json", drift.Terraform, "terraform/show-truncated.json: line 8: truncated: the JSON ends before it is complete"},
		{"terraform/plan-stream-truncated.jsonl", drift.Terraform, "terraform/plan-stream-truncated.jsonl: line 6: truncated: the last message is cut"},
		{"driftctl/scan-truncated.json", drift.Driftctl, "driftctl/scan-truncated.json: line 19: truncated: the JSON ends before it is complete"},
		{"chef/run_converge.json", drift.Puppet, "chef/run_converge.json: looks like a chef run_converge, not a puppet report"},
		{"ansible/recap.txt", drift.Terraform, "ansible/recap.txt: looks like a ansible recap, not a terraform report"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			_, err := drift.ParseFile(tt.src, filepath.Join("testdata", tt.file), drift.Options{})
			require.Error(t, err)
			require.Equal(t, "testdata/"+tt.want, err.Error())
			var de *drift.Error
			require.ErrorAs(t, err, &de)
		})
	}
}

func TestGarbageIsNotAReport(t *testing.T) {
	t.Parallel()
	for name, data := range map[string]string{
		"binary":      "\x00\x01\x02garbage\xff",
		"empty":       "  \n",
		"random yaml": "foo: bar\n",
		"random json": `{"hello": "world"}`,
	} {
		_, err := drift.Parse(drift.Auto, name, []byte(data), drift.Options{})
		require.Error(t, err, name)
	}
	_, err := drift.Parse(drift.Puppet, "x", []byte("--- !ruby/object:Puppet::Transaction::Report\nhost: [\n"), drift.Options{})
	require.Error(t, err)
}

func TestResourcesAreBoundedButAllCounted(t *testing.T) {
	t.Parallel()
	r, err := drift.ParseFile(drift.Puppet, "testdata/puppet/last_run_report.yaml", drift.Options{MaxResources: 1})
	require.NoError(t, err)
	require.Len(t, r.Resources, 1)
	require.Equal(t, 3, r.Dropped)
	require.Equal(t, 3, r.Changed)
}

func TestAgentDisabled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "agent_disabled.lock")
	off, _, err := drift.AgentDisabled(lock)
	require.NoError(t, err)
	require.False(t, off)
	require.NoError(t, os.WriteFile(lock, []byte(`{"disabled_message":"reason not specified"}`), 0o644))
	off, msg, err := drift.AgentDisabled(lock)
	require.NoError(t, err)
	require.True(t, off)
	require.Equal(t, "reason not specified", msg)
	require.NoError(t, os.WriteFile(lock, []byte("garbage"), 0o644))
	off, msg, err = drift.AgentDisabled(lock)
	require.NoError(t, err)
	require.True(t, off)
	require.Empty(t, msg)
}
