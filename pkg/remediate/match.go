package remediate

import (
	"path"
	"slices"

	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// Facts are what rules match on, taken once from the event.
type Facts struct {
	Namespace     string
	Entity        string
	Check         string
	Status        int
	Occurrences   int64
	Subscriptions []string
	Findings      []finding.Finding
	// Rules are the distinct rule ids of the findings, sorted.
	Rules []string
	// Severity is the highest finding severity (nil without findings).
	Severity *finding.Severity
}

// FactsOf extracts the facts of an event.
func FactsOf(ev *corev2.Event) Facts {
	f := Facts{Namespace: ev.Entity.Namespace, Entity: ev.Entity.Name}
	if ev.Check != nil {
		f.Check = ev.Check.Name
		f.Status = int(ev.Check.Status)
		f.Occurrences = ev.Check.Occurrences
		if f.Namespace == "" {
			f.Namespace = ev.Check.Namespace
		}
	}
	if f.Namespace == "" {
		f.Namespace = "default"
	}
	f.Subscriptions = ev.Entity.Subscriptions
	f.Findings, _, _ = finding.FromEvent(ev)
	for _, fd := range f.Findings {
		if !slices.Contains(f.Rules, fd.Rule) {
			f.Rules = append(f.Rules, fd.Rule)
		}
		if f.Severity == nil || fd.Severity > *f.Severity {
			s := fd.Severity
			f.Severity = &s
		}
	}
	slices.Sort(f.Rules)
	return f
}

func anyGlob(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

// Matches reports whether every condition of the rule holds for f.
func (r *Rule) Matches(f Facts) bool {
	m := r.Match
	if !slices.Contains(r.status, f.Status) {
		return false
	}
	if len(m.Checks) > 0 && !anyGlob(m.Checks, f.Check) {
		return false
	}
	if len(r.occ) > 0 && !slices.ContainsFunc(r.occ, func(rg Range) bool { return rg.Contains(f.Occurrences) }) {
		return false
	}
	if len(m.Subscriptions) > 0 && !slices.ContainsFunc(f.Subscriptions, func(s string) bool { return anyGlob(m.Subscriptions, s) }) {
		return false
	}
	if len(m.Rules) > 0 || r.sev != nil {
		// One finding must satisfy both the rule globs and the severity.
		return slices.ContainsFunc(f.Findings, func(fd finding.Finding) bool {
			return (len(m.Rules) == 0 || anyGlob(m.Rules, fd.Rule)) && (r.sev == nil || fd.Severity >= *r.sev)
		})
	}
	return true
}
