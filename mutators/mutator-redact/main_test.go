package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/redact"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// planted are values that must never leave the mutator.
var planted = []string{"jane.doe@example.com", "4111 1111 1111 1111", "+44 20 7946 0958", "219-09-9998", "DE89370400440532013000", "bob@example.org", "AKIAQYLPMN5HHHFPZAM2"}

func leakyEvent() *corev2.Event {
	ev := testutil.Event()
	ev.Check.Output = "payment failed for jane.doe@example.com card 4111 1111 1111 1111\ncall +44 20 7946 0958, ssn 219-09-9998\n"
	ev.Check.Command = "check-app --iban DE89370400440532013000"
	ev.Check.Annotations = map[string]string{"owner": "bob@example.org"}
	ev.Entity.Labels = map[string]string{"aws": "AKIAQYLPMN5HHHFPZAM2"}
	ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{{Name: "logins", Value: 1, Timestamp: ev.Timestamp, Tags: []*corev2.MetricTag{{Name: "user", Value: "jane.doe@example.com"}}}}}
	return ev
}

func TestRedactsEveryStringAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	out := h.Mutate("mutator-redact", leakyEvent())
	b, err := json.Marshal(out)
	require.NoError(t, err)
	for _, v := range planted {
		require.NotContains(t, string(b), v)
	}
	require.Equal(t, "payment failed for [REDACTED:pii.email] card [REDACTED:pii.credit_card]\ncall [REDACTED:pii.phone], ssn [REDACTED:pii.us_ssn]\n", out.Check.Output)
	require.Equal(t, "[REDACTED:pii.email]", out.Metrics.Points[0].Tags[0].Value)
	var counts map[string]int
	require.NoError(t, json.Unmarshal([]byte(out.Check.Annotations[redact.Annotation]), &counts))
	require.Equal(t, map[string]int{"pii.email": 3, "pii.credit_card": 1, "pii.phone": 1, "pii.us_ssn": 1, "pii.iban": 1, "secret.aws_access_key_id": 1}, counts)
}

func TestTokenizeKeepsCorrelationAndNeedsAKey(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	key := "VIGIL_REDACT_KEY=region-eu-key-0123456789"
	resp := h.Exec("mutator-redact --mode tokenize", mustJSON(t, leakyEvent()), key)
	require.Equal(t, 0, resp.Status, resp.Output)
	var one, two corev2.Event
	require.NoError(t, json.Unmarshal([]byte(resp.Output), &one))
	resp = h.Exec("mutator-redact --mode tokenize", mustJSON(t, leakyEvent()), key)
	require.NoError(t, json.Unmarshal([]byte(resp.Output), &two))
	require.Equal(t, one.Check.Output, two.Check.Output, "the same key, the same tokens")
	require.Contains(t, one.Check.Output, "[pii.email:")
	testutil.RequireNoSecret(t, resp.Output, "region-eu-key-0123456789")
	for _, v := range planted {
		require.NotContains(t, resp.Output, v)
	}
}

func TestNothingFoundStillValidAndAnnotated(t *testing.T) {
	t.Parallel()
	ev := testutil.Event()
	ev.Check.Output = "all good: 200 OK in 12 ms"
	out := testutil.New(t).Mutate("mutator-redact", ev)
	require.Equal(t, "all good: 200 OK in 12 ms", out.Check.Output)
	require.Equal(t, "{}", out.Check.Annotations[redact.Annotation])
}

func TestTypesSelectWhatIsRedacted(t *testing.T) {
	t.Parallel()
	out := testutil.New(t).Mutate("mutator-redact --types pii.email", leakyEvent())
	require.Contains(t, out.Check.Output, "4111 1111 1111 1111", "cards were not asked for")
	require.NotContains(t, out.Check.Output, "jane.doe@example.com")
}

func TestBadInputIsOneLineExitOne(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	badDetectors := filepath.Join(dir, "d.yaml")
	require.NoError(t, os.WriteFile(badDetectors, []byte("detectors:\n  - name: x\n    pattern: '('\n"), 0o600))
	cases := []struct{ name, cmd, input, want string }{
		{"garbage", "mutator-redact", "not json", "mutator-redact: invalid event on stdin: expected a JSON object\n"},
		{"an invalid event", "mutator-redact", `{"timestamp":1,"check":{"metadata":{"name":"c"},"interval":1}}`, "mutator-redact: invalid event on stdin: event must contain an entity\n"},
		{"tokenize without a key", "mutator-redact --mode tokenize", mustJSON(t, leakyEvent()), "mutator-redact: --mode tokenize needs --key, --key-file or VIGIL_REDACT_KEY\n"},
		{"an unknown rule", "mutator-redact --types pii.colour", mustJSON(t, leakyEvent()), ""},
		{"a bad custom detector", "mutator-redact --detectors " + badDetectors, mustJSON(t, leakyEvent()), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := h.Exec(c.cmd, c.input)
			require.Equal(t, 1, resp.Status, resp.Output)
			require.Equal(t, 1, strings.Count(resp.Output, "\n"), resp.Output)
			if c.want != "" {
				require.Equal(t, c.want, resp.Output)
			}
			for _, v := range planted {
				require.NotContains(t, resp.Output, v)
			}
		})
	}
}

func TestNothingOnStderr(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(testutil.Binary(t, "mutator-redact"))
	cmd.Stdin = strings.NewReader(mustJSON(t, leakyEvent()))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run())
	require.Empty(t, stderr.String())
	require.True(t, json.Valid([]byte(stdout.String())))
}

func mustJSON(t testing.TB, ev *corev2.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(b)
}

// typicalEvent is about 4 KB of check output (app log lines) with three
// email addresses and a card number, as a log check would send.
func typicalEvent(t testing.TB) []byte {
	ev := testutil.Event()
	var b strings.Builder
	b.WriteString("check-app-log CRITICAL - 11 lines matched ERROR|WARN in /var/log/app/app.jsonl\n")
	for i := 0; b.Len() < 4000; i++ {
		switch i {
		case 2:
			b.WriteString(`{"ts":"2026-11-23T10:15:02.114Z","level":"warn","svc":"auth","msg":"login failed for jane.doe@example.com","ip":"203.0.113.44"}` + "\n")
		case 5:
			b.WriteString(`{"ts":"2026-11-23T10:15:03.002Z","level":"warn","svc":"checkout","msg":"payment declined for card 4111 1111 1111 1111 (code 05)"}` + "\n")
		case 7, 9:
			fmt.Fprintf(&b, `{"ts":"2026-11-23T10:15:%02d.511Z","level":"info","svc":"auth","email":"user%d@example.org","status":200}`+"\n", i, i)
		default:
			fmt.Fprintf(&b, `{"ts":"2026-11-23T10:15:%02d.%03dZ","level":"error","svc":"api","msg":"upstream timeout after 5000 ms","route":"/v2/orders/%d","request_id":"a1b2c3d4-%04d"}`+"\n", i%60, i, 10000+i, i)
		}
	}
	ev.Check.Output = b.String()
	return []byte(mustJSON(t, ev))
}

// BenchmarkRedactTypicalEvent measures the work mutator-redact adds to an
// event (scan, redact, decode the result, annotate), without the process
// start and the runtime's own decoding and encoding of the event.
func BenchmarkRedactTypicalEvent(b *testing.B) {
	raw := typicalEvent(b)
	var ev corev2.Event
	require.NoError(b, json.Unmarshal(raw, &ev))
	cfg := &config{Mode: "mask"}
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for b.Loop() {
		e := ev
		env := &plugin.Env{Event: &e, EventJSON: raw}
		if _, err := mutate(context.Background(), cfg, env); err != nil {
			b.Fatal(err)
		}
	}
}
