package tail

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"
)

// follow is one Read of one path.
type follow struct {
	ctx  context.Context
	opts Options
	// whole reads the live file to its end, a last line without a
	// newline included: without state there is no next run to wait for.
	whole bool
	path  string
	fn    func(Segment) error
	buf   []byte // ChunkSize+MaxLine, taken on first use
	bufs  *sync.Pool
	stats Stats
}

// liveFile is the followed path, open.
type liveFile struct {
	f    *os.File
	id   fileID
	size int64 // at open: the read stops there
	head []byte
}

// step is one file to read: a generation (by index) or the live file (-1),
// from a position.
type step struct {
	gen        int
	off, lines int64
	// rotated is the mark to record with a position in this file: the
	// newest generation before it.
	rotated *mark
}

// plan is what a Read will read.
type plan struct {
	steps     []step
	rotations int
	truncated bool
	// rotated is the mark to record when the live file is missing and the
	// steps were all read.
	rotated *mark
}

// snapshot is the followed path and its generations as one Read sees them.
type snapshot struct {
	live *liveFile // nil when the path does not exist
	gens []*generation
}

func (sn *snapshot) close() {
	if sn.live != nil {
		_ = sn.live.f.Close()
	}
}

// moved says whether a generation the plan looked at was renamed, replaced
// or removed after the directory was listed: a rotation is under way.
func (sn *snapshot) moved() bool {
	return slices.ContainsFunc(sn.gens, func(g *generation) bool { return errors.Is(g.headErr, errMoved) })
}

// planAttempts bounds how often a Read starts again because a rotation was
// under way, waiting a little longer each time.
const planAttempts = 5

// run reads what is new and returns the position to remember (nil to keep
// none).
func (f *follow) run(prev *entry) (*entry, error) {
	sn, p, err := f.settle(prev)
	if err != nil || sn == nil {
		return nil, err
	}
	defer sn.close()
	f.stats.Rotations, f.stats.Truncated = p.rotations, p.truncated

	cur, complete := prev, true
	for _, s := range p.steps {
		var e *entry
		var done bool
		if s.gen < 0 {
			e, err = f.readLive(sn.live, s)
			done = err == nil
		} else {
			e, done, err = f.readGeneration(sn.gens, s)
		}
		if e != nil {
			cur = e
		}
		if err != nil {
			return cur, err
		}
		if !done {
			complete = false
			break
		}
	}
	if sn.live == nil {
		if complete && len(p.steps) > 0 {
			cur = expectNew(p.rotated)
		}
		return cur, f.missing()
	}
	return cur, nil
}

func (f *follow) missing() error {
	return fmt.Errorf("read log %s: %w", f.path, fs.ErrNotExist)
}

// settle takes a snapshot and plans the Read, again while a rotation moves
// the generations it looks at. If they keep moving, it returns a nil
// snapshot: nothing is read now, the next run catches up.
func (f *follow) settle(prev *entry) (*snapshot, plan, error) {
	for attempt := 1; ; attempt++ {
		if err := f.ctx.Err(); err != nil {
			return nil, plan{}, fmt.Errorf("read %s: %w", f.path, context.Cause(f.ctx))
		}
		sn, err := openAndList(f.path)
		if err != nil {
			return nil, plan{}, err
		}
		p, err := f.plan(prev, sn.live, sn.gens)
		if err != nil {
			sn.close()
			return nil, plan{}, err
		}
		if !sn.moved() {
			return sn, p, nil
		}
		missing := sn.live == nil
		sn.close()
		if attempt == planAttempts {
			if missing {
				return nil, plan{}, f.missing()
			}
			return nil, plan{}, nil
		}
		select {
		case <-f.ctx.Done():
		case <-time.After(time.Duration(attempt) * 5 * time.Millisecond):
		}
	}
}

// openAndList opens the followed path, then lists its generations. If a
// rotation renamed the opened file in between, it would be both the live
// file and a generation: then both are taken again. (Listing first would
// be worse: a rename in between would hide the old file from the listing.)
// A generation that still is the live file (a hard link) is left out: a
// file is not its own predecessor.
func openAndList(path string) (*snapshot, error) {
	for attempt := 1; ; attempt++ {
		live, err := openLive(path)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		sn := &snapshot{live: live}
		sn.gens, err = listGenerations(path)
		if err != nil {
			sn.close()
			return nil, err
		}
		if live == nil {
			return sn, nil
		}
		isLive := func(g *generation) bool { return g.id.same(live.id) }
		if !slices.ContainsFunc(sn.gens, isLive) {
			return sn, nil
		}
		if attempt == planAttempts {
			sn.gens = slices.DeleteFunc(sn.gens, isLive)
			return sn, nil
		}
		sn.close()
	}
}

// plan decides which files to read, from where, and reads the heads of
// the generations it depends on, including the marks to record, so that
// a generation that moves meanwhile is noticed before anything is read.
func (f *follow) plan(prev *entry, live *liveFile, gens []*generation) (plan, error) {
	p, err := f.choose(prev, live, gens)
	if err != nil {
		return p, err
	}
	for i, s := range p.steps {
		if s.gen < 0 {
			p.steps[i].rotated = newestMark(gens)
		} else {
			p.steps[i].rotated = newestMark(gens[:s.gen])
			_, _ = gens[s.gen].headBytes()
		}
	}
	p.rotated = newestMark(gens)
	return p, nil
}

// choose decides which files to read, from where.
func (f *follow) choose(prev *entry, live *liveFile, gens []*generation) (plan, error) {
	if prev == nil {
		if live == nil {
			return plan{}, nil
		}
		s := step{gen: -1}
		if f.opts.FromEnd {
			var err error
			if s.off, s.lines, err = f.skipToEnd(live); err != nil {
				return plan{}, err
			}
		}
		return plan{steps: []step{s}}, nil
	}
	// Every generation newer than the newest one at the last run appeared
	// since: the followed file became the oldest of them.
	m := findMark(gens, prev.Rotated)
	from := func(i int) plan {
		steps := []step{{gen: i, off: prev.Offset, lines: prev.Lines}}
		for j := i + 1; j < len(gens); j++ {
			steps = append(steps, step{gen: j})
		}
		if live != nil {
			steps = append(steps, step{gen: -1})
		}
		// Truncated in place: the live file is the one read last time.
		return plan{steps: steps, rotations: len(gens) - i, truncated: live != nil && live.id.same(prev.id())}
	}
	if i := findPrev(gens[m+1:], prev); i >= 0 {
		return from(m + 1 + i), nil
	}
	if live != nil && live.continues(prev) {
		return plan{steps: []step{{gen: -1, off: prev.Offset, lines: prev.Lines}}}, nil
	}
	if i := findSame(gens[:m+1], prev); i >= 0 {
		return from(i), nil
	}
	if live == nil && m+1 == len(gens) {
		return plan{}, nil
	}
	// The file read last time is gone: what is newer was never read.
	var steps []step
	for j := m + 1; j < len(gens); j++ {
		steps = append(steps, step{gen: j})
	}
	if live != nil {
		steps = append(steps, step{gen: -1})
	}
	return plan{steps: steps, rotations: len(gens) - m - 1, truncated: true}, nil
}

// continues says whether the live file is the file e was recorded on,
// grown by appends only.
func (lf *liveFile) continues(e *entry) bool {
	if e.id().ok && !lf.id.same(e.id()) {
		return false
	}
	return lf.size >= e.Size && headIs(lf.head, e.Head, e.HeadLen)
}

// openLive opens the followed path. A missing path returns a nil file and
// the error, which wraps fs.ErrNotExist.
func openLive(path string) (*liveFile, error) {
	// Stat first: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("read log %s: not a regular file", path)
	}
	fh, err := os.Open(path) //nolint:gosec // the log the operator named
	if err != nil {
		return nil, err
	}
	fi, err = fh.Stat()
	if err != nil {
		_ = fh.Close()
		return nil, fmt.Errorf("read log: %w", err)
	}
	lf := &liveFile{f: fh, id: idOf(fi), size: fi.Size()}
	head := make([]byte, min(headSize, lf.size))
	n, err := fh.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		_ = fh.Close()
		return nil, fmt.Errorf("read log %s: %w", path, err)
	}
	lf.head = head[:n]
	return lf, nil
}

// buffer returns the Read's buffer of ChunkSize+MaxLine bytes.
func (f *follow) buffer() []byte {
	if f.buf == nil {
		if b, ok := f.bufs.Get().(*[]byte); ok {
			f.buf = *b
		} else {
			f.buf = make([]byte, f.opts.ChunkSize+f.opts.MaxLine)
		}
	}
	return f.buf
}

// skipToEnd returns the end of the last complete line of a new file and
// the number of lines before it, for Options.FromEnd.
func (f *follow) skipToEnd(lf *liveFile) (int64, int64, error) {
	end, err := f.lastLineEnd(lf.f, 0, lf.size)
	if err != nil {
		return 0, 0, err
	}
	var lines int64
	buf := f.buffer()
	for off := int64(0); off < end; {
		if err := f.ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("read %s: %w", f.path, context.Cause(f.ctx))
		}
		n, err := lf.f.ReadAt(buf[:min(int64(len(buf)), end-off)], off)
		lines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		off += int64(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return off, lines, nil // shrank meanwhile: the next run sorts it out
			}
			return 0, 0, fmt.Errorf("read %s: %w", f.path, err)
		}
	}
	return end, lines, nil
}

// lastLineEnd returns the offset just after the last newline in
// [from, size) of fh, or from when there is none. It reads backwards, so
// its cost is the length of the partial last line.
func (f *follow) lastLineEnd(fh *os.File, from, size int64) (int64, error) {
	buf := f.buffer()
	buf = buf[:min(len(buf), 64<<10)]
	for end := size; end > from; {
		start := max(from, end-int64(len(buf)))
		b := buf[:end-start]
		if _, err := fh.ReadAt(b, start); err != nil {
			if errors.Is(err, io.EOF) {
				return from, nil // shrank meanwhile: nothing to read now
			}
			return 0, fmt.Errorf("read %s: %w", f.path, err)
		}
		if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return from, nil
}

// readLive delivers the complete lines of the live file from s.
func (f *follow) readLive(lf *liveFile, s step) (*entry, error) {
	f.stats.Sources = append(f.stats.Sources, f.path)
	e := &entry{
		Dev: lf.id.dev, Ino: lf.id.ino,
		Offset: s.off, Lines: s.lines, Size: lf.size,
		Head: headHash(lf.head), HeadLen: len(lf.head),
		Rotated: s.rotated,
	}
	limit := lf.size
	if !f.whole {
		var err error
		if limit, err = f.lastLineEnd(lf.f, s.off, lf.size); err != nil {
			return e, err
		}
	}
	f.stats.Pending = lf.size - limit
	return e, f.deliver(io.NewSectionReader(lf.f, s.off, limit-s.off), f.path, e, f.whole)
}

// readGeneration delivers a rotated generation from s to its end. done is
// false when the generation changed since it was listed (a rotation is
// under way): the rest is read next time.
func (f *follow) readGeneration(gens []*generation, s step) (_ *entry, done bool, err error) {
	g := gens[s.gen]
	fh, err := os.Open(g.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read rotated log: %w", err)
	}
	defer func() { _ = fh.Close() }()
	fi, err := fh.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("read rotated log: %w", err)
	}
	if !g.sameAs(fi) {
		return nil, false, nil
	}
	head, err := g.headBytes()
	if err != nil {
		return nil, false, err
	}
	f.stats.Sources = append(f.stats.Sources, g.path)
	e := &entry{
		Dev: g.id.dev, Ino: g.id.ino,
		Offset: s.off, Lines: s.lines, Size: max(s.off, fi.Size()),
		Head: headHash(head), HeadLen: len(head),
		Rotated: s.rotated,
	}
	var src io.Reader
	if g.gz {
		zr, err := gzip.NewReader(fh)
		if err != nil {
			return e, false, fmt.Errorf("read %s: %w", g.path, err)
		}
		e.Size = s.off // the decompressed size is known only once read
		if n, err := io.CopyN(io.Discard, zr, s.off); err != nil {
			if errors.Is(err, io.EOF) {
				// Shorter than the position: not the file we read after all.
				f.stats.Truncated = true
				e.Offset, e.Size = n, n
				e.Lines = min(e.Lines, n)
				return e, true, nil
			}
			return e, false, fmt.Errorf("read %s: %w", g.path, err)
		}
		src = zr
	} else {
		if s.off > fi.Size() {
			f.stats.Truncated = true
			return e, true, nil
		}
		src = io.NewSectionReader(fh, s.off, fi.Size()-s.off)
	}
	if err := f.deliver(src, g.path, e, true); err != nil {
		return e, false, err
	}
	return e, true, nil
}

// deliver reads src to its end and hands it to fn in segments, moving e
// (whose Offset and Lines are where src starts) over every line fn
// accepted. A finished file's last line is delivered even without a
// newline; otherwise it is left.
//
// The buffer holds ChunkSize+MaxLine bytes. Segments end at the last
// newline within ChunkSize bytes, or at the end of a first line of at most
// MaxLine bytes; a longer line goes out in pieces of MaxLine bytes, each
// starting 2*Overlap bytes before the end of the previous one.
func (f *follow) deliver(src io.Reader, path string, e *entry, finished bool) error {
	var (
		buf    = f.buffer()
		lo, hi int // buf[lo:hi] is read and not yet consumed
		eof    bool
		off    = e.Offset // offset of buf[lo] in the file
		lines  = e.Lines  // complete lines before the line at buf[lo]
		inLong bool       // buf[lo:lo+overlap] is the context of a long line's next piece
		chunk  = f.opts.ChunkSize
		piece  = f.opts.MaxLine
		ov     = f.opts.Overlap
		stuck  int
	)
	fill := func(need int) error {
		for hi-lo < need && !eof {
			if hi == len(buf) {
				hi = copy(buf, buf[lo:hi])
				lo = 0
			}
			n, err := src.Read(buf[hi:])
			hi += n
			switch {
			case errors.Is(err, io.EOF):
				eof = true
			case err != nil:
				return fmt.Errorf("read %s: %w", path, err)
			case n == 0:
				if stuck++; stuck > 100 {
					return fmt.Errorf("read %s: %w", path, io.ErrNoProgress)
				}
			default:
				stuck = 0 // 100 empty reads in a row, as bufio counts them
			}
		}
		return nil
	}
	emit := func(data []byte, start, end int, cut bool) error {
		if err := f.ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", path, context.Cause(f.ctx))
		}
		if err := f.fn(Segment{Path: path, Data: data, Offset: off, Line: lines + 1, Start: start, End: end, Cut: cut}); err != nil {
			return err
		}
		f.stats.Bytes += int64(end - start)
		return nil
	}
	// consume moves past n bytes that end a line (or the file).
	consume := func(n int, newLines int64) {
		off += int64(n)
		lo += n
		lines += newLines
		f.stats.Lines += newLines
		e.Offset, e.Lines, e.Size = off, lines, max(e.Size, off)
	}
	// nextPiece moves to the next piece of a long line; the position in e
	// stays at the line's start.
	nextPiece := func() {
		adv := piece - 2*ov
		off += int64(adv)
		lo += adv
		inLong = true
	}
	for {
		if inLong {
			if err := fill(piece); err != nil {
				return err
			}
			w := buf[lo:hi]
			if len(w) <= ov {
				return nil // cannot happen: a cut piece leaves 2*Overlap bytes
			}
			if len(w) > piece {
				w = w[:piece]
			}
			if i := bytes.IndexByte(w[ov:], '\n'); i >= 0 {
				n := ov + i + 1
				if err := emit(w[:n], ov, n, false); err != nil {
					return err
				}
				inLong = false
				consume(n, 1)
				continue
			}
			if eof && hi-lo <= piece {
				if !finished {
					return nil // the file changed under us; the line waits
				}
				if err := emit(w, ov, len(w), false); err != nil {
					return err
				}
				consume(len(w), 1)
				return nil
			}
			if err := emit(w, ov, piece-ov, true); err != nil {
				return err
			}
			nextPiece()
			continue
		}

		if err := fill(max(chunk, piece+1)); err != nil {
			return err
		}
		w := buf[lo:hi]
		if len(w) == 0 {
			return nil
		}
		n := -1 // length of the whole lines to deliver, when known
		if i := bytes.LastIndexByte(w[:min(len(w), chunk)], '\n'); i >= 0 {
			n = i + 1
			if chunk > piece {
				n = wholeLines(w[:n], piece)
			}
		} else if i := bytes.IndexByte(w[:min(len(w), piece)], '\n'); i >= 0 {
			n = i + 1
		}
		switch {
		case n > 0:
			if err := emit(w[:n], 0, n, false); err != nil {
				return err
			}
			consume(n, int64(bytes.Count(w[:n], []byte{'\n'})))
		case n < 0 && eof && len(w) <= piece:
			// A last line without a newline.
			if !finished {
				return nil
			}
			if err := emit(w, 0, len(w), false); err != nil {
				return err
			}
			consume(len(w), 1)
			return nil
		default:
			// A line longer than MaxLine starts here: its first piece.
			if err := emit(w[:piece], 0, piece-ov, true); err != nil {
				return err
			}
			nextPiece()
		}
	}
}

// wholeLines returns the length of the longest prefix of b (which ends with
// a newline) made of lines of at most maxLine bytes.
func wholeLines(b []byte, maxLine int) int {
	n := 0
	for n < len(b) {
		i := bytes.IndexByte(b[n:], '\n')
		if i < 0 || i+1 > maxLine {
			break
		}
		n += i + 1
	}
	return n
}
