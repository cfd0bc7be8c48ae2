package elastic

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/units"
)

// MaxFindings bounds the findings copied into one document; the check's
// own --max-findings bounds them first.
const MaxFindings = 1000

// Target says where documents go: an index named from the event time, or
// a data stream.
type Target struct {
	// Index is the index name's prefix ("vigil-events").
	Index string
	// DatePattern suffixes the index with the event's UTC date (see
	// ParseDatePattern); empty means no suffix.
	DatePattern DatePattern
	// DataStream, when set, replaces Index and DatePattern.
	DataStream string
}

// IndexFor returns the index (or data stream) of an event at t.
func (t Target) IndexFor(at time.Time) string {
	if t.DataStream != "" {
		return t.DataStream
	}
	if len(t.DatePattern) == 0 {
		return t.Index
	}
	return t.Index + "-" + t.DatePattern.Format(at)
}

// Item is one event ready for the bulk API: the action line and the
// document, each ending in a newline. It is what the spool keeps, so that
// a replay is a concatenation.
type Item []byte

// Document turns a Sensu event into a bulk item: the whole event as
// received (raw, the JSON read from stdin), with "@timestamp" (the event
// time, UTC) and a "vigil" object (entity, check, status, severity and the
// check's findings as structured fields) added at the top level. The
// action is "create" with a deterministic id (see DocumentID), so that a
// delivery retried after a lost response is answered 409 "already exists"
// instead of writing a duplicate.
func Document(ev *corev2.Event, raw []byte, t Target) (Item, error) {
	var compact bytes.Buffer
	compact.Grow(len(raw) + 512)
	if err := json.Compact(&compact, raw); err != nil {
		return nil, fmt.Errorf("event is not JSON: %w", err)
	}
	body := compact.Bytes()
	if len(body) < 2 || body[0] != '{' {
		return nil, errors.New("event is not a JSON object")
	}
	at := units.Epoch(ev.Timestamp).UTC()
	if ev.Timestamp == 0 && ev.Check != nil && ev.Check.Executed != 0 {
		at = units.Epoch(ev.Check.Executed).UTC()
	}
	head, err := json.Marshal(vigilFields(ev))
	if err != nil {
		return nil, fmt.Errorf("encode findings: %w", err)
	}
	action, err := json.Marshal(map[string]map[string]string{"create": {"_index": t.IndexFor(at), "_id": DocumentID(ev)}})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(action)+len(head)+len(body)+64)
	out = append(out, action...)
	out = append(out, '\n', '{')
	out = append(out, `"@timestamp":"`...)
	out = at.AppendFormat(out, "2006-01-02T15:04:05.000000000Z")
	out = append(out, `","vigil":`...)
	out = append(out, head...)
	if len(body) > 2 {
		out = append(out, ',')
	}
	out = append(out, body[1:]...)
	return append(out, '\n'), nil
}

// DocumentID is the event's id when it has one (the backend gives every
// event a UUID), else a hash of namespace, entity, check and execution
// time: the same event always gets the same id.
func DocumentID(ev *corev2.Event) string {
	if id := ev.GetUUID(); id != uuid.Nil {
		return id.String()
	}
	h := sha256.New()
	var ns, entity, check string
	var executed int64
	if ev.Entity != nil {
		ns, entity = ev.Entity.Namespace, ev.Entity.Name
	}
	if ev.Check != nil {
		check, executed = ev.Check.Name, ev.Check.Executed
	}
	for _, s := range []string{ns, entity, check, strconv.FormatInt(executed, 10), strconv.FormatInt(ev.Timestamp, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// fields is the "vigil" object of a document.
type fields struct {
	Entity        string       `json:"entity,omitempty"`
	Namespace     string       `json:"namespace,omitempty"`
	Check         string       `json:"check,omitempty"`
	Status        *uint32      `json:"status,omitempty"`
	State         string       `json:"state,omitempty"`
	Severity      string       `json:"severity"`
	Summary       string       `json:"summary,omitempty"`
	Rules         []string     `json:"rules,omitempty"`
	Findings      []docFinding `json:"findings,omitempty"`
	FindingsTotal int          `json:"findings_total"`
	Occurrences   int64        `json:"occurrences,omitempty"`
	Metrics       int          `json:"metric_points,omitempty"`
}

// docFinding is a finding with its fixed fields at the top (mapped as
// keywords by the template) and the rule-specific ones under "attrs"
// (mapped as one flattened field, so that no rule can add mappings).
type docFinding struct {
	Rule        string         `json:"rule"`
	Severity    string         `json:"severity"`
	Object      string         `json:"object,omitempty"`
	Location    string         `json:"location,omitempty"`
	Message     string         `json:"message,omitempty"`
	Kind        string         `json:"kind,omitempty"`
	Changed     []string       `json:"changed,omitempty"`
	Actor       string         `json:"actor,omitempty"`
	Source      string         `json:"source,omitempty"`
	Time        *time.Time     `json:"time,omitempty"`
	Fingerprint string         `json:"fingerprint,omitempty"`
	Count       int            `json:"count"`
	Attrs       map[string]any `json:"attrs,omitempty"`
}

func vigilFields(ev *corev2.Event) fields {
	var f fields
	if ev.Entity != nil {
		f.Entity, f.Namespace = ev.Entity.Name, ev.Entity.Namespace
	}
	if ev.Check != nil {
		st := ev.Check.Status
		f.Check, f.Status, f.State = ev.Check.Name, &st, finding.Status(st).String()
		f.Occurrences = ev.Check.Occurrences
		f.Summary = finding.SummaryLine(ev.Check.Output)
	}
	if ev.Metrics != nil {
		f.Metrics = len(ev.Metrics.Points)
	}
	fs, total, _ := finding.FromEvent(ev)
	f.FindingsTotal = total
	worst := finding.Severity(-1)
	for i, x := range fs {
		worst = max(worst, x.Severity)
		if !slices.Contains(f.Rules, x.Rule) {
			f.Rules = append(f.Rules, x.Rule)
		}
		if i >= MaxFindings {
			continue
		}
		d := docFinding{Rule: x.Rule, Severity: x.Severity.String(), Object: x.Object, Location: x.Location, Message: x.Message,
			Kind: x.Kind, Changed: x.Changed, Actor: x.Actor, Source: x.Source, Fingerprint: x.Fingerprint, Count: x.Occurrences(), Attrs: x.Attrs}
		if !x.Time.IsZero() {
			tm := x.Time.UTC()
			d.Time = &tm
		}
		f.Findings = append(f.Findings, d)
	}
	slices.Sort(f.Rules)
	switch {
	case worst >= 0:
		f.Severity = worst.String()
	case f.Status != nil:
		f.Severity = SeverityOfStatus(*f.Status).String()
	default:
		f.Severity = finding.Info.String()
	}
	return f
}

// SeverityOfStatus is the severity of an event without findings:
// OK info, WARNING medium, CRITICAL critical, anything else (UNKNOWN: the
// check could not tell) medium.
func SeverityOfStatus(st uint32) finding.Severity {
	switch st {
	case 0:
		return finding.Info
	case 2:
		return finding.Critical
	default:
		return finding.Medium
	}
}
