// Command fimbench builds the deterministic trees and mutations of the
// file-integrity benchmark (make bench-fim, scripts/bench/fim.sh) and
// scores a check-file-integrity JSON report against the mutations.
//
//	fimbench gen DIR        20,000 files (about 1 GiB), 500 directories,
//	                        20 hard links and 300 symlinks, from seed 42
//	fimbench empty DIR N    N empty files in directories of 1,000
//	fimbench mutate DIR     apply the scripted mutations (seed 7) and
//	                        print the paths they touch, one per line
//	fimbench score EXPECTED REPORT
//	                        compare a --format json report with the
//	                        expected paths: detected, missed, extra
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 3 {
		fail("usage: fimbench gen DIR | empty DIR N | mutate DIR | score EXPECTED REPORT")
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2])
	case "empty":
		if len(os.Args) < 4 {
			fail("usage: fimbench empty DIR N")
		}
		n, convErr := strconv.Atoi(os.Args[3])
		if convErr != nil {
			fail(convErr.Error())
		}
		err = empty(os.Args[2], n)
	case "mutate":
		err = mutate(os.Args[2])
	case "score":
		if len(os.Args) < 4 {
			fail("usage: fimbench score EXPECTED REPORT")
		}
		err = score(os.Args[2], os.Args[3])
	default:
		fail("unknown command " + os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "fimbench:", msg)
	os.Exit(1)
}

// epoch is the mtime of every generated file, so that trees compare.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	files     = 20000
	dirs      = 500
	hardLinks = 20
	symlinks  = 300
	maxSize   = 24 << 20
)

// gen writes the benchmark tree: sizes are lognormal (median 7 KiB,
// heavy tail up to 24 MiB), about 1 GiB in all.
func gen(root string) error {
	rng := rand.New(rand.NewPCG(42, 42))
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	dirList := []string{root}
	for i := range dirs - 1 {
		parent := dirList[rng.IntN(len(dirList))]
		if strings.Count(parent[len(root):], "/") >= 4 {
			parent = root
		}
		d := filepath.Join(parent, fmt.Sprintf("d%03d", i))
		dirList = append(dirList, d)
	}
	for _, d := range dirList {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	buf := make([]byte, maxSize)
	var total int64
	var paths []string
	for i := range files {
		size := int(math.Min(math.Exp(8.877+2.0*rng.NormFloat64()), maxSize))
		p := filepath.Join(dirList[rng.IntN(len(dirList))], fmt.Sprintf("f%05d", i))
		fill(rng, buf[:size])
		mode := os.FileMode(0o644)
		if i%10 == 0 {
			mode = 0o755
		}
		if err := os.WriteFile(p, buf[:size], mode); err != nil {
			return err
		}
		total += int64(size)
		paths = append(paths, p)
	}
	for i := range hardLinks {
		src := paths[rng.IntN(len(paths))]
		if err := os.Link(src, src+fmt.Sprintf(".hl%02d", i)); err != nil {
			return err
		}
	}
	for i := range symlinks {
		dst := paths[rng.IntN(len(paths))]
		link := filepath.Join(dirList[rng.IntN(len(dirList))], fmt.Sprintf("l%03d", i))
		rel, err := filepath.Rel(filepath.Dir(link), dst)
		if err != nil {
			return err
		}
		if err := os.Symlink(rel, link); err != nil {
			return err
		}
	}
	if err := touchAll(root); err != nil {
		return err
	}
	fmt.Printf("generated %d files, %d directories, %d hard links, %d symlinks, %d bytes in %s\n", files, len(dirList), hardLinks, symlinks, total, root)
	return nil
}

// fill writes deterministic pseudo-random bytes.
func fill(rng *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(rng.Uint32())
	}
}

// touchAll sets every mtime to the epoch, deepest first.
func touchAll(root string) error {
	var all []string
	if err := filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		all = append(all, p)
		return err
	}); err != nil {
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(epoch.UnixNano()), unix.NsecToTimespec(epoch.UnixNano())}
	for _, p := range slices.Backward(all) {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return err
		}
	}
	return nil
}

// empty writes n empty files, 1,000 per directory.
func empty(root string, n int) error {
	if err := os.RemoveAll(root); err != nil {
		return err
	}
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("d%04d", i/1000))
		if i%1000 == 0 {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		f, err := os.Create(filepath.Join(d, fmt.Sprintf("f%04d", i%1000)))
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	fmt.Printf("generated %d empty files in %s\n", n, root)
	return nil
}

// mutate applies one mutation of each kind and prints the paths they
// change (the hard-link swap changes two: the swapped name and its former
// partner, whose link count drops).
func mutate(root string) error {
	rng := rand.New(rand.NewPCG(7, 7))
	var regular, links, linkedNames []string
	if err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case strings.Contains(filepath.Base(p), ".hl"):
			linkedNames = append(linkedNames, p)
		case d.Type().IsRegular():
			regular = append(regular, p)
		case d.Type()&os.ModeSymlink != 0:
			links = append(links, p)
		}
		return nil
	}); err != nil {
		return err
	}
	pick := func() string {
		for {
			p := regular[rng.IntN(len(regular))]
			if p != "" {
				regular = slices.DeleteFunc(regular, func(s string) bool { return s == p })
				return p
			}
		}
	}
	var touched []string
	steps := []struct {
		name string
		do   func() (string, error)
	}{
		{"content changed, size and mtime restored", func() (string, error) {
			p := pick()
			fi, err := os.Stat(p)
			if err != nil {
				return "", err
			}
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return "", err
			}
			if _, err := f.WriteAt([]byte("trojaned"), 0); err != nil {
				return "", err
			}
			if err := f.Close(); err != nil {
				return "", err
			}
			return p, os.Chtimes(p, fi.ModTime(), fi.ModTime())
		}},
		{"chmod", func() (string, error) { p := pick(); return p, os.Chmod(p, 0o600) }},
		{"chown", func() (string, error) { p := pick(); return p, os.Lchown(p, 1234, 1234) }},
		{"setuid added", func() (string, error) { p := pick(); return p, unix.Chmod(p, 0o4755) }},
		{"new file", func() (string, error) {
			p := filepath.Join(filepath.Dir(pick()), "new-implant")
			return p, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755)
		}},
		{"deleted file", func() (string, error) { p := pick(); return p, os.Remove(p) }},
		{"symlink retargeted", func() (string, error) {
			p := links[rng.IntN(len(links))]
			if err := os.Remove(p); err != nil {
				return "", err
			}
			return p, os.Symlink("/etc/shadow", p)
		}},
		{"file replaced by a directory", func() (string, error) {
			p := pick()
			if err := os.Remove(p); err != nil {
				return "", err
			}
			return p, os.Mkdir(p, 0o755)
		}},
		{"hard link swapped for a copy", func() (string, error) {
			p := linkedNames[rng.IntN(len(linkedNames))]
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			fi, err := os.Stat(p)
			if err != nil {
				return "", err
			}
			tmp := p + ".swap"
			if err := os.WriteFile(tmp, b, fi.Mode().Perm()); err != nil {
				return "", err
			}
			if err := os.Chtimes(tmp, fi.ModTime(), fi.ModTime()); err != nil {
				return "", err
			}
			// The other name of the link loses a link: with the link count
			// watched (AIDE's n), it changes too.
			touched = append(touched, p[:strings.LastIndex(p, ".hl")])
			return p, os.Rename(tmp, p)
		}},
	}
	for _, s := range steps {
		p, err := s.do()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "  %-42s %s\n", s.name, p)
		touched = append(touched, p)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, p := range touched {
		fmt.Fprintln(w, p)
	}
	return w.Flush()
}

// score compares a report's findings with the expected paths.
func score(expectedFile, reportFile string) error {
	b, err := os.ReadFile(expectedFile)
	if err != nil {
		return err
	}
	expected := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		expected[l] = true
	}
	rb, err := os.ReadFile(reportFile)
	if err != nil {
		return err
	}
	var rep struct {
		Findings []struct {
			Rule   string `json:"rule"`
			Object string `json:"object"`
		} `json:"findings"`
		Total int `json:"findings_total"`
	}
	if err := json.Unmarshal(rb, &rep); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	found := map[string]bool{}
	var extra []string
	for _, f := range rep.Findings {
		if expected[f.Object] {
			found[f.Object] = true
		} else {
			extra = append(extra, f.Rule+" "+f.Object)
		}
	}
	var missed []string
	for p := range expected {
		if !found[p] {
			missed = append(missed, p)
		}
	}
	fmt.Printf("detected %d/%d, reported %d, missed %d, false positives %d\n", len(found), len(expected), rep.Total, len(missed), len(extra))
	for _, m := range missed {
		fmt.Println("  missed:", m)
	}
	for _, e := range extra {
		fmt.Println("  extra:", e)
	}
	if len(missed) > 0 || len(extra) > 0 {
		os.Exit(2)
	}
	return nil
}
