// Package spool gives handlers at-least-once delivery: an event that
// cannot be delivered now is kept on disk and delivered first, in order, on
// the next run.
//
// A spool is a directory of one file per event, named so that names sort
// in arrival order, each written atomically (pkg/state). A lock file
// serialises handler processes, which Sensu runs concurrently. Deliver is
// the whole protocol: take the lock, send the pending events followed by
// the new one, remove what was delivered, keep what failed in a way worth
// retrying, and move what can never be delivered (the store rejected it
// as invalid) to dead/ with the reason, so that nothing is lost silently.
//
// The spool is bounded (MaxItems, MaxBytes). When it is full the new event
// is refused with an error: the handler then exits 1 and Sensu logs the
// failure, rather than the disk filling up during a long outage.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/pkg/state"
)

// Limits bound a spool.
type Limits struct {
	// MaxItems is the most events kept (default 10000).
	MaxItems int
	// MaxBytes is the most bytes kept (default 256 MiB).
	MaxBytes int64
}

// Default limits.
const (
	DefaultMaxItems = 10000
	DefaultMaxBytes = 256 << 20
)

// ErrFull is returned when the spool cannot take another event.
var ErrFull = errors.New("spool is full")

// Item is one spooled event.
type Item struct {
	// Name is the file name; names sort in arrival order.
	Name string
	// Data is the event as it will be sent.
	Data []byte
}

// Spool is an open, locked spool directory.
type Spool struct {
	dir    string
	limits Limits
	unlock func()
}

// Open creates (0700) and locks the spool directory, waiting for other
// handler processes until ctx is done.
func Open(ctx context.Context, dir string, limits Limits) (*Spool, error) {
	if limits.MaxItems <= 0 {
		limits.MaxItems = DefaultMaxItems
	}
	if limits.MaxBytes <= 0 {
		limits.MaxBytes = DefaultMaxBytes
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	unlock, err := state.Lock(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return nil, err
	}
	return &Spool{dir: dir, limits: limits, unlock: unlock}, nil
}

// Close releases the lock.
func (s *Spool) Close() {
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// Pending returns the spooled events, oldest first.
func (s *Spool) Pending() ([]Item, error) {
	names, _, err := s.list()
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(s.dir, n)) //nolint:gosec // names come from our own directory listing
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read spooled event: %w", err)
		}
		items = append(items, Item{Name: n, Data: b})
	}
	return items, nil
}

// list returns the spooled file names in order and their total size.
func (s *Spool) list() ([]string, int64, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, 0, fmt.Errorf("read spool directory: %w", err)
	}
	var names []string
	var total int64
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".event") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		names = append(names, e.Name())
		if fi, err := e.Info(); err == nil {
			total += fi.Size()
		}
	}
	slices.Sort(names)
	return names, total, nil
}

// seq disambiguates names created in the same nanosecond.
var seq atomic.Uint32

// Add keeps an event. It fails with ErrFull when the spool is at its
// limits.
func (s *Spool) Add(data []byte) (string, error) {
	names, total, err := s.list()
	if err != nil {
		return "", err
	}
	if len(names)+1 > s.limits.MaxItems || total+int64(len(data)) > s.limits.MaxBytes {
		return "", fmt.Errorf("%w (%d events, %d bytes; limits %d events, %d bytes)", ErrFull, len(names), total, s.limits.MaxItems, s.limits.MaxBytes)
	}
	name := fmt.Sprintf("%020d-%010d.event", time.Now().UnixNano(), seq.Add(1))
	// A clock that went backwards must not put a new event before older
	// ones: keep names increasing.
	if n := len(names); n > 0 && name <= names[n-1] {
		name = nextAfter(names[n-1])
	}
	if err := state.WriteFile(filepath.Join(s.dir, name), data); err != nil {
		return "", err
	}
	return name, nil
}

// nextAfter returns a name that sorts right after last.
func nextAfter(last string) string {
	stamp, _, _ := strings.Cut(last, "-")
	n, _ := strconv.ParseInt(stamp, 10, 64)
	return fmt.Sprintf("%020d-%010d.event", n+1, seq.Add(1))
}

// Remove drops a delivered event.
func (s *Spool) Remove(name string) error {
	if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove delivered event from spool: %w", err)
	}
	return nil
}

// Bury moves an event that can never be delivered to dead/, with the
// reason next to it.
func (s *Spool) Bury(name string, data []byte, reason error) error {
	dead := filepath.Join(s.dir, "dead")
	if name == "" {
		name = fmt.Sprintf("%020d-%010d.event", time.Now().UnixNano(), seq.Add(1))
	}
	if err := state.WriteFile(filepath.Join(dead, name), data); err != nil {
		return err
	}
	if err := state.WriteFile(filepath.Join(dead, strings.TrimSuffix(name, ".event")+".reason"), []byte(reason.Error()+"\n")); err != nil {
		return err
	}
	return s.Remove(name)
}

// permanent marks a delivery error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err to say that the store rejected the event for good
// (a 400, a mapping conflict): Deliver buries it instead of retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// SendFunc delivers a batch, oldest first, and returns one error per
// event: nil when delivered, Permanent(err) when it never will be, any
// other error when it is worth retrying later. A short slice counts the
// missing events as not attempted (kept for later).
type SendFunc func(ctx context.Context, batch [][]byte) []error

// Outcome says what Deliver did.
type Outcome struct {
	// Delivered counts events delivered, spooled ones included.
	Delivered int
	// Spooled is the number of events kept for a later run.
	Spooled int
	// Dead is the number of events moved to dead/ this run.
	Dead int
	// Err is the first delivery error, if any event was not delivered.
	Err error
}

// Deliver sends the pending events then event through send. Without a
// spool directory it just sends event and returns its error. With one,
// the returned error is set only when an event could not be kept (spool
// full or unwritable) or was buried: an event that was spooled is not an
// error, Outcome.Err says why it was spooled.
func Deliver(ctx context.Context, dir string, limits Limits, event []byte, send SendFunc) (Outcome, error) {
	if dir == "" {
		errs := send(ctx, [][]byte{event})
		err := errAt(errs, 0)
		if err != nil {
			return Outcome{Err: err}, err
		}
		return Outcome{Delivered: 1}, nil
	}
	s, err := Open(ctx, dir, limits)
	if err != nil {
		return Outcome{}, err
	}
	defer s.Close()
	pending, err := s.Pending()
	if err != nil {
		return Outcome{}, err
	}
	batch := make([][]byte, 0, len(pending)+1)
	for _, p := range pending {
		batch = append(batch, p.Data)
	}
	batch = append(batch, event)
	errs := send(ctx, batch)
	var out Outcome
	var hard []error
	for i, p := range pending {
		e := errAt(errs, i)
		switch {
		case e == nil:
			out.Delivered++
			if err := s.Remove(p.Name); err != nil {
				hard = append(hard, err)
			}
		case IsPermanent(e):
			out.Dead++
			if out.Err == nil {
				out.Err = e
			}
			if err := s.Bury(p.Name, p.Data, e); err != nil {
				hard = append(hard, err)
			}
			hard = append(hard, fmt.Errorf("spooled event rejected for good, moved to %s: %w", filepath.Join(dir, "dead"), e))
		default:
			out.Spooled++
			if out.Err == nil {
				out.Err = e
			}
		}
	}
	e := errAt(errs, len(pending))
	switch {
	case e == nil:
		out.Delivered++
	case IsPermanent(e):
		out.Dead++
		if out.Err == nil {
			out.Err = e
		}
		if err := s.Bury("", event, e); err != nil {
			hard = append(hard, err)
		}
		hard = append(hard, fmt.Errorf("event rejected for good, kept in %s: %w", filepath.Join(dir, "dead"), e))
	default:
		if out.Err == nil {
			out.Err = e
		}
		if _, err := s.Add(event); err != nil {
			hard = append(hard, fmt.Errorf("event not delivered (%w) and not kept: %w", e, err))
		} else {
			out.Spooled++
		}
	}
	return out, errors.Join(hard...)
}

func errAt(errs []error, i int) error {
	if i < len(errs) {
		return errs[i]
	}
	return errors.New("not attempted")
}
