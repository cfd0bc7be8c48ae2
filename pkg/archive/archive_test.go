package archive_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/archive"
	"github.com/vigil-sec/vigil/pkg/state"
)

// day is noon UTC of a date, far from any day boundary.
func day(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 12, 0, 0, 0, time.UTC)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		if e.Name() != ".lock" {
			out = append(out, e.Name())
		}
	}
	return out
}

func requireMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}

// scanAll returns every line Scan yields between from and to.
func scanAll(t *testing.T, dir string, from, to time.Time) []string {
	t.Helper()
	var out []string
	require.NoError(t, archive.Scan(dir, from, to, func(line []byte) error {
		out = append(out, string(line))
		return nil
	}))
	return out
}

func appendLine(t *testing.T, w *archive.Writer, line string, at time.Time) string {
	t.Helper()
	path, err := w.Append(t.Context(), []byte(line), at)
	require.NoError(t, err)
	return path
}

func TestAppendNamesTheFileAfterTheEventsUTCDay(t *testing.T) {
	t.Parallel()
	ahead := time.FixedZone("UTC+05", 5*3600)
	behind := time.FixedZone("UTC-08", -8*3600)
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{name: "a UTC time gives its own day", at: time.Date(2024, 3, 9, 23, 59, 59, 0, time.UTC), want: "events-2024-03-09.jsonl"},
		{name: "early morning east of UTC is still the previous day", at: time.Date(2024, 3, 10, 1, 30, 0, 0, ahead), want: "events-2024-03-09.jsonl"},
		{name: "late evening west of UTC is already the next day", at: time.Date(2024, 3, 9, 20, 0, 0, 0, behind), want: "events-2024-03-10.jsonl"},
		{name: "midnight UTC starts the new day", at: time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC), want: "events-2024-03-10.jsonl"},
		{name: "a leap day is a day", at: time.Date(2024, 2, 29, 12, 0, 0, 0, time.UTC), want: "events-2024-02-29.jsonl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "archive")
			w := &archive.Writer{Dir: dir}
			path := appendLine(t, w, `{"a":1}`, tt.at)
			require.Equal(t, filepath.Join(dir, tt.want), path)
			require.Equal(t, []string{tt.want}, files(t, dir))
			require.Equal(t, "{\"a\":1}\n", read(t, path))
			requireMode(t, path, 0o600)
			requireMode(t, dir, 0o700)
		})
	}
}

func TestAppendAddsWholeLines(t *testing.T) {
	t.Parallel()
	w := &archive.Writer{Dir: t.TempDir()}
	at := day(2024, 5, 1)
	var path string
	for i := range 3 {
		path = appendLine(t, w, fmt.Sprintf(`{"n":%d}`, i), at)
	}
	require.Equal(t, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n", read(t, path))
}

func TestAppendRefusesBadLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    []byte
		wantErr string
	}{
		{name: "a line feed would split the event", line: []byte("{\"a\":\n1}"), wantErr: "newline"},
		{name: "a trailing newline is refused too", line: []byte("{\"a\":1}\n"), wantErr: "newline"},
		{name: "a carriage return is refused", line: []byte("{\"a\":\r1}"), wantErr: "newline"},
		{name: "a line over the limit is refused", line: make([]byte, archive.MaxLine), wantErr: "exceeds the archive line limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "archive")
			w := &archive.Writer{Dir: dir}
			_, err := w.Append(t.Context(), tt.line, day(2024, 5, 1))
			require.ErrorContains(t, err, tt.wantErr)
			_, serr := os.Stat(dir)
			require.ErrorIs(t, serr, fs.ErrNotExist, "nothing is written")
		})
	}
}

func TestAppendStartsANewSegmentAtTheSizeLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Each line is 10 bytes plus the newline.
	w := &archive.Writer{Dir: dir, MaxSize: 20}
	at := day(2024, 6, 1)
	var paths []string
	for i := range 4 {
		paths = append(paths, appendLine(t, w, fmt.Sprintf(`{"n":%04d}`, i), at))
	}
	require.Equal(t, []string{
		filepath.Join(dir, "events-2024-06-01.jsonl"),
		filepath.Join(dir, "events-2024-06-01.1.jsonl"),
		filepath.Join(dir, "events-2024-06-01.2.jsonl"),
		filepath.Join(dir, "events-2024-06-01.3.jsonl"),
	}, paths)
	require.Equal(t, "{\"n\":0000}\n", read(t, paths[0]))
	require.Equal(t, "{\"n\":0003}\n", read(t, paths[3]))
	require.Equal(t, []string{`{"n":0000}`, `{"n":0001}`, `{"n":0002}`, `{"n":0003}`}, scanAll(t, dir, time.Time{}, time.Time{}))
}

func TestSegmentBoundaries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		maxSize int64
		lines   []string
		want    map[string]string
	}{
		{
			name:    "a line that fills the file exactly stays in it",
			maxSize: 22,
			lines:   []string{"0123456789", "abcdefghij"},
			want:    map[string]string{"events-2024-06-01.jsonl": "0123456789\nabcdefghij\n"},
		},
		{
			name:    "one byte more starts a new segment",
			maxSize: 21,
			lines:   []string{"0123456789", "abcdefghij"},
			want:    map[string]string{"events-2024-06-01.jsonl": "0123456789\n", "events-2024-06-01.1.jsonl": "abcdefghij\n"},
		},
		{
			name:    "a line bigger than the limit still goes into an empty file",
			maxSize: 5,
			lines:   []string{"0123456789", "abcdefghij"},
			want:    map[string]string{"events-2024-06-01.jsonl": "0123456789\n", "events-2024-06-01.1.jsonl": "abcdefghij\n"},
		},
		{
			name:    "no limit means the 100 MiB default",
			maxSize: 0,
			lines:   []string{"0123456789", "abcdefghij", "klmnopqrst"},
			want:    map[string]string{"events-2024-06-01.jsonl": "0123456789\nabcdefghij\nklmnopqrst\n"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			w := &archive.Writer{Dir: dir, MaxSize: tt.maxSize}
			for _, l := range tt.lines {
				appendLine(t, w, l, day(2024, 6, 1))
			}
			got := map[string]string{}
			for _, f := range files(t, dir) {
				got[f] = read(t, filepath.Join(dir, f))
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestEachDayHasItsOwnSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := &archive.Writer{Dir: dir, MaxSize: 12}
	appendLine(t, w, "day1-line1", day(2024, 6, 1))
	appendLine(t, w, "day1-line2", day(2024, 6, 1))
	// A new day starts at its base file even though the previous day rotated.
	require.Equal(t, filepath.Join(dir, "events-2024-06-02.jsonl"), appendLine(t, w, "day2-line1", day(2024, 6, 2)))
	// A late event for the first day goes to that day's latest segment's
	// successor, not to the new day.
	require.Equal(t, filepath.Join(dir, "events-2024-06-01.2.jsonl"), appendLine(t, w, "day1-line3", day(2024, 6, 1)))
	require.Equal(t, []string{"day1-line1", "day1-line2", "day1-line3", "day2-line1"}, scanAll(t, dir, time.Time{}, time.Time{}))
}

func TestAppendContinuesTheLatestSegment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Segments written by an earlier run, with room left in the latest.
	write(t, filepath.Join(dir, "events-2024-06-01.jsonl"), "a\n")
	write(t, filepath.Join(dir, "events-2024-06-01.1.jsonl"), "b\n")
	write(t, filepath.Join(dir, "events-2024-06-01.10.jsonl"), "c\n")
	write(t, filepath.Join(dir, "events-2024-06-01.2.jsonl"), "d\n")
	w := &archive.Writer{Dir: dir, MaxSize: 100}
	path := appendLine(t, w, "e", day(2024, 6, 1))
	require.Equal(t, filepath.Join(dir, "events-2024-06-01.10.jsonl"), path, "index 10 is after index 2")
	require.Equal(t, "c\ne\n", read(t, path))
}

func TestAppendRepairsAPartialLastLine(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("z", 200<<10) // longer than the repair's 64 KiB block
	tests := []struct {
		name   string
		before string
		want   string
	}{
		{
			name:   "a partial line after complete lines is cut",
			before: "{\"a\":1}\n{\"b\":2}\n{\"c\":",
			want:   "{\"a\":1}\n{\"b\":2}\n{\"new\":true}\n",
		},
		{
			name:   "a file that is only a partial line is emptied first",
			before: "{\"half\":",
			want:   "{\"new\":true}\n",
		},
		{
			name:   "a partial line longer than one read block is cut",
			before: "{\"a\":1}\n" + long,
			want:   "{\"a\":1}\n{\"new\":true}\n",
		},
		{
			name:   "a long partial line alone is cut",
			before: long,
			want:   "{\"new\":true}\n",
		},
		{
			name:   "a long complete line is kept",
			before: long + "\n",
			want:   long + "\n{\"new\":true}\n",
		},
		{
			name:   "a complete file is left alone",
			before: "{\"a\":1}\n",
			want:   "{\"a\":1}\n{\"new\":true}\n",
		},
		{
			name:   "an empty file is used as is",
			before: "",
			want:   "{\"new\":true}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "events-2024-07-01.jsonl")
			write(t, path, tt.before)
			w := &archive.Writer{Dir: dir}
			require.Equal(t, path, appendLine(t, w, `{"new":true}`, day(2024, 7, 1)))
			require.Equal(t, tt.want, read(t, path))
		})
	}
}

func TestRepairHappensBeforeTheSizeCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "events-2024-07-01.jsonl")
	// 11 bytes of complete line and 30 bytes of a killed write: only the
	// complete line counts towards the limit.
	write(t, path, "0123456789\n"+strings.Repeat("p", 30))
	w := &archive.Writer{Dir: dir, MaxSize: 22}
	require.Equal(t, path, appendLine(t, w, "abcdefghij", day(2024, 7, 1)))
	require.Equal(t, "0123456789\nabcdefghij\n", read(t, path))
}

func TestScanYieldsCompleteLinesOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "events-2024-08-01.jsonl"), "{\"a\":1}\n{\"b\":2}\n{\"c\":")
	write(t, filepath.Join(dir, "events-2024-08-02.jsonl"), "{\"d\":4}\n")
	require.Equal(t, []string{`{"a":1}`, `{"b":2}`, `{"d":4}`}, scanAll(t, dir, time.Time{}, time.Time{}),
		"the unterminated tail is skipped and the next file is still read")
}

func TestScanReadsFilesInOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Created out of order, with names that sort wrongly as strings.
	write(t, filepath.Join(dir, "events-2024-08-02.jsonl"), "day2\n")
	write(t, filepath.Join(dir, "events-2024-08-01.10.jsonl"), "day1-10\n")
	write(t, filepath.Join(dir, "events-2024-08-01.2.jsonl"), "day1-2\n")
	write(t, filepath.Join(dir, "events-2024-08-01.jsonl"), "day1-0\n")
	write(t, filepath.Join(dir, "events-2024-08-01.1.jsonl"), "day1-1\n")
	// Files that are not segments are ignored.
	write(t, filepath.Join(dir, "events-2024-08-01.jsonl.bak"), "backup\n")
	write(t, filepath.Join(dir, "notes.txt"), "notes\n")
	write(t, filepath.Join(dir, "events-24-08-01.jsonl"), "bad name\n")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "events-2024-08-03.jsonl"), 0o700))

	require.Equal(t, []string{"day1-0", "day1-1", "day1-2", "day1-10", "day2"}, scanAll(t, dir, time.Time{}, time.Time{}))
}

func TestScanFiltersByDay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for d := 1; d <= 5; d++ {
		write(t, filepath.Join(dir, fmt.Sprintf("events-2024-09-%02d.jsonl", d)), fmt.Sprintf("day%d\n", d))
	}
	write(t, filepath.Join(dir, "events-2024-09-03.1.jsonl"), "day3-more\n")
	ahead := time.FixedZone("UTC+05", 5*3600)
	tests := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{name: "zero bounds read everything", want: []string{"day1", "day2", "day3", "day3-more", "day4", "day5"}},
		{name: "both bounds are inclusive", from: day(2024, 9, 2), to: day(2024, 9, 3), want: []string{"day2", "day3", "day3-more"}},
		{name: "only a start", from: day(2024, 9, 4), want: []string{"day4", "day5"}},
		{name: "only an end", to: day(2024, 9, 1), want: []string{"day1"}},
		{name: "the time of day does not matter", from: time.Date(2024, 9, 5, 23, 59, 0, 0, time.UTC), to: time.Date(2024, 9, 5, 0, 0, 0, 0, time.UTC), want: []string{"day5"}},
		{name: "bounds are read as UTC days", from: time.Date(2024, 9, 3, 2, 0, 0, 0, ahead), to: time.Date(2024, 9, 3, 2, 0, 0, 0, ahead), want: []string{"day2"}},
		{name: "an empty range reads nothing", from: day(2024, 9, 10), to: day(2024, 9, 20), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, scanAll(t, dir, tt.from, tt.to))
		})
	}
}

func TestScanHandlesLongLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mib := strings.Repeat("m", 1<<20)
	just := strings.Repeat("j", 256<<10) // exactly the reader's buffer, newline excluded
	write(t, filepath.Join(dir, "events-2024-10-01.jsonl"), "short\n"+mib+"\n"+just+"\n"+"after\n"+mib+"unterminated")
	got := scanAll(t, dir, time.Time{}, time.Time{})
	require.Len(t, got, 4)
	require.Equal(t, "short", got[0])
	require.Equal(t, mib, got[1], "a 1 MiB line comes whole")
	require.Equal(t, just, got[2])
	require.Equal(t, "after", got[3], "an unterminated long tail is skipped")
}

func TestScanRefusesALineOverTheLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "events-2024-10-01.jsonl")
	// A sparse file: one line of MaxLine+1 NUL bytes, then the newline.
	f, err := os.Create(path)
	require.NoError(t, err)
	require.NoError(t, f.Truncate(archive.MaxLine+1))
	_, err = f.WriteAt([]byte("\n"), archive.MaxLine+1)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	err = archive.Scan(dir, time.Time{}, time.Time{}, func([]byte) error { return nil })
	require.ErrorContains(t, err, "line over 64 MiB")
	require.ErrorContains(t, err, path)
}

func TestScanStopsEarly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "events-2024-11-01.jsonl"), "a\nb\nc\n")
	write(t, filepath.Join(dir, "events-2024-11-02.jsonl"), "d\n")

	t.Run("ErrStop ends the scan without an error", func(t *testing.T) {
		t.Parallel()
		var seen []string
		err := archive.Scan(dir, time.Time{}, time.Time{}, func(line []byte) error {
			seen = append(seen, string(line))
			if len(seen) == 2 {
				return archive.ErrStop
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{"a", "b"}, seen, "no later line, nor a later file, is read")
	})
	t.Run("another error ends the scan and is returned", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("report full")
		calls := 0
		err := archive.Scan(dir, time.Time{}, time.Time{}, func([]byte) error {
			calls++
			return boom
		})
		require.ErrorIs(t, err, boom)
		require.Equal(t, 1, calls)
	})
}

func TestScanReportsAMissingDirectory(t *testing.T) {
	t.Parallel()
	err := archive.Scan(filepath.Join(t.TempDir(), "nope"), time.Time{}, time.Time{}, func([]byte) error { return nil })
	require.ErrorContains(t, err, "read archive directory")
}

func TestKeepDaysPrunesOldDays(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		keepDays int
		want     []string
	}{
		{
			name:     "days older than KeepDays go, segments included",
			keepDays: 2,
			want:     []string{"events-2024-12-08.jsonl", "events-2024-12-09.jsonl", "events-2024-12-10.jsonl", "notes.txt"},
		},
		{
			name:     "zero keeps everything",
			keepDays: 0,
			want: []string{
				"events-2024-11-30.1.jsonl", "events-2024-11-30.jsonl", "events-2024-12-07.jsonl",
				"events-2024-12-08.jsonl", "events-2024-12-09.jsonl", "events-2024-12-10.jsonl", "notes.txt",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, f := range []string{"events-2024-11-30.jsonl", "events-2024-11-30.1.jsonl", "events-2024-12-07.jsonl", "events-2024-12-08.jsonl", "events-2024-12-09.jsonl", "notes.txt"} {
				write(t, filepath.Join(dir, f), "x\n")
			}
			w := &archive.Writer{Dir: dir, KeepDays: tt.keepDays, Now: func() time.Time { return day(2024, 12, 10).Add(time.Hour) }}
			appendLine(t, w, "today", day(2024, 12, 10))
			require.Equal(t, tt.want, files(t, dir))
		})
	}
}

func TestConcurrentAppendsNeverInterleave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const writers, perWriter = 8, 50
	at := day(2025, 1, 1)
	padding := strings.Repeat("p", 3000) // lines bigger than a pipe buffer
	var wg sync.WaitGroup
	errs := make(chan error, writers*perWriter)
	for w := range writers {
		wg.Go(func() {
			// Each goroutine has its own Writer, as separate handler runs
			// would; small segments make them rotate while racing.
			aw := &archive.Writer{Dir: dir, MaxSize: 64 << 10}
			for i := range perWriter {
				line := fmt.Sprintf(`{"writer":%d,"seq":%d,"pad":%q}`, w, i, padding)
				if _, err := aw.Append(t.Context(), []byte(line), at); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireArchived(t, dir, writers, perWriter)
}

// requireArchived checks that dir holds exactly the lines of writers ×
// perWriter appends, each a whole JSON object, each writer's in order.
func requireArchived(t *testing.T, dir string, writers, perWriter int) {
	t.Helper()
	next := make([]int, writers)
	total := 0
	require.NoError(t, archive.Scan(dir, time.Time{}, time.Time{}, func(line []byte) error {
		var ev struct {
			Writer int    `json:"writer"`
			Seq    int    `json:"seq"`
			Pad    string `json:"pad"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("line %d is not whole JSON: %w: %.80q", total, err, line)
		}
		if ev.Writer < 0 || ev.Writer >= writers || ev.Seq != next[ev.Writer] {
			return fmt.Errorf("line %d: writer %d seq %d out of order", total, ev.Writer, ev.Seq)
		}
		next[ev.Writer]++
		total++
		return nil
	}))
	require.Equal(t, writers*perWriter, total)
	for _, f := range files(t, dir) {
		b := read(t, filepath.Join(dir, f))
		require.True(t, strings.HasSuffix(b, "\n"), "%s ends with a complete line", f)
	}
}

func TestAppendWaitsForTheLockUntilTheContextEnds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	unlock, err := state.Lock(t.Context(), filepath.Join(dir, ".lock"))
	require.NoError(t, err)
	defer unlock()

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	w := &archive.Writer{Dir: dir}
	_, err = w.Append(ctx, []byte("blocked"), day(2025, 2, 1))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Empty(t, files(t, dir), "nothing is written without the lock")
}

func TestAppendReportsADirectoryItCannotCreate(t *testing.T) {
	t.Parallel()
	blocker := filepath.Join(t.TempDir(), "file")
	write(t, blocker, "")
	w := &archive.Writer{Dir: filepath.Join(blocker, "archive")}
	_, err := w.Append(t.Context(), []byte("x"), day(2025, 2, 1))
	require.ErrorContains(t, err, "create archive directory")
}

func TestRetentionCountsFromNowNotFromTheEvent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, f := range []string{"events-2024-12-09.jsonl", "events-2024-12-10.jsonl"} {
		write(t, filepath.Join(dir, f), "x\n")
	}
	w := &archive.Writer{Dir: dir, KeepDays: 30, Now: func() time.Time { return day(2024, 12, 11) }}
	appendLine(t, w, "from the future", day(2026, 1, 15))
	require.Equal(t, []string{"events-2024-12-09.jsonl", "events-2024-12-10.jsonl", "events-2026-01-15.jsonl"}, files(t, dir))
}
