package main

// The peer here is simulated: PagerDuty is a SaaS. internal/pdtest holds
// every request to the Events API v2 contract and records what it
// accepted.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/internal/pdtest"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

const (
	defaultKey  = "defaultkey0123456789abcdefghijkl" // 32 characters, as PagerDuty's
	paymentsKey = "paymentskey0123456789abcdefghijk"
)

func pagerDuty(t *testing.T) (*pdtest.Server, *httptest.Server) {
	t.Helper()
	pd := &pdtest.Server{}
	srv := httptest.NewServer(pd)
	t.Cleanup(srv.Close)
	return pd, srv
}

func event(status uint32) *corev2.Event {
	ev := testutil.Event()
	ev.Check.Status = status
	return ev
}

func keyEnv() []string {
	return []string{"PAGERDUTY_ROUTING_KEY=" + defaultKey, "PAGERDUTY_ROUTING_KEY_PAYMENTS=" + paymentsKey}
}

func TestTriggersThenResolvesOneIncident(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	pd, srv := pagerDuty(t)
	cmd := "handler-pagerduty --no-spool --sensu-url https://sensu.example.com --url " + srv.URL
	for _, st := range []uint32{2, 0} {
		resp := h.Handle(cmd, event(st), keyEnv()...)
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Empty(t, resp.Output, "a handler is silent on success")
	}
	got := pd.Accepted()
	require.Len(t, got, 2)
	require.Equal(t, "trigger", got[0].Action)
	require.Equal(t, "resolve", got[1].Action)
	require.Equal(t, got[0].DedupKey, got[1].DedupKey, "the resolve closes the incident the trigger opened")
	require.Equal(t, defaultKey, got[0].RoutingKey)
	p := got[0].Payload
	require.Equal(t, "critical", p.Severity)
	require.Equal(t, "web-1/check-x: check-x CRITICAL - something happened", p.Summary)
	ts, err := time.Parse(time.RFC3339, p.Timestamp)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now(), ts, time.Minute, "the event's time in seconds, not 1970")
	require.Equal(t, "https://sensu.example.com/c/~/n/default/events/web-1/check-x", got[0].ClientURL)
	require.Equal(t, "Vigil", got[0].Client)
}

func TestRoutesToATeamsKeyOnlyWhenTheCheckNamesAnAllowedTeam(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	pd, srv := pagerDuty(t)
	cmd := "handler-pagerduty --no-spool --teams payments,platform,ops --url " + srv.URL
	team := func(checkTeam, entityTeam string) *corev2.Event {
		ev := event(2)
		ev.Check.Labels = map[string]string{}
		if checkTeam != "" {
			ev.Check.Labels["vigil.io/pagerduty-team"] = checkTeam
		}
		if entityTeam != "" {
			ev.Entity.Labels = map[string]string{"vigil.io/pagerduty-team": entityTeam}
		}
		return ev
	}
	for _, ev := range []*corev2.Event{
		team("payments", ""),  // allowed, key set
		team("intruders", ""), // not on the allow-list
		team("", "payments"),  // an entity label: the host's own say
		team("platform", ""),  // allowed, no key set
		team("ops", ""),       // allowed, a key of the wrong length
	} {
		resp := h.Handle(cmd, ev, append(keyEnv(), "PAGERDUTY_ROUTING_KEY_OPS=short-ops-key")...)
		require.Equal(t, 0, resp.Status, resp.Output)
		testutil.RequireNoSecret(t, resp.Output, defaultKey, paymentsKey)
	}
	var keys []string
	for _, e := range pd.Accepted() {
		keys = append(keys, e.RoutingKey)
	}
	require.Equal(t, []string{paymentsKey, defaultKey, defaultKey, defaultKey, defaultKey}, keys)
}

func TestWaitsWhenPagerDutyThrottles(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	pd, srv := pagerDuty(t)
	pd.Throttle(1, 1)
	start := time.Now()
	resp := h.Handle("handler-pagerduty --no-spool --url "+srv.URL, event(2), keyEnv()...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "Retry-After: 1 was honoured")
	require.Equal(t, 2, pd.Requests())
	require.Len(t, pd.Accepted(), 1)
}

func TestKeepsEventsWhilePagerDutyIsUnreachableAndSendsThemInOrder(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	spool := t.TempDir()
	pd, srv := pagerDuty(t)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, `{"status":"unavailable","message":"try later, key %s"}`, defaultKey)
	}))
	t.Cleanup(down.Close)
	for _, st := range []uint32{2, 0} {
		resp := h.Handle("handler-pagerduty --retries 0 --spool-dir "+testutil.Shell(spool)+" --url "+down.URL, event(st), keyEnv()...)
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Contains(t, resp.Output, "kept in the spool")
		require.Contains(t, resp.Output, "HTTP 503")
		testutil.RequireNoSecret(t, resp.Output, defaultKey)
	}
	require.Equal(t, 2, testutil.Spooled(t, spool))
	require.NotContains(t, readSpool(t, spool), defaultKey, "keys are not written to the spool")

	resp := h.Handle("handler-pagerduty --spool-dir "+testutil.Shell(spool)+" --url "+srv.URL, event(1), keyEnv()...)
	require.Equal(t, 0, resp.Status, resp.Output)
	var actions []string
	for _, e := range pd.Accepted() {
		actions = append(actions, e.Action)
	}
	require.Equal(t, []string{"trigger", "resolve", "trigger"}, actions, "in the order they happened")
	require.Zero(t, testutil.Spooled(t, spool))
}

func readSpool(t *testing.T, dir string) string {
	t.Helper()
	resp := testutil.New(t).Exec("cat "+testutil.Shell(dir+"/spool.log"), "")
	return resp.Output
}

// pdError answers as PagerDuty does to an invalid event.
func pdError(status int, message string, errs ...string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": message, "errors": errs})
	}))
}

func TestAnInvalidEventOrARefusedKeyGoesToDeadWithoutBlockingTheRest(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	invalid := pdError(400, "Event object is invalid", "'payload.summary' is missing or blank")
	t.Cleanup(invalid.Close)
	spool := t.TempDir()
	resp := h.Handle("handler-pagerduty --spool-dir "+testutil.Shell(spool)+" --url "+invalid.URL, event(2), keyEnv()...)
	require.Equal(t, 1, resp.Status, resp.Output)
	require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
	require.Contains(t, resp.Output, "'payload.summary' is missing or blank")
	require.Contains(t, resp.Output, "dead")

	badKey := pdError(400, "Event object is invalid", "Invalid routing key")
	t.Cleanup(badKey.Close)
	spool = t.TempDir()
	resp = h.Handle("handler-pagerduty --spool-dir "+testutil.Shell(spool)+" --url "+badKey.URL, event(2), keyEnv()...)
	require.Equal(t, 1, resp.Status, "a refused key fails loudly: %s", resp.Output)
	require.Contains(t, resp.Output, "PagerDuty refused the default routing key")
	require.Zero(t, testutil.Spooled(t, spool), "it does not hold the other pages back in the spool; it is in dead/ to replay")
}

func TestRoutingKeysNeverAppearOnAnyErrorPath(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid",
			"errors": []string{fmt.Sprintf("routing_key %v is not active", body["routing_key"])}})
	}))
	t.Cleanup(echo.Close)
	throttled := &pdtest.Server{}
	throttled.Throttle(100, 0)
	slow := httptest.NewServer(throttled)
	t.Cleanup(slow.Close)
	tlsSrv := httptest.NewTLSServer(&pdtest.Server{})
	t.Cleanup(tlsSrv.Close)
	ev := event(2)
	ev.Check.Labels = map[string]string{"vigil.io/pagerduty-team": "payments"}
	for _, args := range []string{
		"--url " + echo.URL,                  // the server echoes the key back
		"--url " + slow.URL + " --retries 1", // 429 until the retries run out
		"--url http://127.0.0.1:1",           // connection refused
		"--url " + tlsSrv.URL,                // an unknown certificate
		"--url http://127.0.0.1:1 --routing-key-file /nonexistent",
		"--url " + echo.URL + " --summary-template '{{.Nope.Nope}}'",
	} {
		resp := h.Handle("handler-pagerduty --no-spool --teams payments "+args, ev, keyEnv()...)
		require.Equal(t, 1, resp.Status, "%s: %s", args, resp.Output)
		testutil.RequireNoSecret(t, resp.Output, defaultKey, paymentsKey)
	}
	resp := h.Handle("handler-pagerduty --no-spool --url "+echo.URL+" --routing-key "+defaultKey, event(2))
	require.Equal(t, 1, resp.Status, resp.Output)
	testutil.RequireNoSecret(t, resp.Output, defaultKey)
}

func TestBadInputIsOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	ev, err := json.Marshal(event(2))
	require.NoError(t, err)
	for _, tc := range []struct {
		args, input string
		env         []string
		want        string
	}{
		{"", "{", keyEnv(), "handler-pagerduty: "},
		{"", "", nil, "--routing-key (or PAGERDUTY_ROUTING_KEY, or --routing-key-file) is required"},
		{"", "", []string{"PAGERDUTY_ROUTING_KEY=short"}, "must be 32 characters, got 5"},
		{"--teams 'pay ments'", "", keyEnv(), "--teams"},
		{"--summary-template '{{.Check.Name'", "", keyEnv(), "--summary-template"},
		{"--severity-map high=urgent", "", keyEnv(), "--severity-map"},
		{"--acknowledge-status -1", "", keyEnv(), "--acknowledge-status"},
		{"--url events.pagerduty.com", "", keyEnv(), "--url (or PAGERDUTY_URL)"},
	} {
		input := tc.input
		if input == "" {
			input = string(ev)
		}
		resp := h.HandleRaw("handler-pagerduty "+tc.args, []byte(input), tc.env...)
		require.Equal(t, 1, resp.Status, "%s: %s", tc.args, resp.Output)
		require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
		require.Contains(t, resp.Output, tc.want, tc.args)
		testutil.RequireNoSecret(t, resp.Output, defaultKey)
	}
}
