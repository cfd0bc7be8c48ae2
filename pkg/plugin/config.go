package plugin

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/spf13/pflag"

	"github.com/vigil-sec/vigil/pkg/secret"
)

// entry is one bound option with its policy.
type entry struct {
	opt  Option
	b    binder
	file *string // for secret options: the --NAME-file flag's value
}

// optionSet is the parsed options of one plugin invocation. It holds no
// global state: each run builds its own.
type optionSet struct {
	name     string
	keyspace string
	entries  []*entry
	fs       *pflag.FlagSet
	// secrets collects every secret value seen, for redaction.
	secrets *secret.Redactor
	// overrides records which annotation set which option, for logs.
	overrides []override
	// warnings are reported once the logger exists.
	warnings []string
}

type override struct {
	Flag, Key, From, Value string
}

// newOptionSet binds the options and registers their flags on a fresh
// FlagSet. Errors here are bugs in the plugin's options table; the
// conventions test runs every plugin's table through this.
func newOptionSet(name, keyspace string, opts []Option) (*optionSet, error) {
	s := &optionSet{name: name, keyspace: keyspace, secrets: secret.NewRedactor()}
	s.fs = pflag.NewFlagSet(name, pflag.ContinueOnError)
	s.fs.SetOutput(io.Discard)
	s.fs.SortFlags = false
	seen := map[string]string{}
	claim := func(what, key, flag string) error {
		if key == "" {
			return nil
		}
		if other, ok := seen[what+key]; ok {
			return fmt.Errorf("options --%s and --%s both use %s %q", other, flag, what, key)
		}
		seen[what+key] = flag
		return nil
	}
	for _, o := range opts {
		b, err := bind(o.Spec)
		if err != nil {
			return nil, err
		}
		i := b.info()
		if i.Flag == "" {
			return nil, fmt.Errorf("an option of %s has no Argument (flag name)", name)
		}
		if err := validatePolicy(o, i); err != nil {
			return nil, fmt.Errorf("option --%s: %w", i.Flag, err)
		}
		for _, c := range [][2]string{{"flag", i.Flag}, {"shorthand", i.Short}, {"environment variable", i.Env}, {"annotation path", i.Path}} {
			if err := claim(c[0], c[1], i.Flag); err != nil {
				return nil, err
			}
		}
		e := &entry{opt: o, b: b}
		f := s.fs.VarPF(b.flag(), i.Flag, i.Short, i.Usage)
		if i.IsBool {
			f.NoOptDefVal = "true"
		}
		if i.Secret {
			e.file = new(string)
			fileFlag := i.Flag + "-file"
			if err := claim("flag", fileFlag, i.Flag); err != nil {
				return nil, err
			}
			s.fs.StringVar(e.file, fileFlag, "", "read --"+i.Flag+" from this file (preferred: a flag shows in process listings)")
		}
		s.entries = append(s.entries, e)
	}
	return s, nil
}

// validatePolicy enforces the override rules that make entity annotations
// safe: a compromised host controls its entity's annotations, so it must
// never be able to redirect data, swap a credential or change a command.
func validatePolicy(o Option, i optionInfo) error {
	if o.Annotations != NoAnnotation && i.Path == "" {
		return errors.New("annotation overrides need a Path")
	}
	if o.Annotations == AnyAnnotation && (o.Kind != General || i.Secret) {
		return fmt.Errorf("a %s option cannot be overridden by entity annotations", map[bool]string{true: "secret", false: o.Kind.String()}[i.Secret])
	}
	if i.Secret && o.Kind != Credential {
		return errors.New("a secret option must be of Kind Credential")
	}
	return nil
}

// environ looks variables up; tests pass their own.
type environ func(string) (string, bool)

// parse applies, in increasing precedence: defaults (already set by bind),
// environment variables, flags. Annotation overrides come later, once the
// event has been read.
func (s *optionSet) parse(args []string, env environ) error {
	for _, e := range s.entries {
		i := e.b.info()
		if i.Env == "" {
			continue
		}
		if v, ok := env(i.Env); ok && v != "" {
			if err := e.b.setText(v); err != nil {
				return fmt.Errorf("%s: %w", i.Env, err)
			}
			if i.Secret {
				s.secrets.Add(v)
			}
		}
	}
	if err := s.fs.Parse(args); err != nil {
		return s.flagError(err)
	}
	if rest := s.fs.Args(); len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q (options take the form --name value)", rest[0])
	}
	for _, e := range s.entries {
		i := e.b.info()
		if i.Secret && s.fs.Changed(i.Flag) {
			s.learnSecret(e.b)
			s.warnings = append(s.warnings, fmt.Sprintf("--%s on the command line shows in process listings; prefer %s or --%s-file", i.Flag, i.Env, i.Flag))
		}
	}
	return nil
}

// learnSecret gives the redactor the value a secret option holds now
// (bind allows Secret on secret.String options only).
func (s *optionSet) learnSecret(b binder) {
	s.secrets.Add(b.(*scalar[secret.String]).o.Value.Reveal())
}

// loadSecretFiles reads the --NAME-file options. It is the only I/O of
// option parsing, so --validate-only skips it.
func (s *optionSet) loadSecretFiles() error {
	for _, e := range s.entries {
		if e.file == nil || *e.file == "" {
			continue
		}
		i := e.b.info()
		v, err := secret.FromFile(*e.file)
		if err != nil {
			return fmt.Errorf("--%s-file: %w", i.Flag, err)
		}
		s.secrets.Add(v.Reveal())
		if err := e.b.setText(v.Reveal()); err != nil {
			return fmt.Errorf("--%s-file: %w", i.Flag, err)
		}
	}
	return nil
}

// flagError turns pflag's messages into one line that names the problem
// and, for a misspelt flag, the closest real one.
func (s *optionSet) flagError(err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "unknown flag: --"); ok {
		if near := s.nearest(name); near != "" {
			return fmt.Errorf("unknown flag --%s (did you mean --%s?)", name, near)
		}
		return fmt.Errorf("unknown flag --%s", name)
	}
	if errors.Is(err, pflag.ErrHelp) {
		return err
	}
	return errors.New(strings.ReplaceAll(msg, "\n", " "))
}

// nearest returns the flag closest to name by edit distance, if close.
func (s *optionSet) nearest(name string) string {
	best, bestD := "", 3
	s.fs.VisitAll(func(f *pflag.Flag) {
		if d := editDistance(name, f.Name); d < bestD {
			best, bestD = f.Name, d
		}
	})
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// annotationKeys returns the keys the SDK consults for an option: the
// lowercased key first (agent.yml keys are lowercased by viper,
// sensu/sensu-go#4096), then the exact one.
func (s *optionSet) annotationKeys(p string) []string {
	key := path.Join(s.keyspace, p)
	if low := strings.ToLower(key); low != key {
		return []string{low, key}
	}
	return []string{key}
}

// applyAnnotations applies overrides from the event within each option's
// scope. Check annotations beat entity annotations, as in the SDK; labels
// are never read.
func (s *optionSet) applyAnnotations(ev *corev2.Event) error {
	if ev == nil || s.keyspace == "" {
		return nil
	}
	for _, e := range s.entries {
		if e.opt.Annotations == NoAnnotation {
			continue
		}
		i := e.b.info()
		for _, key := range s.annotationKeys(i.Path) {
			val, from := "", ""
			if ev.Check != nil && ev.Check.Annotations[key] != "" {
				val, from = ev.Check.Annotations[key], "check"
			} else if e.opt.Annotations == AnyAnnotation && ev.Entity != nil && ev.Entity.Annotations[key] != "" {
				val, from = ev.Entity.Annotations[key], "entity"
			}
			if from == "" {
				continue
			}
			if i.Secret {
				s.secrets.Add(val)
			}
			if err := e.b.setAnnotation(val); err != nil {
				return fmt.Errorf("%s annotation %s: %w", from, key, err)
			}
			if i.Secret {
				// The annotation may be a JSON string: the value is what
				// it decodes to, quotes and escapes gone.
				s.learnSecret(e.b)
			}
			s.overrides = append(s.overrides, override{Flag: i.Flag, Key: key, From: from, Value: e.b.shown()})
			break
		}
	}
	return nil
}

// validate checks Required and the SDK's Allow/Restrict lists.
func (s *optionSet) validate() error {
	for _, e := range s.entries {
		i := e.b.info()
		if e.opt.Required && e.b.empty() && (e.file == nil || *e.file == "") {
			return fmt.Errorf("%s is required", describe(i))
		}
		if err := e.b.check(); err != nil {
			return fmt.Errorf("--%s: %w", i.Flag, err)
		}
	}
	return nil
}

// describe names every way to set an option: "--dir or VIGIL_ARCHIVE_DIR".
func describe(i optionInfo) string {
	ways := []string{"--" + i.Flag}
	if i.Secret {
		ways = append(ways, "--"+i.Flag+"-file")
	}
	if i.Env != "" {
		ways = append(ways, i.Env)
	}
	if len(ways) == 1 {
		return ways[0]
	}
	return strings.Join(ways[:len(ways)-1], ", ") + " or " + ways[len(ways)-1]
}

// OptionDoc describes one option for generated documentation.
type OptionDoc struct {
	Flag       string `json:"flag"`
	Short      string `json:"short,omitempty"`
	Env        string `json:"env,omitempty"`
	Annotation string `json:"annotation,omitempty"`
	Scope      string `json:"annotation_scope"`
	Kind       string `json:"kind"`
	Type       string `json:"type"`
	Default    string `json:"default,omitempty"`
	Required   bool   `json:"required,omitempty"`
	Secret     bool   `json:"secret,omitempty"`
	Usage      string `json:"usage"`
}

func (s *optionSet) docs() []OptionDoc {
	out := make([]OptionDoc, 0, len(s.entries))
	for _, e := range s.entries {
		i := e.b.info()
		d := OptionDoc{Flag: i.Flag, Short: i.Short, Env: i.Env, Scope: e.opt.Annotations.String(), Kind: e.opt.Kind.String(),
			Type: i.Type, Default: i.Default, Required: e.opt.Required, Secret: i.Secret, Usage: i.Usage}
		if e.opt.Annotations != NoAnnotation {
			d.Annotation = path.Join(s.keyspace, i.Path)
		}
		out = append(out, d)
	}
	return out
}

// osEnviron is the process environment.
func osEnviron(k string) (string, bool) { return os.LookupEnv(k) }

// sortedOverrides returns the overrides in flag order, for stable logs.
func (s *optionSet) sortedOverrides() []override {
	o := append([]override(nil), s.overrides...)
	sort.SliceStable(o, func(a, b int) bool { return o[a].Flag < o[b].Flag })
	return o
}
