package audit

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// atLeast writes a count taken from the kept timestamps: at the cap,
// there may have been more.
func (w *windows) atLeast(n int) string {
	if n >= w.keep {
		return fmt.Sprintf("at least %d", n)
	}
	return strconv.Itoa(n)
}

// windows counts occurrences per key (a source address, a user) within a
// sliding time window, by event time, like fail2ban's findtime: the peak
// is the most occurrences of a key within any span of the window's
// length. Each key keeps at most keep timestamps (the highest threshold):
// a peak that reaches keep is reported as keep, which is all a threshold
// needs, so a million failures from one address cost keep timestamps.
//
// The timestamps still inside the window at the end of a run are carried
// to the next (State), so that a slow attack spread over several check
// intervals is counted whole.
type windows struct {
	span time.Duration
	keep int
	keys map[string]*series
}

type series struct {
	times []int64 // unix nanoseconds, sorted, at most keep
	total int     // occurrences this run
	peak  int     // most within one window this run
	last  int64   // newest occurrence
}

func newWindows(span time.Duration, keep int) *windows {
	return &windows{span: span, keep: max(keep, 1), keys: map[string]*series{}}
}

// add counts one occurrence of key at t.
func (w *windows) add(key string, t time.Time) {
	s := w.keys[key]
	if s == nil {
		s = &series{}
		w.keys[key] = s
	}
	s.total++
	s.insert(t.UnixNano(), w)
}

func (s *series) insert(ns int64, w *windows) {
	// Logs are in time order, so this is nearly always an append.
	i := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns })
	s.times = slices.Insert(s.times, i, ns)
	s.last = max(s.last, ns)
	s.peak = max(s.peak, min(s.around(ns, w), w.keep))
	// Forget what is out of the window of the newest occurrence, and keep
	// at most keep.
	from := sort.Search(len(s.times), func(k int) bool { return s.times[k] > s.last-int64(w.span) })
	if drop := max(from, len(s.times)-w.keep); drop > 0 {
		s.times = append(s.times[:0], s.times[drop:]...)
	}
}

// around is the most kept occurrences within one window that contains ns.
func (s *series) around(ns int64, w *windows) int {
	span := int64(w.span)
	lo := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns-span })
	hi := sort.Search(len(s.times), func(k int) bool { return s.times[k] >= ns+span })
	at := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns })
	// Windows ending at ns and starting at ns.
	return max(at-lo, hi-at+1, 1)
}

// windowState is what a run carries to the next: per key, the
// occurrences within the window of the newest one.
type windowState map[string][]int64

// state returns the timestamps to carry, for at most maxKeys keys (the
// most recently active).
func (w *windows) state(maxKeys int) windowState {
	keys := slices.Collect(maps.Keys(w.keys))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(w.keys[b].last, w.keys[a].last); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := windowState{}
	for _, k := range keys[:min(len(keys), maxKeys)] {
		out[k] = slices.Clone(w.keys[k].times)
	}
	return out
}

// restore loads the occurrences of the previous run: they count towards
// this run's windows but not towards its totals.
func (w *windows) restore(st windowState) {
	for k, times := range st {
		s := &series{}
		for _, t := range times {
			s.insert(t, w)
		}
		s.peak = 0
		w.keys[k] = s
	}
}

// recent is how many occurrences of key the window before t holds.
func (w *windows) recent(key string, t time.Time) int {
	s := w.keys[key]
	if s == nil {
		return 0
	}
	ns := t.UnixNano()
	lo := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns-int64(w.span) })
	hi := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns })
	return hi - lo
}
