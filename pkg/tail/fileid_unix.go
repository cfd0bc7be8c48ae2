//go:build unix

package tail

import (
	"os"
	"syscall"
)

// idOf returns the device and inode of a file.
func idOf(fi os.FileInfo) fileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}
	}
	// The conversion is needed where Dev is an int32 (darwin).
	return fileID{dev: uint64(st.Dev), ino: st.Ino, ok: true}
}
