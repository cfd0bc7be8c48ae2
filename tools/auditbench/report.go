package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

// The targets of the issue, for check-audit-log on one core.
const (
	targetK8sMBps  = 100.0
	targetAuthMBps = 300.0
	targetRSSBytes = 64e6
	checkName      = "check-audit-log"
)

// reportOptions are report's flags.
type reportOptions struct {
	truth, results string
	scores         []string
	nproc, runs    int
	load, jq       string
}

// row is one timed tool of RESULTS.tsv: name, file, minimum and median
// wall seconds, peak RSS in KiB, runs, a note that replaces the numbers
// when they are missing ("not built", "failed (exit 3)"), and the lines
// the tool printed (for jq: the lines it selected).
type row struct {
	name, file  string
	min, median float64
	rssKiB      float64
	runs        int
	note        string
	selected    string
}

func readRows(path string) ([]row, error) {
	lines, err := benchkit.ReadTSV(path, 7, 8)
	var rows []row
	for _, p := range lines {
		x := row{name: p[0], file: p[1], note: p[6]}
		x.min, _ = strconv.ParseFloat(p[2], 64)
		x.median, _ = strconv.ParseFloat(p[3], 64)
		x.rssKiB, _ = strconv.ParseFloat(p[4], 64)
		x.runs, _ = strconv.Atoi(p[5])
		if len(p) > 7 {
			x.selected = p[7]
		}
		rows = append(rows, x)
	}
	return rows, err
}

type reporter struct {
	w      io.Writer
	truth  *Truth
	rows   []row
	scores map[string]*Score // by file
}

func writeReport(o reportOptions, w io.Writer) error {
	t, err := readTruth(o.truth)
	if err != nil {
		return err
	}
	rows, err := readRows(o.results)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	r := &reporter{w: w, truth: t, rows: rows, scores: map[string]*Score{}}
	for _, s := range o.scores {
		file, path, ok := strings.Cut(s, "=")
		if !ok {
			return fmt.Errorf("--score %q is not FILE=SCORE.json", s)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			continue // the check did not run: its rows say why
		}
		var v Score
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("read score %s: %w", path, err)
		}
		r.scores[file] = &v
	}
	r.write(o)
	return nil
}

func (r *reporter) p(format string, a ...any) { fmt.Fprintf(r.w, format, a...) }

func (r *reporter) file(name string) *FileTruth {
	if ft := r.truth.Files[name]; ft != nil {
		return ft
	}
	return &FileTruth{}
}

func (r *reporter) write(o reportOptions) {
	k8s, auth := r.file(k8sFile), r.file(authFile)
	r.p("## Audit logs: `make bench-audit`\n\n")
	r.p("Corpus: `%s` (tools/auditbench): %s, %.1f MB in %s Kubernetes audit events (%.0f bytes on average) with %d planted incidents in %d lines, the rest the benign traffic of a 12-node cluster; %s, %.1f MB in %s syslog lines of three hosts (RFC 3339 and traditional timestamps, sshd and sshd-session) with %d planted incidents in %d lines.",
		r.truth.Command, k8sFile, float64(k8s.Bytes)/1e6, thousands(k8s.Lines), float64(k8s.Bytes)/float64(max(k8s.Lines, 1)), len(k8s.Incidents), k8s.PlantedLines,
		authFile, float64(auth.Bytes)/1e6, thousands(auth.Lines), len(auth.Incidents), auth.PlantedLines)
	r.p(" Machine: %d CPUs", o.nproc)
	if o.load != "" {
		r.p(", load %s at the start", o.load)
	}
	if o.jq != "" {
		r.p("; %s (Debian)", o.jq)
	}
	r.p(".\n\n")
	r.p("Warm cache, %d runs per tool: MB/s and events/s are the file's size and events over the wall time, best (minimum time) / median; peak RSS is the largest over the runs. check-audit-log runs on one core (`taskset -c 0`) with `--format json --max-findings 0`; jq applies the same per-event rules (not the windows, not the de-duplication of exec stages).\n\n", o.runs)
	r.p("| tool | input | MB/s best / median | events/s (k8s) | wall s min / median | peak RSS MB | accuracy |\n|---|---|---:|---:|---:|---:|---|\n")
	for _, x := range r.rows {
		ft := r.file(x.file)
		acc := r.accuracy(x, ft)
		if x.note != "" {
			r.p("| %s | %s | %s | | | | %s |\n", esc(x.name), x.file, x.note, acc)
			continue
		}
		mb := float64(ft.Bytes) / 1e6
		events := ""
		if ft.Source == "k8s" {
			events = fmt.Sprintf("%s / %s", thousands(int64(float64(ft.Lines)/x.min)), thousands(int64(float64(ft.Lines)/x.median)))
		}
		r.p("| %s | %s | %.0f / %.0f | %s | %.3f / %.3f | %.1f | %s |\n", esc(x.name), x.file, mb/x.min, mb/x.median, events, x.min, x.median, x.rssKiB*1024/1e6, acc)
	}
	r.p("\n")
	r.rules()
	r.targets()
}

// accuracy is a row's last cell: the verdict of a check row's report, the
// lines a jq row selected.
func (r *reporter) accuracy(x row, ft *FileTruth) string {
	switch {
	case strings.HasPrefix(x.name, checkName):
		if s := r.scores[x.file]; s != nil {
			return esc(s.Verdict)
		}
		if x.note == "" {
			return "not scored"
		}
	case strings.HasPrefix(x.name, "jq") && x.selected != "":
		return fmt.Sprintf("selects %s lines (the per-line rules match %d)", x.selected, ft.MatchingLines)
	}
	return ""
}

// rules prints the events metric and the findings per rule of the
// check's reports.
func (r *reporter) rules() {
	if len(r.scores) == 0 {
		return
	}
	r.p("check-audit-log per rule (events metric / planted events; expected findings found; findings on benign traffic):\n\n")
	r.p("| input | rule | events | expected findings found | findings on benign traffic |\n|---|---|---:|---:|---:|\n")
	for _, file := range []string{k8sFile, authFile} {
		s := r.scores[file]
		if s == nil {
			continue
		}
		for _, x := range s.Rules {
			want := "window rule"
			if x.Want != nil {
				want = strconv.Itoa(*x.Want)
			}
			r.p("| %s | %s | %s / %s | %d / %d | %d |\n", file, x.Rule, strconv.FormatFloat(x.Got, 'f', -1, 64), want, x.Found, x.Expected, x.Benign)
		}
	}
	r.p("\n")
}

func mark(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// check returns the check-audit-log row of a file.
func (r *reporter) check(file string) *row {
	for i := range r.rows {
		if strings.HasPrefix(r.rows[i].name, checkName) && r.rows[i].file == file {
			return &r.rows[i]
		}
	}
	return nil
}

func (r *reporter) targets() {
	r.p("| target | measured | |\n|---|---|---|\n")
	speed := func(label, file string, target float64) {
		x := r.check(file)
		if x == nil || x.note != "" {
			note := "not measured"
			if x != nil {
				note = x.note
			}
			r.p("| %s | %s | **not met** |\n", label, note)
			return
		}
		ft := r.file(file)
		v := float64(ft.Bytes) / 1e6 / x.min
		extra := ""
		if ft.Source == "k8s" {
			extra = fmt.Sprintf(", %s events/s", thousands(int64(float64(ft.Lines)/x.min)))
		}
		r.p("| %s | %.0f MB/s%s (median %.0f MB/s) | %s |\n", label, v, extra, float64(ft.Bytes)/1e6/x.median, mark(v >= target))
	}
	speed("check-audit-log ≥ 100 MB/s of Kubernetes audit JSON on one core (about 200,000 events/s)", k8sFile, targetK8sMBps)
	speed("check-audit-log ≥ 300 MB/s of auth log on one core", authFile, targetAuthMBps)
	rss, measured := 0.0, false
	for _, x := range r.rows {
		if strings.HasPrefix(x.name, checkName) && x.note == "" {
			rss, measured = math.Max(rss, x.rssKiB*1024), true
		}
	}
	if measured {
		r.p("| check-audit-log peak RSS ≤ 64 MB | %.1f MB | %s |\n", rss/1e6, mark(rss <= targetRSSBytes))
	} else {
		r.p("| check-audit-log peak RSS ≤ 64 MB | not measured | **not met** |\n")
	}
	var verdicts []string
	pass := true
	for _, file := range []string{k8sFile, authFile} {
		if s := r.scores[file]; s != nil {
			verdicts = append(verdicts, file+": "+esc(s.Verdict))
			pass = pass && s.Pass
		} else {
			verdicts = append(verdicts, file+": no report")
			pass = false
		}
	}
	r.p("| every planted incident found with the right rule, no finding on benign traffic | %s | %s |\n", strings.Join(verdicts, "; "), mark(pass))
}

// thousands prints n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func esc(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
