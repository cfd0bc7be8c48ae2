// Command report turns the raw results of scripts/bench/pii.sh into a
// Markdown report with the targets of the PII check marked met or not.
//
//	report --results RESULTS.tsv --bytes N --nproc N [--runs N] [--corpus TEXT]
//	       [--score NAME=SCORE.json]... [--mutator MUTATOR.tsv]
//
// RESULTS.tsv has one row per timed tool: name, cores, minimum and median
// wall seconds, peak RSS in KiB, runs, and a note ("not built", "failed
// (exit 3)") that replaces the numbers when they are missing. The scores
// are piibench's --json output; NAME is check-pii-1, check-pii-2 or
// gitleaks. MUTATOR.tsv holds key<TAB>value lines: process_mean_ms,
// process_p95_ms, process_runs, process_rss_kib, bench_ns_op, and
// process_note / bench_note when a number is missing.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

// The targets of the issue.
const (
	targetOneCore    = 400.0 // MB/s, check-pii on one core
	targetTwoCores   = 700.0 // MB/s, check-pii on two cores
	targetRecall     = 0.99
	targetPrecision  = 0.99
	targetRSSBytes   = 32e6
	targetRedactMs   = 0.2
	targetProcessMs  = 20.0
	checkPIIOneCore  = "check-pii-1"
	checkPIITwoCores = "check-pii-2"
	gitleaks         = "gitleaks"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// row is one timed tool.
type row struct {
	name, cores string
	min, median float64
	rssKiB      float64
	runs        int
	note        string
}

// score is the part of piibench's Score the report uses.
type score struct {
	Findings int `json:"findings"`
	Rules    []struct {
		Rule           string  `json:"rule"`
		Planted        int     `json:"planted"`
		Found          int     `json:"found"`
		Recall         float64 `json:"recall"`
		FalsePositives int     `json:"false_positives"`
		Precision      float64 `json:"precision"`
	} `json:"rules"`
	DecoyHits       int            `json:"decoy_hits"`
	DecoyHitsByKind map[string]int `json:"decoy_hits_by_kind"`
	BackgroundFP    int            `json:"background_fp"`
	CrossRule       int            `json:"cross_rule"`
	Unmapped        int            `json:"unmapped"`
	UnmappedByRule  map[string]int `json:"unmapped_by_rule"`
	Pass            bool           `json:"pass"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	results := fs.String("results", "", "timings TSV")
	corpusBytes := fs.Float64("bytes", 0, "corpus size in bytes")
	nproc := fs.Int("nproc", 0, "CPUs of the machine")
	runs := fs.Int("runs", 3, "runs per timed tool")
	corpus := fs.String("corpus", "", "one sentence describing the corpus")
	scores := fs.StringArray("score", nil, "NAME=piibench score --json output")
	mutator := fs.String("mutator", "", "mutator-redact TSV")
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if *results == "" || *corpusBytes <= 0 {
		fmt.Fprintln(stderr, "report: --results and --bytes are required")
		return 1
	}
	rows, err := readRows(*results)
	if err != nil {
		fmt.Fprintln(stderr, "report:", err)
		return 1
	}
	sc := map[string]*score{}
	for _, s := range *scores {
		name, path, ok := strings.Cut(s, "=")
		if !ok {
			fmt.Fprintf(stderr, "report: --score %q is not NAME=FILE\n", s)
			return 1
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the tool did not run: its rows say why
		}
		var v score
		if err := json.Unmarshal(b, &v); err != nil {
			fmt.Fprintf(stderr, "report: %s: %v\n", path, err)
			return 1
		}
		sc[name] = &v
	}
	mut := map[string]string{}
	if *mutator != "" {
		if mut, err = readKV(*mutator); err != nil {
			fmt.Fprintln(stderr, "report:", err)
			return 1
		}
	}
	r := &reporter{w: stdout, rows: rows, scores: sc, mut: mut, bytes: *corpusBytes}
	r.write(*nproc, *runs, *corpus)
	return 0
}

type reporter struct {
	w      io.Writer
	rows   []row
	scores map[string]*score
	mut    map[string]string
	bytes  float64
}

func (r *reporter) p(format string, a ...any) { fmt.Fprintf(r.w, format, a...) }

// mbps is the corpus throughput for a wall time.
func (r *reporter) mbps(seconds float64) float64 { return r.bytes / 1e6 / seconds }

func (r *reporter) find(prefix, cores string) *row {
	for i := range r.rows {
		if strings.HasPrefix(r.rows[i].name, prefix) && (cores == "" || r.rows[i].cores == cores) {
			return &r.rows[i]
		}
	}
	return nil
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func (r *reporter) write(nproc, runs int, corpus string) {
	r.p("## PII and secrets in logs: `make bench-pii`\n\n")
	if corpus != "" {
		r.p("%s\n\n", corpus)
	}
	r.p("Warm cache, %d CPUs, %d runs per tool unless noted: MB/s is the corpus size (%.1f MB) over the wall time, best (minimum time) / median; peak RSS is the largest over the runs.\n\n", nproc, runs, r.bytes/1e6)
	r.p("| tool | cores | MB/s best / median | wall s min / median | peak RSS MB | accuracy |\n|---|---:|---:|---:|---:|---|\n")
	for _, x := range r.rows {
		acc := r.accuracyNote(x)
		if x.note != "" {
			r.p("| %s | %s | %s | | | %s |\n", esc(x.name), x.cores, x.note, acc)
			continue
		}
		speed := fmt.Sprintf("%.0f / %.0f", r.mbps(x.min), r.mbps(x.median))
		wall := fmt.Sprintf("%.3f / %.3f", x.min, x.median)
		if x.runs == 1 {
			speed = fmt.Sprintf("%.1f (1 run)", r.mbps(x.min))
			wall = fmt.Sprintf("%.3f", x.min)
		}
		r.p("| %s | %s | %s | %s | %.1f | %s |\n", esc(x.name), x.cores, speed, wall, x.rssKiB*1024/1e6, acc)
	}
	r.p("\n")
	r.accuracy()
	r.mutatorSection()
	r.targets()
}

// accuracyNote summarises a scored tool in the timing table.
func (r *reporter) accuracyNote(x row) string {
	var s *score
	switch {
	case strings.HasPrefix(x.name, "check-pii") && x.cores == "1":
		s = r.scores[checkPIIOneCore]
	case strings.HasPrefix(x.name, "check-pii"):
		s = r.scores[checkPIITwoCores]
	case strings.HasPrefix(x.name, "gitleaks"):
		s = r.scores[gitleaks]
	}
	if s == nil {
		return ""
	}
	found, planted := 0, 0
	for _, x := range s.Rules {
		found += x.Found
		planted += x.Planted
	}
	recall, _ := minRecall(s)
	precision, _ := minPrecision(s)
	return fmt.Sprintf("found %d/%d, lowest recall %.3f, lowest precision %.3f, decoy hits %d", found, planted, recall, precision, s.DecoyHits)
}

func minRecall(s *score) (float64, string) {
	v, which := math.Inf(1), ""
	for _, x := range s.Rules {
		if x.Planted > 0 && x.Recall < v {
			v, which = x.Recall, x.Rule
		}
	}
	return v, which
}

func minPrecision(s *score) (float64, string) {
	v, which := math.Inf(1), ""
	for _, x := range s.Rules {
		if x.Precision < v {
			v, which = x.Precision, x.Rule
		}
	}
	return v, which
}

// accuracy prints the per-rule table of check-pii and gitleaks.
func (r *reporter) accuracy() {
	pii := r.scores[checkPIITwoCores]
	if pii == nil {
		pii = r.scores[checkPIIOneCore]
	}
	gl := r.scores[gitleaks]
	if pii == nil && gl == nil {
		return
	}
	r.p("Accuracy per rule (found / planted, recall, false positives, precision; gitleaks on the secret rules only):\n\n")
	r.p("| rule | planted | check-pii | gitleaks |\n|---|---:|---|---|\n")
	var order []string
	planted := map[string]int{}
	for _, s := range []*score{pii, gl} {
		if s == nil {
			continue
		}
		for _, x := range s.Rules {
			if _, ok := planted[x.Rule]; !ok {
				order = append(order, x.Rule)
			}
			planted[x.Rule] = max(planted[x.Rule], x.Planted)
		}
	}
	cell := func(s *score, rule string) string {
		if s == nil {
			return "not run"
		}
		for _, x := range s.Rules {
			if x.Rule == rule {
				if x.Planted == 0 {
					return fmt.Sprintf("%d FP", x.FalsePositives)
				}
				return fmt.Sprintf("%d, %.3f, %d FP, %.3f", x.Found, x.Recall, x.FalsePositives, x.Precision)
			}
		}
		return "–"
	}
	for _, rule := range order {
		r.p("| %s | %d | %s | %s |\n", rule, planted[rule], cell(pii, rule), cell(gl, rule))
	}
	other := func(s *score, f func(*score) string) string {
		if s == nil {
			return "not run"
		}
		return f(s)
	}
	r.p("| decoy hits | | %s | %s |\n", other(pii, decoys), other(gl, decoys))
	r.p("| background false positives | | %s | %s |\n", other(pii, func(s *score) string { return strconv.Itoa(s.BackgroundFP) }), other(gl, func(s *score) string { return strconv.Itoa(s.BackgroundFP) }))
	r.p("| findings of another rule on a planted line | | %s | %s |\n", other(pii, func(s *score) string { return strconv.Itoa(s.CrossRule) }), other(gl, func(s *score) string { return strconv.Itoa(s.CrossRule) }))
	if gl != nil && gl.Unmapped > 0 {
		r.p("| gitleaks findings of rules with no equivalent | | | %s |\n", kv(gl.UnmappedByRule))
	}
	if a, b := r.scores[checkPIIOneCore], r.scores[checkPIITwoCores]; a != nil && b != nil {
		sa, _ := json.Marshal(a)
		sb, _ := json.Marshal(b)
		if string(sa) != string(sb) {
			r.p("\nThe one-core and two-core reports of check-pii score differently: the table shows the two-core one.\n")
		}
	}
	r.p("\n")
}

func decoys(s *score) string {
	if s.DecoyHits == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", s.DecoyHits, kv(s.DecoyHitsByKind))
}

// kv prints counts, largest first.
func kv(m map[string]int) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func (r *reporter) mutatorSection() {
	if len(r.mut) == 0 {
		return
	}
	r.p("mutator-redact on a typical event (`piibench event`: 4 KB of check output with three email addresses and a card number):\n\n")
	if n := r.mut["process_note"]; n != "" {
		r.p("- whole process: %s\n", n)
	} else {
		r.p("- whole process (fork, exec, read, redact, write; %s runs): mean %s ms, p95 %s ms, peak RSS %.1f MB\n",
			r.mut["process_runs"], r.mut["process_mean_ms"], r.mut["process_p95_ms"], num(r.mut["process_rss_kib"])*1024/1e6)
	}
	if n := r.mut["bench_note"]; n != "" {
		r.p("- redaction alone (BenchmarkRedactTypicalEvent): %s\n", n)
	} else {
		r.p("- redaction alone (BenchmarkRedactTypicalEvent): %.0f ns/op (%.3f ms)\n", num(r.mut["bench_ns_op"]), num(r.mut["bench_ns_op"])/1e6)
	}
	r.p("\n")
}

func num(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// targets prints the table of targets.
func (r *reporter) targets() {
	r.p("| target | measured | |\n|---|---|---|\n")
	speed := func(label, cores string, target float64) {
		x := r.find("check-pii", cores)
		if x == nil || x.note != "" {
			note := "not measured"
			if x != nil {
				note = x.note
			}
			r.p("| %s | %s | **not met** |\n", label, note)
			return
		}
		v := r.mbps(x.min)
		r.p("| %s | %.0f MB/s (median %.0f) | %s |\n", label, v, r.mbps(x.median), mark(v >= target))
	}
	speed("check-pii ≥ 400 MB/s on one core", "1", targetOneCore)
	speed("check-pii ≥ 700 MB/s on two cores", "2", targetTwoCores)

	var pii []*score
	for _, n := range []string{checkPIIOneCore, checkPIITwoCores} {
		if s := r.scores[n]; s != nil {
			pii = append(pii, s)
		}
	}
	if len(pii) == 0 {
		r.p("| recall ≥ 0.99 per type | no check-pii report | **not met** |\n")
		r.p("| precision ≥ 0.99 per type | no check-pii report | **not met** |\n")
		r.p("| no decoy hit | no check-pii report | **not met** |\n")
	} else {
		rec, recRule, prec, precRule, hits := math.Inf(1), "", math.Inf(1), "", 0
		for _, s := range pii {
			if v, w := minRecall(s); v < rec {
				rec, recRule = v, w
			}
			if v, w := minPrecision(s); v < prec {
				prec, precRule = v, w
			}
			hits = max(hits, s.DecoyHits)
		}
		r.p("| recall ≥ 0.99 per type | lowest %.4f (%s) | %s |\n", rec, recRule, mark(rec >= targetRecall))
		r.p("| precision ≥ 0.99 per type | lowest %.4f (%s) | %s |\n", prec, precRule, mark(prec >= targetPrecision))
		r.p("| no decoy hit | %d | %s |\n", hits, mark(hits == 0))
	}
	rss, measured := 0.0, false
	for _, x := range r.rows {
		if strings.HasPrefix(x.name, "check-pii") && x.note == "" {
			rss, measured = math.Max(rss, x.rssKiB*1024), true
		}
	}
	if measured {
		r.p("| check-pii peak RSS ≤ 32 MB | %.1f MB | %s |\n", rss/1e6, mark(rss <= targetRSSBytes))
	} else {
		r.p("| check-pii peak RSS ≤ 32 MB | not measured | **not met** |\n")
	}
	if n := r.mut["bench_note"]; n != "" || r.mut["bench_ns_op"] == "" {
		r.p("| mutator-redact redaction ≤ 0.2 ms per typical event | %s | **not met** |\n", or(n, "not measured"))
	} else {
		ms := num(r.mut["bench_ns_op"]) / 1e6
		r.p("| mutator-redact redaction ≤ 0.2 ms per typical event | %.3f ms | %s |\n", ms, mark(ms <= targetRedactMs))
	}
	if n := r.mut["process_note"]; n != "" || r.mut["process_mean_ms"] == "" {
		r.p("| mutator-redact process ≤ 20 ms | %s | **not met** |\n", or(n, "not measured"))
	} else {
		mean := num(r.mut["process_mean_ms"])
		r.p("| mutator-redact process ≤ 20 ms (mean) | %.1f ms (p95 %s ms) | %s |\n", mean, r.mut["process_p95_ms"], mark(mean <= targetProcessMs))
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func readRows(path string) ([]row, error) {
	lines, err := benchkit.ReadTSV(path, 7, 7)
	var rows []row
	for _, p := range lines {
		x := row{name: p[0], cores: p[1], note: p[6]}
		x.min, _ = strconv.ParseFloat(p[2], 64)
		x.median, _ = strconv.ParseFloat(p[3], 64)
		x.rssKiB, _ = strconv.ParseFloat(p[4], 64)
		x.runs, _ = strconv.Atoi(p[5])
		rows = append(rows, x)
	}
	return rows, err
}

func readKV(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "\t"); ok {
			m[k] = v
		}
	}
	return m, nil
}
