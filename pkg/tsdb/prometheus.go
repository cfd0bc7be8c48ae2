package tsdb

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/vigil-sec/vigil/pkg/httpx"
)

// Prometheus writes to a remote-write receiver (Prometheus with
// --web.enable-remote-write-receiver, VictoriaMetrics, Mimir, Thanos
// receive): a snappy-compressed protobuf WriteRequest, protocol 0.1.0.
type Prometheus struct{ p poster }

// NewPrometheus returns a backend posting to url (the full write URL,
// such as http://prometheus:9090/api/v1/write). A token is sent as a
// bearer token.
func NewPrometheus(client *httpx.Client, url string, auth Auth) *Prometheus {
	return &Prometheus{p: poster{
		http: client, url: url, auth: auth, scheme: "Bearer", name: "prometheus remote write",
		header: func(h http.Header) {
			h.Set("Content-Encoding", "snappy")
			h.Set("Content-Type", "application/x-protobuf")
			h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
		},
		body:    func(raw []byte) []byte { return snappy.Encode(nil, raw) },
		refused: tooOld,
	}}
}

// tooOld recognises Prometheus refusing samples older than its
// out-of-order window: it answers 500 "too old sample" (2.39+ with
// out_of_order_time_window), where an out-of-bounds sample without the
// window gets a 400. Without this, one old event in the spool would fail
// every replay as if the server were down, forever.
func tooOld(status int, msg string) bool {
	return status == http.StatusInternalServerError && (strings.Contains(msg, "too old sample") || strings.Contains(msg, "out of bounds"))
}

// Encode returns a marshalled WriteRequest, one series per point. Names
// and label names are sanitized to Prometheus' rules, labels sorted (the
// receiver does not sort them, and its index needs them sorted),
// timestamps in milliseconds.
func (b *Prometheus) Encode(points []Point) ([]byte, int, error) {
	req := prompb.WriteRequest{Timeseries: make([]prompb.TimeSeries, 0, len(points))}
	for _, pt := range points {
		ls := make([]prompb.Label, 0, len(pt.Labels)+1)
		ls = append(ls, prompb.Label{Name: "__name__", Value: MetricName(pt.Name)})
		for _, l := range pt.Labels {
			ls = append(ls, prompb.Label{Name: LabelName(l.Name), Value: l.Value})
		}
		slices.SortStableFunc(ls, func(a, b prompb.Label) int { return strings.Compare(a.Name, b.Name) })
		// Two tags may sanitize to one name: keep the first.
		ls = slices.CompactFunc(ls, func(a, b prompb.Label) bool { return a.Name == b.Name })
		req.Timeseries = append(req.Timeseries, prompb.TimeSeries{
			Labels:  ls,
			Samples: []prompb.Sample{{Value: pt.Value, Timestamp: pt.Time.UnixMilli()}},
		})
	}
	data, err := req.Marshal()
	return data, 0, err
}

// Send posts the batch as one WriteRequest: concatenated WriteRequest
// messages are one message holding all their series.
func (b *Prometheus) Send(ctx context.Context, batch [][]byte) []error { return b.p.send(ctx, batch) }

// MetricName sanitizes a metric name to [a-zA-Z_:][a-zA-Z0-9_:]*: every
// other character becomes "_" ("check-pii.findings" →
// "check_pii_findings"), and a leading digit gets a "_" before it.
func MetricName(s string) string { return sanitize(s, true) }

// LabelName sanitizes a label name to [a-zA-Z_][a-zA-Z0-9_]*. Names
// starting with "__" are Prometheus' own; a tag named so is kept as
// exported_NAME.
func LabelName(s string) string {
	s = sanitize(s, false)
	if strings.HasPrefix(s, "__") {
		s = "exported_" + s
	}
	return s
}

func sanitize(s string, colon bool) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || colon && r == ':':
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
