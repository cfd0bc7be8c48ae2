// Package audit turns audit logs into findings: who did what, when and
// from where. It reads Kubernetes API-server audit logs (audit.k8s.io/v1
// Event objects, one per line, or a webhook batch EventList), Linux auth
// logs (sshd, sshd-session and sudo lines with syslog or RFC 3339
// timestamps) and auditd logs (records grouped by their event id, hex
// fields decoded), applies the built-in rules (Rules) and the operator's
// custom rules (LoadRules: field matches, or CEL for Kubernetes events),
// and counts failures per source address and user within a sliding window.
//
// An Engine is fed one line at a time by the check (pkg/auditcheck), which
// reads the files through pkg/tail. It keeps no line: findings are
// aggregated as they come, one per rule, actor, source and object, with a
// count and the first and last time, so its memory depends on how many
// distinct actors did something, not on the size of the log. A line that
// cannot be read (truncated, invalid JSON, an unknown layout) is counted
// as a parse error and skipped, never fatal.
//
// Kubernetes events are parsed with github.com/valyala/fastjson: it
// validates each line fully and lets the rules read the few fields they
// need without decoding the rest. On the bench-audit corpus, one core
// parses 1,096 MB/s with it and 111 MB/s with encoding/json into a struct
// of the same fields: the check as a whole reads about 630 MB/s.
// Custom CEL rules (github.com/google/cel-go) need the event as a map and
// cost more; they run only when a rules file has them.
package audit

import (
	"cmp"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// Options configure an Engine. The zero value is not valid: start from
// DefaultOptions.
type Options struct {
	// Window is the span within which failures are counted per source.
	Window time.Duration
	// FailedWarning and FailedCritical rate the failed logins (ssh and
	// auditd) of one source address within Window: at FailedWarning its
	// findings are medium, at FailedCritical critical, below both info.
	FailedWarning, FailedCritical int
	// DeniedWarning and DeniedCritical are the 401/403 responses of the
	// Kubernetes API server to one user or one address within Window that
	// make a k8s.denied_burst finding (medium, or high at DeniedCritical).
	DeniedWarning, DeniedCritical int
	// AuditdKeys are the audit rule keys (-k) whose executions are
	// auditd.exec findings.
	AuditdKeys []string
	// Trusted are globs of Kubernetes users the built-in rules leave out:
	// the control plane's own identities, which read secrets and create
	// privileged pods as their job. Custom rules see every user.
	Trusted []string
	// Custom are the operator's rules (LoadRules), with their settings for
	// the built-in ones.
	Custom *RuleSet
	// Disabled built-in rules report nothing.
	Disabled []string
	// Severity re-rates rules (built-in or custom).
	Severity map[string]finding.Severity
	// MaxFindings bounds the aggregated findings kept in memory; every
	// event is still counted.
	MaxFindings int
	// Now dates syslog timestamps, which have no year: the year that puts
	// the time at most a day after Now.
	Now func() time.Time
}

// DefaultTrusted are the Kubernetes users trusted by default: the
// control plane's components, the kubelets, and kube-controller-manager's
// own controllers (with --use-service-account-credentials), by name: an
// add-on's service account in kube-system is not trusted.
var DefaultTrusted = []string{
	"system:apiserver",
	"system:kube-controller-manager",
	"system:kube-scheduler",
	"system:kube-proxy",
	"system:node:*",
	"system:serviceaccount:kube-system:*-controller",
	"system:serviceaccount:kube-system:*-garbage-collector",
	"system:serviceaccount:kube-system:persistent-volume-binder",
	"system:serviceaccount:kube-system:horizontal-pod-autoscaler",
	"system:serviceaccount:kube-system:bootstrap-signer",
	"system:serviceaccount:kube-system:token-cleaner",
	"system:serviceaccount:kube-system:legacy-service-account-token-cleaner",
	"system:serviceaccount:kube-system:root-ca-cert-publisher",
}

// DefaultOptions are fail2ban's defaults for failed logins (5 within
// 10 minutes; critical at 20) and the control plane trusted.
func DefaultOptions() Options {
	return Options{
		Window: 10 * time.Minute, FailedWarning: 5, FailedCritical: 20,
		DeniedWarning: 10, DeniedCritical: 50,
		Trusted: DefaultTrusted, MaxFindings: 10_000, Now: time.Now,
	}
}

// Location is where a line was read.
type Location struct {
	File string
	Line int64
}

func (l Location) String() string {
	if l.Line == 0 {
		return l.File
	}
	return l.File + ":" + strconv.FormatInt(l.Line, 10)
}

// Engine applies the rules to lines. It is not safe for concurrent use.
type Engine struct {
	opt      Options
	disabled map[string]bool
	trusted  map[string]bool // cache of Options.Trusted by user name
	keys     map[string]bool // auditd keys

	aggs    map[string]*aggregate
	dropped int // findings past MaxFindings

	events      map[string]int // rule → matching log events
	lines       int64
	parseErrors int64
	firstBad    Location
	failed      *windows // failed logins by source address
	byAccount   *windows // failed logins by account, for spraying from many addresses
	accountFrom map[string]map[string]int
	denied      *windows // Kubernetes 401/403 by "user "+name and "ip "+address
	deniedTotal int
	deniedPeer  map[string]string // first address of a user, first user of an address

	k8s    k8sState
	auth   authState
	auditd auditdState
}

// aggregate is one finding and how often it happened.
type aggregate struct {
	f     finding.Finding
	first time.Time
	count int
	users map[string]int // threshold rules: who was tried
	seq   int            // order of first occurrence
}

// New checks the options and returns an Engine.
func New(opt Options) (*Engine, error) {
	if opt.Window <= 0 {
		return nil, fmt.Errorf("window must be positive, got %s", opt.Window)
	}
	for _, p := range [][2]int{{opt.FailedWarning, opt.FailedCritical}, {opt.DeniedWarning, opt.DeniedCritical}} {
		if p[0] < 1 || p[1] < p[0] {
			return nil, fmt.Errorf("thresholds must be at least 1, critical at or above warning: got %d and %d", p[0], p[1])
		}
	}
	for _, g := range opt.Trusted {
		if _, err := path.Match(g, ""); err != nil {
			return nil, fmt.Errorf("trusted user glob %q: %w", g, err)
		}
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	e := &Engine{
		opt: opt, disabled: map[string]bool{}, trusted: map[string]bool{}, keys: map[string]bool{},
		aggs: map[string]*aggregate{}, events: map[string]int{}, deniedPeer: map[string]string{},
		failed:    newWindows(opt.Window, max(2*opt.FailedCritical, 100)),
		byAccount: newWindows(opt.Window, max(2*opt.FailedCritical, 100)), accountFrom: map[string]map[string]int{},
		denied: newWindows(opt.Window, max(2*opt.DeniedCritical, 100)),
	}
	known := func(id string) bool {
		_, ok := builtin(id)
		return ok || opt.Custom.has(id)
	}
	disabled := slices.Clone(opt.Disabled)
	if opt.Custom != nil {
		disabled = append(disabled, opt.Custom.disabled...)
		// The caller's map stays as it was.
		e.opt.Severity = maps.Clone(opt.Severity)
		if e.opt.Severity == nil {
			e.opt.Severity = map[string]finding.Severity{}
		}
		for id, s := range opt.Custom.severity {
			if _, set := e.opt.Severity[id]; !set {
				e.opt.Severity[id] = s
			}
		}
	}
	for _, id := range disabled {
		if !known(id) {
			return nil, fmt.Errorf("cannot disable %q: no such rule", id)
		}
		e.disabled[id] = true
	}
	for id := range e.opt.Severity {
		if !known(id) {
			return nil, fmt.Errorf("cannot re-rate %q: no such rule", id)
		}
		if r, _ := builtin(id); r.threshold {
			return nil, fmt.Errorf("cannot re-rate %q: its severity comes from --failed-login-warning and --failed-login-critical", id)
		}
	}
	for _, k := range opt.AuditdKeys {
		e.keys[k] = true
	}
	e.k8s.init()
	e.auditd.init()
	return e, nil
}

// isTrusted says whether the built-in Kubernetes rules leave user out.
func (e *Engine) isTrusted(user []byte) bool {
	if t, ok := e.trusted[string(user)]; ok {
		return t
	}
	name := string(user)
	t := false
	for _, g := range e.opt.Trusted {
		if ok, _ := path.Match(g, name); ok {
			t = true
			break
		}
	}
	if len(e.trusted) < 10_000 {
		e.trusted[name] = t
	}
	return t
}

// Feed applies the rules to one line (without its newline) of a log in
// the given format (not Auto).
func (e *Engine) Feed(src Source, loc Location, line []byte) {
	e.lines++
	switch src {
	case K8s:
		e.feedK8s(loc, line)
	case Auth:
		e.feedAuth(loc, line)
	case Auditd:
		e.feedAuditd(loc, line)
	}
}

// End tells the engine that a file (or stdin) is finished: auditd events
// still being grouped are evaluated.
func (e *Engine) End() { e.flushAuditd() }

// BadLine counts a line the caller could not hand over (too long) as
// read and not understood.
func (e *Engine) BadLine(loc Location) {
	e.lines++
	e.badLine(loc)
}

func (e *Engine) badLine(loc Location) {
	if e.parseErrors == 0 {
		e.firstBad = loc
	}
	e.parseErrors++
}

// hit is one match of a rule on one log event.
type hit struct {
	rule                  string
	actor, source, object string
	message               string
	time                  time.Time
	loc                   Location
	attrs                 map[string]any
	user                  string // threshold rules: the account tried
	severity              finding.Severity
	threshold             bool
	escalated             bool // rated by what happened around it: re-rating leaves it
}

// emit counts a hit and folds it into its finding.
func (e *Engine) emit(h hit) {
	if e.disabled[h.rule] {
		return
	}
	if s, ok := e.opt.Severity[h.rule]; ok && !h.escalated {
		h.severity = s
	}
	e.events[h.rule]++
	key := h.rule + "\x00" + h.source
	if !h.threshold {
		key += "\x00" + h.actor + "\x00" + h.object
	}
	a := e.aggs[key]
	if a == nil {
		if len(e.aggs) >= e.opt.MaxFindings {
			e.dropped++
			return
		}
		a = &aggregate{first: h.time, seq: len(e.aggs), f: finding.Finding{
			Rule: h.rule, Severity: h.severity, Object: h.object, Location: h.loc.String(),
			Message: h.message, Actor: h.actor, Source: h.source, Time: h.time, Attrs: h.attrs,
		}}
		if h.threshold {
			a.users = map[string]int{}
		}
		e.aggs[key] = a
	}
	a.count++
	if h.severity > a.f.Severity {
		// The worst occurrence speaks for the finding.
		a.f.Severity, a.f.Message, a.f.Location, a.f.Attrs = h.severity, h.message, h.loc.String(), h.attrs
	}
	if h.time.After(a.f.Time) {
		a.f.Time = h.time
	}
	if !h.time.IsZero() && (a.first.IsZero() || h.time.Before(a.first)) {
		a.first = h.time
	}
	if a.users != nil && h.user != "" && (len(a.users) < 1000 || a.users[h.user] > 0) {
		a.users[h.user]++
	}
}

// Report is what a run found.
type Report struct {
	// Findings are the aggregated findings, most severe and most frequent
	// first.
	Findings []finding.Finding
	// Dropped findings were past Options.MaxFindings (their events are
	// counted in Events).
	Dropped int
	// Events counts the log events each rule matched.
	Events map[string]int
	// Lines read, and lines that could not be parsed, the first of which
	// is at FirstBad.
	Lines, ParseErrors int64
	FirstBad           Location
	// FailedLogins and DeniedRequests count failures in this run.
	FailedLogins, DeniedRequests int
	// TopSources are the addresses with the most failed logins.
	TopSources []SourceCount
}

// SourceCount is a source's failures in a run, and the most within one
// window (capped at the critical threshold).
type SourceCount struct {
	Source      string
	Total, Peak int
}

// Report returns the findings so far. top bounds TopSources.
func (e *Engine) Report(top int) Report {
	r := Report{Events: maps.Clone(e.events), Lines: e.lines, ParseErrors: e.parseErrors, FirstBad: e.firstBad, Dropped: e.dropped, DeniedRequests: e.deniedTotal}
	aggs := slices.SortedFunc(maps.Values(e.aggs), func(a, b *aggregate) int { return a.seq - b.seq })
	for _, a := range aggs {
		f := a.f
		f.Attrs = maps.Clone(f.Attrs)
		if a.count > 1 {
			f.Count = a.count
			if !a.first.IsZero() {
				setAttr(&f, "first_seen", a.first.UTC().Format(time.RFC3339Nano))
			}
		}
		if a.users != nil {
			e.rateFailures(&f, a)
		}
		r.Findings = append(r.Findings, f)
	}
	r.Findings = append(r.Findings, e.deniedBursts()...)
	r.Findings = append(r.Findings, e.sprays()...)
	if f, ok := e.policyLow(); ok {
		r.Findings = append(r.Findings, f)
	}
	// Most severe first, then most frequent, then in the order seen.
	slices.SortStableFunc(r.Findings, func(a, b finding.Finding) int {
		return cmp.Or(cmp.Compare(b.Severity, a.Severity), cmp.Compare(max(b.Count, 1), max(a.Count, 1)))
	})
	for src, s := range e.failed.keys {
		if s.total == 0 {
			continue
		}
		r.FailedLogins += s.total
		r.TopSources = append(r.TopSources, SourceCount{Source: src, Total: s.total, Peak: s.peak})
	}
	slices.SortFunc(r.TopSources, func(a, b SourceCount) int {
		return cmp.Or(cmp.Compare(b.Total, a.Total), strings.Compare(a.Source, b.Source))
	})
	r.TopSources = r.TopSources[:min(len(r.TopSources), top)]
	return r
}

// rate applies the default or configured severity of a finding's rule.
func (e *Engine) rate(f *finding.Finding) {
	if s, ok := e.opt.Severity[f.Rule]; ok {
		f.Severity = s
	}
}

// rateFailures rates a finding of a threshold rule by the failures of its
// source within the window, and names the accounts tried.
func (e *Engine) rateFailures(f *finding.Finding, a *aggregate) {
	peak, key := 0, f.Source
	if key == "" {
		key = "local" // auditd failures without an address
	}
	if s := e.failed.keys[key]; s != nil {
		peak = s.peak
	}
	switch {
	case peak >= e.opt.FailedCritical:
		f.Severity = finding.Critical
	case peak >= e.opt.FailedWarning:
		f.Severity = finding.Medium
	default:
		f.Severity = finding.Info
	}
	setAttr(f, "failures_in_window", peak)
	users := slices.Collect(maps.Keys(a.users))
	slices.SortFunc(users, func(x, y string) int { return cmp.Or(cmp.Compare(a.users[y], a.users[x]), strings.Compare(x, y)) })
	shown := users[:min(len(users), 5)]
	if len(users) > 0 {
		f.Actor = users[0]
		setAttr(f, "users", shown)
		setAttr(f, "distinct_users", len(users))
	}
	from := f.Source
	if from == "" {
		from = "this host"
	}
	accounts := strings.Join(shown, ", ")
	if len(users) > len(shown) {
		accounts += fmt.Sprintf(" and %d more", len(users)-len(shown))
	}
	f.Message = fmt.Sprintf("%d %s from %s (%s failed logins from it within %s); accounts: %s",
		a.count, failureLabels[f.Rule], from, e.failed.atLeast(peak), FormatSpan(e.opt.Window), accounts)
}

// failedLogin counts a failed login towards the windows of its address
// and of its account.
func (e *Engine) failedLogin(source, account string, t time.Time) {
	e.failed.add(source, t)
	if account == "" {
		return
	}
	e.byAccount.add(account, t)
	from := e.accountFrom[account]
	if from == nil {
		if len(e.accountFrom) >= maxStateKeys {
			return
		}
		from = map[string]int{}
		e.accountFrom[account] = from
	}
	if len(from) < 1000 || from[source] > 0 {
		from[source]++
	}
}

// sprays are the accounts that failed as often as the thresholds say
// from several addresses: password spraying that stays under the
// per-address thresholds. An account tried from one address is that
// address's finding already.
func (e *Engine) sprays() []finding.Finding {
	if e.disabled[SSHFailedLogin] {
		return nil
	}
	var out []finding.Finding
	for _, account := range slices.Sorted(maps.Keys(e.accountFrom)) {
		from, s := e.accountFrom[account], e.byAccount.keys[account]
		if len(from) < 2 || s == nil || s.total == 0 || s.peak < e.opt.FailedWarning {
			continue
		}
		sources := slices.Collect(maps.Keys(from))
		slices.SortFunc(sources, func(x, y string) int { return cmp.Or(cmp.Compare(from[y], from[x]), strings.Compare(x, y)) })
		shown := sources[:min(len(sources), 5)]
		f := finding.Finding{Rule: SSHFailedLogin, Severity: finding.Medium, Actor: account, Object: "account " + account,
			Count: s.total, Time: time.Unix(0, s.last).UTC(),
			Message: fmt.Sprintf("%d failed logins as %s from %d addresses (%s within %s): %s",
				s.total, account, len(sources), e.byAccount.atLeast(s.peak), FormatSpan(e.opt.Window), strings.Join(shown, ", ")),
			Attrs: map[string]any{"failures_in_window": s.peak, "sources": shown, "distinct_sources": len(sources)}}
		if s.peak >= e.opt.FailedCritical {
			f.Severity = finding.Critical
		}
		out = append(out, f)
	}
	return out
}

// failureLabels name what the threshold rules count.
var failureLabels = map[string]string{
	SSHFailedLogin:     "failed ssh logins",
	SSHInvalidUser:     "ssh logins as unknown users",
	SSHMaxAuthExceeded: "ssh connections over the authentication attempt limit",
	AuditdAuthFailure:  "failed authentications",
}

// FormatSpan writes a window as people do: "10m", not "10m0s".
func FormatSpan(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func setAttr(f *finding.Finding, k string, v any) {
	if f.Attrs == nil {
		f.Attrs = map[string]any{}
	}
	f.Attrs[k] = v
}

// State is what a run hands to the next: failures still inside the window
// and Kubernetes requests whose last stage is still to come.
type State struct {
	Failed   windowState `json:"failed,omitempty"`
	Accounts windowState `json:"failed_accounts,omitempty"`
	Denied   windowState `json:"denied,omitempty"`
	Pending  []string    `json:"pending_audit_ids,omitempty"`
}

// maxStateKeys bounds the carried state.
const maxStateKeys = 10_000

// State returns what to carry to the next run.
func (e *Engine) State() State {
	now := e.opt.Now()
	return State{Failed: e.failed.state(maxStateKeys, now), Accounts: e.byAccount.state(maxStateKeys, now),
		Denied: e.denied.state(maxStateKeys, now), Pending: e.k8s.pendingIDs()}
}

// Restore loads what the previous run carried.
func (e *Engine) Restore(st State) {
	e.failed.restore(st.Failed)
	e.byAccount.restore(st.Accounts)
	e.denied.restore(st.Denied)
	e.k8s.restorePending(st.Pending)
}
