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
// length. Each key keeps its newest keep timestamps (twice the highest
// threshold, at least 100): a peak that reaches keep is reported as "at
// least keep", which is all a threshold needs, so a million failures from
// one address cost keep timestamps.
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
	// Keep the newest keep. Nothing is forgotten by time during a run:
	// files read one after the other go back in time, and one line from
	// the future (clock skew, a forged line) must not blind the key.
	if drop := len(s.times) - w.keep; drop > 0 {
		s.times = append(s.times[:0], s.times[drop:]...)
	}
}

// around is the most kept occurrences within one window that starts or
// ends at ns.
func (s *series) around(ns int64, w *windows) int {
	span := int64(w.span)
	lo := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns-span })
	at := sort.Search(len(s.times), func(k int) bool { return s.times[k] > ns })
	from := sort.Search(len(s.times), func(k int) bool { return s.times[k] >= ns })
	hi := sort.Search(len(s.times), func(k int) bool { return s.times[k] >= ns+span })
	return max(at-lo, hi-from, 1)
}

// windowState is what a run carries to the next: per key, the
// occurrences within the window of the newest one.
type windowState map[string][]int64

// state returns the timestamps to carry, for at most maxKeys keys (the
// most recently active), dropping what the next run's windows cannot
// reach: older than the window before the newest occurrence that is not
// more than an hour ahead of now.
func (w *windows) state(maxKeys int, now time.Time) windowState {
	keys := slices.Collect(maps.Keys(w.keys))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(w.keys[b].last, w.keys[a].last); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	out := windowState{}
	newest := int64(0)
	limit := now.Add(time.Hour).UnixNano()
	for _, sr := range w.keys {
		for _, t := range sr.times {
			if t <= limit {
				newest = max(newest, t)
			}
		}
	}
	for _, k := range keys[:min(len(keys), maxKeys)] {
		// Only what the next run's windows can still reach.
		times := slices.DeleteFunc(slices.Clone(w.keys[k].times), func(t int64) bool { return t <= newest-int64(w.span) })
		if len(times) > 0 {
			out[k] = times
		}
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
