package fim

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Mode says which files are re-hashed.
type Mode int

const (
	// ModeFull re-hashes every file whose content is watched.
	ModeFull Mode = iota
	// ModeFast re-hashes only files whose size, mtime, ctime, inode or
	// device changed since the baseline.
	ModeFast
)

// Options describe one scan.
type Options struct {
	// Root is the file system root the logical paths live under ("" is /).
	Root string
	// Paths are the trees to scan (logical, absolute); empty means the
	// policy's roots.
	Paths []string
	// Policy rates and filters entries.
	Policy *Policy
	// Mode says which files are re-hashed when comparing.
	Mode Mode
	// Algorithm is the digest of a new baseline; a comparison uses the
	// baseline's own.
	Algorithm string
	// Workers hash in parallel (default: the number of CPUs).
	Workers int
	// Key signs a new baseline and verifies the old one.
	Key []byte
	// Baseline is the recorded state to compare with; nil records only.
	Baseline io.Reader
	// Record, when set, receives a new baseline of the current state.
	Record io.Writer
	// Host is stored in a new baseline's header.
	Host string
	// MaxFindings is how many findings are kept in memory, most severe
	// first (default 100,000); all are counted.
	MaxFindings int
	// Progress, when set, is called about four times a second.
	Progress func(Progress)
	// Now is the clock.
	Now func() time.Time

	// readDir replaces the directory listing, for tests.
	readDir func(fd int) ([]string, error)
}

// Progress is reported while scanning.
type Progress struct {
	Entries, Files, Bytes int64
}

// Result is what a scan found.
type Result struct {
	// Findings are the changes and problems, the most severe kept.
	Findings []finding.Finding
	// Total counts all findings.
	Total int
	// Added, Removed and Modified count changes by severity.
	Added, Removed, Modified [finding.Critical + 1]int
	// Problems counts unreadable and changing entries.
	Problems int
	// Entries is the number of entries compared or recorded.
	Entries int64
	// Visited counts every entry walked, ignored ones included.
	Visited int64
	// FilesHashed and BytesHashed measure the content read.
	FilesHashed, BytesHashed int64
	// Trusted counts files whose digest fast mode took from the baseline.
	Trusted int64
	// Recorded is the number of entries in the new baseline.
	Recorded uint64
	// Baseline is the compared baseline's header.
	Baseline BaselineHeader
	// Algorithm is the digest in use.
	Algorithm string
	// Paths are the trees scanned; Missing those that do not exist,
	// Excluded those the policy excludes.
	Paths, Missing, Excluded []string
	// PolicyChanged is true when the baseline was recorded under another
	// policy.
	PolicyChanged bool
	// Duration is the wall time of the scan.
	Duration time.Duration
}

// Changes is the number of added, removed and modified entries.
func (r *Result) Changes() int {
	n := 0
	for s := range r.Added {
		n += r.Added[s] + r.Removed[s] + r.Modified[s]
	}
	return n
}

// NormalizePaths cleans, sorts (in baseline order) and de-nests paths.
func NormalizePaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("path %q must be absolute", p)
		}
		out = append(out, filepath.Clean(p))
	}
	slices.SortFunc(out, comparePaths)
	out = slices.Compact(out)
	var kept []string
	for _, p := range out {
		if len(kept) > 0 && under(p, kept[len(kept)-1]) {
			continue
		}
		kept = append(kept, p)
	}
	return kept, nil
}

// under reports whether p is root or below it.
func under(p, root string) bool {
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}

// PolicyDigest identifies a policy in baseline headers.
func PolicyDigest(p *Policy) string {
	s := sha256.Sum256(p.YAML())
	return hex.EncodeToString(s[:])
}

// Scan walks the trees and compares them with the baseline, recording a
// new baseline when asked. Errors are for runs that cannot be trusted:
// a baseline that does not verify (ErrTampered), is damaged (ErrCorrupt)
// or needs a key (ErrNeedKey), or a cancelled context.
func Scan(parent context.Context, opts Options) (*Result, error) {
	start := time.Now()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.MaxFindings <= 0 {
		opts.MaxFindings = 100_000
	}
	paths := opts.Paths
	if len(paths) == 0 {
		paths = opts.Policy.Roots
	}
	paths, err := NormalizePaths(paths)
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, errors.New("no paths to scan: give --path or a policy with roots")
	}
	var excluded []string
	for _, p := range paths {
		if opts.Policy.Excluded(p) {
			excluded = append(excluded, p)
		}
	}
	if len(excluded) == len(paths) {
		return nil, fmt.Errorf("every path to scan is excluded by the policy: %s", strings.Join(excluded, " "))
	}
	res := &Result{Paths: paths, Algorithm: opts.Algorithm, Excluded: excluded}
	var br *BaselineReader
	if opts.Baseline != nil {
		if br, err = OpenBaseline(opts.Baseline, opts.Key); err != nil {
			return nil, err
		}
		res.Baseline = br.Header
		res.Algorithm = br.Header.Algorithm
		res.PolicyChanged = br.Header.PolicySHA256 != PolicyDigest(opts.Policy)
	}
	if !ValidAlgorithm(res.Algorithm) {
		return nil, fmt.Errorf("unknown hash %q", res.Algorithm)
	}
	var bw *BaselineWriter
	if opts.Record != nil {
		bw, err = NewBaselineWriter(opts.Record, BaselineHeader{
			Algorithm: res.Algorithm, Created: opts.Now().UTC(), Host: opts.Host, Root: opts.Root,
			Paths: paths, PolicySHA256: PolicyDigest(opts.Policy),
		}, opts.Key)
		if err != nil {
			return nil, err
		}
	}

	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	xattrs := slices.ContainsFunc(opts.Policy.Groups(), func(g *Group) bool { return g.Watch&AttrXattrs != 0 })
	walked := make(chan *item, 1024)
	jobs := make(chan *item, opts.Workers*8)
	ordered := make(chan *item, 8192)
	w := &walker{ctx: ctx, root: opts.Root, policy: opts.Policy, out: walked, xattrs: xattrs, readDir: opts.readDir}
	if w.readDir == nil {
		w.readDir = readDirNames
	}
	h := &hasher{alg: res.Algorithm, xattrs: xattrs}

	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(walked)
		if err := w.walk(paths); err != nil {
			cancel(err)
		}
	})
	var workers sync.WaitGroup
	for range opts.Workers {
		workers.Go(func() {
			if err := h.work(jobs); err != nil {
				cancel(err)
			}
		})
	}
	m := &merger{ctx: ctx, opts: &opts, br: br, paths: paths, jobs: jobs, out: ordered, samePolicy: br != nil && !res.PolicyChanged}
	wg.Go(func() {
		defer close(ordered)
		defer close(jobs)
		if err := m.run(walked); err != nil {
			cancel(err)
		}
	})

	c := &collector{res: res, bw: bw, max: opts.MaxFindings, init: br == nil}
	lastProgress := time.Now()
	for it := range ordered {
		select {
		case <-it.done:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if err := c.take(it); err != nil {
			cancel(err)
			break
		}
		if opts.Progress != nil && time.Since(lastProgress) > 250*time.Millisecond {
			lastProgress = time.Now()
			opts.Progress(Progress{Entries: res.Entries, Files: h.files.Load(), Bytes: h.bytes.Load()})
		}
	}
	if ctx.Err() != nil {
		// Let the pipeline wind down before reporting.
		for range ordered {
		}
	}
	wg.Wait()
	workers.Wait()
	res.Visited = w.entries.Load()
	res.FilesHashed, res.BytesHashed = h.files.Load(), h.bytes.Load()
	res.Trusted = m.trusted
	res.Missing = w.missing
	res.Duration = time.Since(start)
	if err := context.Cause(ctx); err != nil {
		if parent.Err() != nil {
			// Stopped from outside (a timeout): say how far it got.
			return res, fmt.Errorf("%w (after %d entries, %s hashed)", context.Cause(parent), res.Entries, units.Bytes(res.BytesHashed))
		}
		return res, err
	}
	if bw != nil {
		if err := bw.Close(); err != nil {
			return res, fmt.Errorf("write baseline: %w", err)
		}
		res.Recorded = bw.Count()
	}
	c.finish()
	if opts.Progress != nil {
		opts.Progress(Progress{Entries: res.Entries, Files: res.FilesHashed, Bytes: res.BytesHashed})
	}
	return res, nil
}

// merger pairs walked entries with baseline records, decides what to
// hash and keeps the order.
type merger struct {
	ctx     context.Context
	opts    *Options
	br      *BaselineReader
	paths   []string
	jobs    chan<- *item
	out     chan<- *item
	next    *Entry
	trusted int64
	// samePolicy says the baseline was recorded under the policy in use.
	samePolicy bool
	// excluded is the last baseline entry found excluded: the entries
	// below it (the baseline is in walk order) are out of scope with it,
	// as the walk does not enter an excluded directory.
	excluded string
	// blind is the last walked directory that could not be opened or
	// listed (or an entry that could not even be stat'ed): the baseline
	// entries below it were not seen, which its
	// fim.unreadable finding says, and are not removed.
	blind string
}

func (m *merger) advance() error {
	m.next = nil
	if m.br == nil {
		return nil
	}
	for {
		e, err := m.br.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		// Entries outside today's paths, or now excluded (themselves or a
		// directory above them) or ignored by the policy, are not
		// "removed": they are out of scope.
		if m.excluded != "" && under(e.Path, m.excluded) {
			continue
		}
		if m.opts.Policy.Excluded(e.Path) {
			m.excluded = e.Path
			continue
		}
		if !slices.ContainsFunc(m.paths, func(r string) bool { return under(e.Path, r) }) || m.opts.Policy.Classify(e.Path).Ignore {
			continue
		}
		m.next = e
		return nil
	}
}

func (m *merger) send(ch chan<- *item, it *item) error {
	select {
	case ch <- it:
		return nil
	case <-m.ctx.Done():
		return context.Cause(m.ctx)
	}
}

func (m *merger) removed(e *Entry) error {
	if m.blind != "" && under(e.Path, m.blind) {
		return nil
	}
	return m.send(m.out, &item{entry: e, old: e, removed: true, group: m.opts.Policy.Classify(e.Path), done: closed})
}

func (m *merger) run(walked <-chan *item) error {
	if err := m.advance(); err != nil {
		return err
	}
	for it := range walked {
		for m.next != nil && comparePaths(m.next.Path, it.entry.Path) < 0 {
			if err := m.removed(m.next); err != nil {
				return err
			}
			if err := m.advance(); err != nil {
				return err
			}
		}
		if it.entry.Err != "" && (it.entry.Type == TypeDir || it.entry.Type == TypeUnknown) {
			m.blind = it.entry.Path
		}
		if m.next != nil && m.next.Path == it.entry.Path {
			it.old = m.next
			if err := m.advance(); err != nil {
				return err
			}
		}
		if it.dir == nil {
			if it.done == nil {
				it.done = closed
			}
			if err := m.send(m.out, it); err != nil {
				return err
			}
			continue
		}
		if m.needsHash(it) {
			it.done = make(chan struct{})
			if err := m.send(m.out, it); err != nil {
				it.dir.release()
				return err
			}
			if err := m.send(m.jobs, it); err != nil {
				it.dir.release()
				return err
			}
			continue
		}
		it.dir.release()
		it.dir = nil
		it.done = closed
		if err := m.send(m.out, it); err != nil {
			return err
		}
	}
	for m.next != nil {
		if err := m.removed(m.next); err != nil {
			return err
		}
		if err := m.advance(); err != nil {
			return err
		}
	}
	return nil
}

// needsHash decides whether a file is read. In fast mode a file whose
// fingerprint matches the baseline keeps its recorded digest.
func (m *merger) needsHash(it *item) bool {
	if it.group.Watch&AttrContent == 0 && it.group.Watch&AttrXattrs == 0 {
		return false
	}
	if m.opts.Mode != ModeFast || it.old == nil || it.old.Err != "" || !it.entry.sameFingerprint(it.old) {
		return true
	}
	// The baseline must hold the digests the group watches. Under the
	// policy in use, no xattr digest means the file had none (setting one
	// changes the ctime, which the fingerprint holds); under another
	// policy they may not have been recorded.
	watch := it.group.Watch
	if (watch&AttrContent != 0 && it.old.Hash == nil) || (watch&AttrXattrs != 0 && it.old.Xattrs == nil && !m.samePolicy) {
		return true
	}
	it.entry.Hash = it.old.Hash
	it.entry.Xattrs = it.old.Xattrs
	m.trusted++
	return false
}

// collector turns ordered items into findings and baseline records.
type collector struct {
	res  *Result
	bw   *BaselineWriter
	max  int
	init bool
	kept findingHeap
}

func (c *collector) take(it *item) error {
	g := it.group
	if it.removed {
		c.res.Removed[g.Severity]++
		c.add(removedFinding(it.old, g))
		return nil
	}
	cur := it.entry
	c.res.Entries++
	if c.bw != nil {
		if err := c.bw.Write(cur); err != nil {
			return fmt.Errorf("write baseline: %w", err)
		}
	}
	if cur.Err != "" {
		c.res.Problems++
		c.add(problemFinding(cur, g, it.changing))
	}
	switch {
	case c.init:
	case it.old == nil:
		f := addedFinding(cur, g)
		c.res.Added[f.Severity]++
		c.add(f)
	default:
		if changed, details := Diff(it.old, cur, g); changed != 0 {
			f := modifiedFinding(it.old, cur, g, changed, details)
			c.res.Modified[f.Severity]++
			c.add(f)
		}
	}
	return nil
}

// add keeps a finding, dropping the least severe when over the limit.
func (c *collector) add(f finding.Finding) {
	c.res.Total++
	if len(c.kept) < c.max {
		heap.Push(&c.kept, f)
		return
	}
	if f.Severity > c.kept[0].Severity {
		c.kept[0] = f
		heap.Fix(&c.kept, 0)
	}
}

func (c *collector) finish() {
	c.res.Findings = []finding.Finding(c.kept)
	finding.SortBySeverity(c.res.Findings)
}

// findingHeap is a min-heap by severity.
type findingHeap []finding.Finding

func (h findingHeap) Len() int           { return len(h) }
func (h findingHeap) Less(i, j int) bool { return h[i].Severity < h[j].Severity }
func (h findingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *findingHeap) Push(x any)        { *h = append(*h, x.(finding.Finding)) }
func (h *findingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
