package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/archive"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// lines returns the archived events of dir, in order.
func lines(t *testing.T, dir string) []corev2.Event {
	t.Helper()
	var out []corev2.Event
	require.NoError(t, archive.Scan(dir, time.Time{}, time.Time{}, func(line []byte) error {
		var ev corev2.Event
		require.NoError(t, json.Unmarshal(line, &ev), "line %q", line)
		out = append(out, ev)
		return nil
	}))
	return out
}

func eventAt(ts time.Time, check string) *corev2.Event {
	ev := testutil.Event()
	ev.Timestamp = ts.Unix()
	ev.Check.Name = check
	return ev
}

func TestArchivesEachEventAsOneLineOnItsOwnDay(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	day1 := time.Date(2026, 11, 22, 23, 59, 59, 0, time.UTC)
	day2 := day1.Add(2 * time.Second)
	for i, ts := range []time.Time{day1, day2, day2} {
		resp := h.Handle("handler-archive --dir "+testutil.Shell(dir), eventAt(ts, fmt.Sprintf("check-%d", i)))
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Empty(t, resp.Output, "a handler is silent on success")
	}
	for name, want := range map[string]int{"events-2026-11-22.jsonl": 1, "events-2026-11-23.jsonl": 2} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, want, strings.Count(string(b), "\n"))
	}
	got := lines(t, dir)
	require.Len(t, got, 3)
	for i, ev := range got {
		require.Equal(t, fmt.Sprintf("check-%d", i), ev.Check.Name)
		require.NoError(t, ev.Validate())
	}
}

func TestKeepsTheEventAsReceived(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	// Fields this version of corev2 does not know must survive archiving.
	raw := `{
	  "timestamp": 1763900000,
	  "entity": {"metadata": {"name": "web-1", "namespace": "default"}, "entity_class": "agent"},
	  "check": {"metadata": {"name": "check-x", "namespace": "default"}, "interval": 60, "status": 1, "output": "x"},
	  "future_field": {"kept": true}
	}`
	resp := h.HandleRaw("handler-archive --dir "+testutil.Shell(dir), []byte(raw))
	require.Equal(t, 0, resp.Status, resp.Output)
	b, err := os.ReadFile(filepath.Join(dir, "events-2025-11-23.jsonl"))
	require.NoError(t, err)
	require.JSONEq(t, raw, string(b))
	require.Equal(t, 1, strings.Count(string(b), "\n"))
}

func TestStartsANewFileAtTheSizeLimit(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 6 {
		resp := h.Handle("handler-archive --max-size 5000 --dir "+testutil.Shell(dir), eventAt(ts, fmt.Sprintf("c%d", i)))
		require.Equal(t, 0, resp.Status, resp.Output)
	}
	files, err := filepath.Glob(filepath.Join(dir, "events-2026-01-02*.jsonl"))
	require.NoError(t, err)
	require.Len(t, files, 3, "six events of about 2.1 KB make three files of two under a 5000-byte limit")
	for _, f := range files {
		fi, err := os.Stat(f)
		require.NoError(t, err)
		require.LessOrEqual(t, fi.Size(), int64(5000), f)
	}
	require.Len(t, lines(t, dir), 6, "no event lost across files, and in order")
	require.Equal(t, "c5", lines(t, dir)[5].Check.Name)
}

func TestACheckAnnotationTunesTheSizeButNothingRedirectsTheArchive(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir, elsewhere := t.TempDir(), t.TempDir()
	ev := eventAt(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "c")
	ev.Check.Annotations = map[string]string{"vigil.io/handler-archive/max-size": "not-a-number"}
	resp := h.Handle("handler-archive --dir "+testutil.Shell(dir), ev)
	require.Equal(t, 1, resp.Status)
	require.Equal(t, "handler-archive: check annotation vigil.io/handler-archive/max-size: invalid int value \"not-a-number\": want a JSON int64\n", resp.Output)

	ev.Check.Annotations = map[string]string{"vigil.io/handler-archive/dir": elsewhere}
	ev.Entity.Annotations = map[string]string{"vigil.io/handler-archive/dir": elsewhere, "vigil.io/handler-archive/max-size": "1"}
	resp = h.Handle("handler-archive --dir "+testutil.Shell(dir), ev)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Len(t, lines(t, dir), 1)
	empty, err := os.ReadDir(elsewhere)
	require.NoError(t, err)
	require.Empty(t, empty)
}

func TestRepairsAPartialLineLeftByAKilledWriter(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	ts := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	require.Equal(t, 0, h.Handle("handler-archive --dir "+testutil.Shell(dir), eventAt(ts, "before")).Status)
	path := filepath.Join(dir, "events-2026-03-04.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"timestamp":1772600767,"entity":{"meta`)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Len(t, lines(t, dir), 1, "a reader never sees the partial line")

	require.Equal(t, 0, h.Handle("handler-archive --dir "+testutil.Shell(dir), eventAt(ts, "after")).Status)
	got := lines(t, dir)
	require.Len(t, got, 2)
	require.Equal(t, "before", got[0].Check.Name)
	require.Equal(t, "after", got[1].Check.Name)
}

func TestConcurrentHandlersNeverInterleave(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	ts := time.Date(2026, 5, 6, 7, 8, 9, 0, time.UTC)
	const n = 16
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Go(func() {
			ev := eventAt(ts, fmt.Sprintf("c%d", i))
			ev.Check.Output = strings.Repeat("x", 100_000) // larger than a pipe buffer
			statuses[i] = h.Handle("handler-archive --dir "+testutil.Shell(dir), ev).Status
		})
	}
	wg.Wait()
	for i, s := range statuses {
		require.Equal(t, 0, s, "handler %d", i)
	}
	got := lines(t, dir)
	require.Len(t, got, n)
	seen := map[string]bool{}
	for _, ev := range got {
		seen[ev.Check.Name] = true
		require.Len(t, ev.Check.Output, 100_000)
	}
	require.Len(t, seen, n)
}

func TestBadInputAndBadSettingsFailWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	ok, err := json.Marshal(testutil.Event())
	require.NoError(t, err)
	cases := []struct {
		name, cmd, input, want string
	}{
		{"garbage on stdin", "handler-archive --dir " + dir, "garbage", "handler-archive: invalid event on stdin: expected a JSON object\n"},
		{"an event that fails validation", "handler-archive --dir " + dir, `{"timestamp":5,"check":{"metadata":{"name":"c"},"interval":1}}`, "handler-archive: invalid event on stdin: event must contain an entity\n"},
		{"a directory that is a file", "handler-archive --dir " + blocker, string(ok), "handler-archive: create archive directory: mkdir " + blocker + ": not a directory\n"},
		{"a size limit that is too small", "handler-archive --max-size 10 --dir " + dir, string(ok), "handler-archive: --max-size (or VIGIL_ARCHIVE_MAX_SIZE) must be at least 1024 bytes, got 10\n"},
		{"a negative retention", "handler-archive --keep-days -1 --dir " + dir, string(ok), "handler-archive: --keep-days (or VIGIL_ARCHIVE_KEEP_DAYS) must be 0 or more, got -1\n"},
		{"a misspelt flag", "handler-archive --dri " + dir, string(ok), "handler-archive: unknown flag --dri (did you mean --dir?) (see --help)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := h.HandleRaw(c.cmd, []byte(c.input))
			require.Equal(t, 1, resp.Status)
			require.Equal(t, c.want, resp.Output)
		})
	}
}

func TestDirectoryFromTheEnvironment(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	resp := h.Handle("handler-archive", testutil.Event(), "VIGIL_ARCHIVE_DIR="+dir)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Len(t, lines(t, dir), 1)
	state := t.TempDir()
	resp = h.Handle("handler-archive", testutil.Event(), "VIGIL_STATE_DIR="+state)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Len(t, lines(t, filepath.Join(state, "archive")), 1, "the default is $VIGIL_STATE_DIR/archive")
}
