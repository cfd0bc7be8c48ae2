package remediate

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/remediate/sensuapitest"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

const apiKey = "k3y-0f-the-sensu-api-0123456789"

// clock is a settable clock shared by engines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	dir   string
	cfg   *Config
	clock *clock
	api   *sensuapitest.Server
}

func newFixture(t *testing.T, yaml string) *fixture {
	t.Helper()
	api := sensuapitest.New(apiKey, "default/rescan-check")
	t.Cleanup(api.Close)
	cfg, err := ParseConfig("c.yaml", []byte(yaml))
	require.NoError(t, err)
	return &fixture{t: t, dir: t.TempDir(), cfg: cfg, clock: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}, api: api}
}

func (f *fixture) engine() *Engine {
	client, err := httpx.New(httpx.Config{RetryMax: -1})
	require.NoError(f.t, err)
	return &Engine{
		Config: f.cfg, StateDir: f.dir, AuditLog: filepath.Join(f.dir, "audit.jsonl"), CaptureDir: filepath.Join(f.dir, "captures"),
		CaptureRoot: "testdata/root", Limit: Limit{Max: 3, Window: Duration(time.Hour)}, Breaker: Breaker{Entities: 3, Window: 10 * time.Minute},
		Sensu:  SensuAPI{URL: f.api.URL, Key: apiKey, Client: client},
		Client: func(string) (*httpx.Client, error) { return client, nil },
		Getenv: func(k string) string {
			if k == "HOOK_TOKEN" {
				return "bearer-token-of-the-hook-42"
			}
			return os.Getenv(k)
		},
		Redact: secret.NewRedactor(apiKey), Now: f.clock.now,
	}
}

func (f *fixture) handle(ev *corev2.Event) Outcome {
	f.t.Helper()
	raw, err := json.Marshal(ev)
	require.NoError(f.t, err)
	out, err := f.engine().Handle(context.Background(), ev, raw)
	require.NoError(f.t, err)
	testutil.RequireNoSecret(f.t, out.Line, apiKey)
	return out
}

func (f *fixture) audit() []Record {
	f.t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "audit.jsonl"))
	require.NoError(f.t, err)
	testutil.RequireNoSecret(f.t, string(b), apiKey, "bearer-token-of-the-hook-42")
	var out []Record
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var r Record
		require.NoError(f.t, json.Unmarshal([]byte(line), &r))
		out = append(out, r)
	}
	return out
}

func event(entity string, findings ...finding.Finding) *corev2.Event {
	ev := corev2.FixtureEvent(entity, "check-file-integrity")
	ev.Check.Status = 2
	ev.Check.Occurrences = 1
	if len(findings) > 0 {
		b, _ := json.Marshal(findings)
		ev.Check.Annotations = map[string]string{finding.Annotation: string(b)}
	}
	return ev
}

var critical = finding.Finding{Rule: "fim.modified", Severity: finding.Critical, Object: "/etc/passwd", Message: "changed"}

const rescanConfig = `
actions:
  rescan: {kind: sensu-execute, check: rescan-check, selectable: true}
rules:
  - match: {rules: [fim.*], severity: high}
    actions: [rescan]
`

func TestSensuExecuteAgainstTheLocalExecuteEndpoint(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rescanConfig)
	out := f.handle(event("web-1", critical))
	require.False(t, out.Failed, out.Line)
	require.Equal(t, "default/web-1 check-file-integrity status 2: rule rule-1 (config): rescan acted (HTTP 202)", out.Line)
	require.Equal(t, []sensuapitest.Request{{Namespace: "default", Check: "rescan-check", Subscriptions: []string{"entity:web-1"}}}, f.api.Accepted())
	recs := f.audit()
	require.Len(t, recs, 1)
	require.Equal(t, DecisionActed, recs[0].Decision)
	require.Equal(t, []string{"fim.modified"}, recs[0].Rules)
	require.Equal(t, "critical", recs[0].Severity)
	require.Equal(t, 202, recs[0].HTTPStatus)

	noMatch := f.handle(event("web-1", finding.Finding{Rule: "pii.email", Severity: finding.Critical}))
	require.Equal(t, "default/web-1 check-file-integrity status 2: no rule matched", noMatch.Line)
	require.Equal(t, DecisionNoMatch, f.audit()[1].Decision)
}

func TestSensuExecuteFailuresSayWhyWithoutTheKey(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, yaml string
		key        secret.String
		want       string
	}{
		{"a check the backend does not have", strings.Replace(rescanConfig, "rescan-check", "no-such-check", 1), apiKey, "the Sensu API has no check no-such-check in namespace default (404)"},
		{"a refused key", rescanConfig, "wrong-key-0123456789", "the Sensu API refused the API key (401): it needs the create verb on checks in namespace default"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, c.yaml)
			e := f.engine()
			e.Sensu.Key = c.key
			e.Redact.Add(c.key.Reveal())
			ev := event("web-1", critical)
			raw, _ := json.Marshal(ev)
			out, err := e.Handle(context.Background(), ev, raw)
			require.NoError(t, err)
			require.True(t, out.Failed)
			require.Contains(t, out.Line, "rescan failed ("+c.want+")")
			testutil.RequireNoSecret(t, out.Line, apiKey, c.key.Reveal())
			require.Equal(t, DecisionFailed, f.audit()[0].Decision)
		})
	}
}

func TestTheRateLimitSlidesAndEscalates(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rescanConfig)
	for i := range 3 {
		require.Contains(t, f.handle(event("web-1", critical)).Line, "rescan acted", "run %d", i)
		f.clock.add(10 * time.Minute)
	}
	out := f.handle(event("web-1", critical))
	require.True(t, out.Escalate)
	require.False(t, out.Failed)
	require.Contains(t, out.Line, "rescan rate-limited: escalate (rate limit: 3 runs of rescan on default/web-1 within 1h0m0s (next allowed at 2026-03-01T13:00:00Z))")
	require.Contains(t, f.handle(event("web-2", critical)).Line, "rescan acted", "the limit is per entity")
	f.clock.add(30 * time.Minute) // 13:00: the first run leaves the window
	require.Contains(t, f.handle(event("web-1", critical)).Line, "rescan acted")
	require.Len(t, f.api.Accepted(), 5)
	recs := f.audit()
	require.Equal(t, DecisionRateLimited, recs[3].Decision)
	require.True(t, recs[3].Escalate)
}

func TestTheCircuitBreakerStopsEverythingForAWindow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rescanConfig) // breaker: more than 3 entities in 10 minutes
	for i := 1; i <= 3; i++ {
		require.Contains(t, f.handle(event(fmt.Sprintf("web-%d", i), critical)).Line, "rescan acted")
	}
	out := f.handle(event("web-4", critical))
	require.Contains(t, out.Line, "rescan circuit-open: escalate (circuit breaker opened: default/web-4 would be entity 4 acted on within 10m0s (limit 3))")
	out = f.handle(event("web-1", critical))
	require.Contains(t, out.Line, "rescan circuit-open: escalate (circuit breaker open until 2026-03-01T12:10:00Z", "an open breaker stops even known entities")
	f.clock.add(10 * time.Minute)
	require.Contains(t, f.handle(event("web-5", critical)).Line, "rescan acted", "closed again after the window")
	require.Len(t, f.api.Accepted(), 4)
}

func TestDryRunDecidesEverythingAndDoesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rescanConfig)
	e := f.engine()
	e.DryRun = true
	ev := event("web-1", critical)
	raw, _ := json.Marshal(ev)
	for range 5 {
		out, err := e.Handle(context.Background(), ev, raw)
		require.NoError(t, err)
		require.Equal(t, "DRY RUN default/web-1 check-file-integrity status 2: rule rule-1 (config): rescan would act", out.Line)
	}
	require.Empty(t, f.api.Accepted())
	_, err := os.Stat(e.StatePath())
	require.True(t, os.IsNotExist(err), "a dry run changes no state")
	recs := f.audit()
	require.Len(t, recs, 5)
	require.Equal(t, DecisionDryRun, recs[0].Decision)
	require.True(t, recs[0].DryRun)
}

func TestConcurrentRunsNeverExceedTheLimit(t *testing.T) {
	t.Parallel()
	f := newFixture(t, rescanConfig)
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() { f.handle(event("web-1", critical)) })
	}
	wg.Wait()
	require.Len(t, f.api.Accepted(), 3)
	n := 0
	for _, r := range f.audit() {
		if r.Decision == DecisionActed {
			n++
		}
	}
	require.Equal(t, 3, n)
}

func TestCommandActionsGetTheEventAndAreKilledAtTheTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  show:
    kind: command
    command: [/bin/sh, -c, 'echo "entity=$VIGIL_EVENT_ENTITY check=$VIGIL_EVENT_CHECK status=$VIGIL_EVENT_STATUS rules=$VIGIL_EVENT_RULES key=${SENSU_API_KEY:-none}"; head -c 9; echo; echo oops >&2; exit 3']
  hang:
    kind: command
    command: [/bin/sh, -c, 'echo started; sleep 30 & sleep 30; echo never']
    timeout: 300ms
rules:
  - actions: [show, hang]
`)
	start := time.Now()
	out := f.handle(event("web-1", critical))
	require.Less(t, time.Since(start), 5*time.Second, "the process group was killed")
	require.True(t, out.Failed)
	require.Contains(t, out.Line, "show failed (command /bin/sh exited with status 3); hang failed (command /bin/sh killed after the timeout of 300ms)")
	recs := f.audit()
	require.Equal(t, "entity=web-1 check=check-file-integrity status=2 rules=fim.modified key=none\n{\"check\":\noops\n", recs[0].Output)
	require.Equal(t, 3, *recs[0].ExitCode)
	require.Equal(t, "started\n", recs[1].Output)
	require.Equal(t, -1, *recs[1].ExitCode)
}

func TestCommandOutputIsBoundedAndRedacted(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  loud:
    kind: command
    command: [/bin/sh, -c, 'i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo "`+apiKey+`"']
    max_output: 100
rules:
  - actions: [loud]
`)
	out := f.handle(event("web-1"))
	require.False(t, out.Failed, out.Line)
	rec := f.audit()[0]
	require.True(t, rec.OutputTruncated)
	require.Greater(t, rec.OutputBytes, int64(10000))
	require.LessOrEqual(t, len(rec.Output), 100)
	require.True(t, strings.HasSuffix(rec.Output, "[REDACTED]\n"), rec.Output)
}

func TestWebhookPostsTheEvent(t *testing.T) {
	t.Parallel()
	var got struct {
		sync.Mutex
		body []byte
		auth string
		n    int
	}
	status := http.StatusNoContent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Lock()
		defer got.Unlock()
		got.body, _ = io.ReadAll(r.Body)
		got.auth = r.Header.Get("Authorization")
		got.n++
		w.WriteHeader(status)
		_, _ = w.Write([]byte("echo: " + r.Header.Get("Authorization")))
	}))
	defer srv.Close()
	f := newFixture(t, `
actions:
  hook: {kind: webhook, url: '`+srv.URL+`/hook', token_env: HOOK_TOKEN}
rules:
  - actions: [hook]
`)
	ev := event("web-1", critical)
	out := f.handle(ev)
	require.Contains(t, out.Line, "hook acted (HTTP 204)")
	var posted corev2.Event
	require.NoError(t, json.Unmarshal(got.body, &posted))
	require.Equal(t, "web-1", posted.Entity.Name)
	require.Equal(t, "Bearer bearer-token-of-the-hook-42", got.auth)

	status = http.StatusBadRequest
	out = f.handle(ev)
	require.True(t, out.Failed)
	require.Contains(t, out.Line, "hook failed (webhook "+srv.URL+"/hook answered 400: echo: Bearer [REDACTED])")
	testutil.RequireNoSecret(t, out.Line, "bearer-token-of-the-hook-42")
	f.audit()
}

func TestCaptureRunsFirstAndItsManifestHashesTheMembers(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  isolate:
    kind: command
    command: [/bin/sh, -c, 'test -s "$VIGIL_CAPTURE" && echo "capture at $VIGIL_CAPTURE"']
    capture: true
  rescan: {kind: sensu-execute, check: rescan-check, capture: true}
rules:
  - actions: [isolate, rescan]
capture:
  auth_logs: [/var/log/auth.log, /var/log/secure]
  auth_log_lines: 50
`)
	out := f.handle(event("web-1", critical, finding.Finding{Rule: "fim.added", Severity: finding.High, Object: "/usr/bin/backdoor"}))
	require.False(t, out.Failed, out.Line)
	recs := f.audit()
	require.NotNil(t, recs[0].Capture)
	require.Equal(t, recs[0].Capture, recs[1].Capture, "one capture per run")
	c := recs[0].Capture
	require.Contains(t, recs[0].Output, "capture at "+c.Path)
	fi, err := os.Stat(c.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Equal(t, c.Bytes, fi.Size())
	b, err := os.ReadFile(c.Path)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	require.Equal(t, hex.EncodeToString(sum[:]), c.SHA256)

	members := untar(t, c.Path)
	var man Manifest
	require.NoError(t, json.Unmarshal(members["manifest.json"], &man))
	require.Len(t, man.Members, len(members)-1)
	for _, m := range man.Members {
		data, ok := members[m.Name]
		require.True(t, ok, m.Name)
		s := sha256.Sum256(data)
		require.Equal(t, hex.EncodeToString(s[:]), m.SHA256, m.Name)
		require.Equal(t, int64(len(data)), m.Size)
	}
	require.Contains(t, man.Notes, "auth log /var/log/secure does not exist")
	require.Contains(t, man.Notes, "sockets: udp6: no such file or directory")

	var procs []Process
	require.NoError(t, json.Unmarshal(members["processes.json"], &procs))
	require.Equal(t, []Process{
		{PID: 1, PPID: 0, Comm: "systemd", State: "S", UID: 0, Cmdline: "/sbin/init splash"},
		{PID: 4242, PPID: 1, Comm: "nc (evil)", State: "R", UID: 1000, Cmdline: "nc -l -p 4444"},
	}, procs)
	var socks []Socket
	require.NoError(t, json.Unmarshal(members["sockets.json"], &socks))
	require.Equal(t, []Socket{
		{Proto: "tcp", Local: "127.0.0.1:3306", Remote: "0.0.0.0:0", State: "LISTEN", UID: 110, Inode: 21465},
		{Proto: "tcp", Local: "10.0.2.15:4444", Remote: "10.0.2.2:54321", State: "ESTABLISHED", UID: 1000, Inode: 31337},
		{Proto: "tcp6", Local: "[::1]:22", Remote: "[::]:0", State: "LISTEN", UID: 0, Inode: 12345},
		{Proto: "udp", Local: "127.0.0.53:53", Remote: "0.0.0.0:0", State: "07", UID: 101, Inode: 18000},
	}, socks)
	var files []FileInfo
	require.NoError(t, json.Unmarshal(members["files.json"], &files))
	require.Len(t, files, 2)
	passwd, err := os.ReadFile("testdata/root/etc/passwd")
	require.NoError(t, err)
	ps := sha256.Sum256(passwd)
	require.Equal(t, hex.EncodeToString(ps[:]), files[0].SHA256)
	require.Equal(t, "file", files[0].Type)
	require.False(t, files[1].Exists)
	require.Equal(t, "does not exist", files[1].Note)
	auth := string(members["auth-logs/var_log_auth.log"])
	require.Equal(t, 50, strings.Count(auth, "\n"))
	require.Contains(t, auth, "invalid user u300 from")
	require.NotContains(t, auth, "invalid user u250 from")
	var posted corev2.Event
	require.NoError(t, json.Unmarshal(members["event.json"], &posted))
}

func TestAFailedCaptureStopsTheAction(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  rescan: {kind: sensu-execute, check: rescan-check, capture: true}
rules:
  - actions: [rescan]
`)
	e := f.engine()
	e.CaptureRoot = t.TempDir() // no /proc there
	ev := event("web-1", critical)
	raw, _ := json.Marshal(ev)
	out, err := e.Handle(context.Background(), ev, raw)
	require.NoError(t, err)
	require.True(t, out.Failed)
	require.Contains(t, out.Line, "rescan failed (capture: process list: open "+e.CaptureRoot+"/proc: no such file or directory; action not run)")
	require.Empty(t, f.api.Accepted())
}

func TestAnnotationRulesComeFirstAndOnlySelect(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  rescan: {kind: sensu-execute, check: rescan-check, selectable: true}
  other: {kind: sensu-execute, check: rescan-check}
rules:
  - actions: [other]
`)
	ev := event("web-1", critical)
	ev.Check.Annotations[AnnotationRules] = `[{"name":"from-check","match":{"occurrences":[">=1"]},"actions":["rescan"]}]`
	ev.Entity.Annotations = map[string]string{AnnotationRules: `[{"actions":["other"]}]`}
	out := f.handle(ev)
	require.Contains(t, out.Line, "rule from-check (annotation): rescan acted")

	ev.Check.Annotations[AnnotationRules] = `[{"actions":["other"]}]`
	raw, _ := json.Marshal(ev)
	_, err := f.engine().Handle(context.Background(), ev, raw)
	require.ErrorContains(t, err, `action "other" is not selectable by a check annotation`)
}

func untar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	file, err := os.Open(path)
	require.NoError(t, err)
	defer file.Close()
	gz, err := gzip.NewReader(bufio.NewReader(file))
	require.NoError(t, err)
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	var last string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[h.Name] = b
		last = h.Name
	}
	require.Equal(t, "manifest.json", last, "the manifest is the last member")
	return out
}

func TestAShortWindowDecidingKeepsALongWindowsHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  nuke:
    kind: command
    command: [/bin/true]
    rate_limit: {max: 1, window: 24h}
  quick:
    kind: command
    command: [/bin/true]
    rate_limit: {max: 5, window: 1h}
rules:
  - match: {occurrences: [">=5"]}
    actions: [nuke]
  - actions: [quick]
`)
	persistent := func() *corev2.Event {
		ev := event("web-1", critical)
		ev.Check.Occurrences = 5
		return ev
	}
	require.Contains(t, f.handle(persistent()).Line, "nuke acted")
	f.clock.add(2 * time.Hour)
	require.Contains(t, f.handle(event("web-2", critical)).Line, "quick acted")
	out := f.handle(persistent())
	require.Contains(t, out.Line, "nuke rate-limited", "the 24-hour history survived the 1-hour action's decision")
}

func TestACommandThatLeavesAProcessBehindSucceeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  restart:
    kind: command
    command: [/bin/sh, -c, 'sleep 5 & echo restarted']
rules:
  - actions: [restart]
`)
	out := f.handle(event("web-1", critical))
	require.False(t, out.Failed, out.Line)
	require.Contains(t, f.audit()[0].Output, "restarted")
}

func TestASecretAcrossTheCutIsNotHalfShown(t *testing.T) {
	t.Parallel()
	f := newFixture(t, `
actions:
  echo:
    kind: command
    command: [/bin/sh, -c, 'echo "key=`+apiKey+`"; printf "%0100d" 0']
    max_output: 110
rules:
  - actions: [echo]
`)
	f.handle(event("web-1", critical))
	rec := f.audit()[0]
	require.NotContains(t, rec.Output, apiKey[len(apiKey)-8:], "no tail of the key: %q", rec.Output)
}
