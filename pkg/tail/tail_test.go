package tail_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/state"
	"github.com/vigil-sec/vigil/pkg/tail"
)

func TestAppendsAreReadOnceAndAPartialLineWaits(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.write("app.log", "one\ntwo\nthr")

	gots, st := h.read()
	require.Equal(t, []got{{Name: "app.log", Line: 1, Text: "one\ntwo\n"}}, gots)
	require.Equal(t, tail.Stats{Bytes: 8, Lines: 2, Sources: []string{h.log}, Pending: 3}, st)

	gots, st = h.read()
	require.Empty(t, gots, "nothing new: nothing delivered")
	require.Equal(t, int64(3), st.Pending, "the partial line still waits")

	h.write("app.log", "ee\nfour\nfi")
	gots, st = h.read()
	require.Equal(t, []got{{Name: "app.log", Line: 3, Text: "three\nfour\n"}}, gots, "the completed line is delivered whole and numbering continues")
	require.Equal(t, tail.Stats{Bytes: 11, Lines: 2, Sources: []string{h.log}, Pending: 2}, st)

	h.write("app.log", "ve\n")
	gots, _ = h.read()
	require.Equal(t, []got{{Name: "app.log", Line: 5, Text: "five\n"}}, gots)
}

func TestAnEmptyFileIsReadOnceItHasLines(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.write("app.log", "")
	gots, st := h.read()
	require.Empty(t, gots)
	require.Equal(t, []string{h.log}, st.Sources)
	h.write("app.log", "first\n")
	gots, _ = h.read()
	require.Equal(t, []got{{Name: "app.log", Line: 1, Text: "first\n"}}, gots)
}

// TestRotation covers each way a log is rotated between two runs. Every
// case starts from a first run that read app.log whole, changes the
// directory, and checks the second run; a third run checks that the
// position after the rotation is right.
func TestRotation(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC) }
	tests := []struct {
		name   string
		before func(h *harness) // the files of the first run
		rotate func(h *harness)
		want   []got
		// wantStats has Sources as base names.
		wantStats tail.Stats
	}{
		{
			name:   "rename and create delivers the old file's tail with its last partial line, then the new file from line 1",
			before: func(h *harness) { h.write("app.log", "a1\na2\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a3\npart")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\nb2")
			},
			want:      []got{{"app.log.1", 3, "a3\npart"}, {"app.log", 1, "b1\n"}},
			wantStats: tail.Stats{Bytes: 10, Lines: 3, Rotations: 1, Sources: []string{"app.log.1", "app.log"}, Pending: 2},
		},
		{
			name:   "a predecessor copied to another inode is found by its head",
			before: func(h *harness) { h.write("app.log", "a1\na2\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a3\n")
				h.cp("app.log", "app.log.1")
				h.create("app.log", "b1\n")
			},
			want:      []got{{"app.log.1", 3, "a3\n"}, {"app.log", 1, "b1\n"}},
			wantStats: tail.Stats{Bytes: 6, Lines: 2, Rotations: 1, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name:   "a new file that grew past the old offset does not hide the rename",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1 is longer than the old file\nb2\n")
			},
			want:      []got{{"app.log.1", 2, "a2\n"}, {"app.log", 1, "b1 is longer than the old file\nb2\n"}},
			wantStats: tail.Stats{Bytes: 37, Lines: 3, Rotations: 1, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name:   "copytruncate delivers the copy's tail from the old offset, then the file from 0",
			before: func(h *harness) { h.write("app.log", "a1\na2\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a3\n")
				h.copytruncate("app.log.1")
				h.write("app.log", "b1\n")
			},
			want:      []got{{"app.log.1", 3, "a3\n"}, {"app.log", 1, "b1\n"}},
			wantStats: tail.Stats{Bytes: 6, Lines: 2, Rotations: 1, Truncated: true, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name:   "copytruncate is seen when the file grew past the old offset",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.copytruncate("app.log.1")
				h.write("app.log", "b1 is much longer than the old file\n")
			},
			want:      []got{{"app.log.1", 2, "a2\n"}, {"app.log", 1, "b1 is much longer than the old file\n"}},
			wantStats: tail.Stats{Bytes: 39, Lines: 2, Rotations: 1, Truncated: true, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name:   "copytruncate of a file that was empty at the last run is followed",
			before: func(h *harness) { h.write("app.log", "") },
			rotate: func(h *harness) {
				h.write("app.log", "a1\na2\n")
				h.copytruncate("app.log.1")
				h.write("app.log", "b1\n")
			},
			want:      []got{{"app.log.1", 1, "a1\na2\n"}, {"app.log", 1, "b1\n"}},
			wantStats: tail.Stats{Bytes: 9, Lines: 3, Rotations: 1, Truncated: true, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name: "copytruncate of an empty file is followed when older generations exist",
			before: func(h *harness) {
				h.write("app.log.2.gz.tmp", "not a generation\n")
				h.write("app.log.1", "old1\n")
				h.write("app.log", "")
			},
			rotate: func(h *harness) {
				h.write("app.log", "a1\n")
				h.mv("app.log.1", "app.log.2")
				h.copytruncate("app.log.1")
			},
			want:      []got{{"app.log.1", 1, "a1\n"}},
			wantStats: tail.Stats{Bytes: 3, Lines: 1, Rotations: 1, Truncated: true, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name:   "two renames between runs deliver the tail of .2, all of .1, then the new file",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\nb2\n")
				h.mv("app.log.1", "app.log.2")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "c1\n")
			},
			want:      []got{{"app.log.2", 2, "a2\n"}, {"app.log.1", 1, "b1\nb2\n"}, {"app.log", 1, "c1\n"}},
			wantStats: tail.Stats{Bytes: 12, Lines: 4, Rotations: 2, Sources: []string{"app.log.2", "app.log.1", "app.log"}},
		},
		{
			name:   "compressed generations are read decompressed, oldest first",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\n")
				h.mv("app.log.1", "app.log.3")
				h.gz("app.log.3")
				h.mv("app.log", "app.log.2")
				h.gz("app.log.2")
				h.create("app.log", "c1\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "d1\n")
			},
			want: []got{{"app.log.3.gz", 2, "a2\n"}, {"app.log.2.gz", 1, "b1\n"}, {"app.log.1", 1, "c1\n"}, {"app.log", 1, "d1\n"}},
			wantStats: tail.Stats{Bytes: 12, Lines: 4, Rotations: 3,
				Sources: []string{"app.log.3.gz", "app.log.2.gz", "app.log.1", "app.log"}},
		},
		{
			name:   "three copytruncates between runs are followed through the numbered copies",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.copytruncate("app.log.1")
				h.write("app.log", "b1\n")
				h.mv("app.log.1", "app.log.2")
				h.copytruncate("app.log.1")
				h.write("app.log", "c1\n")
				h.mv("app.log.2", "app.log.3")
				h.gz("app.log.3")
				h.mv("app.log.1", "app.log.2")
				h.copytruncate("app.log.1")
				h.write("app.log", "d1\n")
			},
			want:      []got{{"app.log.3.gz", 2, "a2\n"}, {"app.log.2", 1, "b1\n"}, {"app.log.1", 1, "c1\n"}, {"app.log", 1, "d1\n"}},
			wantStats: tail.Stats{Bytes: 12, Lines: 4, Rotations: 3, Truncated: true, Sources: []string{"app.log.3.gz", "app.log.2", "app.log.1", "app.log"}},
		},
		{
			name:   "dated generations (-YYYYMMDD) are read oldest date first",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log-20261123")
				h.create("app.log", "b1\n")
				h.mv("app.log", "app.log-20261124")
				h.create("app.log", "c1\n")
				// Modification times that disagree with the dates: the dates win.
				h.touch("app.log-20261123", day(30))
				h.touch("app.log-20261124", day(1))
			},
			want:      []got{{"app.log-20261123", 2, "a2\n"}, {"app.log-20261124", 1, "b1\n"}, {"app.log", 1, "c1\n"}},
			wantStats: tail.Stats{Bytes: 9, Lines: 3, Rotations: 2, Sources: []string{"app.log-20261123", "app.log-20261124", "app.log"}},
		},
		{
			name:   "dated generations (-YYYY-MM-DD) compressed with gzip are read oldest date first",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log-2026-11-09")
				h.gz("app.log-2026-11-09")
				h.create("app.log", "b1\n")
				h.copytruncate("app.log-2026-11-10")
				h.write("app.log", "c1\n")
			},
			want: []got{{"app.log-2026-11-09.gz", 2, "a2\n"}, {"app.log-2026-11-10", 1, "b1\n"}, {"app.log", 1, "c1\n"}},
			// Not Truncated: the file read last time was renamed; the
			// truncation was of a file this Reader never saw.
			wantStats: tail.Stats{Bytes: 9, Lines: 3, Rotations: 2, Sources: []string{"app.log-2026-11-09.gz", "app.log-2026-11-10", "app.log"}},
		},
		{
			name:   "mixed numbered and dated generations are ordered by modification time",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log-20261101")
				h.touch("app.log-20261101", day(1))
				h.create("app.log", "b1\n")
				h.mv("app.log", "app.log.1")
				h.touch("app.log.1", day(2))
				h.create("app.log", "c1\n")
			},
			want:      []got{{"app.log-20261101", 2, "a2\n"}, {"app.log.1", 1, "b1\n"}, {"app.log", 1, "c1\n"}},
			wantStats: tail.Stats{Bytes: 9, Lines: 3, Rotations: 2, Sources: []string{"app.log-20261101", "app.log.1", "app.log"}},
		},
		{
			name:   "a generation being compressed is read once, from the uncompressed file",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\n")
				// gzip has written app.log.1.gz but not removed app.log.1 yet.
				h.write("app.log.1.gz", "\x1f\x8b half written")
			},
			want:      []got{{"app.log.1", 2, "a2\n"}, {"app.log", 1, "b1\n"}},
			wantStats: tail.Stats{Bytes: 6, Lines: 2, Rotations: 1, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name:   "a file replaced by another with a different head is read from the start and flagged",
			before: func(h *harness) { h.write("app.log", "a1\na2\n") },
			rotate: func(h *harness) {
				h.write("app.log", "lost\n")
				h.create("app.log", "n1\nn2\nn3\n")
			},
			want:      []got{{"app.log", 1, "n1\nn2\nn3\n"}},
			wantStats: tail.Stats{Bytes: 9, Lines: 3, Truncated: true, Sources: []string{"app.log"}},
		},
		{
			name:   "a file replaced by another inode with the same head is read from the start",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.mv("app.log", "app.log.saved") // not a generation name
				h.write("app.log", "a1\nn2\n")
			},
			want:      []got{{"app.log", 1, "a1\nn2\n"}},
			wantStats: tail.Stats{Bytes: 6, Lines: 2, Truncated: true, Sources: []string{"app.log"}},
		},
		{
			name:   "a file truncated in place with no copy is read from the start and flagged",
			before: func(h *harness) { h.write("app.log", "a1\na2\na3\n") },
			rotate: func(h *harness) {
				h.truncate("app.log")
				h.write("app.log", "x\n")
			},
			want:      []got{{"app.log", 1, "x\n"}},
			wantStats: tail.Stats{Bytes: 2, Lines: 1, Truncated: true, Sources: []string{"app.log"}},
		},
		{
			name:   "a file truncated with no copy and grown past the old offset is read from the start",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.truncate("app.log")
				h.write("app.log", "x1 longer than before\n")
			},
			want:      []got{{"app.log", 1, "x1 longer than before\n"}},
			wantStats: tail.Stats{Bytes: 22, Lines: 1, Truncated: true, Sources: []string{"app.log"}},
		},
		{
			name:   "a predecessor deleted before it was read is skipped and newer generations are read whole",
			before: func(h *harness) { h.write("app.log", "a1\n") },
			rotate: func(h *harness) {
				h.write("app.log", "lost\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\n")
				h.mv("app.log.1", "app.log.2")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "c1\n")
				h.rm("app.log.2") // rotate 1
			},
			want:      []got{{"app.log.1", 1, "b1\n"}, {"app.log", 1, "c1\n"}},
			wantStats: tail.Stats{Bytes: 6, Lines: 2, Rotations: 1, Truncated: true, Sources: []string{"app.log.1", "app.log"}},
		},
		{
			name: "generations older than the last run are not read again",
			before: func(h *harness) {
				h.write("app.log.2", "older\n")
				h.gz("app.log.2")
				h.write("app.log.1", "old\n")
				h.write("app.log", "a1\n")
			},
			rotate: func(h *harness) {
				h.write("app.log", "a2\n")
				h.mv("app.log.2.gz", "app.log.3.gz")
				h.mv("app.log.1", "app.log.2")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\n")
			},
			want:      []got{{"app.log.1", 2, "a2\n"}, {"app.log", 1, "b1\n"}},
			wantStats: tail.Stats{Bytes: 6, Lines: 2, Rotations: 1, Sources: []string{"app.log.1", "app.log"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			tt.before(h)
			first, _ := h.read()
			b, err := os.ReadFile(h.log)
			require.NoError(t, err)
			if s := string(b); s != "" {
				require.Equal(t, []got{{"app.log", 1, s}}, first, "the first run reads the file, not its generations")
			}

			tt.rotate(h)
			gots, st := h.read()
			require.Equal(t, tt.want, gots)
			st.Sources = names(st.Sources)
			require.Equal(t, tt.wantStats, st)

			// The position after the rotation is the live file's last
			// complete line.
			b, err = os.ReadFile(h.log)
			require.NoError(t, err)
			s := string(b)
			partial := s[strings.LastIndex(s, "\n")+1:]
			want := "next\n"
			if partial != "" {
				h.write("app.log", "\n")
				want = partial + "\n" + want
			}
			h.write("app.log", "next\n")
			gots, st = h.read()
			require.Equal(t, []got{{"app.log", int64(strings.Count(s, "\n")) + 1, want}}, gots)
			require.Zero(t, st.Rotations)
			require.False(t, st.Truncated)
		})
	}
}

func TestAMissingFile(t *testing.T) {
	t.Parallel()
	t.Run("a file never seen is reported as not existing and leaves no state", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		r, err := tail.Open(h.state, tail.Options{})
		require.NoError(t, err)
		st, err := r.Read(t.Context(), h.log, func(tail.Segment) error { return nil })
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, h.log)
		require.Equal(t, tail.Stats{}, st)
		require.NoError(t, r.Commit())
		requireStateFiles(t, h.state)
	})
	t.Run("a file rotated away delivers its tail, then the new file is read from line 1", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.write("app.log", "a1\n")
		h.read()
		h.write("app.log", "a2\n")
		h.mv("app.log", "app.log.1")

		gots, st, err := h.readErr()
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.Equal(t, []got{{"app.log.1", 2, "a2\n"}}, gots)
		require.Equal(t, 1, st.Rotations)
		// The caller reports the missing file and commits what it read.
		r, err := tail.Open(h.state, tail.Options{})
		require.NoError(t, err)
		c := &collector{t: t, opts: filled(tail.Options{})}
		_, err = r.Read(t.Context(), h.log, c.fn)
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.Equal(t, []got{{"app.log.1", 2, "a2\n"}}, c.gots)
		require.NoError(t, r.Commit())

		gots, _, err = h.readErr()
		require.ErrorIs(t, err, fs.ErrNotExist, "still missing")
		require.Empty(t, gots, "the tail is not delivered again")

		h.create("app.log", "b1\n")
		gots, st = h.read()
		require.Equal(t, []got{{"app.log", 1, "b1\n"}}, gots)
		require.False(t, st.Truncated)
		require.Zero(t, st.Rotations)
	})
	t.Run("a file missing for a while keeps its position", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		h.write("app.log", "a1\n")
		h.read()
		h.mv("app.log", "away")
		r, err := tail.Open(h.state, tail.Options{})
		require.NoError(t, err)
		_, err = r.Read(t.Context(), h.log, func(tail.Segment) error { return nil })
		require.ErrorIs(t, err, fs.ErrNotExist)
		require.NoError(t, r.Commit())
		requireStateFiles(t, h.state, h.log)

		h.mv("away", "app.log")
		h.write("app.log", "a2\n")
		gots, st := h.read()
		require.Equal(t, []got{{"app.log", 2, "a2\n"}}, gots)
		require.False(t, st.Truncated)
	})
}

func requireStateFiles(t *testing.T, statePath string, want ...string) {
	t.Helper()
	var data struct {
		Files map[string]any `json:"files"`
	}
	err := state.Load(statePath, "tail", 1, &data)
	require.NoError(t, err)
	var keys []string
	for k := range data.Files {
		keys = append(keys, k)
	}
	require.ElementsMatch(t, want, keys)
}

func TestFromEndSkipsWhatIsAlreadyThere(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.opts = tail.Options{FromEnd: true}
	h.write("app.log", "old1\nold2\npart")
	gots, st := h.read()
	require.Empty(t, gots)
	require.Equal(t, int64(4), st.Pending)

	h.write("app.log", "ial\nnew\n")
	gots, _ = h.read()
	require.Equal(t, []got{{"app.log", 3, "partial\nnew\n"}}, gots, "the partial line is read whole, with its true line number")

	h.opts.FromEnd = false
	h.write("other.log", "x\n")
	h.log = h.path("other.log")
	gots, _ = h.read()
	require.Equal(t, []got{{"other.log", 1, "x\n"}}, gots, "by default a new file is read from its start")
}

func TestWithoutAStateFileEveryFileIsReadWhole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.write("app.log", "a\nb\n")
	r, err := tail.Open("", tail.Options{FromEnd: true})
	require.NoError(t, err)
	c := &collector{t: t, opts: filled(tail.Options{})}
	_, err = r.Read(t.Context(), h.log, c.fn)
	require.NoError(t, err)
	require.Equal(t, []got{{"app.log", 1, "a\nb\n"}}, c.gots, "FromEnd is ignored without state")

	h.write("app.log", "c\n")
	c.gots = nil
	_, err = r.Read(t.Context(), h.log, c.fn)
	require.NoError(t, err)
	require.Equal(t, []got{{"app.log", 3, "c\n"}}, c.gots, "the same Reader remembers in memory")
	require.NoError(t, r.Commit())

	ents, err := os.ReadDir(h.dir)
	require.NoError(t, err)
	require.Len(t, ents, 1, "nothing but the log was written")
}

func TestACallbackErrorKeepsThePosition(t *testing.T) {
	t.Parallel()
	lines := "l1\nl2\nl3\nl4\nl5\nl6\n"
	tests := []struct {
		name   string
		opts   tail.Options
		setup  func(h *harness)
		fail   int // the segment that fails
		before []got
		after  []got
	}{
		{
			name:   "a failure in the live file resumes at the failed segment",
			opts:   tail.Options{ChunkSize: 6, MaxLine: 16, Overlap: 2},
			setup:  func(h *harness) { h.write("app.log", lines) },
			fail:   2,
			before: []got{{"app.log", 1, "l1\nl2\n"}},
			after:  []got{{"app.log", 3, "l3\nl4\nl5\nl6\n"}},
		},
		{
			name: "a failure in a rotated file resumes inside it",
			opts: tail.Options{ChunkSize: 6, MaxLine: 16, Overlap: 2},
			setup: func(h *harness) {
				h.write("app.log", "")
				h.read()
				h.write("app.log", lines)
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\n")
			},
			fail:   3,
			before: []got{{"app.log.1", 1, "l1\nl2\nl3\nl4\n"}},
			after:  []got{{"app.log.1", 5, "l5\nl6\n"}, {"app.log", 1, "b1\n"}},
		},
		{
			name: "a failure after a rotated file resumes in the next one",
			opts: tail.Options{ChunkSize: 6, MaxLine: 16, Overlap: 2},
			setup: func(h *harness) {
				h.write("app.log", "")
				h.read()
				h.write("app.log", "a1\n")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "b1\nb2\n")
				h.mv("app.log.1", "app.log.2")
				h.mv("app.log", "app.log.1")
				h.create("app.log", "c1\n")
			},
			fail:   3,
			before: []got{{"app.log.2", 1, "a1\n"}, {"app.log.1", 1, "b1\nb2\n"}},
			after:  []got{{"app.log", 1, "c1\n"}},
		},
		{
			name:   "a failure inside a long line delivers the whole line again",
			opts:   tail.Options{ChunkSize: 16, MaxLine: 16, Overlap: 2},
			setup:  func(h *harness) { h.write("app.log", "s1\n"+strings.Repeat("x", 40)+"\ns3\n") },
			fail:   3,
			before: []got{{"app.log", 1, "s1\n"}, {"app.log", 2, strings.Repeat("x", 14)}},
			after:  []got{{"app.log", 2, strings.Repeat("x", 40) + "\ns3\n"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.opts = tt.opts
			tt.setup(h)

			r, err := tail.Open(h.state, tt.opts)
			require.NoError(t, err)
			c := &collector{t: t, opts: filled(tt.opts), fail: tt.fail}
			_, err = r.Read(t.Context(), h.log, c.fn)
			require.ErrorIs(t, err, errConsumer, "the consumer's error is returned")
			require.Equal(t, mergeGots(tt.before), mergeGots(c.gots))
			require.NoError(t, r.Commit(), "the caller may commit what was delivered")

			gots, _ := h.read()
			require.Equal(t, mergeGots(tt.after), mergeGots(gots))
		})
	}
}

// mergeGots joins consecutive gots of one source, so that cases can be
// written without knowing where segments end.
func mergeGots(gs []got) []got {
	var out []got
	for _, g := range gs {
		if n := len(out); n > 0 && out[n-1].Name == g.Name {
			out[n-1].Text += g.Text
			continue
		}
		out = append(out, g)
	}
	return out
}

func TestACancelledContextStopsTheRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.opts = tail.Options{ChunkSize: 4, MaxLine: 16}
	h.write("app.log", "l1\nl2\nl3\n")

	ctx, cancel := context.WithCancelCause(t.Context())
	cause := errors.New("check timed out")
	cancel(cause)
	r, err := tail.Open(h.state, h.opts)
	require.NoError(t, err)
	_, err = r.Read(ctx, h.log, func(tail.Segment) error { return nil })
	require.ErrorIs(t, err, cause)
	require.ErrorContains(t, err, h.log)

	ctx, cancel = context.WithCancelCause(t.Context())
	var seen []string
	_, err = r.Read(ctx, h.log, func(s tail.Segment) error {
		seen = append(seen, string(s.Data))
		cancel(cause)
		return nil
	})
	require.ErrorIs(t, err, cause)
	require.Equal(t, []string{"l1\n"}, seen)
	require.NoError(t, r.Commit())
	gots, _ := h.read()
	require.Equal(t, []got{{"app.log", 2, "l2\nl3\n"}}, mergeGots(gots))
}

func TestCommitKeepsPositionsNotContents(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	secret := "user=alice@example.com card=4111111111111111"
	h.write("app.log", secret+"\n")
	h.write("other.log", "x\n")

	r, err := tail.Open(h.state, tail.Options{})
	require.NoError(t, err)
	for _, p := range []string{h.log, h.path("other.log")} {
		_, err := r.Read(t.Context(), p, func(tail.Segment) error { return nil })
		require.NoError(t, err)
	}
	require.NoError(t, r.Commit())
	fi, err := os.Stat(h.state)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	raw, err := os.ReadFile(h.state)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "alice")
	require.NotContains(t, string(raw), "4111")
	requireStateFiles(t, h.state, h.log, h.path("other.log"))

	// A run that reads only app.log forgets other.log.
	h.read()
	requireStateFiles(t, h.state, h.log)
}

func TestForgetDropsOnlyPathsNotRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.write("app.log", "a\n")
	h.read()

	r, err := tail.Open(h.state, tail.Options{})
	require.NoError(t, err)
	_, err = r.Read(t.Context(), h.path("gone.log"), func(tail.Segment) error { return nil })
	require.ErrorIs(t, err, fs.ErrNotExist)
	r.Forget()
	require.NoError(t, r.Commit())
	requireStateFiles(t, h.state)

	// A relative path is the same file as its absolute form.
	h.read()
	wd, err := os.Getwd()
	require.NoError(t, err)
	rel, err := filepath.Rel(wd, h.log)
	require.NoError(t, err)
	r, err = tail.Open(h.state, tail.Options{})
	require.NoError(t, err)
	var n int
	_, err = r.Read(t.Context(), rel, func(tail.Segment) error { n++; return nil })
	require.NoError(t, err)
	require.Zero(t, n, "already read under its absolute name")
}

func TestOpenRefusesStateItCannotTrust(t *testing.T) {
	t.Parallel()
	valid := `{"dev":1,"ino":2,"offset":3,"lines":1,"size":3,"head":"` + strings.Repeat("ab", 32) + `","head_len":3}`
	tests := []struct {
		name    string
		content string
		wantErr string
	}{
		{name: "a damaged file", content: `{"kind":"tail","version":1,"data":{"files":`, wantErr: "damaged"},
		{name: "another kind of state", content: `{"kind":"fim-baseline","version":1,"data":{}}`, wantErr: `"fim-baseline"`},
		{name: "another version", content: `{"kind":"tail","version":2,"data":{}}`, wantErr: "version 2"},
		{name: "a negative offset", content: `{"kind":"tail","version":1,"data":{"files":{"/l":` + strings.Replace(valid, `"offset":3`, `"offset":-3`, 1) + `}}}`, wantErr: "negative"},
		{name: "more lines than bytes", content: `{"kind":"tail","version":1,"data":{"files":{"/l":` + strings.Replace(valid, `"lines":1`, `"lines":9`, 1) + `}}}`, wantErr: "9 lines in 3 bytes"},
		{name: "an offset past the size", content: `{"kind":"tail","version":1,"data":{"files":{"/l":` + strings.Replace(valid, `"size":3`, `"size":2`, 1) + `}}}`, wantErr: "past size"},
		{name: "a head that is not a hash", content: `{"kind":"tail","version":1,"data":{"files":{"/l":` + strings.Replace(valid, "abab", "zz", 1) + `}}}`, wantErr: "not a SHA-256"},
		{name: "a head length out of range", content: `{"kind":"tail","version":1,"data":{"files":{"/l":` + strings.Replace(valid, `"head_len":3`, `"head_len":2000`, 1) + `}}}`, wantErr: "out of range"},
		{name: "a null entry", content: `{"kind":"tail","version":1,"data":{"files":{"/l":null}}}`, wantErr: "empty entry"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" is refused with the file's name", func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "tail.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			_, err := tail.Open(path, tail.Options{})
			require.ErrorContains(t, err, path)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
	t.Run("a valid file is accepted", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "tail.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"kind":"tail","version":1,"data":{"files":{"/l":`+valid+`}}}`), 0o600))
		_, err := tail.Open(path, tail.Options{})
		require.NoError(t, err)
	})
}

func TestOpenRefusesBadOptionsBeforeAnyIO(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    tail.Options
		wantErr string
	}{
		{name: "a negative chunk size", opts: tail.Options{ChunkSize: -1}, wantErr: "must not be negative"},
		{name: "a tiny MaxLine", opts: tail.Options{MaxLine: 8}, wantErr: "at least 16"},
		{name: "an overlap of half a line", opts: tail.Options{MaxLine: 100, Overlap: 50}, wantErr: "less than half of MaxLine"},
		{name: "a default overlap too big for a short MaxLine is not an error", opts: tail.Options{MaxLine: 100}},
		{name: "a buffer over 1 GiB", opts: tail.Options{ChunkSize: 1 << 30}, wantErr: "must not exceed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The state path is a directory: any I/O would fail differently.
			_, err := tail.Open(t.TempDir(), tt.opts)
			if tt.wantErr == "" {
				require.ErrorContains(t, err, "read state")
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestWithoutAStateFileTheLastLineIsReadEvenWithoutANewline(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.write("app.log", "a\nlast without newline")
	r, err := tail.Open("", tail.Options{})
	require.NoError(t, err)
	c := &collector{t: t, opts: filled(tail.Options{})}
	st, err := r.Read(t.Context(), h.log, c.fn)
	require.NoError(t, err)
	require.Equal(t, []got{{"app.log", 1, "a\nlast without newline"}}, c.gots, "there is no next run to wait for")
	require.Zero(t, st.Pending)
	require.EqualValues(t, 2, st.Lines)
}

func TestReadRefusesWhatIsNotALog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r, err := tail.Open("", tail.Options{})
	require.NoError(t, err)
	_, err = r.Read(t.Context(), dir, func(tail.Segment) error { return nil })
	require.ErrorContains(t, err, "not a regular file")
	require.ErrorContains(t, err, dir)
}

func FuzzOpenNeverPanics(f *testing.F) {
	head := strings.Repeat("ab", 32)
	f.Add(`{"kind":"tail","version":1,"data":{"files":{"/l":{"dev":1,"ino":2,"offset":3,"lines":1,"size":3,"head":"` + head + `","head_len":3}}}}`)
	f.Add(`{"kind":"tail","version":1,"data":{"files":{"/l":{"offset":9223372036854775807,"lines":0,"size":9223372036854775807,"head":"` + head + `","head_len":1024,"rotated":{"head":"` + head + `","head_len":0}}}}}`)
	f.Add(`{"kind":"tail","version":1,"data":null}`)
	f.Add(`{"kind":"tail","version":1,"data":{"files":{"":{}}}}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, content string) {
		dir := t.TempDir()
		statePath := filepath.Join(dir, "tail.json")
		logPath := filepath.Join(dir, "app.log")
		require.NoError(t, os.WriteFile(logPath, []byte("abc\ndef\n"), 0o600))
		require.NoError(t, os.WriteFile(logPath+".1", []byte("old\n"), 0o600))
		// Point every entry at the test's log, whatever its name.
		content = strings.ReplaceAll(content, `"/l"`, `"`+logPath+`"`)
		require.NoError(t, os.WriteFile(statePath, []byte(content), 0o600))
		r, err := tail.Open(statePath, tail.Options{ChunkSize: 4, MaxLine: 16})
		if err != nil {
			require.ErrorContains(t, err, statePath)
			return
		}
		_, err = r.Read(t.Context(), logPath, func(tail.Segment) error { return nil })
		require.NoError(t, err)
		require.NoError(t, r.Commit())
	})
}

func TestReadStreamDeliversAWholeStreamInBoundedSegments(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("z", 300)
	in := "one\ntwo\n" + long + "\nlast without newline"
	var got []string
	var starts []int64
	st, err := tail.ReadStream(t.Context(), strings.NewReader(in), "stdin", tail.Options{ChunkSize: 64, MaxLine: 128, Overlap: 16}, func(s tail.Segment) error {
		require.Equal(t, "stdin", s.Path)
		require.LessOrEqual(t, len(s.Data), 128)
		got = append(got, string(s.Data[s.Start:s.End]))
		starts = append(starts, s.Line)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, in, strings.Join(got, ""), "every byte owned exactly once, the last line included")
	require.EqualValues(t, len(in), st.Bytes)
	require.EqualValues(t, 4, st.Lines)
	require.Equal(t, []string{"stdin"}, st.Sources)
	require.EqualValues(t, 1, starts[0])
}

// hesitant returns one byte per read, with an empty read before each.
type hesitant struct {
	r     io.Reader
	empty bool
}

func (h *hesitant) Read(p []byte) (int, error) {
	if h.empty = !h.empty; h.empty {
		return 0, nil
	}
	return h.r.Read(p[:1])
}

func TestReadStreamToleratesEmptyReadsBetweenProgress(t *testing.T) {
	t.Parallel()
	in := strings.Repeat("a line\n", 50)
	var got strings.Builder
	_, err := tail.ReadStream(t.Context(), &hesitant{r: strings.NewReader(in)}, "stdin", tail.Options{}, func(s tail.Segment) error {
		got.Write(s.Data[s.Start:s.End])
		return nil
	})
	require.NoError(t, err, "350 empty reads, but never 100 in a row")
	require.Equal(t, in, got.String())

	_, err = tail.ReadStream(t.Context(), iotest.ErrReader(nil), "stdin", tail.Options{}, func(tail.Segment) error { return nil })
	require.ErrorIs(t, err, io.ErrNoProgress, "a reader that never moves is an error")
}
