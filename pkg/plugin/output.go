package plugin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// Result is what a check's Run returns.
type Result struct {
	// Summary is the one-line human summary. When empty, the runtime
	// writes one from the findings ("3 findings: 1 critical, 2 high").
	Summary string
	// Findings are the observations, in any order; the runtime sorts them
	// most severe first before bounding the output.
	Findings []finding.Finding
	// Total is the number of findings when the check kept only some of
	// them in Findings (to bound memory); zero means len(Findings).
	Total int
	// Metrics are the check's own measurements. The runtime adds
	// findings counts.
	Metrics []Metric
	// Status is a floor for the final status; the findings' severities
	// can only raise it. Checks with thresholds on counts set it.
	Status finding.Status
	// Notes are extra long-output lines shown after the findings, such as
	// "mode fast: 12 entries re-hashed".
	Notes []string
	// Commit, when set, is called once the result is complete (findings
	// posted to the events API if asked) and before it is printed: a log
	// check saves its read positions here, so that a run that dies earlier
	// reads the same lines again instead of losing them. An error makes the
	// check UNKNOWN.
	Commit func() error
	// MetricTags are tags every metric carries in JSON, such as a region
	// or a data class: constant for the run, they stay out of perfdata
	// labels (a check definition's output_metric_tags carries them there).
	MetricTags map[string]string
}

// Metric is one measurement. In Nagios output it is a perfdata item
// label=value[UOM];warn;crit;min;max; in JSON it is {"name","value","tags"}.
type Metric struct {
	Name  string
	Value float64
	// Tags qualify the metric (severity, rule). In perfdata they become
	// part of the label: name.value1.value2, in tag-key order.
	Tags map[string]string
	// UOM is the Nagios unit: "", "s", "ms", "%", "B", "KB", "MB", "c".
	UOM string
	// Warn and Crit are Nagios threshold ranges ("10", "5:", "~:20").
	Warn, Crit string
	// Min and Max bound the value, when known.
	Min, Max *float64
}

// Zero is a convenient *float64 for Metric.Min.
func Zero() *float64 { z := 0.0; return &z }

// Report is the JSON document a check prints with --format json.
type Report struct {
	Plugin        string            `json:"plugin"`
	Status        finding.Status    `json:"status"`
	Summary       string            `json:"summary"`
	Findings      []finding.Finding `json:"findings"`
	FindingsTotal int               `json:"findings_total"`
	Metrics       []ReportMetric    `json:"metrics"`
	Notes         []string          `json:"notes,omitempty"`

	perf       []Metric          // the metrics with their Nagios thresholds
	metricTags map[string]string // Result.MetricTags
}

// addMetric adds a metric to the perfdata and to the JSON metrics, with
// the run's metric tags under its own.
func (r *Report) addMetric(m Metric) {
	tags := make(map[string]string, len(m.Tags)+len(r.metricTags))
	maps.Copy(tags, r.metricTags)
	maps.Copy(tags, m.Tags)
	r.perf = append(r.perf, m)
	r.Metrics = append(r.Metrics, ReportMetric{Name: m.Name, Value: m.Value, Tags: tags})
}

// ReportMetric is a metric in the JSON document.
type ReportMetric struct {
	Name  string            `json:"name"`
	Value float64           `json:"value"`
	Tags  map[string]string `json:"tags"`
}

// finalize sorts and counts the findings, computes the status and adds the
// standard metrics. The returned Report holds every finding; the renderers
// bound them.
func finalize(plugin string, r Result, m finding.StatusMap) Report {
	fs := slices.Clone(r.Findings)
	finding.SortBySeverity(fs)
	total := max(r.Total, len(fs))
	st := finding.Worse(r.Status, m.Of(fs))
	summary := r.Summary
	if summary == "" {
		summary = summarize(fs, total)
	}
	counts := map[finding.Severity]int{}
	for _, f := range fs {
		counts[f.Severity]++
	}
	metrics := []Metric{{Name: "findings", Value: float64(total), Min: Zero()}}
	for _, s := range slices.Backward(finding.Severities()) {
		metrics = append(metrics, Metric{Name: "findings_" + s.String(), Value: float64(counts[s]), Min: Zero()})
	}
	metrics = append(metrics, r.Metrics...)
	rep := Report{Plugin: plugin, Status: st, Summary: summary, Findings: fs, FindingsTotal: total, Notes: r.Notes, metricTags: r.MetricTags}
	for _, x := range metrics {
		rep.addMetric(x)
	}
	return rep
}

// summarize writes "no findings" or "3 findings: 1 critical, 2 high".
func summarize(fs []finding.Finding, total int) string {
	if total == 0 {
		return "no findings"
	}
	counts := map[finding.Severity]int{}
	for _, f := range fs {
		counts[f.Severity]++
	}
	var parts []string
	for _, s := range slices.Backward(finding.Severities()) {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	noun := "findings"
	if total == 1 {
		noun = "finding"
	}
	return fmt.Sprintf("%d %s: %s", total, noun, strings.Join(parts, ", "))
}

// writeJSON prints the report with at most maxFindings findings (0: all).
func writeJSON(w io.Writer, rep Report, maxFindings int) error {
	if maxFindings > 0 && len(rep.Findings) > maxFindings {
		rep.Findings = rep.Findings[:maxFindings]
	}
	// The same document as json.Marshal(rep), written a finding at a
	// time: a log check can print tens of thousands, and one buffer for
	// all of them was the largest allocation of its run.
	head, err := json.Marshal(struct {
		Plugin  string         `json:"plugin"`
		Status  finding.Status `json:"status"`
		Summary string         `json:"summary"`
	}{rep.Plugin, rep.Status, rep.Summary})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	tail, err := json.Marshal(struct {
		FindingsTotal int            `json:"findings_total"`
		Metrics       []ReportMetric `json:"metrics"`
		Notes         []string       `json:"notes,omitempty"`
	}{rep.FindingsTotal, rep.Metrics, rep.Notes})
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	// bufio keeps the first write error and Flush returns it.
	bw := bufio.NewWriterSize(w, 64<<10)
	_, _ = bw.Write(head[:len(head)-1])
	_, _ = bw.WriteString(`,"findings":[`)
	for i, f := range rep.Findings {
		b, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode report: %w", err)
		}
		if i > 0 {
			_ = bw.WriteByte(',')
		}
		_, _ = bw.Write(b)
	}
	_, _ = bw.WriteString("],")
	_, _ = bw.Write(tail[1:])
	_ = bw.WriteByte('\n')
	return bw.Flush()
}

// maxLineLen bounds each long-output line; Nagios keeps 8 KiB of output
// in all (MAX_PLUGIN_OUTPUT_LENGTH), and 20 findings must fit.
const maxLineLen = 300

// writeNagios prints the Nagios plugin output:
//
//	NAME STATUS - summary | perfdata
//	[severity] rule object: message (location)
//	… and N more
//
// Perfdata sits on the first line only, and the text is cleaned so that
// Sensu's nagios_perfdata extractor, which splits the whole output on "|"
// and then on spaces and "=", finds exactly the metrics: "|" and "=" never
// appear in the text, and every perfdata item ends in ";" so that the
// next line's first word cannot merge into the last value.
func writeNagios(w io.Writer, rep Report, maxFindings int) error {
	var b strings.Builder
	b.WriteString(rep.Plugin + " " + rep.Status.String() + " - " + cleanText(rep.Summary, 0))
	if len(rep.perf) > 0 {
		b.WriteString(" |")
		for _, m := range rep.perf {
			b.WriteString(" " + perfItem(m))
		}
	}
	b.WriteByte('\n')
	shown := rep.Findings
	if maxFindings > 0 && len(shown) > maxFindings {
		shown = shown[:maxFindings]
	}
	for _, f := range shown {
		b.WriteString(cleanText(findingLine(f), maxLineLen) + "\n")
	}
	if more := rep.FindingsTotal - len(shown); more > 0 {
		fmt.Fprintf(&b, "… and %d more\n", more)
	}
	for _, n := range rep.Notes {
		b.WriteString(cleanText(n, maxLineLen) + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func findingLine(f finding.Finding) string {
	line := f.Line()
	if f.Count > 1 {
		line += " (×" + strconv.Itoa(f.Count) + ")"
	}
	if f.Location != "" {
		line += " (" + f.Location + ")"
	}
	return line
}

// cleanText makes s safe for one line of plugin output: control
// characters are escaped (a file name can hold a newline), "|" and "="
// are replaced (see writeNagios) and the line is cut at n bytes (0: no
// limit) on a rune boundary.
func cleanText(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '|':
			b.WriteRune('¦')
		case r == '=':
			b.WriteRune(':')
		case r == '\t':
			b.WriteByte(' ')
		case r == utf8.RuneError, unicode.IsControl(r):
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	if n > 0 && len(out) > n {
		cut := n - len("…")
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

var labelUnsafe = regexp.MustCompile(`[^A-Za-z0-9_.:-]+`)

// perfLabel builds a label that needs no quoting, since Sensu's extractor
// keeps quotes as part of the metric name.
func perfLabel(m Metric) string {
	label := m.Name
	for _, k := range slices.Sorted(maps.Keys(m.Tags)) {
		label += "." + m.Tags[k]
	}
	label = labelUnsafe.ReplaceAllString(label, "_")
	if label == "" {
		label = "value"
	}
	return label
}

func perfItem(m Metric) string {
	return perfLabel(m) + "=" + perfNumber(m.Value) + m.UOM + ";" + m.Warn + ";" + m.Crit + ";" + perfBound(m.Min) + ";" + perfBound(m.Max)
}

func perfBound(v *float64) string {
	if v == nil {
		return ""
	}
	return perfNumber(*v)
}

// perfNumber formats without exponents, which Nagios does not read.
func perfNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "U"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
