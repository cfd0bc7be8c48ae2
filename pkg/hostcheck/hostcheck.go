// Package hostcheck is check-host-drift's behaviour on top of the
// pkg/hoststate collectors: --init records a signed baseline of the
// host's security-relevant state, a plain run compares the host with it,
// --update accepts the current state. Changes become findings with the
// host.* rule ids, rated per facet or rule (--severity), minus what the
// allow-list expects. The baseline is a pkg/sealed envelope: HMAC-SHA256
// signed, written atomically, shared code with check-file-integrity.
package hostcheck

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/hoststate"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/sealed"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/state"
)

// Baseline format.
const (
	baselineKind    = "check-host-drift"
	baselineVersion = 1
)

// keyHint names the options that give the key.
const keyHint = "--hmac-key-file or VIGIL_HOST_HMAC_KEY"

const unsignedNote = "baseline not signed (no --hmac-key-file or VIGIL_HOST_HMAC_KEY): tampering with it would go unnoticed"

// Config is check-host-drift's configuration.
type Config struct {
	Baseline     string
	Init         bool
	Update       bool
	Root         string
	Facets       []string
	Severity     map[string]string
	AllowList    string
	FirewallFile string
	HMACKey      secret.String

	severities severities
}

// DefaultBaseline is where the baseline lives unless --baseline says
// otherwise.
func DefaultBaseline() string {
	return filepath.Join(state.DefaultDir(), "check-host-drift", "baseline.json")
}

// Validate checks the configuration without I/O.
func Validate(c *Config) error {
	if c.Init && c.Update {
		return errors.New("--init and --update cannot be combined: --init records a first baseline, --update accepts changes")
	}
	var facets []string
	for _, f := range c.Facets {
		for _, name := range strings.Split(f, ",") {
			name = strings.TrimSpace(name)
			if name == "" || name == "all" {
				continue
			}
			if !hoststate.ValidFacet(name) {
				return fmt.Errorf("--facets: unknown facet %q (want one of %s)", name, strings.Join(hoststate.Facets, ", "))
			}
			if !slices.Contains(facets, name) {
				facets = append(facets, name)
			}
		}
	}
	c.Facets = facets
	if c.Root != "" && !filepath.IsAbs(c.Root) {
		return fmt.Errorf("--root %q must be absolute", c.Root)
	}
	if c.FirewallFile != "" && !filepath.IsAbs(c.FirewallFile) {
		return fmt.Errorf("--firewall-file %q must be absolute (it is read under --root)", c.FirewallFile)
	}
	c.severities = severities{byRule: map[string]finding.Severity{}, byFacet: map[string]finding.Severity{}}
	for k, v := range c.Severity {
		s, err := finding.ParseSeverity(v)
		if err != nil {
			return fmt.Errorf("--severity %s: %w", k, err)
		}
		switch {
		case hoststate.ValidFacet(k):
			c.severities.byFacet[k] = s
		case k == RuleUnreadable || slices.ContainsFunc(Rules(), func(r Rule) bool { return r.ID == k && r.Facet != "" }):
			c.severities.byRule[k] = s
		default:
			return fmt.Errorf("--severity: %q is neither a facet (%s) nor a host.* rule id", k, strings.Join(hoststate.Facets, ", "))
		}
	}
	if c.Baseline == "" {
		c.Baseline = DefaultBaseline()
	}
	return nil
}

// Run is the check.
func Run(ctx context.Context, c *Config, env *plugin.Env) (plugin.Result, error) {
	start := time.Now()
	var allow *AllowList
	if c.AllowList != "" {
		var err error
		if allow, err = LoadAllowList(c.AllowList); err != nil {
			return plugin.Result{}, err
		}
	}
	key := []byte(c.HMACKey.Reveal())
	var base hoststate.Snapshot
	if !c.Init {
		_, err := sealed.Load(c.Baseline, baselineKind, baselineVersion, key, &base)
		if errors.Is(err, sealed.ErrNotExist) {
			return plugin.Result{}, fmt.Errorf("no baseline at %s: record one with --init", c.Baseline)
		}
		if tampered, summary, unknown := sealed.Outcome(err, c.Baseline, RuleTampered, keyHint); tampered != nil {
			return plugin.Result{Summary: summary, Findings: []finding.Finding{*tampered}}, nil
		} else if unknown != nil {
			return plugin.Result{}, unknown
		}
	} else if _, err := os.Lstat(c.Baseline); err == nil {
		return plugin.Result{}, fmt.Errorf("baseline %s already exists: use --update to accept the current state, or remove it to start over", c.Baseline)
	}
	// The host name is this machine's, or under --root the mounted
	// host's /etc/hostname (read by Collect; none: not compared).
	host := ""
	if c.Root == "" || filepath.Clean(c.Root) == "/" {
		host, _ = os.Hostname()
	}
	snap, err := hoststate.Collect(ctx, hoststate.Options{Root: c.Root, Facets: c.Facets, FirewallFile: c.FirewallFile, Host: host, Now: env.Now})
	if err != nil {
		return plugin.Result{}, err
	}
	if c.FirewallFile != "" {
		if f := snap.Facets[hoststate.Firewall]; f != nil && f.Unavailable != "" {
			return plugin.Result{}, fmt.Errorf("--firewall-file %s", f.Unavailable)
		}
	}
	r := plugin.Result{}
	r.Notes = collectNotes(snap)
	if c.Init {
		if err := sealed.Save(c.Baseline, baselineKind, baselineVersion, key, snap); err != nil {
			return plugin.Result{}, err
		}
		n, avail := 0, 0
		for _, f := range snap.Facets {
			n += len(f.Items)
			if f.Unavailable == "" {
				avail++
			}
		}
		r.Summary = fmt.Sprintf("baseline recorded: %d items in %d facets, in %s", n, avail, c.Baseline)
		if len(key) == 0 {
			r.Notes = append(r.Notes, unsignedNote)
		}
		r.Metrics = metrics(snap, nil, 0, time.Since(start))
		r.Status = malformedStatus(snap, &r)
		return r, nil
	}
	if base.Host != "" && snap.Host != "" && base.Host != snap.Host {
		// A baseline copied from another host (an intruder's clean
		// machine, or a template) would hide this one's state.
		f := finding.Finding{Rule: RuleTampered, Severity: finding.Critical, Object: c.Baseline,
			Message: fmt.Sprintf("the baseline was recorded on host %q, this is host %q: a baseline copied from another host; no comparison was made (if this host was renamed, remove the baseline and run --init)", base.Host, snap.Host)}
		return plugin.Result{Summary: fmt.Sprintf("baseline %s was recorded on another host (%s)", c.Baseline, base.Host),
			Findings: []finding.Finding{f}}, nil
	}
	d := compare(&base, snap, allow, c.severities)
	r.Findings = d.findings
	r.Notes = append(r.Notes, d.notes...)
	if len(key) == 0 {
		r.Notes = append(r.Notes, unsignedNote)
	}
	if base.Root != snap.Root {
		r.Notes = append(r.Notes, fmt.Sprintf("the baseline was recorded at root %q, this run read %q", rootName(base.Root), rootName(snap.Root)))
	}
	r.Metrics = metrics(snap, d.changes, d.allowed, time.Since(start))
	if c.Update {
		merged := base
		merged.Created, merged.Host, merged.Root = snap.Created, snap.Host, snap.Root
		merged.Facets = map[string]*hoststate.Facet{}
		for k, f := range base.Facets {
			merged.Facets[k] = f
		}
		for k, f := range snap.Facets {
			if slices.Contains(d.unreadable, k) {
				// Not readable now: keep what the baseline knew rather
				// than erase it.
				r.Notes = append(r.Notes, fmt.Sprintf("%s: could not be read (%s): its baseline was kept", k, f.Unavailable))
				continue
			}
			merged.Facets[k] = f
		}
		if err := sealed.Save(c.Baseline, baselineKind, baselineVersion, key, &merged); err != nil {
			return plugin.Result{}, err
		}
		accepted := slices.DeleteFunc(slices.Clone(d.findings), func(f finding.Finding) bool { return f.Rule == RuleUnreadable })
		r.Summary = fmt.Sprintf("baseline updated: %d changes accepted", len(accepted))
		if n := len(d.unreadable); n > 0 {
			r.Summary += fmt.Sprintf("; %d unreadable facets kept from the old baseline (%s)", n, strings.Join(d.unreadable, ", "))
		}
		for i, f := range accepted {
			if i == maxAcceptedListed {
				r.Notes = append(r.Notes, fmt.Sprintf("… and %d more accepted", len(accepted)-i))
				break
			}
			r.Notes = append(r.Notes, "accepted: "+f.Line())
		}
		r.Findings = nil
		return r, nil
	}
	if len(d.findings) == 0 {
		r.Summary = fmt.Sprintf("no drift in %d items across %d facets", d.items, d.compared)
	} else {
		r.Summary = fmt.Sprintf("%d changes across %d facets: %s", len(d.findings), d.compared, bySeverity(d.findings))
	}
	if d.allowed > 0 {
		r.Summary += fmt.Sprintf(" (%d allowed)", d.allowed)
	}
	r.Status = malformedStatus(snap, &r)
	return r, nil
}

const maxAcceptedListed = 50

func rootName(r string) string {
	if r == "" {
		return "/"
	}
	return r
}

// malformedStatus raises the status to WARNING when a facet was read in
// part: a blind spot, not a change, and not a reason to go UNKNOWN (an
// intruder's one bad line must not blind the whole check).
func malformedStatus(snap *hoststate.Snapshot, r *plugin.Result) finding.Status {
	var parts []string
	for _, name := range hoststate.Facets {
		if f := snap.Facets[name]; f != nil && f.Malformed > 0 {
			parts = append(parts, name)
		}
	}
	if len(parts) == 0 {
		return finding.StatusOK
	}
	r.Summary += "; read in part: " + strings.Join(parts, ", ")
	return finding.StatusWarning
}

// maxNotesPerFacet bounds each facet's notes in the output.
const maxNotesPerFacet = 5

func collectNotes(snap *hoststate.Snapshot) []string {
	var out []string
	for _, name := range hoststate.Facets {
		f := snap.Facets[name]
		if f == nil {
			continue
		}
		if f.Unavailable != "" {
			out = append(out, name+": not watched: "+f.Unavailable)
		}
		for i, n := range f.Notes {
			if i == maxNotesPerFacet {
				out = append(out, fmt.Sprintf("%s: … and %d more notes", name, len(f.Notes)-i))
				break
			}
			out = append(out, name+": "+n)
		}
	}
	return out
}

func metrics(snap *hoststate.Snapshot, changes map[string]int, allowed int, took time.Duration) []plugin.Metric {
	var m []plugin.Metric
	for _, name := range hoststate.Facets {
		f := snap.Facets[name]
		if f == nil {
			continue
		}
		m = append(m, plugin.Metric{Name: "items", Value: float64(len(f.Items)), Min: plugin.Zero(), Tags: map[string]string{"facet": name}})
		if changes != nil {
			m = append(m, plugin.Metric{Name: "changes", Value: float64(changes[name]), Min: plugin.Zero(), Tags: map[string]string{"facet": name}})
		}
	}
	if changes != nil {
		m = append(m, plugin.Metric{Name: "allowed", Value: float64(allowed), Min: plugin.Zero()})
	}
	m = append(m, plugin.Metric{Name: "duration", Value: took.Round(time.Millisecond).Seconds(), UOM: "s", Min: plugin.Zero()})
	return m
}

func bySeverity(fs []finding.Finding) string {
	var counts [finding.Critical + 1]int
	for _, f := range fs {
		counts[f.Severity]++
	}
	var parts []string
	for s := finding.Critical; s >= finding.Info; s-- {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	return strings.Join(parts, ", ")
}
