// Package agentapi posts a check's findings as separate Sensu events to
// the agent's events API (POST /events on 127.0.0.1:3031 by default), so
// that each finding gets its own incident, history and resolution.
//
// Each open finding becomes one event with a stable name,
// PARENT-RULE-HASH, where HASH comes from the rule and the object, so the
// same problem updates the same Sensu event run after run. The events
// inherit the parent check's handlers, pipelines and interval (from the
// event Sensu passes on stdin with stdin: true). When a finding clears,
// its event is sent once more with status 0, which resolves it; the names
// that are open are kept in a small state file for that.
//
// The agent accepts 10 events/s by default (--events-rate-limit,
// --events-burst-limit 10) and queues the rest. Above MaxEvents open
// findings, the emitter aggregates: one event per rule, and above
// MaxEvents rules one event for the whole check, so that a flood of
// findings cannot flood the agent. Posts are paced at Rate per second.
package agentapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/state"
)

// DefaultURL is the agent's events API.
const DefaultURL = "http://127.0.0.1:3031/events"

// Defaults for Emitter.
const (
	DefaultMaxEvents = 10
	DefaultRate      = 10.0
)

// FindingsAnnotation carries a finding list (JSON) on an event, for the
// Elasticsearch handler and the report (finding.FromEvent reads it).
const FindingsAnnotation = finding.Annotation

// Emitter posts findings to the events API.
type Emitter struct {
	// URL is the events endpoint.
	URL string
	// Client sends the requests (pkg/httpx's retrying client).
	Client interface {
		Do(*http.Request) (*http.Response, error)
	}
	// StatePath keeps the names of the events that are open.
	StatePath string
	// MaxEvents is the most events sent individually per run.
	MaxEvents int
	// Rate is the most posts per second (the agent's default is 10).
	Rate float64
	// StatusOf maps a severity to a status.
	StatusOf func(finding.Severity) finding.Status
}

// Report says what Emit did.
type Report struct {
	// Sent counts events accepted by the agent, resolutions included.
	Sent int
	// Resolved counts resolution events accepted.
	Resolved int
	// Aggregated is true when findings were grouped.
	Aggregated bool
	// Failed counts events the agent did not accept.
	Failed int
}

type openState struct {
	// Open maps event name to the status last sent.
	Open map[string]int `json:"open"`
}

const stateKind, stateVersion = "agentapi-open-events", 1

// Emit posts the findings of one run. parent is the event Sensu passed on
// stdin (nil when there was none); name is the parent check's name.
func (e *Emitter) Emit(ctx context.Context, parent *corev2.Event, name string, findings []finding.Finding) (Report, error) {
	var rep Report
	var prev openState
	if err := state.Load(e.StatePath, stateKind, stateVersion, &prev); err != nil && !errors.Is(err, state.ErrNotExist) {
		return rep, err
	}
	events, aggregated := e.build(parent, name, findings)
	rep.Aggregated = aggregated
	current := map[string]bool{}
	for _, ev := range events {
		current[ev.Check.Name] = true
	}
	for _, old := range slices.Sorted(maps.Keys(prev.Open)) {
		if !current[old] {
			events = append(events, e.resolution(parent, name, old))
		}
	}
	next := openState{Open: map[string]int{}}
	pace := time.Duration(float64(time.Second) / e.rate())
	var errs []error
	for i, ev := range events {
		var err error
		if i >= burst {
			select {
			case <-ctx.Done():
				// Not sent: recorded below as failed, so the next run sends
				// it again (or its resolution).
				err = context.Cause(ctx)
			case <-time.After(pace):
			}
		}
		if err == nil {
			err = e.post(ctx, ev)
		}
		resolved := ev.Check.Status == 0 && !current[ev.Check.Name]
		switch {
		case err != nil:
			rep.Failed++
			if ctx.Err() == nil || !slices.ContainsFunc(errs, func(e error) bool { return errors.Is(e, context.Cause(ctx)) }) {
				errs = append(errs, err)
			}
			// Keep it open so that the next run sends it (or its
			// resolution) again.
			if resolved {
				next.Open[ev.Check.Name] = prev.Open[ev.Check.Name]
			} else if ev.Check.Status != 0 {
				next.Open[ev.Check.Name] = int(ev.Check.Status)
			}
		case resolved:
			rep.Sent++
			rep.Resolved++
		default:
			rep.Sent++
			if ev.Check.Status != 0 {
				next.Open[ev.Check.Name] = int(ev.Check.Status)
			}
		}
	}
	if err := state.Save(e.StatePath, stateKind, stateVersion, next); err != nil {
		errs = append(errs, err)
	}
	return rep, errors.Join(errs...)
}

// burst is how many posts go out before pacing starts (the agent's
// --events-burst-limit default).
const burst = 10

func (e *Emitter) rate() float64 {
	if e.Rate <= 0 {
		return DefaultRate
	}
	return e.Rate
}

func (e *Emitter) maxEvents() int {
	if e.MaxEvents <= 0 {
		return DefaultMaxEvents
	}
	return e.MaxEvents
}

// build turns findings into events: one per finding, or aggregated.
func (e *Emitter) build(parent *corev2.Event, name string, fs []finding.Finding) ([]*corev2.Event, bool) {
	groups := map[string][]finding.Finding{}
	for _, f := range fs {
		k := EventName(name, f.Rule, f.Object)
		groups[k] = append(groups[k], f)
	}
	if len(groups) <= e.maxEvents() {
		return e.events(parent, name, groups, func(fs []finding.Finding) string { return fs[0].Line() }), false
	}
	byRule := map[string][]finding.Finding{}
	for _, f := range fs {
		k := sanitize(name + "-" + f.Rule)
		byRule[k] = append(byRule[k], f)
	}
	summary := func(fs []finding.Finding) string {
		return fmt.Sprintf("%d %s findings, e.g. %s", len(fs), fs[0].Rule, fs[0].Line())
	}
	if len(byRule) <= e.maxEvents() {
		return e.events(parent, name, byRule, summary), true
	}
	all := map[string][]finding.Finding{sanitize(name + "-findings"): fs}
	return e.events(parent, name, all, func(fs []finding.Finding) string {
		return fmt.Sprintf("%d findings of %d rules", len(fs), len(byRule))
	}), true
}

func (e *Emitter) events(parent *corev2.Event, name string, groups map[string][]finding.Finding, output func([]finding.Finding) string) []*corev2.Event {
	out := make([]*corev2.Event, 0, len(groups))
	for _, k := range slices.Sorted(maps.Keys(groups)) {
		fs := groups[k]
		finding.SortBySeverity(fs)
		st := finding.StatusOK
		for _, f := range fs {
			st = finding.Worse(st, e.statusOf(f.Severity))
		}
		ev := e.event(parent, name, k, st, output(fs))
		const maxAnnotated = 50
		shown := fs[:min(len(fs), maxAnnotated)]
		if b, err := json.Marshal(shown); err == nil {
			ev.Check.Annotations[FindingsAnnotation] = string(b)
		}
		ev.Check.Labels["vigil.io/rule"] = sanitize(fs[0].Rule)
		out = append(out, ev)
	}
	return out
}

func (e *Emitter) statusOf(s finding.Severity) finding.Status {
	if e.StatusOf != nil {
		return e.StatusOf(s)
	}
	return finding.DefaultStatusMap().Status(s)
}

func (e *Emitter) resolution(parent *corev2.Event, name, eventName string) *corev2.Event {
	return e.event(parent, name, eventName, finding.StatusOK, "resolved: the finding is no longer present")
}

// event builds one event the agent accepts: a check with a name, status,
// output and the parent's routing; the agent fills entity, namespace,
// timestamps and id.
func (e *Emitter) event(parent *corev2.Event, parentName, name string, st finding.Status, output string) *corev2.Event {
	check := &corev2.Check{
		ObjectMeta: corev2.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{"vigil.io/parent-check": sanitize(parentName)},
			Annotations: map[string]string{},
		},
		Status: uint32(st), //nolint:gosec // 0..3
		Output: output,
	}
	ev := &corev2.Event{Check: check}
	if parent != nil && parent.Check != nil {
		pc := parent.Check
		check.Namespace = pc.Namespace
		check.Handlers = pc.Handlers
		check.Pipelines = pc.Pipelines
		check.Interval = pc.Interval
		check.Subscriptions = pc.Subscriptions
		check.ProxyEntityName = pc.ProxyEntityName
		if parent.Entity != nil && parent.Entity.EntityClass == corev2.EntityProxyClass {
			ev.Entity = &corev2.Entity{ObjectMeta: corev2.ObjectMeta{Name: parent.Entity.Name, Namespace: parent.Entity.Namespace}, EntityClass: corev2.EntityProxyClass}
		}
	}
	return ev
}

func (e *Emitter) post(ctx context.Context, ev *corev2.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", ev.Check.Name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("events API request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post event %s: %w", ev.Check.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post event %s: agent answered %s: %s", ev.Check.Name, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// EventName is the stable event name for a finding: the parent check's
// name, the rule and a hash of rule and object, within Sensu's name rules.
func EventName(parent, rule, object string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + object))
	return sanitize(parent + "-" + rule + "-" + hex.EncodeToString(h[:5]))
}

var nameUnsafe = regexp.MustCompile(`[^\w.\-]+`)

// sanitize keeps a name within Sensu's name rules (\A[\w\.\-\:]+\z).
func sanitize(s string) string {
	s = nameUnsafe.ReplaceAllString(s, "_")
	if s == "" {
		return "vigil"
	}
	return s
}
