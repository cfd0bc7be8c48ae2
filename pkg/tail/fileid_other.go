//go:build !unix

package tail

import "os"

// idOf returns no identity where there are no inodes: files are then told
// apart by their head fingerprint, size and modification time only.
func idOf(os.FileInfo) fileID { return fileID{} }
