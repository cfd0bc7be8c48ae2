// Package tail reads log files incrementally: each run delivers what was
// appended to a file since the last run, in chunks of complete lines, and
// follows the file across log rotation so that no line is lost and none is
// delivered twice. check-pii and check-audit-log read their logs through
// it.
//
// Log checks in the wild get this wrong in the same few ways: they
// remember an offset but not which file it belongs to, so a rotated file
// that has grown past the old offset is read from the middle; they save the
// offset before the run's result is out, so a crash loses matches; they
// consume a half-written last line; and they cut long lines into chunks
// without overlap, so a match across a cut is lost. A Reader avoids each:
//
//   - it remembers the identity of the file (device, inode and a
//     fingerprint of its head), not only an offset, and finds the rotated
//     predecessor when the path now names another file;
//   - it moves its position only over data the callback accepted, and
//     keeps it in memory until Commit, which the caller runs once the run's
//     result has been produced, so a crash re-reads instead of losing;
//   - it leaves a partial last line in the live file for the next run;
//   - it delivers a line longer than Options.MaxLine in overlapping pieces
//     that say which bytes each piece owns (Segment.Start, Segment.End).
//
// A run looks like this:
//
//	r, err := tail.Open(statePath, tail.Options{})
//	if err != nil {
//		return err // the state file is damaged or foreign: say so
//	}
//	for _, path := range paths {
//		st, err := r.Read(ctx, path, func(s tail.Segment) error {
//			scan(s.Data, s.Start, s.End) // count matches that start in [Start, End)
//			return nil
//		})
//		if errors.Is(err, os.ErrNotExist) {
//			// report the missing file; the state for it is kept
//		} else if err != nil {
//			return err
//		}
//		_ = st // Bytes, Lines, Rotations, Truncated: useful metrics
//	}
//	// produce the run's result (print it, send it), then:
//	return r.Commit()
//
// # State
//
// One state file (pkg/state: written atomically, 0600, kind "tail",
// version 1) holds, for each path read: the device and inode of the file,
// the offset of the next unread byte, the number of complete lines before
// it (so that Segment.Line keeps counting), the size at the last read, the
// SHA-256 and length of the file's first min(1024, size) bytes, and the
// same identity (plus modification time) for the newest non-empty rotated
// generation that existed at the last read (see below). It never holds file
// contents. Commit drops the paths that were not read since Open, so the
// file stays as large as the set of logs being followed.
//
// # Rotation
//
// Read looks at the followed path and at its rotated generations in the
// same directory: the path's name followed by ".N", "-YYYYMMDD",
// "-YYYY-MM-DD" or another dated suffix (any run of digits with '-' or '_'
// between them, after '.', '-' or '_'), optionally compressed as ".gz".
// Generations are ordered oldest first by their scheme (a higher number is
// older, an older date is older) and by modification time when schemes are
// mixed. While a file is being compressed, the uncompressed generation is
// used. Then:
//
//   - Appends. The path still names the file read last time (same device and
//     inode, not smaller, same head): the complete lines after the saved
//     offset are delivered. A partial last line is left for the next run.
//   - Rename and create (logrotate's default). app.log became app.log.1 and a
//     new app.log was created. The old file is found among the generations
//     by device and inode (or by its head fingerprint, if it was copied or
//     compressed); its unread tail is delivered first, including a final
//     line without a newline, since that file is finished; then the new
//     app.log from byte 0 and line 1.
//   - Copytruncate. app.log was copied to app.log.1 and truncated (same
//     inode, but smaller or with another head). The copy has the same head:
//     its unread tail is delivered from the saved offset, then app.log from
//     byte 0. Stats.Truncated is set.
//   - Several rotations between two runs. The file read last time is now,
//     say, app.log.2.gz; app.log.1 is a generation never seen. The tail of
//     app.log.2.gz, all of app.log.1 and then app.log are delivered, in that
//     order.
//   - Replaced or truncated with no findable predecessor. The path names a
//     different file (another head), or the file shrank, and no rotated
//     generation holds the old content: the file is read from byte 0 and
//     Stats.Truncated is set. Whatever was appended to the old file after the
//     last run is lost; the flag lets the caller say so.
//   - Missing path. Read returns an error wrapping os.ErrNotExist and keeps
//     the state. If the file was rotated away and its successor is not
//     created yet, the unread tail of the rotated file is still delivered
//     first.
//
// Which generations are new since the last run is decided by the newest
// non-empty generation at the last run (found again by inode and head, or
// by head and modification time once compressed): every generation newer
// than it appeared since, and the followed file went on in the oldest new
// generation that starts with its head, which is the file itself renamed,
// or its copy. Knowing which generations are new matters when the followed
// file was empty at the last run, because an empty head matches any file:
// after a copytruncate the new generation is known to hold what was
// written since, and is delivered whole. It also settles a file that was
// copytruncated and later renamed between two runs: its inode is then the
// newer of two generations, and the copy holds the unread lines.
//
// Rotation may happen while Read runs. Read opens the path before it lists
// the directory, checks that the generations it looks at are still the
// files it listed, and starts again (a few times, a few milliseconds apart)
// when one has moved; a file that changes while it is read ends the Read
// early. Either way nothing is skipped: the next run goes on from the
// position reached.
//
// # Known limits
//
// Copytruncate has a window that no reader can close: lines written between
// the copy and the truncation are in neither file. logrotate documents it;
// prefer rename-and-create with a signal to the application where the
// application supports it. Likewise, an application that keeps writing to
// app.log.1 after the rename (before it reopens its log) writes lines that
// are read only if they arrive before the next run; rotated files are
// treated as finished. logrotate's "copy" option (copy without truncation)
// is not supported: it looks like a copytruncate, and the file is delivered
// again from its start after each rotation. Rotated generations compressed
// with anything but gzip are not seen: use
// delaycompress with other compressors, so the newest generation stays
// uncompressed until the next rotation.
//
// Identity is a device and inode plus a head fingerprint. File systems
// reuse inodes at once, so a file deleted and recreated with the same first
// bytes and at least the old size cannot be told from the old file grown:
// its first bytes are taken as already read. Log lines that start with a
// timestamp make this practically impossible; files that start with a
// fixed banner and are replaced without rotation are the risk.
//
// A Reader may be used for several paths at once from several goroutines,
// but not for one path from two goroutines. Two processes that share one
// state file can only duplicate work (the last Commit wins, and each is a
// position a run really reached), but callers that can overlap, such as a
// check whose run outlasts its interval, should hold state.Lock on
// statePath+".lock" from Open to Commit.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync"

	"github.com/vigil-sec/vigil/pkg/state"
)

const (
	// defaultChunkSize is the default target size of a Segment.
	defaultChunkSize = 1 << 20
	// defaultMaxLine is the default longest line delivered whole.
	defaultMaxLine = 1 << 20
	// defaultOverlap is the default overlap of the pieces of a long line.
	defaultOverlap = 4 << 10
	// minMaxLine keeps a piece of a long line bigger than its overlaps.
	minMaxLine = 16
	// maxBuffer bounds ChunkSize+MaxLine, the memory a Read holds.
	maxBuffer = 1 << 30
)

// Segment is a piece of a file handed to the consumer.
type Segment struct {
	// Path is the file the bytes came from: the followed path, or a rotated
	// predecessor such as "/var/log/app.log.1" or "/var/log/app.log.2.gz".
	Path string
	// Data holds the bytes. It is only valid during the callback.
	Data []byte
	// Offset is the byte offset of Data[0] in Path (in the decompressed
	// stream for .gz).
	Offset int64
	// Line is the 1-based line number of the line that contains Data[0].
	Line int64
	// Start and End delimit the part of Data the consumer owns: report
	// matches that START in [Start, End). Normally Start=0, End=len(Data).
	// When a line is longer than Options.MaxLine it is delivered in pieces
	// of at most MaxLine bytes. A piece that ends inside the line has
	// End=len(Data)-Overlap, so a match of at most Overlap bytes that
	// starts before End lies whole inside Data. The next piece begins
	// Overlap bytes before that End and has Start=Overlap: Data[:Start] is
	// left context (for boundary checks such as "not preceded by a digit"),
	// and its owned part begins exactly where the previous one stopped.
	// Consecutive pieces therefore share 2*Overlap bytes, every byte is
	// owned exactly once, and a match of at most Overlap bytes is seen whole
	// in the piece that owns its start.
	Start, End int
	// Cut is true when Data ends inside a line (a long line continues in
	// the next Segment).
	Cut bool
}

// Options tune a Reader. The zero value is ready to use.
type Options struct {
	// ChunkSize is the target size of a Segment (default 1 MiB). Segments
	// end on a line boundary unless a single line is longer than MaxLine.
	ChunkSize int
	// MaxLine is the longest line delivered whole (default 1 MiB, at least
	// 16); longer lines come in overlapping pieces (see Segment).
	MaxLine int
	// Overlap is the overlap of the pieces of a long line (default 4 KiB,
	// or MaxLine/4 when that is smaller); it must be less than MaxLine/2.
	// Set it to at least the longest match the consumer looks for.
	Overlap int
	// FromEnd makes a file seen for the first time be read from the end of
	// its last complete line, so that only what is appended later is
	// scanned, like `tail -n0 -F`. By default (false) a new file is read
	// from its start. Line numbers stay true either way: the lines that
	// are skipped are counted once. A Reader without a state file ignores
	// FromEnd.
	FromEnd bool
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.ChunkSize < 0 || o.MaxLine < 0 || o.Overlap < 0 {
		return o, fmt.Errorf("tail options: ChunkSize (%d), MaxLine (%d) and Overlap (%d) must not be negative", o.ChunkSize, o.MaxLine, o.Overlap)
	}
	if o.ChunkSize == 0 {
		o.ChunkSize = defaultChunkSize
	}
	if o.MaxLine == 0 {
		o.MaxLine = defaultMaxLine
	}
	if o.MaxLine < minMaxLine {
		return o, fmt.Errorf("tail options: MaxLine (%d) must be at least %d", o.MaxLine, minMaxLine)
	}
	if o.Overlap == 0 {
		o.Overlap = min(defaultOverlap, o.MaxLine/4)
	}
	if 2*o.Overlap >= o.MaxLine {
		return o, fmt.Errorf("tail options: Overlap (%d) must be less than half of MaxLine (%d)", o.Overlap, o.MaxLine)
	}
	if o.ChunkSize > maxBuffer-o.MaxLine {
		return o, fmt.Errorf("tail options: ChunkSize (%d) plus MaxLine (%d) must not exceed %d", o.ChunkSize, o.MaxLine, maxBuffer)
	}
	return o, nil
}

// Reader follows files and remembers how far it read, in one state file.
type Reader struct {
	path string
	opts Options

	mu    sync.Mutex
	files map[string]*entry // by absolute path; entries are never modified once stored
	seen  map[string]bool   // paths read since Open

	// bufs keeps the ChunkSize+MaxLine buffers of finished Reads.
	bufs sync.Pool
}

// Open loads the state file (pkg/state Save/Load envelope, kind "tail",
// version 1), or starts empty when it does not exist. A damaged or foreign
// state file is an error naming the file. An empty path means no state:
// every file is read whole, a last line without a newline included (there
// is no next run to wait for; Options.FromEnd is ignored), positions are
// kept in memory for the life of the Reader and Commit writes nothing.
func Open(statePath string, opts Options) (*Reader, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if statePath == "" {
		opts.FromEnd = false // every file is read whole
	}
	r := &Reader{path: statePath, opts: opts, files: map[string]*entry{}, seen: map[string]bool{}}
	if statePath == "" {
		return r, nil
	}
	var data stateData
	err = state.Load(statePath, stateKind, stateVersion, &data)
	if errors.Is(err, state.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open tail state: %w", err)
	}
	if err := data.validate(); err != nil {
		return nil, fmt.Errorf("open tail state: state file %s is damaged: %w", statePath, err)
	}
	if data.Files != nil {
		r.files = data.Files
	}
	return r, nil
}

// Stats says what a Read did.
type Stats struct {
	// Bytes is the number of bytes delivered; the repeated bytes of the
	// pieces of a long line count once.
	Bytes int64
	// Lines is the number of complete lines delivered (a trailing partial
	// line of a rotated, finished file counts).
	Lines int64
	// Rotations is the number of rotations detected and followed for this
	// path.
	Rotations int
	// Truncated says the file read last time was truncated in place
	// (copytruncate; Rotations is then at least 1), or that it was
	// truncated or replaced and no rotated generation holds its old
	// content (Rotations counts only the generations read): what was
	// appended to it after the last run is then lost.
	Truncated bool
	// Sources are the files read, in order (rotated predecessors first).
	Sources []string
	// Pending is the number of bytes of a partial last line left for the
	// next run.
	Pending int64
}

// Read delivers what was appended to path since the last run, through fn,
// in order: first the unread tail of the rotated predecessor(s), then the
// file itself. Only complete lines are delivered from the live file: a
// partial last line waits for the next run (its bytes are not consumed).
//
// If fn returns an error, reading stops and that error is returned as is;
// the in-memory position for this path is not advanced past data that was
// not successfully delivered. The position moves at line ends only: when fn
// fails on a piece of a long line, the earlier pieces of that line are
// delivered again next time. The new position is kept in memory until
// Commit. A rotation that happens while Read runs ends it early, without
// error; the rest is read next time.
//
// A missing path returns an error wrapping os.ErrNotExist, so that the
// caller can report it; the Stats and any Segments delivered before (the
// tail of a file rotated away) are valid and the state for the path is kept.
func (r *Reader) Read(ctx context.Context, path string, fn func(Segment) error) (Stats, error) {
	key := stateKey(path)
	r.mu.Lock()
	r.seen[key] = true
	prev := r.files[key]
	r.mu.Unlock()

	f := &follow{
		ctx:   ctx,
		opts:  r.opts,
		whole: r.path == "",
		path:  path,
		fn:    fn,
		bufs:  &r.bufs,
	}
	next, err := f.run(prev)
	if f.buf != nil {
		r.bufs.Put(&f.buf)
	}
	if next != nil {
		r.mu.Lock()
		r.files[key] = next
		r.mu.Unlock()
	}
	return f.stats, err
}

// Commit writes the state atomically (pkg/state), 0600, after dropping the
// paths not read since Open (Forget). Call it only after the run's result
// has been produced, so that a crash before then re-reads instead of
// losing.
func (r *Reader) Commit() error {
	r.Forget()
	if r.path == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := state.Save(r.path, stateKind, stateVersion, stateData{Files: r.files}); err != nil {
		return fmt.Errorf("commit tail state: %w", err)
	}
	return nil
}

// Forget drops state for paths not read since Open (files no longer
// followed), so the state file stays bounded. A path whose Read found it
// missing counts as read: its position is kept until the file is back or
// the caller stops asking for it. Commit calls Forget.
func (r *Reader) Forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.files {
		if !r.seen[k] {
			delete(r.files, k)
		}
	}
}

// stateKey is the key of path in the state: absolute, so that a relative
// path given from another directory is the same file.
func stateKey(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return filepath.Clean(path)
}

// ReadStream delivers a stream (a check's stdin, a pipe) in the same
// Segments as Read, in bounded memory, with nothing remembered: the whole
// stream, its last line even without a newline. name becomes the
// Segments' Path.
func ReadStream(ctx context.Context, src io.Reader, name string, opts Options, fn func(Segment) error) (Stats, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	var pool sync.Pool
	f := &follow{ctx: ctx, opts: opts, path: name, fn: fn, bufs: &pool}
	err = f.deliver(src, name, &entry{}, true)
	f.stats.Sources = []string{name}
	return f.stats, err
}
