package main

// Delivery to real servers, started by scripts/services.sh (see
// CONTRIBUTING.md): Prometheus with its remote-write receiver, InfluxDB
// 1.x, and VictoriaMetrics for InfluxDB's 2.x API and Graphite. Each test
// tells its points apart with a label of its own (--label run=…).

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/testutil"
)

func runID(prefix string) string { return prefix + strconv.FormatInt(time.Now().UnixNano(), 36) }

// at is when the test's points were measured: a minute ago, with every
// digit of a nanosecond timestamp set.
func pointTime() time.Time {
	return time.Now().Add(-time.Minute).Truncate(time.Second).Add(123456789)
}

// pointsEvent has points in three timestamp units, one without, and
// findings for --status-metric.
func pointsEvent(at time.Time) *corev2.Event {
	ev := testutil.Event()
	ev.Timestamp = at.Unix()
	ev.Check.Name = "check-file-integrity"
	ev.Check.Output = `{"plugin":"check-file-integrity","status":2,"summary":"s","findings":[` +
		`{"rule":"fim.modified","severity":"critical","object":"/usr/bin/ps"},{"rule":"fim.modified","severity":"critical","object":"/usr/bin/ssh"}],"findings_total":2,"metrics":[]}`
	ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{
		{Name: "files_changed", Value: 2, Timestamp: at.UnixNano(), Tags: []*corev2.MetricTag{{Name: "severity", Value: "critical"}}},
		{Name: "scan.seconds", Value: 1.25, Timestamp: at.UnixMilli()},
		{Name: "files", Value: 12000, Timestamp: at.Unix()},
		{Name: "bytes", Value: 4096},
	}}
	return ev
}

func getJSON(t *testing.T, u string, v any) {
	t.Helper()
	resp, err := http.Get(u) //nolint:noctx // a test's local server
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", u, body)
	require.NoError(t, json.Unmarshal(body, v), "%s", body)
}

// promSamples returns the samples of a series over the last hour, as
// (milliseconds, value) pairs.
func promSamples(t *testing.T, base, selector string) map[int64]float64 {
	t.Helper()
	var doc struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	q := url.Values{"query": {selector + "[1h]"}, "time": {strconv.FormatInt(time.Now().Unix()+1, 10)}}
	getJSON(t, base+"/api/v1/query?"+q.Encode(), &doc)
	require.Equal(t, "success", doc.Status)
	out := map[int64]float64{}
	for _, r := range doc.Data.Result {
		for _, v := range r.Values {
			ts := int64(v[0].(float64)*1000 + 0.5)
			val, err := strconv.ParseFloat(v[1].(string), 64)
			require.NoError(t, err)
			out[ts] = val
		}
	}
	return out
}

func TestPrometheusRemoteWrite(t *testing.T) {
	t.Parallel()
	prom := testutil.Service(t, testutil.Prometheus)
	h := testutil.New(t)
	run := runID("prom")
	at := pointTime()
	resp := h.Handle("handler-tsdb --status-metric --label run="+run+" --url "+prom.URL+"/api/v1/write --spool-dir "+testutil.Shell(t.TempDir()), pointsEvent(at))
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Empty(t, resp.Output)

	sel := func(name string, extra ...string) string {
		return fmt.Sprintf(`%s{run=%q,entity="web-1",check="check-file-integrity"%s}`, name, run, strings.Join(extra, ""))
	}
	require.Equal(t, map[int64]float64{at.UnixMilli(): 2}, promSamples(t, prom.URL, sel("files_changed", `,severity="critical"`)), "nanoseconds to milliseconds, not seconds")
	require.Equal(t, map[int64]float64{at.UnixMilli(): 1.25}, promSamples(t, prom.URL, sel("scan_seconds")), "the name sanitized, milliseconds kept")
	require.Equal(t, map[int64]float64{at.Unix() * 1000: 12000}, promSamples(t, prom.URL, sel("files")), "seconds read as seconds")
	require.Equal(t, map[int64]float64{at.Unix() * 1000: 4096}, promSamples(t, prom.URL, sel("bytes")), "no timestamp: the event's")
	require.Equal(t, map[int64]float64{at.Unix() * 1000: 2}, promSamples(t, prom.URL, sel("vigil_check_status")))
	require.Equal(t, map[int64]float64{at.Unix() * 1000: 2}, promSamples(t, prom.URL, sel("vigil_findings", `,rule="fim.modified",severity="critical"`)))
}

func TestPrometheusRestartLosesNothing(t *testing.T) {
	t.Parallel()
	prom := testutil.OwnService(t, testutil.Prometheus)
	h := testutil.New(t)
	run := runID("restart")
	cmd := "handler-tsdb --retries 0 --label run=" + run + " --url " + prom.URL + "/api/v1/write --spool-dir " + testutil.Shell(t.TempDir())
	base := time.Now().Add(-2 * time.Minute).Truncate(time.Millisecond)
	send := func(i int, wantKept bool) {
		t.Helper()
		ev := testutil.Event()
		ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{{Name: "events_seen", Value: float64(i), Timestamp: base.Add(time.Duration(i) * time.Second).UnixMilli()}}}
		resp := h.Handle(cmd, ev)
		require.Equal(t, 0, resp.Status, resp.Output)
		if wantKept {
			require.Contains(t, resp.Output, "kept in the spool")
		} else {
			require.Empty(t, resp.Output)
		}
	}
	send(0, false)
	prom.Stop()
	send(1, true)
	send(2, true)
	prom.Start()
	send(3, false)
	got := promSamples(t, prom.URL, fmt.Sprintf(`events_seen{run=%q}`, run))
	want := map[int64]float64{}
	for i := range 4 {
		want[base.Add(time.Duration(i)*time.Second).UnixMilli()] = float64(i)
	}
	require.Equal(t, want, got)
}

func TestInfluxDB1KeepsNanoseconds(t *testing.T) {
	t.Parallel()
	influx := testutil.Service(t, testutil.InfluxDB)
	h := testutil.New(t)
	run := runID("influx")
	at := pointTime()
	resp := h.Handle("handler-tsdb --backend influxdb --database vigil --label run="+run+" --url "+influx.URL+" --spool-dir "+testutil.Shell(t.TempDir()), pointsEvent(at))
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Empty(t, resp.Output)

	var doc struct {
		Results []struct {
			Series []struct {
				Name    string
				Columns []string
				Values  [][]any
			}
			Error string
		}
	}
	q := url.Values{"db": {"vigil"}, "epoch": {"ns"}, "q": {fmt.Sprintf(`SELECT "value", "entity", "severity" FROM "files_changed", "scan.seconds" WHERE "run" = '%s'`, run)}}
	answer, err := http.Get(influx.URL + "/query?" + q.Encode()) //nolint:noctx // a test's local server
	require.NoError(t, err)
	defer func() { _ = answer.Body.Close() }()
	dec := json.NewDecoder(answer.Body)
	dec.UseNumber() // a nanosecond time does not fit a float64
	require.NoError(t, dec.Decode(&doc))
	require.Len(t, doc.Results, 1)
	require.Empty(t, doc.Results[0].Error)
	got := map[string][]any{}
	for _, s := range doc.Results[0].Series {
		require.Len(t, s.Values, 1, s.Name)
		got[s.Name] = s.Values[0]
	}
	ns := func(t time.Time) json.Number { return json.Number(strconv.FormatInt(t.UnixNano(), 10)) }
	require.Equal(t, []any{ns(at), json.Number("2"), "web-1", "critical"}, got["files_changed"], "the nanoseconds kept")
	require.Equal(t, ns(at.Truncate(time.Millisecond)), got["scan.seconds"][0], "a millisecond point stays at its millisecond")
}

// vmSeries is one series of VictoriaMetrics' /api/v1/export.
type vmSeries struct {
	Labels     map[string]string `json:"metric"`
	Values     []float64         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// vmExport returns the series VictoriaMetrics holds for a selector, by
// metric name.
func vmExport(t *testing.T, base, selector string) map[string]vmSeries {
	t.Helper()
	resp, err := http.Get(base + "/internal/force_flush") //nolint:noctx // a test's local server
	require.NoError(t, err)
	_ = resp.Body.Close()
	out := map[string]vmSeries{}
	deadline := time.Now().Add(10 * time.Second)
	for len(out) == 0 && time.Now().Before(deadline) {
		resp, err := http.Get(base + "/api/v1/export?" + url.Values{"match[]": {selector}}.Encode()) //nolint:noctx // a test's local server
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
			if line == "" {
				continue
			}
			var s vmSeries
			require.NoError(t, json.Unmarshal([]byte(line), &s), line)
			out[s.Labels["__name__"]] = s
		}
		if len(out) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	return out
}

func TestVictoriaMetricsThroughInfluxDB2AndGraphite(t *testing.T) {
	t.Parallel()
	vm := testutil.Service(t, testutil.VictoriaMetrics)
	h := testutil.New(t)
	at := pointTime()

	run := runID("v2")
	resp := h.Handle("handler-tsdb --backend influxdb --influxdb-api v2 --org sec --bucket vigil --label run="+run+" --url "+vm.URL+" --spool-dir "+testutil.Shell(t.TempDir()),
		pointsEvent(at), "VIGIL_TSDB_TOKEN=influx-token-0123456789")
	require.Equal(t, 0, resp.Status, resp.Output)
	got := vmExport(t, vm.URL, fmt.Sprintf(`{run=%q}`, run))
	names := make([]string, 0, len(got))
	for n := range got {
		names = append(names, n)
	}
	sort.Strings(names)
	require.Equal(t, []string{"bytes_value", "files_changed_value", "files_value", "scan.seconds_value"}, names, "measurement_field, as VictoriaMetrics names line protocol")
	require.Equal(t, []int64{at.UnixMilli()}, got["files_changed_value"].Timestamps)
	require.Equal(t, "critical", got["files_changed_value"].Labels["severity"])

	run = runID("graphite")
	resp = h.Handle("handler-tsdb --backend graphite --graphite-tags --graphite-prefix "+run+" --url tcp://"+vm.Graphite+" --spool-dir "+testutil.Shell(t.TempDir()), pointsEvent(at))
	require.Equal(t, 0, resp.Status, resp.Output)
	got = vmExport(t, vm.URL, fmt.Sprintf(`{__name__=~%q}`, run+`\..*`))
	series, ok := got[run+".web-1.files_changed"]
	require.True(t, ok, "series: %v", got)
	require.Equal(t, "check-file-integrity", series.Labels["check"])
	require.Equal(t, []int64{at.Unix() * 1000}, series.Timestamps, "Graphite keeps seconds")
	require.Equal(t, []float64{2}, series.Values)
}
