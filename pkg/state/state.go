// Package state writes files that must survive a crash whole: baselines,
// offsets, spool entries, learned histories.
//
// WriteFile writes to a temporary file in the same directory, fsyncs it,
// renames it over the target and fsyncs the directory, so that after a
// crash or power loss the target holds either the old or the new content,
// never a mix. Files are created 0600: state can reveal what a host holds.
//
// Save and Load wrap a value in a small envelope that names its kind and
// format version, so that a check refuses a baseline written by another
// check or by an incompatible version with a clear message instead of
// misreading it.
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNotExist is returned by Load when there is no state yet.
var ErrNotExist = errors.New("no state file")

// WriteFile atomically replaces path with data, mode 0600. The directory
// is created (0700) if missing.
func WriteFile(path string, data []byte) error {
	return WriteFunc(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is WriteFile for content produced by a writer, so that large
// state (a baseline of a million files) streams to disk.
func WriteFunc(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary state file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("set state file mode: %w", err)
	}
	if err = write(tmp); err != nil {
		return fmt.Errorf("write state %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("sync state %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("close state %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace state %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or a new file in dir durable. Windows has no
// directory fsync; NTFS journals the rename itself.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir) //nolint:gosec // our own directory
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// envelope is the on-disk form written by Save.
type envelope struct {
	Kind    string          `json:"kind"`
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// Save writes v as JSON in an envelope naming kind and version.
func Save(path, kind string, version int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s state: %w", kind, err)
	}
	b, err := json.Marshal(envelope{Kind: kind, Version: version, Data: data})
	if err != nil {
		return fmt.Errorf("encode %s state: %w", kind, err)
	}
	return WriteFile(path, append(b, '\n'))
}

// Load reads a file written by Save into v. It returns ErrNotExist when
// the file does not exist, and an error naming the file when it is of
// another kind, another version or damaged.
func Load(path, kind string, version int, v any) error {
	b, err := os.ReadFile(path) //nolint:gosec // the operator's state path
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotExist
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("state file %s is damaged: %w", path, err)
	}
	if env.Kind != kind {
		return fmt.Errorf("state file %s holds %q state, not %q", path, env.Kind, kind)
	}
	if env.Version != version {
		return fmt.Errorf("state file %s is format version %d; this build reads version %d", path, env.Version, version)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return fmt.Errorf("state file %s is damaged: %w", path, err)
	}
	return nil
}

// DefaultDir is where plugins keep state unless told otherwise:
// $VIGIL_STATE_DIR, else the user's cache directory (for the sensu user,
// /opt/sensu/.cache/vigil), else the temporary directory.
func DefaultDir() string {
	if d := os.Getenv("VIGIL_STATE_DIR"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "vigil")
	}
	return filepath.Join(os.TempDir(), "vigil")
}
