//go:build !unix

package remediate

import (
	"io/fs"
	"os/exec"
)

// newProcessGroup does nothing where there are no process groups.
func newProcessGroup(*exec.Cmd) {}

// killProcessGroup kills the command (its children may survive).
func killProcessGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

// owner is unknown here.
func owner(fs.FileInfo) (uid, gid int) { return -1, -1 }
