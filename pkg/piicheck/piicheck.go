// Package piicheck is check-pii's behaviour: it scans log files (or
// stdin) with pkg/pii, incrementally through pkg/tail when a state
// directory is given, and reports each value found as a finding that
// carries its location, a masked hint and a keyed fingerprint, never the
// value. The binary's main holds only the options table and the wiring.
package piicheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/pii"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/state"
	"github.com/vigil-sec/vigil/pkg/tail"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Config is check-pii's configuration.
type Config struct {
	Paths          []string
	Include        []string
	Exclude        []string
	Stdin          bool
	State          string
	FromEnd        bool
	Types          []string
	Detectors      string
	Warning        map[string]int
	Critical       map[string]int
	Severity       map[string]string
	Region         string
	DataClass      string
	FingerprintKey secret.String
	Workers        int

	severities map[string]finding.Severity
}

// Validate checks the configuration without I/O.
func Validate(c *Config) error {
	if c.Stdin && len(c.Paths) > 0 {
		return errors.New("--stdin and --path cannot be combined")
	}
	if !c.Stdin && len(c.Paths) == 0 {
		return errors.New("--path (or VIGIL_PII_PATHS) or --stdin is required")
	}
	if c.Workers < 0 {
		return fmt.Errorf("--workers must be 0 (one per CPU) or more, got %d", c.Workers)
	}
	if err := c.selection().ValidateGlobs(); err != nil {
		return err
	}
	var err error
	if c.severities, err = finding.ParseSeverities(c.Severity); err != nil {
		return fmt.Errorf("--severity %w", err)
	}
	for rule, n := range c.Warning {
		if n < 1 {
			return fmt.Errorf("--warning %s: a count of at least 1 is needed", rule)
		}
		if crit, ok := c.Critical[rule]; ok && crit < n {
			return fmt.Errorf("--critical %s (%d) is below --warning (%d)", rule, crit, n)
		}
	}
	for rule, n := range c.Critical {
		if n < 1 {
			return fmt.Errorf("--critical %s: a count of at least 1 is needed", rule)
		}
	}
	return nil
}

// gcPercent keeps the heap within half of its live size: a check run
// holds little (buffers and findings) and churns a lot, and the target is
// a peak RSS of 32 MB whatever the input, 15 MB of which the Sensu event
// types' initialisation already takes.
const gcPercent = 40

// Run is the check.
func Run(ctx context.Context, c *Config, env *plugin.Env) (plugin.Result, error) {
	debug.SetGCPercent(gcPercent)
	custom, err := pii.LoadCustom(c.Detectors)
	if err != nil {
		return plugin.Result{}, err
	}
	scanner, err := pii.New(pii.Options{Rules: c.Types, Custom: custom})
	if err != nil {
		return plugin.Result{}, fmt.Errorf("--types: %w", err)
	}
	// Every rule given a threshold or a severity must run.
	tuned := slices.Collect(maps.Keys(c.Warning))
	tuned = slices.AppendSeq(tuned, maps.Keys(c.Critical))
	tuned = slices.AppendSeq(tuned, maps.Keys(c.severities))
	slices.Sort(tuned)
	for _, rule := range tuned {
		if !scanner.Enabled(rule) {
			return plugin.Result{}, fmt.Errorf("rule %s has a threshold or severity but is not enabled (see --types)", rule)
		}
	}
	fp, keyNote, err := fingerprinter(c)
	if err != nil {
		return plugin.Result{}, err
	}
	r := &runner{cfg: c, scanner: scanner, fp: fp, start: time.Now(),
		counts: map[string]int{}, ipClasses: map[string]int{}}
	if c.Stdin {
		if err := r.stdin(ctx, env.Stdin); err != nil {
			return plugin.Result{}, err
		}
		return r.withNote(keyNote), nil
	}
	session, err := tail.OpenSession(ctx, c.State, "check-pii", readOptions(c))
	if err != nil {
		return plugin.Result{}, err
	}
	if err := r.scanFiles(ctx, session); err != nil {
		session.Close()
		return plugin.Result{}, err
	}
	res := r.withNote(keyNote)
	res.Commit = session.CommitFunc(ctx, nil)
	return res, nil
}

// readOptions bound what a run holds: segments of 256 KiB, lines up to
// 256 KiB whole (longer ones in pieces overlapping by 4 KiB, longer than
// any value), so that memory stays near 32 MB whatever the logs.
func readOptions(c *Config) tail.Options {
	return tail.Options{FromEnd: c.FromEnd, ChunkSize: 256 << 10, MaxLine: 256 << 10, Overlap: 4 << 10}
}

func (r *runner) withNote(note string) plugin.Result {
	res := r.result()
	if note != "" {
		res.Notes = append(res.Notes, note)
	}
	return res
}

// fingerprinter keys fingerprints: with --fingerprint-key, the same value
// gives the same fingerprint on every host that shares it; otherwise a
// key kept in the state directory makes them stable on this host; without
// either they hold for this run only.
func fingerprinter(c *Config) (*pii.Fingerprinter, string, error) {
	if c.FingerprintKey.IsSet() {
		f, err := pii.NewFingerprinter([]byte(c.FingerprintKey.Reveal()))
		if err != nil {
			return nil, "", fmt.Errorf("--fingerprint-key: %w", err)
		}
		return f, "", nil
	}
	if c.State == "" {
		f, err := pii.NewFingerprinter(pii.RandomKey())
		return f, "fingerprints hold for this run only: give --state or --fingerprint-key to recognise values across runs", err
	}
	path := filepath.Join(c.State, "fingerprint.key")
	key, err := os.ReadFile(path) //nolint:gosec // our own state file
	if errors.Is(err, fs.ErrNotExist) {
		key = pii.RandomKey()
		if err := state.WriteFile(path, key); err != nil {
			return nil, "", err
		}
	} else if err != nil {
		return nil, "", fmt.Errorf("read fingerprint key: %w", err)
	}
	f, err := pii.NewFingerprinter(key)
	if err != nil {
		return nil, "", fmt.Errorf("fingerprint key %s: %w", path, err)
	}
	return f, "", nil
}

// runner accumulates one run.
type runner struct {
	cfg     *Config
	scanner *pii.Scanner
	fp      *pii.Fingerprinter
	start   time.Time

	// The workers add to these.
	mu        sync.Mutex
	found     []located
	counts    map[string]int
	ipClasses map[string]int

	// The reading goroutine keeps these.
	read tail.Totals
	seq  int
}

// located is a finding with the order it was found in.
type located struct {
	seq int
	off int64
	f   finding.Finding
}

// maxKept bounds the findings kept in memory; all are counted.
const maxKept = 100_000

// job is a segment to scan, copied out of the reader's buffer.
type job struct {
	seq        int
	name       string
	data       []byte
	offset     int64
	line       int64
	lineOffset int64 // where the first line of data starts in the file
	start, end int
}

func (r *runner) workers() int {
	if r.cfg.Workers > 0 {
		return r.cfg.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// pool scans jobs on the workers and returns the submit and wait
// functions.
func (r *runner) pool() (submit func(job), wait func()) {
	if r.workers() == 1 {
		// One worker: scan in the reader's own buffer, without a copy or a
		// goroutine.
		var buf pii.Buffer
		return func(j job) { r.scan(j, &buf) }, func() {}
	}
	jobs := make(chan job, r.workers())
	free := make(chan []byte, r.workers()+1)
	var wg sync.WaitGroup
	for range r.workers() {
		wg.Go(func() {
			var buf pii.Buffer
			for j := range jobs {
				r.scan(j, &buf)
				free <- j.data[:0]
			}
		})
	}
	for range r.workers() + 1 {
		free <- nil
	}
	submit = func(j job) {
		b := <-free
		j.data = append(b, j.data...)
		jobs <- j
	}
	wait = func() {
		close(jobs)
		wg.Wait()
	}
	return submit, wait
}

// scan finds the matches of one segment and turns them into findings.
func (r *runner) scan(j job, buf *pii.Buffer) {
	var local []located
	counts := map[string]int{}
	ips := map[string]int{}
	// lineStart is the file offset where the current line starts.
	line, lineStart, pos := j.line, j.lineOffset, 0
	r.scanner.Scan(j.data, buf, func(m pii.Match) {
		if m.Start < j.start || m.Start >= j.end {
			return // seen whole in the neighbouring piece of a long line
		}
		if m.Rule == pii.IPAddress {
			ips[m.Class]++
			return
		}
		// Line and column by counting newlines since the previous match.
		for {
			k := bytes.IndexByte(j.data[pos:m.Start], '\n')
			if k < 0 {
				break
			}
			line++
			pos += k + 1
			lineStart = j.offset + int64(pos)
		}
		pos = m.Start
		counts[m.Rule]++
		off := j.offset + int64(m.Start)
		local = append(local, located{seq: j.seq, off: off, f: r.finding(j.name, line, off-lineStart+1, m)})
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range counts {
		r.counts[k] += v
	}
	for k, v := range ips {
		r.ipClasses[k] += v
	}
	for _, l := range local {
		if len(r.found) < maxKept {
			r.found = append(r.found, l)
		}
	}
}

func (r *runner) finding(name string, line, col int64, m pii.Match) finding.Finding {
	sev, ok := r.cfg.severities[m.Rule]
	if !ok {
		sev = r.scanner.Severity(m.Rule)
	}
	f := finding.Finding{
		Rule: m.Rule, Severity: sev, Object: name,
		Location:    name + ":" + strconv.FormatInt(line, 10) + ":" + strconv.FormatInt(col, 10),
		Message:     m.Hint,
		Fingerprint: r.fp.Of(m),
	}
	if r.cfg.Region != "" || r.cfg.DataClass != "" || m.Class != "" {
		f.Attrs = map[string]any{}
		if r.cfg.Region != "" {
			f.Attrs["region"] = r.cfg.Region
		}
		if r.cfg.DataClass != "" {
			f.Attrs["data_class"] = r.cfg.DataClass
		}
		if m.Class != "" {
			f.Attrs["class"] = m.Class
		}
	}
	return f
}

// scanFiles scans every file under the paths.
func (r *runner) scanFiles(ctx context.Context, session *tail.Session) error {
	submit, wait := r.pool()
	defer wait()
	var err error
	r.read, err = session.ReadAll(ctx, r.cfg.selection(), func(string) func(tail.Segment) error { return r.segments(submit) }, nil)
	return err
}

// segments hands the reader's segments to the workers, numbered in
// order, each with the file offset where its first line starts (a piece
// of a long line starts inside it).
//
// A Read delivers the pieces of a long line one after the other, so the
// last line's start is the only thing to carry from segment to segment.
func (r *runner) segments(submit func(job)) func(tail.Segment) error {
	var lastLine int64 // where the last line of the previous segment starts
	cut := false       // and whether that segment ended inside it
	return func(s tail.Segment) error {
		first := s.Offset
		if cut {
			first = lastLine
		}
		lastLine = first
		if k := bytes.LastIndexByte(s.Data[:s.End], '\n'); k >= 0 {
			lastLine = s.Offset + int64(k) + 1
		}
		cut = s.Cut
		r.seq++
		submit(job{seq: r.seq, name: s.Path, data: s.Data, offset: s.Offset, line: s.Line, lineOffset: first, start: s.Start, end: s.End})
		return nil
	}
}

// selection is what --path, --include and --exclude select; the state
// directory is never scanned.
func (c *Config) selection() tail.Selection {
	return tail.Selection{Paths: c.Paths, Include: c.Include, Exclude: c.Exclude, StateDir: c.State}
}

// stdin scans the check's standard input, in bounded memory.
func (r *runner) stdin(ctx context.Context, in io.Reader) error {
	if in == nil {
		return errors.New("--stdin: no standard input")
	}
	submit, wait := r.pool()
	defer wait()
	st, err := tail.ReadStream(ctx, in, "stdin", readOptions(r.cfg), r.segments(submit))
	if err != nil {
		return fmt.Errorf("read stdin: %w", err)
	}
	r.read = tail.Totals{Files: 1, Bytes: st.Bytes, Lines: st.Lines}
	return nil
}

// result turns the run into a plugin.Result.
func (r *runner) result() plugin.Result {
	slices.SortFunc(r.found, func(a, b located) int {
		if a.seq != b.seq {
			return a.seq - b.seq
		}
		return int(a.off - b.off)
	})
	total := 0
	for _, n := range r.counts {
		total += n
	}
	res := plugin.Result{Total: total}
	for _, l := range r.found {
		res.Findings = append(res.Findings, l.f)
	}
	r.applyThresholds(&res)
	rules := slices.Sorted(maps.Keys(r.counts))
	res.Summary = r.summary(total, rules)
	res.MetricTags = map[string]string{}
	if r.cfg.Region != "" {
		res.MetricTags["region"] = r.cfg.Region
	}
	if r.cfg.DataClass != "" {
		res.MetricTags["data_class"] = r.cfg.DataClass
	}
	res.Metrics = []plugin.Metric{
		{Name: "bytes_scanned", Value: float64(r.read.Bytes), UOM: "B", Min: plugin.Zero()},
		{Name: "lines_scanned", Value: float64(r.read.Lines), Min: plugin.Zero()},
		{Name: "files_scanned", Value: float64(r.read.Files), Min: plugin.Zero()},
		{Name: "duration", Value: time.Since(r.start).Round(time.Millisecond).Seconds(), UOM: "s", Min: plugin.Zero()},
	}
	for _, rule := range rules {
		res.Metrics = append(res.Metrics, plugin.Metric{Name: "matches", Value: float64(r.counts[rule]), Min: plugin.Zero(), Tags: map[string]string{"rule": rule}})
	}
	if r.scanner.Enabled(pii.IPAddress) {
		for _, class := range []string{"private", "public", "reserved"} {
			res.Metrics = append(res.Metrics, plugin.Metric{Name: "ip_addresses", Value: float64(r.ipClasses[class]), Min: plugin.Zero(), Tags: map[string]string{"class": class}})
		}
	}
	res.Notes = append(res.Notes, r.read.Notes()...)
	return res
}

// applyThresholds rates the findings of a rule with a --warning or
// --critical count by how many there are: at or above --critical they
// are critical, at or above --warning medium, below both info.
func (r *runner) applyThresholds(res *plugin.Result) {
	for k := range res.Findings {
		f := &res.Findings[k]
		w, hasW := r.cfg.Warning[f.Rule]
		c, hasC := r.cfg.Critical[f.Rule]
		if !hasW && !hasC {
			continue
		}
		n := r.counts[f.Rule]
		switch {
		case hasC && n >= c:
			f.Severity = finding.Critical
		case hasW && n >= w:
			f.Severity = finding.Medium
		default:
			f.Severity = finding.Info
		}
	}
}

func (r *runner) summary(total int, rules []string) string {
	scanned := units.Count(int64(r.read.Files), "file") + ", " + units.Bytes(r.read.Bytes) + " scanned"
	if r.cfg.Stdin {
		scanned = units.Bytes(r.read.Bytes) + " of stdin scanned"
	}
	if total == 0 {
		return "no personal data or secrets in " + scanned
	}
	var parts []string
	for _, rule := range rules {
		parts = append(parts, fmt.Sprintf("%d %s", r.counts[rule], rule))
	}
	return fmt.Sprintf("%d found in %s: %s", total, scanned, strings.Join(parts, ", "))
}
