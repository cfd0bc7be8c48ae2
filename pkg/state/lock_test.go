//go:build unix

package state_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/state"
)

// The cross-process tests re-run this test binary as a helper process
// that takes the lock: flock exclusion between processes is the point of
// Lock, and goroutines of one process cannot show it alone.
const (
	helperModeEnv = "VIGIL_STATE_TEST_HELPER"
	helperPathEnv = "VIGIL_STATE_TEST_LOCK"
	// exitBusy is the helper's exit status when the lock stayed taken.
	exitBusy = 3
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperModeEnv) {
	case "hold":
		os.Exit(helperHold(os.Getenv(helperPathEnv)))
	case "try":
		os.Exit(helperTry(os.Getenv(helperPathEnv)))
	}
	os.Exit(m.Run())
}

// helperHold takes the lock, says "locked" and holds it until its stdin
// closes.
func helperHold(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	unlock, err := state.Lock(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	unlock()
	return 0
}

// helperTry tries to take the lock for a short while: 0 when it got it,
// exitBusy when it did not.
func helperTry(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	unlock, err := state.Lock(ctx, path)
	if errors.Is(err, context.DeadlineExceeded) {
		return exitBusy
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	unlock()
	return 0
}

func helper(t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperModeEnv+"="+mode, helperPathEnv+"="+path,
		// A -race binary otherwise sleeps a second before it exits.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return cmd
}

// startHolder starts a helper that holds the lock and returns once it has
// it; closing the returned writer makes it release the lock and exit.
func startHolder(t *testing.T, path string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := helper(t, "hold", path)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "helper stderr: %s", stderr.String())
	require.Equal(t, "locked\n", line)
	return cmd, stdin
}

func TestLockCreatesAPrivateLockFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "spool", ".lock")
	unlock, err := state.Lock(t.Context(), path)
	require.NoError(t, err)
	defer unlock()
	requireMode(t, path, 0o600)
	requireMode(t, filepath.Join(dir, "spool"), 0o700)
}

func TestASecondLockWaitsForTheFirstToUnlock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := state.Lock(t.Context(), path)
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	got := make(chan error, 1)
	second := make(chan func(), 1)
	go func() {
		u, err := state.Lock(ctx, path)
		got <- err
		second <- u
	}()

	select {
	case err := <-got:
		t.Fatalf("the second Lock returned (%v) while the first held the lock", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("the second Lock did not get the lock after the first unlocked")
	}
	(<-second)()
}

func TestLocksTakeTurns(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".lock")
	const workers = 8
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	// inside counts the holders; more than one at a time is a failure.
	inside := make(chan struct{}, workers)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			unlock, err := state.Lock(ctx, path)
			if err != nil {
				errs <- err
				return
			}
			inside <- struct{}{}
			n := len(inside)
			time.Sleep(10 * time.Millisecond)
			<-inside
			unlock()
			if n != 1 {
				errs <- fmt.Errorf("%d holders at once", n)
				return
			}
			errs <- nil
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
}

func TestLockGivesUpWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	cause := errors.New("handler shutting down")
	tests := []struct {
		name string
		ctx  func(t *testing.T) context.Context
		want error
	}{
		{
			name: "an already cancelled context fails at once",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				cancel()
				return ctx
			},
			want: context.Canceled,
		},
		{
			name: "a short deadline fails when it passes",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			want: context.DeadlineExceeded,
		},
		{
			name: "the cancellation cause is reported",
			ctx: func(t *testing.T) context.Context {
				ctx, cancel := context.WithCancelCause(t.Context())
				cancel(cause)
				return ctx
			},
			want: cause,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), ".lock")
			unlock, err := state.Lock(t.Context(), path)
			require.NoError(t, err)
			defer unlock()

			start := time.Now()
			u, err := state.Lock(tt.ctx(t), path)
			require.ErrorIs(t, err, tt.want)
			require.ErrorContains(t, err, path)
			require.Nil(t, u)
			require.Less(t, time.Since(start), 3*time.Second)
		})
	}
}

func TestAFreeLockIsTakenEvenWithACancelledContext(t *testing.T) {
	t.Parallel()
	// Lock tries once before it looks at the context.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	unlock, err := state.Lock(ctx, filepath.Join(t.TempDir(), ".lock"))
	require.NoError(t, err)
	unlock()
}

func TestUnlockLetsTheLockBeTakenAgain(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".lock")
	for range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		unlock, err := state.Lock(ctx, path)
		cancel()
		require.NoError(t, err)
		unlock()
	}
}

func TestLockReportsADirectoryItCannotCreate(t *testing.T) {
	t.Parallel()
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	_, err := state.Lock(t.Context(), filepath.Join(blocker, ".lock"))
	require.ErrorContains(t, err, "create lock directory")
}

func TestLockExcludesAnotherProcess(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".lock")
	holder, release := startHolder(t, path)

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := state.Lock(ctx, path)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the lock held by another process is not granted")

	require.NoError(t, release.Close())
	require.NoError(t, holder.Wait())
	ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel2()
	unlock, err := state.Lock(ctx2, path)
	require.NoError(t, err, "the lock is free once the other process released it")
	unlock()
}

func TestAnotherProcessWaitsForThisOne(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), ".lock")
	unlock, err := state.Lock(t.Context(), path)
	require.NoError(t, err)

	out, err := helper(t, "try", path).CombinedOutput()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "output: %s", out)
	require.Equal(t, exitBusy, exitErr.ExitCode(), "the other process did not get the lock: %s", out)

	unlock()
	out, err = helper(t, "try", path).CombinedOutput()
	require.NoError(t, err, "the other process gets the lock once released: %s", out)
}

func TestALockDiesWithItsProcess(t *testing.T) {
	t.Parallel()
	// A handler killed while it holds the lock (OOM, timeout) must not
	// block every later run.
	path := filepath.Join(t.TempDir(), ".lock")
	holder, _ := startHolder(t, path)
	require.NoError(t, holder.Process.Kill())
	_ = holder.Wait()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	unlock, err := state.Lock(ctx, path)
	require.NoError(t, err)
	unlock()
}
