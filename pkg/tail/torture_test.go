package tail_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/tail"
)

// TestTortureNoLineIsLostOrRepeatedAcrossRotations interleaves, in an order
// drawn from a seeded PCG, an application that appends numbered lines
// (sometimes half a line first and the rest later, sometimes abandoning
// half a line when it is rotated away), a logrotate that performs 50
// rotations (rename and create, copytruncate, numbered and dated names
// switching scheme now and then, delayed gzip of older generations,
// sometimes seen half-way through, retention of 12 generations), and check
// runs: each opens a new Reader from the state file, as a new check
// process does. A run commits after a clean read; some runs fail in the
// callback and either give up or commit what was delivered, and some
// "crash" before committing. Up to three rotations happen between two
// committed runs.
//
// The committed deliveries, concatenated, must be exactly the lines the
// application wrote, in order: every line number once. Within a file
// generation the owned bytes must be contiguous, and Segment.Line must
// count the lines of that generation.
//
// Half of the seeds let the file system reuse the inodes of removed and
// compressed generations, as ext4 and xfs do at once; the other half keep
// them allocated.
//
// The application never writes between logrotate's copy and its truncate:
// lines written there are lost by copytruncate itself (see the package
// doc), not by the reader.
func TestTortureNoLineIsLostOrRepeatedAcrossRotations(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1, 2, 3, 4, 5, 6} {
		reuse := seed%2 == 0
		t.Run(fmt.Sprintf("seed %d survives 50 rotations (inodes reused: %v)", seed, reuse), func(t *testing.T) {
			t.Parallel()
			newTorture(t, seed, reuse).run(50)
		})
	}
}

const (
	schemeNumbered = iota
	schemeDated
	schemeDashed
)

// gen is a rotated generation, as logrotate names it.
type gen struct {
	num  int    // numbered: .num
	date string // dated: the suffix after '-'
	gz   bool
}

func (g gen) name() string {
	n := "app.log-" + g.date
	if g.date == "" {
		n = "app.log." + strconv.Itoa(g.num)
	}
	if g.gz {
		n += ".gz"
	}
	return n
}

type torture struct {
	t   *testing.T
	rng *rand.Rand
	h   *harness
	out *os.File // the application's log file descriptor (O_APPEND)

	next    int    // the next line number
	partial string // a line written in part: the whole line
	written int    // how much of partial is written
	want    strings.Builder

	gens      []gen // oldest first
	scheme    int
	day       int // rotations so far: the fake clock, one day each
	rotations int
	unread    int // rotations since the last clean, committed run
	// halfGzip is a generation being compressed: its .gz exists, the
	// uncompressed file is not removed yet.
	halfGzip string

	// trace says what happened, for the failure message.
	trace []string

	got      strings.Builder
	genPos   int64 // the next owned offset in the current generation
	genLines int64 // complete lines owned so far in the current generation
	runs     map[string]int
}

func newTorture(t *testing.T, seed uint64, reuseInodes bool) *torture {
	h := newHarness(t)
	h.reuseInodes = reuseInodes
	tt := &torture{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), h: h, runs: map[string]int{}}
	tt.reopen()
	// The check runs before the application logs anything: a file seen
	// for the first time is read from its start, but not its generations.
	tt.check("clean")
	return tt
}

func (tt *torture) reopen() {
	if tt.out != nil {
		require.NoError(tt.t, tt.out.Close())
	}
	f, err := os.OpenFile(tt.h.log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(tt.t, err)
	tt.out = f
	tt.t.Cleanup(func() { _ = f.Close() })
}

func (tt *torture) run(rotations int) {
	for tt.rotations < rotations {
		if tt.unread >= 3 {
			tt.check("clean")
		}
		switch n := tt.rng.IntN(10); {
		case n < 6:
			tt.writeLines()
		case n < 8:
			tt.rotate()
		default:
			tt.finishGzip()
		}
		if tt.rng.IntN(3) == 0 {
			tt.check(tt.mode())
		}
	}
	tt.finishLine(false)
	tt.writeLines()
	tt.finishLine(false)
	tt.finishGzip()
	tt.check("clean")
	tt.check("clean")

	tt.requireSameLines()
	tt.t.Logf("%d lines, %d rotations, runs %v", tt.next, tt.rotations, tt.runs)
}

// line returns the text of line n: its number, then padding that is now
// and then longer than MaxLine.
func (tt *torture) line(n int) string {
	pad := tt.rng.IntN(60)
	if tt.rng.IntN(20) == 0 {
		pad = 300 + tt.rng.IntN(600)
	}
	return fmt.Sprintf("line %06d %s\n", n, strings.Repeat(string(rune('a'+n%26)), pad))
}

func (tt *torture) logf(format string, args ...any) {
	tt.trace = append(tt.trace, fmt.Sprintf(format, args...))
}

// dir lists the log directory, for the trace.
func (tt *torture) dir() string {
	ents, err := os.ReadDir(tt.h.dir)
	require.NoError(tt.t, err)
	var out []string
	for _, e := range ents {
		fi, err := e.Info()
		require.NoError(tt.t, err)
		out = append(out, fmt.Sprintf("%s(%d)", e.Name(), fi.Size()))
	}
	return strings.Join(out, " ")
}

func (tt *torture) appendLog(s string) {
	_, err := tt.out.WriteString(s)
	require.NoError(tt.t, err)
}

func (tt *torture) writeLines() {
	for range 1 + tt.rng.IntN(6) {
		if tt.partial != "" {
			tt.finishLine(false)
			continue
		}
		l := tt.line(tt.next)
		tt.next++
		if tt.rng.IntN(4) == 0 {
			// Half a line now, the rest later; always the whole number.
			tt.partial = l
			tt.written = len("line 000000 ") + tt.rng.IntN(len(l)-len("line 000000 "))
			tt.appendLog(l[:tt.written])
			continue
		}
		tt.appendLog(l)
		tt.want.WriteString(l)
	}
}

// finishLine completes the half-written line, or abandons it (the file
// then ends without a newline; the reader delivers the fragment as the
// last line of a finished file).
func (tt *torture) finishLine(abandon bool) {
	if tt.partial == "" {
		return
	}
	if abandon {
		tt.want.WriteString(tt.partial[:tt.written] + "\n")
	} else {
		tt.appendLog(tt.partial[tt.written:])
		tt.want.WriteString(tt.partial)
	}
	tt.partial = ""
}

func (tt *torture) rotate() {
	tt.finishGzip()
	// The application finishes its line before it reopens, or dies in the
	// middle of it; with copytruncate it simply is not writing.
	tt.finishLine(tt.rng.IntN(3) == 0)
	if tt.rng.IntN(6) == 0 {
		tt.scheme = tt.rng.IntN(3)
	}
	tt.day++
	g := gen{}
	switch tt.scheme {
	case schemeNumbered:
		for i := range tt.gens { // oldest first: the highest number moves first
			if tt.gens[i].date == "" {
				moved := tt.gens[i]
				moved.num++
				tt.h.mv(tt.gens[i].name(), moved.name())
				tt.gens[i] = moved
			}
		}
		g.num = 1
	case schemeDated:
		g.date = tt.clock().Format("20060102")
	default:
		g.date = tt.clock().Format("2006-01-02")
	}
	if tt.rng.IntN(2) == 0 {
		tt.h.mv("app.log", g.name())
		tt.h.write("app.log", "")
		tt.reopen()
	} else {
		tt.h.copytruncate(g.name())
	}
	tt.h.touch(g.name(), tt.clock())
	tt.gens = append(tt.gens, g)
	if len(tt.gens) > 12 {
		tt.h.rm(tt.gens[0].name())
		tt.gens = tt.gens[1:]
	}
	tt.rotations++
	tt.unread++
	tt.logf("rotation %d to %s, next line %d: %s", tt.rotations, g.name(), tt.next, tt.dir())
	if tt.rng.IntN(2) == 0 {
		tt.startGzip()
	}
}

// clock is the fake time of the current day: generations get distinct
// modification times, as rotations a day apart do.
func (tt *torture) clock() time.Time {
	return time.Date(2026, 1, 1, 4, 0, 0, 0, time.UTC).AddDate(0, 0, tt.day)
}

// startGzip compresses the older generations (delaycompress: not the
// newest), leaving the last one half done.
func (tt *torture) startGzip() {
	for i := 0; i < len(tt.gens)-1; i++ {
		if tt.gens[i].gz {
			continue
		}
		name := tt.gens[i].name()
		tt.gens[i].gz = true
		if tt.rng.IntN(3) == 0 {
			// Written but the original not yet removed: a run may see both.
			gzipFile(tt.t, tt.h.path(name), func(string) {})
			tt.halfGzip = name
			return
		}
		tt.h.gz(name)
	}
}

func (tt *torture) finishGzip() {
	if tt.halfGzip != "" {
		tt.h.rm(tt.halfGzip)
		tt.halfGzip = ""
	}
}

var errTortureConsumer = errors.New("the consumer failed")

func (tt *torture) mode() string {
	switch n := tt.rng.IntN(10); {
	case n < 7:
		return "clean"
	case n < 8:
		return "fail and give up"
	case n < 9:
		return "fail and commit"
	default:
		return "crash before commit"
	}
}

type record struct {
	seg   tail.Segment // Data is nil
	owned []byte
}

// check is one run of a check process.
func (tt *torture) check(mode string) {
	t := tt.t
	opts := tail.Options{
		ChunkSize: []int{16, 100, 257, 1024, 4096}[tt.rng.IntN(5)],
		MaxLine:   256,
		Overlap:   []int{8, 32, 100}[tt.rng.IntN(3)],
	}
	r, err := tail.Open(tt.h.state, opts)
	require.NoError(t, err)
	failAt := -1
	if strings.HasPrefix(mode, "fail") {
		failAt = tt.rng.IntN(6)
	}
	var recs []record
	var ownedBytes int64
	st, err := r.Read(t.Context(), tt.h.log, func(s tail.Segment) error {
		requireSegment(t, s, opts)
		if s.Path == tt.h.log && !s.Cut {
			require.Equal(t, byte('\n'), s.Data[len(s.Data)-1], "the live file gives complete lines only")
		}
		if len(recs) == failAt {
			return errTortureConsumer
		}
		owned := bytes.Clone(s.Data[s.Start:s.End])
		ownedBytes += int64(len(owned))
		s.Data = nil
		recs = append(recs, record{seg: s, owned: owned})
		return nil
	})
	failed := errors.Is(err, errTortureConsumer)
	var lines []string
	for _, r := range recs {
		if r.seg.Start == 0 {
			if l, _, ok := strings.Cut(string(r.owned), " "); ok && l == "line" {
				lines = append(lines, fmt.Sprintf("%s@%d:%.11s", filepath.Base(r.seg.Path), r.seg.Offset, r.owned))
			}
		}
	}
	tt.logf("check %q: err %v, stats %+v, %v", mode, err, st, lines)
	if !failed {
		require.NoError(t, err)
		require.Equal(t, ownedBytes, st.Bytes)
		require.NotEmpty(t, st.Sources)
		require.Equal(t, tt.h.log, st.Sources[len(st.Sources)-1], "the live file is read last")
		if mode == "crash before commit" {
			tt.runs[mode]++
			return
		}
		mode = "clean"
	}
	tt.runs[mode]++
	switch mode {
	case "fail and give up":
		return
	case "fail and commit":
		// The position moves at line ends: the pieces of a line whose end
		// was not delivered come again, so the consumer drops them.
		for len(recs) > 0 && recs[len(recs)-1].seg.Cut {
			recs = recs[:len(recs)-1]
		}
	}
	require.NoError(t, r.Commit())
	for _, rec := range recs {
		tt.apply(rec)
	}
	if mode == "clean" {
		tt.unread = 0
	}
}

// apply adds a committed segment to the transcript.
func (tt *torture) apply(rec record) {
	t, s := tt.t, rec.seg
	start := s.Offset + int64(s.Start)
	if start == 0 {
		// A generation begins; the previous one may have ended in a
		// fragment without a newline.
		if tt.got.Len() > 0 && !strings.HasSuffix(tt.got.String(), "\n") {
			tt.got.WriteString("\n")
		}
		tt.genPos, tt.genLines = 0, 0
	}
	require.Equal(t, tt.genPos, start, "%s: owned bytes are contiguous within a generation", s.Path)
	require.Equal(t, tt.genLines+1, s.Line, "%s at %d: the line number", s.Path, s.Offset)
	tt.got.Write(rec.owned)
	tt.genPos += int64(len(rec.owned))
	tt.genLines += int64(bytes.Count(rec.owned, []byte("\n")))
}

// requireSameLines compares the transcript with what was written, line by
// line, and checks the numbering.
func (tt *torture) requireSameLines() {
	t := tt.t
	got := strings.Split(tt.got.String(), "\n")
	want := strings.Split(tt.want.String(), "\n")
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Log(strings.Join(tt.trace, "\n"))
			t.Fatalf("line %d differs:\n got: %.80q\nwant: %.80q\nprevious: %.80q", i, got[i], want[i], want[max(0, i-1)])
		}
	}
	require.Len(t, got, len(want))
	for i, l := range got[:len(got)-1] {
		require.True(t, strings.HasPrefix(l, fmt.Sprintf("line %06d ", i)), "line %d is %.40q", i, l)
	}
	require.Len(t, got, tt.next+1, "every line number appears exactly once")
}
