package sensuexec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
)

// Backend runs mutators and handlers the way sensu-backend's pipeline
// does.
type Backend struct {
	// Env is the backend process's environment; nil means os.Environ().
	Env []string
	// AssetBins are runtime-asset bin directories, prepended to PATH.
	AssetBins []string
	// Dir is the working directory of the commands; empty means the
	// current one.
	Dir string
}

// ErrMutatorFailed is returned when a pipe mutator exits non-zero; the
// backend then drops the event for that handler.
var ErrMutatorFailed = errors.New("pipe mutator execution returned non-zero exit status")

// Mutate runs a pipe mutator on the event and returns its output, which
// the backend hands to the handler unchanged (stdout and stderr merged).
func (b *Backend) Mutate(ctx context.Context, m *corev2.Mutator, event *corev2.Event) ([]byte, Response, error) {
	input, err := json.Marshal(event)
	if err != nil {
		return nil, Response{}, fmt.Errorf("marshal event: %w", err)
	}
	resp, err := Execute(ctx, Request{
		Command: m.Command,
		Env:     Environment(b.Env, b.AssetBins, m.EnvVars),
		Timeout: int(m.Timeout),
		Input:   string(input),
		Dir:     b.Dir,
	})
	if err != nil {
		return nil, resp, err
	}
	if resp.Status != 0 {
		return nil, resp, ErrMutatorFailed
	}
	return []byte(resp.Output), resp, nil
}

// Handle runs a pipe handler with input on stdin (the event JSON, or a
// mutator's output). A non-zero status is not an error here: the backend
// only logs it; callers assert on Response.Status.
func (b *Backend) Handle(ctx context.Context, h *corev2.Handler, input []byte) (Response, error) {
	if h.Type != "" && h.Type != corev2.HandlerPipeType {
		return Response{}, fmt.Errorf("handler type %q is not emulated here", h.Type)
	}
	return Execute(ctx, Request{
		Command: h.Command,
		Env:     Environment(b.Env, b.AssetBins, h.EnvVars),
		Timeout: int(h.Timeout),
		Input:   string(input),
		Dir:     b.Dir,
	})
}

// Pipeline runs an optional mutator then a handler on the event, as one
// workflow of a Sensu pipeline does. With no mutator the handler gets the
// event as JSON (Sensu's built-in json mutator).
func (b *Backend) Pipeline(ctx context.Context, m *corev2.Mutator, h *corev2.Handler, event *corev2.Event) (Response, error) {
	var input []byte
	if m != nil {
		out, resp, err := b.Mutate(ctx, m, event)
		if err != nil {
			return resp, fmt.Errorf("mutator %s: %w (output: %q)", m.Name, err, resp.Output)
		}
		input = out
	} else {
		var err error
		if input, err = json.Marshal(event); err != nil {
			return Response{}, fmt.Errorf("marshal event: %w", err)
		}
	}
	return b.Handle(ctx, h, input)
}
