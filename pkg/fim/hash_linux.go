package fim

import (
	"errors"
	"hash"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// hasher is the pool's shared state.
type hasher struct {
	alg    string
	xattrs bool
	bytes  atomic.Int64
	files  atomic.Int64
}

// work hashes the items it receives until the channel closes.
func (h *hasher) work(jobs <-chan *item) error {
	d, err := newHash(h.alg)
	if err != nil {
		return err
	}
	buf := make([]byte, 256<<10)
	for it := range jobs {
		h.hash(it, d, buf)
		close(it.done)
	}
	return nil
}

// hash reads one file relative to its directory, never following a
// symlink, and checks that it did not change while being read; a file
// that did is read once more, then reported as changing. A group that
// watches extended attributes but not content has only those read.
func (h *hasher) hash(it *item, d hash.Hash, buf []byte) {
	dir := it.dir
	it.dir = nil
	defer dir.release()
	e := it.entry
	for range 2 {
		fd, err := unix.Openat(dir.fd, it.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) {
				e.Err = "replaced while being scanned"
			} else {
				e.Err = "cannot read: " + errText(err)
			}
			return
		}
		var before, after unix.Stat_t
		if err := unix.Fstat(fd, &before); err != nil || before.Mode&unix.S_IFMT != unix.S_IFREG {
			_ = unix.Close(fd)
			e.Err = "replaced while being scanned"
			return
		}
		content := it.group.Watch&AttrContent != 0
		var n int64
		var rerr error
		if content {
			d.Reset()
			n, rerr = readAll(fd, d, buf)
		}
		serr := unix.Fstat(fd, &after)
		var xattrs []byte
		if h.xattrs && it.group.Watch&AttrXattrs != 0 {
			xattrs = xattrDigest(fd)
		}
		_ = unix.Close(fd)
		if rerr != nil {
			e.Err = "read error: " + errText(rerr)
			return
		}
		h.bytes.Add(n)
		if serr == nil && stable(&before, &after) && (!content || n == after.Size) {
			refresh(e, &after)
			e.Xattrs = xattrs
			if content {
				e.Hash = d.Sum(nil)
				h.files.Add(1)
			}
			return
		}
		if serr == nil {
			refresh(e, &after)
		}
	}
	it.changing = true
	e.Err = "changed while being hashed"
	e.Hash = nil
}

func readAll(fd int, d hash.Hash, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
		d.Write(buf[:n])
		total += int64(n)
	}
}

// stable reports that a file did not change between two stats.
func stable(a, b *unix.Stat_t) bool {
	return a.Size == b.Size && a.Mtim == b.Mtim && a.Ctim == b.Ctim && a.Ino == b.Ino && a.Dev == b.Dev
}

// refresh updates an entry from the descriptor's stat, so that metadata
// and digest describe the same version of the file.
func refresh(e *Entry, st *unix.Stat_t) {
	f := entryFromStat(e.Path, st)
	f.Target, f.Hash, f.Xattrs, f.Err = e.Target, e.Hash, e.Xattrs, e.Err
	*e = *f
}
