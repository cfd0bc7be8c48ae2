// Package archive is Vigil's embedded event store: JSON lines in daily
// files on local disk, written by handler-archive and read by
// vigil-report.
//
// Layout: DIR/events-YYYY-MM-DD.jsonl, then events-YYYY-MM-DD.1.jsonl,
// .2.jsonl … once a file reaches the size limit (segments are only ever
// added, never renamed, so a reader never sees a file move). The day is
// the event's own timestamp in UTC, so a late delivery from the spool
// lands on the day it happened.
//
// Each append takes the directory lock, writes the whole line (newline
// included) in one write(2) on an O_APPEND descriptor and fsyncs. A
// process killed mid-write can still leave a partial line; the next
// append truncates it away before writing, and the reader ignores an
// unterminated last line, so no reader ever sees half an event.
package archive

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/pkg/state"
)

// DefaultMaxSize is the segment size limit.
const DefaultMaxSize = 100 << 20

// MaxLine bounds one archived line (one event).
const MaxLine = 64 << 20

// Writer appends events to an archive directory.
type Writer struct {
	// Dir is the archive directory, created 0700.
	Dir string
	// MaxSize starts a new segment once a file would exceed it.
	MaxSize int64
	// KeepDays deletes files whose day is older than this many days
	// before now (0 keeps everything).
	KeepDays int
	// Now is the clock for retention; nil means time.Now.
	Now func() time.Time
}

var segmentName = regexp.MustCompile(`^events-(\d{4}-\d{2}-\d{2})(?:\.(\d+))?\.jsonl$`)

// segment is one archive file.
type segment struct {
	day   string
	index int
	name  string
}

// Append writes one event (a single line of JSON, without newline) to the
// file for day t, and returns that file's path.
func (w *Writer) Append(ctx context.Context, line []byte, t time.Time) (string, error) {
	if bytes.ContainsAny(line, "\n\r") {
		return "", errors.New("archive line must not contain a newline")
	}
	if len(line)+1 > MaxLine {
		return "", fmt.Errorf("event of %d bytes exceeds the archive line limit of %d MiB", len(line), MaxLine>>20)
	}
	maxSize := w.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if err := os.MkdirAll(w.Dir, 0o700); err != nil {
		return "", fmt.Errorf("create archive directory: %w", err)
	}
	unlock, err := state.Lock(ctx, filepath.Join(w.Dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()

	day := t.UTC().Format(time.DateOnly)
	if len(day) != len(time.DateOnly) {
		return "", fmt.Errorf("event time %s is outside the years 0000-9999", t.UTC())
	}
	segs, err := segments(w.Dir)
	if err != nil {
		return "", err
	}
	cur := segment{name: fileName(day, 0)}
	for _, s := range segs {
		if s.day == day && s.index >= cur.index {
			cur = s
		}
	}
	path := filepath.Join(w.Dir, cur.name)
	size, err := repairTail(path)
	if err != nil {
		return "", err
	}
	if size > 0 && size+int64(len(line))+1 > maxSize {
		cur.index++
		cur.name = fileName(day, cur.index)
		path = filepath.Join(w.Dir, cur.name)
		if size, err = repairTail(path); err != nil {
			return "", err
		}
	}
	if err := appendLine(path, line, size); err != nil {
		return "", err
	}
	if w.KeepDays > 0 {
		now := time.Now
		if w.Now != nil {
			now = w.Now
		}
		if err := w.prune(segs, now()); err != nil {
			return path, err
		}
	}
	return path, nil
}

func fileName(day string, index int) string {
	if index == 0 {
		return "events-" + day + ".jsonl"
	}
	return "events-" + day + "." + strconv.Itoa(index) + ".jsonl"
}

// segments lists the archive files, oldest first.
func segments(dir string) ([]segment, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read archive directory: %w", err)
	}
	var out []segment
	for _, e := range ents {
		m := segmentName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		idx := 0
		if m[2] != "" {
			idx, _ = strconv.Atoi(m[2])
		}
		out = append(out, segment{day: m[1], index: idx, name: e.Name()})
	}
	slices.SortFunc(out, func(a, b segment) int {
		if a.day != b.day {
			if a.day < b.day {
				return -1
			}
			return 1
		}
		return a.index - b.index
	})
	return out, nil
}

// repairTail returns the size of path after cutting an unterminated last
// line (left by a writer killed mid-write). A missing file has size 0.
func repairTail(path string) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0) //nolint:gosec // our own archive file
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open archive file: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat archive file: %w", err)
	}
	size := fi.Size()
	if size == 0 {
		return 0, nil
	}
	// Walk back in blocks to the last newline.
	const block = 64 << 10
	end := size
	buf := make([]byte, block)
	for end > 0 {
		start := max(end-block, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("read archive file: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return size, nil
			}
			return keep, truncate(f, keep)
		}
		end = start
	}
	return 0, truncate(f, 0)
}

func truncate(f *os.File, size int64) error {
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("cut partial line from archive file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync archive file: %w", err)
	}
	return nil
}

// appendLine writes line+"\n" in one write and fsyncs. On a short or
// failed write it truncates back to the previous size.
func appendLine(path string, line []byte, size int64) error {
	created := size == 0
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) //nolint:gosec // our own archive file
	if err != nil {
		return fmt.Errorf("open archive file: %w", err)
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		_ = f.Truncate(size)
		_ = f.Close()
		return fmt.Errorf("append to archive: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync archive file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close archive file: %w", err)
	}
	if created {
		return state.SyncDir(filepath.Dir(path))
	}
	return nil
}

// prune deletes files of days older than KeepDays before now.
func (w *Writer) prune(segs []segment, now time.Time) error {
	cutoff := now.UTC().AddDate(0, 0, -w.KeepDays).Format(time.DateOnly)
	var errs []error
	for _, s := range segs {
		if s.day < cutoff {
			if err := os.Remove(filepath.Join(w.Dir, s.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, fmt.Errorf("prune archive: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// Scan calls fn for each complete line of the files whose day lies in
// [from, to] (UTC days; zero times are open bounds), oldest file first.
// It streams: memory use is one line. An unterminated last line (a write
// in progress or killed) is skipped. fn may return ErrStop to end early.
func Scan(dir string, from, to time.Time, fn func(line []byte) error) error {
	segs, err := segments(dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		if !from.IsZero() && s.day < from.UTC().Format(time.DateOnly) {
			continue
		}
		if !to.IsZero() && s.day > to.UTC().Format(time.DateOnly) {
			continue
		}
		if err := scanFile(filepath.Join(dir, s.name), fn); err != nil {
			if errors.Is(err, ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("stop scan")

func scanFile(path string, fn func([]byte) error) error {
	f, err := os.Open(path) //nolint:gosec // a file of the archive directory
	if err != nil {
		return fmt.Errorf("open archive file: %w", err)
	}
	defer func() { _ = f.Close() }()
	r := bufio.NewReaderSize(f, 256<<10)
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A long line: collect it whole, bounded by MaxLine.
			long := append([]byte(nil), line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(long) <= MaxLine {
				line, err = r.ReadSlice('\n')
				long = append(long, line...)
			}
			if len(long) > MaxLine {
				return fmt.Errorf("archive file %s has a line over %d MiB", path, MaxLine>>20)
			}
			line = long
		}
		if errors.Is(err, io.EOF) {
			return nil // an unterminated tail is a write in progress
		}
		if err != nil {
			return fmt.Errorf("read archive file: %w", err)
		}
		if err := fn(line[:len(line)-1]); err != nil {
			return err
		}
	}
}
