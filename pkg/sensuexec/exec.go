// Package sensuexec runs plugins exactly the way sensu-agent and
// sensu-backend run them, so that tests and the demo exercise the real
// contract without a Sensu installation (no released sensu-go backend
// builds here unmodified; see ../shared/DESIGN.md).
//
// What is reproduced, from sensu-go's command/command.go,
// agent/check_handler.go, agent/api.go, agent/event.go,
// agent/transformers/nagios.go and backend/pipeline:
//
//   - a command string runs through "sh -c", with the agent's or backend's
//     environment plus runtime-asset bin directories on PATH and the
//     resource's env_vars;
//   - stdout and stderr share one buffer, in write order, as the Nagios
//     plugin spec asks: that buffer is the check output, the mutator output
//     that becomes the handler's input, the handler's logged output;
//   - stdin carries the JSON event for mutators and handlers, and for a
//     check with stdin: true (an event with the check configuration and
//     namespace only, built before the check runs);
//   - with a timeout, the command runs in its own process group, the whole
//     group is SIGKILLed at the deadline, the status is 2 and the output
//     starts with "Execution timed out";
//   - an exit status that cannot be determined is 3, and a command that
//     cannot start yields its error as output with status 3;
//   - a check event carries executed, duration, status, output, the agent
//     entity and timestamp, and, with output_metric_format:
//     nagios_perfdata, the metric points Sensu extracts from the output;
//   - a pipe mutator's non-zero exit fails the pipeline, and its output
//     (stdout and stderr) is the handler's stdin;
//   - the agent events API (POST /events) fills in what a posted event
//     lacks and validates it.
package sensuexec

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// TimeoutOutput and TimeoutStatus are what Sensu reports when a command
// exceeds its timeout.
const (
	TimeoutOutput = "Execution timed out\n"
	TimeoutStatus = 2
	// FallbackStatus is used when the exit status cannot be determined.
	FallbackStatus = 3
)

// Request is one command execution.
type Request struct {
	// Command runs through sh -c.
	Command string
	// Env is the complete environment; nil inherits this process's.
	Env []string
	// Input is written to stdin when not empty.
	Input string
	// Timeout in seconds; 0 means none.
	Timeout int
	// Dir is the working directory; empty means the current one.
	Dir string
}

// Response is the result of an execution.
type Response struct {
	// Output is stdout and stderr, interleaved as written.
	Output string
	// Status is the exit status.
	Status int
	// Duration is the run time in seconds.
	Duration float64
	// TimedOut is true when the timeout killed the command.
	TimedOut bool
}

// lockedBuffer is the shared stdout/stderr buffer.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Execute runs a command as Sensu does. The error is non-nil only when the
// command could not be started at all.
func Execute(ctx context.Context, req Request) (Response, error) {
	var resp Response
	cmd := exec.Command("sh", "-c", req.Command) //nolint:gosec // running commands is the point
	if len(req.Env) > 0 {
		cmd.Env = req.Env
	}
	cmd.Dir = req.Dir
	// One buffer for both streams. os/exec shares a single pipe when
	// Stdout and Stderr are the same writer, which keeps write order.
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	if req.Input != "" {
		cmd.Stdin = bytes.NewBufferString(req.Input)
	}
	// sensu-agent makes a process group only when a timeout is set; one is
	// made always here, so that cancelling the context (which Sensu does
	// not do) can also kill every process of the command.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		resp.Status = FallbackStatus
		resp.Output = err.Error()
		return resp, err
	}
	waitCh := make(chan error, 1)
	go func() { waitCh <- cmd.Wait() }()

	var timer <-chan time.Time
	if req.Timeout > 0 {
		t := time.NewTimer(time.Duration(req.Timeout) * time.Second)
		defer t.Stop()
		timer = t.C
	}
	var err error
	select {
	case err = <-waitCh:
	case <-timer:
		// Kill the whole process group, grandchildren included.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waitCh
		resp.TimedOut = true
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Process.Kill()
		<-waitCh
		resp.TimedOut = true
	}
	resp.Duration = time.Since(started).Seconds()
	resp.Output = out.String()
	switch {
	case resp.TimedOut:
		resp.Output = TimeoutOutput + resp.Output
		resp.Status = TimeoutStatus
	case err != nil:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok {
				resp.Status = ws.ExitStatus()
			} else {
				resp.Status = FallbackStatus
			}
		} else {
			resp.Status = FallbackStatus
		}
	}
	return resp, nil
}
