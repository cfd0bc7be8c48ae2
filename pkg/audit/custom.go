package audit

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"reflect"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/valyala/fastjson"
	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// RuleSet is a rules file: custom rules, and settings for the built-in
// ones.
//
//	rules:
//	  - id: custom.prod_secret_delete       # any dotted id but a built-in one
//	    description: secrets deleted in production
//	    source: k8s                         # k8s, auth or auditd (default: all)
//	    severity: high                      # default medium
//	    match:                              # every field must match
//	      verb: delete                      # equality
//	      objectRef.resource: secrets       # dotted path into the event
//	      objectRef.namespace: [prod, "prod-*"]  # a list: any of; a glob
//	      responseStatus.code: "< 300"      # numeric comparison: < <= > >= = !=
//	  - id: custom.human_exec
//	    source: k8s
//	    cel: event.objectRef.subresource == "exec" && !event.user.username.startsWith("system:")
//	builtin:
//	  k8s.pod_exec: {severity: high}
//	  ssh.accepted_login: {enabled: false}
//
// Fields: a Kubernetes event's JSON fields by dotted path (an array
// matches when any element does; "sourceIPs.0" is the first); an auth
// line's time, host, program, pid and message, plus user and source on
// sshd and sudo lines; an auditd event's fields from all its records (the
// first value of each), with type listing the record types.
type RuleSet struct {
	rules    []*customRule
	disabled []string
	severity map[string]finding.Severity
}

type customRule struct {
	id, description string
	severity        finding.Severity
	source          Source // Auto: every source
	conds           []cond
	prg             cel.Program
}

// cond is one field of a match: any of its values matches.
type cond struct {
	path   []string
	values []valueMatch
}

// valueMatch is one value of a match: a string (a glob when it has a
// wildcard), a number or a boolean, or a numeric comparison.
type valueMatch struct {
	s    string
	glob bool
	op   string // "", "<", "<=", ">", ">=", "=", "!="
	num  float64
}

func (rs *RuleSet) has(id string) bool {
	if rs == nil {
		return false
	}
	for _, r := range rs.rules {
		if r.id == id {
			return true
		}
	}
	return false
}

// IDs lists the custom rules' ids.
func (rs *RuleSet) IDs() []string {
	if rs == nil {
		return nil
	}
	var out []string
	for _, r := range rs.rules {
		out = append(out, r.id)
	}
	return out
}

// LoadRules reads a rules file. Every mistake is an error naming the file,
// the line and the reason. An empty path means none.
func LoadRules(file string) (*RuleSet, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file) //nolint:gosec // the operator's rules file
	if err != nil {
		return nil, fmt.Errorf("read rules: %w", err)
	}
	rs, err := parseRules(b)
	if err != nil {
		return nil, fmt.Errorf("rules %s:%w", file, err)
	}
	return rs, nil
}

// lineError is a rules file mistake at a line (the caller prefixes the
// file name).
func lineError(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("%d: %s", n.Line, fmt.Sprintf(format, args...))
}

func parseRules(b []byte) (*RuleSet, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		msg := strings.TrimPrefix(strings.Join(strings.Fields(err.Error()), " "), "yaml: ")
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			return nil, fmt.Errorf("%s", rest) // "3: did not find …"
		}
		return nil, fmt.Errorf(" %s", msg)
	}
	rs := &RuleSet{severity: map[string]finding.Severity{}}
	if len(doc.Content) == 0 {
		return rs, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, lineError(root, "want a mapping with rules and builtin")
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf(" %w", err)
	}
	seen := map[string]bool{}
	for i := 0; i < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "rules":
			if v.Kind != yaml.SequenceNode {
				return nil, lineError(v, "rules: want a list")
			}
			for _, n := range v.Content {
				r, err := parseRule(n, env)
				if err != nil {
					return nil, err
				}
				if seen[r.id] {
					return nil, lineError(n, "rule %s: defined twice", r.id)
				}
				seen[r.id] = true
				rs.rules = append(rs.rules, r)
			}
		case "builtin":
			if err := rs.parseBuiltin(v); err != nil {
				return nil, err
			}
		default:
			return nil, lineError(k, "unknown key %q (want rules or builtin)", k.Value)
		}
	}
	return rs, nil
}

func (rs *RuleSet) parseBuiltin(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode {
		return lineError(v, "builtin: want a mapping of rule ids")
	}
	for i := 0; i < len(v.Content); i += 2 {
		id, set := v.Content[i], v.Content[i+1]
		if _, ok := builtin(id.Value); !ok {
			return lineError(id, "builtin: no built-in rule %q", id.Value)
		}
		var s struct {
			Enabled  *bool  `yaml:"enabled"`
			Severity string `yaml:"severity"`
		}
		if err := decodeStrict(set, &s); err != nil {
			return lineError(set, "builtin %s: %v", id.Value, err)
		}
		if s.Enabled != nil && !*s.Enabled {
			rs.disabled = append(rs.disabled, id.Value)
		}
		if s.Severity != "" {
			sev, err := finding.ParseSeverity(s.Severity)
			if err != nil {
				return lineError(set, "builtin %s: %v", id.Value, err)
			}
			rs.severity[id.Value] = sev
		}
	}
	return nil
}

// decodeStrict decodes a node refusing unknown keys (Node.Decode alone
// ignores them).
func decodeStrict(n *yaml.Node, out any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		msg := strings.Join(strings.Fields(err.Error()), " ")
		msg = strings.TrimPrefix(msg, "yaml: unmarshal errors: ")
		// Its own line numbers count from the node: drop them, and the Go
		// type it names.
		if _, rest, ok := strings.Cut(msg, ": "); ok && strings.HasPrefix(msg, "line ") {
			msg = rest
		}
		if i := strings.Index(msg, " in type "); i >= 0 {
			msg = msg[:i]
		}
		if field, ok := strings.CutPrefix(msg, "field "); ok && strings.HasSuffix(field, " not found") {
			msg = fmt.Sprintf("unknown key %q (want %s)", strings.TrimSuffix(field, " not found"), yamlKeys(out))
		}
		return fmt.Errorf("%s", msg)
	}
	return nil
}

// yamlKeys lists the yaml keys of a struct pointer's fields.
func yamlKeys(out any) string {
	t := reflect.TypeOf(out).Elem()
	var keys []string
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); k != "" {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, ", ")
}

func parseRule(n *yaml.Node, env *cel.Env) (*customRule, error) {
	var raw struct {
		ID          string    `yaml:"id"`
		Description string    `yaml:"description"`
		Source      string    `yaml:"source"`
		Severity    string    `yaml:"severity"`
		Match       yaml.Node `yaml:"match"`
		CEL         string    `yaml:"cel"`
	}
	if n.Kind != yaml.MappingNode {
		return nil, lineError(n, "a rule is a mapping")
	}
	if err := decodeStrict(n, &raw); err != nil {
		return nil, lineError(n, "%v", err)
	}
	// The decoded copy's lines count from the rule: take the original.
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "match" {
			raw.Match = *n.Content[i+1]
		}
	}
	where := "rule " + raw.ID
	switch {
	case raw.ID == "" || strings.ContainsAny(raw.ID, " \t") || !strings.Contains(raw.ID, "."):
		return nil, lineError(n, "rule %q: an id with a dot and no spaces is required (e.g. custom.prod_secret_delete)", raw.ID)
	case ruleExists(raw.ID):
		return nil, lineError(n, "%s: the id of a built-in rule (re-rate or disable it under builtin)", where)
	case raw.CEL == "" && raw.Match.Kind == 0:
		return nil, lineError(n, "%s: match or cel is required", where)
	case raw.CEL != "" && raw.Match.Kind != 0:
		return nil, lineError(n, "%s: match and cel cannot be combined", where)
	}
	r := &customRule{id: raw.ID, description: raw.Description, severity: finding.Medium}
	if raw.Source != "" {
		s, err := ParseSource(raw.Source)
		if err != nil || s == Auto {
			return nil, lineError(n, "%s: source %q: want k8s, auth or auditd", where, raw.Source)
		}
		r.source = s
	}
	if raw.Severity != "" {
		s, err := finding.ParseSeverity(raw.Severity)
		if err != nil {
			return nil, lineError(n, "%s: %v", where, err)
		}
		r.severity = s
	}
	if raw.CEL != "" {
		if r.source != K8s {
			return nil, lineError(n, "%s: cel rules are for Kubernetes events: set source: k8s", where)
		}
		prg, err := compileCEL(env, raw.CEL)
		if err != nil {
			return nil, lineError(n, "%s: cel: %v", where, err)
		}
		r.prg = prg
		return r, nil
	}
	m := &raw.Match
	if m.Kind != yaml.MappingNode || len(m.Content) == 0 {
		return nil, lineError(m, "%s: match: want a mapping of fields to values", where)
	}
	for i := 0; i < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		c := cond{path: strings.Split(k.Value, ".")}
		values := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			values = v.Content
		}
		for _, x := range values {
			vm, err := parseValue(x)
			if err != nil {
				return nil, lineError(x, "%s: match %s: %v", where, k.Value, err)
			}
			c.values = append(c.values, vm)
		}
		if len(c.values) == 0 {
			return nil, lineError(v, "%s: match %s: an empty list matches nothing", where, k.Value)
		}
		r.conds = append(r.conds, c)
	}
	return r, nil
}

func ruleExists(id string) bool {
	_, ok := builtin(id)
	return ok
}

// parseValue reads one value of a match.
func parseValue(n *yaml.Node) (valueMatch, error) {
	if n.Kind != yaml.ScalarNode {
		return valueMatch{}, fmt.Errorf("want a string, a number or a boolean")
	}
	s := n.Value
	if n.Tag == "!!int" || n.Tag == "!!float" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return valueMatch{}, err
		}
		return valueMatch{op: "=", num: f}, nil
	}
	for _, op := range []string{"<=", ">=", "!=", "<", ">", "="} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return valueMatch{}, fmt.Errorf("%q: a comparison needs a number after %s", s, op)
			}
			return valueMatch{op: op, num: f}, nil
		}
	}
	vm := valueMatch{s: s, glob: strings.ContainsAny(s, "*?[")}
	if vm.glob {
		if _, err := path.Match(s, ""); err != nil {
			return valueMatch{}, fmt.Errorf("bad glob %q: %w", s, err)
		}
	}
	return vm, nil
}

// matches says whether a field value (string, float64, bool, a list of
// them, or nil when absent) matches.
func (vm valueMatch) matches(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case []any:
		for _, el := range x {
			if vm.matches(el) {
				return true
			}
		}
		return false
	}
	if vm.op != "" {
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case string:
			var err error
			if f, err = strconv.ParseFloat(x, 64); err != nil {
				return false
			}
		default:
			return false
		}
		switch vm.op {
		case "<":
			return f < vm.num
		case "<=":
			return f <= vm.num
		case ">":
			return f > vm.num
		case ">=":
			return f >= vm.num
		case "!=":
			return f != vm.num
		}
		return f == vm.num
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		s = strconv.FormatBool(x)
	}
	if vm.glob {
		ok, _ := path.Match(vm.s, s)
		return ok
	}
	return s == vm.s
}

// record is a log event as custom rules see it.
type record interface {
	// field returns a field's value: string, float64, bool or []any; nil
	// when absent.
	field(path []string) any
	// object returns the whole event for CEL (Kubernetes only).
	object() map[string]any
}

// custom applies the custom rules of a source to a record; base builds
// the subject of a hit.
func (e *Engine) custom(src Source, rec record, base func() hit) {
	for _, r := range e.opt.Custom.rules {
		if r.source != Auto && r.source != src || !r.match(rec) {
			continue
		}
		h := base()
		h.rule, h.severity = r.id, r.severity
		if r.description != "" {
			h.message = r.description + ": " + h.message
		}
		e.emit(h)
	}
}

func (r *customRule) match(rec record) bool {
	if r.prg != nil {
		return evalCEL(r.prg, rec.object())
	}
	for _, c := range r.conds {
		v := rec.field(c.path)
		ok := false
		for _, vm := range c.values {
			if vm.matches(v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// k8sRecord is a Kubernetes event for custom rules.
type k8sRecord struct{ v *fastjson.Value }

func (k k8sRecord) field(p []string) any { return jsonValue(k.v.Get(p...), false) }
func (k k8sRecord) object() map[string]any {
	m, _ := jsonValue(k.v, true).(map[string]any)
	return m
}

// jsonValue converts a fastjson value: objects to maps, arrays to []any,
// numbers to float64, or for CEL integral numbers to int64 (so that
// event.responseStatus.code >= 400 compares integers).
func jsonValue(v *fastjson.Value, forCEL bool) any {
	if v == nil {
		return nil
	}
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		f := v.GetFloat64()
		if forCEL && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f)
		}
		return f
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeArray:
		var out []any
		for _, el := range v.GetArray() {
			out = append(out, jsonValue(el, forCEL))
		}
		return out
	case fastjson.TypeObject:
		out := map[string]any{}
		v.GetObject().Visit(func(k []byte, x *fastjson.Value) { out[string(k)] = jsonValue(x, forCEL) })
		return out
	}
	return nil
}

// authRecord is an auth log line for custom rules.
type authRecord struct {
	l   *authLine
	sub authSubject
}

func (a authRecord) field(p []string) any {
	if len(p) != 1 {
		return nil
	}
	var b []byte
	switch p[0] {
	case "time":
		b = a.l.ts
	case "host":
		b = a.l.host
	case "program":
		b = a.l.prog
	case "pid":
		b = a.l.pid
	case "message":
		b = a.l.msg
	case "user":
		return nonEmpty(a.sub.user)
	case "source":
		return nonEmpty(a.sub.source)
	default:
		return nil
	}
	return string(b)
}

func (a authRecord) object() map[string]any { return nil }

// auditdRecord is an auditd event for custom rules.
type auditdRecord struct{ ev *adEvent }

func (a auditdRecord) field(p []string) any {
	if len(p) != 1 {
		return nil
	}
	if p[0] == "type" {
		var types []any
		for _, r := range a.ev.records {
			types = append(types, r.typ)
		}
		return types
	}
	return nonEmpty(a.ev.field(p[0]))
}

func (a auditdRecord) object() map[string]any { return nil }

func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
