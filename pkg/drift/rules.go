package drift

import "github.com/vigil-sec/vigil/pkg/finding"

// The rule ids of check-config-drift's findings.
const (
	RuleChanged       = "drift.changed"
	RuleFailed        = "drift.failed"
	RuleOutOfSync     = "drift.out_of_sync"
	RuleCorrective    = "drift.corrective_change"
	RuleRunFailed     = "drift.run_failed"
	RuleStaleRun      = "drift.stale_run"
	RuleAgentDisabled = "drift.agent_disabled"
)

// Rule is a rule and its default severity. Rated rules take their
// severity from the baseline (--immutable, thresholds, learning).
type Rule struct {
	ID       string
	Severity finding.Severity
	Rated    bool
	Catches  string
}

// Rules lists the rules, in the order the README shows them.
func Rules() []Rule {
	return []Rule{
		{RuleChanged, finding.Info, true, "a resource the run changed (info; rated by the baseline: --immutable, --changed-warning/--changed-critical, --learn)"},
		{RuleOutOfSync, finding.Medium, true, "a resource out of its desired state and not changed: a no-op run, a Terraform plan, driftctl drift (medium; raised by the baseline)"},
		{RuleCorrective, finding.High, false, "a change that reverted one made outside the tool: Puppet's corrective_change, Terraform's resource_drift"},
		{RuleFailed, finding.High, false, "a resource the run failed to apply"},
		{RuleRunFailed, finding.High, false, "the run failed as a whole: no catalog, a Chef exception, an unreachable host, a Terraform error"},
		{RuleStaleRun, finding.Medium, false, "the last run is older than --max-age: the agent stopped running"},
		{RuleAgentDisabled, finding.High, false, "Puppet's agent is disabled (agent_disabled.lock), with the reason given"},
	}
}
