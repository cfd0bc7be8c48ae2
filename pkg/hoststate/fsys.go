package hoststate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
)

// Every file is read through an os.Root opened on Options.Root, which
// refuses any name, ".." or symbolic link that leads out of it. Symbolic
// links are followed the way the host itself sees them (resolve): an
// absolute target is taken under the root and ".." stops at the root, as
// in a chroot, so that a host mounted at /host is read as that host and
// `ln -s /etc/shadow /host/etc/sudoers.d/zz` names /host/etc/shadow, never
// the shadow file of the machine running the check. Only regular files
// are read (a FIFO would block forever, a device would never end), opened
// without blocking and bounded in size.

// errNotRegular is why a file that is not a regular file was not read.
var errNotRegular = errors.New("not a regular file")

// maxLinks bounds the symbolic links followed for one path (Linux: 40).
const maxLinks = 40

// rootName maps a path as the host knows it to a name inside the root:
// cleaned, ".." stopping at the root.
func rootName(p string) string {
	n := strings.TrimPrefix(path.Clean("/"+p), "/")
	if n == "" {
		return "."
	}
	return n
}

// resolve follows the symbolic links of p component by component, inside
// the root, and returns the name inside the root it leads to and whether
// a link was followed. A component that does not exist ends the walk: the
// open that follows reports it.
func (c *collector) resolve(p string) (string, bool, error) {
	comps := strings.Split(rootName(p), "/")
	if comps[0] == "." {
		return ".", false, nil
	}
	var done []string
	linked, hops := false, 0
	for i := 0; i < len(comps); i++ {
		cand := path.Join(append(slices.Clone(done), comps[i])...)
		fi, err := c.fs.Lstat(cand)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, comps[i])
			if err != nil {
				done = append(done, comps[i+1:]...)
				break
			}
			continue
		}
		if hops++; hops > maxLinks {
			return "", linked, &fs.PathError{Op: "open", Path: p, Err: syscall.ELOOP}
		}
		target, err := c.fs.Readlink(cand)
		if err != nil {
			return "", linked, err
		}
		linked = true
		if !path.IsAbs(target) {
			target = "/" + path.Join(path.Join(done...), target)
		}
		next := rootName(target + "/" + strings.Join(comps[i+1:], "/"))
		done, i = nil, -1
		if comps = strings.Split(next, "/"); next == "." {
			comps = nil
		}
	}
	if len(done) == 0 {
		return ".", linked, nil
	}
	return path.Join(done...), linked, nil
}

// openRegular opens p for reading if it is a regular file: without
// blocking (a FIFO with no writer), and never a device or a socket.
func (c *collector) openRegular(p string) (*os.File, bool, error) {
	name, linked, err := c.resolve(p)
	if err != nil {
		return nil, linked, err
	}
	f, err := c.fs.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, linked, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, linked, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, linked, fmt.Errorf("%w (%s): not read", errNotRegular, fileKind(fi.Mode()))
	}
	return f, linked, nil
}

// fileKind names a file type for notes.
func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	}
	return m.Type().String()
}

// readFile reads a regular file of at most limit bytes (0: maxFile) at p
// as the host knows it, under the root.
func (c *collector) readFile(p string, limit int64) ([]byte, error) {
	b, _, err := c.readFileLinked(p, limit)
	return b, err
}

// readFileLinked is readFile that also says whether a symbolic link was
// followed to reach the file.
func (c *collector) readFileLinked(p string, limit int64) ([]byte, bool, error) {
	if limit <= 0 {
		limit = maxFile
	}
	f, linked, err := c.openRegular(p)
	if err != nil {
		return nil, linked, err
	}
	defer func() { _ = f.Close() }()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, linked, err
	}
	if int64(len(b)) > limit {
		return nil, linked, fmt.Errorf("larger than %s: not read", sizeName(limit))
	}
	return b, linked, nil
}

func sizeName(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// readDir lists the directory at p, sorted by name.
func (c *collector) readDir(p string) ([]fs.DirEntry, error) {
	name, _, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	return c.readDirName(name)
}

// readDirName lists a directory named inside the root (no resolving).
func (c *collector) readDirName(name string) ([]fs.DirEntry, error) {
	d, err := c.fs.Open(name)
	if err != nil {
		return nil, err
	}
	defer func() { _ = d.Close() }()
	ents, err := d.ReadDir(-1)
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, err
}

// stat is os.Stat of p under the root.
func (c *collector) stat(p string) (fs.FileInfo, error) {
	name, _, err := c.resolve(p)
	if err != nil {
		return nil, err
	}
	return c.fs.Stat(name)
}

// parentName resolves the directory of p and returns the name inside the
// root of p's last component, not followed.
func (c *collector) parentName(p string) (string, error) {
	n := rootName(p)
	if n == "." {
		return ".", nil
	}
	dir, _, err := c.resolve(path.Dir(n))
	if err != nil {
		return "", err
	}
	return path.Join(dir, path.Base(n)), nil
}

// readlink is os.Readlink of p under the root (p's own link not followed).
func (c *collector) readlink(p string) (string, error) {
	name, err := c.parentName(p)
	if err != nil {
		return "", err
	}
	return c.fs.Readlink(name)
}

// lstat is os.Lstat of p under the root.
func (c *collector) lstat(p string) (fs.FileInfo, error) {
	name, err := c.parentName(p)
	if err != nil {
		return nil, err
	}
	return c.fs.Lstat(name)
}
