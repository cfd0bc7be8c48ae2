package tail

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

const (
	stateKind    = "tail"
	stateVersion = 1
	// headSize is how much of a file's head is fingerprinted.
	headSize = 1024
)

// stateData is what the state file holds.
type stateData struct {
	Files map[string]*entry `json:"files"`
}

// entry is the position in one followed path: which file (identity), how
// far (offset, lines) and what the generations looked like.
type entry struct {
	// Dev and Ino identify the file; both are zero where the platform has
	// no inodes, and in the "expect a new file" entry (see expectNew).
	Dev uint64 `json:"dev,omitempty"`
	Ino uint64 `json:"ino,omitempty"`
	// Offset is the offset of the next unread byte.
	Offset int64 `json:"offset"`
	// Lines is the number of complete lines before Offset.
	Lines int64 `json:"lines"`
	// Size is the size of the file at the last read.
	Size int64 `json:"size"`
	// Head is the hex SHA-256 of the first HeadLen bytes of the file.
	Head    string `json:"head"`
	HeadLen int    `json:"head_len"`
	// Rotated is the newest rotated generation that existed when this
	// position was recorded; every generation newer than it is new.
	Rotated *mark `json:"rotated,omitempty"`
}

// mark identifies a rotated generation.
type mark struct {
	Dev     uint64 `json:"dev,omitempty"`
	Ino     uint64 `json:"ino,omitempty"`
	Head    string `json:"head"`
	HeadLen int    `json:"head_len"`
	// MTime is the modification time in Unix seconds: rename and gzip keep
	// it, so it tells a compressed generation from another with the same
	// head.
	MTime int64 `json:"mtime"`
}

func (e *entry) id() fileID { return fileID{dev: e.Dev, ino: e.Ino, ok: e.Dev != 0 || e.Ino != 0} }

func (m *mark) id() fileID { return fileID{dev: m.Dev, ino: m.Ino, ok: m.Dev != 0 || m.Ino != 0} }

// expectNew is the position after a followed file was rotated away and
// its successor does not exist yet: any file that appears is read from its
// start.
func expectNew(rotated *mark) *entry {
	return &entry{Head: headHash(nil), Rotated: rotated}
}

// fileID is a device and inode, when the platform has them.
type fileID struct {
	dev, ino uint64
	ok       bool
}

// same says whether a and b are known to be the same file.
func (a fileID) same(b fileID) bool { return a.ok && b.ok && a.dev == b.dev && a.ino == b.ino }

func headHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// headIs says whether head starts with the n bytes whose hash is sum.
func headIs(head []byte, sum string, n int) bool {
	return n >= 0 && len(head) >= n && headHash(head[:n]) == sum
}

func (d *stateData) validate() error {
	for path, e := range d.Files {
		if err := e.validate(); err != nil {
			return fmt.Errorf("%q: %w", path, err)
		}
	}
	return nil
}

func (e *entry) validate() error {
	switch {
	case e == nil:
		return errors.New("empty entry")
	case e.Offset < 0 || e.Lines < 0 || e.Size < 0:
		return errors.New("negative offset, line count or size")
	case e.Lines > e.Offset:
		return fmt.Errorf("%d lines in %d bytes", e.Lines, e.Offset)
	case e.Size < e.Offset:
		return fmt.Errorf("offset %d past size %d", e.Offset, e.Size)
	}
	if err := validHead(e.Head, e.HeadLen); err != nil {
		return err
	}
	if e.Rotated != nil {
		if err := validHead(e.Rotated.Head, e.Rotated.HeadLen); err != nil {
			return fmt.Errorf("rotated generation: %w", err)
		}
	}
	return nil
}

func validHead(sum string, n int) error {
	if n < 0 || n > headSize {
		return fmt.Errorf("head length %d out of range", n)
	}
	if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("head %q is not a SHA-256", sum)
	}
	return nil
}
