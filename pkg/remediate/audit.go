package remediate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-sec/vigil/pkg/state"
)

// The decisions recorded in the audit log.
const (
	// DecisionActed: the action ran and succeeded.
	DecisionActed = "acted"
	// DecisionFailed: the action (or its capture) ran and failed.
	DecisionFailed = "failed"
	// DecisionRateLimited: skipped by the per-entity rate limit; escalate.
	DecisionRateLimited = "rate-limited"
	// DecisionCircuitOpen: skipped because the circuit breaker is open;
	// escalate.
	DecisionCircuitOpen = "circuit-open"
	// DecisionDryRun: would have acted; --dry-run.
	DecisionDryRun = "dry-run"
	// DecisionNoMatch: no rule matched the event.
	DecisionNoMatch = "no-match"
	// DecisionNoAction: a rule matched and selects no action.
	DecisionNoAction = "no-action"
)

// Record is one line of the audit log.
type Record struct {
	Time        time.Time `json:"time"`
	Namespace   string    `json:"namespace"`
	Entity      string    `json:"entity"`
	Check       string    `json:"check"`
	Status      int       `json:"status"`
	Occurrences int64     `json:"occurrences"`
	// Rules are the rule ids of the event's findings.
	Rules []string `json:"rules,omitempty"`
	// Severity is the highest finding severity.
	Severity string `json:"severity,omitempty"`
	// Rule is the remediation rule that matched, and RuleSource where it
	// came from (config or annotation).
	Rule       string `json:"rule,omitempty"`
	RuleSource string `json:"rule_source,omitempty"`
	Action     string `json:"action,omitempty"`
	Kind       string `json:"kind,omitempty"`
	Decision   string `json:"decision"`
	// Escalate is true when a guardrail stopped an action a rule asked
	// for: a person should look.
	Escalate bool   `json:"escalate,omitempty"`
	DryRun   bool   `json:"dry_run,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// HTTPStatus is the answer of the Sensu API or webhook.
	HTTPStatus int `json:"http_status,omitempty"`
	// ExitCode is a command's exit status (-1 when killed).
	ExitCode *int `json:"exit_code,omitempty"`
	// Output is the end of a command's output (stdout and stderr merged),
	// secrets masked; OutputBytes its whole size.
	Output          string   `json:"output,omitempty"`
	OutputBytes     int64    `json:"output_bytes,omitempty"`
	OutputTruncated bool     `json:"output_truncated,omitempty"`
	DurationMS      int64    `json:"duration_ms,omitempty"`
	Capture         *Capture `json:"capture,omitempty"`
}

// appendAudit appends records to the log with one write and an fsync.
// The caller holds the state lock.
func appendAudit(path string, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	var b []byte
	for _, r := range recs {
		line, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode audit record: %w", err)
		}
		b = append(append(b, line...), '\n')
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create audit log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) //nolint:gosec // the operator's audit log path
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return fmt.Errorf("write audit log %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("sync audit log %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close audit log %s: %w", path, err)
	}
	return state.SyncDir(dir)
}
