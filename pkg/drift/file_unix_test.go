//go:build unix

package drift_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/drift"
)

// A FIFO given as --path must not block the check waiting for a writer.
func TestAFIFOIsRefusedWithoutBlocking(t *testing.T) {
	t.Parallel()
	fifo := filepath.Join(t.TempDir(), "last_run_summary.yaml")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	done := make(chan error, 1)
	go func() {
		_, err := drift.ParseFile(drift.Auto, fifo, drift.Options{})
		done <- err
	}()
	select {
	case err := <-done:
		require.EqualError(t, err, fifo+": is not a regular file (a FIFO), not a report")
		var de *drift.Error
		require.ErrorAs(t, err, &de)
	case <-time.After(5 * time.Second):
		t.Fatal("ParseFile blocks on a FIFO")
	}
	// Nor a disable lock that is one.
	go func() {
		_, _, err := drift.AgentDisabled(fifo)
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorContains(t, err, "is not a regular file (a FIFO)")
	case <-time.After(5 * time.Second):
		t.Fatal("AgentDisabled blocks on a FIFO")
	}
}

// A report read whole is bounded; the file is sparse, so this is cheap.
func TestAReportTooLargeToReadWholeSaysSo(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "chef-run-report.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"success": true, "elapsed_time": 1, "all_resources": [`), 0o600))
	require.NoError(t, os.Truncate(path, drift.MaxWholeReport+1))
	_, err := drift.ParseFile(drift.Auto, path, drift.Options{})
	require.EqualError(t, err, path+": is 257 MiB, larger than the 256 MiB this check reads of a chef json report")
}
