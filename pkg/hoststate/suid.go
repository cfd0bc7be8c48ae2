package hoststate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"syscall"
)

// suidRoots are the system paths walked for SUID/SGID binaries, with the
// depth walked below each: binary directories are flat; library
// directories hold helpers (ssh-keysign, dbus-daemon-launch-helper,
// polkit-agent-helper-1, utempter) at most three levels down, above the
// tens of thousands of files of language runtimes and firmware.
var suidRoots = []struct {
	path  string
	depth int
}{
	{"/usr/bin", 2}, {"/usr/sbin", 2}, {"/bin", 2}, {"/sbin", 2}, {"/usr/local/bin", 2}, {"/usr/local/sbin", 2},
	{"/usr/libexec", 3}, {"/usr/lib", 3}, {"/usr/lib64", 3}, {"/lib", 3}, {"/lib64", 3}, {"/usr/local/lib", 3},
}

// maxHashed bounds the size of a SUID file hashed (a larger one keeps its
// size and mode only).
const maxHashed = 64 << 20

// suid walks the system paths for files with the set-user-ID or
// set-group-ID bit, staying on each root's file system. Roots that are
// the same directory (/bin and /usr/bin on merged-/usr systems) are
// walked once.
func (c *collector) suid() *Facet {
	f := &Facet{}
	type devIno struct{ dev, ino uint64 }
	walked := map[devIno]bool{}
	entries := 0
	for _, r := range suidRoots {
		// The names walked are inside the root, links resolved there:
		// /bin -> /usr/bin on a host mounted at /host is /host/usr/bin.
		root, _, err := c.resolve(r.path)
		if err != nil {
			continue
		}
		fi, err := c.fs.Stat(root)
		if err != nil || !fi.IsDir() {
			continue
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		id := devIno{uint64(st.Dev), st.Ino} //nolint:unconvert // Dev is uint64 on amd64, not everywhere
		if walked[id] {
			continue
		}
		walked[id] = true
		var walk func(dir string, depth int)
		walk = func(dir string, depth int) {
			if entries >= c.opts.SUIDMaxEntries || c.ctx.Err() != nil {
				return
			}
			ents, err := c.readDirName(dir)
			if err != nil {
				f.Notes = append(f.Notes, fmt.Sprintf("/%s: %s", dir, why(err)))
				return
			}
			for _, e := range ents {
				entries++
				if entries > c.opts.SUIDMaxEntries {
					f.Notes = append(f.Notes, fmt.Sprintf("walk stopped after %d entries: SUID binaries further on are not covered", c.opts.SUIDMaxEntries))
					return
				}
				p := path.Join(dir, e.Name())
				t := e.Type()
				if t.IsDir() {
					if depth > 1 {
						if di, err := c.fs.Lstat(p); err == nil && di.IsDir() {
							if ds, ok := di.Sys().(*syscall.Stat_t); ok && uint64(ds.Dev) == uint64(st.Dev) { //nolint:unconvert // see above
								walk(p, depth-1)
							}
						}
					}
					continue
				}
				if !t.IsRegular() {
					continue
				}
				li, err := c.fs.Lstat(p)
				if err != nil || !li.Mode().IsRegular() {
					continue
				}
				fs, ok := li.Sys().(*syscall.Stat_t)
				if !ok || fs.Mode&(syscall.S_ISUID|syscall.S_ISGID) == 0 {
					continue
				}
				show := "/" + p
				it := Item{Key: show, Name: show, Fields: map[string]string{
					"mode":  fmt.Sprintf("%04o", fs.Mode&0o7777),
					"owner": strconv.FormatUint(uint64(fs.Uid), 10) + ":" + strconv.FormatUint(uint64(fs.Gid), 10),
					"size":  strconv.FormatInt(fs.Size, 10),
				}}
				if fs.Size <= maxHashed {
					if h, err := c.hashFile(p); err == nil {
						it.Fields["sha256"] = h
					} else {
						f.Notes = append(f.Notes, fmt.Sprintf("%s: %s", show, why(err)))
					}
				}
				f.Items = append(f.Items, it)
			}
		}
		walk(root, r.depth)
	}
	if len(walked) == 0 {
		f.Unavailable = "none of the system paths exists"
	}
	return f
}

// hashFile hashes the regular file named name inside the root, not
// following a link that replaced it since the walk saw it.
func (c *collector) hashFile(name string) (string, error) {
	fh, err := c.fs.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return "", err
	}
	defer func() { _ = fh.Close() }()
	if fi, err := fh.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", errNotRegular
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(fh, maxHashed)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
