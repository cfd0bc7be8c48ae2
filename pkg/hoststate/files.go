package hoststate

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// dirFiles lists the regular files (or links to them) of a directory
// under the root, sorted; a missing directory is no files.
func (c *collector) dirFiles(dir string, keep func(name string) bool) ([]string, error) {
	ents, err := c.readDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() || (keep != nil && !keep(e.Name())) {
			continue
		}
		out = append(out, path.Join(dir, e.Name()))
	}
	return out, nil
}

// sudoersSkipped is what sudo's #includedir skips: names ending in ~ or
// holding a dot.
func sudoersSkipped(name string) bool {
	return strings.HasSuffix(name, "~") || strings.Contains(name, ".")
}

// normaliseSudoers drops comments and blank lines, joins continuation
// lines and collapses blanks; #include and @include lines stay.
func normaliseSudoers(b []byte) []string {
	var out []string
	cont := ""
	for _, l := range lines(b) {
		l = strings.TrimSpace(l)
		if cont != "" {
			l = cont + " " + l
			cont = ""
		}
		if strings.HasSuffix(l, "\\") {
			cont = strings.TrimSuffix(l, "\\")
			continue
		}
		if l == "" || (strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "#include")) {
			continue
		}
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	if cont != "" {
		out = append(out, strings.Join(strings.Fields(cont), " "))
	}
	return out
}

// sudoers reads /etc/sudoers and /etc/sudoers.d: per file, the digest and
// count of the normalised lines, and the lines themselves (bounded).
func (c *collector) sudoers() *Facet {
	f := &Facet{}
	files := []string{"/etc/sudoers"}
	more, err := c.dirFiles("/etc/sudoers.d", func(n string) bool { return !sudoersSkipped(n) })
	if err != nil {
		f.Notes = append(f.Notes, "/etc/sudoers.d: "+why(err))
	}
	files = append(files, more...)
	read := 0
	for _, p := range files {
		b, linked, err := c.readFileLinked(p, maxSmallFile)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.Notes = append(f.Notes, p+": "+why(err))
				if errors.Is(err, errNotRegular) {
					f.Malformed++
				}
			}
			if !linked {
				continue
			}
		}
		read++
		ls := normaliseSudoers(b)
		it := Item{Key: p, Name: p, Fields: map[string]string{"sha256": digest(ls...), "lines": strconv.Itoa(len(ls))}}
		if linked {
			// Reached through a symbolic link (to /etc/shadow, say): sudo
			// reads it, so its digest counts, but its lines are never
			// copied into the output or the baseline.
			it.Fields["link"] = c.linkTarget(p)
			if err != nil {
				it.Fields["sha256"], it.Fields["lines"] = "unreadable", "0"
			}
			f.Notes = append(f.Notes, p+": reached through a symbolic link: its lines are not shown")
		} else {
			it.Lines = boundLines(ls)
		}
		f.Items = append(f.Items, it)
	}
	if read == 0 && len(f.Notes) == 0 {
		f.Unavailable = "no /etc/sudoers (sudo is not installed)"
	}
	return f
}

// significantLines drops blank lines and comments (crontabs).
func significantLines(b []byte) []string {
	var out []string
	for _, l := range lines(b) {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return out
}

// cron reads crontabs (/etc/crontab, /etc/cron.d, the periodic
// directories, users' spools) and systemd timer units: a digest and a
// count per file, never the lines (they often hold credentials).
func (c *collector) cron() *Facet {
	f := &Facet{}
	files := []string{"/etc/crontab", "/etc/anacrontab"}
	for _, d := range []string{"/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily", "/etc/cron.weekly", "/etc/cron.monthly", "/var/spool/cron/crontabs", "/var/spool/cron"} {
		more, err := c.dirFiles(d, func(n string) bool { return !strings.HasPrefix(n, ".") })
		if err != nil {
			f.Notes = append(f.Notes, d+": "+why(err))
		}
		files = append(files, more...)
	}
	for _, p := range files {
		b, err := c.readFile(p, maxSmallFile)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.Notes = append(f.Notes, p+": "+why(err))
				if errors.Is(err, errNotRegular) {
					f.Malformed++
				}
			}
			continue
		}
		ls := significantLines(b)
		f.Items = append(f.Items, Item{Key: p, Name: p, Fields: map[string]string{"sha256": digest(ls...), "lines": strconv.Itoa(len(ls))}})
	}
	seen := map[string]bool{}
	for _, d := range unitDirs {
		ds, err := c.dirFiles(d, func(n string) bool { return strings.HasSuffix(n, ".timer") })
		if err != nil {
			f.Notes = append(f.Notes, d+": "+why(err))
		}
		for _, p := range ds {
			b, err := c.readFile(p, maxSmallFile)
			if err != nil {
				continue // a dangling link, or a link to /dev/null: a masked timer
			}
			name := path.Base(p)
			if seen[name] {
				continue // the first unit directory wins, as in systemd
			}
			seen[name] = true
			ls := significantLines(b)
			f.Items = append(f.Items, Item{Key: "timer " + name, Name: name, Fields: map[string]string{"sha256": digest(ls...), "path": p}})
		}
	}
	return f
}

// unitDirs are systemd's system unit directories, highest priority first.
var unitDirs = []string{"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system"}

// units lists enabled systemd units: the symlinks in
// /etc/systemd/system/*.wants and *.requires (what systemctl enable
// makes).
func (c *collector) units() *Facet {
	f := &Facet{}
	const base = "/etc/systemd/system"
	ents, err := c.readDir(base)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			f.Unavailable = "no /etc/systemd/system (not a systemd host)"
		} else {
			f.Unavailable = "/etc/systemd/system: " + why(err)
		}
		return f
	}
	for _, e := range ents {
		wants := strings.HasSuffix(e.Name(), ".wants") || strings.HasSuffix(e.Name(), ".requires")
		if !e.IsDir() || !wants {
			continue
		}
		links, err := c.readDir(path.Join(base, e.Name()))
		if err != nil {
			f.Notes = append(f.Notes, fmt.Sprintf("/etc/systemd/system/%s: %s", e.Name(), why(err)))
			continue
		}
		for _, l := range links {
			target, _ := c.readlink(path.Join(base, e.Name(), l.Name()))
			it := Item{Key: e.Name() + "/" + l.Name(), Name: l.Name(), Fields: map[string]string{"unit": l.Name(), "target": target}}
			if target == "" {
				it.Fields["target"] = "(a file, not a link)"
			}
			f.Items = append(f.Items, it)
		}
	}
	slices.SortFunc(f.Items, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return f
}

// linkTarget is where the symbolic link on the way to p points: p's own
// link, else the first of its directories that is one.
func (c *collector) linkTarget(p string) string {
	for q := path.Clean(p); q != "/" && q != "."; q = path.Dir(q) {
		if fi, err := c.lstat(q); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			t, _ := c.readlink(q)
			if q != p {
				return q + " → " + t
			}
			return t
		}
	}
	return "?"
}
