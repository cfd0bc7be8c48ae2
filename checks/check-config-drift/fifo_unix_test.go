//go:build unix

package main

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/testutil"
)

// A FIFO as --path is UNKNOWN at once, with one line, not a hung check.
func TestAFIFOIsUnknownAtOnce(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	fifo := filepath.Join(t.TempDir(), "recap.txt")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	start := time.Now()
	ev := h.RunCheck(&corev2.CheckConfig{ObjectMeta: corev2.ObjectMeta{Name: "drift"}, Timeout: 30,
		Command: "check-config-drift --source ansible --timeout 20s --path " + testutil.Shell(fifo)})
	require.Less(t, time.Since(start), 10*time.Second)
	require.EqualValues(t, 3, ev.Check.Status, ev.Check.Output)
	require.Equal(t, "check-config-drift UNKNOWN - read "+fifo+": is not a regular file (a FIFO), not a report", strings.TrimSpace(ev.Check.Output))
}
