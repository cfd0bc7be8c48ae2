package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The targets a scored tool must meet on every planted rule.
const (
	minRecall    = 0.99
	minPrecision = 0.99
)

// A located finding, from any tool's report.
type located struct {
	file       string
	line, col  int
	rule, name string // rule: mapped to ours; name: the tool's own id
}

// RuleScore is one rule's row.
type RuleScore struct {
	Rule           string  `json:"rule"`
	Planted        int     `json:"planted"`
	Found          int     `json:"found"`
	Recall         float64 `json:"recall"`
	FalsePositives int     `json:"false_positives"`
	Precision      float64 `json:"precision"`
}

// Score is what score and score-gitleaks print, and write with --json.
type Score struct {
	Tool     string `json:"tool"`
	Findings int    `json:"findings"`
	// Total is the report's own count, more than Findings when the report
	// left some out; the score is then incomplete and fails.
	Total int         `json:"findings_total"`
	Rules []RuleScore `json:"rules"`
	// DecoyHits counts the decoys with a finding on their line, also by
	// decoy kind (every such finding is also a false positive of its rule).
	DecoyHits       int            `json:"decoy_hits"`
	DecoyHitsByKind map[string]int `json:"decoy_hits_by_kind"`
	// BackgroundFP counts findings on lines where nothing was planted.
	BackgroundFP       int            `json:"background_fp"`
	BackgroundFPByRule map[string]int `json:"background_fp_by_rule"`
	// CrossRule counts findings of one rule on a line planted with another.
	CrossRule int `json:"cross_rule"`
	// Unmapped counts a peer's findings whose rule has no equivalent here.
	Unmapped       int            `json:"unmapped"`
	UnmappedByRule map[string]int `json:"unmapped_by_rule,omitempty"`
	// Duplicates are further findings of an already found item.
	Duplicates int `json:"duplicates"`
	// ColMismatches are found items reported at another column.
	ColMismatches int `json:"col_mismatches"`
	// MissedByVariant counts the missed items, by "rule/variant in file".
	MissedByVariant map[string]int `json:"missed_by_variant"`
	Failures        []string       `json:"failures"`
	Pass            bool           `json:"pass"`
	// Examples are a few missed items and false positives of each kind.
	Examples []string `json:"examples"`
}

// truth is the ground truth indexed by line.
type truth struct {
	planted []Item
	decoys  []Item
	// at maps "file:line" to an index: planted i as i, decoy j as -1-j.
	at map[string]int
}

func loadTruth(dir string) (*truth, error) {
	planted, err := readItems(filepath.Join(dir, truthFile))
	if err != nil {
		return nil, err
	}
	decoys, err := readItems(filepath.Join(dir, decoysFile))
	if err != nil {
		return nil, err
	}
	t := &truth{planted: planted, decoys: decoys, at: map[string]int{}}
	mark := func(it Item, idx int) {
		for k := range it.lines() {
			t.at[it.File+":"+strconv.Itoa(it.Line+k)] = idx
		}
	}
	for i, it := range planted {
		mark(it, i)
	}
	for j, it := range decoys {
		mark(it, -1-j)
	}
	return t, nil
}

// parseLocation splits FILE:LINE:COL on the last two colons (FILE may
// hold colons).
func parseLocation(loc string) (file string, line, col int, err error) {
	j := strings.LastIndexByte(loc, ':')
	if j < 0 {
		return "", 0, 0, fmt.Errorf("location %q is not FILE:LINE:COL", loc)
	}
	i := strings.LastIndexByte(loc[:j], ':')
	if i < 0 {
		return "", 0, 0, fmt.Errorf("location %q is not FILE:LINE:COL", loc)
	}
	line, err1 := strconv.Atoi(loc[i+1 : j])
	col, err2 := strconv.Atoi(loc[j+1:])
	if err := errors.Join(err1, err2); err != nil {
		return "", 0, 0, fmt.Errorf("location %q is not FILE:LINE:COL: %w", loc, err)
	}
	return loc[:i], line, col, nil
}

// relFile names a reported path as the ground truth does: relative to
// the logs directory, or by its base name when it is elsewhere.
func relFile(logs, p string) string {
	if filepath.IsAbs(p) {
		if r, err := filepath.Rel(logs, p); err == nil && !strings.HasPrefix(r, "..") {
			return filepath.ToSlash(r)
		}
	} else if r, err := filepath.Rel(logs, filepath.Join(logs, p)); err == nil && !strings.HasPrefix(r, "..") && slices.Contains(fileNames[:], r) {
		return r
	}
	return filepath.Base(p)
}

// readCheckPII reads a check-pii --format json report and returns its
// findings and findings_total.
func readCheckPII(path, logs string) ([]located, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read check-pii report: %w", err)
	}
	var rep struct {
		Plugin   string `json:"plugin"`
		Findings []struct {
			Rule     string `json:"rule"`
			Location string `json:"location"`
		} `json:"findings"`
		Total *int `json:"findings_total"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, 0, fmt.Errorf("read check-pii report %s: %w", path, err)
	}
	if rep.Total == nil {
		return nil, 0, fmt.Errorf("read check-pii report %s: no findings_total: not a --format json report", path)
	}
	out := make([]located, 0, len(rep.Findings))
	for _, f := range rep.Findings {
		file, line, col, err := parseLocation(f.Location)
		if err != nil {
			return nil, 0, fmt.Errorf("read check-pii report %s: finding %s: %w", path, f.Rule, err)
		}
		out = append(out, located{file: relFile(logs, file), line: line, col: col, rule: f.Rule, name: f.Rule})
	}
	return out, *rep.Total, nil
}

// gitleaksRules maps gitleaks v8 rule ids to ours; slack-* is a prefix.
var gitleaksRules = map[string]string{
	"aws-access-token":     ruleAWS,
	"github-pat":           ruleGitHub,
	"github-oauth":         ruleGitHub,
	"github-app-token":     ruleGitHub,
	"github-refresh-token": ruleGitHub,
	"stripe-access-token":  ruleStripe,
	"jwt":                  ruleJWT,
	"private-key":          rulePrivKey,
}

// gitleaksRule maps a gitleaks rule id, or returns "".
func gitleaksRule(id string) string {
	if strings.HasPrefix(id, "slack-") {
		return ruleSlack
	}
	return gitleaksRules[id]
}

// readGitleaks reads a gitleaks --report-format json report.
func readGitleaks(path, logs string) ([]located, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read gitleaks report: %w", err)
	}
	var rep []struct {
		File        string
		StartLine   int
		StartColumn int
		RuleID      string
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("read gitleaks report %s: %w", path, err)
	}
	out := make([]located, 0, len(rep))
	for _, f := range rep {
		out = append(out, located{file: relFile(logs, f.File), line: f.StartLine, col: f.StartColumn, rule: gitleaksRule(f.RuleID), name: f.RuleID})
	}
	return out, nil
}

// score compares findings with the truth. rules are the planted rules
// the tool is held to; a finding of any other rule is a false positive
// (or, for a peer's rule with no equivalent, counted as unmapped).
func (t *truth) score(tool string, findings []located, rules []string) *Score {
	s := &Score{Tool: tool, Findings: len(findings), Total: len(findings), DecoyHitsByKind: map[string]int{}, BackgroundFPByRule: map[string]int{},
		UnmappedByRule: map[string]int{}, MissedByVariant: map[string]int{}}
	found := make([]bool, len(t.planted))
	decoyHit := make([]bool, len(t.decoys))
	fp := map[string]int{}
	seen := map[string]bool{}
	shown := map[string]int{}
	example := func(kind, format string, a ...any) {
		if shown[kind] < 8 {
			shown[kind]++
			s.Examples = append(s.Examples, kind+": "+fmt.Sprintf(format, a...))
		}
	}
	for _, f := range findings {
		key := f.file + ":" + strconv.Itoa(f.line)
		if seen[key+":"+f.name] {
			s.Duplicates++
			continue
		}
		seen[key+":"+f.name] = true
		idx, onItem := t.at[key]
		switch {
		case onItem && idx >= 0 && t.planted[idx].Rule == f.rule:
			if found[idx] {
				s.Duplicates++
				continue
			}
			found[idx] = true
			if it := t.planted[idx]; it.Line == f.line && it.Col != f.col {
				s.ColMismatches++
			}
			continue
		case onItem && idx < 0:
			d := t.decoys[-1-idx]
			if !decoyHit[-1-idx] {
				decoyHit[-1-idx] = true
				s.DecoyHits++
				s.DecoyHitsByKind[d.Kind]++
			}
			example("decoy hit", "%s at %s:%d:%d on a %s decoy (%s)", f.name, f.file, f.line, f.col, d.Kind, d.Variant)
		case onItem:
			s.CrossRule++
			example("cross-rule", "%s at %s:%d:%d on a %s line", f.name, f.file, f.line, f.col, t.planted[idx].Rule)
		default:
			s.BackgroundFP++
			s.BackgroundFPByRule[f.name]++
			example("background", "%s at %s:%d:%d", f.name, f.file, f.line, f.col)
		}
		if f.rule == "" {
			s.Unmapped++
			s.UnmappedByRule[f.name]++
		} else {
			fp[f.rule]++
		}
	}
	planted, hits := map[string]int{}, map[string]int{}
	for i, it := range t.planted {
		if !slices.Contains(rules, it.Rule) {
			continue
		}
		planted[it.Rule]++
		if found[i] {
			hits[it.Rule]++
		} else {
			s.MissedByVariant[it.Rule+"/"+it.Variant+" in "+it.File]++
			example("missed", "%s (%s) at %s:%d:%d", it.Rule, it.Variant, it.File, it.Line, it.Col)
		}
	}
	all := slices.Clone(rules)
	for _, r := range slices.Sorted(maps.Keys(fp)) {
		if !slices.Contains(all, r) {
			all = append(all, r)
		}
	}
	for _, r := range all {
		// A rule with nothing planted keeps recall 0 (printed "-"): only
		// its false positives count.
		rs := RuleScore{Rule: r, Planted: planted[r], Found: hits[r], FalsePositives: fp[r], Precision: 1}
		if rs.Planted > 0 {
			rs.Recall = float64(rs.Found) / float64(rs.Planted)
		}
		if rs.Found+rs.FalsePositives > 0 {
			rs.Precision = float64(rs.Found) / float64(rs.Found+rs.FalsePositives)
		}
		if rs.Planted > 0 && rs.Recall < minRecall {
			s.Failures = append(s.Failures, fmt.Sprintf("%s recall %.4f < %.2f", r, rs.Recall, minRecall))
		}
		if rs.Precision < minPrecision {
			s.Failures = append(s.Failures, fmt.Sprintf("%s precision %.4f < %.2f", r, rs.Precision, minPrecision))
		}
		s.Rules = append(s.Rules, rs)
	}
	if s.DecoyHits > 0 {
		s.Failures = append(s.Failures, fmt.Sprintf("%d decoy hits", s.DecoyHits))
	}
	s.Pass = len(s.Failures) == 0
	return s
}

// print writes the score as a table.
func (s *Score) print(w io.Writer) {
	fmt.Fprintf(w, "%s: %d findings\n", s.Tool, s.Findings)
	if s.Total > s.Findings {
		fmt.Fprintf(w, "  WARNING: the report holds %d of its %d findings: the score counts only those\n", s.Findings, s.Total)
	}
	fmt.Fprintf(w, "  %-26s %7s %7s %7s %6s %9s\n", "rule", "planted", "found", "recall", "FP", "precision")
	for _, r := range s.Rules {
		recall := fmt.Sprintf("%.4f", r.Recall)
		if r.Planted == 0 {
			recall = "-"
		}
		fmt.Fprintf(w, "  %-26s %7d %7d %7s %6d %9.4f\n", r.Rule, r.Planted, r.Found, recall, r.FalsePositives, r.Precision)
	}
	fmt.Fprintf(w, "  decoy hits: %d%s\n", s.DecoyHits, counts(s.DecoyHitsByKind))
	fmt.Fprintf(w, "  background false positives (lines with nothing planted): %d%s\n", s.BackgroundFP, counts(s.BackgroundFPByRule))
	fmt.Fprintf(w, "  findings of one rule on a line planted with another: %d\n", s.CrossRule)
	if s.Unmapped > 0 {
		fmt.Fprintf(w, "  findings of rules with no equivalent: %d%s\n", s.Unmapped, counts(s.UnmappedByRule))
	}
	fmt.Fprintf(w, "  duplicates: %d, found at another column: %d\n", s.Duplicates, s.ColMismatches)
	if len(s.MissedByVariant) > 0 {
		fmt.Fprintf(w, "  missed by variant:%s\n", counts(s.MissedByVariant))
	}
	for _, e := range s.Examples {
		fmt.Fprintf(w, "    %s\n", e)
	}
	if s.Pass {
		fmt.Fprintf(w, "  PASS: recall and precision >= %.2f on every rule, no decoy hit\n", minRecall)
	} else {
		fmt.Fprintf(w, "  FAIL: %s\n", strings.Join(s.Failures, "; "))
	}
}

// counts prints a map as " (k n, k n)", largest first.
func counts(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + strconv.Itoa(m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
