package tail

import (
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxNumbered is the longest suffix read as a generation number; longer
// digit runs are dates (20261123 has eight digits).
const maxNumbered = 7

// generation is a rotated predecessor of a followed file.
type generation struct {
	name  string // base name
	path  string // as the caller will see it: the followed path's directory and name
	gz    bool
	dated bool
	num   int64  // the number of a numbered generation
	date  string // the digits of a dated generation
	size  int64  // on disk (compressed for .gz)
	mtime time.Time
	id    fileID

	headDone bool
	head     []byte // the first headSize bytes (decompressed)
	headErr  error
}

// parseGeneration says whether name is a rotated generation of base, and
// of which scheme.
func parseGeneration(base, name string) (generation, bool) {
	g := generation{name: name}
	rest, ok := strings.CutPrefix(name, base)
	if !ok {
		return parseDatedBeforeExt(base, name)
	}
	if r, ok := strings.CutSuffix(rest, ".gz"); ok {
		g.gz, rest = true, r
	}
	if len(rest) < 2 || !strings.ContainsRune(".-_", rune(rest[0])) {
		return g, false
	}
	suffix := rest[1:]
	digits := make([]byte, 0, len(suffix))
	for i := range len(suffix) {
		c := suffix[i]
		switch {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case (c == '-' || c == '_') && i > 0 && i < len(suffix)-1 && suffix[i-1] >= '0' && suffix[i-1] <= '9':
		default:
			return g, false
		}
	}
	switch {
	case len(digits) == len(suffix) && len(digits) <= maxNumbered:
		n, err := strconv.ParseInt(suffix, 10, 64)
		if err != nil {
			return g, false
		}
		g.num = n
	case len(digits) > maxNumbered:
		g.dated, g.date = true, string(digits)
	default:
		return g, false
	}
	return g, true
}

// parseDatedBeforeExt reads the schemes that put the date before the
// extension: kube-apiserver's own rotation (and lumberjack's, which it
// uses) names audit.log's backups audit-2026-11-23T10-00-00.000.log, and
// logrotate's dateext with "extension .log" names app.log's
// app-20261123.log.
func parseDatedBeforeExt(base, name string) (generation, bool) {
	g := generation{name: name}
	ext := filepath.Ext(base)
	if ext == "" || len(ext) == len(base) {
		return g, false
	}
	rest, ok := strings.CutPrefix(name, strings.TrimSuffix(base, ext))
	if !ok {
		return g, false
	}
	if r, ok := strings.CutSuffix(rest, ".gz"); ok {
		g.gz, rest = true, r
	}
	rest, ok = strings.CutSuffix(rest, ext)
	if !ok || len(rest) < 2 || !strings.ContainsRune(".-_", rune(rest[0])) {
		return g, false
	}
	digits := make([]byte, 0, len(rest))
	for i := 1; i < len(rest); i++ {
		switch c := rest[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
		case strings.IndexByte("-_T.", c) >= 0 && i > 1 && rest[i-1] >= '0' && rest[i-1] <= '9':
		default:
			return g, false
		}
	}
	if len(digits) <= maxNumbered || rest[len(rest)-1] < '0' || rest[len(rest)-1] > '9' {
		return g, false
	}
	g.dated, g.date = true, string(digits)
	return g, true
}

// IsGeneration says whether the file named name is a rotated generation
// of the file named base in the same directory (app.log.1, app.log.2.gz,
// app.log-20261123 of app.log): Read reads the unread part of those
// itself, so a caller that walks a directory follows base only.
func IsGeneration(base, name string) bool {
	_, ok := parseGeneration(base, name)
	return ok
}

// listGenerations returns the rotated generations of the file at path,
// oldest first.
func listGenerations(path string) ([]*generation, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list rotated files of %s: %w", path, err)
	}
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		names[e.Name()] = true
	}
	var gens []*generation
	for _, e := range ents {
		g, ok := parseGeneration(base, e.Name())
		if !ok {
			continue
		}
		if g.gz && names[strings.TrimSuffix(g.name, ".gz")] {
			// Being compressed: the uncompressed file is complete, the
			// .gz may not be yet.
			continue
		}
		g.path = filepath.Join(filepath.Dir(path), g.name)
		fi, err := os.Stat(g.path)
		if err != nil || !fi.Mode().IsRegular() {
			continue // gone meanwhile, or not a log
		}
		g.size, g.mtime, g.id = fi.Size(), fi.ModTime(), idOf(fi)
		gens = append(gens, &g)
	}
	sortGenerations(gens)
	return gens, nil
}

// sortGenerations orders gens oldest first: by number (higher is older) or
// by date when all follow one scheme, by modification time otherwise.
func sortGenerations(gens []*generation) {
	numbered, dated := 0, 0
	for _, g := range gens {
		if g.dated {
			dated++
		} else {
			numbered++
		}
	}
	slices.SortStableFunc(gens, func(a, b *generation) int {
		switch {
		case dated == 0:
			if c := cmp.Compare(b.num, a.num); c != 0 {
				return c
			}
		case numbered == 0:
			if c := cmp.Compare(a.date, b.date); c != 0 {
				return c
			}
		}
		if c := a.mtime.Compare(b.mtime); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
}

// errMoved says a generation was renamed, replaced or removed after the
// directory was listed.
var errMoved = errors.New("rotated file moved")

// sameAs says whether fi describes the file g was listed as.
func (g *generation) sameAs(fi os.FileInfo) bool {
	if g.id.ok {
		return g.id.same(idOf(fi))
	}
	return fi.Size() == g.size && fi.ModTime().Equal(g.mtime)
}

// headBytes returns the first headSize bytes of g, decompressed. If the
// file at g's path is no longer g, the error is errMoved.
func (g *generation) headBytes() ([]byte, error) {
	if !g.headDone {
		g.headDone = true
		g.head, g.headErr = g.readHead()
	}
	return g.head, g.headErr
}

func (g *generation) readHead() ([]byte, error) {
	f, err := os.Open(g.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errMoved
	}
	if err != nil {
		return nil, fmt.Errorf("read head of rotated log: %w", err)
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read head of rotated log: %w", err)
	}
	if !g.sameAs(fi) {
		return nil, errMoved
	}
	var r io.Reader = f
	if g.gz {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("read head of %s: %w", g.path, err)
		}
		r = zr
	}
	b := make([]byte, headSize)
	n, err := io.ReadFull(r, b)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("read head of %s: %w", g.path, err)
	}
	return b[:n], nil
}

// headIs says whether g starts with the n bytes whose hash is sum.
func (g *generation) headIs(sum string, n int) bool {
	head, err := g.headBytes()
	return err == nil && headIs(head, sum, n)
}

// markOf is the identity recorded for g, or nil when its head is
// unreadable or empty: an empty head matches any file, and an inode is
// recycled as soon as a generation is compressed, so an empty generation
// cannot be told from the next one.
func (g *generation) markOf() *mark {
	head, err := g.headBytes()
	if err != nil || len(head) == 0 {
		return nil
	}
	return &mark{Dev: g.id.dev, Ino: g.id.ino, Head: headHash(head), HeadLen: len(head), MTime: g.mtime.Unix()}
}

// newestMark is the mark of the newest generation of gens with a readable,
// non-empty head, or nil. Empty generations newer than it will count as
// new at the next run, which is harmless: they hold nothing, and only an
// empty saved head can match them.
func newestMark(gens []*generation) *mark {
	for i := len(gens) - 1; i >= 0; i-- {
		if m := gens[i].markOf(); m != nil {
			return m
		}
	}
	return nil
}

// findMark returns the index in gens of the generation m identifies, or -1.
// The same file with the same head is best; then the same head and
// modification time (a compressed copy); then, for a non-empty head, the
// newest generation with that head.
func findMark(gens []*generation, m *mark) int {
	if m == nil {
		return -1
	}
	for i := len(gens) - 1; i >= 0; i-- {
		if g := gens[i]; g.id.same(m.id()) && g.headIs(m.Head, m.HeadLen) {
			return i
		}
	}
	for i := len(gens) - 1; i >= 0; i-- {
		if g := gens[i]; g.mtime.Unix() == m.MTime && g.headIs(m.Head, m.HeadLen) {
			return i
		}
	}
	if m.HeadLen > 0 {
		for i := len(gens) - 1; i >= 0; i-- {
			if gens[i].headIs(m.Head, m.HeadLen) {
				return i
			}
		}
	}
	return -1
}

// holds says whether g can be the file e was recorded on: same head, and
// not smaller (the size of a .gz says nothing about its content).
func (g *generation) holds(e *entry) bool {
	return (g.gz || g.size >= e.Size) && g.headIs(e.Head, e.HeadLen)
}

// findPrev returns the index in gens, the generations that appeared since
// e was recorded, of the oldest one that holds the file e was recorded on,
// or -1. Every such generation was rotated out of the followed path, which
// named that file then, so the oldest is where its content went on: the
// file itself, renamed, or its copy. The same inode is no better evidence:
// after a copytruncate and then a rename, the file's inode is the newer of
// two generations, and the copy holds what followed the saved offset.
func findPrev(gens []*generation, e *entry) int {
	return slices.IndexFunc(gens, func(g *generation) bool { return g.holds(e) })
}

// findSame returns the index of the newest generation of gens that is the
// file e was recorded on (same device and inode, same head), or -1.
func findSame(gens []*generation, e *entry) int {
	for i := len(gens) - 1; i >= 0; i-- {
		if g := gens[i]; g.id.same(e.id()) && g.holds(e) {
			return i
		}
	}
	return -1
}
