package tail_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/tail"
)

func TestSegmentsEndOnLinesAndStayNearChunkSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts tail.Options
	}{
		{name: "chunks smaller than MaxLine", opts: tail.Options{ChunkSize: 50, MaxLine: 120, Overlap: 10}},
		{name: "chunks larger than MaxLine keep long lines out of whole segments", opts: tail.Options{ChunkSize: 300, MaxLine: 40, Overlap: 8}},
		{name: "chunks of one byte", opts: tail.Options{ChunkSize: 1, MaxLine: 16, Overlap: 4}},
	}
	var content strings.Builder
	for i := range 200 {
		content.WriteString(strings.Repeat(string(rune('a'+i%26)), (i*37)%150))
		content.WriteString("\n")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			h.opts = tt.opts
			h.write("app.log", content.String())
			r, err := tail.Open(h.state, tt.opts)
			require.NoError(t, err)
			var owned strings.Builder
			line := int64(1)
			_, err = r.Read(t.Context(), h.log, func(s tail.Segment) error {
				requireSegment(t, s, tt.opts)
				require.Equal(t, line, s.Line)
				if !s.Cut {
					require.True(t, bytes.HasSuffix(s.Data, []byte("\n")), "a segment ends on a line")
				}
				whole := s.Start == 0 && !s.Cut
				if whole && len(s.Data) > tt.opts.ChunkSize {
					require.Equal(t, 1, bytes.Count(s.Data, []byte("\n")), "a segment over ChunkSize is a single line")
				}
				if whole {
					for l := range strings.SplitSeq(strings.TrimSuffix(string(s.Data), "\n"), "\n") {
						require.LessOrEqual(t, len(l)+1, tt.opts.MaxLine, "a whole line is at most MaxLine")
					}
				}
				owned.Write(s.Data[s.Start:s.End])
				line += int64(bytes.Count(s.Data[s.Start:s.End], []byte("\n")))
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, content.String(), owned.String(), "every byte is owned exactly once")
		})
	}
}

// TestALongLineMatchIsSeenWholeExactlyOnce plants a 40-byte token at every
// offset of lines longer than MaxLine, so that it straddles every piece
// boundary, and checks that a consumer counting matches that start in
// [Start, End) sees each token once, whole.
func TestALongLineMatchIsSeenWholeExactlyOnce(t *testing.T) {
	t.Parallel()
	const token = "0123456789abcdefghijklmnopqrstuvwxyzABCD"
	opts := tail.Options{ChunkSize: 100, MaxLine: 200, Overlap: len(token)}
	tests := []struct {
		name    string
		lineLen int
		// rotated puts the lines in a compressed rotated file whose last
		// line has no newline.
		rotated bool
	}{
		{name: "lines just over MaxLine", lineLen: opts.MaxLine + 1},
		{name: "lines of many pieces", lineLen: 1000},
		{name: "lines in a finished compressed file ending without a newline", lineLen: 700, rotated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var content strings.Builder
			n := 0
			for k := 0; k+len(token) <= tt.lineLen-1; k++ {
				content.WriteString(strings.Repeat(".", k) + token + strings.Repeat(".", tt.lineLen-1-k-len(token)) + "\n")
				n++
			}
			text := content.String()
			h := newHarness(t)
			h.opts = opts
			if tt.rotated {
				text = strings.TrimSuffix(text, "\n")
				h.write("app.log", "")
				h.read()
				h.write("app.log", text)
				h.mv("app.log", "app.log.1")
				h.gz("app.log.1")
				h.create("app.log", "")
			} else {
				h.write("app.log", text)
			}

			r, err := tail.Open(h.state, opts)
			require.NoError(t, err)
			seen := map[int64]int{}
			var owned strings.Builder
			pieces := 0
			_, err = r.Read(t.Context(), h.log, func(s tail.Segment) error {
				requireSegment(t, s, opts)
				if s.Cut {
					pieces++
				}
				for i := 0; ; {
					j := bytes.Index(s.Data[i:], []byte(token))
					if j < 0 {
						break
					}
					if p := i + j; p >= s.Start && p < s.End {
						seen[s.Line]++
					}
					i += j + 1
				}
				owned.Write(s.Data[s.Start:s.End])
				return nil
			})
			require.NoError(t, err)
			require.Equal(t, text, owned.String(), "the owned parts rebuild the file")
			require.Positive(t, pieces, "lines were cut")
			require.Len(t, seen, n)
			for line, c := range seen {
				require.Equal(t, 1, c, "line %d", line)
			}
		})
	}
}

func TestALongPartialLineWaitsInTheLiveFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.opts = tail.Options{ChunkSize: 16, MaxLine: 32, Overlap: 4}
	long := strings.Repeat("x", 100)
	h.write("app.log", "a\n"+long)
	gots, st := h.read()
	require.Equal(t, []got{{"app.log", 1, "a\n"}}, gots)
	require.Equal(t, int64(100), st.Pending)
	h.write("app.log", "\n")
	gots, _ = h.read()
	require.Equal(t, []got{{"app.log", 2, long + "\n"}}, gots)
}

// TestAHugeFileIsReadInBoundedSegments reads a 200 MB file (sparse: its
// long runs of zero bytes are lines of several MB) and checks that no
// Segment, and no buffer behind one, grows past ChunkSize+MaxLine.
func TestAHugeFileIsReadInBoundedSegments(t *testing.T) {
	t.Parallel()
	const size = 200 << 20
	path := filepath.Join(t.TempDir(), "big.log")
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(size))
	short := strings.Repeat("a short line of text\n", 100_000)
	_, err = f.WriteAt([]byte(short), 0)
	require.NoError(t, err)
	lines := int64(100_000)
	for off := int64(8 << 20); off < size-1; off += 7<<20 + 12345 {
		_, err = f.WriteAt([]byte("\n"), off)
		require.NoError(t, err)
		lines++
	}
	_, err = f.WriteAt([]byte("\n"), size-1)
	require.NoError(t, err)
	lines++
	require.NoError(t, f.Close())

	opts := tail.Options{} // 1 MiB chunks and lines
	full := filled(opts)
	r, err := tail.Open("", opts)
	require.NoError(t, err)
	var owned, biggest, segments int64
	st, err := r.Read(t.Context(), path, func(s tail.Segment) error {
		segments++
		biggest = max(biggest, int64(len(s.Data)))
		require.LessOrEqual(t, cap(s.Data), full.ChunkSize+full.MaxLine, "the buffer behind a segment is bounded")
		owned += int64(s.End - s.Start)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(size), owned)
	require.Equal(t, int64(size), st.Bytes)
	require.Equal(t, lines, st.Lines)
	require.LessOrEqual(t, biggest, int64(max(full.ChunkSize, full.MaxLine)))
	require.Greater(t, segments, int64(size/(2<<20)), "the file came in many segments")
}

// BenchmarkReadLines reads a 32 MiB log of 100-byte lines from its start.
func BenchmarkReadLines(b *testing.B) {
	path := filepath.Join(b.TempDir(), "app.log")
	line := strings.Repeat("2026-11-23T10:00:00Z app[123]: user logged in from 192.0.2.1 ", 2)[:99] + "\n"
	require.NoError(b, os.WriteFile(path, []byte(strings.Repeat(line, 32<<20/len(line))), 0o600))
	fi, err := os.Stat(path)
	require.NoError(b, err)
	b.SetBytes(fi.Size())
	for b.Loop() {
		r, err := tail.Open("", tail.Options{})
		require.NoError(b, err)
		_, err = r.Read(b.Context(), path, func(tail.Segment) error { return nil })
		require.NoError(b, err)
	}
}
