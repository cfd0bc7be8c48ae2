package fim

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// dirRef is an open directory shared by the walker and the hash workers
// that open files in it; the last user closes it.
type dirRef struct {
	fd   int
	refs atomic.Int32
}

func newDirRef(fd int) *dirRef {
	d := &dirRef{fd: fd}
	d.refs.Store(1)
	return d
}

func (d *dirRef) retain() { d.refs.Add(1) }

func (d *dirRef) release() {
	if d.refs.Add(-1) == 0 {
		_ = unix.Close(d.fd)
	}
}

// item is one entry on its way through the pipeline.
type item struct {
	entry *Entry
	group *Group
	// dir and name locate a file to hash; dir is retained until hashed.
	dir  *dirRef
	name string
	// old is the baseline's record of the path, if any.
	old *Entry
	// removed marks a baseline entry the walk did not find.
	removed bool
	// done is closed when the entry is complete (hashed, or nothing to
	// hash).
	done chan struct{}
	// changing is true when the file changed while being read.
	changing bool
}

// walker visits the trees in baseline order and sends every entry that
// is not excluded or ignored.
type walker struct {
	ctx    context.Context
	root   string // file system root the logical paths live under
	policy *Policy
	out    chan<- *item
	// xattrs is true when some group watches extended attributes.
	xattrs bool
	// entries counts what was visited, ignored entries included.
	entries atomic.Int64
	// missing lists the paths to scan that do not exist.
	missing []string
	// readDir lists a directory: readDirNames, unless a test fails it.
	readDir func(fd int) ([]string, error)
}

// walk visits each path (sorted and de-duplicated by the caller).
func (w *walker) walk(paths []string) error {
	for _, p := range paths {
		if err := w.walkRoot(p); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) walkRoot(p string) error {
	if p == "/" {
		fd, err := unix.Open(w.real("/"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %s: %w", w.real("/"), err)
		}
		d := newDirRef(fd)
		defer d.release()
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fmt.Errorf("stat %s: %w", w.real("/"), err)
		}
		e := entryFromStat("/", &st)
		return w.emitDir(&item{entry: e, group: w.policy.Classify("/")}, d, "", d)
	}
	parent, name := splitPath(p)
	fd, err := unix.Open(w.real(parent), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		// The root's parent is missing: the root is missing too, which the
		// comparison reports as removed (or, at init, as unreadable).
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			w.missing = append(w.missing, p)
			return nil
		}
		e := &Entry{Path: p, Err: "cannot open parent directory: " + errText(err)}
		return w.send(&item{entry: e, group: w.policy.Classify(p), done: closed})
	}
	d := newDirRef(fd)
	defer d.release()
	var st unix.Stat_t
	if err := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); errors.Is(err, unix.ENOENT) {
		w.missing = append(w.missing, p)
		return nil
	}
	return w.visit(d, name, p)
}

// real maps a logical path to the path to open.
func (w *walker) real(p string) string {
	if w.root == "" || w.root == "/" {
		return p
	}
	return strings.TrimSuffix(w.root, "/") + p
}

// closed is a done channel for entries with nothing left to do.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (w *walker) send(it *item) error {
	select {
	case w.out <- it:
		return nil
	case <-w.ctx.Done():
		return context.Cause(w.ctx)
	}
}

// emit sends an entry unless its group ignores it.
func (w *walker) emit(it *item, dir *dirRef, name string) error {
	w.entries.Add(1)
	if it.group.Ignore {
		return nil
	}
	if it.entry.Type == TypeFile && it.entry.Err == "" {
		dir.retain()
		it.dir, it.name = dir, name
	}
	return w.send(it)
}

// visit records name (in dir, at logical path p) and, for a directory,
// everything below it.
func (w *walker) visit(dir *dirRef, name, p string) error {
	if err := w.ctx.Err(); err != nil {
		return context.Cause(w.ctx)
	}
	if w.policy.Excluded(p) {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dir.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil // gone since the directory was listed
		}
		w.entries.Add(1)
		return w.send(&item{entry: &Entry{Path: p, Err: "cannot stat: " + errText(err)}, group: w.policy.Classify(p), done: closed})
	}
	e := entryFromStat(p, &st)
	g := w.policy.Classify(p)
	it := &item{entry: e, group: g}
	switch e.Type {
	case TypeSymlink:
		e.Target = readlinkat(dir.fd, name, &st)
		return w.emit(it, dir, name)
	case TypeDir:
	default:
		return w.emit(it, dir, name)
	}
	fd, err := unix.Openat(dir.fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		e.Err = "cannot open directory: " + errText(err)
		return w.emit(it, dir, name)
	}
	child := newDirRef(fd)
	defer child.release()
	var again unix.Stat_t
	if err := unix.Fstat(fd, &again); err != nil || again.Ino != st.Ino || again.Dev != st.Dev {
		e.Err = "replaced while being scanned"
		return w.emit(it, dir, name)
	}
	if w.xattrs && g.Watch&AttrXattrs != 0 {
		e.Xattrs = xattrDigest(fd)
	}
	return w.emitDir(it, dir, name, child)
}

// emitDir sends a directory's entry (in parent, as name) and visits its
// entries, d open on it, in name order. It lists the directory first, so
// that a directory that cannot be listed is one entry that says so, not a
// good entry and a second one with the same path.
func (w *walker) emitDir(it *item, parent *dirRef, name string, d *dirRef) error {
	names, err := w.readDir(d.fd)
	if err != nil {
		it.entry.Err = "cannot list directory: " + errText(err)
	}
	if err := w.emit(it, parent, name); err != nil {
		return err
	}
	p := it.entry.Path
	prefix := p + "/"
	if p == "/" {
		prefix = "/"
	}
	for _, n := range names {
		if err := w.visit(d, n, prefix+n); err != nil {
			return err
		}
	}
	return nil
}

// readDirNames lists a directory from its descriptor, sorted by name.
func readDirNames(fd int) ([]string, error) {
	var names []string
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.Getdents(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
	}
	slices.Sort(names)
	return names, nil
}

func readlinkat(dirfd int, name string, st *unix.Stat_t) string {
	size := max(st.Size+1, 256)
	for range 4 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return ""
		}
		if int64(n) < size {
			return string(buf[:n])
		}
		size *= 4
	}
	return ""
}

// xattrDigest hashes the sorted extended attributes (ACLs and SELinux
// labels included) of an open file; nil when there are none or they
// cannot be read.
func xattrDigest(fd int) []byte {
	sz, err := unix.Flistxattr(fd, nil)
	if err != nil || sz <= 0 {
		return nil
	}
	list := make([]byte, sz)
	if sz, err = unix.Flistxattr(fd, list); err != nil {
		return nil
	}
	names := strings.Split(strings.TrimRight(string(list[:sz]), "\x00"), "\x00")
	slices.Sort(names)
	h := newSHA256()
	for _, n := range names {
		vs, err := unix.Fgetxattr(fd, n, nil)
		if err != nil || vs < 0 {
			continue
		}
		v := make([]byte, vs)
		if vs, err = unix.Fgetxattr(fd, n, v); err != nil {
			continue
		}
		h.Write([]byte(n))
		h.Write([]byte{0})
		h.Write(v[:vs])
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func entryFromStat(p string, st *unix.Stat_t) *Entry {
	e := &Entry{
		Path:  p,
		Mode:  st.Mode & 0o7777,
		UID:   st.Uid,
		GID:   st.Gid,
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Ino:   st.Ino,
		Dev:   st.Dev,
		Nlink: uint64(st.Nlink), //nolint:unconvert // uint32 on some architectures
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		e.Type = TypeFile
	case unix.S_IFDIR:
		e.Type = TypeDir
	case unix.S_IFLNK:
		e.Type = TypeSymlink
	case unix.S_IFBLK:
		e.Type, e.Rdev = TypeBlockDevice, st.Rdev
	case unix.S_IFCHR:
		e.Type, e.Rdev = TypeCharDevice, st.Rdev
	case unix.S_IFIFO:
		e.Type = TypeFIFO
	case unix.S_IFSOCK:
		e.Type = TypeSocket
	}
	if e.Type != TypeFile && e.Type != TypeSymlink {
		e.Size = 0 // a directory's size is the file system's business
	}
	return e
}

func splitPath(p string) (parent, name string) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/", p[i+1:]
	}
	return p[:i], p[i+1:]
}

// errText is an error without the Go type noise: "permission denied".
func errText(err error) string {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
