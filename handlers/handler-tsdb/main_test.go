package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/testutil"
)

// metricEvent is an event with one metric point named name.
func metricEvent(name string, value float64) *corev2.Event {
	ev := testutil.Event()
	ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{{Name: name, Value: value, Timestamp: ev.Timestamp * 1000}}}
	return ev
}

// receiver decodes remote-write requests, or answers 503 while down.
type receiver struct {
	*httptest.Server
	down     atomic.Bool
	mu       sync.Mutex
	requests [][]string // metric names per request
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc.down.Load() {
			http.Error(w, "storage unavailable, token=tsdb-token-0123456789", http.StatusServiceUnavailable)
			return
		}
		comp, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, comp)
		var req prompb.WriteRequest
		if err == nil {
			err = req.Unmarshal(raw)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var names []string
		for _, ts := range req.Timeseries {
			names = append(names, ts.Labels[0].Value)
		}
		rc.mu.Lock()
		rc.requests = append(rc.requests, names)
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func TestKeepsPointsWhileTheStoreIsDownAndWritesThemFirst(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	rc := newReceiver(t)
	spool := t.TempDir()
	cmd := "handler-tsdb --retries 0 --spool-dir " + testutil.Shell(spool) + " --url " + rc.URL + "/api/v1/write"
	rc.down.Store(true)
	for _, name := range []string{"first", "second"} {
		resp := h.Handle(cmd, metricEvent(name, 1), "VIGIL_TSDB_TOKEN=tsdb-token-0123456789")
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Contains(t, resp.Output, "kept in the spool")
		require.Contains(t, resp.Output, "HTTP 503")
		testutil.RequireNoSecret(t, resp.Output, "tsdb-token-0123456789")
	}
	rc.down.Store(false)
	resp := h.Handle(cmd, metricEvent("third", 1), "VIGIL_TSDB_TOKEN=tsdb-token-0123456789")
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Empty(t, resp.Output)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Equal(t, [][]string{{"first", "second", "third"}}, rc.requests, "one request, oldest first")
	require.Zero(t, testutil.Spooled(t, spool))
}

func TestAnEventWithoutPointsWritesNothing(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	rc := newReceiver(t)
	resp := h.Handle("handler-tsdb --url "+rc.URL, testutil.Event())
	require.Equal(t, 0, resp.Status, resp.Output)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	require.Empty(t, rc.requests)
}

func TestBadInputIsOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	event, err := json.Marshal(metricEvent("m", 1))
	require.NoError(t, err)
	for _, tc := range []struct{ args, input, want string }{
		{"--url http://x", "{", "handler-tsdb: "},
		{"", "", "--url"},
		{"--url http://x --backend graphite", "", "--backend graphite takes --url tcp://HOST:PORT"},
		{"--url tcp://x:2003", "", "tcp:// is for graphite"},
		{"--url tcp://x --backend graphite", "", "needs a host and a port"},
		{"--url http://x --backend influxdb --influxdb-api v2", "", "needs --org and --bucket"},
		{"--url http://x --backend influxdb --database ''", "", "needs --database"},
		{"--url http://x --backend opentsdb", "", "--backend"},
		{"--url http://x --label novalue", "", "--label"},
	} {
		input := tc.input
		if input == "" {
			input = string(event)
		}
		resp := h.HandleRaw("handler-tsdb "+tc.args, []byte(input))
		require.Equal(t, 1, resp.Status, "%s: %s", tc.args, resp.Output)
		require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
		require.Contains(t, resp.Output, tc.want, tc.args)
	}
}
