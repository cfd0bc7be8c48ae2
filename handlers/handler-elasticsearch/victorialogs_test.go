package main

// Delivery to a real server that speaks the Elasticsearch _bulk API:
// VictoriaLogs, built unmodified from the Go module proxy and started by
// scripts/services.sh (see CONTRIBUTING.md). It has no index templates,
// so every run here passes --skip-template.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/elastic"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// bulkURL is the handler's --url for a VictoriaLogs server: its
// Elasticsearch endpoint, told to take the time from @timestamp (v1.102
// otherwise stamps the ingestion time) and the summary as the message.
func bulkURL(base string) string {
	return base + "/insert/elasticsearch?_time_field=@timestamp&_msg_field=vigil.summary"
}

// stored returns how many documents of the run are stored, and how many
// distinct event ids, once VictoriaLogs has made them searchable.
func stored(t *testing.T, base, run string, want int) (docs, ids int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rows := testutil.LogsQL(t, base, fmt.Sprintf(`entity.metadata.labels.run:=%q | stats count() docs, count_uniq(id) ids`, run))
		if len(rows) == 1 {
			docs, _ = strconv.Atoi(rows[0]["docs"])
			ids, _ = strconv.Atoi(rows[0]["ids"])
		}
		if docs >= want || time.Now().After(deadline) {
			return docs, ids
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// runEvent is an event of one test run, told apart by an entity label,
// that happened two hours ago.
func runEvent(run string, i int) *corev2.Event {
	ev := testutil.Event()
	ev.Timestamp -= 7200
	ev.Check.Name = fmt.Sprintf("check-%d", i)
	ev.Entity.Labels = map[string]string{"run": run}
	ev.Check.Output = `{"plugin":"check-file-integrity","status":2,"summary":"1 finding: 1 critical","findings":[{"rule":"fim.modified","severity":"critical","object":"/usr/bin/ps","changed":["sha256"]}],"findings_total":1,"metrics":[]}`
	return ev
}

func TestDeliversToARealBulkServerAndLosesNothingAcrossARestart(t *testing.T) {
	t.Parallel()
	vl := testutil.OwnService(t, testutil.VictoriaLogs)
	h := testutil.New(t)
	run := "restart-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	cmd := "handler-elasticsearch --skip-template --retries 1 --spool-dir " + testutil.Shell(t.TempDir()) + " --url " + testutil.Shell(bulkURL(vl.URL))
	i := 0
	send := func(wantKept bool) {
		t.Helper()
		resp := h.Handle(cmd, runEvent(run, i), "VIGIL_STATE_DIR="+t.TempDir())
		i++
		require.Equal(t, 0, resp.Status, resp.Output)
		if wantKept {
			require.Contains(t, resp.Output, "kept in the spool")
		} else {
			require.Empty(t, resp.Output)
		}
	}
	for range 3 {
		send(false)
	}
	vl.Stop()
	for range 3 {
		send(true)
	}
	vl.Start()
	send(false)

	docs, ids := stored(t, vl.URL, run, 7)
	require.Equal(t, 7, docs, "every event, once")
	require.Equal(t, 7, ids)

	rows := testutil.LogsQL(t, vl.URL, fmt.Sprintf(`entity.metadata.labels.run:=%q vigil.check:="check-4" | fields _msg, _time, timestamp, vigil.severity, vigil.findings, vigil.entity, check.status`, run))
	require.Len(t, rows, 1)
	doc := rows[0]
	require.Equal(t, "1 finding: 1 critical", doc["_msg"])
	require.Equal(t, "critical", doc["vigil.severity"])
	require.Equal(t, "web-1", doc["vigil.entity"])
	require.Equal(t, "2", doc["check.status"])
	var findings []map[string]any // VictoriaLogs keeps an array of objects as JSON text
	require.NoError(t, json.Unmarshal([]byte(doc["vigil.findings"]), &findings))
	require.Equal(t, "fim.modified", findings[0]["rule"])
	ts, err := time.Parse(time.RFC3339Nano, doc["_time"])
	require.NoError(t, err)
	sec, err := strconv.ParseInt(doc["timestamp"], 10, 64)
	require.NoError(t, err)
	require.Equal(t, time.Unix(sec, 0).UTC(), ts.UTC(), "the document's time is the event's, not the delivery's")
}

func TestAServerRestartedDuringAReplayLosesNothing(t *testing.T) {
	t.Parallel()
	vl := testutil.OwnService(t, testutil.VictoriaLogs)
	run := "kill-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	const spooled = 3000
	dir := t.TempDir()
	items := make([][]byte, 0, spooled)
	for i := range spooled {
		ev := runEvent(run, i)
		raw, err := json.Marshal(ev)
		require.NoError(t, err)
		it, err := elastic.Document(ev, raw, elastic.Target{Index: "vigil-events"})
		require.NoError(t, err)
		items = append(items, it)
	}
	sp, err := spool.Open(t.Context(), dir, spool.Limits{})
	require.NoError(t, err)
	require.NoError(t, sp.AddAll(items))
	sp.Close()

	// The replay takes about 1500 one-document requests, in about a second:
	// too fast to stop the server from outside at a known point. It goes
	// through a transparent proxy that stops the server (SIGTERM, as a
	// restart does) when the 100th request arrives, then forwards it to
	// the stopped server and drops the connection, as a restart does.
	// Not SIGKILL: VictoriaLogs acknowledges a bulk request before its
	// data reaches the disk (it flushes about every second), so a killed
	// server loses documents it has acknowledged, which no client can
	// see or prevent. Elasticsearch acknowledges after its translog is
	// fsynced (index.translog.durability: request, the default).
	front := stopAt(t, vl, 100)
	h := testutil.New(t)
	args := []string{"--skip-template", "--retries", "0", "--bulk-max-bytes", "2048", "--spool-dir", dir, "--url", bulkURL(front)}
	raw, err := json.Marshal(runEvent(run, spooled))
	require.NoError(t, err)
	replay := exec.Command(filepath.Join(h.Bins[0], "handler-elasticsearch"), args...)
	replay.Stdin = bytes.NewReader(raw)
	replay.Env = append(os.Environ(), "VIGIL_STATE_DIR="+t.TempDir())
	var out bytes.Buffer
	replay.Stdout, replay.Stderr = &out, &out
	require.NoError(t, replay.Run(), "kept in the spool is not a failure: %s", out.String())
	require.NotZero(t, testutil.Spooled(t, dir), "the server stopped after the replay, not during it: %s", out.String())
	require.Contains(t, out.String(), "kept in the spool")

	vl.Start()
	resp := h.Handle("handler-elasticsearch "+strings.Join(quoted(args), " "), runEvent(run, spooled+1), "VIGIL_STATE_DIR="+t.TempDir())
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Empty(t, resp.Output)
	_, ids := stored(t, vl.URL, run, spooled+2)
	require.Equal(t, spooled+2, ids, "every event is stored (a request cut by the crash may store some twice: VictoriaLogs ignores _id)")
}

func quoted(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = testutil.Shell(a)
	}
	return out
}

// stopAt returns the URL of a transparent proxy to vl that stops vl when
// its nth request arrives; that request and the ones after it fail as
// they do on a stopped server (connection closed).
func stopAt(t *testing.T, vl *testutil.Instance, n int64) string {
	t.Helper()
	target, err := url.Parse(vl.URL)
	require.NoError(t, err)
	var seen atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ErrorHandler = func(http.ResponseWriter, *http.Request, error) { panic(http.ErrAbortHandler) }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen.Add(1) == n {
			vl.Stop()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
