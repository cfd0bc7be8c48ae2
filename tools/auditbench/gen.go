package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
)

// The layout of a generated corpus.
const (
	k8sFile     = "k8s-audit.log"
	authFile    = "auth.log"
	truthFile   = "ground_truth.json"
	writeBuffer = 4 << 20
)

// start is the beginning of the logged day; both files cover one day.
var start = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

const day = int64(24 * time.Hour)

// The random streams of a seed: one per file for the background and one
// per file for the incidents, so that the incidents stay the same (only
// their line numbers move) when the sizes change.
const (
	streamK8s = iota + 1
	streamAuth
	streamK8sIncidents
	streamAuthIncidents
)

// genOptions are gen's flags.
type genOptions struct {
	dir           string
	seed          uint64
	k8sMB, authMB float64
}

// generate writes the two logs and the ground truth, one goroutine per
// log, and returns the truth.
func generate(o genOptions) (*Truth, error) {
	if o.k8sMB <= 0 || o.authMB <= 0 {
		return nil, fmt.Errorf("--k8s-mb and --auth-mb must be positive, not %g and %g", o.k8sMB, o.authMB)
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, err
	}
	t := &Truth{
		Command: fmt.Sprintf("auditbench gen --seed %d --k8s-mb %s --auth-mb %s", o.seed, num(o.k8sMB), num(o.authMB)),
		Seed:    o.seed,
		Start:   start.Format(time.RFC3339),
		Files:   map[string]*FileTruth{},
	}
	jobs := []struct {
		name string
		mb   float64
		gen  func(r, ri *rand.Rand, s *stream)
	}{
		{k8sFile, o.k8sMB, genK8s},
		{authFile, o.authMB, genAuth},
	}
	truths := make([]*FileTruth, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(o.seed, uint64(streamK8s+i)))
			ri := rand.New(rand.NewPCG(o.seed, uint64(streamK8sIncidents+i)))
			truths[i], errs[i] = writeLog(filepath.Join(o.dir, j.name), int64(j.mb*1e6), func(s *stream) { j.gen(r, ri, s) })
		})
	}
	wg.Wait()
	for i, j := range jobs {
		if errs[i] != nil {
			return nil, fmt.Errorf("write %s: %w", j.name, errs[i])
		}
		t.Files[j.name] = truths[i]
	}
	return t, writeTruth(filepath.Join(o.dir, truthFile), t)
}

// num prints a size flag the way it was most likely typed.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// writeLog creates path and lets gen fill it through a stream.
func writeLog(path string, target int64, gen func(*stream)) (ft *FileTruth, err error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	s := &stream{w: bufio.NewWriterSize(out, writeBuffer), target: target, ft: &FileTruth{Events: map[string]int{}}}
	gen(s)
	if s.err != nil {
		return nil, s.err
	}
	return s.ft, s.w.Flush()
}

// A line of an incident, scheduled at its timestamp.
type line struct {
	at       int64 // the timestamp written on the line, ns since 1970
	seq      int   // the order of lines with the same timestamp
	text     []byte
	incident int
	// rules are the per-event rules the line's log event counts for, set
	// on one line per event (a Kubernetes event logged at two stages
	// counts once).
	rules []string
	// match: a per-line filter of the rules selects the line.
	match bool
}

// plan collects the incidents of a file and their lines before the file
// is written.
type plan struct {
	incidents []*Incident
	lines     []line
}

// incident starts a new incident and returns its index.
func (p *plan) incident(id, description string, findings ...*Expected) int {
	p.incidents = append(p.incidents, &Incident{ID: id, Description: description, Findings: findings})
	return len(p.incidents) - 1
}

// add schedules one line of incident inc.
func (p *plan) add(inc int, at int64, text []byte, rules []string, match bool) {
	p.lines = append(p.lines, line{at: at, seq: len(p.lines), text: text, incident: inc, rules: rules, match: match})
}

// spread returns n start times over the day in a random order, one in
// each of n equal slots from 1% to 95% of it (in its first half), so that
// the incidents are spread over the whole file.
func spread(r *rand.Rand, n int) []int64 {
	out := make([]int64, n)
	slot := day * 94 / 100 / int64(n)
	for i := range out {
		out[i] = start.UnixNano() + day/100 + int64(i)*slot + r.Int64N(slot/2)
	}
	r.Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// A stream writes one log file: background lines as the generator makes
// them, and the planted lines merged in at their timestamps. Its clock
// runs on the bytes written, so that the day spans the whole file
// whatever its size and the incidents land where their time says.
type stream struct {
	w       *bufio.Writer
	err     error
	target  int64 // bytes to write before the background stops
	written int64
	last    int64 // the latest timestamp written
	ft      *FileTruth
	planned []line
	next    int // the first planned line not yet written
}

// setPlan sorts the planned lines by time and records the incidents.
func (s *stream) setPlan(p *plan) {
	s.planned = p.lines
	slices.SortFunc(s.planned, func(a, b line) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.seq, b.seq)) })
	s.ft.Incidents = p.incidents
}

// done reports whether the background has written its share.
func (s *stream) done() bool { return s.written >= s.target || s.err != nil }

// now returns the clock for the next background record: the share of the
// day that the bytes written make, plus up to jitter, never before the
// last timestamp written.
func (s *stream) now(r *rand.Rand, jitter int64) int64 {
	t := start.UnixNano() + int64(float64(day)*float64(s.written)/float64(s.target)) + r.Int64N(jitter)
	return max(t, s.last)
}

// nextPlanned returns the time of the next planned line, or MaxInt64.
func (s *stream) nextPlanned() int64 {
	if s.next < len(s.planned) {
		return s.planned[s.next].at
	}
	return 1<<63 - 1
}

// writePlanned writes the next planned line and records it in the truth.
func (s *stream) writePlanned() {
	l := s.planned[s.next]
	s.next++
	s.put(l.text, l.at)
	s.ft.PlantedLines++
	inc := s.ft.Incidents[l.incident]
	inc.Lines = append(inc.Lines, s.ft.Lines)
	for _, rule := range l.rules {
		s.ft.Events[rule]++
		for _, e := range inc.Findings {
			if e.Rule == rule {
				e.Events++
			}
		}
	}
	if l.match {
		s.ft.MatchingLines++
	}
}

// flushPlanned writes the planned lines due by t.
func (s *stream) flushPlanned(t int64) {
	for s.next < len(s.planned) && s.planned[s.next].at <= t {
		s.writePlanned()
	}
}

// benign writes one background line stamped at.
func (s *stream) benign(b []byte, at int64) {
	s.put(b, at)
	s.ft.BenignLines++
}

// put writes one line and its newline.
func (s *stream) put(b []byte, at int64) {
	if s.err != nil {
		return
	}
	b = append(b, '\n')
	if _, err := s.w.Write(b); err != nil {
		s.err = err
	}
	s.written += int64(len(b))
	s.ft.Bytes += int64(len(b))
	s.ft.Lines++
	s.last = max(s.last, at)
}

// summary prints what was generated.
func (t *Truth) summary(w io.Writer, dir string) {
	for _, name := range []string{k8sFile, authFile} {
		ft := t.Files[name]
		fmt.Fprintf(w, "  %-14s %7.1f MB %9d lines (%.0f bytes a line), %d planted lines in %d incidents\n",
			name, float64(ft.Bytes)/1e6, ft.Lines, float64(ft.Bytes)/float64(max(ft.Lines, 1)), ft.PlantedLines, len(ft.Incidents))
		for _, rule := range slices.Sorted(maps.Keys(ft.Events)) {
			fmt.Fprintf(w, "    events %-28s %5d\n", rule, ft.Events[rule])
		}
	}
	fmt.Fprintf(w, "generated %s and %s in %s\n", k8sFile, authFile, dir)
}

// buf builds one record of a log. It is not safe for concurrent use: each
// file has its own.
type buf struct {
	r *rand.Rand
	b []byte
}

func (w *buf) s(str string) { w.b = append(w.b, str...) }
func (w *buf) n(v int)      { w.b = strconv.AppendInt(w.b, int64(v), 10) }

// q writes a JSON string. The generator's strings are printable ASCII:
// only quotes and backslashes need escaping.
func (w *buf) q(str string) {
	w.b = append(w.b, '"')
	for i := 0; i < len(str); i++ {
		if c := str[i]; c == '"' || c == '\\' {
			w.b = append(w.b, '\\', c)
		} else {
			w.b = append(w.b, c)
		}
	}
	w.b = append(w.b, '"')
}

const hexLower = "0123456789abcdef"

// hex writes n random lower-case hex digits.
func (w *buf) hex(n int) {
	for n > 0 {
		v := w.r.Uint64()
		for k := 0; k < 16 && n > 0; k, n = k+1, n-1 {
			w.b = append(w.b, hexLower[v&15])
			v >>= 4
		}
	}
}

// uuid writes a random version 4 UUID.
func (w *buf) uuid() {
	w.hex(8)
	w.s("-")
	w.hex(4)
	w.s("-4")
	w.hex(3)
	w.b = append(w.b, '-', "89ab"[w.r.IntN(4)])
	w.hex(3)
	w.s("-")
	w.hex(12)
}

// alnum writes n characters of the alphabet of generated Kubernetes
// names (no vowels, no confusable digits).
func (w *buf) alnum(n int) {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	for range n {
		w.b = append(w.b, alphabet[w.r.IntN(len(alphabet))])
	}
}

// b64 writes n random characters of unpadded base64 (SSH key hashes).
func (w *buf) b64(n int) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for range n {
		w.b = append(w.b, alphabet[w.r.IntN(64)])
	}
}

// take returns a copy of the record and clears the buffer.
func (w *buf) take() []byte {
	out := slices.Clone(w.b)
	w.b = w.b[:0]
	return out
}

// stamper formats timestamps, caching the part that changes once a
// second.
type stamper struct {
	sec      int64
	rfc, bsd []byte // "2026-11-22T00:00:01", "Nov 22 00:00:01"
}

func (st *stamper) set(ns int64) {
	if sec := ns / 1e9; sec != st.sec || st.rfc == nil {
		t := time.Unix(sec, 0).UTC()
		st.sec = sec
		st.rfc = t.AppendFormat(st.rfc[:0], "2006-01-02T15:04:05")
		st.bsd = t.AppendFormat(st.bsd[:0], time.Stamp)
	}
}

// micro appends "." and the six digits of the microseconds of ns.
func micro(b []byte, ns int64) []byte {
	us := ns / 1e3 % 1e6
	b = append(b, '.')
	for d := int64(1e5); d > 0; d /= 10 {
		b = append(b, byte('0'+us/d%10))
	}
	return b
}

// k8s appends a quoted RFC 3339 UTC timestamp with microseconds, as the
// API server writes them.
func (st *stamper) k8s(b []byte, ns int64) []byte {
	st.set(ns)
	b = append(b, '"')
	b = append(b, st.rfc...)
	b = micro(b, ns)
	return append(b, 'Z', '"')
}

// k8sSeconds appends a quoted RFC 3339 UTC timestamp in seconds, as
// object metadata holds them.
func (st *stamper) k8sSeconds(b []byte, ns int64) []byte {
	st.set(ns)
	b = append(b, '"')
	b = append(b, st.rfc...)
	return append(b, 'Z', '"')
}

// syslog appends a syslog timestamp: RFC 3339 with microseconds and
// offset (rsyslog's high-precision format) or the traditional RFC 3164
// "Nov 22 00:00:01".
func (st *stamper) syslog(b []byte, ns int64, rfc3339 bool) []byte {
	st.set(ns)
	if !rfc3339 {
		return append(b, st.bsd...)
	}
	b = append(b, st.rfc...)
	b = micro(b, ns)
	return append(b, "+00:00"...)
}
