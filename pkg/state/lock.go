package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Lock takes an exclusive advisory lock on path (created 0600 if missing)
// and returns the function that releases it. Sensu runs handlers
// concurrently, so two deliveries from one spool or two appends to one
// archive file must take turns. Lock polls until ctx is done.
func Lock(ctx context.Context, path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create lock directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) //nolint:gosec // our own lock file
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, err)
	}
	wait := 5 * time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			return func() { _ = unlockFile(f); _ = f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}
