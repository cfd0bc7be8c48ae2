package state_test

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/state"
)

// names lists a directory, hidden files included, so that a leftover
// temporary file cannot go unnoticed.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := make([]string, 0, len(ents))
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func requireMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before is the existing content; nil means no file.
		before []byte
		// beforeMode is the existing file's mode.
		beforeMode fs.FileMode
		data       []byte
	}{
		{name: "a new file is created with the data", data: []byte("hello\n")},
		{name: "an empty file can be written", data: []byte{}},
		{name: "an existing file is replaced whole", before: []byte("old content that is longer than the new one"), beforeMode: 0o600, data: []byte("new")},
		{name: "a world-readable file becomes private", before: []byte("old"), beforeMode: 0o644, data: []byte("new")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if tt.before != nil {
				require.NoError(t, os.WriteFile(path, tt.before, tt.beforeMode))
				require.NoError(t, os.Chmod(path, tt.beforeMode))
			}
			require.NoError(t, state.WriteFile(path, tt.data))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(tt.data), string(got))
			requireMode(t, path, 0o600)
			require.Equal(t, []string{"state.json"}, names(t, dir), "no temporary file is left behind")
		})
	}
}

func TestWriteFileCreatesMissingDirectoriesPrivate(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	path := filepath.Join(root, "a", "b", "state.json")
	require.NoError(t, state.WriteFile(path, []byte("x")))
	requireMode(t, filepath.Join(root, "a"), 0o700)
	requireMode(t, filepath.Join(root, "a", "b"), 0o700)
	requireMode(t, path, 0o600)
}

func TestWriteFuncStreamsSeveralWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "big")
	err := state.WriteFunc(path, func(w io.Writer) error {
		for i := range 1000 {
			if _, err := io.WriteString(w, strings.Repeat(string(rune('a'+i%26)), 100)+"\n"); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Len(t, b, 1000*101)
	require.Equal(t, strings.Repeat("a", 100)+"\n", string(b[:101]))
	require.Equal(t, strings.Repeat("l", 100)+"\n", string(b[len(b)-101:]), "line 999 is 'a'+999%26")
}

func TestWriteFuncKeepsTheOldContentWhenTheCallbackFails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// before is the existing content; nil means no file.
		before []byte
	}{
		{name: "an existing file is left intact", before: []byte("the old, good state\n")},
		{name: "no file appears when there was none", before: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if tt.before != nil {
				require.NoError(t, os.WriteFile(path, tt.before, 0o600))
			}
			boom := errors.New("disk on fire")
			err := state.WriteFunc(path, func(w io.Writer) error {
				// Half of the new content reaches the temporary file first.
				if _, err := io.WriteString(w, "half of the new"); err != nil {
					return err
				}
				return boom
			})
			require.ErrorIs(t, err, boom)
			require.ErrorContains(t, err, path, "the error names the file")
			if tt.before == nil {
				require.Empty(t, names(t, dir), "neither the file nor a temporary file exists")
				return
			}
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, string(tt.before), string(got))
			require.Equal(t, []string{"state.json"}, names(t, dir), "the temporary file is removed")
		})
	}
}

func TestWriteFileFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// setup returns the path to write to.
		setup   func(t *testing.T, dir string) string
		wantErr string
	}{
		{
			name: "a directory that cannot be created is reported",
			setup: func(t *testing.T, dir string) string {
				blocker := filepath.Join(dir, "file")
				require.NoError(t, os.WriteFile(blocker, nil, 0o600))
				return filepath.Join(blocker, "state.json")
			},
			wantErr: "create state directory",
		},
		{
			name: "a target that is a directory is not replaced and leaves no temporary file",
			setup: func(t *testing.T, dir string) string {
				target := filepath.Join(dir, "state.json")
				require.NoError(t, os.Mkdir(target, 0o700))
				require.NoError(t, os.WriteFile(filepath.Join(target, "inside"), []byte("x"), 0o600))
				return target
			},
			wantErr: "replace state",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tt.setup(t, dir)
			before := names(t, dir)
			err := state.WriteFile(path, []byte("data"))
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, before, names(t, dir), "nothing is left behind")
		})
	}
}

type baseline struct {
	Files map[string]string `json:"files"`
	Count int               `json:"count"`
}

func TestSaveAndLoadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "baseline.json")
	want := baseline{Files: map[string]string{"/etc/passwd": "abc", "/etc/shadow": "def"}, Count: 2}
	require.NoError(t, state.Save(path, "fim-baseline", 3, want))

	var got baseline
	require.NoError(t, state.Load(path, "fim-baseline", 3, &got))
	require.Equal(t, want, got)
	requireMode(t, path, 0o600)
	requireMode(t, filepath.Join(dir, "sub"), 0o700)

	// The envelope on disk names the kind and version and ends the line.
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(string(raw), "}\n"), "one line ending in a newline: %q", raw)
	var env struct {
		Kind    string          `json:"kind"`
		Version int             `json:"version"`
		Data    json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(raw, &env))
	require.Equal(t, "fim-baseline", env.Kind)
	require.Equal(t, 3, env.Version)
	require.JSONEq(t, `{"files":{"/etc/passwd":"abc","/etc/shadow":"def"},"count":2}`, string(env.Data))
}

func TestSaveReplacesThePreviousState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "offsets.json")
	require.NoError(t, state.Save(path, "offsets", 1, map[string]int{"a": 1}))
	require.NoError(t, state.Save(path, "offsets", 1, map[string]int{"b": 2}))
	var got map[string]int
	require.NoError(t, state.Load(path, "offsets", 1, &got))
	require.Equal(t, map[string]int{"b": 2}, got)
	require.Equal(t, []string{"offsets.json"}, names(t, dir))
}

func TestSaveRefusesAValueThatCannotBeEncoded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	err := state.Save(path, "weird", 1, map[string]any{"ch": make(chan int)})
	require.ErrorContains(t, err, "encode weird state")
	require.Empty(t, names(t, dir), "no file is written")
}

func TestLoadReturnsErrNotExistForAMissingFile(t *testing.T) {
	t.Parallel()
	var v baseline
	err := state.Load(filepath.Join(t.TempDir(), "nope.json"), "fim-baseline", 1, &v)
	require.ErrorIs(t, err, state.ErrNotExist)
	require.Equal(t, baseline{}, v, "the value is untouched")
}

func TestLoadRefusesStateItCannotTrust(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		// wantErr are fragments of the message, besides the path.
		wantErr []string
	}{
		{
			name:    "a file of another kind names both kinds",
			content: `{"kind":"pii-offsets","version":1,"data":{}}`,
			wantErr: []string{`"pii-offsets"`, `"fim-baseline"`},
		},
		{
			name:    "a file of another version names both versions",
			content: `{"kind":"fim-baseline","version":2,"data":{}}`,
			wantErr: []string{"version 2", "version 1"},
		},
		{
			name:    "a truncated file is damaged",
			content: `{"kind":"fim-baseline","version":1,"data":{"files":{"/etc/pa`,
			wantErr: []string{"damaged"},
		},
		{
			name:    "an empty file is damaged",
			content: ``,
			wantErr: []string{"damaged"},
		},
		{
			name:    "data of the wrong shape is damaged",
			content: `{"kind":"fim-baseline","version":1,"data":{"count":"three"}}`,
			wantErr: []string{"damaged"},
		},
		{
			name:    "a file without an envelope is of no kind",
			content: `{"files":{}}`,
			wantErr: []string{`holds "" state`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "baseline.json")
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o600))
			var v baseline
			err := state.Load(path, "fim-baseline", 1, &v)
			require.Error(t, err)
			require.NotErrorIs(t, err, state.ErrNotExist)
			require.ErrorContains(t, err, path, "the error names the file")
			for _, w := range tt.wantErr {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

func TestLoadReportsAnUnreadableFile(t *testing.T) {
	t.Parallel()
	// A directory in place of the file cannot be read.
	path := t.TempDir()
	var v baseline
	err := state.Load(path, "fim-baseline", 1, &v)
	require.ErrorContains(t, err, "read state")
	require.NotErrorIs(t, err, state.ErrNotExist)
}
