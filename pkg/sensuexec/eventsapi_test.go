package sensuexec_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

// now is the fixed clock of the test agents.
var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func eventsAPI(t *testing.T, api *sensuexec.EventsAPI) string {
	t.Helper()
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv.URL
}

// send posts body to url and returns the status and the answer.
func send(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestEventsAPICompletesAPostedEvent(t *testing.T) {
	t.Parallel()
	api := &sensuexec.EventsAPI{Agent: testAgentNoExec()}
	url := eventsAPI(t, api)
	status, body := send(t, http.MethodPost, url+"/events", `{"check":{"metadata":{"name":"check-fim-fim.modified-0123456789"},"status":2,"output":"changed"}}`)
	require.Equal(t, http.StatusAccepted, status, body)

	evs := api.Events()
	require.Len(t, evs, 1)
	ev := evs[0]
	require.NoError(t, ev.Validate())
	require.Equal(t, now.Unix(), ev.Timestamp)
	require.Equal(t, now.Unix(), ev.Check.Executed)
	require.Equal(t, uint32(1), ev.Check.Interval, "the agent's default interval")
	require.Equal(t, "default", ev.Check.Namespace)
	require.Equal(t, "default", ev.Namespace)
	require.Equal(t, uint32(2), ev.Check.Status)
	require.Equal(t, "changed", ev.Check.Output)
	require.Equal(t, sensuexec.DefaultEntity(), ev.Entity, "the agent's own entity is injected")
}

// testAgentNoExec is an agent with a fixed clock for the events API.
func testAgentNoExec() *sensuexec.Agent {
	return &sensuexec.Agent{Now: func() time.Time { return now }}
}

func TestEventsAPIKeepsWhatThePosterSet(t *testing.T) {
	t.Parallel()
	api := &sensuexec.EventsAPI{Agent: testAgentNoExec()}
	url := eventsAPI(t, api)
	status, body := send(t, http.MethodPost, url+"/events",
		`{"timestamp":1700000000,"metadata":{"namespace":"security"},"check":{"metadata":{"name":"c","namespace":"security"},"interval":300,"executed":1699999999,"handlers":["pd"]}}`)
	require.Equal(t, http.StatusAccepted, status, body)
	ev := api.Events()[0]
	require.Equal(t, int64(1700000000), ev.Timestamp)
	require.Equal(t, int64(1699999999), ev.Check.Executed)
	require.Equal(t, uint32(300), ev.Check.Interval)
	require.Equal(t, "security", ev.Check.Namespace)
	require.Equal(t, "security", ev.Namespace)
	require.Equal(t, []string{"pd"}, ev.Check.Handlers)
}

func TestEventsAPIEntities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		entity    string
		wantName  string
		wantClass string
		wantNS    string
	}{
		{name: "no entity means the agent's", entity: ``, wantName: "vigil-test-host", wantClass: corev2.EntityAgentClass, wantNS: "default"},
		{name: "the agent's own name means the agent's entity", entity: `"entity":{"metadata":{"name":"vigil-test-host"},"entity_class":"whatever"},`, wantName: "vigil-test-host", wantClass: corev2.EntityAgentClass, wantNS: "default"},
		{name: "another name is a proxy entity in the agent's namespace", entity: `"entity":{"metadata":{"name":"router-1"}},`, wantName: "router-1", wantClass: corev2.EntityProxyClass, wantNS: "default"},
		{name: "a proxy entity keeps its namespace", entity: `"entity":{"metadata":{"name":"router-1","namespace":"net"},"entity_class":"agent"},`, wantName: "router-1", wantClass: corev2.EntityProxyClass, wantNS: "net"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &sensuexec.EventsAPI{Agent: testAgentNoExec()}
			url := eventsAPI(t, api)
			status, body := send(t, http.MethodPost, url+"/events", `{`+tt.entity+`"check":{"metadata":{"name":"c"}}}`)
			require.Equal(t, http.StatusAccepted, status, body)
			ev := api.Events()[0]
			require.Equal(t, tt.wantName, ev.Entity.Name)
			require.Equal(t, tt.wantClass, ev.Entity.EntityClass)
			require.Equal(t, tt.wantNS, ev.Entity.Namespace)
			require.NoError(t, ev.Validate())
		})
	}
}

func TestEventsAPIRejectsWhatTheAgentRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string
	}{
		{name: "an event without a check", method: http.MethodPost, path: "/events", body: `{"timestamp":1700000000}`, wantStatus: http.StatusBadRequest, wantBody: "check"},
		{name: "a null event", method: http.MethodPost, path: "/events", body: `null`, wantStatus: http.StatusBadRequest, wantBody: "an event must be provided"},
		{name: "a body that is not JSON", method: http.MethodPost, path: "/events", body: `{"check":`, wantStatus: http.StatusBadRequest},
		{name: "a check name with spaces", method: http.MethodPost, path: "/events", body: `{"check":{"metadata":{"name":"bad name"}}}`, wantStatus: http.StatusBadRequest, wantBody: "check name"},
		{name: "a check without a name", method: http.MethodPost, path: "/events", body: `{"check":{"status":1}}`, wantStatus: http.StatusBadRequest, wantBody: "must not be empty"},
		{name: "a named event", method: http.MethodPost, path: "/events", body: `{"metadata":{"name":"x"},"check":{"metadata":{"name":"c"}}}`, wantStatus: http.StatusBadRequest, wantBody: "events cannot be named"},
		{name: "an invalid proxy entity name", method: http.MethodPost, path: "/events", body: `{"entity":{"metadata":{"name":"bad host"}},"check":{"metadata":{"name":"c"}}}`, wantStatus: http.StatusBadRequest, wantBody: "entity name"},
		{name: "a GET", method: http.MethodGet, path: "/events", wantStatus: http.StatusNotFound},
		{name: "another path", method: http.MethodPost, path: "/metrics", body: `{"check":{"metadata":{"name":"c"}}}`, wantStatus: http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &sensuexec.EventsAPI{Agent: testAgentNoExec()}
			url := eventsAPI(t, api)
			status, body := send(t, tt.method, url+tt.path, tt.body)
			require.Equal(t, tt.wantStatus, status, body)
			require.Contains(t, body, tt.wantBody)
			require.Empty(t, api.Events(), "nothing is recorded")
		})
	}
}

func TestEventsAPIRejectFailsTheNextPosts(t *testing.T) {
	t.Parallel()
	api := &sensuexec.EventsAPI{Agent: testAgentNoExec(), Reject: 2}
	url := eventsAPI(t, api)
	var got []int
	for range 3 {
		status, _ := send(t, http.MethodPost, url+"/events", `{"check":{"metadata":{"name":"c"}}}`)
		got = append(got, status)
	}
	require.Equal(t, []int{500, 500, 202}, got)
	require.Len(t, api.Events(), 1)
}

func TestEventsAPIWithoutAnAgentUsesTheDefaults(t *testing.T) {
	t.Parallel()
	api := &sensuexec.EventsAPI{}
	url := eventsAPI(t, api)
	before := time.Now().Unix()
	status, body := send(t, http.MethodPost, url+"/events", `{"check":{"metadata":{"name":"c"}}}`)
	require.Equal(t, http.StatusAccepted, status, body)
	ev := api.Events()[0]
	require.Equal(t, "vigil-test-host", ev.Entity.Name)
	require.GreaterOrEqual(t, ev.Timestamp, before)
	require.LessOrEqual(t, ev.Timestamp, time.Now().Unix())
}

func TestEventsAPIRecordsEventsInArrivalOrder(t *testing.T) {
	t.Parallel()
	api := &sensuexec.EventsAPI{Agent: testAgentNoExec()}
	url := eventsAPI(t, api)
	for _, n := range []string{"first", "second", "third"} {
		status, body := send(t, http.MethodPost, url+"/events", `{"check":{"metadata":{"name":"`+n+`"}}}`)
		require.Equal(t, http.StatusAccepted, status, body)
	}
	var names []string
	for _, ev := range api.Events() {
		names = append(names, ev.Check.Name)
	}
	require.Equal(t, []string{"first", "second", "third"}, names)

	// Events returns a copy: changing it does not change the record.
	evs := api.Events()
	evs[0] = nil
	require.NotNil(t, api.Events()[0])
}
