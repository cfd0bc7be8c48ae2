package driftcheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/pkg/drift"
	"github.com/vigil-sec/vigil/pkg/state"
)

// The learned history's kind and format version in its state envelope.
const (
	historyKind    = "config-drift-history"
	historyVersion = 1
)

// History is what --learn keeps: the most recent runs, oldest first.
type History struct {
	Runs []LearnedRun `json:"runs"`
}

// LearnedRun is one run in the history.
type LearnedRun struct {
	// Key identifies the run, so that reading the same report twice
	// counts it once: the run id, else its time, else the file's
	// modification time and size.
	Key     string    `json:"key"`
	Time    time.Time `json:"time"`
	Changes int       `json:"changes"`
}

// baseline is one run's use of the learned history.
type baseline struct {
	cfg    *Config
	active bool
	hist   History
	key    string
	seen   bool
	unlock func()
	run    LearnedRun
}

// runKey identifies a run.
func runKey(r *drift.Result, path string) string {
	switch {
	case r.RunID != "":
		return r.Source.String() + ":" + r.RunID
	case !r.TimeFromFile:
		return r.Source.String() + "@" + r.Time.UTC().Format(time.RFC3339Nano)
	}
	st, err := os.Stat(path)
	if err != nil {
		return r.Source.String() + "@" + r.Time.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("%s@%s/%d", r.Source, st.ModTime().UTC().Format(time.RFC3339Nano), st.Size())
}

// load takes the history's lock and reads it.
func (b *baseline) load(ctx context.Context, r *drift.Result, path string) error {
	unlock, err := state.Lock(ctx, b.cfg.Learn+".lock")
	if err != nil {
		return fmt.Errorf("--learn: %w", err)
	}
	if err := state.Load(b.cfg.Learn, historyKind, historyVersion, &b.hist); err != nil && !errors.Is(err, state.ErrNotExist) {
		unlock()
		return fmt.Errorf("--learn: %w", err)
	}
	b.unlock, b.active = unlock, true
	b.key = runKey(r, path)
	b.run = LearnedRun{Key: b.key, Time: r.Time.UTC(), Changes: changes(r)}
	b.seen = slices.ContainsFunc(b.hist.Runs, func(x LearnedRun) bool { return x.Key == b.key })
	return nil
}

// judge compares this run's changes with the other runs in the history:
// anomalous when there are at least --learn-min of them and the changes
// exceed median + k·MAD. A MAD of 0 (every run alike) counts as 1, so
// that one change more than usual is not an anomaly.
func (b *baseline) judge(n int) (string, bool) {
	var others []float64
	for _, x := range b.hist.Runs {
		if x.Key != b.key {
			others = append(others, float64(x.Changes))
		}
	}
	if len(others) < b.cfg.LearnMin {
		return fmt.Sprintf("learning: %d of %d runs seen before judging", len(others), b.cfg.LearnMin), false
	}
	med := median(others)
	dev := make([]float64, len(others))
	for i, v := range others {
		dev[i] = math.Abs(v - med)
	}
	mad := math.Max(median(dev), 1)
	limit := med + b.cfg.LearnK*mad
	if float64(n) > limit {
		return fmt.Sprintf("unusual: %d changes, above the learned limit %g (median %g + %g × MAD %g over %d runs)", n, limit, med, b.cfg.LearnK, mad, len(others)), true
	}
	return "", false
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// commit adds the run to the history (once) and saves it, keeping the
// most recent --learn-runs runs; it releases the lock.
func (b *baseline) commit() error {
	defer b.unlock()
	if b.seen {
		return nil
	}
	b.hist.Runs = append(b.hist.Runs, b.run)
	slices.SortStableFunc(b.hist.Runs, func(x, y LearnedRun) int { return x.Time.Compare(y.Time) })
	if extra := len(b.hist.Runs) - b.cfg.LearnRuns; extra > 0 {
		b.hist.Runs = slices.Delete(b.hist.Runs, 0, extra)
	}
	if err := state.Save(b.cfg.Learn, historyKind, historyVersion, b.hist); err != nil {
		return fmt.Errorf("--learn: %w", err)
	}
	return nil
}

// loadHistory reads a history file.
func loadHistory(path string, h *History) error {
	return state.Load(path, historyKind, historyVersion, h)
}
