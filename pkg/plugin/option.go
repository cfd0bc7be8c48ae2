package plugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sensu/sensu-plugin-sdk/sensu"
	"github.com/spf13/pflag"

	"github.com/vigil-sec/vigil/pkg/secret"
)

// Kind says what an option controls, which decides who may override it.
type Kind int

const (
	// General options tune behaviour: thresholds, formats, paths to read.
	General Kind = iota
	// Endpoint options say where data is sent: a URL, host or address.
	Endpoint
	// Credential options hold a password, token, key or certificate.
	Credential
	// Target options say where data lands: an index, database, table,
	// bucket, spool or archive directory.
	Target
	// Command options name a command or action to run.
	Command
)

var kindNames = [...]string{"general", "endpoint", "credential", "target", "command"}

// String returns the lowercase name of the kind.
func (k Kind) String() string {
	if k < General || k > Command {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Scope says which Sensu annotations may override an option.
type Scope int

const (
	// NoAnnotation means flags and environment only. The zero value, so that
	// overrides are allow-listed option by option.
	NoAnnotation Scope = iota
	// CheckAnnotation allows the check's annotations, which whoever may edit the
	// check definition controls (backend RBAC).
	CheckAnnotation
	// AnyAnnotation allows the check's annotations, then the entity's. Entity
	// annotations come from the agent's own configuration, so a
	// compromised host controls them; only General options may use this
	// scope.
	AnyAnnotation
)

var scopeNames = [...]string{"none", "check", "check, entity"}

// String describes the scope.
func (s Scope) String() string {
	if s < NoAnnotation || s > AnyAnnotation {
		return "scope(" + strconv.Itoa(int(s)) + ")"
	}
	return scopeNames[s]
}

// Option is one entry of a plugin's options table: an option as the Sensu
// plugin SDK declares it, plus Vigil's policy for it.
type Option struct {
	// Spec is the SDK declaration: a *sensu.PluginConfigOption[T],
	// *sensu.SlicePluginConfigOption[string] or
	// *sensu.MapPluginConfigOption[T]. Argument is the flag name, Env the
	// environment variable, Path the annotation key under the plugin's
	// keyspace, Secret hides the value everywhere.
	Spec sensu.ConfigOption
	// Kind says what the option controls.
	Kind Kind
	// Annotations says which annotations may override it.
	Annotations Scope
	// Required makes an empty value a configuration error.
	Required bool
}

// binder is the runtime's view of one option, whatever its value type.
type binder interface {
	info() optionInfo
	// flag returns the pflag.Value that parses command-line values.
	flag() pflag.Value
	// setText parses an environment variable or command-line value.
	setText(s string) error
	// setAnnotation parses an annotation value the way the SDK does:
	// JSON first, then the raw string for string-valued options.
	setAnnotation(s string) error
	// check enforces the SDK's Allow and Restrict lists.
	check() error
	// empty reports whether no value is set, for Required.
	empty() bool
	// shown returns the current value for logs and docs; secrets are
	// masked.
	shown() string
}

// optionInfo is what docs and errors say about an option.
type optionInfo struct {
	Flag, Short, Env, Path, Usage, Default, Type string
	Secret                                       bool
	IsBool                                       bool
}

// bind wraps an SDK option in a binder. The set of value types is closed on
// purpose: each one has a tested parser.
func bind(o sensu.ConfigOption) (binder, error) {
	switch s := o.(type) {
	case *sensu.PluginConfigOption[string]:
		if s.Secret {
			return nil, fmt.Errorf("option --%s: a secret must be a sensu.PluginConfigOption[secret.String]", s.Argument)
		}
		return newScalar(s, "string", parseString[string], annotString[string])
	case *sensu.PluginConfigOption[secret.String]:
		if !s.Secret {
			return nil, fmt.Errorf("option --%s: a secret.String option must set Secret", s.Argument)
		}
		return newScalar(s, "string", parseString[secret.String], annotString[secret.String])
	case *sensu.PluginConfigOption[bool]:
		return newScalar(s, "bool", strconv.ParseBool, annotJSON[bool])
	case *sensu.PluginConfigOption[int]:
		return newScalar(s, "int", func(v string) (int, error) { return strconv.Atoi(strings.TrimSpace(v)) }, annotJSON[int])
	case *sensu.PluginConfigOption[int64]:
		return newScalar(s, "int", func(v string) (int64, error) { return strconv.ParseInt(strings.TrimSpace(v), 10, 64) }, annotJSON[int64])
	case *sensu.PluginConfigOption[uint64]:
		return newScalar(s, "uint", func(v string) (uint64, error) { return strconv.ParseUint(strings.TrimSpace(v), 10, 64) }, annotJSON[uint64])
	case *sensu.PluginConfigOption[float64]:
		return newScalar(s, "float", func(v string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(v), 64) }, annotJSON[float64])
	case *sensu.PluginConfigOption[time.Duration]:
		return newScalar(s, "duration", ParseDuration, annotDuration)
	case *sensu.SlicePluginConfigOption[string]:
		if s.Secret {
			return nil, fmt.Errorf("option --%s: a secret must be a sensu.PluginConfigOption[secret.String]", s.Argument)
		}
		return newStrings(s)
	case *sensu.MapPluginConfigOption[string]:
		if s.Secret {
			return nil, fmt.Errorf("option --%s: a secret must be a sensu.PluginConfigOption[secret.String]", s.Argument)
		}
		return newMap(s, "string", func(v string) (string, error) { return v, nil })
	case *sensu.MapPluginConfigOption[int]:
		if s.Secret {
			return nil, fmt.Errorf("option --%s: a secret must be a sensu.PluginConfigOption[secret.String]", s.Argument)
		}
		return newMap(s, "int", func(v string) (int, error) { return strconv.Atoi(strings.TrimSpace(v)) })
	case nil:
		return nil, errors.New("option has no Spec")
	default:
		return nil, fmt.Errorf("option type %T is not supported by pkg/plugin", o)
	}
}

// ParseDuration reads a Go duration ("90s", "5m") or a bare number of
// seconds ("30"), which is how Sensu users write timeouts.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("negative duration %q", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 30s, 5m or a number of seconds)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", s)
	}
	return d, nil
}

func parseString[T ~string](s string) (T, error) { return T(s), nil }

func annotString[T ~string](s string) (T, error) {
	var v string
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		return T(v), nil
	}
	return T(s), nil
}

func annotJSON[T any](s string) (T, error) {
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return v, fmt.Errorf("want a JSON %T", v)
	}
	return v, nil
}

func annotDuration(s string) (time.Duration, error) {
	var v string
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		s = v
	}
	return ParseDuration(s)
}

// scalar binds a PluginConfigOption[T].
type scalar[T sensu.OptionValue] struct {
	o     *sensu.PluginConfigOption[T]
	typ   string
	parse func(string) (T, error)
	annot func(string) (T, error)
}

// newScalar wraps the given option with its parsers.
func newScalar[T sensu.OptionValue](o *sensu.PluginConfigOption[T], typ string, parse, annot func(string) (T, error)) (binder, error) {
	if o.Value == nil {
		return nil, fmt.Errorf("option --%s has a nil Value", o.Argument)
	}
	*o.Value = o.Default
	return &scalar[T]{o: o, typ: typ, parse: parse, annot: annot}, nil
}

func (b *scalar[T]) info() optionInfo {
	i := optionInfo{Flag: b.o.Argument, Short: b.o.Shorthand, Env: b.o.Env, Path: b.o.Path, Usage: b.o.Usage, Type: b.typ, Secret: b.o.Secret}
	var zero T
	if b.o.Default != zero && !b.o.Secret {
		i.Default = display(b.o.Default)
	}
	_, i.IsBool = any(zero).(bool)
	return i
}

func (b *scalar[T]) flag() pflag.Value { return &flagValue{b: b, typ: b.typ} }

func (b *scalar[T]) setText(s string) error {
	v, err := b.parse(s)
	if err != nil {
		return b.valueErr(s, err)
	}
	*b.o.Value = v
	return nil
}

func (b *scalar[T]) setAnnotation(s string) error {
	v, err := b.annot(s)
	if err != nil {
		return b.valueErr(s, err)
	}
	*b.o.Value = v
	return nil
}

// valueErr explains a parse failure without echoing a secret.
func (b *scalar[T]) valueErr(s string, err error) error {
	if b.o.Secret {
		return fmt.Errorf("invalid %s value", b.typ)
	}
	return fmt.Errorf("invalid %s value %q: %w", b.typ, s, err)
}

func (b *scalar[T]) check() error {
	v := *b.o.Value
	if len(b.o.Allow) > 0 {
		if v == b.o.Default || slices.Contains(b.o.Allow, v) {
			return nil
		}
		return fmt.Errorf("must be one of %s", joinShown(b.o.Allow))
	}
	if slices.Contains(b.o.Restrict, v) {
		if b.o.Secret {
			return errors.New("value is not allowed")
		}
		return fmt.Errorf("value %s is not allowed", display(v))
	}
	return nil
}

func (b *scalar[T]) empty() bool {
	var zero T
	return *b.o.Value == zero
}

func (b *scalar[T]) shown() string {
	if b.o.Secret {
		return secret.Mask
	}
	return display(*b.o.Value)
}

// stringsOpt binds a SlicePluginConfigOption[string]. Values given on the
// command line replace the default; a repeated flag appends. Unless
// UseCobraStringArray is set, commas separate values as in the SDK.
type stringsOpt struct {
	o       *sensu.SlicePluginConfigOption[string]
	touched bool
}

func newStrings(o *sensu.SlicePluginConfigOption[string]) (binder, error) {
	if o.Value == nil {
		return nil, fmt.Errorf("option --%s has a nil Value", o.Argument)
	}
	*o.Value = slices.Clone(o.Default)
	return &stringsOpt{o: o}, nil
}

func (b *stringsOpt) info() optionInfo {
	i := optionInfo{Flag: b.o.Argument, Short: b.o.Shorthand, Env: b.o.Env, Path: b.o.Path, Usage: b.o.Usage, Type: "strings"}
	if len(b.o.Default) > 0 {
		i.Default = strings.Join(b.o.Default, ",")
	}
	return i
}

func (b *stringsOpt) flag() pflag.Value { return &flagValue{b: b, typ: "strings", appends: true} }

func (b *stringsOpt) split(s string) []string {
	if b.o.UseCobraStringArray {
		return []string{s}
	}
	var out []string
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (b *stringsOpt) setText(s string) error {
	*b.o.Value = b.split(s)
	return nil
}

// appendText is the command-line path: the first use replaces the default
// (or the environment's value), the next ones append.
func (b *stringsOpt) appendText(s string) {
	if !b.touched {
		*b.o.Value = nil
		b.touched = true
	}
	*b.o.Value = append(*b.o.Value, b.split(s)...)
}

func (b *stringsOpt) setAnnotation(s string) error {
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err == nil {
		*b.o.Value = v
		return nil
	}
	*b.o.Value = []string{s}
	return nil
}

func (b *stringsOpt) check() error {
	for _, v := range *b.o.Value {
		if len(b.o.Allow) > 0 {
			if !slices.Contains(b.o.Allow, v) && !slices.Contains(b.o.Default, v) {
				return fmt.Errorf("value %q is not one of %s", v, joinShown(b.o.Allow))
			}
			continue
		}
		if slices.Contains(b.o.Restrict, v) {
			return fmt.Errorf("value %q is not allowed", v)
		}
	}
	return nil
}

func (b *stringsOpt) empty() bool { return len(*b.o.Value) == 0 }

func (b *stringsOpt) shown() string {
	return strings.Join(*b.o.Value, ",")
}

// mapOpt binds a MapPluginConfigOption[T]: "k=v,k2=v2" on the command line
// and in the environment (merged over the default), a JSON object in an
// annotation.
type mapOpt[T sensu.MapOptionValue] struct {
	o     *sensu.MapPluginConfigOption[T]
	typ   string
	parse func(string) (T, error)
}

func newMap[T sensu.MapOptionValue](o *sensu.MapPluginConfigOption[T], typ string, parse func(string) (T, error)) (binder, error) {
	if o.Value == nil {
		return nil, fmt.Errorf("option --%s has a nil Value", o.Argument)
	}
	*o.Value = maps.Clone(o.Default)
	if *o.Value == nil {
		*o.Value = map[string]T{}
	}
	return &mapOpt[T]{o: o, typ: typ, parse: parse}, nil
}

func (b *mapOpt[T]) info() optionInfo {
	i := optionInfo{Flag: b.o.Argument, Short: b.o.Shorthand, Env: b.o.Env, Path: b.o.Path, Usage: b.o.Usage, Type: "key=" + b.typ}
	if len(b.o.Default) > 0 {
		i.Default = b.render(b.o.Default)
	}
	return i
}

func (b *mapOpt[T]) render(m map[string]T) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+display(m[k]))
	}
	return strings.Join(parts, ",")
}

func (b *mapOpt[T]) flag() pflag.Value { return &flagValue{b: b, typ: "key=" + b.typ} }

func (b *mapOpt[T]) setText(s string) error {
	for p := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(p) == "" {
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return fmt.Errorf("%q is not key=value", p)
		}
		val, err := b.parse(strings.TrimSpace(v))
		if err != nil {
			return fmt.Errorf("key %s: invalid %s value %q", k, b.typ, v)
		}
		(*b.o.Value)[k] = val
	}
	return nil
}

func (b *mapOpt[T]) setAnnotation(s string) error {
	var m map[string]T
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return b.setText(s)
	}
	maps.Copy(*b.o.Value, m)
	return nil
}

func (b *mapOpt[T]) check() error {
	for k, v := range *b.o.Value {
		if len(b.o.Allow) > 0 {
			if a, ok := b.o.Allow[k]; ok && a == v {
				continue
			}
			if d, ok := b.o.Default[k]; ok && d == v {
				continue
			}
			return fmt.Errorf("key %s: value is not allowed", k)
		}
		if r, ok := b.o.Restrict[k]; ok && r == v {
			return fmt.Errorf("key %s: value is not allowed", k)
		}
	}
	return nil
}

func (b *mapOpt[T]) empty() bool { return len(*b.o.Value) == 0 }

func (b *mapOpt[T]) shown() string {
	return b.render(*b.o.Value)
}

// flagValue adapts a binder to pflag.
type flagValue struct {
	b       binder
	typ     string
	appends bool
}

func (f *flagValue) String() string { return "" }
func (f *flagValue) Type() string   { return f.typ }
func (f *flagValue) Set(s string) error {
	if f.appends {
		f.b.(*stringsOpt).appendText(s)
		return nil
	}
	return f.b.setText(s)
}

func display[T any](v T) string {
	switch x := any(v).(type) {
	case string:
		return x
	case time.Duration:
		return x.String()
	default:
		return fmt.Sprint(v)
	}
}

func joinShown[T any](vs []T) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = display(v)
	}
	return strings.Join(parts, ", ")
}
