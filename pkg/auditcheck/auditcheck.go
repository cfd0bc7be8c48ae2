// Package auditcheck is check-audit-log's behaviour: it reads Kubernetes
// audit, auth and auditd logs (files, globs or stdin), incrementally and
// rotation-safe through pkg/tail when a state directory is given, feeds
// their lines to a pkg/audit Engine and reports its findings, the
// failures per source and the counts per rule. The binary's main holds
// only the options table and the wiring.
package auditcheck

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/audit"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/state"
	"github.com/vigil-sec/vigil/pkg/tail"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Config is check-audit-log's configuration.
type Config struct {
	Source         string
	Paths          []string
	Stdin          bool
	State          string
	FromEnd        bool
	Window         time.Duration
	FailedWarning  int
	FailedCritical int
	DeniedWarning  int
	DeniedCritical int
	AuditdKeys     []string
	Rules          string
	Disable        []string
	Severity       map[string]string
	Trusted        []string
	Top            int
	MaxEventSize   int

	source     audit.Source
	severities map[string]finding.Severity
}

// Validate checks the configuration without I/O.
func Validate(c *Config) error {
	if c.Stdin && len(c.Paths) > 0 {
		return errors.New("--stdin and --path cannot be combined")
	}
	if c.Stdin && c.State != "" {
		return errors.New("--state has no effect with --stdin: standard input is read whole")
	}
	if !c.Stdin && len(c.Paths) == 0 {
		return errors.New("--path (or VIGIL_AUDIT_PATHS) or --stdin is required")
	}
	var err error
	if c.source, err = audit.ParseSource(c.Source); err != nil {
		return fmt.Errorf("--source: %w", err)
	}
	if c.Window <= 0 {
		return fmt.Errorf("--window must be positive, got %s", c.Window)
	}
	for _, t := range []struct {
		name       string
		warn, crit int
	}{{"failed-login", c.FailedWarning, c.FailedCritical}, {"denied", c.DeniedWarning, c.DeniedCritical}} {
		if t.warn < 1 {
			return fmt.Errorf("--%s-warning must be at least 1, got %d", t.name, t.warn)
		}
		if t.crit < t.warn {
			return fmt.Errorf("--%s-critical (%d) is below --%s-warning (%d)", t.name, t.crit, t.name, t.warn)
		}
	}
	if c.Top < 0 {
		return fmt.Errorf("--top must be 0 or more, got %d", c.Top)
	}
	if c.MaxEventSize < 1<<10 {
		return fmt.Errorf("--max-event-size must be at least 1024 bytes, got %d", c.MaxEventSize)
	}
	if err := c.selection().ValidateGlobs(); err != nil {
		return err
	}
	for _, g := range c.Trusted {
		if _, err := filepath.Match(g, ""); err != nil {
			return fmt.Errorf("--trusted-users: bad glob %q: %w", g, err)
		}
	}
	if c.severities, err = finding.ParseSeverities(c.Severity); err != nil {
		return fmt.Errorf("--severity %w", err)
	}
	return nil
}

func (c *Config) selection() tail.Selection {
	return tail.Selection{Paths: c.Paths, StateDir: c.State}
}

// readOptions: segments of 256 KiB and lines of up to 1 MiB whole; a
// longer line (a Kubernetes event with a large request body) arrives in
// pieces that are put together up to --max-event-size.
func readOptions(c *Config) tail.Options {
	return tail.Options{FromEnd: c.FromEnd, ChunkSize: 256 << 10, MaxLine: 1 << 20}
}

// stateName is the name of the check's files in --state.
const stateName = "check-audit-log"

// Run is the check.
func Run(ctx context.Context, c *Config, env *plugin.Env) (plugin.Result, error) {
	rules, err := audit.LoadRules(c.Rules)
	if err != nil {
		return plugin.Result{}, err
	}
	opt := audit.DefaultOptions()
	opt.Window, opt.FailedWarning, opt.FailedCritical = c.Window, c.FailedWarning, c.FailedCritical
	opt.DeniedWarning, opt.DeniedCritical = c.DeniedWarning, c.DeniedCritical
	opt.AuditdKeys, opt.Trusted, opt.Custom = c.AuditdKeys, c.Trusted, rules
	opt.Disabled, opt.Severity = c.Disable, c.severities
	engine, err := audit.New(opt)
	if err != nil {
		return plugin.Result{}, err
	}
	r := &runner{cfg: c, engine: engine, start: time.Now()}
	if c.Stdin {
		if env.Stdin == nil {
			return plugin.Result{}, errors.New("--stdin: no standard input")
		}
		st, err := tail.ReadStream(ctx, env.Stdin, "stdin", readOptions(c), r.segments(c.source))
		if err != nil {
			return plugin.Result{}, fmt.Errorf("read stdin: %w", err)
		}
		r.endFile()
		r.read = tail.Totals{Files: 1, Bytes: st.Bytes}
		return r.result(), nil
	}
	session, err := tail.OpenSession(ctx, c.State, stateName, readOptions(c))
	if err != nil {
		return plugin.Result{}, err
	}
	carried := filepath.Join(c.State, stateName+".windows")
	if c.State != "" {
		var st audit.State
		if err := state.Load(carried, "audit-windows", 1, &st); err != nil && !errors.Is(err, state.ErrNotExist) {
			session.Close()
			return plugin.Result{}, fmt.Errorf("load %s: %w", carried, err)
		}
		engine.Restore(st)
	}
	if r.read, err = session.ReadAll(ctx, c.selection(), func(string) func(tail.Segment) error { return r.segments(c.source) }, r.endFile); err != nil {
		session.Close()
		return plugin.Result{}, err
	}
	res := r.result()
	if c.State != "" {
		res.Commit = session.CommitFunc(ctx, func() error {
			return state.Save(carried, "audit-windows", 1, engine.State())
		})
	}
	return res, nil
}

// runner is one run.
type runner struct {
	cfg    *Config
	engine *audit.Engine
	start  time.Time

	read tail.Totals

	// The line being put together from the pieces of a long line.
	long      []byte
	longLoc   audit.Location
	oversized bool
}

// endFile ends a file: auditd events still being grouped are evaluated,
// and a long line cut short is dropped.
func (r *runner) endFile() {
	r.engine.End()
	r.long, r.oversized = r.long[:0], false
}

// segments feeds the lines of a file's segments to the engine, detecting
// the format from the first line when src is Auto.
func (r *runner) segments(src audit.Source) func(tail.Segment) error {
	return func(s tail.Segment) error {
		data := s.Data[s.Start:s.End]
		line := s.Line
		if s.Start > 0 || len(r.long) > 0 || r.oversized {
			// The rest of a long line: up to its end, then ordinary lines.
			end := bytes.IndexByte(data, '\n')
			if end < 0 && s.Cut {
				r.grow(data)
				return nil
			}
			if end < 0 {
				end = len(data) // a finished file's last line
			}
			r.grow(data[:end])
			r.feed(&src, r.longLoc, r.long)
			r.long, r.oversized = r.long[:0], false
			data, line = data[min(end+1, len(data)):], line+1
		}
		for len(data) > 0 {
			end := bytes.IndexByte(data, '\n')
			if end < 0 {
				if s.Cut {
					// The start of a line longer than the reader's pieces.
					r.longLoc = audit.Location{File: s.Path, Line: line}
					r.grow(data)
					return nil
				}
				end = len(data) // a finished file's last line
			}
			r.feed(&src, audit.Location{File: s.Path, Line: line}, data[:end])
			data, line = data[min(end+1, len(data)):], line+1
		}
		return nil
	}
}

// grow adds a piece of a long line, up to --max-event-size.
func (r *runner) grow(piece []byte) {
	if r.oversized || len(r.long)+len(piece) > r.cfg.MaxEventSize {
		r.oversized, r.long = true, r.long[:0]
		return
	}
	r.long = append(r.long, piece...)
}

func (r *runner) feed(src *audit.Source, loc audit.Location, line []byte) {
	if r.oversized {
		r.engine.BadLine(loc)
		return
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if *src == audit.Auto {
		if len(bytes.TrimSpace(line)) == 0 {
			return
		}
		*src = audit.Detect(line)
	}
	r.engine.Feed(*src, loc, line)
}

// result turns the run into a plugin.Result.
func (r *runner) result() plugin.Result {
	rep := r.engine.Report(r.cfg.Top)
	res := plugin.Result{Findings: rep.Findings, Total: len(rep.Findings) + rep.Dropped}
	rules := slices.Sorted(maps.Keys(rep.Events))
	res.Summary = r.summary(rep, rules)
	res.Metrics = []plugin.Metric{
		{Name: "lines_read", Value: float64(rep.Lines), Min: plugin.Zero()},
		{Name: "bytes_read", Value: float64(r.read.Bytes), UOM: "B", Min: plugin.Zero()},
		{Name: "files_read", Value: float64(r.read.Files), Min: plugin.Zero()},
		{Name: "parse_errors", Value: float64(rep.ParseErrors), Min: plugin.Zero()},
		{Name: "failed_logins", Value: float64(rep.FailedLogins), Min: plugin.Zero()},
		{Name: "denied_requests", Value: float64(rep.DeniedRequests), Min: plugin.Zero()},
		{Name: "duration", Value: time.Since(r.start).Round(time.Millisecond).Seconds(), UOM: "s", Min: plugin.Zero()},
	}
	for _, rule := range rules {
		res.Metrics = append(res.Metrics, plugin.Metric{Name: "events", Value: float64(rep.Events[rule]), Min: plugin.Zero(), Tags: map[string]string{"rule": rule}})
	}
	if len(rep.TopSources) > 0 {
		var parts []string
		for _, s := range rep.TopSources {
			parts = append(parts, fmt.Sprintf("%s %d (%d within %s)", s.Source, s.Total, s.Peak, audit.FormatSpan(r.cfg.Window)))
		}
		res.Notes = append(res.Notes, "top failed-login sources: "+strings.Join(parts, ", "))
	}
	if rep.ParseErrors > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%s could not be read as %s, the first at %s",
			units.Count(rep.ParseErrors, "line"), r.formats(), rep.FirstBad))
	}
	if rep.Dropped > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d more findings not kept (the first %d are)", rep.Dropped, len(rep.Findings)))
	}
	res.Notes = append(res.Notes, r.read.Notes()...)
	return res
}

func (r *runner) formats() string {
	if r.cfg.source == audit.Auto {
		return "an audit log"
	}
	return r.cfg.source.String() + " log lines"
}

func (r *runner) summary(rep audit.Report, rules []string) string {
	read := units.Count(int64(r.read.Files), "file") + ", " + units.Count(rep.Lines, "line") + " read"
	if r.cfg.Stdin {
		read = units.Count(rep.Lines, "line") + " of stdin read"
	}
	if len(rep.Findings) == 0 {
		return "no audit findings in " + read
	}
	var parts []string
	for _, rule := range rules {
		parts = append(parts, fmt.Sprintf("%d %s", rep.Events[rule], rule))
	}
	for _, f := range rep.Findings {
		// Rules of one finding per run, not per event.
		if (f.Rule == audit.DeniedBurst || f.Rule == audit.PolicyLevelLow) && !slices.Contains(parts, f.Rule) {
			parts = append(parts, f.Rule)
		}
	}
	return fmt.Sprintf("%s in %s: %s", units.Count(int64(len(rep.Findings)+rep.Dropped), "finding"), read, strings.Join(parts, ", "))
}
