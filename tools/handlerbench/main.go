// Command handlerbench measures the network handlers against real servers
// (make bench-handlers, scripts/bench/handlers.sh starts them):
//
//	handlerbench run --bin DIR --victorialogs URL --prometheus URL [--influxdb URL]
//	                 [--events 10000] [--runs 3] [--single 30] [--baseline 2000] [--json OUT]
//
// For each store it measures three things and prints a Markdown report:
//
//   - Replay: a spool of --events events (written the way the handler
//     writes it when the store is down) is delivered by one handler run,
//     timed from process start to exit; the store is then asked how many
//     documents or samples arrived, and the run fails if any is missing.
//   - Baseline: what the community handlers do, one request per event
//     with a new connection each (sensu-go-elasticsearch: an index
//     request with refresh=true per event; the Prometheus remote-write
//     handler: one WriteRequest per event), on --baseline events, timed
//     in process (which flatters it: the community handlers also start a
//     process per event).
//   - Single event: --single handler runs of one event each, empty spool,
//     process start to exit; median and 90th percentile. handler-pagerduty
//     runs against the local Events API v2 server of internal/pdtest,
//     started in process (PagerDuty is a SaaS).
//
// Events look like what Vigil's checks send: 100 entities, the five
// checks, JSON reports with findings, ten metric points each, timestamps in
// milliseconds spread over the last minutes (Prometheus refuses samples
// too old or out of order, so each run uses its own entities).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang/snappy"
	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/internal/benchkit"
	"github.com/vigil-sec/vigil/internal/pdtest"
	"github.com/vigil-sec/vigil/pkg/elastic"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/tsdb"
)

const usage = `usage: handlerbench run --bin DIR --victorialogs URL --prometheus URL [--influxdb URL]
                         [--events 10000] [--runs 3] [--single 30] [--baseline 2000] [--json OUT]`

func main() {
	os.Exit(benchkit.Run("handlerbench", usage, os.Args[1:], os.Stdout, os.Stderr, func(cmd string, args []string, stdout io.Writer) (int, error) {
		if cmd != "run" {
			return 1, fmt.Errorf("%w: unknown command %q", benchkit.ErrUsage, cmd)
		}
		return run(args, stdout)
	}))
}

type config struct {
	bin, vlogs, prom, influx, jsonOut string
	pagerduty                         string // the local Events API v2 server
	events, runs, single, baseline    int
}

// Row is one measurement of the report.
type Row struct {
	Store    string  `json:"store"`
	Method   string  `json:"method"`
	Items    int     `json:"items"`
	Unit     string  `json:"unit"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_second"`
	Verified string  `json:"verified"`
}

// Latency is the single-event measurement of one handler.
type Latency struct {
	Handler  string  `json:"handler"`
	Runs     int     `json:"runs"`
	MedianMS float64 `json:"median_ms"`
	P90MS    float64 `json:"p90_ms"`
}

func run(args []string, stdout io.Writer) (int, error) {
	var c config
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.bin, "bin", "bin", "")
	fs.StringVar(&c.vlogs, "victorialogs", "", "")
	fs.StringVar(&c.prom, "prometheus", "", "")
	fs.StringVar(&c.influx, "influxdb", "", "")
	fs.StringVar(&c.jsonOut, "json", "", "")
	fs.IntVar(&c.events, "events", 10000, "")
	fs.IntVar(&c.runs, "runs", 3, "")
	fs.IntVar(&c.single, "single", 30, "")
	fs.IntVar(&c.baseline, "baseline", 2000, "")
	if err := fs.Parse(args); err != nil {
		return 1, fmt.Errorf("%w: %w", benchkit.ErrUsage, err)
	}
	if c.vlogs == "" || c.prom == "" {
		return 1, fmt.Errorf("%w: --victorialogs and --prometheus are required", benchkit.ErrUsage)
	}
	work, err := os.MkdirTemp("", "handlerbench-")
	if err != nil {
		return 1, err
	}
	defer func() { _ = os.RemoveAll(work) }()

	var rows []Row
	var lat []Latency
	stamp := time.Now().UnixNano() % 1e9 // keeps runs of different invocations apart
	for r := range c.runs {
		tag := fmt.Sprintf("b%d-%d", stamp, r)
		row, err := replayES(c, work, tag)
		if err != nil {
			return 1, fmt.Errorf("elasticsearch replay: %w", err)
		}
		rows = append(rows, row)
		row, err = replayPrometheus(c, work, tag)
		if err != nil {
			return 1, fmt.Errorf("prometheus replay: %w", err)
		}
		rows = append(rows, row)
		if c.influx != "" {
			row, err = replayInflux(c, work, tag)
			if err != nil {
				return 1, fmt.Errorf("influxdb replay: %w", err)
			}
			rows = append(rows, row)
		}
	}
	tag := fmt.Sprintf("b%d-base", stamp)
	for _, f := range []func(config, string) (Row, error){baselineES, baselinePrometheus} {
		row, err := f(c, tag)
		if err != nil {
			return 1, fmt.Errorf("baseline: %w", err)
		}
		rows = append(rows, row)
	}
	pd := httptest.NewServer(&pdtest.Server{})
	defer pd.Close()
	c.pagerduty = pd.URL
	for _, h := range singleRuns(c, work, fmt.Sprintf("b%d-single", stamp)) {
		l, err := latency(c, work, h)
		if err != nil {
			return 1, fmt.Errorf("single event %s: %w", h.name, err)
		}
		lat = append(lat, l)
	}
	report(stdout, c, rows, lat)
	if c.jsonOut != "" {
		if err := benchkit.WriteJSON(c.jsonOut, map[string]any{"rows": rows, "single_event": lat}); err != nil {
			return 1, err
		}
	}
	return 0, nil
}

// events builds n events for entities tagged tag, the last one newest.
func events(n int, tag string) []*corev2.Event {
	checks := []string{"check-file-integrity", "check-audit-log", "check-pii", "check-config-drift", "check-host-drift"}
	rules := []string{"fim.modified", "ssh.failed_login", "pii.email", "drift.changed", "host.new_port"}
	now := time.Now()
	out := make([]*corev2.Event, n)
	for i := range out {
		at := now.Add(-time.Duration(n-i) * 20 * time.Millisecond)
		ev := corev2.FixtureEvent(fmt.Sprintf("%s-host-%02d", tag, i%100), checks[i%len(checks)])
		ev.Timestamp = at.Unix()
		ev.Check.Executed = at.Unix()
		ev.Check.Status = uint32(i % 3)
		ev.Entity.System = corev2.System{Hostname: ev.Entity.Name, OS: "linux", Platform: "debian", PlatformFamily: "debian",
			PlatformVersion: "12.8", Arch: "amd64", Network: corev2.Network{Interfaces: []corev2.NetworkInterface{
				{Name: "eth0", MAC: "52:54:00:12:34:56", Addresses: []string{fmt.Sprintf("10.0.%d.%d/24", i%100/250, i%100+10)}}}}}
		ev.Entity.Labels = map[string]string{"team": "payments", "region": "eu-west-1", "bench": tag}
		var fs []finding.Finding
		for k := range i % 4 {
			fs = append(fs, finding.Finding{Rule: rules[(i+k)%len(rules)], Severity: finding.Severity(k + 1),
				Object: fmt.Sprintf("/etc/app/config-%d.yaml", k), Location: ev.Entity.Name, Message: "changed since the baseline", Count: k + 1})
		}
		report, _ := json.Marshal(map[string]any{"plugin": ev.Check.Name, "status": ev.Check.Status, "summary": fmt.Sprintf("%d findings", len(fs)),
			"findings": fs, "findings_total": len(fs), "metrics": []any{}})
		ev.Check.Output = string(report)
		ev.Metrics = &corev2.Metrics{}
		for m := range 10 {
			ev.Metrics.Points = append(ev.Metrics.Points, &corev2.MetricPoint{
				Name: fmt.Sprintf("vigil_bench_metric_%d", m), Value: float64(i + m), Timestamp: at.UnixMilli(),
				Tags: []*corev2.MetricTag{{Name: "bench", Value: tag}}})
		}
		out[i] = ev
	}
	return out
}

// fill writes the items into a fresh spool directory.
func fill(dir string, items [][]byte) error {
	sp, err := spool.Open(context.Background(), dir, spool.Limits{MaxItems: len(items) + 10, MaxBytes: 1 << 32})
	if err != nil {
		return err
	}
	defer sp.Close()
	return sp.AddAll(items)
}

// handle runs a handler binary with one event and returns its wall time.
func handle(c config, ev *corev2.Event, env []string, name string, args ...string) (time.Duration, error) {
	raw, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Stdin = bytes.NewReader(raw)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	d := time.Since(start)
	if err != nil {
		return d, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	if out.Len() > 0 {
		return d, fmt.Errorf("%s wrote %q (not delivered?)", name, strings.TrimSpace(out.String()))
	}
	return d, nil
}

func spoolLeft(dir string) int {
	sp, err := spool.Open(context.Background(), dir, spool.Limits{})
	if err != nil {
		return -1
	}
	defer sp.Close()
	return sp.Len()
}

func replayES(c config, work, tag string) (Row, error) {
	evs := events(c.events+1, tag+"-es")
	target := elastic.Target{Index: "vigil-bench"}
	items := make([][]byte, 0, c.events)
	for _, ev := range evs[:c.events] {
		raw, _ := json.Marshal(ev)
		it, err := elastic.Document(ev, raw, target)
		if err != nil {
			return Row{}, err
		}
		items = append(items, it)
	}
	dir := filepath.Join(work, tag+"-es")
	if err := fill(dir, items); err != nil {
		return Row{}, err
	}
	d, err := handle(c, evs[c.events], nil, "handler-elasticsearch", "--url", c.vlogs+"/insert/elasticsearch?_time_field=@timestamp&_msg_field=vigil.summary",
		"--skip-template", "--spool-dir", dir)
	if err != nil {
		return Row{}, err
	}
	if left := spoolLeft(dir); left != 0 {
		return Row{}, fmt.Errorf("%d events still in the spool", left)
	}
	n, err := countLogs(c.vlogs, tag+"-es")
	if err != nil {
		return Row{}, err
	}
	if n != c.events+1 {
		return Row{}, fmt.Errorf("VictoriaLogs holds %d documents, want %d", n, c.events+1)
	}
	return Row{Store: "Elasticsearch _bulk (VictoriaLogs)", Method: "handler-elasticsearch, spool replay", Items: c.events + 1, Unit: "events",
		Seconds: d.Seconds(), PerSec: float64(c.events+1) / d.Seconds(), Verified: fmt.Sprintf("%d documents read back", n)}, nil
}

// replayTSDB spools the points of events encoded by b, has one
// handler-tsdb run (args) replay them, and returns the wall time and the
// number of points.
func replayTSDB(c config, work, tag string, b tsdb.Backend, args ...string) (time.Duration, int, error) {
	evs := events(c.events+1, tag)
	items := make([][]byte, 0, c.events)
	points := 0
	for _, ev := range evs {
		ps := tsdb.Points(ev, tsdb.Options{})
		points += len(ps)
		data, _, err := b.Encode(ps)
		if err != nil {
			return 0, 0, err
		}
		items = append(items, data)
	}
	dir := filepath.Join(work, tag)
	if err := fill(dir, items[:c.events]); err != nil {
		return 0, 0, err
	}
	d, err := handle(c, evs[c.events], nil, "handler-tsdb", append(args, "--spool-dir", dir)...)
	if err != nil {
		return 0, 0, err
	}
	if left := spoolLeft(dir); left != 0 {
		return 0, 0, fmt.Errorf("%d events still in the spool", left)
	}
	return d, points, nil
}

func replayPrometheus(c config, work, tag string) (Row, error) {
	d, points, err := replayTSDB(c, work, tag+"-prom", tsdb.NewPrometheus(nil, "", tsdb.Auth{}), "--url", c.prom+"/api/v1/write")
	if err != nil {
		return Row{}, err
	}
	n, err := countSamples(c.prom, tag+"-prom")
	if err != nil {
		return Row{}, err
	}
	if n != points {
		return Row{}, fmt.Errorf("prometheus holds %d samples, want %d", n, points)
	}
	return Row{Store: "Prometheus remote write", Method: "handler-tsdb, spool replay", Items: points, Unit: "points",
		Seconds: d.Seconds(), PerSec: float64(points) / d.Seconds(), Verified: fmt.Sprintf("%d samples read back", n)}, nil
}

func replayInflux(c config, work, tag string) (Row, error) {
	b, err := tsdb.NewInflux(nil, c.influx, tsdb.InfluxTarget{API: "v1", Database: "vigil"}, tsdb.Auth{})
	if err != nil {
		return Row{}, err
	}
	d, points, err := replayTSDB(c, work, tag+"-influx", b, "--backend", "influxdb", "--url", c.influx, "--database", "vigil")
	if err != nil {
		return Row{}, err
	}
	return Row{Store: "InfluxDB 1.x line protocol", Method: "handler-tsdb, spool replay", Items: points, Unit: "points",
		Seconds: d.Seconds(), PerSec: float64(points) / d.Seconds(), Verified: "spool emptied, 2xx"}, nil
}

// baselineES sends one document per request with refresh=true on a new
// connection each, as sensu-go-elasticsearch does (VictoriaLogs speaks
// only _bulk, so each request is a one-document bulk).
func baselineES(c config, tag string) (Row, error) {
	evs := events(c.baseline, tag+"-es")
	start := time.Now()
	for _, ev := range evs {
		raw, _ := json.Marshal(ev)
		it, err := elastic.Document(ev, raw, elastic.Target{Index: "vigil-bench"})
		if err != nil {
			return Row{}, err
		}
		if err := postOnce(c.vlogs+"/insert/elasticsearch/_bulk?refresh=true&_time_field=@timestamp&_msg_field=vigil.summary", "application/x-ndjson", it); err != nil {
			return Row{}, err
		}
	}
	d := time.Since(start)
	n, err := countLogs(c.vlogs, tag+"-es")
	if err != nil {
		return Row{}, err
	}
	return Row{Store: "Elasticsearch _bulk (VictoriaLogs)", Method: "baseline: one request per event, refresh=true, new connection", Items: c.baseline, Unit: "events",
		Seconds: d.Seconds(), PerSec: float64(c.baseline) / d.Seconds(), Verified: fmt.Sprintf("%d documents read back", n)}, nil
}

func baselinePrometheus(c config, tag string) (Row, error) {
	evs := events(c.baseline, tag+"-prom")
	b := tsdb.NewPrometheus(nil, "", tsdb.Auth{})
	points := 0
	start := time.Now()
	for _, ev := range evs {
		ps := tsdb.Points(ev, tsdb.Options{})
		points += len(ps)
		data, _, err := b.Encode(ps)
		if err != nil {
			return Row{}, err
		}
		if err := postOnce(c.prom+"/api/v1/write", "application/x-protobuf", snappy.Encode(nil, data)); err != nil {
			return Row{}, err
		}
	}
	d := time.Since(start)
	return Row{Store: "Prometheus remote write", Method: "baseline: one request per event, new connection", Items: points, Unit: "points",
		Seconds: d.Seconds(), PerSec: float64(points) / d.Seconds(), Verified: "2xx per request"}, nil
}

// postOnce posts on a new connection, as a handler process per event does.
func postOnce(u, ctype string, body []byte) error {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", ctype)
	if ctype == "application/x-protobuf" {
		req.Header.Set("Content-Encoding", "snappy")
		req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// countLogs asks VictoriaLogs how many documents carry the bench label.
func countLogs(base, tag string) (int, error) {
	// VictoriaLogs makes a document searchable within about a second.
	var last int
	for range 20 {
		q := url.Values{"query": {fmt.Sprintf(`entity.metadata.labels.bench:=%q | stats count() n`, tag)}}
		var row struct {
			N string `json:"n"`
		}
		resp, err := http.Get(base + "/select/logsql/query?" + q.Encode()) //nolint:noctx // the benchmark's own server
		if err != nil {
			return 0, err
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("logsql: HTTP %d: %s", resp.StatusCode, b)
		}
		if len(bytes.TrimSpace(b)) > 0 {
			if err := json.Unmarshal(bytes.TrimSpace(b), &row); err != nil {
				return 0, fmt.Errorf("logsql answer %q: %w", b, err)
			}
			last, _ = strconv.Atoi(row.N)
		}
		if last > 0 {
			return last, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return last, nil
}

// countSamples asks Prometheus how many samples carry the bench label,
// metric by metric (count_over_time drops the name, and series of two
// metrics with the same labels would collide).
func countSamples(base, tag string) (int, error) {
	total := 0
	for m := range 10 {
		q := url.Values{"query": {fmt.Sprintf(`sum(count_over_time(vigil_bench_metric_%d{bench=%q}[1h]))`, m, tag)}, "time": {strconv.FormatInt(time.Now().Unix()+1, 10)}}
		resp, err := http.Get(base + "/api/v1/query?" + q.Encode()) //nolint:noctx // the benchmark's own server
		if err != nil {
			return 0, err
		}
		var doc struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&doc)
		_ = resp.Body.Close()
		if err != nil {
			return 0, err
		}
		if doc.Status != "success" {
			return 0, fmt.Errorf("prometheus: %s", doc.Error)
		}
		if len(doc.Data.Result) == 0 {
			continue
		}
		s, _ := doc.Data.Result[0].Value[1].(string)
		n, err := strconv.Atoi(s)
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

type singleRun struct {
	name, tag, bin string
	args           []string
}

func singleRuns(c config, work, tag string) []singleRun {
	return []singleRun{
		{"handler-elasticsearch", tag + "-es", "handler-elasticsearch", []string{"--url", c.vlogs + "/insert/elasticsearch?_time_field=@timestamp&_msg_field=vigil.summary", "--skip-template", "--spool-dir", filepath.Join(work, tag+"-es")}},
		{"handler-tsdb (prometheus)", tag + "-prom", "handler-tsdb", []string{"--url", c.prom + "/api/v1/write", "--spool-dir", filepath.Join(work, tag+"-prom")}},
		{"handler-pagerduty (local Events API v2 server)", tag + "-pd", "handler-pagerduty", []string{"--url", c.pagerduty, "--routing-key-file", c.pagerdutyKey(work), "--spool-dir", filepath.Join(work, tag+"-pd")}},
		{"handler-archive (reference)", tag + "-archive", "handler-archive", []string{"--dir", filepath.Join(work, tag+"-archive")}},
	}
}

// pagerdutyKey writes a routing key to a file, as a secret mount would.
func (c config) pagerdutyKey(work string) string {
	path := filepath.Join(work, "pagerduty.key")
	_ = os.WriteFile(path, []byte("benchkey0123456789abcdefghijklmn\n"), 0o600)
	return path
}

func latency(c config, work string, h singleRun) (Latency, error) {
	evs := events(c.single, h.tag)
	var ds []float64
	for _, ev := range evs {
		d, err := handle(c, ev, nil, h.bin, h.args...)
		if err != nil {
			return Latency{}, err
		}
		ds = append(ds, float64(d.Microseconds())/1000)
	}
	slices.Sort(ds)
	return Latency{Handler: h.name, Runs: len(ds), MedianMS: ds[len(ds)/2], P90MS: ds[len(ds)*9/10]}, nil
}

func report(w io.Writer, c config, rows []Row, lat []Latency) {
	fmt.Fprintf(w, "## Handlers: delivery into real servers\n\n")
	fmt.Fprintf(w, "Spool replay: %d events spooled, then one handler run delivers them and one new event (process start to exit). Baseline: %d events, one request each on a new connection, timed in process. Runs: %d.\n\n", c.events, c.baseline, c.runs)
	fmt.Fprintf(w, "| store | method | items | seconds | per second | target | verified |\n|---|---|---:|---:|---:|---|---|\n")
	for _, r := range rows {
		target := ""
		switch {
		case strings.HasPrefix(r.Method, "handler-elasticsearch"):
			target = mark(r.PerSec >= 20000, "≥ 20,000 events/s")
		case strings.HasPrefix(r.Store, "Prometheus") && strings.HasPrefix(r.Method, "handler-tsdb"):
			target = mark(r.PerSec >= 100000, "≥ 100,000 points/s")
		}
		fmt.Fprintf(w, "| %s | %s | %d %s | %.3f | %.0f %s/s | %s | %s |\n", r.Store, r.Method, r.Items, r.Unit, r.Seconds, r.PerSec, r.Unit, target, r.Verified)
	}
	fmt.Fprintf(w, "\n### One event per handler run (process start to exit, empty spool)\n\n| handler | runs | median ms | p90 ms | target |\n|---|---:|---:|---:|---|\n")
	for _, l := range lat {
		target := ""
		if !strings.Contains(l.Handler, "reference") {
			target = mark(l.MedianMS <= 30, "≤ 30 ms")
		}
		fmt.Fprintf(w, "| %s | %d | %.1f | %.1f | %s |\n", l.Handler, l.Runs, l.MedianMS, l.P90MS, target)
	}
}

func mark(ok bool, target string) string {
	if ok {
		return target + " ✓"
	}
	return target + " ✗"
}
