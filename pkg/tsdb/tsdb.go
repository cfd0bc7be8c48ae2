// Package tsdb turns a Sensu event into time-series points and writes them
// to a Prometheus remote-write receiver, InfluxDB (1.x /write, 2.x
// /api/v2/write) or Graphite (plaintext over TCP).
//
// Points come from the event's metrics (the agent extracts them from a
// check's perfdata with output_metric_format), plus, when asked, the
// check's status and its findings counted per rule (Points), so that a
// dashboard charts integrity violations, drift and unauthorized attempts
// over time without parsing check output.
//
// Timestamps keep their precision. Sensu's metric point timestamps are
// documented as nanoseconds, but the agent's Graphite transformer writes
// seconds and other producers write milliseconds: the unit is detected
// by magnitude (units.Epoch), and a point without a timestamp takes the
// event's. Prometheus gets milliseconds, InfluxDB nanoseconds, Graphite
// seconds (its own resolution).
//
// Each backend encodes one event's points into the bytes it sends
// (Backend.Encode), which is what the spool keeps; a replay concatenates
// them, which each wire format allows: repeated protobuf fields of
// WriteRequest merge, line protocol and Graphite plaintext are lines.
//
// Libraries: github.com/prometheus/prometheus/prompb (v0.42.0, the
// WriteRequest types the receiver itself decodes) with
// github.com/golang/snappy (block format, as remote write requires), and
// github.com/influxdata/line-protocol/v2 (InfluxData's own encoder: it
// escapes measurement, tag and field text and validates names). Graphite
// plaintext is one line per point and needs no library.
package tsdb

import (
	"context"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Label is one name=value pair of a point.
type Label struct{ Name, Value string }

// Point is one sample.
type Point struct {
	// Name is the metric name as the producer wrote it; each backend
	// sanitizes it to its own rules.
	Name string
	// Labels are sorted by name, unique.
	Labels []Label
	Value  float64
	Time   time.Time
}

// Options say which points an event gives.
type Options struct {
	// StatusMetric adds vigil_check_status (the check's status),
	// vigil_findings (findings per rule and severity) and
	// vigil_finding_occurrences (occurrences per rule).
	StatusMetric bool
	// Labels are added to every point (from --label); the point's own
	// tags win over them.
	Labels map[string]string
}

// Identity labels every point carries: the event's entity, check and
// namespace. A metric tag with the same name is kept as exported_NAME, as
// Prometheus does on a scrape.
const (
	EntityLabel    = "entity"
	CheckLabel     = "check"
	NamespaceLabel = "namespace"
)

// Points returns the event's points.
func Points(ev *corev2.Event, o Options) []Point {
	at := units.Epoch(ev.Timestamp)
	if ev.Timestamp == 0 && ev.Check != nil && ev.Check.Executed != 0 {
		at = units.Epoch(ev.Check.Executed)
	}
	ident := map[string]string{}
	if ev.Entity != nil {
		ident[EntityLabel] = ev.Entity.Name
		ident[NamespaceLabel] = ev.Entity.Namespace
	}
	if ev.Check != nil {
		ident[CheckLabel] = ev.Check.Name
		if ev.Check.Namespace != "" {
			ident[NamespaceLabel] = ev.Check.Namespace
		}
	}
	var out []Point
	if ev.Metrics != nil {
		for _, mp := range ev.Metrics.Points {
			if mp == nil || mp.Name == "" {
				continue
			}
			t := at
			if mp.Timestamp != 0 {
				t = units.Epoch(mp.Timestamp)
			}
			tags := make(map[string]string, len(mp.Tags))
			for _, tag := range mp.Tags {
				if tag != nil && tag.Name != "" {
					tags[tag.Name] = tag.Value
				}
			}
			out = append(out, Point{Name: mp.Name, Labels: labels(ident, o.Labels, tags), Value: mp.Value, Time: t})
		}
	}
	if o.StatusMetric && ev.Check != nil {
		out = append(out, Point{Name: "vigil_check_status", Labels: labels(ident, o.Labels, nil), Value: float64(ev.Check.Status), Time: at})
		out = append(out, findingPoints(ev, ident, o.Labels, at)...)
	}
	return out
}

// findingPoints counts the event's structured findings per rule.
func findingPoints(ev *corev2.Event, ident, extra map[string]string, at time.Time) []Point {
	fs, total, ok := finding.FromEvent(ev)
	if !ok {
		return nil
	}
	type key struct{ rule, severity string }
	count := map[key]int{}
	occurrences := map[string]int{}
	for _, f := range fs {
		count[key{f.Rule, f.Severity.String()}]++
		occurrences[f.Rule] += f.Occurrences()
	}
	out := []Point{{Name: "vigil_findings_total", Labels: labels(ident, extra, nil), Value: float64(total), Time: at}}
	for _, k := range slices.SortedFunc(maps.Keys(count), func(a, b key) int {
		return strings.Compare(a.rule+"\x00"+a.severity, b.rule+"\x00"+b.severity)
	}) {
		out = append(out, Point{Name: "vigil_findings", Labels: labels(ident, extra, map[string]string{"rule": k.rule, "severity": k.severity}), Value: float64(count[k]), Time: at})
	}
	for _, rule := range slices.Sorted(maps.Keys(occurrences)) {
		out = append(out, Point{Name: "vigil_finding_occurrences", Labels: labels(ident, extra, map[string]string{"rule": rule}), Value: float64(occurrences[rule]), Time: at})
	}
	return out
}

// labels merges the identity labels, the configured ones and a point's
// tags: tags win over configured labels, identity labels win over both
// (a clashing tag is kept as exported_NAME).
func labels(ident, extra, tags map[string]string) []Label {
	m := make(map[string]string, len(ident)+len(extra)+len(tags))
	for k, v := range extra {
		m[k] = v
	}
	for k, v := range tags {
		if _, clash := ident[k]; clash {
			k = "exported_" + k
		}
		m[k] = v
	}
	for k, v := range ident {
		m[k] = v
	}
	out := make([]Label, 0, len(m))
	for k, v := range m {
		if v != "" {
			out = append(out, Label{k, v})
		}
	}
	slices.SortFunc(out, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Backend writes points to one kind of store.
type Backend interface {
	// Encode returns one event's points as sent on the wire (before any
	// compression): what the spool keeps. Points the format cannot carry
	// (NaN in line protocol) are dropped and counted.
	Encode(points []Point) (data []byte, dropped int, err error)
	// Send delivers a batch of encoded events, oldest first, and returns
	// one error per event (spool.SendFunc).
	Send(ctx context.Context, batch [][]byte) []error
}

// finite reports whether v is a number every backend takes.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
