package enrich

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Entry is one inventory entry: a selector and the context it gives. In
// the file (YAML shown; JSON is the same list):
//
//	# first entry of the list
//	name: payments-web          # optional: defaults to the selector
//	glob: "pay-web-*"           # one selector: entity, glob or matchLabels
//	owner: jane.doe@example.com
//	team: payments
//	environment: production
//	region: eu-west-1
//	data_class: restricted
//	pagerduty_team: payments
//	runbook_base_url: https://runbooks.example.com/payments/
type Entry struct {
	// Name identifies the entry (the vigil.io/inventory annotation).
	Name string
	// Entity selects one entity by its exact name.
	Entity string
	// Glob selects entity names by a path.Match pattern ("web-*").
	Glob string
	// MatchLabels selects entities carrying all these labels.
	MatchLabels map[string]string

	Owner, Team, Environment, Region, DataClass, PagerDutyTeam string
	// RunbookBaseURL is an absolute http(s) URL.
	RunbookBaseURL string

	// Line is where the entry starts in the inventory file.
	Line int
}

// Selector describes the entry's selector: "entity web-1", "glob web-*",
// "labels app=payments,tier=web".
func (e *Entry) Selector() string {
	switch {
	case e.Entity != "":
		return "entity " + e.Entity
	case e.Glob != "":
		return "glob " + e.Glob
	default:
		return "labels " + labelString(e.MatchLabels)
	}
}

func labelString(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k + "=" + m[k])
	}
	return b.String()
}

// InventoryError is a problem with an inventory file, at a line.
type InventoryError struct {
	Path string
	// Line is 0 when the problem is not at a line (an unreadable file).
	Line   int
	Reason string
}

func (e *InventoryError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("inventory %s:%d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("inventory %s: %s", e.Path, e.Reason)
}

// ParseInventory reads an inventory: a YAML or JSON (by content: a
// document starting with "[" is JSON) list of entries. Errors are
// *InventoryError values naming path and line: unknown fields, values of
// the wrong type, no selector or more than one, a bad glob, an empty
// matchLabels, a runbook base URL that is not an absolute http(s) URL, an
// entity or entry name listed twice. An empty file is an empty inventory.
func ParseInventory(path string, data []byte) ([]Entry, error) {
	var (
		raws []rawEntry
		err  error
	)
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		raws, err = parseJSON(data)
	} else {
		raws, err = parseYAML(data)
	}
	if err != nil {
		var ie *InventoryError
		if errors.As(err, &ie) {
			ie.Path = path
			return nil, ie
		}
		return nil, &InventoryError{Path: path, Reason: err.Error()}
	}
	entries := make([]Entry, 0, len(raws))
	names := map[string]int{}
	entities := map[string]int{}
	for _, r := range raws {
		e, err := r.entry()
		if err != nil {
			return nil, &InventoryError{Path: path, Line: r.line, Reason: err.Error()}
		}
		if e.Entity != "" {
			if prev, dup := entities[e.Entity]; dup {
				return nil, &InventoryError{Path: path, Line: r.line, Reason: fmt.Sprintf("entity %q already listed at line %d", e.Entity, prev)}
			}
			entities[e.Entity] = e.Line
		}
		if prev, dup := names[e.Name]; dup {
			return nil, &InventoryError{Path: path, Line: r.line, Reason: fmt.Sprintf("entry name %q already used at line %d", e.Name, prev)}
		}
		names[e.Name] = e.Line
		entries = append(entries, e)
	}
	return entries, nil
}

// rawEntry is an entry as read, before validation.
type rawEntry struct {
	line   int
	fields map[string]string
	labels map[string]string
	// hasLabels: matchLabels was given (possibly empty).
	hasLabels bool
}

// stringFields are the scalar fields of an entry.
var stringFields = []string{"name", "entity", "glob", "owner", "team", "environment", "region", "data_class", "pagerduty_team", "runbook_base_url"}

const labelsField = "matchLabels"

// field checks a key and returns an error naming the known ones.
func knownField(k string) error {
	if k == labelsField || slices.Contains(stringFields, k) {
		return nil
	}
	return fmt.Errorf("unknown field %q (known: %s, %s)", k, strings.Join(stringFields, ", "), labelsField)
}

func (r rawEntry) entry() (Entry, error) {
	f := r.fields
	e := Entry{
		Name: f["name"], Entity: f["entity"], Glob: f["glob"], MatchLabels: r.labels,
		Owner: f["owner"], Team: f["team"], Environment: f["environment"], Region: f["region"],
		DataClass: f["data_class"], PagerDutyTeam: f["pagerduty_team"], RunbookBaseURL: f["runbook_base_url"],
		Line: r.line,
	}
	n := 0
	for _, set := range []bool{hasKey(f, "entity"), hasKey(f, "glob"), r.hasLabels} {
		if set {
			n++
		}
	}
	switch {
	case n == 0:
		return e, errors.New("an entry needs one selector: entity, glob or matchLabels")
	case n > 1:
		return e, errors.New("an entry takes one selector: entity, glob or matchLabels, not several")
	case hasKey(f, "entity") && e.Entity == "":
		return e, errors.New("entity is empty")
	case hasKey(f, "glob"):
		if e.Glob == "" {
			return e, errors.New("glob is empty")
		}
		if _, err := path.Match(e.Glob, ""); err != nil {
			return e, fmt.Errorf("glob %q is not a valid pattern (path.Match syntax: *, ?, [a-z], \\ escapes)", e.Glob)
		}
	case r.hasLabels:
		if len(r.labels) == 0 {
			return e, errors.New(`matchLabels is empty: it would match every entity (use glob: "*" for a catch-all)`)
		}
		for k := range r.labels {
			if k == "" {
				return e, errors.New("matchLabels has an empty label name")
			}
		}
	}
	if hasKey(f, "name") && e.Name == "" {
		return e, errors.New("name is empty")
	}
	if e.Name == "" {
		e.Name = e.Entity + e.Glob
		if e.Name == "" {
			e.Name = labelString(e.MatchLabels)
		}
	}
	if e.RunbookBaseURL != "" {
		u, err := url.Parse(e.RunbookBaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return e, errors.New("runbook_base_url must be an absolute http:// or https:// URL")
		}
	}
	return e, nil
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// yamlLine finds "line N" in a yaml.v3 error.
var yamlLine = regexp.MustCompile(`line (\d+)`)

func parseYAML(data []byte) ([]rawEntry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = strings.TrimSpace(strings.Replace(msg, m[0]+":", "", 1))
		}
		return nil, &InventoryError{Line: line, Reason: "invalid YAML: " + strings.ReplaceAll(msg, "\n", " ")}
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil // an empty file
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil, nil
	}
	if root.Kind != yaml.SequenceNode {
		return nil, &InventoryError{Line: root.Line, Reason: "want a list of entries (- name: …)"}
	}
	out := make([]rawEntry, 0, len(root.Content))
	for _, item := range root.Content {
		if item.Kind != yaml.MappingNode {
			return nil, &InventoryError{Line: item.Line, Reason: "an entry is a mapping (entity:, owner:, …)"}
		}
		r := rawEntry{line: item.Line, fields: map[string]string{}}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			if err := knownField(k.Value); err != nil {
				return nil, &InventoryError{Line: k.Line, Reason: err.Error()}
			}
			if _, dup := r.fields[k.Value]; dup || (k.Value == labelsField && r.hasLabels) {
				return nil, &InventoryError{Line: k.Line, Reason: fmt.Sprintf("field %q given twice", k.Value)}
			}
			if k.Value == labelsField {
				r.hasLabels = true
				if v.Kind != yaml.MappingNode {
					return nil, &InventoryError{Line: v.Line, Reason: "matchLabels must be a mapping of label names to values"}
				}
				r.labels = make(map[string]string, len(v.Content)/2)
				for j := 0; j+1 < len(v.Content); j += 2 {
					lk, lv := v.Content[j], v.Content[j+1]
					if lk.Kind != yaml.ScalarNode || lv.Kind != yaml.ScalarNode {
						return nil, &InventoryError{Line: lk.Line, Reason: "matchLabels values must be strings"}
					}
					r.labels[lk.Value] = lv.Value
				}
				continue
			}
			if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
				return nil, &InventoryError{Line: v.Line, Reason: fmt.Sprintf("%s must be a string", k.Value)}
			}
			r.fields[k.Value] = v.Value
		}
		out = append(out, r)
	}
	return out, nil
}

func parseJSON(data []byte) ([]rawEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	fail := func(off int64, reason string) error {
		return &InventoryError{Line: lineAt(data, off), Reason: reason}
	}
	jsonErr := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fail(se.Offset, "invalid JSON: "+se.Error())
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fail(te.Offset, fmt.Sprintf("%s must be a string", te.Field))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return fail(int64(len(data)), "invalid JSON: unexpected end of file")
		}
		return fail(dec.InputOffset(), "invalid JSON: "+err.Error())
	}
	if _, err := dec.Token(); err != nil { // '['
		return nil, jsonErr(err)
	}
	var out []rawEntry
	for dec.More() {
		start := dec.InputOffset()
		var obj map[string]json.RawMessage
		if err := dec.Decode(&obj); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return nil, fail(start+1, "an entry is an object")
			}
			return nil, jsonErr(err)
		}
		line := lineAt(data, skipSpace(data, start))
		r := rawEntry{line: line, fields: map[string]string{}}
		for k, v := range obj {
			if err := knownField(k); err != nil {
				return nil, &InventoryError{Line: line, Reason: err.Error()}
			}
			if k == labelsField {
				r.hasLabels = true
				if err := json.Unmarshal(v, &r.labels); err != nil || r.labels == nil && string(v) != "{}" {
					return nil, &InventoryError{Line: line, Reason: "matchLabels must be an object of label names to string values"}
				}
				continue
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil || string(v) == "null" {
				return nil, &InventoryError{Line: line, Reason: fmt.Sprintf("%s must be a string", k)}
			}
			r.fields[k] = s
		}
		out = append(out, r)
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fail(dec.InputOffset(), "invalid JSON: data after the list")
	}
	return out, nil
}

// skipSpace returns the offset of the first non-space byte at or after
// off (a decoder's offset sits before the separator and spaces).
func skipSpace(data []byte, off int64) int64 {
	for off < int64(len(data)) && strings.IndexByte(" \t\r\n,", data[off]) >= 0 {
		off++
	}
	return off
}

// lineAt returns the 1-based line of a byte offset.
func lineAt(data []byte, off int64) int {
	off = min(max(off, 0), int64(len(data)))
	return bytes.Count(data[:off], []byte{'\n'}) + 1
}
