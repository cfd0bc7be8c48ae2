package agentapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/agentapi"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// post is one request the agent received, as the emitter sent it.
type post struct {
	Method, Path, ContentType string
	Event                     corev2.Event
}

// agent is an httptest server in front of sensuexec's emulation of the
// agent events API, which completes and validates events as sensu-agent
// does. It records every request and can refuse them.
type agent struct {
	api *sensuexec.EventsAPI
	srv *httptest.Server

	mu    sync.Mutex
	posts []post
	// refuse decides, from the request's index, whether to answer 500.
	refuse func(i int) bool
}

func newAgent(t *testing.T) *agent {
	t.Helper()
	a := &agent{api: &sensuexec.EventsAPI{Agent: &sensuexec.Agent{Now: func() time.Time { return now }}}}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p := post{Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type")}
		_ = json.Unmarshal(body, &p.Event)
		a.mu.Lock()
		i := len(a.posts)
		a.posts = append(a.posts, p)
		refuse := a.refuse != nil && a.refuse(i)
		a.mu.Unlock()
		if refuse {
			http.Error(w, "agent is shutting down", http.StatusInternalServerError)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		a.api.ServeHTTP(w, r)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *agent) url() string { return a.srv.URL + "/events" }

// setRefuse changes which requests fail from now on.
func (a *agent) setRefuse(f func(i int) bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refuse = f
}

// takePosts returns and forgets the requests received so far.
func (a *agent) takePosts() []post {
	a.mu.Lock()
	defer a.mu.Unlock()
	p := a.posts
	a.posts = nil
	return p
}

func emitter(t *testing.T, url string) *agentapi.Emitter {
	t.Helper()
	return &agentapi.Emitter{
		URL:       url,
		Client:    &http.Client{Timeout: 5 * time.Second},
		StatePath: filepath.Join(t.TempDir(), "events", "open.json"),
		Rate:      1000,
	}
}

func parentEvent() *corev2.Event {
	return &corev2.Event{
		ObjectMeta: corev2.ObjectMeta{Namespace: "default"},
		Entity:     sensuexec.DefaultEntity(),
		Check: &corev2.Check{
			ObjectMeta:    corev2.ObjectMeta{Name: "check-fim", Namespace: "default"},
			Handlers:      []string{"elasticsearch", "pagerduty"},
			Pipelines:     []*corev2.ResourceReference{{Name: "security", Type: "Pipeline", APIVersion: "core/v2"}},
			Interval:      300,
			Subscriptions: []string{"linux"},
			Status:        2,
		},
	}
}

var (
	modified = finding.Finding{Rule: "fim.modified", Severity: finding.High, Object: "/etc/passwd", Message: "content changed", Kind: "modified", Changed: []string{"sha256", "size"}}
	added    = finding.Finding{Rule: "fim.added", Severity: finding.Medium, Object: "/usr/local/bin/nc", Message: "new file"}
	removed  = finding.Finding{Rule: "fim.removed", Severity: finding.Low, Object: "/var/log/old.log", Message: "file removed"}
	noted    = finding.Finding{Rule: "fim.touched", Severity: finding.Info, Object: "/etc/hosts", Message: "mtime changed"}
)

func emit(t *testing.T, e *agentapi.Emitter, parent *corev2.Event, name string, fs ...finding.Finding) agentapi.Report {
	t.Helper()
	rep, err := e.Emit(t.Context(), parent, name, fs)
	require.NoError(t, err)
	return rep
}

// byName indexes events by check name, failing on duplicates.
func byName(t *testing.T, evs []*corev2.Event) map[string]*corev2.Event {
	t.Helper()
	m := map[string]*corev2.Event{}
	for _, ev := range evs {
		_, dup := m[ev.Check.Name]
		require.False(t, dup, "event %s sent twice", ev.Check.Name)
		m[ev.Check.Name] = ev
	}
	return m
}

// sentNames returns the check name and status of each post, in order.
func sentNames(ps []post) map[string]uint32 {
	m := map[string]uint32{}
	for _, p := range ps {
		m[p.Event.Check.Name] = p.Event.Check.Status
	}
	return m
}

func annotated(t *testing.T, ev *corev2.Event) []finding.Finding {
	t.Helper()
	raw, ok := ev.Check.Annotations[agentapi.FindingsAnnotation]
	require.True(t, ok, "event %s has no %s annotation", ev.Check.Name, agentapi.FindingsAnnotation)
	var fs []finding.Finding
	require.NoError(t, json.Unmarshal([]byte(raw), &fs))
	return fs
}

func TestEmitPostsOneValidEventPerFinding(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	rep := emit(t, e, parentEvent(), "check-fim", modified, added, removed)
	require.Equal(t, agentapi.Report{Sent: 3}, rep)

	posts := a.takePosts()
	require.Len(t, posts, 3)
	for _, p := range posts {
		require.Equal(t, http.MethodPost, p.Method)
		require.Equal(t, "/events", p.Path)
		require.Equal(t, "application/json", p.ContentType)
		require.Nil(t, p.Event.Entity, "the agent fills in its own entity")
	}

	// The agent accepted all three: they passed its validation.
	accepted := byName(t, a.api.Events())
	require.Len(t, accepted, 3)
	for _, tc := range []struct {
		f      finding.Finding
		status uint32
		output string
	}{
		{f: modified, status: 2, output: "[high] fim.modified /etc/passwd: content changed"},
		{f: added, status: 1, output: "[medium] fim.added /usr/local/bin/nc: new file"},
		{f: removed, status: 1, output: "[low] fim.removed /var/log/old.log: file removed"},
	} {
		name := agentapi.EventName("check-fim", tc.f.Rule, tc.f.Object)
		ev, ok := accepted[name]
		require.True(t, ok, "no event %s", name)
		require.NoError(t, ev.Validate())
		c := ev.Check
		require.Equal(t, tc.status, c.Status, name)
		require.Equal(t, tc.output, c.Output)
		require.Equal(t, []string{"elasticsearch", "pagerduty"}, c.Handlers, "handlers come from the parent")
		require.Equal(t, []*corev2.ResourceReference{{Name: "security", Type: "Pipeline", APIVersion: "core/v2"}}, c.Pipelines)
		require.Equal(t, uint32(300), c.Interval, "the interval comes from the parent")
		require.Equal(t, []string{"linux"}, c.Subscriptions)
		require.Equal(t, "default", c.Namespace)
		require.Equal(t, "check-fim", c.Labels["vigil.io/parent-check"])
		require.Equal(t, tc.f.Rule, c.Labels["vigil.io/rule"])
		require.Equal(t, []finding.Finding{tc.f}, annotated(t, ev), "the annotation holds the finding")
		require.Equal(t, sensuexec.DefaultEntity().Name, ev.Entity.Name)
		require.Equal(t, corev2.EntityAgentClass, ev.Entity.EntityClass)
	}
}

func TestEventName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		parent, rule, object string
		// prefix is what the name starts with, before the hash.
		prefix string
	}{
		{name: "a plain finding", parent: "check-fim", rule: "fim.modified", object: "/etc/passwd", prefix: "check-fim-fim.modified-"},
		{name: "spaces and slashes in the parent are replaced", parent: "my check/v2", rule: "pii.email", object: "x", prefix: "my_check_v2-pii.email-"},
		{name: "unicode is replaced", parent: "prüfung", rule: "k8s.pod_exec", object: "pod/naïve", prefix: "pr_fung-k8s.pod_exec-"},
		{name: "an empty parent and object still give a name", parent: "", rule: "drift", object: "", prefix: "-drift-"},
		{name: "a colon is replaced too", parent: "a:b", rule: "r", object: "o", prefix: "a_b-r-"},
	}
	hash := regexp.MustCompile(`^[0-9a-f]{10}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := agentapi.EventName(tt.parent, tt.rule, tt.object)
			require.NoError(t, corev2.ValidateName(got), "Sensu accepts %q", got)
			require.Equal(t, got, agentapi.EventName(tt.parent, tt.rule, tt.object), "the name is stable")
			require.Len(t, got, len(tt.prefix)+10)
			require.Equal(t, tt.prefix, got[:len(tt.prefix)])
			require.Regexp(t, hash, got[len(tt.prefix):])
		})
	}

	t.Run("the hash tells objects and rules apart", func(t *testing.T) {
		t.Parallel()
		a := agentapi.EventName("c", "fim.modified", "/etc/passwd")
		require.NotEqual(t, a, agentapi.EventName("c", "fim.modified", "/etc/shadow"))
		require.NotEqual(t, a[len(a)-10:], agentapi.EventName("c", "fim.added", "/etc/passwd")[len(a)-10:])
		// Objects that sanitise alike still get their own events.
		require.NotEqual(t, agentapi.EventName("c", "r", "a b"), agentapi.EventName("c", "r", "a_b"))
	})
	t.Run("the hash does not depend on the parent", func(t *testing.T) {
		t.Parallel()
		a := agentapi.EventName("one", "r", "o")
		b := agentapi.EventName("two", "r", "o")
		require.Equal(t, a[len(a)-10:], b[len(b)-10:])
	})
}

func TestStatusesFollowTheSeverityMap(t *testing.T) {
	t.Parallel()
	quiet := finding.StatusMap{finding.Critical: 1, finding.High: 1, finding.Medium: 0, finding.Low: 0, finding.Info: 0}
	tests := []struct {
		name     string
		statusOf func(finding.Severity) finding.Status
		want     map[finding.Severity]uint32
	}{
		{
			name:     "the default map when none is set",
			statusOf: nil,
			want:     map[finding.Severity]uint32{finding.Critical: 2, finding.High: 2, finding.Medium: 1, finding.Low: 1, finding.Info: 0},
		},
		{
			name:     "an operator's map",
			statusOf: quiet.Status,
			want:     map[finding.Severity]uint32{finding.Critical: 1, finding.High: 1, finding.Medium: 0, finding.Low: 0, finding.Info: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAgent(t)
			e := emitter(t, a.url())
			e.StatusOf = tt.statusOf
			var fs []finding.Finding
			for _, sev := range finding.Severities() {
				fs = append(fs, finding.Finding{Rule: "test." + sev.String(), Severity: sev, Object: "obj"})
			}
			rep := emit(t, e, parentEvent(), "check-x", fs...)
			require.Equal(t, 5, rep.Sent)
			got := map[finding.Severity]uint32{}
			for _, ev := range a.api.Events() {
				sev, err := finding.ParseSeverity(ev.Check.Labels["vigil.io/rule"][len("test."):])
				require.NoError(t, err)
				got[sev] = ev.Check.Status
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFindingsAboutTheSameObjectShareAnEvent(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	again := modified
	again.Severity = finding.Critical
	again.Message = "owner changed"
	rep := emit(t, e, parentEvent(), "check-fim", modified, again)
	require.Equal(t, agentapi.Report{Sent: 1}, rep)
	evs := a.api.Events()
	require.Len(t, evs, 1)
	require.Equal(t, uint32(2), evs[0].Check.Status)
	require.Equal(t, "[critical] fim.modified /etc/passwd: owner changed", evs[0].Check.Output, "the most severe finding speaks")
	require.Equal(t, []finding.Finding{again, modified}, annotated(t, evs[0]))
}

func TestAClearedFindingIsResolvedExactlyOnce(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	parent := parentEvent()
	nameMod := agentapi.EventName("check-fim", modified.Rule, modified.Object)
	nameAdd := agentapi.EventName("check-fim", added.Rule, added.Object)

	emit(t, e, parent, "check-fim", modified, added)
	a.takePosts()

	// added is gone: it is resolved, modified is sent again.
	rep := emit(t, e, parent, "check-fim", modified)
	require.Equal(t, agentapi.Report{Sent: 2, Resolved: 1}, rep)
	posts := a.takePosts()
	require.Equal(t, map[string]uint32{nameMod: 2, nameAdd: 0}, sentNames(posts))
	for _, p := range posts {
		if p.Event.Check.Name != nameAdd {
			continue
		}
		c := p.Event.Check
		require.Contains(t, c.Output, "resolved")
		require.Equal(t, []string{"elasticsearch", "pagerduty"}, c.Handlers, "the resolution goes where the incident went")
		require.Equal(t, uint32(300), c.Interval)
		require.Equal(t, "check-fim", c.Labels["vigil.io/parent-check"])
	}

	// The third run sends nothing more for added.
	rep = emit(t, e, parent, "check-fim", modified)
	require.Equal(t, agentapi.Report{Sent: 1}, rep)
	require.Equal(t, map[string]uint32{nameMod: 2}, sentNames(a.takePosts()))

	// No findings at all resolves the rest, once.
	rep = emit(t, e, parent, "check-fim")
	require.Equal(t, agentapi.Report{Sent: 1, Resolved: 1}, rep)
	require.Equal(t, map[string]uint32{nameMod: 0}, sentNames(a.takePosts()))
	rep = emit(t, e, parent, "check-fim")
	require.Equal(t, agentapi.Report{}, rep)
	require.Empty(t, a.takePosts())

	// Every resolution was accepted by the agent.
	resolutions := 0
	for _, ev := range a.api.Events() {
		require.NoError(t, ev.Validate())
		if ev.Check.Status == 0 {
			resolutions++
		}
	}
	require.Equal(t, 2, resolutions)
}

func TestAnOKFindingIsNotKeptOpen(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	rep := emit(t, e, parentEvent(), "check-fim", noted)
	require.Equal(t, agentapi.Report{Sent: 1}, rep, "an info finding is still reported, with status 0")
	require.Equal(t, map[string]uint32{agentapi.EventName("check-fim", noted.Rule, noted.Object): 0}, sentNames(a.takePosts()))

	rep = emit(t, e, parentEvent(), "check-fim")
	require.Equal(t, agentapi.Report{}, rep, "nothing to resolve")
	require.Empty(t, a.takePosts())
}

func TestAManyFindingsAreAggregatedPerRule(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	e.MaxEvents = 3
	var fs []finding.Finding
	for _, o := range []string{"e", "d", "c", "b", "a"} {
		fs = append(fs, finding.Finding{Rule: "pii.email", Severity: finding.Medium, Object: "log/" + o, Message: "an address"})
	}
	fs = append(fs,
		finding.Finding{Rule: "pii.ssn", Severity: finding.High, Object: "log/x", Message: "a number"},
		finding.Finding{Rule: "pii.ssn", Severity: finding.Critical, Object: "log/y", Message: "a number"},
	)
	rep := emit(t, e, parentEvent(), "check-pii", fs...)
	require.Equal(t, agentapi.Report{Sent: 2, Aggregated: true}, rep)

	accepted := byName(t, a.api.Events())
	require.Len(t, accepted, 2)
	email := accepted["check-pii-pii.email"]
	require.NotNil(t, email)
	require.Equal(t, uint32(1), email.Check.Status)
	require.Equal(t, "5 pii.email findings, e.g. [medium] pii.email log/a: an address", email.Check.Output)
	require.Equal(t, "pii.email", email.Check.Labels["vigil.io/rule"])
	require.Len(t, annotated(t, email), 5)

	ssn := accepted["check-pii-pii.ssn"]
	require.NotNil(t, ssn)
	require.Equal(t, uint32(2), ssn.Check.Status, "the worst finding of the rule")
	require.Equal(t, "2 pii.ssn findings, e.g. [critical] pii.ssn log/y: a number", ssn.Check.Output)
	require.Len(t, annotated(t, ssn), 2)
	for _, ev := range accepted {
		require.Equal(t, []string{"elasticsearch", "pagerduty"}, ev.Check.Handlers)
	}
}

func TestManyRulesAreAggregatedIntoOneEvent(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	e.MaxEvents = 2
	var fs []finding.Finding
	for _, r := range []string{"audit.a", "audit.b", "audit.c"} {
		sev := finding.Low
		if r == "audit.b" {
			sev = finding.Critical
		}
		for _, o := range []string{"x", "y"} {
			fs = append(fs, finding.Finding{Rule: r, Severity: sev, Object: o})
		}
	}
	rep := emit(t, e, parentEvent(), "check-audit", fs...)
	require.Equal(t, agentapi.Report{Sent: 1, Aggregated: true}, rep)
	evs := a.api.Events()
	require.Len(t, evs, 1)
	c := evs[0].Check
	require.Equal(t, "check-audit-findings", c.Name)
	require.Equal(t, "6 findings of 3 rules", c.Output)
	require.Equal(t, uint32(2), c.Status)
	require.Equal(t, "audit.b", c.Labels["vigil.io/rule"], "the most severe rule")
	require.Len(t, annotated(t, evs[0]), 6)
}

func TestTheAnnotationIsBounded(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	e.MaxEvents = 1
	var fs []finding.Finding
	for i := range 120 {
		sev := finding.Low
		if i == 119 {
			sev = finding.Critical
		}
		fs = append(fs, finding.Finding{Rule: "pii.email", Severity: sev, Object: fmt.Sprintf("line %03d", i)})
	}
	emit(t, e, parentEvent(), "check-pii", fs...)
	evs := a.api.Events()
	require.Len(t, evs, 1)
	require.Equal(t, "120 pii.email findings, e.g. [critical] pii.email line 119", evs[0].Check.Output)
	shown := annotated(t, evs[0])
	require.Len(t, shown, 50)
	require.Equal(t, "line 119", shown[0].Object, "the most severe findings are the ones shown")
}

func TestAggregatedEventsResolveWhenTheFloodEnds(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	e.MaxEvents = 2
	var fs []finding.Finding
	for _, o := range []string{"a", "b", "c"} {
		fs = append(fs, finding.Finding{Rule: "pii.email", Severity: finding.Medium, Object: o})
	}
	emit(t, e, parentEvent(), "check-pii", fs...)
	require.Equal(t, map[string]uint32{"check-pii-pii.email": 1}, sentNames(a.takePosts()))

	rep := emit(t, e, parentEvent(), "check-pii", fs[0])
	require.Equal(t, agentapi.Report{Sent: 2, Resolved: 1}, rep)
	require.Equal(t, map[string]uint32{
		agentapi.EventName("check-pii", "pii.email", "a"): 1,
		"check-pii-pii.email":                             0,
	}, sentNames(a.takePosts()))
}

func TestFailedPostsStayOpenUntilDelivered(t *testing.T) {
	t.Parallel()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL + "/events"
	down.Close()
	tests := []struct {
		name string
		// fail makes the agent fail and returns the URL to post to.
		fail    func(a *agent) string
		wantErr string
	}{
		{
			name:    "an agent answering 500",
			fail:    func(a *agent) string { a.setRefuse(func(int) bool { return true }); return a.url() },
			wantErr: "agent answered 500",
		},
		{
			name:    "an agent that is down",
			fail:    func(*agent) string { return downURL },
			wantErr: "post event",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := newAgent(t)
			e := emitter(t, a.url())
			parent := parentEvent()
			nameMod := agentapi.EventName("check-fim", modified.Rule, modified.Object)
			nameAdd := agentapi.EventName("check-fim", added.Rule, added.Object)

			e.URL = tt.fail(a)
			rep, err := e.Emit(t.Context(), parent, "check-fim", []finding.Finding{modified, added})
			require.ErrorContains(t, err, tt.wantErr)
			require.ErrorContains(t, err, nameMod, "the error names the event")
			require.Equal(t, agentapi.Report{Failed: 2}, rep)
			require.Empty(t, a.api.Events())

			// The agent is back and the findings are gone: both were
			// kept open, so both are resolved.
			a.setRefuse(nil)
			e.URL = a.url()
			a.takePosts()
			rep = emit(t, e, parent, "check-fim")
			require.Equal(t, agentapi.Report{Sent: 2, Resolved: 2}, rep)
			require.Equal(t, map[string]uint32{nameMod: 0, nameAdd: 0}, sentNames(a.takePosts()))

			rep = emit(t, e, parent, "check-fim")
			require.Equal(t, agentapi.Report{}, rep)
		})
	}
}

func TestAFailedPostIsSentAgainNextRun(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	a.setRefuse(func(i int) bool { return i == 1 })
	rep, err := e.Emit(t.Context(), parentEvent(), "check-fim", []finding.Finding{modified, added})
	require.ErrorContains(t, err, "agent answered 500")
	require.Equal(t, agentapi.Report{Sent: 1, Failed: 1}, rep, "one accepted, one refused")
	require.Len(t, a.api.Events(), 1)

	a.setRefuse(nil)
	rep = emit(t, e, parentEvent(), "check-fim", modified, added)
	require.Equal(t, agentapi.Report{Sent: 2}, rep)
	require.Len(t, a.api.Events(), 3)
}

func TestAFailedResolutionIsRetried(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	name := agentapi.EventName("check-fim", modified.Rule, modified.Object)
	emit(t, e, parentEvent(), "check-fim", modified)
	a.takePosts()

	a.setRefuse(func(int) bool { return true })
	rep, err := e.Emit(t.Context(), parentEvent(), "check-fim", nil)
	require.ErrorContains(t, err, "agent answered 500")
	require.Equal(t, agentapi.Report{Failed: 1}, rep)
	a.takePosts()

	a.setRefuse(nil)
	rep = emit(t, e, parentEvent(), "check-fim")
	require.Equal(t, agentapi.Report{Sent: 1, Resolved: 1}, rep)
	require.Equal(t, map[string]uint32{name: 0}, sentNames(a.takePosts()))

	rep = emit(t, e, parentEvent(), "check-fim")
	require.Equal(t, agentapi.Report{}, rep, "resolved once only")
}

func TestAProxyEntityParentKeepsItsEntity(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	parent := parentEvent()
	parent.Entity = &corev2.Entity{
		ObjectMeta:  corev2.ObjectMeta{Name: "router-1", Namespace: "default", Labels: map[string]string{"site": "lab"}},
		EntityClass: corev2.EntityProxyClass,
	}
	parent.Check.ProxyEntityName = "router-1"
	emit(t, e, parent, "check-config-drift", modified)

	posts := a.takePosts()
	require.Len(t, posts, 1)
	require.NotNil(t, posts[0].Event.Entity)
	require.Equal(t, "router-1", posts[0].Event.Entity.Name)

	evs := a.api.Events()
	require.Len(t, evs, 1)
	require.NoError(t, evs[0].Validate())
	require.Equal(t, "router-1", evs[0].Entity.Name)
	require.Equal(t, corev2.EntityProxyClass, evs[0].Entity.EntityClass)
	require.Equal(t, "default", evs[0].Entity.Namespace)
	require.Equal(t, "router-1", evs[0].Check.ProxyEntityName)

	// The resolution goes to the same entity.
	emit(t, e, parent, "check-config-drift")
	evs = a.api.Events()
	require.Len(t, evs, 2)
	require.Equal(t, uint32(0), evs[1].Check.Status)
	require.Equal(t, "router-1", evs[1].Entity.Name)
}

func TestWithoutAParentTheAgentFillsTheGaps(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	rep := emit(t, e, nil, "check fim", modified)
	require.Equal(t, agentapi.Report{Sent: 1}, rep)
	evs := a.api.Events()
	require.Len(t, evs, 1)
	c := evs[0].Check
	require.Equal(t, agentapi.EventName("check fim", modified.Rule, modified.Object), c.Name)
	require.Equal(t, "check_fim", c.Labels["vigil.io/parent-check"], "the label is sanitised like the name")
	require.Empty(t, c.Handlers)
	require.Equal(t, "default", c.Namespace)
	require.Equal(t, sensuexec.DefaultEntity().Name, evs[0].Entity.Name)
}

func TestTheStateFile(t *testing.T) {
	t.Parallel()
	t.Run("it is private and names the open events", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		emit(t, e, parentEvent(), "check-fim", modified, noted)
		fi, err := os.Stat(e.StatePath)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
		fi, err = os.Stat(filepath.Dir(e.StatePath))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
		b, err := os.ReadFile(e.StatePath)
		require.NoError(t, err)
		require.Contains(t, string(b), agentapi.EventName("check-fim", modified.Rule, modified.Object))
		require.NotContains(t, string(b), agentapi.EventName("check-fim", noted.Rule, noted.Object), "an OK event is not open")
		require.NotContains(t, string(b), "/etc/passwd", "no finding detail is kept")
	})
	t.Run("a damaged one stops the run before anything is sent", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		require.NoError(t, os.MkdirAll(filepath.Dir(e.StatePath), 0o700))
		require.NoError(t, os.WriteFile(e.StatePath, []byte(`{"kind":`), 0o600))
		_, err := e.Emit(t.Context(), parentEvent(), "check-fim", []finding.Finding{modified})
		require.ErrorContains(t, err, e.StatePath)
		require.Empty(t, a.takePosts())
	})
	t.Run("another program's state is refused", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		require.NoError(t, os.MkdirAll(filepath.Dir(e.StatePath), 0o700))
		require.NoError(t, os.WriteFile(e.StatePath, []byte(`{"kind":"fim-baseline","version":1,"data":{}}`), 0o600))
		_, err := e.Emit(t.Context(), parentEvent(), "check-fim", []finding.Finding{modified})
		require.ErrorContains(t, err, "fim-baseline")
		require.Empty(t, a.takePosts())
	})
}

func TestPostsArePacedAfterTheBurst(t *testing.T) {
	t.Parallel()
	findings := func(n int) []finding.Finding {
		var fs []finding.Finding
		for i := range n {
			fs = append(fs, finding.Finding{Rule: "fim.added", Severity: finding.Medium, Object: fmt.Sprintf("/tmp/%02d", i)})
		}
		return fs
	}
	t.Run("a burst of ten goes out at once", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		e.MaxEvents, e.Rate = 20, 0.2
		start := time.Now()
		rep := emit(t, e, parentEvent(), "check-fim", findings(10)...)
		require.Equal(t, 10, rep.Sent)
		require.Less(t, time.Since(start), 4*time.Second, "no post waited the 5 s pacing interval")
	})
	t.Run("posts after the burst wait their turn", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		e.MaxEvents, e.Rate = 20, 20
		start := time.Now()
		rep := emit(t, e, parentEvent(), "check-fim", findings(13)...)
		require.Equal(t, 13, rep.Sent)
		require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond, "three posts at 20/s")
	})
	t.Run("no rate means the agent's default of 10 per second", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		e.MaxEvents, e.Rate = 20, 0
		start := time.Now()
		rep := emit(t, e, parentEvent(), "check-fim", findings(12)...)
		require.Equal(t, 12, rep.Sent)
		require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond, "two posts at 10/s")
	})
	t.Run("a context that ends stops the pacing", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		e := emitter(t, a.url())
		e.MaxEvents, e.Rate = 20, 0.1
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		rep, err := e.Emit(ctx, parentEvent(), "check-fim", findings(12))
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, 10, rep.Sent)
		require.Less(t, time.Since(start), 5*time.Second)
	})
}

func TestEventsPostedBeforeACancelAreStillResolved(t *testing.T) {
	t.Parallel()
	a := newAgent(t)
	e := emitter(t, a.url())
	e.Rate = 0.1 // ten in the burst, then one every ten seconds
	var many []finding.Finding
	for i := range 12 {
		many = append(many, finding.Finding{Rule: "fim.added", Severity: finding.High, Object: fmt.Sprintf("/bin/x%02d", i)})
	}
	e.MaxEvents = 20
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	rep, err := e.Emit(ctx, parentEvent(), "check-fim", many)
	require.Error(t, err)
	require.Equal(t, 10, rep.Sent)
	require.Equal(t, 2, rep.Failed)
	require.Len(t, a.takePosts(), 10)

	e.Rate = 1000
	rep = emit(t, e, parentEvent(), "check-fim")
	require.Equal(t, 12, rep.Resolved, "the ten posted and the two never sent are all closed")
}
