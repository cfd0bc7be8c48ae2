//go:build unix

package sensuexec_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

func testBackend() *sensuexec.Backend {
	return &sensuexec.Backend{Env: []string{"PATH=/usr/bin:/bin"}}
}

func testEvent(status uint32) *corev2.Event {
	ev := corev2.FixtureEvent("web-1", "check-fim")
	ev.Check.Status = status
	ev.Check.Output = "FIM CRITICAL - /etc/passwd modified\n"
	return ev
}

func eventJSON(t *testing.T, ev *corev2.Event) []byte {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

func TestMutateGivesTheEventOnStdinAndReturnsTheOutput(t *testing.T) {
	t.Parallel()
	ev := testEvent(2)
	out, resp, err := testBackend().Mutate(t.Context(), &corev2.Mutator{Command: "cat"}, ev)
	require.NoError(t, err)
	require.Equal(t, 0, resp.Status)
	require.JSONEq(t, string(eventJSON(t, ev)), string(out))
}

func TestMutateOutputIncludesStderr(t *testing.T) {
	t.Parallel()
	// Sensu hands the handler stdout and stderr together: a mutator that
	// logs corrupts the handler's input.
	out, _, err := testBackend().Mutate(t.Context(), &corev2.Mutator{Command: `echo '{"a":1}'; echo "a log line" >&2`}, testEvent(2))
	require.NoError(t, err)
	require.Equal(t, "{\"a\":1}\na log line\n", string(out))
}

func TestMutateFailsOnANonZeroExit(t *testing.T) {
	t.Parallel()
	out, resp, err := testBackend().Mutate(t.Context(), &corev2.Mutator{Command: `echo partial; echo "cannot parse event" >&2; exit 1`}, testEvent(2))
	require.ErrorIs(t, err, sensuexec.ErrMutatorFailed)
	require.Nil(t, out)
	require.Equal(t, 1, resp.Status)
	require.Equal(t, "partial\ncannot parse event\n", resp.Output, "the output, stderr included, is kept for the log")
}

func TestMutateMergesTheEnvironment(t *testing.T) {
	t.Parallel()
	b := testBackend()
	b.AssetBins = []string{binDir(t, "vigil-fake-mutator", `echo "$MODE"`)}
	out, _, err := b.Mutate(t.Context(), &corev2.Mutator{Command: "vigil-fake-mutator", EnvVars: []string{"MODE=redact"}}, testEvent(2))
	require.NoError(t, err)
	require.Equal(t, "redact\n", string(out))
}

func TestHandle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		handlerType string
		command     string
		wantStatus  int
	}{
		{name: "a pipe handler reads its input", handlerType: corev2.HandlerPipeType, command: `cat > "$OUT"`, wantStatus: 0},
		{name: "an untyped handler is a pipe handler", handlerType: "", command: `cat > "$OUT"`, wantStatus: 0},
		{name: "a failing handler is not an error, only a status", handlerType: corev2.HandlerPipeType, command: `cat > "$OUT"; echo "store down" >&2; exit 1`, wantStatus: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "received")
			h := &corev2.Handler{Type: tt.handlerType, Command: tt.command, EnvVars: []string{"OUT=" + out}}
			input := []byte(`{"mutated":true}`)
			resp, err := testBackend().Handle(t.Context(), h, input)
			require.NoError(t, err)
			require.Equal(t, tt.wantStatus, resp.Status, resp.Output)
			got, err := os.ReadFile(out)
			require.NoError(t, err)
			require.Equal(t, string(input), string(got))
		})
	}

	t.Run("other handler types are not emulated", func(t *testing.T) {
		t.Parallel()
		_, err := testBackend().Handle(t.Context(), &corev2.Handler{Type: corev2.HandlerTCPType}, nil)
		require.ErrorContains(t, err, "not emulated")
	})
}

func TestPipeline(t *testing.T) {
	t.Parallel()
	t.Run("the handler gets the mutator's output", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "received")
		m := &corev2.Mutator{ObjectMeta: corev2.ObjectMeta{Name: "upper"}, Command: "tr a-z A-Z"}
		h := &corev2.Handler{Command: `cat > "$OUT"`, EnvVars: []string{"OUT=" + out}}
		ev := testEvent(2)
		resp, err := testBackend().Pipeline(t.Context(), m, h, ev)
		require.NoError(t, err)
		require.Equal(t, 0, resp.Status)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Contains(t, string(got), `"CHECK-FIM"`)
		require.NotContains(t, string(got), `"check-fim"`)
	})
	t.Run("without a mutator the handler gets the event as JSON", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "received")
		h := &corev2.Handler{Command: `cat > "$OUT"`, EnvVars: []string{"OUT=" + out}}
		ev := testEvent(2)
		_, err := testBackend().Pipeline(t.Context(), nil, h, ev)
		require.NoError(t, err)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.JSONEq(t, string(eventJSON(t, ev)), string(got))
	})
	t.Run("a failing mutator stops the pipeline", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "received")
		m := &corev2.Mutator{ObjectMeta: corev2.ObjectMeta{Name: "broken"}, Command: `echo "bad input" >&2; exit 3`}
		h := &corev2.Handler{Command: `cat > "$OUT"`, EnvVars: []string{"OUT=" + out}}
		resp, err := testBackend().Pipeline(t.Context(), m, h, testEvent(2))
		require.ErrorIs(t, err, sensuexec.ErrMutatorFailed)
		require.ErrorContains(t, err, "mutator broken")
		require.ErrorContains(t, err, "bad input")
		require.Equal(t, 3, resp.Status)
		_, serr := os.Stat(out)
		require.ErrorIs(t, serr, os.ErrNotExist, "the handler never ran")
	})
}
