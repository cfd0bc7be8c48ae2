package remediate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/state"
)

// Engine decides and acts on one event at a time. Build one per run.
type Engine struct {
	// Config is the loaded configuration file.
	Config *Config
	// StateDir holds the guardrails' state (state.json) and its lock.
	StateDir string
	// AuditLog is the JSON-lines audit log.
	AuditLog string
	// CaptureDir receives forensic captures; CaptureRoot is read as /.
	CaptureDir, CaptureRoot string
	// DryRun decides and records everything and acts on nothing.
	DryRun bool
	// Limit is the default per-entity, per-action rate limit.
	Limit Limit
	// Breaker is the global circuit breaker.
	Breaker Breaker
	// Sensu is the backend API for sensu-execute actions.
	Sensu SensuAPI
	// Client returns the HTTP client for a webhook's CA file ("" for the
	// system's CAs).
	Client func(caFile string) (*httpx.Client, error)
	// Getenv reads the environment (PATH, webhook tokens).
	Getenv func(string) string
	// Redact masks every secret in output, records and errors.
	Redact *secret.Redactor
	// Now is the clock.
	Now func() time.Time
	// Log receives debug lines.
	Log *slog.Logger

	capMu sync.Mutex
	cap   *Capture
	capEr error
}

// Outcome is what a run decided and did.
type Outcome struct {
	// Records are the audit records written, one per action.
	Records []Record
	// Line is the one-line report.
	Line string
	// Failed is true when an action (or its capture) failed.
	Failed bool
	// Escalate is true when a guardrail stopped an action.
	Escalate bool
}

// StatePath is the state file in the state directory.
func (e *Engine) StatePath() string { return filepath.Join(e.StateDir, "state.json") }

func (e *Engine) lockPath() string { return filepath.Join(e.StateDir, ".lock") }

// Rules returns the rules for an event in the order they are tried: the
// check annotation's, then the file's.
func (e *Engine) Rules(ev *corev2.Event) ([]Rule, error) {
	var rules []Rule
	if ev.Check != nil {
		if raw, ok := ev.Check.Annotations[AnnotationRules]; ok {
			r, err := e.Config.annotationRules(raw)
			if err != nil {
				return nil, err
			}
			rules = r
		}
	}
	return append(rules, e.Config.Rules...), nil
}

// planned is one action of the matched rule and its guardrail verdict.
type planned struct {
	action *Action
	rec    Record
}

// Handle decides what the event calls for, applies the guardrails, runs
// the actions and appends the audit records. The error is for what kept
// it from deciding or recording (bad annotation, state, audit log);
// failed actions are reported in the Outcome.
func (e *Engine) Handle(ctx context.Context, ev *corev2.Event, raw []byte) (Outcome, error) {
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Log == nil {
		e.Log = slog.New(slog.DiscardHandler)
	}
	if e.Getenv == nil {
		e.Getenv = func(string) string { return "" }
	}
	if e.Redact == nil {
		e.Redact = secret.NewRedactor()
	}
	rules, err := e.Rules(ev)
	if err != nil {
		return Outcome{}, err
	}
	f := FactsOf(ev)
	base := Record{Namespace: f.Namespace, Entity: f.Entity, Check: f.Check, Status: f.Status, Occurrences: f.Occurrences, Rules: f.Rules, DryRun: e.DryRun}
	if f.Severity != nil {
		base.Severity = f.Severity.String()
	}
	subject := fmt.Sprintf("%s/%s %s status %d", f.Namespace, f.Entity, f.Check, f.Status)

	var rule *Rule
	for i := range rules {
		if rules[i].Matches(f) {
			rule = &rules[i]
			break
		}
	}
	if rule == nil {
		rec := base
		rec.Time, rec.Decision = e.Now().UTC(), DecisionNoMatch
		return e.finish(ctx, Outcome{Records: []Record{rec}, Line: subject + ": no rule matched"})
	}
	base.Rule, base.RuleSource = rule.Name, rule.Source
	head := fmt.Sprintf("%s: rule %s (%s)", subject, rule.Name, rule.Source)
	if e.DryRun {
		head = "DRY RUN " + head
	}
	if len(rule.Actions) == 0 {
		rec := base
		rec.Time, rec.Decision = e.Now().UTC(), DecisionNoAction
		return e.finish(ctx, Outcome{Records: []Record{rec}, Line: head + ": no action"})
	}

	plan, err := e.admit(ctx, f, rule, base)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{}
	var parts []string
	for _, p := range plan {
		rec := p.rec
		if rec.Decision == DecisionActed && !e.DryRun {
			rec = e.act(ctx, f, rule, p.action, rec, raw)
		}
		switch rec.Decision {
		case DecisionFailed:
			out.Failed = true
			parts = append(parts, fmt.Sprintf("%s failed (%s)", p.action.Name, rec.Reason))
		case DecisionRateLimited, DecisionCircuitOpen:
			out.Escalate = true
			parts = append(parts, fmt.Sprintf("%s %s: escalate (%s)", p.action.Name, rec.Decision, rec.Reason))
		case DecisionDryRun:
			parts = append(parts, p.action.Name+" would act")
		default:
			parts = append(parts, p.action.Name+" "+rec.Decision+detail(rec))
		}
		out.Records = append(out.Records, rec)
	}
	out.Line = head + ": " + strings.Join(parts, "; ")
	return e.finish(ctx, out)
}

// detail is the short evidence of success on the report line.
func detail(r Record) string {
	var d []string
	if r.HTTPStatus != 0 {
		d = append(d, fmt.Sprintf("HTTP %d", r.HTTPStatus))
	}
	if r.ExitCode != nil {
		d = append(d, fmt.Sprintf("exit %d", *r.ExitCode))
	}
	if r.Capture != nil {
		d = append(d, "capture "+filepath.Base(r.Capture.Path))
	}
	if len(d) == 0 {
		return ""
	}
	return " (" + strings.Join(d, ", ") + ")"
}

// admit runs the guardrails for every action of the rule under the state
// lock, and records the admitted runs before releasing it.
func (e *Engine) admit(ctx context.Context, f Facts, rule *Rule, base Record) ([]planned, error) {
	unlock, err := state.Lock(ctx, e.lockPath())
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := loadState(e.StatePath())
	if err != nil {
		return nil, err
	}
	now := e.Now()
	entity := f.Namespace + "/" + f.Entity
	// Prune with the longest window of every configured action, not only
	// this rule's: a 1-hour action deciding must not erase the history of
	// a 24-hour one.
	longest := e.Breaker.Window
	for _, a := range e.Config.Actions {
		if a.RateLimit != nil {
			longest = max(longest, time.Duration(a.RateLimit.Window))
		}
	}
	longest = max(longest, time.Duration(e.Limit.Window))
	var plan []planned
	for _, name := range rule.Actions {
		a := e.Config.Actions[name]
		lim := e.Limit
		if a.RateLimit != nil {
			lim = *a.RateLimit
		}
		longest = max(longest, time.Duration(lim.Window))
		v := st.admit(entity, name, lim, e.Breaker, now, !e.DryRun)
		rec := base
		rec.Time, rec.Action, rec.Kind, rec.Decision, rec.Reason = now.UTC(), name, a.Kind, v.Decision, v.Reason
		if v.Decision != DecisionActed {
			rec.Escalate = true
		} else if e.DryRun {
			rec.Decision = DecisionDryRun
		}
		plan = append(plan, planned{action: a, rec: rec})
	}
	if e.DryRun {
		return plan, nil
	}
	st.prune(now, longest)
	if err := st.save(e.StatePath()); err != nil {
		return nil, err
	}
	return plan, nil
}

// act runs one admitted action (after its capture) and completes its
// record.
func (e *Engine) act(ctx context.Context, f Facts, rule *Rule, a *Action, rec Record, raw []byte) Record {
	start := e.Now()
	fail := func(err error) Record {
		rec.Decision, rec.Reason = DecisionFailed, oneLine(e.Redact.Redact(err.Error()))
		rec.DurationMS = e.Now().Sub(start).Milliseconds()
		return rec
	}
	capturePath := ""
	if a.Capture {
		c, err := e.capture(ctx, f, a.Name, raw)
		if err != nil {
			return fail(fmt.Errorf("%w; action not run", err))
		}
		rec.Capture = c
		capturePath = c.Path
	}
	// HTTP actions are bounded here; a command bounds itself (runCommand).
	actx, cancel := context.WithTimeout(ctx, time.Duration(a.Timeout))
	defer cancel()
	var res result
	var err error
	switch a.Kind {
	case KindSensuExecute:
		ns := a.Namespace
		if ns == "" {
			ns = f.Namespace
		}
		res, err = executeCheck(actx, e.Sensu, e.Redact, ns, a.Check, f.Entity)
	case KindWebhook:
		var client *httpx.Client
		var token secret.String
		if a.TokenEnv != "" {
			token = secret.String(e.Getenv(a.TokenEnv))
			if !token.IsSet() {
				return fail(fmt.Errorf("webhook token: %s is not set", a.TokenEnv))
			}
			e.Redact.Add(token.Reveal())
		}
		if e.Client == nil {
			return fail(errors.New("no HTTP client"))
		}
		if client, err = e.Client(a.CAFile); err == nil {
			res, err = postWebhook(actx, client, e.Redact, a, token, rule.Name, raw)
		}
	case KindCommand:
		pathVar := e.Getenv("PATH")
		if pathVar == "" {
			pathVar = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		}
		res, err = runCommand(ctx, a, raw, commandEnv(pathVar, f, a, rule.Name, capturePath), e.Redact)
	default:
		err = fmt.Errorf("unknown action kind %q", a.Kind)
	}
	rec.HTTPStatus, rec.ExitCode = res.httpStatus, res.exitCode
	rec.Output, rec.OutputBytes, rec.OutputTruncated = res.output, res.outBytes, res.truncated
	if err != nil {
		return fail(err)
	}
	rec.DurationMS = e.Now().Sub(start).Milliseconds()
	return rec
}

// capture takes the forensic capture once per run, whatever the number of
// actions that ask for it.
func (e *Engine) capture(ctx context.Context, f Facts, action string, raw []byte) (*Capture, error) {
	e.capMu.Lock()
	defer e.capMu.Unlock()
	if e.cap == nil && e.capEr == nil {
		root := e.CaptureRoot
		if root == "" {
			root = "/"
		}
		e.cap, e.capEr = takeCapture(ctx, captureJob{root: root, dir: e.CaptureDir, cfg: e.Config.Capture, facts: f, event: raw, action: action, now: e.Now()})
	}
	return e.cap, e.capEr
}

// finish appends the records to the audit log under the state lock and
// redacts the line.
func (e *Engine) finish(ctx context.Context, out Outcome) (Outcome, error) {
	out.Line = oneLine(e.Redact.Redact(out.Line))
	unlock, err := state.Lock(ctx, e.lockPath())
	if err != nil {
		return out, fmt.Errorf("%s; and the audit log was not written: %w", out.Line, err)
	}
	defer unlock()
	if err := appendAudit(e.AuditLog, out.Records); err != nil {
		return out, fmt.Errorf("%s; and the audit log was not written: %w", out.Line, err)
	}
	return out, nil
}

// oneLine folds text onto one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
