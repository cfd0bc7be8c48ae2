package tsdb_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/influxdata/line-protocol/v2/lineprotocol"
	"github.com/prometheus/prometheus/prompb"
	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/testutil"
	"github.com/vigil-sec/vigil/pkg/tsdb"
)

var at = time.Date(2025, 1, 15, 10, 0, 0, 123456789, time.UTC)

// event has points in every timestamp unit the agent's transformers and
// other producers write, one without a timestamp, and a clashing tag.
func event(t *testing.T) *corev2.Event {
	t.Helper()
	ev := corev2.FixtureEvent("web1", "check-file-integrity")
	ev.Timestamp = at.Unix()
	tag := func(n, v string) *corev2.MetricTag { return &corev2.MetricTag{Name: n, Value: v} }
	ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{
		{Name: "files_changed", Value: 3, Timestamp: at.UnixNano(), Tags: []*corev2.MetricTag{tag("severity", "critical")}},
		{Name: "check-file-integrity.scan.seconds", Value: 1.5, Timestamp: at.UnixMilli()},
		{Name: "bytes", Value: 1e9, Timestamp: at.UnixMicro(), Tags: []*corev2.MetricTag{tag("entity", "spoofed"), tag("__name__", "x")}},
		{Name: "files", Value: 12000, Timestamp: at.Unix()},
		{Name: "no_time", Value: 7},
	}}
	fs, err := json.Marshal([]finding.Finding{
		{Rule: "fim.modified", Severity: finding.Critical, Object: "/usr/bin/ssh"},
		{Rule: "fim.modified", Severity: finding.Critical, Object: "/usr/bin/ps"},
		{Rule: "fim.added", Severity: finding.Medium, Object: "/etc/cron.d/x", Count: 4},
	})
	require.NoError(t, err)
	ev.Check.Annotations = map[string]string{finding.Annotation: string(fs)}
	ev.Check.Status = 2
	return ev
}

func TestPointsKeepThePrecisionOfEveryUnit(t *testing.T) {
	t.Parallel()
	ps := tsdb.Points(event(t), tsdb.Options{})
	require.Len(t, ps, 5)
	want := []time.Time{at, at.Truncate(time.Millisecond), at.Truncate(time.Microsecond), at.Truncate(time.Second), at.Truncate(time.Second)}
	for i, p := range ps {
		require.True(t, want[i].Equal(p.Time), "%s: %s, want %s", p.Name, p.Time, want[i])
	}
}

func TestPointsLabelTheEventAndKeepClashingTags(t *testing.T) {
	t.Parallel()
	ps := tsdb.Points(event(t), tsdb.Options{Labels: map[string]string{"region": "eu-west-1", "severity": "overridden"}})
	require.Equal(t, []tsdb.Label{{"check", "check-file-integrity"}, {"entity", "web1"}, {"namespace", "default"}, {"region", "eu-west-1"}, {"severity", "critical"}}, ps[0].Labels,
		"sorted; a metric's own tag wins over a configured label")
	require.Contains(t, ps[2].Labels, tsdb.Label{Name: "entity", Value: "web1"}, "a tag cannot claim another entity")
	require.Contains(t, ps[2].Labels, tsdb.Label{Name: "exported_entity", Value: "spoofed"})
}

func TestStatusMetricCountsFindingsPerRule(t *testing.T) {
	t.Parallel()
	ps := tsdb.Points(event(t), tsdb.Options{StatusMetric: true})
	got := map[string]float64{}
	for _, p := range ps[5:] {
		key := p.Name
		for _, l := range p.Labels {
			if l.Name == "rule" || l.Name == "severity" {
				key += "," + l.Value
			}
		}
		got[key] = p.Value
		require.True(t, at.Truncate(time.Second).Equal(p.Time))
	}
	require.Equal(t, map[string]float64{
		"vigil_check_status":                     2,
		"vigil_findings_total":                   3,
		"vigil_findings,fim.added,medium":        1,
		"vigil_findings,fim.modified,critical":   2,
		"vigil_finding_occurrences,fim.added":    4,
		"vigil_finding_occurrences,fim.modified": 2,
	}, got)
}

func TestPrometheusEncodingFollowsTheRemoteWriteRules(t *testing.T) {
	t.Parallel()
	b := tsdb.NewPrometheus(nil, "http://unused", tsdb.Auth{})
	data, dropped, err := b.Encode(tsdb.Points(event(t), tsdb.Options{}))
	require.NoError(t, err)
	require.Zero(t, dropped)
	var req prompb.WriteRequest
	require.NoError(t, req.Unmarshal(data))
	require.Len(t, req.Timeseries, 5)
	scan := req.Timeseries[1]
	require.Equal(t, "check_file_integrity_scan_seconds", scan.Labels[0].Value)
	require.Equal(t, "__name__", scan.Labels[0].Name)
	require.Equal(t, at.UnixMilli(), scan.Samples[0].Timestamp, "milliseconds, from a millisecond point")
	require.Equal(t, at.UnixMilli(), req.Timeseries[0].Samples[0].Timestamp, "milliseconds, from a nanosecond point")
	for _, ts := range req.Timeseries {
		for i := 1; i < len(ts.Labels); i++ {
			require.Less(t, ts.Labels[i-1].Name, ts.Labels[i].Name, "sorted and unique")
		}
	}
	var names []string
	for _, l := range req.Timeseries[2].Labels {
		names = append(names, l.Name)
	}
	require.Equal(t, []string{"__name__", "check", "entity", "exported___name__", "exported_entity", "namespace"}, names)

	// Two encoded events concatenated are one WriteRequest with both.
	var merged prompb.WriteRequest
	require.NoError(t, merged.Unmarshal(append(append([]byte(nil), data...), data...)))
	require.Len(t, merged.Timeseries, 10)
}

func TestSanitizedNames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"files_changed":          "files_changed",
		"check-pii.findings":     "check_pii_findings",
		"9lives":                 "_9lives",
		"job:rate5m":             "job:rate5m",
		"température":            "temp_rature",
		"":                       "_",
		"a b/c":                  "a_b_c",
		"disk./var/lib.used_pct": "disk__var_lib_used_pct",
	} {
		require.Equal(t, want, tsdb.MetricName(in), in)
	}
	require.Equal(t, "job_rate5m", tsdb.LabelName("job:rate5m"))
	require.Equal(t, "exported___x", tsdb.LabelName("__x"))
}

func TestInfluxLinesKeepNanoseconds(t *testing.T) {
	t.Parallel()
	b, err := tsdb.NewInflux(nil, "http://unused", tsdb.InfluxTarget{API: "v1", Database: "vigil"}, tsdb.Auth{})
	require.NoError(t, err)
	ps := tsdb.Points(event(t), tsdb.Options{})
	ps = append(ps, tsdb.Point{Name: "nan", Value: math.NaN(), Time: at}, tsdb.Point{Name: "bad\x01name", Value: 1, Time: at})
	data, dropped, err := b.Encode(ps)
	require.NoError(t, err)
	require.Equal(t, 2, dropped, "NaN and a control character cannot be written")
	dec := lineprotocol.NewDecoderWithBytes(data)
	var names []string
	for dec.Next() {
		m, err := dec.Measurement()
		require.NoError(t, err)
		names = append(names, string(m))
		for k, _, err := dec.NextTag(); k != nil; k, _, err = dec.NextTag() {
			require.NoError(t, err)
		}
		k, v, err := dec.NextField()
		require.NoError(t, err)
		require.Equal(t, "value", string(k))
		require.Equal(t, lineprotocol.Float, v.Kind())
		ts, err := dec.Time(lineprotocol.Nanosecond, time.Time{})
		require.NoError(t, err)
		if len(names) == 1 {
			require.Equal(t, at.UnixNano(), ts.UnixNano(), "nanoseconds kept")
		}
	}
	require.Equal(t, []string{"files_changed", "check-file-integrity.scan.seconds", "bytes", "files", "no_time"}, names)
}

func TestInfluxURLs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{})
	require.NoError(t, err)
	v1, err := tsdb.NewInflux(hc, srv.URL, tsdb.InfluxTarget{API: "v1", Database: "vigil", RetentionPolicy: "a year"}, tsdb.Auth{Username: "u", Password: "pw-secret"})
	require.NoError(t, err)
	v2, err := tsdb.NewInflux(hc, srv.URL+"/influx/", tsdb.InfluxTarget{API: "v2", Org: "sec", Bucket: "vigil"}, tsdb.Auth{Token: "tok-secret"})
	require.NoError(t, err)
	require.NoError(t, v1.Send(context.Background(), [][]byte{[]byte("m value=1 1\n")})[0])
	require.NoError(t, v2.Send(context.Background(), [][]byte{[]byte("m value=1 1\n")})[0])
	require.Equal(t, "/write", got[0].URL.Path)
	require.Equal(t, "db=vigil&precision=ns&rp=a+year", got[0].URL.RawQuery)
	u, p, _ := got[0].BasicAuth()
	require.Equal(t, "u:pw-secret", u+":"+p)
	require.Equal(t, "/influx/api/v2/write", got[1].URL.Path)
	require.Equal(t, "bucket=vigil&org=sec&precision=ns", got[1].URL.RawQuery)
	require.Equal(t, "Token tok-secret", got[1].Header.Get("Authorization"))
}

func TestRemoteWriteIsolatesTheEventTheServerRefuses(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	requests := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests++
		mu.Unlock()
		assert.Equal(t, "snappy", r.Header.Get("Content-Encoding"))
		assert.Equal(t, "application/x-protobuf", r.Header.Get("Content-Type"))
		assert.Equal(t, "0.1.0", r.Header.Get("X-Prometheus-Remote-Write-Version"))
		assert.Equal(t, "Bearer tok-secret", r.Header.Get("Authorization"))
		comp, _ := io.ReadAll(r.Body)
		raw, err := snappy.Decode(nil, comp)
		var req prompb.WriteRequest
		if !assert.NoError(t, err) || !assert.NoError(t, req.Unmarshal(raw)) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		for _, ts := range req.Timeseries {
			switch ts.Samples[0].Value {
			case -1:
				// What Prometheus answers, rolling the whole request back.
				http.Error(w, "out of order sample", http.StatusBadRequest)
				return
			case -2:
				// What it answers with an out-of-order window (2.39+).
				http.Error(w, "too old sample", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{Redact: secret.NewRedactor("tok-secret")})
	require.NoError(t, err)
	b := tsdb.NewPrometheus(hc, srv.URL+"/api/v1/write", tsdb.Auth{Token: "tok-secret"})
	var batch [][]byte
	for i := range 6 {
		v := float64(i)
		switch i {
		case 1:
			v = -2
		case 4:
			v = -1
		}
		data, _, err := b.Encode([]tsdb.Point{{Name: "m", Value: v, Time: at}})
		require.NoError(t, err)
		batch = append(batch, data)
	}
	errs := b.Send(context.Background(), batch)
	for i, err := range errs {
		if i == 1 {
			require.True(t, spool.IsPermanent(err), "%v", err)
			require.Contains(t, err.Error(), "HTTP 500: too old sample")
			continue
		}
		if i == 4 {
			require.True(t, spool.IsPermanent(err), "%v", err)
			require.Contains(t, err.Error(), "HTTP 400: out of order sample")
			testutil.RequireNoSecret(t, err.Error(), "tok-secret")
			continue
		}
		require.NoError(t, err, i)
	}
	require.Equal(t, 11, requests, "6 events halved until the bad ones are alone, each request sent once (the 500 is not retried): all, 0-2, 0, 1-2, 1, 2, 3-5, 3, 4-5, 4, 5")
}

func TestRemoteWriteKeepsEverythingWhenTheServerIsDown(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{RetryMax: 1, RetryWaitMin: time.Millisecond, RetryWaitMax: time.Millisecond})
	require.NoError(t, err)
	b := tsdb.NewPrometheus(hc, srv.URL, tsdb.Auth{})
	errs := b.Send(context.Background(), [][]byte{{0x0a, 0x00}, {0x0a, 0x00}})
	for _, err := range errs {
		require.Error(t, err)
		require.False(t, spool.IsPermanent(err))
		require.Contains(t, err.Error(), "HTTP 503")
	}
}

func TestGraphitePlaintext(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	lines := make(chan []string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		var got []string
		sc := bufio.NewScanner(conn)
		for sc.Scan() {
			got = append(got, sc.Text())
		}
		lines <- got
	}()
	g := &tsdb.Graphite{Addr: ln.Addr().String(), Prefix: "vigil", Tags: true}
	data, dropped, err := g.Encode([]tsdb.Point{
		{Name: "files changed", Value: 3, Time: at, Labels: []tsdb.Label{{"check", "fim"}, {"entity", "web1.example.com"}, {"severity", "a;b"}}},
		{Name: "inf", Value: math.Inf(1), Time: at},
	})
	require.NoError(t, err)
	require.Equal(t, 1, dropped)
	require.NoError(t, g.Send(context.Background(), [][]byte{data, data})[1])
	got := <-lines
	require.Equal(t, []string{
		"vigil.web1_example_com.files_changed;check=fim;severity=a_b 3 1736935200",
		"vigil.web1_example_com.files_changed;check=fim;severity=a_b 3 1736935200",
	}, got)

	_ = ln.Close()
	err = g.Send(context.Background(), [][]byte{data})[0]
	require.Error(t, err)
	require.False(t, spool.IsPermanent(err))
	require.Contains(t, err.Error(), "graphite")
}

func TestAHalfWrittenBeforeTheOtherFailsStaysWritten(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lines := strings.Count(string(body), "\n")
		mu.Lock()
		seen = append(seen, lines)
		mu.Unlock()
		switch {
		case lines == 4:
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		case strings.HasPrefix(string(body), "m0"):
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, `{"error":"authorization failed"}`, http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{RetryMax: -1})
	require.NoError(t, err)
	b, err := tsdb.NewInflux(hc, srv.URL, tsdb.InfluxTarget{API: "v1", Database: "vigil"}, tsdb.Auth{})
	require.NoError(t, err)
	batch := [][]byte{[]byte("m0 value=1 1\n"), []byte("m1 value=1 1\n"), []byte("m2 value=1 1\n"), []byte("m3 value=1 1\n")}
	errs := b.Send(context.Background(), batch)
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.ErrorContains(t, errs[2], "HTTP 401")
	require.ErrorContains(t, errs[3], "HTTP 401")
	require.False(t, spool.IsPermanent(errs[3]))
}

func TestInfluxDB2RefusingPointsDoesNotBlockTheRest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "old") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=1"}`)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{RetryMax: -1})
	require.NoError(t, err)
	b, err := tsdb.NewInflux(hc, srv.URL, tsdb.InfluxTarget{API: "v2", Org: "o", Bucket: "b"}, tsdb.Auth{})
	require.NoError(t, err)
	errs := b.Send(context.Background(), [][]byte{[]byte("old value=1 1\n"), []byte("new value=1 2\n")})
	require.True(t, spool.IsPermanent(errs[0]), "%v", errs[0])
	require.Contains(t, errs[0].Error(), "HTTP 422")
	require.NoError(t, errs[1], "the next event is written")
}

func TestATokenEchoedAcrossTheCutIsNotHalfShown(t *testing.T) {
	t.Parallel()
	const token = "tsdb-token-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, strings.Repeat("x", 290)+" token="+token, http.StatusUnauthorized)
	}))
	defer srv.Close()
	hc, err := httpx.New(httpx.Config{RetryMax: -1, Redact: secret.NewRedactor(token)})
	require.NoError(t, err)
	b := tsdb.NewPrometheus(hc, srv.URL, tsdb.Auth{Token: token})
	err = b.Send(context.Background(), [][]byte{{0x0a, 0x00}})[0]
	require.Error(t, err)
	require.NotContains(t, err.Error(), token[:8], "no part of the token: %v", err)
}
