// Package fim is the engine of check-file-integrity: it records a
// baseline of file trees and compares the trees against it, the job of
// AIDE and Tripwire, streamed and parallel.
//
// # How a run works
//
// One goroutine walks the trees in a fixed order (each directory's
// entries sorted by name, directories entered where they sort), reading
// metadata with fstatat relative to an open directory descriptor: no path
// is ever resolved from the root again, so symlinks are never followed,
// a renamed parent cannot redirect the walk, and paths longer than
// PATH_MAX work. The baseline is stored in the same order, so comparing is
// a merge of two sorted streams: memory stays bounded by the width of one
// directory and a fixed window of entries in flight, however large the
// tree. Files whose content must be hashed go to a pool of workers, which
// open them relative to their directory with O_NOFOLLOW, hash them and
// check that they did not change while being read; a collector puts the
// results back in order, compares them with the baseline, and writes the
// new baseline when one is being recorded.
//
// # Modes
//
// Full mode (the default) hashes every file, because an attacker who can
// write a file can also reset its mtime. Fast mode hashes only files whose
// size, mtime, ctime, inode or device changed since the baseline, and
// trusts the recorded digest for the rest. ctime cannot be set from user
// space, so a content change with size and mtime restored still changes
// it; only someone who can also reset the clock or write the block device
// gets past fast mode, and full mode is there for that.
//
// # Hashes
//
// SHA-256 (crypto/sha256, which uses the CPU's SHA extensions where
// present: about 1.5 GB/s per core on this project's machines) by default,
// BLAKE3 (lukechampine.com/blake3, pinned at v1.3.0: the maintained pure
// Go implementation with SIMD) as an option.
//
// # The baseline
//
// A binary file (see baseline.go): a header, one record per entry with
// the path prefix-compressed against the previous one, and a trailer with
// the entry count and an HMAC-SHA256 of everything before it when a key
// is given. It is written to a temporary file, fsynced and renamed (mode
// 0600), and verified as it is read; a signature that does not verify
// discards the whole comparison.
package fim

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Type is an entry's file type.
type Type uint8

// The file types.
const (
	TypeUnknown Type = iota
	TypeFile
	TypeDir
	TypeSymlink
	TypeBlockDevice
	TypeCharDevice
	TypeFIFO
	TypeSocket
)

var typeNames = [...]string{"unknown", "file", "directory", "symlink", "block device", "character device", "fifo", "socket"}

// String names the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Entry is what is recorded of one path.
type Entry struct {
	// Path is the absolute path, as the policy sees it.
	Path  string
	Type  Type
	Mode  uint32 // permission bits with setuid, setgid and sticky (07777)
	UID   uint32
	GID   uint32
	Size  int64
	Mtime int64 // nanoseconds since the epoch
	Ctime int64 // nanoseconds since the epoch
	Ino   uint64
	Dev   uint64
	Nlink uint64
	Rdev  uint64
	// Target is a symlink's target.
	Target string
	// Hash is the content digest of a regular file, when watched.
	Hash []byte
	// Xattrs is a digest of the extended attributes (ACLs and SELinux
	// labels included), when watched.
	Xattrs []byte
	// Err says why the entry could not be read in full.
	Err string
}

const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
)

// fingerprint is what fast mode trusts: if none of these changed, the
// recorded digest stands.
func (e *Entry) sameFingerprint(o *Entry) bool {
	return e.Size == o.Size && e.Mtime == o.Mtime && e.Ctime == o.Ctime && e.Ino == o.Ino && e.Dev == o.Dev && e.Type == o.Type
}

// Display renders a path for output: as is when it is valid UTF-8 without
// control characters, otherwise Go-quoted (\n, \xff), so that no name can
// forge an output line or break JSON.
func Display(path string) string {
	if utf8.ValidString(path) && !strings.ContainsFunc(path, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return path
	}
	q := strconv.Quote(path)
	return q[1 : len(q)-1]
}

// describe summarises an entry for an "added" finding.
func (e *Entry) describe() string {
	switch e.Type {
	case TypeFile:
		return fmt.Sprintf("new file, mode %04o, owner %d:%d, %d bytes", e.Mode, e.UID, e.GID, e.Size)
	case TypeSymlink:
		return fmt.Sprintf("new symlink to %s", Display(e.Target))
	case TypeDir:
		return fmt.Sprintf("new directory, mode %04o, owner %d:%d", e.Mode, e.UID, e.GID)
	default:
		return fmt.Sprintf("new %s, mode %04o, owner %d:%d", e.Type, e.Mode, e.UID, e.GID)
	}
}
