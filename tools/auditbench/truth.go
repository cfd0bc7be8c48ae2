package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

// Truth is ground_truth.json: what gen wrote into each log file.
type Truth struct {
	// Command is the gen command line that wrote the corpus.
	Command string `json:"command"`
	Seed    uint64 `json:"seed"`
	// Start is the beginning of the logged day (UTC).
	Start string `json:"start"`
	// Files are keyed by the base name of the log file.
	Files map[string]*FileTruth `json:"files"`
}

// FileTruth is the ground truth of one log file.
type FileTruth struct {
	// Source is check-audit-log's --source for the file: k8s or auth.
	Source string `json:"source"`
	Bytes  int64  `json:"bytes"`
	Lines  int64  `json:"lines"`
	// PlantedLines are the lines written by the incidents, BenignLines
	// the others (Lines = BenignLines + PlantedLines). Planted lines
	// include the ones that must not count (a RequestReceived stage, the
	// PAM line of a failed ssh login, the session lines around an
	// accepted login or a sudo command).
	BenignLines  int64 `json:"benign_lines"`
	PlantedLines int64 `json:"planted_lines"`
	// MatchingLines are the lines a per-line filter of the rules selects,
	// without windows and without de-duplication (what the jq rows
	// should select): both stages of an exec, not the RequestReceived
	// stage, not the denied requests of a burst.
	MatchingLines int64 `json:"matching_lines"`
	// Events is the expected value of check-audit-log's metric events
	// per rule tag: the log events (one per auditID for Kubernetes, one
	// per line for auth) that match the rule. The window rules
	// k8s.denied_burst and k8s.policy_level_low have no count here.
	Events map[string]int `json:"events"`
	// Incidents are the planted scenarios and the findings each must
	// produce.
	Incidents []*Incident `json:"incidents"`
}

// Incident is one planted scenario.
type Incident struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Findings must all be in the report for the incident to be found.
	Findings []*Expected `json:"findings"`
	// Lines are the 1-based numbers of every line the incident wrote.
	Lines []int64 `json:"lines"`
}

// Expected is a finding the check must report. A report finding matches
// it when the rules are equal and the finding's actor equals Actor or its
// source equals Source; an Expected with neither matches any finding of
// its rule.
type Expected struct {
	Rule   string `json:"rule"`
	Actor  string `json:"actor,omitempty"`
	Source string `json:"source,omitempty"`
	// Severity, when set, lists the accepted values of the highest
	// severity among the matching findings.
	Severity []string `json:"severity,omitempty"`
	// Events is how many planted log events the finding stands for
	// (informative: the scorer checks the events metric per rule, not
	// the findings' counts). 0 for the window rules.
	Events int `json:"events,omitempty"`
}

// matches reports whether a report finding satisfies e.
func (e *Expected) matches(rule, actor, source string) bool {
	if rule != e.Rule {
		return false
	}
	if e.Actor == "" && e.Source == "" {
		return true
	}
	return (e.Actor != "" && actor == e.Actor) || (e.Source != "" && source == e.Source)
}

// who names the expected actor and source for messages.
func (e *Expected) who() string {
	switch {
	case e.Actor != "" && e.Source != "":
		return e.Actor + " from " + e.Source
	case e.Actor != "":
		return e.Actor
	case e.Source != "":
		return "from " + e.Source
	}
	return "(any actor)"
}

// readTruth reads ground_truth.json.
func readTruth(path string) (*Truth, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ground truth: %w", err)
	}
	var t Truth
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("read ground truth %s: %w", path, err)
	}
	if len(t.Files) == 0 {
		return nil, fmt.Errorf("read ground truth %s: no files", path)
	}
	return &t, nil
}

// writeTruth writes ground_truth.json, indented for a reader.
func writeTruth(path string, t *Truth) error { return benchkit.WriteJSON(path, t) }
