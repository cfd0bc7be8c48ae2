package archive_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/archive"
)

// Handlers run as separate processes, so the archive's lock must hold
// across processes: the test re-runs this test binary as helper
// processes that append at the same time.
const (
	helperDirEnv    = "VIGIL_ARCHIVE_TEST_DIR"
	helperWriterEnv = "VIGIL_ARCHIVE_TEST_WRITER"
	helperCountEnv  = "VIGIL_ARCHIVE_TEST_COUNT"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(helperDirEnv); dir != "" {
		os.Exit(helperAppend(dir))
	}
	os.Exit(m.Run())
}

// helperAppend appends COUNT lines as writer WRITER.
func helperAppend(dir string) int {
	writer, err1 := strconv.Atoi(os.Getenv(helperWriterEnv))
	count, err2 := strconv.Atoi(os.Getenv(helperCountEnv))
	if err1 != nil || err2 != nil {
		fmt.Fprintln(os.Stderr, "bad helper environment")
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	padding := strings.Repeat("p", 3000)
	w := &archive.Writer{Dir: dir, MaxSize: 64 << 10}
	for i := range count {
		line := fmt.Sprintf(`{"writer":%d,"seq":%d,"pad":%q}`, writer, i, padding)
		if _, err := w.Append(ctx, []byte(line), day(2025, 1, 1)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

func TestConcurrentProcessesNeverInterleave(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const writers, perWriter = 4, 50
	cmds := make([]*exec.Cmd, 0, writers)
	outs := make([]*strings.Builder, 0, writers)
	for w := range writers {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(),
			helperDirEnv+"="+dir,
			helperWriterEnv+"="+strconv.Itoa(w),
			helperCountEnv+"="+strconv.Itoa(perWriter),
			// A -race binary otherwise sleeps a second before it exits.
			"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"),
		)
		out := &strings.Builder{}
		cmd.Stdout, cmd.Stderr = out, out
		require.NoError(t, cmd.Start())
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	for i, cmd := range cmds {
		require.NoError(t, cmd.Wait(), "writer %d: %s", i, outs[i].String())
	}
	requireArchived(t, dir, writers, perWriter)
}
