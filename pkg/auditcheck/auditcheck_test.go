package auditcheck_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/audit"
	"github.com/vigil-sec/vigil/pkg/auditcheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func config(edit func(*auditcheck.Config)) *auditcheck.Config {
	d := audit.DefaultOptions()
	c := &auditcheck.Config{Source: "auto", Window: d.Window, FailedWarning: d.FailedWarning, FailedCritical: d.FailedCritical,
		DeniedWarning: d.DeniedWarning, DeniedCritical: d.DeniedCritical, Trusted: d.Trusted, Top: 5, MaxEventSize: 8 << 20}
	edit(c)
	return c
}

func run(t *testing.T, c *auditcheck.Config, stdin string) plugin.Result {
	t.Helper()
	require.NoError(t, auditcheck.Validate(c))
	res, err := auditcheck.Run(context.Background(), c, &plugin.Env{Stdin: strings.NewReader(stdin)})
	require.NoError(t, err)
	if res.Commit != nil {
		require.NoError(t, res.Commit())
	}
	return res
}

func metric(res plugin.Result, name, rule string) float64 {
	for _, m := range res.Metrics {
		if m.Name == name && m.Tags["rule"] == rule {
			return m.Value
		}
	}
	return -1
}

func write(t *testing.T, path, content string, appending bool) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	flag := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appending {
		flag = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(path, flag, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func fail(at time.Time, ip string) string {
	return at.UTC().Format(time.RFC3339) + " web sshd[7]: Failed password for root from " + ip + " port 22 ssh2\n"
}

const exec = `{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"alice"},"sourceIPs":["203.0.113.4"],"objectRef":{"resource":"pods","namespace":"prod","name":"api","subresource":"exec"},"responseStatus":{"code":101}}` + "\n"

func TestEachFileIsReadInItsOwnFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "logs", "kube-apiserver", "audit.log"), exec, false)
	write(t, filepath.Join(dir, "logs", "auth.log"), fail(time.Now(), "192.0.2.1"), false)
	write(t, filepath.Join(dir, "logs", "audit", "audit.log"), `type=USER_AUTH msg=audit(1763934625.123:456): pid=1 uid=0 auid=4294967295 ses=1 msg='op=PAM:authentication acct="admin" exe="/usr/sbin/sshd" hostname=? addr=10.0.1.50 terminal=ssh res=failed'`+"\n", false)
	res := run(t, config(func(c *auditcheck.Config) { c.Paths = []string{filepath.Join(dir, "logs")} }), "")
	require.InDelta(t, 1, metric(res, "events", audit.PodExec), 0)
	require.InDelta(t, 1, metric(res, "events", audit.SSHFailedLogin), 0)
	require.InDelta(t, 1, metric(res, "events", audit.AuditdAuthFailure), 0)
	require.InDelta(t, 0, metric(res, "parse_errors", ""), 0)
	require.Equal(t, "3 findings in 3 files, 3 lines read: 1 auditd.auth_failure, 1 k8s.pod_exec, 1 ssh.failed_login", res.Summary)
	require.Contains(t, res.Notes, "top failed-login sources: 10.0.1.50 1 (1 within 10m), 192.0.2.1 1 (1 within 10m)")
}

func TestGlobsAndAFixedSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "audit-1.log"), exec, false)
	write(t, filepath.Join(dir, "audit-2.log"), exec, false)
	res := run(t, config(func(c *auditcheck.Config) {
		c.Paths, c.Source = []string{filepath.Join(dir, "audit-*.log"), filepath.Join(dir, "none-*.log")}, "auth"
	}), "")
	require.InDelta(t, 2, metric(res, "files_read", ""), 0)
	require.InDelta(t, 2, metric(res, "parse_errors", ""), 0, "JSON is not an auth log")
	require.Contains(t, res.Notes, "path "+filepath.Join(dir, "none-*.log")+" does not exist")
	require.Contains(t, res.Notes, "2 lines could not be read as auth log lines, the first at "+filepath.Join(dir, "audit-1.log")+":1")
}

func TestStateReadsOnlyWhatWasAppendedAndCarriesTheWindow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	start := time.Now().Add(-time.Hour)
	var first strings.Builder
	for i := range 4 {
		first.WriteString(fail(start.Add(time.Duration(i)*time.Second), "198.51.100.3"))
	}
	write(t, log, first.String(), false)
	c := config(func(c *auditcheck.Config) { c.Paths, c.State = []string{log}, filepath.Join(dir, "state") })
	res := run(t, c, "")
	require.InDelta(t, 4, metric(res, "failed_logins", ""), 0)
	require.Equal(t, "info", res.Findings[0].Severity.String(), "4 is below the warning threshold of 5")

	write(t, log, fail(start.Add(time.Minute), "198.51.100.3"), true)
	res = run(t, c, "")
	require.InDelta(t, 1, metric(res, "failed_logins", ""), 0, "only the appended line is read")
	require.Equal(t, "medium", res.Findings[0].Severity.String(), "with the previous run's 4, 5 within 10m")
	require.Equal(t, 5, res.Findings[0].Attrs["failures_in_window"])

	res = run(t, c, "")
	require.Empty(t, res.Findings)
	require.Equal(t, "no audit findings in 1 file, 0 lines read", res.Summary)
	for _, name := range []string{"check-audit-log.state", "check-audit-log.windows"} {
		fi, err := os.Stat(filepath.Join(dir, "state", name))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}
}

func TestAnUncommittedRunIsReadAgain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.log")
	write(t, log, exec, false)
	c := config(func(c *auditcheck.Config) { c.Paths, c.State = []string{log}, filepath.Join(dir, "state") })
	require.NoError(t, auditcheck.Validate(c))
	// The result never got out: the run was abandoned (its context ended)
	// before Commit, which then refuses to save.
	ctx, cancel := context.WithCancel(context.Background())
	res, err := auditcheck.Run(ctx, c, &plugin.Env{})
	require.NoError(t, err)
	require.Len(t, res.Findings, 1)
	cancel()
	require.ErrorContains(t, res.Commit(), "run abandoned before its positions were saved")
	res = run(t, c, "")
	require.Len(t, res.Findings, 1, "the exec is read again")
}

func TestLongEventsArePutTogether(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("x", 3<<20)
	event := `{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"carol"},"objectRef":{"resource":"pods","namespace":"web","name":"p"},"responseStatus":{"code":201},"requestObject":{"metadata":{"annotations":{"big":"` + body + `"}},"spec":{"containers":[{"name":"c","securityContext":{"privileged":true}}]}}}`
	input := exec + event + "\n" + exec
	res := run(t, config(func(c *auditcheck.Config) { c.Stdin = true }), input)
	require.InDelta(t, 1, metric(res, "events", audit.PrivilegedPod), 0)
	require.InDelta(t, 2, metric(res, "events", audit.PodExec), 0)
	require.InDelta(t, 3, metric(res, "lines_read", ""), 0)

	// The last line of a finished input, long and without a newline.
	res = run(t, config(func(c *auditcheck.Config) { c.Stdin = true }), exec+event)
	require.InDelta(t, 1, metric(res, "events", audit.PrivilegedPod), 0)

	res = run(t, config(func(c *auditcheck.Config) { c.Stdin, c.MaxEventSize = true, 1<<20 }), input)
	require.InDelta(t, -1, metric(res, "events", audit.PrivilegedPod), 0)
	require.InDelta(t, 1, metric(res, "parse_errors", ""), 0, "the event over --max-event-size")
	require.InDelta(t, 3, metric(res, "lines_read", ""), 0, "and it is a line read")
	require.InDelta(t, 2, metric(res, "events", audit.PodExec), 0, "the lines around it are read")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*auditcheck.Config)
		want string
	}{
		{"no input", func(*auditcheck.Config) {}, "--path (or VIGIL_AUDIT_PATHS) or --stdin is required"},
		{"both inputs", func(c *auditcheck.Config) { c.Stdin, c.Paths = true, []string{"x"} }, "--stdin and --path cannot be combined"},
		{"stdin with state", func(c *auditcheck.Config) { c.Stdin, c.State = true, "/tmp/s" }, "--state has no effect with --stdin"},
		{"source", func(c *auditcheck.Config) { c.Stdin, c.Source = true, "nginx" }, `--source: unknown source "nginx"`},
		{"window", func(c *auditcheck.Config) { c.Stdin, c.Window = true, 0 }, "--window must be positive, got 0s"},
		{"thresholds", func(c *auditcheck.Config) { c.Stdin, c.FailedCritical = true, 2 }, "--failed-login-critical (2) is below --failed-login-warning (5)"},
		{"denied", func(c *auditcheck.Config) { c.Stdin, c.DeniedWarning = true, 0 }, "--denied-warning must be at least 1, got 0"},
		{"glob", func(c *auditcheck.Config) { c.Paths = []string{"/var/log/[a"} }, `bad glob "/var/log/[a"`},
		{"trusted", func(c *auditcheck.Config) { c.Stdin, c.Trusted = true, []string{"[x"} }, `--trusted-users: bad glob "[x"`},
		{"severity", func(c *auditcheck.Config) { c.Stdin, c.Severity = true, map[string]string{"k8s.pod_exec": "loud"} }, `--severity k8s.pod_exec: unknown severity "loud"`},
		{"event size", func(c *auditcheck.Config) { c.Stdin, c.MaxEventSize = true, 10 }, "--max-event-size must be at least 1024 bytes, got 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := auditcheck.Validate(config(tt.edit))
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}
	// Rule names are checked when the engine starts.
	_, err := auditcheck.Run(context.Background(), func() *auditcheck.Config {
		c := config(func(c *auditcheck.Config) { c.Stdin, c.Disable = true, []string{"ssh.nope"} })
		require.NoError(t, auditcheck.Validate(c))
		return c
	}(), &plugin.Env{Stdin: strings.NewReader("")})
	require.EqualError(t, err, `cannot disable "ssh.nope": no such rule`)
}

func TestTheAPIServersOwnRotationIsFollowed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs := filepath.Join(dir, "audit")
	live := filepath.Join(logs, "audit.log")
	write(t, live, exec, false)
	// The glob of the examples matches the backups too: they are left to
	// the reader, which reads their unread part once.
	c := config(func(c *auditcheck.Config) {
		c.Paths, c.State = []string{filepath.Join(logs, "*.log")}, filepath.Join(dir, "state")
	})
	res := run(t, c, "")
	require.InDelta(t, 1, metric(res, "events", audit.PodExec), 0)

	// kube-apiserver (lumberjack) renames audit.log to
	// audit-<time>.log and starts a new one; a line was written before.
	write(t, live, exec, true)
	require.NoError(t, os.Rename(live, filepath.Join(logs, "audit-2026-11-23T10-00-00.000.log")))
	write(t, live, exec, false)
	res = run(t, c, "")
	require.InDelta(t, 2, metric(res, "events", audit.PodExec), 0, "the line before the rotation and the new file's")
	require.InDelta(t, 1, metric(res, "files_read", ""), 0)
	require.Contains(t, res.Notes, "followed 1 rotation")

	res = run(t, c, "")
	require.InDelta(t, -1, metric(res, "events", audit.PodExec), 0, "nothing read twice")
}
