package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/sensu/sensu-plugin-sdk/sensu"
	"github.com/spf13/pflag"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/version"
)

// Plugin is what every binary declares: its name, default timeout and
// annotation keyspace (sensu.PluginConfig), its options table and a
// validation that does no I/O.
type Plugin[C any] struct {
	sensu.PluginConfig
	// Options returns the options table bound to a fresh configuration.
	Options func(cfg *C) []Option
	// Validate checks the configuration as a whole, before any I/O. Its
	// error names the flag and environment variable at fault.
	Validate func(cfg *C) error
	// Subcommands are extra "NAME word" commands besides version and
	// options, such as printing a built-in policy. Each returns the exit
	// code.
	Subcommands map[string]func(stdio IO, args []string) int
}

// defaultTimeout is PluginConfig.Timeout, in seconds, as a duration.
func (p Plugin[C]) defaultTimeout() time.Duration {
	const most = uint64(math.MaxInt64 / int64(time.Second))
	return time.Duration(min(p.Timeout, most)) * time.Second //nolint:gosec // bounded just above
}

// Env is what the runtime hands a plugin besides its configuration.
type Env struct {
	// Event is the Sensu event read from stdin: always set for handlers
	// and mutators, set for a check only when Sensu passed one
	// (stdin: true).
	Event *corev2.Event
	// EventJSON is the event exactly as read, for plugins that keep it.
	EventJSON []byte
	// Stdin is the data stream of a check whose StdinIsData says so.
	Stdin io.Reader
	// Log writes to stderr for handlers, nowhere for checks and mutators
	// unless --log-file or --log-level ask (their stderr is their output).
	Log *slog.Logger
	// Redact scrubs every secret value the options hold.
	Redact *secret.Redactor
	// Now is the clock.
	Now func() time.Time
	// TTY is stderr when it is a terminal (someone is watching), for
	// progress displays; nil otherwise, and always nil under Sensu.
	TTY io.Writer
}

// IO is the process's streams and environment; tests pass their own.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Getenv looks up environment variables; nil means the process's.
	Getenv func(string) (string, bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// StdIO returns the process's own streams.
func StdIO() IO { return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr} }

func (s IO) getenv() environ {
	if s.Getenv != nil {
		return s.Getenv
	}
	return osEnviron
}

func (s IO) now() func() time.Time {
	if s.Now != nil {
		return s.Now
	}
	return time.Now
}

// kind is the plugin type, which fixes exit codes and where logs go.
type kind int

const (
	kindCheck kind = iota
	kindMutator
	kindHandler
)

// errorExit is the exit code for a failure: UNKNOWN for a check, 1 for
// handlers and mutators.
func (k kind) errorExit() int {
	if k == kindCheck {
		return int(3)
	}
	return 1
}

// common holds the options every plugin of a kind gets from the runtime.
type common struct {
	Timeout      time.Duration
	LogLevel     string
	LogFile      string
	ValidateOnly bool
	Help         bool
	Version      bool
	check        checkCommon
}

func (c *common) options(k kind, def time.Duration) []Option {
	opts := []Option{
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "timeout", Env: "VIGIL_TIMEOUT", Default: def, Value: &c.Timeout,
			Usage: "give up after this long (e.g. 30s, 2m, or seconds; 0 = no limit)"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "log-level", Env: "VIGIL_LOG_LEVEL", Default: "warn", Value: &c.LogLevel,
			Allow: []string{"debug", "info", "warn", "error"}, Usage: "log level: debug, info, warn or error"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "log-file", Env: "VIGIL_LOG_FILE", Value: &c.LogFile,
			Usage: "append logs to this file instead of stderr"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "validate-only", Value: &c.ValidateOnly,
			Usage: "parse and validate the options, then exit without doing anything"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "version", Value: &c.Version, Usage: "print the version and exit"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "help", Shorthand: "h", Value: &c.Help, Usage: "print this help and exit"}},
	}
	if k == kindCheck {
		opts = append(opts, c.check.options()...)
	}
	return opts
}

// setup is the part of a run shared by all kinds: bind, parse, read the
// event, apply overrides, validate. It returns done=true with an exit code
// when the run ends here (help, version, errors).
type setup[C any] struct {
	p    Plugin[C]
	k    kind
	io   IO
	cfg  *C
	com  common
	opts *optionSet
	env  Env
	// errOut reports a failure in the kind's format.
	errOut func(msg string) int
}

func newSetup[C any](p Plugin[C], k kind, stdio IO) *setup[C] {
	s := &setup[C]{p: p, k: k, io: stdio, cfg: new(C)}
	s.errOut = func(msg string) int {
		if k == kindCheck {
			s.checkError(msg)
		} else {
			fmt.Fprintf(stdio.Stderr, "%s: %s\n", p.Name, oneLine(msg))
		}
		return k.errorExit()
	}
	return s
}

// checkError prints a check failure as UNKNOWN in the requested format.
func (s *setup[C]) checkError(msg string) {
	rep := Report{Plugin: s.p.Name, Status: 3, Summary: oneLine(msg), Findings: []finding.Finding{}, Metrics: []ReportMetric{}}
	if s.com.check.Format == "json" {
		_ = writeJSON(s.io.Stdout, rep, 0)
		return
	}
	fmt.Fprintf(s.io.Stdout, "%s UNKNOWN - %s\n", s.p.Name, cleanText(oneLine(msg), 0))
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// start runs everything before the plugin's own work. It returns the exit
// code and true when the run is over.
func (s *setup[C]) start(args []string, wantEvent func(*C) bool) (int, bool) {
	if len(args) > 0 {
		switch args[0] {
		case "version":
			fmt.Fprintln(s.io.Stdout, version.String(s.p.Name))
			return 0, true
		case "options":
			return s.printOptions(args[1:]), true
		}
		if sub, ok := s.p.Subcommands[args[0]]; ok {
			return sub(s.io, args[1:]), true
		}
	}
	var err error
	opts := append(s.p.Options(s.cfg), s.com.options(s.k, s.p.defaultTimeout())...)
	if s.opts, err = newOptionSet(s.p.Name, s.p.Keyspace, opts); err != nil {
		return s.errOut("invalid options table: " + err.Error()), true
	}
	if err := s.opts.parse(args, s.io.getenv()); err != nil {
		return s.errOut(err.Error() + " (see --help)"), true
	}
	if s.com.Help {
		s.printHelp()
		if s.k == kindCheck {
			return 3, true // Nagios plugin guidelines: --help is UNKNOWN, so a check never goes green on it
		}
		return 0, true
	}
	if s.com.Version {
		fmt.Fprintln(s.io.Stdout, version.String(s.p.Name))
		return 0, true
	}
	s.env.Redact = s.opts.secrets
	s.env.Now = s.io.now()
	if f, ok := s.io.Stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			s.env.TTY = f
		}
	}
	log, err := s.logger()
	if err != nil {
		return s.errOut(err.Error()), true
	}
	s.env.Log = log
	for _, w := range s.opts.warnings {
		log.Warn(w)
	}
	if s.com.ValidateOnly {
		// Validate what flags and environment say, without reading stdin
		// or secret files: this is how example definitions and deployment
		// scripts check a command line.
		if err := s.validate(); err != nil {
			return s.errOut(err.Error()), true
		}
		return 0, true
	}
	if err := s.opts.loadSecretFiles(); err != nil {
		return s.errOut(err.Error()), true
	}
	if wantEvent(s.cfg) {
		ev, raw, err := readEvent(s.io.Stdin, s.k != kindCheck, s.com.Timeout)
		if err != nil {
			return s.errOut(err.Error()), true
		}
		s.env.Event, s.env.EventJSON = ev, raw
		if err := s.opts.applyAnnotations(ev); err != nil {
			return s.errOut(err.Error()), true
		}
		for _, o := range s.opts.sortedOverrides() {
			log.Debug("option overridden by annotation", "flag", o.Flag, "annotation", o.Key, "from", o.From, "value", o.Value)
		}
	} else {
		s.env.Stdin = s.io.Stdin
	}
	if err := s.validate(); err != nil {
		return s.errOut(err.Error()), true
	}
	return 0, false
}

func (s *setup[C]) validate() error {
	if err := s.opts.validate(); err != nil {
		return err
	}
	if s.k == kindCheck {
		if err := s.com.check.validate(); err != nil {
			return err
		}
	}
	if s.p.Validate != nil {
		return s.p.Validate(s.cfg)
	}
	return nil
}

// logger builds the slog logger. Checks and mutators log nowhere unless
// asked, because Sensu merges their stderr into their output. A log file
// stays open until the process exits.
func (s *setup[C]) logger() (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(s.com.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	var w io.Writer
	switch {
	case s.com.LogFile != "":
		f, err := os.OpenFile(s.com.LogFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("--log-file: %w", err)
		}
		w = f
	case s.k == kindHandler || s.opts.fs.Changed("log-level"):
		w = s.io.Stderr
	default:
		return slog.New(slog.DiscardHandler), nil
	}
	redact := s.opts.secrets
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		// Last line of defence: a secret that reached a log line as part of
		// some other string is still masked.
		if a.Value.Kind() == slog.KindString {
			a.Value = slog.StringValue(redact.Redact(a.Value.String()))
		} else if a.Value.Kind() == slog.KindAny {
			if err, ok := a.Value.Any().(error); ok {
				a.Value = slog.StringValue(redact.Redact(err.Error()))
			}
		}
		return a
	}})
	return slog.New(h).With("plugin", s.p.Name), nil
}

// run calls f under the timeout and turns a panic into an error. If f
// ignores its context, the runtime stops waiting shortly after the
// deadline, so that a stuck plugin still exits with a clear message.
func run[T any](ctx context.Context, timeout time.Duration, redact *secret.Redactor, f func(ctx context.Context) (T, error)) (T, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, fmt.Errorf("timed out after %s", timeout))
		defer cancel()
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				var zero T
				done <- result{zero, fmt.Errorf("internal error: %v (please report this with the input that caused it; stack: %s)", r, firstFrames(debug.Stack()))}
			}
		}()
		v, err := f(ctx)
		done <- result{v, err}
	}()
	// A plugin that stops because its context ended reports the cause
	// ("timed out after 5s"), not "context deadline exceeded".
	finish := func(r result) (T, error) {
		if r.err != nil && ctx.Err() != nil && (errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, context.Canceled)) {
			r.err = context.Cause(ctx)
		}
		return r.v, redact.Error(r.err)
	}
	select {
	case r := <-done:
		return finish(r)
	case <-ctx.Done():
		select {
		case r := <-done:
			return finish(r)
		case <-time.After(graceAfterTimeout):
			var zero T
			return zero, context.Cause(ctx)
		}
	}
}

// graceAfterTimeout is how long the runtime waits for a plugin to return
// after its context is done.
const graceAfterTimeout = 500 * time.Millisecond

// firstFrames keeps the panic site from a stack dump, on one line.
func firstFrames(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	var keep []string
	for i := 0; i < len(lines) && len(keep) < 4; i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "/") && !strings.Contains(l, "/runtime/") && !strings.Contains(l, "pkg/plugin/") {
			l, _, _ = strings.Cut(l, " ")
			keep = append(keep, filepath.Base(l))
		}
	}
	return strings.Join(keep, " < ")
}

// printHelp writes the usage text.
func (s *setup[C]) printHelp() {
	w := s.io.Stdout
	fmt.Fprintf(w, "%s: %s\n\nUsage:\n  %s [options]\n  %s version\n  %s options [--format markdown|json]\n\nOptions:\n", s.p.Name, s.p.Short, s.p.Name, s.p.Name, s.p.Name)
	s.opts.fs.VisitAll(func(f *pflag.Flag) {
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		}
		fmt.Fprintf(w, "  %-28s %s\n", name, f.Usage)
	})
	fmt.Fprintln(w, "\nEvery option's environment variable and annotation: "+s.p.Name+" options")
}

// printOptions implements "NAME options": the options table as Markdown
// (for READMEs) or JSON (for tools).
func (s *setup[C]) printOptions(args []string) int {
	fs := pflag.NewFlagSet("options", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "markdown", "markdown or json")
	if err := fs.Parse(args); err != nil {
		return s.errOut(err.Error())
	}
	opts := append(s.p.Options(new(C)), s.com.options(s.k, s.p.defaultTimeout())...)
	set, err := newOptionSet(s.p.Name, s.p.Keyspace, opts)
	if err != nil {
		return s.errOut("invalid options table: " + err.Error())
	}
	docs := set.docs()
	switch *format {
	case "json":
		b, _ := json.MarshalIndent(docs, "", "  ")
		fmt.Fprintln(s.io.Stdout, string(b))
	case "markdown":
		fmt.Fprint(s.io.Stdout, MarkdownTable(docs))
	default:
		return s.errOut("options --format must be markdown or json")
	}
	return 0
}

// MarkdownTable renders options as the README table.
func MarkdownTable(docs []OptionDoc) string {
	var b strings.Builder
	b.WriteString("| Flag | Environment variable | Annotation | Default | Description |\n|---|---|---|---|---|\n")
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, d := range docs {
		flag := "`--" + d.Flag + "`"
		if d.Short != "" {
			flag = "`-" + d.Short + "`, " + flag
		}
		if d.Secret {
			flag += ", `--" + d.Flag + "-file`"
		}
		env, ann, def := "", "", ""
		if d.Env != "" {
			env = "`" + d.Env + "`"
		}
		if d.Annotation != "" {
			ann = "`" + d.Annotation + "`"
			if d.Scope == AnyAnnotation.String() {
				ann += " (check, entity)"
			} else {
				ann += " (check)"
			}
		}
		if d.Default != "" {
			def = "`" + esc(d.Default) + "`"
		}
		usage := esc(d.Usage)
		if d.Required {
			usage = "**Required.** " + usage
		}
		if d.Secret {
			usage += " Secret: never printed or logged."
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", flag, env, ann, def, usage)
	}
	return b.String()
}
