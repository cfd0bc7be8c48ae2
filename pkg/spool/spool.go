// Package spool gives handlers at-least-once delivery: an event that
// cannot be delivered now is kept on disk and delivered first, in order, on
// the next run.
//
// A spool is a directory holding one journal, spool.log: a header, then
// one record per event in arrival order (length, CRC-32C, the event as it
// will be sent). Add appends a record and fsyncs; after a delivery the
// journal is rewritten atomically (pkg/state) with the events still kept,
// or truncated when none is. A lock file serialises handler processes,
// which Sensu runs concurrently. Deliver is the whole protocol: take the
// lock, send the pending events followed by the new one, keep what failed
// in a way worth retrying, and move what can never be delivered (the store
// rejected it as invalid) to dead/ with the reason, so that nothing is
// lost silently.
//
// One journal rather than one file per event: after an outage the spool
// holds thousands of events, and removing that many files costs more
// than sending them (about 80 µs an unlink on ext4, 0.8 s for 10,000
// events); the journal is one read and one truncate. A record cut short
// by a crash during Add (the handler that wrote it did not succeed) is
// dropped at the next Open; a record whose checksum fails, and everything
// after it, is moved to dead/ rather than sent.
//
// The spool is bounded (MaxItems, MaxBytes). When it is full the new event
// is refused with an error: the handler then exits 1 and Sensu logs the
// failure, rather than the disk filling up during a long outage.
package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
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
	// Data is the event as it will be sent.
	Data []byte
}

// journal is the file name, magic its first bytes (and format version).
const (
	journal   = "spool.log"
	magic     = "VIGILSP1"
	recHeader = 8 // length, CRC-32C, little endian
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Spool is an open, locked spool directory.
type Spool struct {
	dir    string
	limits Limits
	unlock func()
	f      *os.File
	end    int64 // where the next record goes
	count  int   // records in the journal
	bytes  int64 // their data, headers not counted
}

// Open creates (0700) and locks the spool directory, waiting for other
// handler processes until ctx is done, and opens its journal.
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
	s := &Spool{dir: dir, limits: limits, unlock: unlock}
	if err := s.openJournal(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// openJournal opens (or creates) the journal and finds its end.
func (s *Spool) openJournal() error {
	path := filepath.Join(s.dir, journal)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // the spool's own journal
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	s.f = f
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open spool: %w", err)
	}
	size := fi.Size()
	if size < int64(len(magic)) {
		// New, or cut while its header was written: nothing was kept yet.
		if err := s.reset(); err != nil {
			return err
		}
		return nil
	}
	head := make([]byte, len(magic))
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("read spool: %w", err)
	}
	if string(head) != magic {
		return fmt.Errorf("%s is not a Vigil spool journal (or a newer format); move it away to start a new spool", path)
	}
	// Walk the record headers to the last complete record.
	off, count, data := int64(len(magic)), 0, int64(0)
	var h [recHeader]byte
	for off+recHeader <= size {
		if _, err := f.ReadAt(h[:], off); err != nil {
			return fmt.Errorf("read spool: %w", err)
		}
		n := int64(binary.LittleEndian.Uint32(h[:4]))
		if n == 0 || off+recHeader+n > size {
			// No event is empty: a zero length is a tail of zeros the
			// disk never filled, and one past the end is a record cut by a
			// crash in Add, or a damaged length.
			break
		}
		off, count, data = off+recHeader+n, count+1, data+n
	}
	if off < size {
		// Whatever it is, it is kept in dead/ rather than dropped: a damaged
		// length would otherwise take the records after it with it.
		tail := make([]byte, size-off)
		if _, err := f.ReadAt(tail, off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read spool: %w", err)
		}
		if err := s.Bury(tail, fmt.Errorf("%d bytes at the end of the spool are not a whole record (a crash while adding an event, or damage): kept here as they were, the records they hold (if any) framed as length, CRC-32C, data", len(tail))); err != nil {
			return fmt.Errorf("repair spool: %w", err)
		}
		if err := f.Truncate(off); err != nil {
			return fmt.Errorf("repair spool: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("repair spool: %w", err)
		}
	}
	s.end, s.count, s.bytes = off, count, data
	return nil
}

// reset empties the journal to its header.
func (s *Spool) reset() error {
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("reset spool: %w", err)
	}
	if _, err := s.f.WriteAt([]byte(magic), 0); err != nil {
		return fmt.Errorf("reset spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("reset spool: %w", err)
	}
	s.end, s.count, s.bytes = int64(len(magic)), 0, 0
	return nil
}

// Close releases the journal and the lock.
func (s *Spool) Close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	if s.unlock != nil {
		s.unlock()
		s.unlock = nil
	}
}

// Len returns the number of spooled events.
func (s *Spool) Len() int { return s.count }

// Pending returns the spooled events, oldest first. Records whose
// checksum fails are moved to dead/ with everything after them (their
// lengths cannot be trusted either), and the journal keeps the rest.
func (s *Spool) Pending() ([]Item, error) {
	body := make([]byte, s.end-int64(len(magic)))
	if _, err := s.f.ReadAt(body, int64(len(magic))); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	items := make([]Item, 0, s.count)
	for off := 0; off < len(body); {
		n := int(binary.LittleEndian.Uint32(body[off : off+4]))
		sum := binary.LittleEndian.Uint32(body[off+4 : off+8])
		data := body[off+recHeader : off+recHeader+n]
		if n == 0 || crc32.Checksum(data, castagnoli) != sum {
			if err := s.Bury(body[off:], fmt.Errorf("spool record %d fails its checksum (disk corruption?): kept here with the records after it, as written", len(items)+1)); err != nil {
				return nil, err
			}
			if err := s.Keep(items); err != nil {
				return nil, err
			}
			return items, nil
		}
		items = append(items, Item{Data: data})
		off += recHeader + n
	}
	return items, nil
}

// record frames data.
func record(data []byte) []byte {
	rec := make([]byte, recHeader, recHeader+len(data))
	binary.LittleEndian.PutUint32(rec[:4], uint32(len(data))) //nolint:gosec // bounded by MaxBytes checks
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(data, castagnoli))
	return append(rec, data...)
}

// fits reports whether n more events of size bytes stay within the limits
// of a spool holding count events in used bytes.
func (s *Spool) fits(count int, used int64, n int, size int64) error {
	if count+n > s.limits.MaxItems || used+size > s.limits.MaxBytes {
		return fmt.Errorf("%w (%d events, %d bytes; limits %d events, %d bytes)", ErrFull, count, used, s.limits.MaxItems, s.limits.MaxBytes)
	}
	return nil
}

// Add keeps an event, appended after the others and synced to disk. It
// fails with ErrFull when the spool is at its limits.
func (s *Spool) Add(data []byte) error { return s.AddAll([][]byte{data}) }

// AddAll keeps several events in order, with one sync: for tools that
// move events in bulk (a benchmark, a migration).
func (s *Spool) AddAll(events [][]byte) error {
	var size int64
	var buf bytes.Buffer
	for _, e := range events {
		if len(e) == 0 {
			return errors.New("an empty event cannot be spooled")
		}
		size += int64(len(e))
		buf.Write(record(e))
	}
	if err := s.fits(s.count, s.bytes, len(events), size); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(buf.Bytes(), s.end); err != nil {
		return fmt.Errorf("write spool: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("write spool: %w", err)
	}
	s.end += int64(buf.Len())
	s.count += len(events)
	s.bytes += size
	return nil
}

// Keep replaces the journal's content with items, in order: atomically
// (a crash leaves the old journal, whose events are then sent again), or
// by truncating it when nothing is kept.
func (s *Spool) Keep(items []Item) error {
	if len(items) == 0 {
		return s.reset()
	}
	var buf bytes.Buffer
	buf.WriteString(magic)
	for _, it := range items {
		buf.Write(record(it.Data))
	}
	if err := state.WriteFile(filepath.Join(s.dir, journal), buf.Bytes()); err != nil {
		return fmt.Errorf("rewrite spool: %w", err)
	}
	_ = s.f.Close()
	s.f = nil
	return s.openJournal()
}

// seq disambiguates dead names created in the same nanosecond.
var seq atomic.Uint32

// Bury keeps an event that can never be delivered in dead/, with the
// reason next to it. The reason is written first: a crash in between
// leaves a reason without its event, which is still in the journal.
func (s *Spool) Bury(data []byte, reason error) error {
	name := fmt.Sprintf("%020d-%010d", time.Now().UnixNano(), seq.Add(1))
	dead := filepath.Join(s.dir, "dead")
	if err := state.WriteFile(filepath.Join(dead, name+".reason"), []byte(reason.Error()+"\n")); err != nil {
		return err
	}
	return state.WriteFile(filepath.Join(dead, name+".event"), data)
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
	var buried []error
	keep := make([]Item, 0, len(pending))
	var keptBytes int64
	// bury keeps a rejected event in dead/; when it cannot, the event
	// stays where it is (spooled) and the failure is the handler's.
	bury := func(data []byte, e error) bool {
		if out.Err == nil {
			out.Err = e
		}
		if err := s.Bury(data, e); err != nil {
			hard = append(hard, fmt.Errorf("event rejected for good (%w) and not moved to dead/: %w", e, err))
			return false
		}
		out.Dead++
		buried = append(buried, e)
		return true
	}
	for i, p := range pending {
		switch e := errAt(errs, i); {
		case e == nil:
			out.Delivered++
		case IsPermanent(e) && bury(p.Data, e):
		default:
			out.Spooled++
			if out.Err == nil {
				out.Err = e
			}
			keep = append(keep, p)
			keptBytes += int64(len(p.Data))
		}
	}
	addNew := false
	switch e := errAt(errs, len(pending)); {
	case e == nil:
		out.Delivered++
	case IsPermanent(e) && bury(event, e):
	default:
		if out.Err == nil {
			out.Err = e
		}
		if err := s.fits(len(keep), keptBytes, 1, int64(len(event))); err != nil {
			hard = append(hard, fmt.Errorf("event not delivered (%w) and not kept: %w", e, err))
		} else {
			addNew = true
			out.Spooled++
		}
	}
	switch {
	case len(keep) == len(pending) && addNew:
		err = s.Add(event) // nothing left the journal: append
	case len(keep) < len(pending) && addNew:
		err = s.Keep(append(keep, Item{Data: event}))
	case len(keep) < len(pending):
		err = s.Keep(keep)
	}
	if err != nil {
		if addNew {
			out.Spooled--
			err = fmt.Errorf("event not delivered and not kept: %w", err)
		}
		hard = append(hard, err)
	}
	switch n := len(buried); {
	case n == 1:
		hard = append(hard, fmt.Errorf("event rejected for good, kept in %s: %w", filepath.Join(dir, "dead"), buried[0]))
	case n > 1:
		// One line, however many: the first reason, and where the rest are.
		hard = append(hard, fmt.Errorf("%d events rejected for good, kept in %s with their reasons; the first: %w", n, filepath.Join(dir, "dead"), buried[0]))
	}
	return out, errors.Join(hard...)
}

func errAt(errs []error, i int) error {
	if i < len(errs) {
		return errs[i]
	}
	return errors.New("not attempted")
}
