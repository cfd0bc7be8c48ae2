package tail_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/tail"
)

// TestConcurrentAppendsAndRenamesAreReadExactlyOnce runs an application
// with its logrotate in one goroutine and check processes in the test's,
// with no coordination: appends (half lines included), rename-and-create
// rotations with numbered shifting and delayed gzip, and reads race
// freely, on a file system that reuses inodes. Renames lose nothing
// whatever the interleaving (copytruncate can: see the package doc), so
// every line must be read exactly once, in order.
func TestConcurrentAppendsAndRenamesAreReadExactlyOnce(t *testing.T) {
	t.Parallel()
	const lines = 3000
	h := newHarness(t)
	h.write("app.log", "")
	h.read() // the check is deployed before the application starts logging

	done := make(chan error, 1)
	go func() { done <- runApp(h.dir, lines) }()

	var got bytes.Buffer
	var genPos, genLines int64
	runs := 0
	for finished := false; ; runs++ {
		select {
		case err := <-done:
			require.NoError(t, err)
			finished = true
		default:
		}
		r, err := tail.Open(h.state, tail.Options{ChunkSize: 512, MaxLine: 256, Overlap: 32})
		require.NoError(t, err)
		_, err = r.Read(t.Context(), h.log, func(s tail.Segment) error {
			if start := s.Offset + int64(s.Start); start == 0 {
				genPos, genLines = 0, 0
			}
			require.Equal(t, genPos, s.Offset+int64(s.Start), "%s: contiguous", s.Path)
			require.Equal(t, genLines+1, s.Line, "%s: line number", s.Path)
			owned := s.Data[s.Start:s.End]
			got.Write(owned)
			genPos += int64(len(owned))
			genLines += int64(bytes.Count(owned, []byte("\n")))
			return nil
		})
		if !errors.Is(err, fs.ErrNotExist) { // between logrotate's rename and create
			require.NoError(t, err)
		}
		require.NoError(t, r.Commit())
		if finished {
			break
		}
	}

	all := strings.Split(strings.TrimSuffix(got.String(), "\n"), "\n")
	for i, l := range all {
		require.True(t, strings.HasPrefix(l, fmt.Sprintf("line %06d ", i)), "line %d is %.40q", i, l)
	}
	require.Len(t, all, lines)
	t.Logf("%d runs", runs)
}

// runApp appends numbered lines to app.log in dir, sometimes in two
// writes, and every 150 lines rotates it as logrotate does with rotate,
// create, compress and delaycompress: .N.gz becomes .N+1.gz, .1 becomes .2
// and is then compressed, app.log becomes .1, a new app.log is created and
// the application reopens it.
func runApp(dir string, lines int) error {
	rng := rand.New(rand.NewPCG(7, 11))
	live := filepath.Join(dir, "app.log")
	name := func(k int) string {
		if k == 1 {
			return live + ".1"
		}
		return fmt.Sprintf("%s.%d.gz", live, k)
	}
	f, err := os.OpenFile(live, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	gens := 0
	for i := range lines {
		line := fmt.Sprintf("line %06d %s\n", i, strings.Repeat("x", rng.IntN(300)))
		if rng.IntN(4) == 0 {
			cut := 12 + rng.IntN(len(line)-12)
			if _, err := f.WriteString(line[:cut]); err != nil {
				return err
			}
			runtime.Gosched()
			line = line[cut:]
		}
		if _, err := f.WriteString(line); err != nil {
			return err
		}
		if i%10 == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		if i == 0 || i%150 != 0 {
			continue
		}
		for k := gens; k >= 2; k-- {
			if err := os.Rename(name(k), name(k+1)); err != nil {
				return err
			}
		}
		if gens >= 1 {
			if err := os.Rename(name(1), live+".2"); err != nil {
				return err
			}
		}
		if err := os.Rename(live, name(1)); err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if f, err = os.OpenFile(live, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err != nil {
			return err
		}
		gens++
		if gens >= 2 {
			if err := gzipInPlace(live + ".2"); err != nil {
				return err
			}
		}
	}
	return f.Close()
}

// gzipInPlace compresses path as gzip does: path.gz is written while path
// still exists, then path is removed.
func gzipInPlace(path string) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(path+".gz", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(out)
	if _, err := io.Copy(zw, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Remove(path)
}
