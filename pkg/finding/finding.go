// Package finding defines what every Vigil check reports: findings with a
// severity, and the check status derived from them.
//
// A Finding is one observation about one object ("/usr/bin/ssh was
// replaced", "user alice read secret db-password"). It never carries a
// secret or a detected personal value: checks put a fingerprint there
// instead. Severities are ordered info < low < medium < high < critical and
// map to a Nagios/Sensu status through a StatusMap; the default map is
// critical/high → CRITICAL, medium/low → WARNING, info → OK.
//
// The JSON form of a Finding is the contract between checks, mutators,
// handlers and the report: the fixed fields rule, severity, object,
// location and message, the well-known optional fields (kind, changed,
// actor, source, time, fingerprint, count) and any rule-specific
// attributes, all at the top level of one object.
package finding

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Severity ranks a finding. The zero value is Info.
type Severity int

// The severities, in increasing order.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

// Severities lists every severity from Info to Critical.
func Severities() []Severity { return []Severity{Info, Low, Medium, High, Critical} }

// String returns the lowercase name ("high").
func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name, case-insensitively.
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(strings.TrimSpace(name), n) {
			return Severity(i), nil
		}
	}
	return Info, fmt.Errorf("unknown severity %q (want one of %s)", name, strings.Join(severityNames[:], ", "))
}

// ParseSeverities reads a map of names (rule ids) to severity names, as
// a --severity rule=level option gives it; an error names the key.
func ParseSeverities(m map[string]string) (map[string]Severity, error) {
	out := make(map[string]Severity, len(m))
	for k, name := range m {
		s, err := ParseSeverity(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = s
	}
	return out, nil
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) {
	if s < Info || s > Critical {
		return nil, fmt.Errorf("invalid severity %d", int(s))
	}
	return []byte(s.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Finding is one observation of a check. See the package doc for the JSON
// contract.
type Finding struct {
	// Rule is the dotted rule id, such as "fim.modified" or "pii.email".
	Rule string
	// Severity ranks the finding.
	Severity Severity
	// Object is what the finding is about: a path, a user, a resource.
	Object string
	// Location is where it was seen: a file and line, a log, a host.
	Location string
	// Message is one human sentence. It never contains a secret or PII.
	Message string

	// Kind refines the rule ("added", "removed", "modified").
	Kind string
	// Changed names the attributes that differ (for "modified").
	Changed []string
	// Actor is who did it (a user, a service account).
	Actor string
	// Source is where it came from (an IP address, a host).
	Source string
	// Time is when it happened, when the data says so.
	Time time.Time
	// Fingerprint identifies a sensitive value without revealing it.
	Fingerprint string
	// Count is how many occurrences this finding stands for (0 means 1).
	Count int

	// Attrs holds rule-specific attributes. Keys must not collide with the
	// fields above.
	Attrs map[string]any
}

// reserved are the JSON keys of the fixed fields; Attrs may not use them.
var reserved = []string{"rule", "severity", "object", "location", "message", "kind", "changed", "actor", "source", "time", "fingerprint", "count"}

// MarshalJSON writes the finding as one flat object, keys sorted (as
// encoding/json sorts map keys, which keeps output stable for golden
// files). It builds the object directly: checks print thousands of
// findings, and a map per finding made that the largest cost of output.
func (f Finding) MarshalJSON() ([]byte, error) {
	type field struct {
		key string
		val []byte
	}
	fields := make([]field, 0, 6+len(f.Attrs))
	str := func(k, v string) { fields = append(fields, field{k, appendString(nil, v)}) }
	for k, v := range f.Attrs {
		if slices.Contains(reserved, k) {
			return nil, fmt.Errorf("finding attribute %q collides with a fixed field", k)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("finding attribute %q: %w", k, err)
		}
		fields = append(fields, field{k, b})
	}
	sev, err := f.Severity.MarshalText()
	if err != nil {
		return nil, err
	}
	str("rule", f.Rule)
	str("severity", string(sev))
	str("object", f.Object)
	str("message", f.Message)
	if f.Location != "" {
		str("location", f.Location)
	}
	if f.Kind != "" {
		str("kind", f.Kind)
	}
	if len(f.Changed) > 0 {
		b := []byte{'['}
		for i, c := range f.Changed {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, c)
		}
		fields = append(fields, field{"changed", append(b, ']')})
	}
	if f.Actor != "" {
		str("actor", f.Actor)
	}
	if f.Source != "" {
		str("source", f.Source)
	}
	if !f.Time.IsZero() {
		str("time", f.Time.UTC().Format(time.RFC3339Nano))
	}
	if f.Fingerprint != "" {
		str("fingerprint", f.Fingerprint)
	}
	if f.Count > 0 {
		fields = append(fields, field{"count", strconv.AppendInt(nil, int64(f.Count), 10)})
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.key, b.key) })
	out := make([]byte, 0, 256)
	out = append(out, '{')
	for i, fd := range fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendString(out, fd.key)
		out = append(out, ':')
		out = append(out, fd.val...)
	}
	return append(out, '}'), nil
}

// appendString appends s as a JSON string, escaped exactly as
// encoding/json escapes it (HTML characters included).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalJSON reads the flat object written by MarshalJSON; unknown keys
// land in Attrs.
func (f *Finding) UnmarshalJSON(b []byte) error {
	var fixed struct {
		Rule        string    `json:"rule"`
		Severity    *Severity `json:"severity"`
		Object      string    `json:"object"`
		Location    string    `json:"location"`
		Message     string    `json:"message"`
		Kind        string    `json:"kind"`
		Changed     []string  `json:"changed"`
		Actor       string    `json:"actor"`
		Source      string    `json:"source"`
		Time        time.Time `json:"time"`
		Fingerprint string    `json:"fingerprint"`
		Count       int       `json:"count"`
	}
	if err := json.Unmarshal(b, &fixed); err != nil {
		return err
	}
	if fixed.Rule == "" {
		return errors.New("finding has no rule")
	}
	if fixed.Severity == nil {
		return fmt.Errorf("finding %s has no severity", fixed.Rule)
	}
	var all map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&all); err != nil {
		return err
	}
	*f = Finding{
		Rule: fixed.Rule, Severity: *fixed.Severity, Object: fixed.Object, Location: fixed.Location,
		Message: fixed.Message, Kind: fixed.Kind, Changed: fixed.Changed, Actor: fixed.Actor,
		Source: fixed.Source, Time: fixed.Time, Fingerprint: fixed.Fingerprint, Count: fixed.Count,
	}
	for k, raw := range all {
		if slices.Contains(reserved, k) {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if f.Attrs == nil {
			f.Attrs = map[string]any{}
		}
		f.Attrs[k] = v
	}
	return nil
}

// Line renders the finding for people: "[high] rule object: message".
func (f Finding) Line() string {
	line := "[" + f.Severity.String() + "] " + f.Rule
	if f.Object != "" {
		line += " " + f.Object
	}
	if f.Message != "" {
		line += ": " + f.Message
	}
	return line
}

// Occurrences is Count with its zero value read as one.
func (f Finding) Occurrences() int {
	if f.Count > 0 {
		return f.Count
	}
	return 1
}

// Key identifies the finding across runs: the same rule about the same
// object is the same finding, whatever its message says this time.
func (f Finding) Key() string { return f.Rule + "\x00" + f.Object }

// Clone returns a deep copy of the finding, nested attribute maps and
// lists included.
func (f Finding) Clone() Finding {
	f.Changed = slices.Clone(f.Changed)
	if f.Attrs != nil {
		f.Attrs = deepCopy(f.Attrs).(map[string]any)
	}
	return f
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = deepCopy(e)
		}
		return s
	case []string:
		return slices.Clone(x)
	default:
		return v
	}
}

// SortBySeverity orders findings most severe first, then by rule and
// object, so that the first lines of a bounded output are the ones that
// matter.
func SortBySeverity(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if a.Severity != b.Severity {
			return int(b.Severity) - int(a.Severity)
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(a.Object, b.Object)
	})
}
