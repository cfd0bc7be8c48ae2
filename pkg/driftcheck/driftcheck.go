// Package driftcheck is check-config-drift's behaviour: it finds and
// reads a configuration management run report through pkg/drift, rates
// its changes against a baseline (--immutable, thresholds on the number
// of changes, or a learned pattern of past runs), checks the run's age and
// Puppet's disable lock, and returns findings and the metrics of the
// "config management efficiency" chart. The binary's main holds only the
// options table and the wiring.
package driftcheck

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/drift"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Config is check-config-drift's configuration.
type Config struct {
	Source          string
	Path            string
	Root            string
	DisableLock     string
	MaxAge          time.Duration
	Immutable       bool
	ChangedWarning  int
	ChangedCritical int
	Learn           string
	LearnMin        int
	LearnK          float64
	LearnRuns       int
	Severity        map[string]string
	MaxResources    int

	source     drift.Source
	severities map[string]finding.Severity
}

// Defaults of the learning options.
const (
	DefaultLearnMin  = 10
	DefaultLearnK    = 3.0
	DefaultLearnRuns = 50
)

// Validate checks the configuration without I/O.
func Validate(c *Config) error {
	var err error
	if c.source, err = drift.ParseSource(c.Source); err != nil {
		return fmt.Errorf("--source: %w", err)
	}
	if c.Path == "" && c.source != drift.Puppet && c.source != drift.Chef {
		if c.source == drift.Auto {
			return errors.New("--path (or VIGIL_DRIFT_PATH) is required unless --source is puppet or chef, which have default locations")
		}
		return fmt.Errorf("--path (or VIGIL_DRIFT_PATH) is required for --source %s: it has no default location", c.source)
	}
	if c.MaxAge < 0 {
		return fmt.Errorf("--max-age must be 0 (off) or positive, got %s", c.MaxAge)
	}
	if c.ChangedWarning < 0 || c.ChangedCritical < 0 {
		return errors.New("--changed-warning and --changed-critical must be 0 (off) or more")
	}
	if c.ChangedWarning > 0 && c.ChangedCritical > 0 && c.ChangedCritical < c.ChangedWarning {
		return fmt.Errorf("--changed-critical (%d) is below --changed-warning (%d)", c.ChangedCritical, c.ChangedWarning)
	}
	if c.Learn != "" {
		if c.LearnMin < 3 {
			return fmt.Errorf("--learn-min must be at least 3, got %d", c.LearnMin)
		}
		if c.LearnK <= 0 {
			return fmt.Errorf("--learn-k must be positive, got %g", c.LearnK)
		}
		if c.LearnRuns < c.LearnMin || c.LearnRuns > 10000 {
			return fmt.Errorf("--learn-runs must be between --learn-min (%d) and 10000, got %d", c.LearnMin, c.LearnRuns)
		}
	}
	if c.MaxResources < 1 {
		return fmt.Errorf("--max-resources must be at least 1, got %d", c.MaxResources)
	}
	if c.severities, err = finding.ParseSeverities(c.Severity); err != nil {
		return fmt.Errorf("--severity %w", err)
	}
	known := map[string]bool{}
	for _, r := range drift.Rules() {
		known[r.ID] = true
	}
	for id := range c.severities {
		if !known[id] {
			return fmt.Errorf("--severity: no rule %q (the rules are drift.changed, drift.out_of_sync, drift.corrective_change, drift.failed, drift.run_failed, drift.stale_run, drift.agent_disabled)", id)
		}
	}
	return nil
}

// reportPath is the report to read: --path, or the source's default
// location under --root.
func (c *Config) reportPath() (string, error) {
	if c.Path != "" {
		return c.Path, nil
	}
	switch c.source {
	case drift.Puppet:
		paths := []string{filepath.Join(c.Root, drift.PuppetSummaryPath), filepath.Join(c.Root, drift.PuppetOldSummaryPath)}
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
		return "", fmt.Errorf("no Puppet run summary at %s (Puppet 7+) or %s (older agents): has the agent run on this host? Set --path for another location", paths[0], paths[1])
	case drift.Chef:
		pattern := filepath.Join(c.Root, "/var/chef/reports/chef-run-report-*.json")
		files, _ := filepath.Glob(pattern)
		if len(files) == 0 {
			return "", fmt.Errorf("no Chef JSON report matches %s (enable the json_file handler, or set --path)", pattern)
		}
		slices.Sort(files) // the names carry the time: chef-run-report-%Y%m%d%H%M%S.json
		return files[len(files)-1], nil
	}
	return "", errors.New("--path is required")
}

// Run is the check.
func Run(ctx context.Context, c *Config, env *plugin.Env) (plugin.Result, error) {
	path, err := c.reportPath()
	if err != nil {
		return plugin.Result{}, err
	}
	r, err := drift.ParseFile(c.source, path, drift.Options{MaxResources: c.MaxResources})
	if errors.Is(err, fs.ErrNotExist) {
		hint := ""
		if c.source == drift.Puppet {
			hint = fmt.Sprintf(" (Puppet writes %s, older agents %s)", drift.PuppetSummaryPath, drift.PuppetOldSummaryPath)
		}
		return plugin.Result{}, fmt.Errorf("read %s: no such file%s", path, hint)
	}
	if err != nil {
		var de *drift.Error
		if errors.As(err, &de) {
			return plugin.Result{}, fmt.Errorf("read %w", err)
		}
		return plugin.Result{}, fmt.Errorf("read %s: %w", path, err)
	}
	if r.Source == drift.Puppet {
		locks := drift.PuppetLockNear(c.Root, path)
		if c.DisableLock != "" {
			locks = []string{c.DisableLock}
		}
		for _, l := range locks {
			off, msg, err := drift.AgentDisabled(l)
			if err != nil {
				return plugin.Result{}, err
			}
			if off {
				r.AgentDisabled, r.DisabledMessage = true, msg
				break
			}
		}
	}
	now := env.Now()
	b := baseline{cfg: c}
	if c.Learn != "" {
		if err := b.load(ctx, r, path); err != nil {
			return plugin.Result{}, err
		}
	}
	res := evaluate(c, r, &b, now)
	if c.Learn != "" {
		res.Commit = b.commit
	}
	return res, nil
}

// changes is what the baselines count: resources changed, and resources
// out of sync (the changes a no-op run or a plan would make).
func changes(r *drift.Result) int { return r.Changed + r.OutOfSync }

// evaluate turns a result into findings, metrics and a status.
func evaluate(c *Config, r *drift.Result, b *baseline, now time.Time) plugin.Result {
	n := changes(r)
	changedSev, oosSev := finding.Info, finding.Medium
	var notes []string
	var floor finding.Status
	raise := func(s finding.Severity) {
		changedSev, oosSev = max(changedSev, s), max(oosSev, s)
	}
	if c.ChangedCritical > 0 && n >= c.ChangedCritical {
		raise(finding.High)
		floor = finding.Worse(floor, finding.StatusCritical)
		notes = append(notes, fmt.Sprintf("%s, at or above --changed-critical %d", units.Count(int64(n), "change"), c.ChangedCritical))
	} else if c.ChangedWarning > 0 && n >= c.ChangedWarning {
		raise(finding.Medium)
		floor = finding.Worse(floor, finding.StatusWarning)
		notes = append(notes, fmt.Sprintf("%s, at or above --changed-warning %d", units.Count(int64(n), "change"), c.ChangedWarning))
	}
	if b.active {
		if note, anomalous := b.judge(n); anomalous {
			raise(finding.Medium)
			floor = finding.Worse(floor, finding.StatusWarning)
			notes = append(notes, note)
		} else if note != "" {
			notes = append(notes, note)
		}
	}
	if c.Immutable && n > 0 {
		raise(finding.Critical)
		floor = finding.Worse(floor, finding.StatusCritical)
		notes = append(notes, fmt.Sprintf("--immutable: %s where none are allowed", units.Count(int64(n), "change")))
	}
	sev := func(rule string, def finding.Severity) finding.Severity {
		if s, ok := c.severities[rule]; ok {
			return s
		}
		return def
	}
	where := r.Host
	if where == "" {
		where = r.Source.String()
	}
	var fs []finding.Finding
	add := func(f finding.Finding) {
		f.Location = r.File
		if !r.TimeFromFile {
			f.Time = r.Time
		}
		fs = append(fs, f)
	}
	for _, x := range r.Resources {
		base := finding.Finding{Object: x.ID, Kind: x.Type, Changed: x.Properties, Source: r.Host}
		if x.Changed {
			f := base
			f.Rule, f.Severity = drift.RuleChanged, sev(drift.RuleChanged, changedSev)
			f.Message = "changed by " + r.Source.String() + detail(x)
			add(f)
		}
		if x.OutOfSync {
			f := base
			f.Rule, f.Severity = drift.RuleOutOfSync, sev(drift.RuleOutOfSync, oosSev)
			f.Message = "out of sync" + detail(x)
			add(f)
		}
		if x.Corrective {
			f := base
			f.Rule, f.Severity = drift.RuleCorrective, sev(drift.RuleCorrective, max(finding.High, changedSev))
			f.Message = "changed outside " + r.Source.String()
			if x.Changed {
				f.Message = "reverted a change made outside " + r.Source.String()
			}
			if len(x.Properties) > 0 {
				f.Message += " (" + strings.Join(x.Properties, ", ") + ")"
			}
			add(f)
		}
		if x.Failed {
			f := base
			f.Rule, f.Severity = drift.RuleFailed, sev(drift.RuleFailed, finding.High)
			f.Message = "failed to apply" + detail(x)
			add(f)
		}
	}
	// A summary (Puppet's last_run_summary) counts without naming: one
	// finding per rule stands for the resources not listed.
	listed := map[string]int{}
	for _, x := range r.Resources {
		for rule, on := range map[string]bool{drift.RuleChanged: x.Changed, drift.RuleOutOfSync: x.OutOfSync, drift.RuleCorrective: x.Corrective, drift.RuleFailed: x.Failed} {
			if on {
				listed[rule]++
			}
		}
	}
	unlisted := 0
	for _, agg := range []struct {
		rule  string
		count int
		sev   finding.Severity
		what  string
	}{
		{drift.RuleChanged, r.Changed, changedSev, "changed"},
		{drift.RuleOutOfSync, r.OutOfSync, oosSev, "out of sync"},
		{drift.RuleCorrective, r.Corrective, max(finding.High, changedSev), "changed correctively (someone changed them by hand)"},
		{drift.RuleFailed, r.Failed, finding.High, "failed"},
	} {
		rest := agg.count - listed[agg.rule]
		if rest <= 0 {
			continue
		}
		if r.Dropped > 0 {
			unlisted += rest
			continue
		}
		add(finding.Finding{Rule: agg.rule, Severity: sev(agg.rule, agg.sev), Object: where, Source: r.Host, Count: rest,
			Message: fmt.Sprintf("%s %s (the report does not name them)", units.Count(int64(rest), "resource"), agg.what)})
	}
	if r.RunFailed {
		msg := "the run failed"
		if r.RunError != "" {
			msg += ": " + r.RunError
		}
		add(finding.Finding{Rule: drift.RuleRunFailed, Severity: sev(drift.RuleRunFailed, finding.High), Object: where, Source: r.Host, Message: msg})
	}
	age := max(now.Sub(r.Time), 0)
	if c.MaxAge > 0 && age > c.MaxAge {
		add(finding.Finding{Rule: drift.RuleStaleRun, Severity: sev(drift.RuleStaleRun, finding.Medium), Object: where, Source: r.Host,
			Message: fmt.Sprintf("the last run ended %s ago (%s), more than --max-age %s", span(age), r.Time.UTC().Format(time.RFC3339), span(c.MaxAge))})
	}
	if r.AgentDisabled {
		msg := "the Puppet agent is disabled"
		if r.DisabledMessage != "" {
			msg += ": " + r.DisabledMessage
		}
		add(finding.Finding{Rule: drift.RuleAgentDisabled, Severity: sev(drift.RuleAgentDisabled, finding.High), Object: where, Source: r.Host, Message: msg})
	}
	res := plugin.Result{Findings: fs, Status: floor, Notes: notes}
	if r.Dropped > 0 {
		res.Total = len(fs) + r.Dropped + unlisted
		res.Notes = append(res.Notes, fmt.Sprintf("%d more resources not listed (--max-resources %d)", r.Dropped, c.MaxResources))
	}
	res.Summary = summary(r, age)
	warn, crit := "", ""
	if c.ChangedWarning > 0 {
		warn = fmt.Sprint(c.ChangedWarning - 1)
	}
	if c.ChangedCritical > 0 {
		crit = fmt.Sprint(c.ChangedCritical - 1)
	}
	if c.Immutable {
		crit = "0"
	}
	count := func(name string, v int) plugin.Metric {
		return plugin.Metric{Name: name, Value: float64(v), Min: plugin.Zero()}
	}
	changed := count("resources_changed", r.Changed)
	changed.Warn, changed.Crit = warn, crit
	res.Metrics = []plugin.Metric{
		count("resources_total", r.Total),
		changed,
		count("resources_failed", r.Failed),
		count("resources_out_of_sync", r.OutOfSync),
		count("resources_corrective", r.Corrective),
		count("resources_skipped", r.Skipped),
		{Name: "run_duration", Value: r.Duration.Round(time.Millisecond).Seconds(), UOM: "s", Min: plugin.Zero()},
		{Name: "run_age", Value: age.Round(time.Second).Seconds(), UOM: "s", Min: plugin.Zero()},
	}
	res.MetricTags = map[string]string{"source": r.Source.String()}
	return res
}

func detail(x drift.Resource) string {
	var parts []string
	if len(x.Properties) > 0 {
		parts = append(parts, strings.Join(x.Properties, ", "))
	}
	if x.Detail != "" {
		parts = append(parts, x.Detail)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

// summary is the status line: what ran where, when, and what it did.
func summary(r *drift.Result, age time.Duration) string {
	var b strings.Builder
	b.WriteString(r.Format)
	if r.Host != "" {
		b.WriteString(" of " + r.Host)
	}
	if r.Noop {
		b.WriteString(" (no-op)")
	}
	fmt.Fprintf(&b, ", %s ago: %s, %d changed", span(age), units.Count(int64(r.Total), "resource"), r.Changed)
	if r.Corrective > 0 {
		fmt.Fprintf(&b, " (%d corrective)", r.Corrective)
	}
	fmt.Fprintf(&b, ", %d failed, %d out of sync", r.Failed, r.OutOfSync)
	if r.RunFailed {
		b.WriteString(", run failed")
	}
	if r.AgentDisabled {
		b.WriteString(", agent disabled")
	}
	return b.String()
}

// span writes a duration for people: 45s, 12m, 3h5m, 2d4h.
func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		h := int(d.Hours())
		if m := int(d.Minutes()) % 60; m > 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", h)
	default:
		days := int(d.Hours()) / 24
		if h := int(d.Hours()) % 24; h > 0 {
			return fmt.Sprintf("%dd%dh", days, h)
		}
		return fmt.Sprintf("%dd", days)
	}
}
