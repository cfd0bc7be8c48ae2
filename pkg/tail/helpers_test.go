package tail_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/tail"
)

// harness is a log directory, a followed log in it and a state file, with
// the file operations logrotate performs.
type harness struct {
	t     *testing.T
	dir   string
	log   string // the followed path
	state string
	opts  tail.Options
	// keep holds a hard link to every removed file, so that no inode is
	// reused: a test's expectations (Stats.Truncated) then do not depend on
	// which inode the file system hands out.
	keep string
	kept int
	// reuseInodes lets removed inodes be reused, as on a real system.
	reuseInodes bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	return &harness{
		t: t, dir: dir, log: filepath.Join(dir, "app.log"),
		state: filepath.Join(t.TempDir(), "tail.json"),
		keep:  t.TempDir(),
	}
}

// remove removes the file at path, keeping its inode allocated.
func (h *harness) remove(path string) {
	h.t.Helper()
	h.kept++
	if !h.reuseInodes {
		require.NoError(h.t, os.Link(path, filepath.Join(h.keep, strconv.Itoa(h.kept))))
	}
	require.NoError(h.t, os.Remove(path))
}

func (h *harness) path(name string) string { return filepath.Join(h.dir, name) }

// write appends s to the file name, creating it.
func (h *harness) write(name, s string) {
	h.t.Helper()
	f, err := os.OpenFile(h.path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	require.NoError(h.t, err)
	_, err = f.WriteString(s)
	require.NoError(h.t, err)
	require.NoError(h.t, f.Close())
}

// create replaces the file name by a new file holding s.
func (h *harness) create(name, s string) {
	h.t.Helper()
	if _, err := os.Stat(h.path(name)); err == nil {
		h.remove(h.path(name))
	}
	h.write(name, s)
}

func (h *harness) mv(from, to string) {
	h.t.Helper()
	require.NoError(h.t, os.Rename(h.path(from), h.path(to)))
}

// cp copies from to a new file to (another inode).
func (h *harness) cp(from, to string) {
	h.t.Helper()
	b, err := os.ReadFile(h.path(from))
	require.NoError(h.t, err)
	require.NoError(h.t, os.WriteFile(h.path(to), b, 0o600))
}

func (h *harness) truncate(name string) {
	h.t.Helper()
	require.NoError(h.t, os.Truncate(h.path(name), 0))
}

func (h *harness) rm(name string) {
	h.t.Helper()
	h.remove(h.path(name))
}

// copytruncate does what logrotate's copytruncate does to app.log.
func (h *harness) copytruncate(to string) {
	h.t.Helper()
	h.cp("app.log", to)
	h.truncate("app.log")
}

// gz compresses name to name.gz and removes name, keeping the modification
// time as gzip does.
func (h *harness) gz(name string) {
	h.t.Helper()
	gzipFile(h.t, h.path(name), h.remove)
}

// gzipFile compresses path to path.gz, then removes path with remove.
func gzipFile(t *testing.T, path string, remove func(string)) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, err = zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(path+".gz", out.Bytes(), 0o600))
	require.NoError(t, os.Chtimes(path+".gz", fi.ModTime(), fi.ModTime()))
	remove(path)
}

func (h *harness) touch(name string, mtime time.Time) {
	h.t.Helper()
	require.NoError(h.t, os.Chtimes(h.path(name), mtime, mtime))
}

// got is what one source delivered in one Read.
type got struct {
	Name string // base name of Segment.Path
	Line int64  // Segment.Line of its first segment
	Text string // the owned bytes of its segments, in order
}

// collector checks every Segment against the contract and gathers what a
// Read delivered, one got per consecutive source.
type collector struct {
	t    *testing.T
	opts tail.Options // with the defaults filled in
	gots []got
	segs []tail.Segment // copies
	// fail, when positive, makes the callback fail on that segment (1-based).
	fail int
}

var errConsumer = io.ErrClosedPipe // any error the consumer might return

func (c *collector) fn(s tail.Segment) error {
	c.t.Helper()
	if c.fail > 0 && len(c.segs)+1 == c.fail {
		return errConsumer
	}
	requireSegment(c.t, s, c.opts)
	cp := s
	cp.Data = bytes.Clone(s.Data)
	c.segs = append(c.segs, cp)
	name, text := filepath.Base(s.Path), string(s.Data[s.Start:s.End])
	if n := len(c.gots); n > 0 && c.gots[n-1].Name == name {
		c.gots[n-1].Text += text
		return nil
	}
	c.gots = append(c.gots, got{Name: name, Line: s.Line, Text: text})
	return nil
}

// requireSegment checks the shape of a Segment.
func requireSegment(t *testing.T, s tail.Segment, opts tail.Options) {
	t.Helper()
	require.NotEmpty(t, s.Data)
	require.LessOrEqual(t, 0, s.Start)
	require.Less(t, s.Start, s.End, "a segment owns at least one byte")
	require.LessOrEqual(t, s.End, len(s.Data))
	require.LessOrEqual(t, len(s.Data), max(opts.ChunkSize, opts.MaxLine), "a segment is bounded")
	require.Positive(t, s.Line)
	require.GreaterOrEqual(t, s.Offset, int64(0))
	if s.Cut {
		require.Len(t, s.Data, opts.MaxLine, "a cut piece is MaxLine bytes")
		require.Equal(t, len(s.Data)-opts.Overlap, s.End)
		require.NotContains(t, string(s.Data), "\n", "a cut piece is inside one line")
	} else {
		require.Equal(t, len(s.Data), s.End)
	}
	if s.Start > 0 {
		require.Equal(t, opts.Overlap, s.Start, "a continued piece starts with Overlap bytes of context")
		require.NotContains(t, string(s.Data[:len(s.Data)-1]), "\n", "a continued piece is inside one line")
	}
}

// read runs a check: a new Reader from the state file reads the log, then
// commits.
func (h *harness) read() ([]got, tail.Stats) {
	h.t.Helper()
	gots, st, err := h.readErr()
	require.NoError(h.t, err)
	return gots, st
}

// readErr is read that returns the error of Read (and then does not
// commit).
func (h *harness) readErr() ([]got, tail.Stats, error) {
	h.t.Helper()
	r, err := tail.Open(h.state, h.opts)
	require.NoError(h.t, err)
	c := &collector{t: h.t, opts: filled(h.opts)}
	st, err := r.Read(h.t.Context(), h.log, c.fn)
	if err != nil {
		return c.gots, st, err
	}
	require.NoError(h.t, r.Commit())
	return c.gots, st, nil
}

// filled returns opts with the defaults Open applies.
func filled(o tail.Options) tail.Options {
	if o.ChunkSize == 0 {
		o.ChunkSize = 1 << 20
	}
	if o.MaxLine == 0 {
		o.MaxLine = 1 << 20
	}
	if o.Overlap == 0 {
		o.Overlap = min(4<<10, o.MaxLine/4)
	}
	return o
}

// names returns the base names of paths.
func names(paths []string) []string {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		out = append(out, filepath.Base(p))
	}
	return out
}
