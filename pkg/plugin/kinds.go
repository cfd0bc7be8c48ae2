package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
)

// Mutator is a mutator binary: it reads a Sensu event on stdin and writes
// the mutated event, and nothing else, on stdout. Sensu merges a
// mutator's stderr into the handler's input, so on success it writes
// nothing there; on failure it prints one line and exits 1, and Sensu
// drops the output.
type Mutator[C any] struct {
	Plugin[C]
	// Mutate returns the new event; it may modify and return env.Event.
	Mutate func(ctx context.Context, cfg *C, env *Env) (*corev2.Event, error)
}

// Handler is a handler binary: it reads a Sensu event on stdin and
// delivers it somewhere. It exits 0 on success and 1 with one line on
// failure.
type Handler[C any] struct {
	Plugin[C]
	// Handle delivers env.Event.
	Handle func(ctx context.Context, cfg *C, env *Env) error
}

func always[C any](*C) bool { return true }

// RunMutator runs a mutator and returns its exit code.
func RunMutator[C any](ctx context.Context, m Mutator[C], args []string, stdio IO) int {
	s := newSetup(m.Plugin, kindMutator, stdio)
	if code, done := s.start(args, always[C]); done {
		return code
	}
	out, err := run(ctx, s.com.Timeout, s.env.Redact, func(ctx context.Context) ([]byte, error) {
		ev, err := m.Mutate(ctx, s.cfg, &s.env)
		if err != nil {
			return nil, err
		}
		if ev == nil {
			return nil, errors.New("mutator returned no event")
		}
		if err := ev.Validate(); err != nil {
			return nil, fmt.Errorf("mutated event is invalid: %w", err)
		}
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, fmt.Errorf("encode mutated event: %w", err)
		}
		return append(b, '\n'), nil
	})
	if err != nil {
		return s.errOut(err.Error())
	}
	if _, err := stdio.Stdout.Write(out); err != nil {
		return s.errOut("write event: " + err.Error())
	}
	return 0
}

// RunHandler runs a handler and returns its exit code.
func RunHandler[C any](ctx context.Context, h Handler[C], args []string, stdio IO) int {
	s := newSetup(h.Plugin, kindHandler, stdio)
	if code, done := s.start(args, always[C]); done {
		return code
	}
	_, err := run(ctx, s.com.Timeout, s.env.Redact, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, h.Handle(ctx, s.cfg, &s.env)
	})
	if err != nil {
		return s.errOut(err.Error())
	}
	return 0
}

// validateURL accepts absolute http and https URLs.
func validateURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("want an http:// or https:// URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("URL has no host")
	}
	return nil
}

// ValidateURL is the check plugins use for their endpoint options; the
// error never repeats the URL, which may hold credentials.
func ValidateURL(flag, env, value string) error {
	if err := validateURL(value); err != nil {
		if env != "" {
			return fmt.Errorf("--%s (or %s): %w", flag, env, err)
		}
		return fmt.Errorf("--%s: %w", flag, err)
	}
	return nil
}
