package audit

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// now is a fixed clock: late November 2026, when the fixtures were written.
func now() time.Time { return time.Date(2026, 11, 24, 8, 0, 0, 0, time.UTC) }

func newEngine(t *testing.T, edit func(*Options)) *Engine {
	t.Helper()
	opt := DefaultOptions()
	opt.Now = now
	if edit != nil {
		edit(&opt)
	}
	e, err := New(opt)
	require.NoError(t, err)
	return e
}

// feedFile feeds a fixture line by line.
func feedFile(t *testing.T, e *Engine, src Source, name string) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := int64(0)
	for sc.Scan() {
		n++
		e.Feed(src, Location{File: name, Line: n}, sc.Bytes())
	}
	require.NoError(t, sc.Err())
	e.End()
}

func feedLines(e *Engine, src Source, lines ...string) {
	for i, l := range lines {
		e.Feed(src, Location{File: "t", Line: int64(i + 1)}, []byte(l))
	}
	e.End()
}

// find returns the findings of a rule.
func find(r Report, rule string) []finding.Finding {
	var out []finding.Finding
	for _, f := range r.Findings {
		if f.Rule == rule {
			out = append(out, f)
		}
	}
	return out
}

func TestKubernetesRulesOnTheFixture(t *testing.T) {
	t.Parallel()
	e := newEngine(t, nil)
	feedFile(t, e, K8s, "k8s.log")
	r := e.Report(5)

	// Trusted control-plane traffic, health checks, reads of ordinary
	// resources and RequestReceived stages give nothing; the exec logged
	// at two stages counts once; the workload template is read; a
	// truncated line is a parse error, and the EventList's items count.
	require.Equal(t, map[string]int{
		SecretAccess: 2, SecretAccessDenied: 1, PodExec: 1, ClusterAdminBinding: 1, RBACChange: 2,
		WildcardRole: 1, AnonymousRequest: 1, PrivilegedPod: 1, SensitiveMount: 1, HostNamespace: 2,
		SATokenCreate: 1, Impersonation: 1, KubeSystemChange: 1,
	}, r.Events)
	require.EqualValues(t, 1, r.ParseErrors)
	require.Equal(t, Location{File: "k8s.log", Line: 33}, r.FirstBad)

	tests := []struct {
		rule, actor, source, object string
		severity                    finding.Severity
		message                     string
	}{
		{SecretAccess, "mallory", "203.0.113.9", "payments/secrets/stripe-live", finding.Medium, "mallory get payments/secrets/stripe-live"},
		{SecretAccessDenied, "mallory", "203.0.113.9", "kube-system/secrets", finding.Medium, "mallory list kube-system/secrets"},
		{PodExec, "alice@example.com", "10.0.0.9", "prod/pods/api-1/exec", finding.Medium, "alice@example.com exec into prod/pods/api-1"},
		{ClusterAdminBinding, "bob", "10.0.0.9", "clusterrolebindings/tmp-admin", finding.Critical, "binds cluster-admin to User bob"},
		{WildcardRole, "bob", "10.0.0.9", "dev/roles/all", finding.High, `"*" in resources`},
		{AnonymousRequest, "system:anonymous", "198.51.100.66", "default/pods", finding.High, "/api/v1/namespaces/default/pods"},
		{PrivilegedPod, "carol", "10.0.0.9", "web/deployments/miner", finding.High, "privileged container setup"},
		{SensitiveMount, "carol", "10.0.0.9", "web/deployments/miner", finding.High, "hostPath /etc/, /run/containerd/containerd.sock"},
		{SATokenCreate, "dave", "10.0.0.9", "prod/serviceaccounts/builder/token", finding.Medium, ""},
		{Impersonation, "erin", "10.0.0.9", "nodes", finding.Medium, "as system:admin"},
		{KubeSystemChange, "frank", "10.0.0.9", "kube-system/pods/helper", finding.High, ""},
		{DeniedBurst, "scanner", "192.0.2.77", "user scanner", finding.Medium, "12 requests refused (401/403), 12 within 10m"},
		{PolicyLevelLow, "", "", "daemonsets, pods", finding.Low, "2 writes of daemonsets, pods logged without the object written"},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			t.Parallel()
			fs := find(r, tt.rule)
			require.NotEmpty(t, fs)
			f := fs[0]
			require.Equal(t, tt.actor, f.Actor)
			require.Equal(t, tt.source, f.Source)
			require.Equal(t, tt.object, f.Object)
			require.Equal(t, tt.severity, f.Severity)
			require.Contains(t, f.Message, tt.message)
		})
	}
	require.NotContains(t, find(r, AnonymousRequest)[0].Message, "labelSelector", "the query string is left out")
	// One burst from one client is one finding, not one per user and address.
	require.Len(t, find(r, DeniedBurst), 1)
	// The exec's time comes from the event.
	require.Equal(t, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), find(r, PodExec)[0].Time)
}

func TestAuthRulesOnTheFixture(t *testing.T) {
	t.Parallel()
	e := newEngine(t, func(o *Options) { o.FailedWarning, o.FailedCritical = 3, 6 })
	feedFile(t, e, Auth, "auth.log")
	r := e.Report(2)
	// The PAM line of a failed attempt does not count again; rsyslog's
	// "message repeated 4 times" counts 4.
	require.Equal(t, map[string]int{
		SSHFailedLogin: 8, SSHInvalidUser: 1, SSHMaxAuthExceeded: 1, SSHAcceptedLogin: 1,
		SudoAuthFailure: 1, SudoNotInSudoers: 1, SudoCommandDenied: 1, SudoCommand: 1,
	}, r.Events)
	require.EqualValues(t, 1, r.ParseErrors)
	require.Equal(t, 8, r.FailedLogins)
	require.Equal(t, []SourceCount{{"192.0.2.1", 6, 6}, {"194.117.26.69", 1, 1}}, r.TopSources)

	byRuleSource := map[string]finding.Finding{}
	for _, f := range r.Findings {
		byRuleSource[f.Rule+" "+f.Source] = f
	}
	brute := byRuleSource["ssh.failed_login 192.0.2.1"]
	require.Equal(t, finding.Critical, brute.Severity, "6 failures within 10m reach the critical threshold of 6")
	require.Equal(t, 6, brute.Count)
	require.Equal(t, "root", brute.Actor)
	require.Equal(t, []string{"root", "ftp"}, brute.Attrs["users"])
	require.Equal(t, "6 failed ssh logins from 192.0.2.1 (6 failed logins from it within 10m); accounts: root, ftp", brute.Message)
	// The same source's other findings share its rating.
	require.Equal(t, finding.Critical, byRuleSource["ssh.invalid_user 192.0.2.1"].Severity)
	require.Equal(t, finding.Critical, byRuleSource["ssh.max_auth_exceeded 192.0.2.1"].Severity)
	// One failure is info; the RFC 3339 sshd-session line is read.
	single := byRuleSource["ssh.failed_login 198.51.100.7"]
	require.Equal(t, finding.Info, single.Severity)
	require.Equal(t, "git", single.Actor)
	require.Equal(t, time.Date(2026, 11, 23, 21, 51, 0, 123456000, time.UTC), single.Time.UTC())

	accepted := byRuleSource["ssh.accepted_login 10.0.0.5"]
	require.Equal(t, "deploy logged in from 10.0.0.5 (publickey)", accepted.Message)
	require.Equal(t, finding.High, find(r, SudoNotInSudoers)[0].Severity)
	require.Equal(t, 3, find(r, SudoAuthFailure)[0].Attrs["attempts"])
	cmd := find(r, SudoCommand)[0]
	require.Equal(t, "carol", cmd.Actor)
	require.Equal(t, "/usr/bin/systemctl", cmd.Object)
	// sudo arguments can hold secrets: only the program is kept.
	for _, f := range r.Findings {
		require.NotContains(t, f.Message, "hunter2")
		require.NotContains(t, f.Message, "restart")
	}
}

func TestAuditdRulesOnTheFixture(t *testing.T) {
	t.Parallel()
	e := newEngine(t, func(o *Options) { o.AuditdKeys = []string{"privileged", "execshell"} })
	feedFile(t, e, Auditd, "audit.log")
	r := e.Report(5)
	// The open(2) under the watched key has no EXECVE record: not an exec.
	require.Equal(t, map[string]int{AuditdAuthFailure: 2, AuditdExec: 2}, r.Events)
	require.EqualValues(t, 1, r.ParseErrors)

	auth := find(r, AuditdAuthFailure)
	require.Len(t, auth, 1, "both failures come from one address")
	require.Equal(t, "10.0.1.50", auth[0].Source)
	// acct=28756E… is hex for "(unknown user)".
	require.ElementsMatch(t, []string{"admin", "(unknown user)"}, auth[0].Attrs["users"])

	execs := map[string]finding.Finding{}
	for _, f := range find(r, AuditdExec) {
		execs[f.Object] = f
	}
	ping := execs["/bin/ping"]
	require.Equal(t, "alice", ping.Actor, "the enriched AUID names the user")
	require.Equal(t, "alice ran /bin/ping as uid 1000, euid 0 (key privileged)", ping.Message)
	require.Equal(t, time.Unix(1763934700, 621_000_000).UTC(), ping.Time)
	// A hex-encoded key list ("privileged\x01execshell") is decoded.
	require.Equal(t, "execshell", execs["/usr/bin/dash"].Attrs["key"].(string)[:9])
	require.Equal(t, "unset", execs["/usr/bin/dash"].Actor)
}

func TestDetect(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]Source{
		`{"kind":"Event"}`:                             K8s,
		`  {"kind":"EventList"}`:                       K8s,
		`type=SYSCALL msg=audit(1.2:3): x=1`:           Auditd,
		`node=db type=USER_AUTH msg=audit(1.2:3): x=1`: Auditd,
		`Nov 23 21:50:37 web sshd[1]: Failed password`: Auth,
		`2026-11-23T21:50:37Z web sudo: alice : TTY=x`: Auth,
	} {
		require.Equal(t, want, Detect([]byte(line)), line)
	}
}

func TestSyslogTimestampsTakeTheYearThatIsNotInTheFuture(t *testing.T) {
	t.Parallel()
	a := authState{now: time.Date(2027, 1, 2, 0, 0, 0, 0, time.Local)}
	require.Equal(t, 2026, a.timeOf([]byte("Dec 31 23:59:59")).Year(), "December read in January is last year's")
	require.Equal(t, 2027, a.timeOf([]byte("Jan  2 12:00:00")).Year(), "clock skew of hours is this year")
	require.True(t, a.timeOf([]byte("Xyz 99 99:99:99")).IsZero())
}

func TestExecAcrossTwoRunsCountsOnce(t *testing.T) {
	t.Parallel()
	started := `{"kind":"Event","auditID":"x1","stage":"ResponseStarted","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"p","name":"a","subresource":"attach"},"responseStatus":{"code":101}}`
	complete := strings.Replace(started, "ResponseStarted", "ResponseComplete", 1)

	first := newEngine(t, nil)
	feedLines(first, K8s, started)
	require.Equal(t, 1, first.Report(0).Events[PodExec])

	second := newEngine(t, nil)
	second.Restore(first.State())
	feedLines(second, K8s, complete)
	require.Zero(t, second.Report(0).Events[PodExec], "the session ended in the next run: already counted")

	// Without the carried state the end of the session is a request of its own.
	fresh := newEngine(t, nil)
	feedLines(fresh, K8s, complete)
	require.Equal(t, 1, fresh.Report(0).Events[PodExec])
}

func sshFail(at time.Time, ip string) string {
	return at.UTC().Format(time.RFC3339) + " h sshd[1]: Failed password for root from " + ip + " port 22 ssh2"
}

func TestFailuresAreCountedWithinTheWindowAcrossRuns(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var spread []string
	for i := range 6 {
		spread = append(spread, sshFail(base.Add(time.Duration(i)*3*time.Minute), "192.0.2.9"))
	}
	// 6 failures 3 minutes apart: at most 4 within any 10 minutes.
	e := newEngine(t, nil)
	feedLines(e, Auth, spread...)
	r := e.Report(5)
	require.Equal(t, []SourceCount{{"192.0.2.9", 6, 4}}, r.TopSources)
	require.Equal(t, finding.Info, find(r, SSHFailedLogin)[0].Severity)

	// A slow attack split over runs is counted whole: 4 then 2 more.
	first := newEngine(t, nil)
	feedLines(first, Auth, spread[3:5]...)
	second := newEngine(t, nil)
	second.Restore(first.State())
	feedLines(second, Auth, spread[5], sshFail(base.Add(16*time.Minute), "192.0.2.9"), sshFail(base.Add(17*time.Minute), "192.0.2.9"))
	r = second.Report(5)
	require.Equal(t, 3, r.FailedLogins, "this run's failures")
	require.Equal(t, 5, r.TopSources[0].Peak, "with the previous run's, 5 within 10m")
	require.Equal(t, finding.Medium, find(r, SSHFailedLogin)[0].Severity)
}

func TestOutOfOrderAndUndatedLinesDoNotBreakTheWindow(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	e := newEngine(t, nil)
	feedLines(e, Auth,
		sshFail(base.Add(5*time.Minute), "192.0.2.1"),
		sshFail(base, "192.0.2.1"), // clock skew: earlier than the previous line
		sshFail(base.Add(-time.Hour), "192.0.2.1"),
	)
	r := e.Report(5)
	require.Equal(t, []SourceCount{{"192.0.2.1", 3, 2}}, r.TopSources)
}

func TestDisabledAndReRatedRules(t *testing.T) {
	t.Parallel()
	e := newEngine(t, func(o *Options) {
		o.Disabled = []string{SecretAccess, DeniedBurst}
		o.Severity = map[string]finding.Severity{PodExec: finding.Critical}
	})
	feedFile(t, e, K8s, "k8s.log")
	r := e.Report(5)
	require.Empty(t, find(r, SecretAccess))
	require.Empty(t, find(r, DeniedBurst))
	require.Zero(t, r.Events[SecretAccess])
	require.Equal(t, finding.Critical, find(r, PodExec)[0].Severity)

	_, err := New(Options{Window: time.Minute, FailedWarning: 1, FailedCritical: 1, DeniedWarning: 1, DeniedCritical: 1, Disabled: []string{"k8s.nope"}})
	require.EqualError(t, err, `cannot disable "k8s.nope": no such rule`)
}

func TestTrustedUsersCanBeChanged(t *testing.T) {
	t.Parallel()
	line := `{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"system:node:w1"},"objectRef":{"resource":"secrets","namespace":"a","name":"b"},"responseStatus":{"code":200}}`
	e := newEngine(t, nil)
	feedLines(e, K8s, line)
	require.Zero(t, e.Report(0).Events[SecretAccess])
	e = newEngine(t, func(o *Options) { o.Trusted = nil })
	feedLines(e, K8s, line)
	require.Equal(t, 1, e.Report(0).Events[SecretAccess])
}

func TestFindingsAreBounded(t *testing.T) {
	t.Parallel()
	e := newEngine(t, func(o *Options) { o.MaxFindings = 3 })
	for i := range 10 {
		feedLines(e, Auth, "Nov 23 10:00:00 h sudo: user"+string(rune('a'+i))+" : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/true")
	}
	r := e.Report(0)
	require.Len(t, r.Findings, 3)
	require.Equal(t, 7, r.Dropped)
	require.Equal(t, 10, r.Events[SudoCommand], "every event is counted")
}

func TestBadInputIsCountedNeverFatal(t *testing.T) {
	t.Parallel()
	huge := `{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"u"},"objectRef":{"resource":"configmaps"},"responseStatus":{"code":201},"requestObject":{"data":{"k":"` + strings.Repeat("x", 1<<20) + `"}}}`
	e := newEngine(t, nil)
	feedLines(e, K8s,
		`{"kind":"Event","verb":`, `[]`, `{"kind":"Other"}`, "\x00\xff\xfe", `{"kind":"Event","objectRef":"not an object","user":7,"sourceIPs":{"a":1}}`,
		huge, "",
	)
	feedLines(e, Auth, "Nov 23 10:00:00", "Nov 23 10:00:00 h sshd[1]: Failed password for", "Nov 23 10:00:00 h sudo: x : y", "2026-13-45T99:99:99Z h sshd[1]: Invalid user a from 1.2.3.4")
	feedLines(e, Auditd, "type=SYSCALL msg=audit(", "type=X msg=audit(abc:1): a=1", `type=USER_AUTH msg=audit(1.1:1): msg='acct="unterminated`)
	r := e.Report(5)
	require.EqualValues(t, 7, r.ParseErrors) // 4 JSON, 1 syslog prefix, 2 auditd
	// The undated invalid-user line still counts, with no time.
	require.Equal(t, 1, r.Events[SSHInvalidUser])
}

func FuzzFeed(f *testing.F) {
	for _, name := range []string{"k8s.log", "auth.log", "audit.log"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		for _, l := range strings.Split(string(b), "\n")[:8] {
			f.Add(l)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		e := newEngine(t, func(o *Options) { o.AuditdKeys = []string{"privileged"} })
		for _, src := range []Source{K8s, Auth, Auditd} {
			e.Feed(src, Location{File: "f", Line: 1}, []byte(line))
		}
		e.End()
		_ = e.Report(5)
		_ = e.State()
	})
}

func TestALoginAfterGuessingIsCritical(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var lines []string
	for i := range 5 {
		lines = append(lines, sshFail(base.Add(time.Duration(i)*time.Second), "203.0.113.7"))
	}
	accepted := func(at time.Time, ip string) string {
		return at.Format(time.RFC3339) + " h sshd[2]: Accepted password for root from " + ip + " port 4 ssh2"
	}
	lines = append(lines,
		accepted(base.Add(time.Minute), "10.0.0.5"),
		accepted(base.Add(time.Minute), "203.0.113.7"),
		accepted(base.Add(time.Hour), "203.0.113.7"),
	)
	e := newEngine(t, nil)
	feedLines(e, Auth, lines...)
	logins := map[string]finding.Finding{}
	for _, f := range find(e.Report(5), SSHAcceptedLogin) {
		logins[f.Source] = f
	}
	require.Equal(t, finding.Info, logins["10.0.0.5"].Severity)
	guessed := logins["203.0.113.7"]
	require.Equal(t, finding.Critical, guessed.Severity)
	require.Equal(t, 2, guessed.Count, "the later login from there is the same finding")
	require.Equal(t, "root logged in from 203.0.113.7 (password) after 5 failed logins from it within 10m", guessed.Message)
	require.Equal(t, "t:7", guessed.Location)
}

func TestALineFromTheFutureDoesNotBlindItsSource(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	lines := []string{sshFail(base.Add(26*time.Hour), "203.0.113.7")}
	for i := range 25 {
		lines = append(lines, sshFail(base.Add(time.Duration(i)*time.Second), "203.0.113.7"))
	}
	e := newEngine(t, nil)
	feedLines(e, Auth, lines...)
	r := e.Report(5)
	require.Equal(t, 25, r.TopSources[0].Peak)
	require.Equal(t, finding.Critical, find(r, SSHFailedLogin)[0].Severity)
	// Nor does it empty what the next run carries.
	require.Len(t, e.State().Failed["203.0.113.7"], 26)
}

func TestInterleavedFilesCountTogether(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	e := newEngine(t, nil)
	// Two hosts' logs read one after the other: the same address, the same minutes.
	feedLines(e, Auth, sshFail(base, "192.0.2.5"), sshFail(base.Add(time.Second), "192.0.2.5"), sshFail(base.Add(2*time.Second), "192.0.2.5"), sshFail(base.Add(50*time.Minute), "192.0.2.5"))
	feedLines(e, Auth, sshFail(base, "192.0.2.5"), sshFail(base.Add(time.Second), "192.0.2.5"), sshFail(base.Add(2*time.Second), "192.0.2.5"))
	require.Equal(t, 6, e.Report(5).TopSources[0].Peak)
}

func TestClientChosenTextCannotSteerTheFindings(t *testing.T) {
	t.Parallel()
	e := newEngine(t, nil)
	feedLines(e, Auth,
		// A user name with " from " in it does not choose the source.
		"Nov 23 10:00:00 h sshd[1]: Failed password for invalid user x from 10.0.0.1 from 198.51.100.7 port 5555 ssh2",
		// The client's "none" probe is not a failure.
		"Nov 23 10:00:00 h sshd[1]: Failed none for invalid user y from 198.51.100.8 port 5556 ssh2",
		// sudo does not escape arguments: " ; " inside COMMAND is the command's.
		"Nov 23 10:00:01 h sudo:    carol : TTY=pts/0 ; PWD=/home/carol ; USER=root ; COMMAND=/bin/sh -c apt update ; apt upgrade -y",
		"Nov 23 10:00:02 h sudo:    dave : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/echo x ; NOT in sudoers",
		"Nov 23 10:00:03 h sudo:    erin : 1 incorrect password attempt ; TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/psql -c select 1 ; -- 1 incorrect password attempt pw=Tr0ub4dor",
	)
	r := e.Report(5)
	require.Equal(t, map[string]int{SSHFailedLogin: 1, SudoCommand: 2, SudoAuthFailure: 1}, r.Events)
	require.Equal(t, "198.51.100.7", find(r, SSHFailedLogin)[0].Source)
	require.Equal(t, "x from 10.0.0.1", find(r, SSHFailedLogin)[0].Actor)
	for _, f := range r.Findings {
		require.NotContains(t, f.Message, "Tr0ub4dor")
		require.NotContains(t, f.Message, "upgrade")
	}
	require.Equal(t, "erin: 1 incorrect password attempts (sudo /usr/bin/psql as root)", find(r, SudoAuthFailure)[0].Message)
}

func TestWritesTheLogDoesNotShowAreBlindNotClean(t *testing.T) {
	t.Parallel()
	ev := func(verb, extra string) string {
		return `{"kind":"Event","level":"Request","stage":"ResponseComplete","verb":"` + verb + `","user":{"username":"mallory"},"objectRef":{"resource":"deployments","namespace":"web","name":"d","apiGroup":"apps"},"responseStatus":{"code":200}` + extra + `}`
	}
	e := newEngine(t, nil)
	feedLines(e, K8s,
		// The API server's size limit cut the body: padding must not hide a privileged pod.
		ev("create", `,"annotations":{"audit.k8s.io/truncated":"true"}`),
		// A JSON patch, logged without the response.
		ev("patch", `,"requestObject":[{"op":"add","path":"/spec/template/spec/hostNetwork","value":true}]`),
		// The same patch at RequestResponse: the response holds the object.
		ev("patch", `,"requestObject":[{"op":"add","path":"/spec/template/spec/hostNetwork","value":true}],"responseObject":{"kind":"Deployment","spec":{"template":{"spec":{"hostNetwork":true}}}}`),
	)
	r := e.Report(5)
	require.Equal(t, 1, r.Events[HostNamespace])
	blind := find(r, PolicyLevelLow)
	require.Len(t, blind, 1)
	require.Equal(t, 2, blind[0].Count)
}

func TestEvenTrustedUsersDoNotBindClusterAdmin(t *testing.T) {
	t.Parallel()
	e := newEngine(t, nil)
	feedLines(e, K8s, `{"kind":"Event","level":"Request","stage":"ResponseComplete","verb":"create","user":{"username":"system:serviceaccount:kube-system:replicaset-controller"},"objectRef":{"resource":"clusterrolebindings","name":"x","apiGroup":"rbac.authorization.k8s.io"},"responseStatus":{"code":201},"requestObject":{"roleRef":{"name":"cluster-admin"},"subjects":[{"kind":"ServiceAccount","name":"x"}]}}`)
	r := e.Report(5)
	require.Equal(t, map[string]int{ClusterAdminBinding: 1}, r.Events, "nor is it an ordinary RBAC change of theirs")
}

func TestTrustedWatchesDoNotCrowdOutAnExecSession(t *testing.T) {
	t.Parallel()
	exec := `{"kind":"Event","auditID":"exec-1","stage":"ResponseStarted","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"p","name":"a","subresource":"exec"},"responseStatus":{"code":101}}`
	lines := []string{exec}
	for i := range maxPending + 1 {
		lines = append(lines, `{"kind":"Event","auditID":"w`+strings.Repeat("x", i%7)+time.Duration(i).String()+`","stage":"ResponseStarted","verb":"watch","user":{"username":"system:node:w1"},"objectRef":{"resource":"pods"},"responseStatus":{"code":200}}`)
	}
	lines = append(lines, strings.Replace(exec, "ResponseStarted", "ResponseComplete", 1))
	e := newEngine(t, nil)
	feedLines(e, K8s, lines...)
	require.Equal(t, 1, e.Report(0).Events[PodExec])
	require.Empty(t, e.State().Pending, "the session ended")
}

func TestReRating(t *testing.T) {
	t.Parallel()
	_, err := New(func() Options {
		o := DefaultOptions()
		o.Severity = map[string]finding.Severity{SSHFailedLogin: finding.High}
		return o
	}())
	require.ErrorContains(t, err, `cannot re-rate "ssh.failed_login": its severity comes from --failed-login-warning`)

	// Quieting routine logins leaves the login after guessing critical.
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var lines []string
	for i := range 5 {
		lines = append(lines, sshFail(base.Add(time.Duration(i)*time.Second), "203.0.113.7"))
	}
	lines = append(lines, base.Add(time.Minute).Format(time.RFC3339)+" h sshd[2]: Accepted password for root from 203.0.113.7 port 4 ssh2",
		base.Add(time.Minute).Format(time.RFC3339)+" h sshd[2]: Accepted publickey for deploy from 10.0.0.5 port 4 ssh2")
	e := newEngine(t, func(o *Options) { o.Severity = map[string]finding.Severity{SSHAcceptedLogin: finding.Low} })
	feedLines(e, Auth, lines...)
	for _, f := range find(e.Report(5), SSHAcceptedLogin) {
		if f.Source == "203.0.113.7" {
			require.Equal(t, finding.Critical, f.Severity)
		} else {
			require.Equal(t, finding.Low, f.Severity)
		}
	}
}

func TestPasswordSprayingFromManyAddressesIsCaught(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var lines []string
	for i := range 30 {
		lines = append(lines, sshFail(base.Add(time.Duration(i)*10*time.Second), "198.51.100."+strconv.Itoa(i+1)))
	}
	e := newEngine(t, nil)
	feedLines(e, Auth, lines...)
	r := e.Report(5)
	var perAddress, perAccount []finding.Finding
	for _, f := range find(r, SSHFailedLogin) {
		if f.Source == "" {
			perAccount = append(perAccount, f)
		} else {
			perAddress = append(perAddress, f)
		}
	}
	require.Len(t, perAddress, 30)
	require.Equal(t, finding.Info, perAddress[0].Severity, "one failure per address stays under their thresholds")
	require.Len(t, perAccount, 1)
	require.Equal(t, finding.Critical, perAccount[0].Severity)
	require.Equal(t, "root", perAccount[0].Actor)
	require.Equal(t, 30, perAccount[0].Attrs["distinct_sources"])
	require.Equal(t, 30, r.Events[SSHFailedLogin], "the events are the lines, counted once")
}
