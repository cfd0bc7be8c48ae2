package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/remediate"
	"github.com/vigil-sec/vigil/pkg/remediate/sensuapitest"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

const apiKey = "5ensu-api-key-d0-not-leak-8c1f"

type setup struct {
	t      *testing.T
	h      *testutil.Harness
	dir    string
	config string
	api    *sensuapitest.Server
}

func newSetup(t *testing.T, config string) *setup {
	t.Helper()
	api := sensuapitest.New(apiKey, "default/check-file-integrity-rescan")
	t.Cleanup(api.Close)
	dir := t.TempDir()
	path := filepath.Join(dir, "remediation.yaml")
	require.NoError(t, os.WriteFile(path, []byte(config), 0o600))
	return &setup{t: t, h: testutil.New(t), dir: dir, config: path, api: api}
}

func (s *setup) cmd(extra string) string {
	return "handler-remediation --config " + testutil.Shell(s.config) + " --state-dir " + testutil.Shell(filepath.Join(s.dir, "state")) +
		" --sensu-api-url " + s.api.URL + " --capture-root " + testutil.Shell(testdataRoot(s.t)) + " " + extra
}

func (s *setup) env() []string { return []string{"SENSU_API_KEY=" + apiKey} }

func (s *setup) audit() []remediate.Record {
	s.t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dir, "state", "audit.jsonl"))
	require.NoError(s.t, err)
	testutil.RequireNoSecret(s.t, string(b), apiKey)
	fi, err := os.Stat(filepath.Join(s.dir, "state", "audit.jsonl"))
	require.NoError(s.t, err)
	require.Equal(s.t, os.FileMode(0o600), fi.Mode().Perm())
	var out []remediate.Record
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var r remediate.Record
		require.NoError(s.t, json.Unmarshal([]byte(line), &r))
		out = append(out, r)
	}
	return out
}

func testdataRoot(t *testing.T) string {
	p, err := filepath.Abs("../../pkg/remediate/testdata/root")
	require.NoError(t, err)
	return p
}

func integrityEvent(entity string) *corev2.Event {
	ev := testutil.Event()
	ev.Entity.Name = entity
	ev.Check.Name = "check-file-integrity"
	ev.Check.Occurrences = 2
	b, _ := json.Marshal([]finding.Finding{{Rule: "fim.modified", Severity: finding.Critical, Object: "/etc/passwd", Message: "content changed"}})
	ev.Check.Annotations = map[string]string{finding.Annotation: string(b)}
	return ev
}

const rulesYAML = `
actions:
  rescan:
    kind: sensu-execute
    check: check-file-integrity-rescan
    capture: true
    selectable: true
  missing:
    kind: sensu-execute
    check: not-on-the-backend
    selectable: true
rules:
  - name: critical-integrity
    match:
      checks: [check-file-integrity]
      rules: [fim.*]
      severity: critical
      occurrences: [">=2"]
    actions: [rescan]
`

// oneLine asserts the merged output is exactly one line and returns it.
func oneLine(t *testing.T, out string) string {
	t.Helper()
	require.Equal(t, 1, strings.Count(out, "\n"), "exactly one line: %q", out)
	require.True(t, strings.HasSuffix(out, "\n"))
	testutil.RequireNoSecret(t, out, apiKey)
	return strings.TrimSuffix(out, "\n")
}

func TestIntegrationSensuExecuteAgainstALocalExecuteEndpointServer(t *testing.T) {
	t.Parallel()
	// No sensu-backend can be built here (../shared/DESIGN.md): the peer is
	// sensuapitest, a local server implementing the execute endpoint.
	s := newSetup(t, rulesYAML)
	resp := s.h.Handle(s.cmd(""), integrityEvent("web-1"), s.env()...)
	require.Equal(t, 0, resp.Status, resp.Output)
	line := oneLine(t, resp.Output)
	require.Regexp(t, `^handler-remediation: default/web-1 check-file-integrity status 2: rule critical-integrity \(config\): rescan acted \(HTTP 202, capture capture-\S+-web-1-rescan-[0-9a-f]{8}\.tar\.gz\)$`, line)
	require.Equal(t, []sensuapitest.Request{{Namespace: "default", Check: "check-file-integrity-rescan", Subscriptions: []string{"entity:web-1"}}}, s.api.Accepted())
	recs := s.audit()
	require.Len(t, recs, 1)
	require.Equal(t, remediate.DecisionActed, recs[0].Decision)
	require.NotNil(t, recs[0].Capture)
	require.Len(t, recs[0].Capture.SHA256, 64)
	fi, err := os.Stat(recs[0].Capture.Path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.Equal(t, filepath.Join(s.dir, "state", "captures"), filepath.Dir(recs[0].Capture.Path))

	// The key from a file works the same.
	keyFile := filepath.Join(s.dir, "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(apiKey+"\n"), 0o600))
	resp = s.h.Handle(s.cmd("--sensu-api-key-file "+testutil.Shell(keyFile)), integrityEvent("web-2"))
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Len(t, s.api.Accepted(), 2)
}

func TestFailuresAreOneLineWithoutTheKey(t *testing.T) {
	t.Parallel()
	s := newSetup(t, rulesYAML)
	annotated := func(actions string) *corev2.Event {
		ev := integrityEvent("web-1")
		ev.Check.Annotations[remediate.AnnotationRules] = `[{"actions":` + actions + `}]`
		return ev
	}
	cases := []struct {
		name string
		cmd  string
		env  []string
		ev   *corev2.Event
		want string
	}{
		{"a check the backend does not have (404)", s.cmd(""), s.env(), annotated(`["missing"]`),
			"handler-remediation: default/web-1 check-file-integrity status 2: rule annotation-1 (annotation): missing failed (the Sensu API has no check not-on-the-backend in namespace default (404))"},
		{"a refused key (401)", s.cmd(""), []string{"SENSU_API_KEY=wrong-" + apiKey[6:]}, integrityEvent("web-1"),
			"handler-remediation: default/web-1 check-file-integrity status 2: rule critical-integrity (config): rescan failed (the Sensu API refused the API key (401): it needs the create verb on checks in namespace default)"},
		{"an annotation naming an undefined action", s.cmd(""), s.env(), annotated(`["reboot"]`),
			`handler-remediation: check annotation vigil.io/handler-remediation/rules: rule annotation-1: action "reboot" is not defined in the configuration file`},
		{"no API key for a sensu-execute action", s.cmd(""), nil, integrityEvent("web-1"),
			"handler-remediation: action missing is sensu-execute: --sensu-api-url (or SENSU_API_URL) and SENSU_API_KEY (or --sensu-api-key-file) are required"},
		{"a key given as a flag to an unreachable API", "handler-remediation --config " + testutil.Shell(s.config) + " --state-dir " + testutil.Shell(filepath.Join(s.dir, "state2")) +
			" --sensu-api-url http://127.0.0.1:1 --sensu-api-key " + apiKey + " --capture-root " + testutil.Shell(testdataRoot(t)), nil, integrityEvent("web-1"), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := s.h.Handle(c.cmd, c.ev, c.env...)
			require.Equal(t, 1, resp.Status, resp.Output)
			if c.want == "" {
				// Warnings about the flag go to stderr too; the failure is
				// the last line and still carries no key.
				testutil.RequireNoSecret(t, resp.Output, apiKey)
				require.Contains(t, resp.Output, "rescan failed (ask the Sensu API to execute default/check-file-integrity-rescan")
				return
			}
			require.Equal(t, c.want, oneLine(t, resp.Output))
		})
	}
	require.Empty(t, s.api.Accepted())
}

func TestTheRateLimitHoldsAcrossHandlerProcesses(t *testing.T) {
	t.Parallel()
	s := newSetup(t, rulesYAML)
	for i := range 3 {
		resp := s.h.Handle(s.cmd(""), integrityEvent("web-1"), s.env()...)
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Contains(t, oneLine(t, resp.Output), "rescan acted", "run %d", i)
	}
	resp := s.h.Handle(s.cmd(""), integrityEvent("web-1"), s.env()...)
	require.Equal(t, 0, resp.Status, "a guardrail skip is a decision carried out: %s", resp.Output)
	require.Contains(t, oneLine(t, resp.Output), "rescan rate-limited: escalate (rate limit: 3 runs of rescan on default/web-1 within 1h0m0s")
	require.Len(t, s.api.Accepted(), 3)
	recs := s.audit()
	require.Equal(t, remediate.DecisionRateLimited, recs[3].Decision)
	require.True(t, recs[3].Escalate)
	require.Nil(t, recs[3].Capture, "no capture for an action that does not run")
}

func TestTenConcurrentProcessesNeverExceedTheLimit(t *testing.T) {
	t.Parallel()
	s := newSetup(t, rulesYAML)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() { statuses[i] = s.h.Handle(s.cmd(""), integrityEvent("web-1"), s.env()...).Status })
	}
	wg.Wait()
	for i, st := range statuses {
		require.Equal(t, 0, st, "process %d", i)
	}
	require.Len(t, s.api.Accepted(), 3)
	acted, limited := 0, 0
	for _, r := range s.audit() {
		switch r.Decision {
		case remediate.DecisionActed:
			acted++
		case remediate.DecisionRateLimited:
			limited++
		}
	}
	require.Equal(t, [2]int{3, 7}, [2]int{acted, limited})
}

func TestTheCircuitBreakerAcrossProcesses(t *testing.T) {
	t.Parallel()
	s := newSetup(t, rulesYAML)
	for i := 1; i <= 3; i++ {
		resp := s.h.Handle(s.cmd("--breaker-entities 2"), integrityEvent(fmt.Sprintf("web-%d", i)), s.env()...)
		require.Equal(t, 0, resp.Status, resp.Output)
		if i == 3 {
			require.Contains(t, oneLine(t, resp.Output), "rescan circuit-open: escalate (circuit breaker opened: default/web-3 would be entity 3 acted on within 10m0s (limit 2))")
		}
	}
	resp := s.h.Handle(s.cmd("--breaker-entities 2"), integrityEvent("web-1"), s.env()...)
	require.Contains(t, oneLine(t, resp.Output), "rescan circuit-open: escalate (circuit breaker open until")
	require.Len(t, s.api.Accepted(), 2)
}

func TestDryRunActsOnNothing(t *testing.T) {
	t.Parallel()
	s := newSetup(t, rulesYAML)
	for range 4 {
		resp := s.h.Handle(s.cmd("--dry-run"), integrityEvent("web-1"), s.env()...)
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Equal(t, "handler-remediation: DRY RUN default/web-1 check-file-integrity status 2: rule critical-integrity (config): rescan would act", oneLine(t, resp.Output))
	}
	require.Empty(t, s.api.Accepted())
	_, err := os.Stat(filepath.Join(s.dir, "state", "captures"))
	require.True(t, os.IsNotExist(err), "no capture in a dry run")
	require.Len(t, s.audit(), 4)
}

func TestNoRuleMatchedIsReportedAndAudited(t *testing.T) {
	t.Parallel()
	s := newSetup(t, rulesYAML)
	ev := integrityEvent("web-1")
	ev.Check.Occurrences = 1
	resp := s.h.Handle(s.cmd(""), ev, s.env()...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Equal(t, "handler-remediation: default/web-1 check-file-integrity status 2: no rule matched", oneLine(t, resp.Output))
	require.Equal(t, remediate.DecisionNoMatch, s.audit()[0].Decision)
}

func TestBadInputFailsWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good := write("good.yaml", "actions:\n  a: {kind: webhook, url: 'http://127.0.0.1:1/'}\n")
	badYAML := write("bad.yaml", "actions:\n  a:\n    kind: webhook\n    url: 'http://x\n")
	unknownKind := write("kind.yaml", "actions:\n  nuke:\n    kind: terminate-instance\n")
	ok, err := json.Marshal(testutil.Event())
	require.NoError(t, err)
	state := " --state-dir " + testutil.Shell(filepath.Join(dir, "state"))
	cases := []struct{ name, cmd, input, want string }{
		{"a YAML error", "handler-remediation --config " + badYAML + state, string(ok), "handler-remediation: " + badYAML + ":4: found unexpected end of stream"},
		{"an unknown action kind", "handler-remediation --config " + unknownKind + state, string(ok), "handler-remediation: " + unknownKind + `:2: action nuke: unknown kind "terminate-instance" (want sensu-execute, command or webhook)`},
		{"a missing config file", "handler-remediation --config " + filepath.Join(dir, "nope.yaml") + state, string(ok), "handler-remediation: read config: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory"},
		{"no --config", "handler-remediation" + state, string(ok), "handler-remediation: --config or VIGIL_REMEDIATION_CONFIG is required"},
		{"a malformed event", "handler-remediation --config " + good + state, `{"entity": [}`, "handler-remediation: invalid event JSON on stdin: invalid character '}' looking for beginning of value at byte 13"},
		{"garbage on stdin", "handler-remediation --config " + good + state, "garbage", "handler-remediation: invalid event on stdin: expected a JSON object"},
		{"a zero rate limit", "handler-remediation --rate-limit 0 --config " + good + state, string(ok), "handler-remediation: --rate-limit (or VIGIL_REMEDIATION_RATE_LIMIT) must be at least 1, got 0"},
		{"a bad Sensu URL", "handler-remediation --sensu-api-url ftp://x --config " + good + state, string(ok), `handler-remediation: --sensu-api-url (or SENSU_API_URL): want an http:// or https:// URL, got scheme "ftp"`},
		{"a misspelt flag", "handler-remediation --dry-rn --config " + good, string(ok), "handler-remediation: unknown flag --dry-rn (did you mean --dry-run?) (see --help)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := h.HandleRaw(c.cmd, []byte(c.input), "SENSU_API_KEY="+apiKey)
			require.Equal(t, 1, resp.Status, resp.Output)
			require.Equal(t, c.want, oneLine(t, resp.Output))
		})
	}
}

func TestCommandActionsDoNotInheritTheKey(t *testing.T) {
	t.Parallel()
	s := newSetup(t, `
actions:
  show:
    kind: command
    command: [/bin/sh, -c, 'echo "key=${SENSU_API_KEY:-none} entity=$VIGIL_EVENT_ENTITY"; env | grep -c . >/dev/null']
rules:
  - actions: [show]
`)
	resp := s.h.Handle(s.cmd(""), integrityEvent("web-1"), s.env()...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, oneLine(t, resp.Output), "show acted (exit 0)")
	require.Equal(t, "key=none entity=web-1\n", s.audit()[0].Output)
}

func TestTheDocumentedConfigurationLoads(t *testing.T) {
	t.Parallel()
	c, err := remediate.LoadConfig("testdata/remediation.yaml")
	require.NoError(t, err)
	require.Len(t, c.Rules, 3)
	require.Equal(t, []string{"capture-and-rescan", "converge", "soar"}, remediate.SortedActions(c))
}
