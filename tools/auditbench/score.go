package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

// checkReport is the part of check-audit-log's --format json report the
// scorer reads.
type checkReport struct {
	Plugin   string          `json:"plugin"`
	Findings []reportFinding `json:"findings"`
	Total    *int            `json:"findings_total"`
	Metrics  []struct {
		Name  string            `json:"name"`
		Value float64           `json:"value"`
		Tags  map[string]string `json:"tags"`
	} `json:"metrics"`
}

// reportFinding is one finding of the report.
type reportFinding struct {
	Rule     string `json:"rule"`
	Severity string `json:"severity"`
	Object   string `json:"object"`
	Actor    string `json:"actor"`
	Source   string `json:"source"`
	Count    int    `json:"count"`
}

func (f *reportFinding) String() string {
	s := f.Rule
	if f.Actor != "" {
		s += " by " + f.Actor
	}
	if f.Source != "" {
		s += " from " + f.Source
	}
	if f.Object != "" {
		s += " on " + f.Object
	}
	return s
}

// severityRank orders the severity names of pkg/finding.
var severityRank = map[string]int{"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}

// RuleScore is one rule's line of a score.
type RuleScore struct {
	Rule string `json:"rule"`
	// Want is the truth's events count; nil for a window rule.
	Want *int `json:"want_events"`
	// Got is the report's events metric for the rule.
	Got float64 `json:"got_events"`
	// Expected and Found count the rule's expected findings and those in
	// the report; Benign counts its findings that match none.
	Expected int `json:"expected_findings"`
	Found    int `json:"found_findings"`
	Benign   int `json:"benign_findings"`
}

// Score is what score prints, and writes with --json.
type Score struct {
	File    string `json:"file"`
	Verdict string `json:"verdict"`
	Pass    bool   `json:"pass"`
	// Incidents found are those with every expected finding in the report.
	Incidents      int `json:"incidents"`
	IncidentsFound int `json:"incidents_found"`
	Expected       int `json:"expected_findings"`
	ExpectedFound  int `json:"expected_found"`
	// Findings in the report, and its own total (more when it left some
	// out: the score is then incomplete and fails).
	Findings      int         `json:"findings"`
	FindingsTotal int         `json:"findings_total"`
	Rules         []RuleScore `json:"rules"`
	// What is wrong, one sentence each.
	Missed        []string `json:"missed"`
	Benign        []string `json:"benign_findings"`
	WrongSeverity []string `json:"wrong_severity"`
	WrongEvents   []string `json:"wrong_events"`
	Incomplete    string   `json:"incomplete,omitempty"`
}

// readReport reads a check-audit-log --format json report.
func readReport(path string) (*checkReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	var rep checkReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read report %s: %w", path, err)
	}
	if rep.Total == nil {
		return nil, fmt.Errorf("read report %s: no findings_total: not a --format json report", path)
	}
	return &rep, nil
}

func scoreCmd(truthPath, file, reportPath, jsonOut string, stdout io.Writer) (int, error) {
	t, err := readTruth(truthPath)
	if err != nil {
		return 0, err
	}
	ft := t.Files[file]
	if ft == nil {
		return 0, fmt.Errorf("--file %s: the ground truth has %s", file, strings.Join(slices.Sorted(maps.Keys(t.Files)), " and "))
	}
	rep, err := readReport(reportPath)
	if err != nil {
		return 0, err
	}
	s := score(file, ft, rep)
	s.print(stdout)
	if jsonOut != "" {
		if err := benchkit.WriteJSON(jsonOut, s); err != nil {
			return 0, err
		}
	}
	if !s.Pass {
		return exitFailed, nil
	}
	return exitOK, nil
}

// score compares a report with the truth of its file.
func score(file string, ft *FileTruth, rep *checkReport) *Score {
	s := &Score{File: file, Incidents: len(ft.Incidents), Findings: len(rep.Findings), FindingsTotal: *rep.Total,
		Missed: []string{}, Benign: []string{}, WrongSeverity: []string{}, WrongEvents: []string{}}
	if s.FindingsTotal > s.Findings {
		s.Incomplete = fmt.Sprintf("the report holds %d of %d findings (run check-audit-log with --max-findings 0)", s.Findings, s.FindingsTotal)
	}
	rules := map[string]*RuleScore{}
	row := func(rule string) *RuleScore {
		if rules[rule] == nil {
			rules[rule] = &RuleScore{Rule: rule}
		}
		return rules[rule]
	}
	for rule, n := range ft.Events {
		row(rule).Want = &n
	}

	// Match every finding to the expectations it satisfies; the highest
	// severity seen per expectation.
	var expected []*Expected
	for _, inc := range ft.Incidents {
		expected = append(expected, inc.Findings...)
	}
	highest := make([]int, len(expected))
	for i := range highest {
		highest[i] = -1
	}
	benign := map[string]int{}
	var benignOrder []string
	for i := range rep.Findings {
		f := &rep.Findings[i]
		matched := false
		for j, e := range expected {
			if e.matches(f.Rule, f.Actor, f.Source) {
				matched = true
				highest[j] = max(highest[j], severityRank[strings.ToLower(f.Severity)])
			}
		}
		if !matched {
			row(f.Rule).Benign++
			key := f.String()
			if benign[key] == 0 {
				benignOrder = append(benignOrder, key)
			}
			benign[key]++
		}
	}
	for _, k := range benignOrder {
		if n := benign[k]; n > 1 {
			k += fmt.Sprintf(" (%d findings)", n)
		}
		s.Benign = append(s.Benign, k)
	}
	j := 0
	for _, inc := range ft.Incidents {
		found := true
		for _, e := range inc.Findings {
			r := row(e.Rule)
			r.Expected++
			s.Expected++
			h := highest[j]
			j++
			if h < 0 {
				found = false
				s.Missed = append(s.Missed, fmt.Sprintf("%s %s (%s)", e.Rule, e.who(), inc.ID))
				continue
			}
			r.Found++
			s.ExpectedFound++
			if len(e.Severity) > 0 && !slices.Contains(e.Severity, severityName(h)) {
				s.WrongSeverity = append(s.WrongSeverity, fmt.Sprintf("%s %s is %s, want %s", e.Rule, e.who(), severityName(h), strings.Join(e.Severity, " or ")))
			}
		}
		if found {
			s.IncidentsFound++
		}
	}

	// The events metric, summed per rule tag.
	for _, m := range rep.Metrics {
		if m.Name == "events" && m.Tags["rule"] != "" {
			row(m.Tags["rule"]).Got += m.Value
		}
	}
	window := map[string]bool{}
	for _, e := range expected {
		if ft.Events[e.Rule] == 0 {
			window[e.Rule] = true
		}
	}
	for _, rule := range slices.Sorted(maps.Keys(rules)) {
		r := rules[rule]
		s.Rules = append(s.Rules, *r)
		switch {
		case r.Want != nil && r.Got != float64(*r.Want):
			s.WrongEvents = append(s.WrongEvents, fmt.Sprintf("%s %s, want %d", rule, strconv.FormatFloat(r.Got, 'f', -1, 64), *r.Want))
		case r.Want == nil && !window[rule] && r.Got != 0:
			s.WrongEvents = append(s.WrongEvents, fmt.Sprintf("%s %s, want 0", rule, strconv.FormatFloat(r.Got, 'f', -1, 64)))
		}
	}
	s.Pass = s.IncidentsFound == s.Incidents && len(s.Benign) == 0 && len(s.WrongSeverity) == 0 && len(s.WrongEvents) == 0 && s.Incomplete == ""
	s.Verdict = s.verdict()
	return s
}

func severityName(rank int) string {
	for name, r := range severityRank {
		if r == rank {
			return name
		}
	}
	return "none"
}

// verdict is the one line the report's table shows.
func (s *Score) verdict() string {
	benignFindings := 0
	for _, r := range s.Rules {
		benignFindings += r.Benign
	}
	if s.Pass {
		return fmt.Sprintf("all %d planted incidents found (%d findings), 0 findings on benign traffic", s.Incidents, s.Expected)
	}
	var parts []string
	if s.IncidentsFound < s.Incidents {
		parts = append(parts, fmt.Sprintf("%d of %d planted incidents found, missing %s", s.IncidentsFound, s.Incidents, few(s.Missed)))
	} else {
		parts = append(parts, fmt.Sprintf("all %d planted incidents found", s.Incidents))
	}
	parts = append(parts, fmt.Sprintf("%d findings on benign traffic%s", benignFindings, paren(s.Benign)))
	if len(s.WrongSeverity) > 0 {
		parts = append(parts, "wrong severity: "+few(s.WrongSeverity))
	}
	if len(s.WrongEvents) > 0 {
		parts = append(parts, "events metric wrong: "+few(s.WrongEvents))
	}
	if s.Incomplete != "" {
		parts = append(parts, s.Incomplete)
	}
	return strings.Join(parts, "; ")
}

// few joins the first three items and says how many more there are.
func few(items []string) string {
	if len(items) <= 3 {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:3], ", ") + fmt.Sprintf(" and %d more", len(items)-3)
}

func paren(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return " (" + few(items) + ")"
}

// print writes the verdict, then the details.
func (s *Score) print(w io.Writer) {
	status := "PASS"
	if !s.Pass {
		status = "FAIL"
	}
	fmt.Fprintf(w, "%s %s: %s\n", status, s.File, s.Verdict)
	fmt.Fprintf(w, "  %d findings in the report (findings_total %d); %d of %d expected findings, %d of %d incidents\n",
		s.Findings, s.FindingsTotal, s.ExpectedFound, s.Expected, s.IncidentsFound, s.Incidents)
	fmt.Fprintf(w, "  %-28s %8s %8s %10s %7s\n", "rule", "events", "want", "findings", "benign")
	for _, r := range s.Rules {
		want := "-"
		if r.Want != nil {
			want = strconv.Itoa(*r.Want)
		}
		fmt.Fprintf(w, "  %-28s %8s %8s %6d/%-3d %7d\n", r.Rule, strconv.FormatFloat(r.Got, 'f', -1, 64), want, r.Found, r.Expected, r.Benign)
	}
	for _, x := range []struct {
		title string
		items []string
	}{{"missed", s.Missed}, {"finding on benign traffic", s.Benign}, {"wrong severity", s.WrongSeverity}, {"wrong events metric", s.WrongEvents}} {
		for _, it := range x.items {
			fmt.Fprintf(w, "  %s: %s\n", x.title, it)
		}
	}
	if s.Incomplete != "" {
		fmt.Fprintf(w, "  %s\n", s.Incomplete)
	}
}
