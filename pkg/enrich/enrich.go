// Package enrich is mutator-enrich's engine: it adds context to a Sensu
// event from an inventory file (who owns the entity, which team, which
// environment and data class, where the runbooks are), from the rule
// catalogue (pkg/catalogue: what each finding's rule means, its MITRE
// ATT&CK techniques and compliance references) and, when asked, from the
// cloud instance metadata service.
//
// Everything is written under vigil.io/ on the event's check (the Key…
// constants), never on the entity: the check definition is controlled by
// the backend, the entity's own labels by the agent, that is by a host
// that may be compromised. A label or annotation the event already
// carries is kept unless Options.Overwrite says otherwise.
//
// Inventories of thousands of entities are looked up through a compact
// index (Index) that is cached on disk next to the plugin's state, keyed
// by the inventory file's path, size, modification time and SHA-256, so
// that a mutator run, one process per event, does not parse the YAML
// again (see LoadInventory).
package enrich

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"

	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/catalogue"
	"github.com/vigil-sec/vigil/pkg/finding"
)

// The labels and annotations mutator-enrich writes on event.Check. They
// are a contract: handler-pagerduty and handler-remediation read them.
const (
	// LabelOwner is the owner of the entity (a person or a mailbox), from
	// the inventory entry that matched.
	LabelOwner = "vigil.io/owner"
	// LabelTeam is the team responsible for the entity.
	LabelTeam = "vigil.io/team"
	// LabelEnvironment is the entity's environment (production, staging…).
	LabelEnvironment = "vigil.io/environment"
	// LabelRegion is the entity's region or site.
	LabelRegion = "vigil.io/region"
	// LabelDataClass is the classification of the data the entity holds
	// (public, internal, confidential, restricted…).
	LabelDataClass = "vigil.io/data-class"
	// LabelPagerDutyTeam names the PagerDuty routing team; handler-pagerduty
	// maps it to a routing key through its allow-list.
	LabelPagerDutyTeam = "vigil.io/pagerduty-team"

	// AnnotationRunbook is the runbook URL: the inventory entry's runbook
	// base URL joined with the rule id of the worst finding, or with the
	// check name when the event carries no findings.
	AnnotationRunbook = "vigil.io/runbook"
	// AnnotationRules is a JSON object keyed by every rule id among the
	// event's findings: {"description","mitre":[…],"compliance":[…],"severity"}
	// (RuleInfo).
	AnnotationRules = "vigil.io/rules"
	// AnnotationInventory is the name of the inventory entry that matched.
	AnnotationInventory = "vigil.io/inventory"
	// AnnotationCloud is the instance metadata (Instance, JSON) of the
	// machine running the mutator, written only when cloud metadata is on.
	AnnotationCloud = "vigil.io/cloud"
)

// RuleInfo is the value of one rule in the AnnotationRules object.
type RuleInfo struct {
	Description string   `json:"description"`
	MITRE       []string `json:"mitre"`
	Compliance  []string `json:"compliance"`
	Severity    string   `json:"severity"`
}

// Options tune Apply.
type Options struct {
	// Overwrite replaces labels and annotations the event already carries.
	Overwrite bool
	// RunbookBaseURL is used when the matching entry has no
	// runbook_base_url (or nothing matched).
	RunbookBaseURL string
}

// Context is what Apply adds to an event; every part is optional.
type Context struct {
	// Entry is the inventory entry that matched the entity, or nil.
	Entry *Entry
	// Cloud is the instance metadata, or nil.
	Cloud *Instance
}

// Apply writes the context on ev.Check and returns the keys it set. An
// event without a check (metrics only) is left alone: there is no place
// for the context that the agent does not control.
func Apply(ev *corev2.Event, c Context, o Options) ([]string, error) {
	if ev == nil || ev.Check == nil {
		return nil, nil
	}
	chk := ev.Check
	if chk.Labels == nil {
		chk.Labels = map[string]string{}
	}
	if chk.Annotations == nil {
		chk.Annotations = map[string]string{}
	}
	var set []string
	put := func(m map[string]string, k, v string) {
		if v == "" {
			return
		}
		if _, exists := m[k]; exists && !o.Overwrite {
			return
		}
		m[k] = v
		set = append(set, k)
	}

	base := o.RunbookBaseURL
	if e := c.Entry; e != nil {
		put(chk.Labels, LabelOwner, e.Owner)
		put(chk.Labels, LabelTeam, e.Team)
		put(chk.Labels, LabelEnvironment, e.Environment)
		put(chk.Labels, LabelRegion, e.Region)
		put(chk.Labels, LabelDataClass, e.DataClass)
		// Routing follows the entity's name (bound to the agent's
		// certificate when agents authenticate with mTLS), never its
		// labels, which the host writes itself: an entry chosen by a label
		// selector gives context, not a PagerDuty team.
		if len(e.MatchLabels) == 0 {
			put(chk.Labels, LabelPagerDutyTeam, e.PagerDutyTeam)
		}
		put(chk.Annotations, AnnotationInventory, e.Name)
		if e.RunbookBaseURL != "" {
			base = e.RunbookBaseURL
		}
	}

	findings, _, _ := finding.FromEvent(ev)
	rules, worst := describe(findings)
	b, err := json.Marshal(rules)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", AnnotationRules, err)
	}
	put(chk.Annotations, AnnotationRules, string(b))

	if base != "" {
		page := chk.Name
		// A rule id comes from the check's output, which the host writes:
		// only a dotted id is joined into the URL ("../../x" is not).
		if worst != "" && ruleID.MatchString(worst) {
			page = worst
		}
		u, err := url.JoinPath(base, page)
		if err != nil {
			return nil, fmt.Errorf("runbook base URL: %w", err)
		}
		put(chk.Annotations, AnnotationRunbook, u)
	}

	if c.Cloud != nil {
		b, err := json.Marshal(c.Cloud)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", AnnotationCloud, err)
		}
		put(chk.Annotations, AnnotationCloud, string(b))
	}
	return set, nil
}

// describe returns the catalogue entry of every rule among the findings
// and the rule of the worst finding (the first of the most severe).
// Rules the catalogue does not hold (custom.…) get an entry with the
// severity of their worst finding and nothing else.
func describe(fs []finding.Finding) (map[string]RuleInfo, string) {
	out := make(map[string]RuleInfo)
	worst, worstSev := "", finding.Severity(-1)
	for _, f := range fs {
		if f.Rule == "" {
			continue
		}
		if f.Severity > worstSev {
			worst, worstSev = f.Rule, f.Severity
		}
		if r, ok := catalogue.Lookup(f.Rule); ok {
			out[f.Rule] = RuleInfo{Description: r.Description, MITRE: nonNil(r.MITRE), Compliance: nonNil(r.Compliance), Severity: r.Severity.String()}
			continue
		}
		prev, seen := out[f.Rule]
		if !seen || severityOf(prev.Severity) < f.Severity {
			out[f.Rule] = RuleInfo{MITRE: []string{}, Compliance: []string{}, Severity: f.Severity.String()}
		}
	}
	return out, worst
}

func severityOf(name string) finding.Severity {
	s, err := finding.ParseSeverity(name)
	if err != nil {
		return -1
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clip(s)
}

// ruleID is what a rule id looks like (fim.modified, k8s.pod_exec,
// custom.payroll-export).
var ruleID = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
