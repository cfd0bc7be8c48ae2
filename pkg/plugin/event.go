package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
)

// MaxEventSize bounds the event read from stdin. Sensu's own limit on a
// check's output is configurable and unbounded by default; 64 MiB is far
// above any real event and keeps a runaway producer from exhausting
// memory.
const MaxEventSize = 64 << 20

// checkEventWait is how long a check waits for the first byte of an event
// on a stdin that is a pipe. sensu-agent writes the event as soon as the
// process starts (stdin: true); a pipe that stays silent this long is some
// other parent's, and the check runs without an event.
const checkEventWait = 2 * time.Second

// readEvent reads and validates the Sensu event on stdin. For handlers and
// mutators (required) a missing event is an error. For checks it is
// optional: stdin that is a terminal, /dev/null, closed or silent means no
// event, and nil is returned.
func readEvent(r io.Reader, required bool, timeout time.Duration) (*corev2.Event, []byte, error) {
	if r == nil {
		if required {
			return nil, nil, errors.New("no event on stdin")
		}
		return nil, nil, nil
	}
	var raw []byte
	var err error
	if required {
		raw, err = readAllLimited(r)
	} else {
		if f, ok := r.(*os.File); ok {
			fi, serr := f.Stat()
			if serr != nil || fi.Mode()&os.ModeCharDevice != 0 {
				return nil, nil, nil
			}
		}
		raw, err = readWithFirstByteWait(r, timeout)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if required {
			return nil, nil, errors.New("no event on stdin (expected a Sensu event as JSON)")
		}
		return nil, nil, nil
	}
	if !required {
		ev, err := parseCheckEvent(raw)
		return ev, raw, err
	}
	ev, err := ParseEvent(raw)
	if err != nil {
		return nil, nil, err
	}
	return ev, raw, nil
}

// parseCheckEvent decodes the event sensu-agent writes to a check's stdin
// (stdin: true). The agent builds it before the check runs, so it holds
// the check configuration and namespace but no entity, timestamp or
// output: it is decoded, not validated.
func parseCheckEvent(raw []byte) (*corev2.Event, error) {
	trimmed := bytes.TrimSpace(raw)
	if trimmed[0] != '{' {
		return nil, errors.New("invalid event on stdin: expected a JSON object (or use the check's data option to read data from stdin)")
	}
	ev := &corev2.Event{}
	if err := json.Unmarshal(trimmed, ev); err != nil {
		return nil, fmt.Errorf("invalid event JSON on stdin: %s", jsonErr(err))
	}
	return ev, nil
}

// ParseEvent decodes and validates a Sensu core/v2 event the way the SDK
// does (a timestamp and Validate()), with errors that say where the JSON
// broke.
func ParseEvent(raw []byte) (*corev2.Event, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, errors.New("invalid event on stdin: expected a JSON object")
	}
	ev := &corev2.Event{}
	if err := json.Unmarshal(trimmed, ev); err != nil {
		return nil, fmt.Errorf("invalid event JSON on stdin: %s", jsonErr(err))
	}
	if ev.Timestamp <= 0 {
		return nil, errors.New("invalid event on stdin: timestamp is missing or not positive")
	}
	if err := ev.Validate(); err != nil {
		return nil, fmt.Errorf("invalid event on stdin: %w", err)
	}
	return ev, nil
}

// jsonErr rewrites encoding/json errors without Go type names.
func jsonErr(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%s at byte %d", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s: cannot use a JSON %s here (at byte %d)", typ.Field, typ.Value, typ.Offset)
		}
		return fmt.Sprintf("cannot use a JSON %s here (at byte %d)", typ.Value, typ.Offset)
	default:
		return err.Error()
	}
}

func readAllLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxEventSize+1))
	if err != nil {
		return nil, fmt.Errorf("read event from stdin: %w", err)
	}
	if len(b) > MaxEventSize {
		return nil, fmt.Errorf("event on stdin exceeds %d MiB", MaxEventSize>>20)
	}
	return b, nil
}

// countingReader counts bytes read, so a waiter can tell silence from a
// slow writer.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readWithFirstByteWait reads stdin to EOF, but gives up (no event) if no
// byte arrives within checkEventWait, and fails if the whole read exceeds
// the plugin timeout.
func readWithFirstByteWait(r io.Reader, timeout time.Duration) ([]byte, error) {
	cr := &countingReader{r: r}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := readAllLimited(cr)
		done <- result{b, err}
	}()
	first := time.NewTimer(checkEventWait)
	defer first.Stop()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		select {
		case res := <-done:
			return res.b, res.err
		case <-first.C:
			if cr.n.Load() == 0 {
				return nil, nil
			}
		case <-deadline:
			return nil, fmt.Errorf("timed out after %s reading the event from stdin", timeout)
		}
	}
}
