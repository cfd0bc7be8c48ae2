// Package fimcheck is check-file-integrity's behaviour on top of the
// pkg/fim engine: --init records a baseline, a plain run compares, and
// --update accepts the current state; results become a plugin.Result
// with findings, notes and metrics. The binary's main holds only the
// options table and the wiring.
package fimcheck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/fim"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/sealed"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/state"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Config is check-file-integrity's configuration.
type Config struct {
	Paths    []string
	Baseline string
	Init     bool
	Update   bool
	Policy   string
	Exclude  []string
	Hash     string
	Mode     string
	Workers  int
	HMACKey  secret.String
	Root     string
}

// DefaultBaseline is where the baseline lives unless --baseline says
// otherwise.
func DefaultBaseline() string {
	return filepath.Join(state.DefaultDir(), "check-file-integrity", "baseline.vfim")
}

// Validate checks the configuration without I/O.
func Validate(c *Config) error {
	if c.Init && c.Update {
		return errors.New("--init and --update cannot be combined: --init records a first baseline, --update accepts changes")
	}
	if !fim.ValidAlgorithm(c.Hash) {
		return fmt.Errorf("--hash must be one of %s", strings.Join(fim.Algorithms, ", "))
	}
	if c.Workers < 0 {
		return fmt.Errorf("--workers must be 0 (one per CPU) or more, got %d", c.Workers)
	}
	for _, p := range c.Paths {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("--path %q must be absolute", p)
		}
	}
	if c.Root != "" && !filepath.IsAbs(c.Root) {
		return fmt.Errorf("--root %q must be absolute", c.Root)
	}
	if c.Baseline == "" {
		c.Baseline = DefaultBaseline()
	}
	return nil
}

// loadPolicy reads --policy or the built-in policy, plus --exclude.
func loadPolicy(c *Config) (*fim.Policy, error) {
	p := fim.DefaultPolicy()
	if c.Policy != "" {
		var err error
		if p, err = fim.LoadPolicy(c.Policy); err != nil {
			return nil, err
		}
	}
	if err := p.AddExcludes(c.Exclude); err != nil {
		return nil, err
	}
	return p, nil
}

// ShowPolicy prints the built-in policy ("check-file-integrity policy").
func ShowPolicy(stdio plugin.IO, _ []string) int {
	_, _ = stdio.Stdout.Write(fim.DefaultPolicy().YAML())
	return 0
}

// Run is the check.
func Run(ctx context.Context, c *Config, env *plugin.Env) (plugin.Result, error) {
	policy, err := loadPolicy(c)
	if err != nil {
		return plugin.Result{}, err
	}
	host, _ := os.Hostname()
	opts := fim.Options{
		Root: c.Root, Paths: c.Paths, Policy: policy, Algorithm: c.Hash, Workers: c.Workers,
		Key: []byte(c.HMACKey.Reveal()), Host: host, Now: env.Now,
	}
	if c.Mode == "fast" {
		opts.Mode = fim.ModeFast
	}
	if env.TTY != nil && (c.Init || c.Update) {
		opts.Progress = progress(env.TTY)
		defer fmt.Fprintln(env.TTY)
	}
	switch {
	case c.Init:
		return initBaseline(ctx, c, opts)
	case c.Update:
		return compare(ctx, c, opts, true)
	default:
		return compare(ctx, c, opts, false)
	}
}

func initBaseline(ctx context.Context, c *Config, opts fim.Options) (plugin.Result, error) {
	if _, err := os.Lstat(c.Baseline); err == nil {
		return plugin.Result{}, fmt.Errorf("baseline %s already exists: use --update to accept the current state, or remove it to start over", c.Baseline)
	}
	var res *fim.Result
	var scanErr error
	err := state.WriteFunc(c.Baseline, func(w io.Writer) error {
		opts.Record = w
		res, scanErr = fim.Scan(ctx, opts)
		return scanErr
	})
	if scanErr != nil {
		return plugin.Result{}, scanErr // nothing was written; the scan says why
	}
	if err != nil {
		return plugin.Result{}, err
	}
	r := result(res)
	r.Summary = fmt.Sprintf("baseline recorded: %d entries, %s hashed, in %s", res.Recorded, units.Bytes(res.BytesHashed), c.Baseline)
	r.Notes = append(notes(res, opts, c), r.Notes...)
	if len(opts.Key) == 0 {
		r.Notes = append(r.Notes, unsignedNote)
	}
	return r, nil
}

// maxAcceptedListed bounds the changes --update lists.
const maxAcceptedListed = 50

const unsignedNote = "baseline not signed (no --hmac-key-file or VIGIL_FIM_HMAC_KEY): tampering with it would go unnoticed"

func compare(ctx context.Context, c *Config, opts fim.Options, update bool) (plugin.Result, error) {
	f, err := os.Open(c.Baseline)
	if errors.Is(err, fs.ErrNotExist) {
		return plugin.Result{}, fmt.Errorf("no baseline at %s: record one with --init", c.Baseline)
	}
	if err != nil {
		return plugin.Result{}, fmt.Errorf("open baseline: %w", err)
	}
	defer func() { _ = f.Close() }()
	opts.Baseline = f
	var res *fim.Result
	if update {
		var scanErr error
		err = state.WriteFunc(c.Baseline, func(w io.Writer) error {
			opts.Record = w
			res, scanErr = fim.Scan(ctx, opts)
			return scanErr
		})
		if scanErr != nil {
			err = scanErr // the old baseline is untouched
		}
	} else {
		res, err = fim.Scan(ctx, opts)
	}
	// A forged baseline is CRITICAL, not UNKNOWN: an attack until proven
	// otherwise. A missing key or a damaged file is UNKNOWN.
	if tampered, summary, unknown := sealed.Outcome(err, c.Baseline, fim.RuleTampered, "--hmac-key-file or VIGIL_FIM_HMAC_KEY"); tampered != nil {
		return plugin.Result{Summary: summary, Findings: []finding.Finding{*tampered}}, nil
	} else if unknown != nil {
		return plugin.Result{}, unknown
	}
	r := result(res)
	r.Notes = append(notes(res, opts, c), r.Notes...)
	if update {
		r.Summary = fmt.Sprintf("baseline updated: %d entries changed (%d added, %d removed, %d modified) of %d", res.Changes(),
			sum(res.Added), sum(res.Removed), sum(res.Modified), res.Recorded)
		// The changes are accepted: the most severe are listed, not raised.
		listed := 0
		for _, f := range r.Findings {
			if f.Rule == fim.RuleAdded || f.Rule == fim.RuleRemoved || f.Rule == fim.RuleModified {
				if listed == maxAcceptedListed {
					r.Notes = append(r.Notes, fmt.Sprintf("… and %d more accepted", res.Changes()-listed))
					break
				}
				r.Notes = append(r.Notes, "accepted: "+f.Line())
				listed++
			}
		}
		r.Findings = problemsOnly(r.Findings)
		r.Total = 0
		return r, nil
	}
	if n := res.Changes(); n == 0 {
		r.Summary = fmt.Sprintf("no changes in %d entries", res.Entries)
	} else {
		r.Summary = fmt.Sprintf("%d changes in %d entries: %s", n, res.Entries, bySeverity(res))
	}
	if res.Problems > 0 {
		r.Summary += fmt.Sprintf("; %d entries unreadable or changing", res.Problems)
	}
	return r, nil
}

func problemsOnly(fs []finding.Finding) []finding.Finding {
	var out []finding.Finding
	for _, f := range fs {
		if f.Rule == fim.RuleUnreadable || f.Rule == fim.RuleChanging {
			out = append(out, f)
		}
	}
	return out
}

// result maps a scan to findings and metrics.
func result(res *fim.Result) plugin.Result {
	r := plugin.Result{Findings: res.Findings, Total: res.Total}
	r.Metrics = []plugin.Metric{
		{Name: "entries", Value: float64(res.Entries), Min: plugin.Zero()},
		{Name: "files_hashed", Value: float64(res.FilesHashed), Min: plugin.Zero()},
		{Name: "bytes_hashed", Value: float64(res.BytesHashed), UOM: "B", Min: plugin.Zero()},
		{Name: "duration", Value: res.Duration.Round(time.Millisecond).Seconds(), UOM: "s", Min: plugin.Zero()},
		{Name: "problems", Value: float64(res.Problems), Min: plugin.Zero()},
	}
	for _, k := range []struct {
		kind   string
		counts [finding.Critical + 1]int
	}{{"added", res.Added}, {"removed", res.Removed}, {"modified", res.Modified}} {
		for _, s := range finding.Severities() {
			r.Metrics = append(r.Metrics, plugin.Metric{Name: "changes", Value: float64(k.counts[s]), Min: plugin.Zero(),
				Tags: map[string]string{"kind": k.kind, "severity": s.String()}})
		}
	}
	return r
}

// notes explain how the run went.
func notes(res *fim.Result, opts fim.Options, c *Config) []string {
	var out []string
	if opts.Baseline != nil {
		if opts.Mode == fim.ModeFast {
			out = append(out, fmt.Sprintf("mode fast: %s re-hashed, %d trusted from the baseline (size, mtime, ctime, inode and device unchanged)", units.Count(res.FilesHashed, "file"), res.Trusted))
		} else {
			out = append(out, fmt.Sprintf("mode full: %s re-hashed (%s)", units.Count(res.FilesHashed, "file"), units.Bytes(res.BytesHashed)))
		}
		if !res.Baseline.Signed {
			out = append(out, unsignedNote)
		}
		if res.PolicyChanged {
			out = append(out, "the policy changed since the baseline was recorded: run --update once the report is reviewed")
		}
		if !slices.Equal(res.Baseline.Paths, res.Paths) {
			out = append(out, "the baseline covers "+strings.Join(res.Baseline.Paths, " ")+"; this run scanned "+strings.Join(res.Paths, " "))
		}
	}
	for _, m := range res.Missing {
		out = append(out, "path "+fim.Display(m)+" does not exist")
	}
	for _, m := range res.Excluded {
		out = append(out, "path "+fim.Display(m)+" is excluded by the policy: nothing under it is watched")
	}
	if c.Root != "" {
		out = append(out, "paths are relative to the file system at "+c.Root)
	}
	return out
}

func sum(counts [finding.Critical + 1]int) int {
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

func bySeverity(res *fim.Result) string {
	var parts []string
	for s := finding.Critical; s >= finding.Info; s-- {
		if n := res.Added[s] + res.Removed[s] + res.Modified[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// progress draws a one-line counter on a terminal.
func progress(w io.Writer) func(fim.Progress) {
	start := time.Now()
	return func(p fim.Progress) {
		secs := time.Since(start).Seconds()
		rate := 0.0
		if secs > 0 {
			rate = float64(p.Bytes) / secs / (1 << 20)
		}
		fmt.Fprintf(w, "\r%d entries, %d files, %s hashed (%.0f MiB/s)   ", p.Entries, p.Files, units.Bytes(p.Bytes), rate)
	}
}
