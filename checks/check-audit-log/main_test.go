package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/audit"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// bruteForce writes an auth log with 25 failed logins from one address
// within two minutes, and one accepted login.
func bruteForce(t *testing.T, path string, at time.Time) {
	t.Helper()
	var b strings.Builder
	for i := range 25 {
		ts := at.Add(time.Duration(i) * 5 * time.Second).UTC().Format("2006-01-02T15:04:05.000000-07:00")
		fmt.Fprintf(&b, "%s web-01 sshd-session[%d]: Failed password for root from 203.0.113.7 port %d ssh2\n", ts, 100+i, 40000+i)
		fmt.Fprintf(&b, "%s web-01 sshd-session[%d]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.7  user=root\n", ts, 100+i)
	}
	fmt.Fprintf(&b, "%s web-01 sshd[9]: Accepted publickey for deploy from 10.0.0.5 port 50022 ssh2: ED25519 SHA256:x\n", at.UTC().Format(time.RFC3339))
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
}

func TestABruteForceIsCriticalAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	bruteForce(t, log, time.Now().Add(-time.Hour))
	check := &corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "ssh-sudo-audit"}, Timeout: 60, OutputMetricFormat: corev2.NagiosOutputMetricFormat,
		Command: "check-audit-log --source auth --path " + testutil.Shell(log) + " --state " + testutil.Shell(filepath.Join(dir, "state")),
	}
	ev := h.RunCheck(check)
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	require.True(t, strings.HasPrefix(ev.Check.Output, "check-audit-log CRITICAL - 2 findings in 1 file, 51 lines read: 1 ssh.accepted_login, 25 ssh.failed_login |"), ev.Check.Output)
	require.Contains(t, ev.Check.Output, "[critical] ssh.failed_login sshd@web-01: 25 failed ssh logins from 203.0.113.7 (25 failed logins from it within 10m); accounts: root (×25) ("+log+":1)")
	require.Contains(t, ev.Check.Output, "top failed-login sources: 203.0.113.7 25 (25 within 10m)")
	points := map[string]float64{}
	for _, p := range ev.Metrics.Points {
		points[p.Name] = p.Value
	}
	require.InDelta(t, 25, points["failed_logins"], 0)
	require.InDelta(t, 25, points["events.ssh.failed_login"], 0)

	// The next run reads nothing new.
	ev = h.RunCheck(check)
	require.EqualValues(t, 0, ev.Check.Status, ev.Check.Output)
	require.True(t, strings.HasPrefix(ev.Check.Output, "check-audit-log OK - no audit findings in 1 file, 0 lines read |"), ev.Check.Output)
}

func TestBadInputIsUnknownWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("rules:\n  - id: custom.x\n    severity: hgh\n    match: {verb: get}\n"), 0o644))
	unreadable := filepath.Join(dir, "state-is-a-file")
	require.NoError(t, os.WriteFile(unreadable, []byte("x"), 0o644))
	tests := []struct{ name, args, want string }{
		{"misspelt flag", "--stdin --windw 5m", "check-audit-log UNKNOWN - unknown flag --windw (did you mean --window?)"},
		{"no input", "", "check-audit-log UNKNOWN - --path (or VIGIL_AUDIT_PATHS) or --stdin is required"},
		{"bad source", "--stdin --source nginx", "check-audit-log UNKNOWN - --source: must be one of auto, k8s, auth, auditd"},
		{"bad rules", "--stdin --rules " + testutil.Shell(rules), "check-audit-log UNKNOWN - rules " + rules + `:2: rule custom.x: unknown severity "hgh"`},
		{"unknown rule", "--stdin --disable ssh.nope", `check-audit-log UNKNOWN - cannot disable "ssh.nope": no such rule`},
		{"state not a directory", "--path /dev/null --state " + testutil.Shell(unreadable), "check-audit-log UNKNOWN - "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev := h.RunCheck(&corev2.CheckConfig{ObjectMeta: corev2.ObjectMeta{Name: "audit"}, Timeout: 30, Command: "check-audit-log " + tt.args + " </dev/null"})
			require.EqualValues(t, 3, ev.Check.Status, ev.Check.Output)
			require.True(t, strings.HasPrefix(ev.Check.Output, tt.want), ev.Check.Output)
			require.Equal(t, 1, strings.Count(strings.TrimSpace(ev.Check.Output), "\n")+1, "one line: %q", ev.Check.Output)
		})
	}
}

// TestTheReadmeListsEveryRule keeps the README's rule table equal to the
// catalogue (run with VIGIL_UPDATE=1 to rewrite it).
func TestTheReadmeListsEveryRule(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("<!-- BEGIN RULES -->\n| rule | catches | why it matters | severity |\n|---|---|---|---|\n")
	for _, r := range audit.Rules() {
		sev := r.Severity.String()
		if r.Threshold() {
			sev = "by threshold"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.ID, r.Catches, r.Why, sev)
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
	require.Equal(t, b.String(), current, "README rule table is stale: VIGIL_UPDATE=1 go test ./checks/check-audit-log/ -run Readme")
}
