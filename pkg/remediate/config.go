package remediate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

// AnnotationRules is the check annotation that may add rules for its
// check: a JSON list of Rule objects whose actions are selectable names.
const AnnotationRules = "vigil.io/handler-remediation/rules"

// The action kinds.
const (
	KindSensuExecute = "sensu-execute"
	KindCommand      = "command"
	KindWebhook      = "webhook"
)

// Defaults for an action.
const (
	DefaultCommandTimeout = 60 * time.Second
	DefaultMaxOutput      = 16 << 10
)

// Config is the remediation configuration file.
//
//	actions:
//	  rescan:
//	    kind: sensu-execute
//	    check: check-file-integrity-rescan
//	    selectable: true
//	  converge:
//	    kind: command
//	    command: [/usr/bin/puppet, agent, --onetime, --no-daemonize]
//	    timeout: 10m
//	    capture: true
//	    rate_limit: {max: 1, window: 6h}
//	rules:
//	  - name: critical-integrity
//	    match:
//	      checks: [check-file-integrity*]
//	      rules: [fim.*]
//	      severity: critical
//	      occurrences: [">=1"]
//	    actions: [converge]
//	capture:
//	  auth_logs: [/var/log/auth.log, /var/log/secure]
type Config struct {
	// Actions are the actions by name.
	Actions map[string]*Action `yaml:"actions"`
	// Rules are tried in order; the first that matches decides.
	Rules []Rule `yaml:"rules"`
	// Capture says what a forensic capture collects.
	Capture CaptureConfig `yaml:"capture"`
}

// Action is one thing the handler can do.
type Action struct {
	// Name is the key of the action in the file.
	Name string `yaml:"-"`
	// Kind is sensu-execute, command or webhook.
	Kind string `yaml:"kind"`
	// Check is the check a sensu-execute action asks the backend to run.
	Check string `yaml:"check"`
	// Namespace of that check; default the event's.
	Namespace string `yaml:"namespace"`
	// Command is the argv of a command action (no shell).
	Command []string `yaml:"command"`
	// Env adds variables to a command action's environment.
	Env map[string]string `yaml:"env"`
	// Dir is a command action's working directory.
	Dir string `yaml:"dir"`
	// URL is a webhook's destination.
	URL string `yaml:"url"`
	// TokenEnv names an environment variable holding a bearer token for a
	// webhook (the value never appears in output or the audit log).
	TokenEnv string `yaml:"token_env"`
	// CAFile is a PEM CA bundle for a webhook.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds the action (default 60 s; never beyond the handler's
	// --timeout).
	Timeout Duration `yaml:"timeout"`
	// MaxOutput bounds the command output kept in the audit log.
	MaxOutput int `yaml:"max_output"`
	// Capture runs a forensic capture before the action; the action is not
	// run when the capture fails.
	Capture bool `yaml:"capture"`
	// RateLimit overrides the handler's --rate-limit and --rate-window.
	RateLimit *Limit `yaml:"rate_limit"`
	// Selectable lets a check annotation select this action by name.
	Selectable bool `yaml:"selectable"`

	line int
}

// Limit is a sliding-window rate limit: at most Max runs within Window.
type Limit struct {
	Max    int      `yaml:"max"`
	Window Duration `yaml:"window"`
}

// Rule selects actions for the events it matches.
type Rule struct {
	// Name identifies the rule in the audit log.
	Name string `yaml:"name"`
	// Match holds the conditions; all given ones must hold.
	Match Match `yaml:"match"`
	// Actions are action names, run in order. An empty list matches and
	// does nothing, which stops the search.
	Actions []string `yaml:"actions"`

	// Source is "config" or "annotation".
	Source string `yaml:"-"`
	line   int
	sev    *finding.Severity
	occ    []Range
	status []int
}

// Match is a rule's conditions.
type Match struct {
	// Checks are globs on the check name (path.Match syntax).
	Checks []string `yaml:"checks"`
	// Rules are globs on the rule ids of the event's findings; one finding
	// must match.
	Rules []string `yaml:"rules"`
	// Severity is the minimum severity of a finding (of a finding that
	// matches Rules, when given).
	Severity string `yaml:"severity"`
	// Status lists check statuses; default 1, 2 and 3 (never OK).
	Status []int `yaml:"status"`
	// Occurrences lists ranges of the check's occurrences: "3", ">=3",
	// ">3", "<=5", "<5", "1-5".
	Occurrences []string `yaml:"occurrences"`
	// Subscriptions are globs; one of the entity's subscriptions must
	// match one.
	Subscriptions []string `yaml:"subscriptions"`
}

// CaptureConfig says what a forensic capture collects.
type CaptureConfig struct {
	// AuthLogs are tailed into the capture; missing ones are noted.
	AuthLogs []string `yaml:"auth_logs"`
	// AuthLogLines is how many lines of each are kept.
	AuthLogLines int `yaml:"auth_log_lines"`
	// MaxFiles bounds how many finding objects are hashed.
	MaxFiles int `yaml:"max_files"`
	// MaxFileBytes bounds the size of a file that is hashed.
	MaxFileBytes int64 `yaml:"max_file_bytes"`
	// MaxProcesses bounds the process list.
	MaxProcesses int `yaml:"max_processes"`
}

// Capture defaults.
var (
	DefaultAuthLogs = []string{"/var/log/auth.log", "/var/log/secure"}
)

// Capture defaults.
const (
	DefaultAuthLogLines = 200
	DefaultMaxFiles     = 100
	DefaultMaxFileBytes = 64 << 20
	DefaultMaxProcesses = 10000
)

// Duration is a time.Duration read from "30s", "5m" or a number of
// seconds.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := plugin.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// LoadConfig reads and validates a configuration file.
func LoadConfig(file string) (*Config, error) {
	b, err := os.ReadFile(file) //nolint:gosec // the operator's configuration file
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfig(file, b)
}

// ParseConfig parses and validates a configuration; name prefixes errors
// ("FILE:LINE: …").
func ParseConfig(name string, b []byte) (*Config, error) {
	var c Config
	if err := decodeStrict(b, &c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty configuration", name)
		}
		return nil, fmt.Errorf("%s:%s", name, yamlErr(err))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("%s:%s", name, yamlErr(err))
	}
	c.locate(&root)
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s:%w", name, err)
	}
	return &c, nil
}

func decodeStrict(b []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?(?:unmarshal errors:\s*)?line (\d+): `)

// yamlErr turns a yaml.v3 error into "LINE: message" (the first error).
func yamlErr(err error) string {
	var te *yaml.TypeError
	msg := err.Error()
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		return m[1] + ": " + strings.TrimSpace(msg[len(m[0]):])
	}
	return " " + msg
}

// locate records the line of each action and rule, for errors.
func (c *Config) locate(root *yaml.Node) {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return
	}
	top := root.Content[0]
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "actions":
			for j := 0; j+1 < len(v.Content); j += 2 {
				if a := c.Actions[v.Content[j].Value]; a != nil {
					a.line = v.Content[j].Line
				}
			}
		case "rules":
			for j, n := range v.Content {
				if j < len(c.Rules) {
					c.Rules[j].line = n.Line
				}
			}
		}
	}
}

// at prefixes an error with a line number when known.
func at(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%d: "+format, append([]any{line}, args...)...)
	}
	return fmt.Errorf(" "+format, args...)
}

var actionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

func (c *Config) validate() error {
	if len(c.Actions) == 0 {
		return at(1, "no actions defined")
	}
	for _, n := range SortedActions(c) {
		a := c.Actions[n]
		if a == nil {
			return at(0, "action %q is empty", n)
		}
		a.Name = n
		if !actionName.MatchString(n) {
			return at(a.line, "action name %q: use letters, digits, '.', '_' and '-'", n)
		}
		if err := a.validate(); err != nil {
			return at(a.line, "action %s: %v", n, err)
		}
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		r.Source = "config"
		if r.Name == "" {
			r.Name = "rule-" + strconv.Itoa(i+1)
		}
		if err := r.compile(c, false); err != nil {
			return at(r.line, "rule %s: %v", r.Name, err)
		}
	}
	cc := &c.Capture
	if cc.AuthLogs == nil {
		cc.AuthLogs = DefaultAuthLogs
	}
	if cc.AuthLogLines == 0 {
		cc.AuthLogLines = DefaultAuthLogLines
	}
	if cc.MaxFiles == 0 {
		cc.MaxFiles = DefaultMaxFiles
	}
	if cc.MaxFileBytes == 0 {
		cc.MaxFileBytes = DefaultMaxFileBytes
	}
	if cc.MaxProcesses == 0 {
		cc.MaxProcesses = DefaultMaxProcesses
	}
	if cc.AuthLogLines < 0 || cc.MaxFiles < 0 || cc.MaxFileBytes < 0 || cc.MaxProcesses < 0 {
		return at(0, "capture: limits must be positive")
	}
	for _, p := range cc.AuthLogs {
		if !path.IsAbs(p) {
			return at(0, "capture: auth log %q must be an absolute path", p)
		}
	}
	return nil
}

func (a *Action) validate() error {
	set := func(name string, ok bool) error {
		if ok {
			return fmt.Errorf("%q does not apply to kind %s", name, a.Kind)
		}
		return nil
	}
	switch a.Kind {
	case KindSensuExecute:
		if a.Check == "" {
			return errors.New("a sensu-execute action needs \"check\" (the check to run)")
		}
		if !actionName.MatchString(a.Check) || (a.Namespace != "" && !actionName.MatchString(a.Namespace)) {
			return errors.New("\"check\" and \"namespace\" must be Sensu resource names")
		}
		if err := errors.Join(set("command", len(a.Command) > 0), set("url", a.URL != ""), set("env", len(a.Env) > 0)); err != nil {
			return err
		}
	case KindCommand:
		if len(a.Command) == 0 || a.Command[0] == "" {
			return errors.New("a command action needs \"command\" (a list: program and arguments)")
		}
		for k := range a.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("env: bad variable name %q", k)
			}
		}
		if err := errors.Join(set("check", a.Check != ""), set("url", a.URL != "")); err != nil {
			return err
		}
	case KindWebhook:
		if a.URL == "" {
			return errors.New("a webhook action needs \"url\"")
		}
		u, err := url.Parse(a.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("\"url\" must be an absolute http:// or https:// URL")
		}
		if err := errors.Join(set("check", a.Check != ""), set("command", len(a.Command) > 0)); err != nil {
			return err
		}
	case "":
		return errors.New("\"kind\" is required (sensu-execute, command or webhook)")
	default:
		return fmt.Errorf("unknown kind %q (want sensu-execute, command or webhook)", a.Kind)
	}
	if a.Timeout < 0 || a.MaxOutput < 0 {
		return errors.New("timeout and max_output must be positive")
	}
	if a.Timeout == 0 {
		a.Timeout = Duration(DefaultCommandTimeout)
	}
	if a.MaxOutput == 0 {
		a.MaxOutput = DefaultMaxOutput
	}
	if a.RateLimit != nil && (a.RateLimit.Max < 1 || a.RateLimit.Window <= 0) {
		return errors.New("rate_limit needs max >= 1 and a window")
	}
	return nil
}

// compile checks a rule and prepares its matchers. From an annotation,
// actions must be selectable.
func (r *Rule) compile(c *Config, annotation bool) error {
	for _, a := range r.Actions {
		act, ok := c.Actions[a]
		if !ok {
			return fmt.Errorf("action %q is not defined in the configuration file", a)
		}
		if annotation && !act.Selectable {
			return fmt.Errorf("action %q is not selectable by a check annotation (set selectable: true in the configuration file)", a)
		}
	}
	m := r.Match
	for _, g := range slices.Concat(m.Checks, m.Rules, m.Subscriptions) {
		if _, err := path.Match(g, ""); err != nil {
			return fmt.Errorf("bad glob %q", g)
		}
	}
	if m.Severity != "" {
		s, err := finding.ParseSeverity(m.Severity)
		if err != nil {
			return err
		}
		r.sev = &s
	}
	r.status = m.Status
	if len(r.status) == 0 {
		r.status = []int{1, 2, 3}
	}
	for _, s := range r.status {
		if s < 0 || s > 255 {
			return fmt.Errorf("status %d is not an exit status", s)
		}
	}
	for _, o := range m.Occurrences {
		rg, err := ParseRange(o)
		if err != nil {
			return err
		}
		r.occ = append(r.occ, rg)
	}
	return nil
}

// Range is an inclusive range of occurrences.
type Range struct{ Min, Max int64 }

// ParseRange reads "3", ">=3", ">3", "<=5", "<5" or "1-5".
func ParseRange(s string) (Range, error) {
	t := strings.ReplaceAll(s, " ", "")
	bad := fmt.Errorf("occurrences %q: want N, >=N, >N, <=N, <N or N-M", s)
	num := func(v string) (int64, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, bad
		}
		return n, nil
	}
	var r Range
	var err error
	switch {
	case strings.HasPrefix(t, ">="):
		r.Min, err = num(t[2:])
		r.Max = 1<<63 - 1
	case strings.HasPrefix(t, ">"):
		r.Min, err = num(t[1:])
		r.Min++
		r.Max = 1<<63 - 1
	case strings.HasPrefix(t, "<="):
		r.Max, err = num(t[2:])
	case strings.HasPrefix(t, "<"):
		r.Max, err = num(t[1:])
		r.Max--
	case strings.Contains(t, "-"):
		lo, hi, _ := strings.Cut(t, "-")
		if r.Min, err = num(lo); err == nil {
			r.Max, err = num(hi)
		}
		if err == nil && r.Min > r.Max {
			return r, fmt.Errorf("occurrences %q: the range is empty", s)
		}
	default:
		r.Min, err = num(t)
		r.Max = r.Min
	}
	if err != nil {
		return r, bad
	}
	return r, nil
}

// Contains reports whether n is in the range.
func (r Range) Contains(n int64) bool { return n >= r.Min && n <= r.Max }

// annotationRules parses the rules a check annotation adds.
func (c *Config) annotationRules(raw string) ([]Rule, error) {
	var rules []Rule
	if err := decodeStrict([]byte(raw), &rules); err != nil {
		return nil, fmt.Errorf("check annotation %s: %s", AnnotationRules, strings.TrimSpace(yamlErr(err)))
	}
	for i := range rules {
		r := &rules[i]
		r.Source = "annotation"
		if r.Name == "" {
			r.Name = "annotation-" + strconv.Itoa(i+1)
		}
		if err := r.compile(c, true); err != nil {
			return nil, fmt.Errorf("check annotation %s: rule %s: %w", AnnotationRules, r.Name, err)
		}
	}
	return rules, nil
}

// SortedActions returns the action names of c in order.
func SortedActions(c *Config) []string {
	names := make([]string, 0, len(c.Actions))
	for n := range c.Actions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
