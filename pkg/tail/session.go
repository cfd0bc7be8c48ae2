package tail

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/vigil-sec/vigil/pkg/state"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Session is one run of a log check: a Reader over the check's state file
// in a state directory, with the directory's lock held so that a run that
// outlasts its interval does not interleave with the next. check-pii and
// check-audit-log run through it.
//
//	s, err := tail.OpenSession(ctx, dir, "check-x", opts) // dir "" reads whole files
//	totals, err := s.ReadAll(ctx, selection, segmentsOf, nil)
//	if err != nil {
//		s.Close() // nothing saved: the next run reads the same lines
//	}
//	res.Notes = append(res.Notes, totals.Notes()...)
//	res.Commit = s.CommitFunc(ctx, saveMyOwnState) // positions saved after the result
type Session struct {
	reader *Reader
	unlock func()
}

// OpenSession locks DIR/NAME.state.lock and opens the Reader of
// DIR/NAME.state. With dir empty there is no state: every file is read
// whole and nothing is locked.
func OpenSession(ctx context.Context, dir, name string, opts Options) (*Session, error) {
	statePath, unlock := "", func() {}
	if dir != "" {
		statePath = filepath.Join(dir, name+".state")
		var err error
		if unlock, err = state.Lock(ctx, statePath+".lock"); err != nil {
			return nil, err
		}
	}
	r, err := Open(statePath, opts)
	if err != nil {
		unlock()
		return nil, err
	}
	return &Session{reader: r, unlock: sync.OnceFunc(unlock)}, nil
}

// Close releases the lock without saving anything: the next run reads the
// same lines again. Calling it after the commit function ran is harmless.
func (s *Session) Close() { s.unlock() }

// CommitFunc returns the function a check sets as its result's Commit:
// it runs extra (the caller's own state, may be nil), saves the read
// positions and releases the lock. Positions are saved only once the
// result exists, so a run that dies earlier re-reads instead of losing
// lines. The lock is held until then, or until ctx ends: the run was
// abandoned, and the next may read the same lines again, so nothing is
// saved.
func (s *Session) CommitFunc(ctx context.Context, extra func() error) func() error {
	stop := context.AfterFunc(ctx, s.unlock)
	return func() error {
		defer s.unlock()
		if !stop() {
			return fmt.Errorf("run abandoned before its positions were saved: %w", context.Cause(ctx))
		}
		if extra != nil {
			if err := extra(); err != nil {
				return err
			}
		}
		return s.reader.Commit()
	}
}

// Selection says which files a log check follows.
type Selection struct {
	// Paths are files, directories (walked) or globs ("/var/log/*.log").
	Paths []string
	// Include and Exclude filter the files found in directories: a glob
	// with a "/" matches the whole path, otherwise the name.
	Include, Exclude []string
	// StateDir is skipped when a walked directory contains it.
	StateDir string
}

// ValidateGlobs reports a malformed glob among Paths, Include and Exclude.
func (sel Selection) ValidateGlobs() error {
	for _, g := range slices.Concat(sel.Paths, sel.Include, sel.Exclude) {
		if _, err := filepath.Match(g, "x"); err != nil {
			return fmt.Errorf("bad glob %q: %w", g, err)
		}
	}
	return nil
}

// Expand turns the selection into the files to follow, in order and
// without duplicates, and lists the paths (and globs) that named nothing.
// It leaves out the rotated generations of a file that is followed too:
// Read reads their unread part itself, and they would otherwise be seen
// twice.
func (sel Selection) Expand() (files, missing []string, err error) {
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			files = append(files, p)
		}
	}
	stateDir := ""
	if sel.StateDir != "" {
		stateDir, _ = filepath.Abs(sel.StateDir)
	}
	for _, p := range sel.Paths {
		matches := []string{p}
		if strings.ContainsAny(p, "*?[") {
			// A glob that matches nothing now may match later (the log is
			// created by the first write): reported like a missing file.
			matches, _ = filepath.Glob(p) // the pattern was validated
		}
		if len(matches) == 0 {
			missing = append(missing, p)
		}
		for _, m := range matches {
			if err := sel.walk(m, stateDir, add, &missing); err != nil {
				return nil, nil, err
			}
		}
	}
	files = slices.DeleteFunc(files, func(p string) bool { return followedGeneration(p, seen) })
	return files, missing, nil
}

// walk adds the file at p, or the selected files under the directory at p.
func (sel Selection) walk(p, stateDir string, add func(string), missing *[]string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		*missing = append(*missing, p)
		return nil
	}
	if err != nil {
		return fmt.Errorf("--path %s: %w", p, err)
	}
	if !fi.IsDir() {
		add(p)
		return nil
	}
	return filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("walk %s: %w", path, err)
		}
		if d.IsDir() {
			if abs, _ := filepath.Abs(path); stateDir != "" && abs == stateDir {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && sel.selected(path) {
			add(path)
		}
		return nil
	})
}

// followedGeneration says whether the file at p is a rotated generation
// of another file in the set: its name cut at a '.', '-' or '_' names a
// followed file (app.log.1, app.log-20261123.gz), or does once the
// extension is put back (audit-2026-11-23T10-00-00.000.log of audit.log).
func followedGeneration(p string, followed map[string]bool) bool {
	dir, name := filepath.Split(p)
	ext := filepath.Ext(strings.TrimSuffix(name, ".gz"))
	for i := 1; i < len(name); i++ {
		if c := name[i]; c != '.' && c != '-' && c != '_' {
			continue
		}
		for _, base := range []string{name[:i], name[:i] + ext} {
			if base != name && followed[dir+base] && IsGeneration(base, name) {
				return true
			}
		}
	}
	return false
}

// selected applies Include and Exclude to a file found in a directory.
func (sel Selection) selected(path string) bool {
	match := func(globs []string) bool {
		for _, g := range globs {
			target := filepath.Base(path)
			if strings.Contains(g, "/") {
				target = path
			}
			if ok, _ := filepath.Match(g, target); ok {
				return true
			}
		}
		return false
	}
	if len(sel.Include) > 0 && !match(sel.Include) {
		return false
	}
	return !match(sel.Exclude)
}

// Totals adds up the reads of a run.
type Totals struct {
	Files, Rotations      int
	Bytes, Lines, Pending int64
	// Missing are the paths (and globs) that named no file.
	Missing []string
}

// add counts one file's read.
func (t *Totals) add(st Stats) {
	t.Files++
	t.Bytes += st.Bytes
	t.Lines += st.Lines
	t.Rotations += st.Rotations
	t.Pending += st.Pending
}

// ReadAll reads every file sel selects, each through the callback that
// segments returns for it (a fresh one per file: callbacks keep per-file
// state), and runs done, when not nil, after each file whatever the
// outcome. A path that does not exist is listed in Totals.Missing, not an
// error.
func (s *Session) ReadAll(ctx context.Context, sel Selection, segments func(path string) func(Segment) error, done func()) (Totals, error) {
	paths, missing, err := sel.Expand()
	if err != nil {
		return Totals{}, err
	}
	t := Totals{Missing: missing}
	for _, p := range paths {
		st, err := s.reader.Read(ctx, p, segments(p))
		if done != nil {
			done()
		}
		if errors.Is(err, fs.ErrNotExist) {
			t.Missing = append(t.Missing, p)
			continue
		}
		if err != nil {
			return t, fmt.Errorf("read %s: %w", p, err)
		}
		t.add(st)
	}
	return t, nil
}

// Notes are the long-output lines a log check prints about its reads:
// paths that named nothing, rotations followed, an unfinished last line
// left for the next run.
func (t Totals) Notes() []string {
	var out []string
	for _, m := range t.Missing {
		out = append(out, "path "+m+" does not exist")
	}
	if t.Rotations > 0 {
		out = append(out, "followed "+units.Count(int64(t.Rotations), "rotation"))
	}
	if t.Pending > 0 {
		out = append(out, fmt.Sprintf("%d bytes of an unfinished last line wait for the next run", t.Pending))
	}
	return out
}
