// Package alert turns Sensu events into PagerDuty Events API v2 events and
// sends them, for handler-pagerduty.
//
// Mapping: a check back to OK resolves the incident; a status listed as
// the acknowledge status acknowledges it; any other status triggers it.
// The PagerDuty severity comes from the worst finding's severity when the
// event carries findings (finding.FromEvent), else from the status
// (WARNING, CRITICAL, and UNKNOWN named explicitly: a check that cannot
// tell is not "info"), through a map the operator can change. Dedup key,
// summary, source, component, group and class come from Go templates over
// the event (Data) with the functions toJSON, default and truncate; the
// summary is cut to PagerDuty's 1024 characters on a rune boundary.
// custom_details carry the findings (the redact mutator ran before) and
// the vigil.io/ enrichment of the check (owner, team, rules with their
// MITRE and compliance references); links point to the runbook and the
// Sensu dashboard; the timestamp is the event's, read in seconds.
//
// # Routing
//
// An event goes to the default routing key, or to a team's key when the
// check carries the vigil.io/pagerduty-team label (mutator-enrich writes
// it from the inventory) and the team is on the allow-list: the key is
// then read from PAGERDUTY_ROUTING_KEY_TEAM. The label is read from the
// check, never from the entity, whose labels the host itself sets. Keys
// are never written to the spool: an Item names the team, and the key is
// looked up when the event is sent.
//
// # Why go-pagerduty
//
// github.com/PagerDuty/go-pagerduty v1.8.0 is PagerDuty's own client:
// WithV2EventsAPIEndpoint points it at any endpoint (the tests' local
// server) and its HTTPClient field takes Vigil's retrying client
// (pkg/httpx: 429 and 5xx retried with backoff, Retry-After honoured), so
// there is no need to fork it, as sensu-pagerduty-handler did.
package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/PagerDuty/go-pagerduty"
	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Keys the enrichment writes on the check (see mutator-enrich).
const (
	TeamLabel         = "vigil.io/pagerduty-team"
	RunbookAnnotation = "vigil.io/runbook"
	RulesAnnotation   = "vigil.io/rules"
	enrichmentPrefix  = "vigil.io/"
)

// PagerDuty's limits.
const (
	MaxSummary  = 1024
	MaxDedupKey = 255
	// maxOutput bounds the check output copied into custom_details
	// (PagerDuty takes about 512 KB per event).
	maxOutput = 8192
	// maxFindings bounds the findings copied into custom_details.
	maxFindings = 20
)

// Severities PagerDuty accepts.
var Severities = []string{"critical", "error", "warning", "info"}

// DefaultSeverities maps finding severities and check states to
// PagerDuty severities.
func DefaultSeverities() map[string]string {
	return map[string]string{
		"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info",
		"status-warning": "warning", "status-critical": "critical", "status-unknown": "error",
	}
}

// Default templates.
const (
	DefaultDedupKey  = `{{.Entity.Namespace}}/{{.Entity.Name}}/{{.Check.Name}}`
	DefaultSummary   = `{{.Entity.Name}}/{{.Check.Name}}: {{.Summary}}`
	DefaultSource    = `{{.Entity.Name}}`
	DefaultComponent = `{{.Check.Name}}`
	DefaultGroup     = `{{index .Check.Labels "vigil.io/team" | default .Entity.Namespace}}`
	DefaultClass     = `{{.Rule | default .Check.Name}}`
)

// Config says how events are built.
type Config struct {
	DedupKey, Summary, Source, Component, Group, Class string
	// Severities maps a finding severity (critical … info) or a state
	// (status-warning, status-critical, status-unknown) to a PagerDuty
	// severity; missing keys take DefaultSeverities.
	Severities map[string]string
	// AckStatus, when 1 or more, acknowledges instead of triggering for
	// that status.
	AckStatus int
	// DashboardURL is the Sensu web UI's base URL, for links.
	DashboardURL string
	// ClientName names the sender in PagerDuty.
	ClientName string
}

// Builder builds PagerDuty events.
type Builder struct {
	cfg  Config
	tmpl map[string]*template.Template
	sev  map[string]string
}

// Funcs are the template functions: toJSON, default and truncate.
var Funcs = template.FuncMap{
	"toJSON": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
	// default DEF VALUE: VALUE, or DEF when VALUE is empty (sprig's order,
	// so that `.X | default "y"` reads naturally).
	"default": func(def, v any) any {
		if v == nil || reflect.ValueOf(v).IsZero() {
			return def
		}
		return v
	},
	"truncate": func(n int, s string) string { return Truncate(s, n) },
}

// NewBuilder parses the templates and checks the severity map.
func NewBuilder(cfg Config) (*Builder, error) {
	b := &Builder{cfg: cfg, tmpl: map[string]*template.Template{}, sev: DefaultSeverities()}
	for name, text := range map[string]string{"dedup-key": cfg.DedupKey, "summary": cfg.Summary, "source": cfg.Source, "component": cfg.Component, "group": cfg.Group, "class": cfg.Class} {
		t, err := template.New(name).Funcs(Funcs).Option("missingkey=zero").Parse(text)
		if err != nil {
			return nil, fmt.Errorf("--%s-template: %w", name, err)
		}
		b.tmpl[name] = t
	}
	for k, v := range cfg.Severities {
		if _, ok := b.sev[k]; !ok {
			return nil, fmt.Errorf("--severity-map: unknown key %q (want critical, high, medium, low, info, status-warning, status-critical or status-unknown)", k)
		}
		if !slices.Contains(Severities, v) {
			return nil, fmt.Errorf("--severity-map: %s=%s: PagerDuty severities are critical, error, warning and info", k, v)
		}
		b.sev[k] = v
	}
	return b, nil
}

// Data is what the templates see: the event, plus what Vigil knows of it.
type Data struct {
	*corev2.Event
	// Summary is the check's one-line summary (its first output line
	// without perfdata, or a JSON report's summary).
	Summary string
	// Severity is the PagerDuty severity.
	Severity string
	// Findings are the structured findings, worst first; Rule is the
	// worst one's rule id.
	Findings      []finding.Finding
	FindingsTotal int
	Rule          string
}

// Item is what the spool keeps: the event without its routing key, and
// the team whose key sends it.
type Item struct {
	Team  string            `json:"team,omitempty"`
	Event pagerduty.V2Event `json:"event"`
}

// Build turns a Sensu event into an Item.
func (b *Builder) Build(ev *corev2.Event) (Item, error) {
	if ev.Check == nil || ev.Entity == nil {
		return Item{}, fmt.Errorf("event has no check or no entity: nothing to page about")
	}
	d := Data{Event: ev, Summary: finding.SummaryLine(ev.Check.Output)}
	fs, total, _ := finding.FromEvent(ev)
	finding.SortBySeverity(fs)
	d.Findings, d.FindingsTotal = fs, total
	if len(fs) > 0 {
		d.Rule = fs[0].Rule
		d.Severity = b.sev[fs[0].Severity.String()]
	} else {
		d.Severity = b.sev[stateKey(ev.Check.Status)]
	}
	dedup, err := b.exec("dedup-key", d)
	if err != nil {
		return Item{}, err
	}
	out := pagerduty.V2Event{DedupKey: Truncate(dedup, MaxDedupKey), Client: b.cfg.ClientName}
	if out.Client == "" {
		out.Client = "Vigil"
	}
	if u := b.dashboard(ev); u != "" {
		out.ClientURL = u
		out.Links = append(out.Links, map[string]string{"href": u, "text": "Sensu event"})
	}
	if u := ev.Check.Annotations[RunbookAnnotation]; u != "" {
		out.Links = append(out.Links, map[string]string{"href": u, "text": "Runbook"})
	}
	switch {
	case ev.Check.Status == 0:
		out.Action = "resolve"
	case b.cfg.AckStatus > 0 && ev.Check.Status == uint32(b.cfg.AckStatus): //nolint:gosec // checked positive
		out.Action = "acknowledge"
	default:
		out.Action = "trigger"
		p := &pagerduty.V2Payload{Severity: d.Severity, Timestamp: units.Epoch(ev.Timestamp).UTC().Format(time.RFC3339), Details: details(d)}
		for name, dst := range map[string]*string{"summary": &p.Summary, "source": &p.Source, "component": &p.Component, "group": &p.Group, "class": &p.Class} {
			if *dst, err = b.exec(name, d); err != nil {
				return Item{}, err
			}
		}
		if strings.TrimSpace(p.Summary) == "" {
			p.Summary = ev.Entity.Name + "/" + ev.Check.Name
		}
		if p.Source == "" {
			p.Source = ev.Entity.Name
		}
		p.Summary = Truncate(p.Summary, MaxSummary)
		out.Payload = p
	}
	return Item{Team: ev.Check.Labels[TeamLabel], Event: out}, nil
}

func (b *Builder) exec(name string, d Data) (string, error) {
	var buf bytes.Buffer
	if err := b.tmpl[name].Execute(&buf, d); err != nil {
		return "", fmt.Errorf("--%s-template: %w", name, err)
	}
	return strings.TrimSpace(buf.String()), nil
}

// dashboard links the event in the Sensu web UI.
func (b *Builder) dashboard(ev *corev2.Event) string {
	if b.cfg.DashboardURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/c/~/n/%s/events/%s/%s", strings.TrimSuffix(b.cfg.DashboardURL, "/"), ev.Entity.Namespace, ev.Entity.Name, ev.Check.Name)
}

func stateKey(st uint32) string {
	switch st {
	case 1:
		return "status-warning"
	case 2:
		return "status-critical"
	default:
		return "status-unknown"
	}
}

// details are the custom_details of a trigger.
func details(d Data) map[string]any {
	m := map[string]any{
		"entity": d.Entity.Name, "namespace": d.Entity.Namespace, "check": d.Check.Name,
		"status": d.Check.Status, "occurrences": d.Check.Occurrences,
		"summary": d.Summary, "output": Truncate(d.Check.Output, maxOutput),
	}
	if len(d.Findings) > 0 {
		m["findings"] = d.Findings[:min(len(d.Findings), maxFindings)]
		m["findings_total"] = d.FindingsTotal
	}
	enrich := map[string]any{}
	for k, v := range d.Check.Labels {
		if strings.HasPrefix(k, enrichmentPrefix) {
			enrich[strings.TrimPrefix(k, enrichmentPrefix)] = v
		}
	}
	for k, v := range d.Check.Annotations {
		if !strings.HasPrefix(k, enrichmentPrefix) || k == finding.Annotation {
			continue
		}
		var parsed any
		if (strings.HasPrefix(v, "{") || strings.HasPrefix(v, "[")) && json.Unmarshal([]byte(v), &parsed) == nil {
			enrich[strings.TrimPrefix(k, enrichmentPrefix)] = parsed
		} else {
			enrich[strings.TrimPrefix(k, enrichmentPrefix)] = v
		}
	}
	if len(enrich) > 0 {
		m["enrichment"] = enrich
	}
	return m
}

// Truncate cuts s to at most n characters (runes), ending in "…" when
// cut, never inside a character.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i] + "…"
}
