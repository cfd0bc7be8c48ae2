//go:build unix

package sensuexec_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

func execute(t *testing.T, req sensuexec.Request) sensuexec.Response {
	t.Helper()
	resp, err := sensuexec.Execute(t.Context(), req)
	require.NoError(t, err)
	return resp
}

func TestExecuteRunsThroughTheShell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		command    string
		wantOutput string
		wantStatus int
	}{
		{name: "variables, pipes and quoting work", command: `x=hello; echo "$x world" | tr a-z A-Z`, wantOutput: "HELLO WORLD\n"},
		{name: "stdout and stderr share one buffer in write order", command: `echo a; echo b >&2; echo c`, wantOutput: "a\nb\nc\n"},
		{name: "interleaved writes without newlines keep their order", command: `printf x >&2; printf y; printf z >&2; printf w`, wantOutput: "xyzw"},
		{name: "status 0 is OK", command: `echo fine; exit 0`, wantOutput: "fine\n", wantStatus: 0},
		{name: "status 1 is WARNING", command: `echo warn; exit 1`, wantOutput: "warn\n", wantStatus: 1},
		{name: "status 2 is CRITICAL", command: `echo crit; exit 2`, wantOutput: "crit\n", wantStatus: 2},
		{name: "status 3 is UNKNOWN", command: `echo unknown; exit 3`, wantOutput: "unknown\n", wantStatus: 3},
		{name: "other statuses come through as they are", command: `exit 42`, wantOutput: "", wantStatus: 42},
		{name: "a missing stdin reads as empty", command: `cat; echo done`, wantOutput: "done\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp := execute(t, sensuexec.Request{Command: tt.command})
			require.Equal(t, tt.wantOutput, resp.Output)
			require.Equal(t, tt.wantStatus, resp.Status)
			require.False(t, resp.TimedOut)
		})
	}
}

func TestACommandNotFoundIsTheShellsStatus127(t *testing.T) {
	t.Parallel()
	resp := execute(t, sensuexec.Request{Command: "vigil-no-such-command --flag"})
	require.Equal(t, 127, resp.Status)
	require.Contains(t, resp.Output, "vigil-no-such-command")
	require.Contains(t, resp.Output, "not found")
}

func TestExecuteWritesInputToStdin(t *testing.T) {
	t.Parallel()
	input := `{"check":{"metadata":{"name":"x"}}}` + "\nsecond line"
	resp := execute(t, sensuexec.Request{Command: "cat", Input: input})
	require.Equal(t, input, resp.Output)
	require.Equal(t, 0, resp.Status)
}

func TestExecuteUsesTheGivenEnvironmentOnly(t *testing.T) {
	t.Parallel()
	resp := execute(t, sensuexec.Request{
		Command: "env",
		Env:     []string{"PATH=/usr/bin:/bin", "VIGIL_ONLY=yes"},
	})
	require.Equal(t, 0, resp.Status, resp.Output)
	var vars []string
	for _, kv := range strings.Split(strings.TrimSpace(resp.Output), "\n") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "PWD", "SHLVL", "_", "OLDPWD":
			continue // set by the shell itself
		}
		vars = append(vars, k+"="+v)
	}
	slices.Sort(vars)
	require.Equal(t, []string{"PATH=/usr/bin:/bin", "VIGIL_ONLY=yes"}, vars, "nothing of the test's environment leaks in")
}

func TestExecuteInheritsTheEnvironmentWithoutEnv(t *testing.T) {
	t.Parallel()
	path := os.Getenv("PATH")
	require.NotEmpty(t, path)
	resp := execute(t, sensuexec.Request{Command: `printf %s "$PATH"`})
	require.Equal(t, path, resp.Output)
}

func TestExecuteRunsInDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "marker"), []byte("here"), 0o600))
	resp := execute(t, sensuexec.Request{Command: "cat marker", Dir: dir})
	require.Equal(t, "here", resp.Output)
}

func TestACommandThatCannotStartIsAnError(t *testing.T) {
	t.Parallel()
	resp, err := sensuexec.Execute(t.Context(), sensuexec.Request{Command: "true", Dir: filepath.Join(t.TempDir(), "missing")})
	require.Error(t, err)
	require.Equal(t, sensuexec.FallbackStatus, resp.Status)
	require.Equal(t, err.Error(), resp.Output)
}

func TestExecuteMeasuresTheDuration(t *testing.T) {
	t.Parallel()
	resp := execute(t, sensuexec.Request{Command: "sleep 0.2"})
	require.GreaterOrEqual(t, resp.Duration, 0.2)
	require.Less(t, resp.Duration, 5.0)
}

func TestACommandWithinItsTimeoutIsNotKilled(t *testing.T) {
	t.Parallel()
	resp := execute(t, sensuexec.Request{Command: "sleep 0.1; echo done; exit 1", Timeout: 10})
	require.False(t, resp.TimedOut)
	require.Equal(t, "done\n", resp.Output)
	require.Equal(t, 1, resp.Status)
}

// alive reports whether pid runs. A killed process whose parent is gone
// can stay a zombie until init reaps it (PID 1 of a container may never
// do so): a zombie runs nothing, so it counts as dead.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return true
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

func requireDies(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d outlived the command", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPID waits for the command to write its background child's pid.
func readPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			require.NoError(t, err)
			return pid
		}
		require.True(t, time.Now().Before(deadline), "the command never wrote %s", path)
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTheTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		timeout int
		// ctxAfter cancels the context after this long; 0 never does.
		ctxAfter time.Duration
		maxTime  time.Duration
	}{
		{name: "the timeout fires", timeout: 1, maxTime: 5 * time.Second},
		{name: "a cancelled context kills as the timeout would", timeout: 30, ctxAfter: 300 * time.Millisecond, maxTime: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
			ctx := t.Context()
			if tt.ctxAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxAfter)
				defer cancel()
			}
			// The background sleep is a grandchild of Execute: only a
			// group kill reaches it.
			cmd := fmt.Sprintf(`sleep 30 & echo $! > '%s'; echo started; sleep 30; echo never`, pidFile)
			done := make(chan sensuexec.Response, 1)
			start := time.Now()
			go func() {
				resp, _ := sensuexec.Execute(ctx, sensuexec.Request{Command: cmd, Timeout: tt.timeout})
				done <- resp
			}()
			pid := readPID(t, pidFile)
			require.True(t, alive(pid), "the grandchild runs while the command does")

			var resp sensuexec.Response
			select {
			case resp = <-done:
			case <-time.After(tt.maxTime):
				t.Fatal("Execute did not return after the timeout")
			}
			require.True(t, resp.TimedOut)
			require.Equal(t, sensuexec.TimeoutStatus, resp.Status)
			require.Equal(t, 2, resp.Status)
			require.Equal(t, "Execution timed out\nstarted\n", resp.Output)
			require.Less(t, time.Since(start), tt.maxTime)
			requireDies(t, pid)
		})
	}
}

func TestCancellingTheContextKillsACommandWithoutTimeout(t *testing.T) {
	t.Parallel()
	for _, command := range []string{"sleep 30", "sleep 30 & sleep 30", "sleep 30; echo x"} {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		done := make(chan sensuexec.Response, 1)
		go func() {
			resp, _ := sensuexec.Execute(ctx, sensuexec.Request{Command: command})
			done <- resp
		}()
		select {
		case resp := <-done:
			require.True(t, resp.TimedOut, command)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still running 10 s after the context ended", command)
		}
		cancel()
	}
}
