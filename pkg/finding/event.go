package finding

import (
	"bytes"
	"encoding/json"
	"strings"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
)

// Annotation is the check annotation that carries a finding list (JSON)
// on an event, as pkg/agentapi writes it for one-event-per-finding
// delivery.
const Annotation = "vigil.io/findings"

// FromEvent returns the findings an event carries in structured form: the
// findings of a check that printed --format json (its output is then the
// report document), else the list in the check's Annotation. Total counts
// the findings the check found, which may be more than it listed. ok is
// false when the event carries no structured findings (Nagios output:
// only the perfdata counts are there).
func FromEvent(ev *corev2.Event) (fs []Finding, total int, ok bool) {
	if ev == nil || ev.Check == nil {
		return nil, 0, false
	}
	if out := bytes.TrimSpace([]byte(ev.Check.Output)); len(out) > 0 && out[0] == '{' {
		var doc struct {
			Findings      *[]Finding `json:"findings"`
			FindingsTotal int        `json:"findings_total"`
		}
		// A report cut by the agent's max_output_size does not parse; the
		// annotation may still hold the list.
		if json.Unmarshal(out, &doc) == nil && doc.Findings != nil {
			return *doc.Findings, max(doc.FindingsTotal, len(*doc.Findings)), true
		}
	}
	if raw, found := ev.Check.Annotations[Annotation]; found {
		if json.Unmarshal([]byte(raw), &fs) == nil {
			return fs, len(fs), true
		}
	}
	return nil, 0, false
}

// SummaryLine is a check output's one-line summary: a JSON report's
// summary, else the first line without its perfdata.
func SummaryLine(output string) string {
	out := strings.TrimSpace(output)
	if strings.HasPrefix(out, "{") {
		var doc struct {
			Summary string `json:"summary"`
		}
		if json.Unmarshal([]byte(out), &doc) == nil && doc.Summary != "" {
			return doc.Summary
		}
	}
	line, _, _ := strings.Cut(out, "\n")
	line, _, _ = strings.Cut(line, "|")
	return strings.TrimSpace(line)
}
