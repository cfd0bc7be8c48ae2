package hostcheck

import (
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/hoststate"
)

// The rule ids check-host-drift emits.
const (
	RulePortOpened      = "host.port_opened"
	RulePortClosed      = "host.port_closed"
	RuleUserAdded       = "host.user_added"
	RuleUserRemoved     = "host.user_removed"
	RuleSudoersChanged  = "host.sudoers_changed"
	RuleKeyAdded        = "host.authorized_key_added"
	RuleKeyRemoved      = "host.authorized_key_removed"
	RuleCronChanged     = "host.cron_changed"
	RuleUnitEnabled     = "host.unit_enabled"
	RulePackageChanged  = "host.package_changed"
	RuleModuleLoaded    = "host.module_loaded"
	RuleSysctlChanged   = "host.sysctl_changed"
	RuleSUIDAdded       = "host.suid_added"
	RuleFirewallChanged = "host.firewall_changed"
	RuleTampered        = "host.baseline_tampered"
	RuleUnreadable      = "host.facet_unreadable"
)

// Rule is one rule: its id, facet and default severity.
type Rule struct {
	ID       string
	Facet    string
	Severity finding.Severity
}

// Rules lists every rule with its default severity (the catalogue's).
func Rules() []Rule {
	return []Rule{
		{RulePortOpened, hoststate.Ports, finding.High},
		{RulePortClosed, hoststate.Ports, finding.Low},
		{RuleUserAdded, hoststate.Users, finding.High},
		{RuleUserRemoved, hoststate.Users, finding.Medium},
		{RuleSudoersChanged, hoststate.Sudoers, finding.High},
		{RuleKeyAdded, hoststate.AuthorizedKeys, finding.High},
		{RuleKeyRemoved, hoststate.AuthorizedKeys, finding.Low},
		{RuleCronChanged, hoststate.Cron, finding.Medium},
		{RuleUnitEnabled, hoststate.Units, finding.Medium},
		{RulePackageChanged, hoststate.Packages, finding.Low},
		{RuleModuleLoaded, hoststate.Modules, finding.High},
		{RuleSysctlChanged, hoststate.Sysctls, finding.Medium},
		{RuleSUIDAdded, hoststate.SUID, finding.High},
		{RuleFirewallChanged, hoststate.Firewall, finding.High},
		{RuleTampered, "", finding.Critical},
		{RuleUnreadable, "", finding.Medium},
	}
}

// ruleFor is the rule of a change of kind ("added", "removed",
// "modified") in a facet.
func ruleFor(facet, kind string) string {
	switch facet {
	case hoststate.Ports:
		if kind == "removed" {
			return RulePortClosed
		}
		return RulePortOpened
	case hoststate.Users:
		if kind == "removed" {
			return RuleUserRemoved
		}
		return RuleUserAdded
	case hoststate.AuthorizedKeys:
		if kind == "removed" {
			return RuleKeyRemoved
		}
		return RuleKeyAdded
	case hoststate.Sudoers:
		return RuleSudoersChanged
	case hoststate.Cron:
		return RuleCronChanged
	case hoststate.Units:
		return RuleUnitEnabled
	case hoststate.Packages:
		return RulePackageChanged
	case hoststate.Modules:
		return RuleModuleLoaded
	case hoststate.Sysctls:
		return RuleSysctlChanged
	case hoststate.SUID:
		return RuleSUIDAdded
	default:
		return RuleFirewallChanged
	}
}

// quieterRemovals are the facets whose one rule also carries removals,
// which are less alarming than what the rule is named for: a unit
// disabled, a module unloaded, a SUID binary gone.
var quieterRemovals = map[string]bool{hoststate.Units: true, hoststate.Modules: true, hoststate.SUID: true}

// severities resolves a finding's severity: --severity RULE beats
// --severity FACET beats the default.
type severities struct {
	byRule, byFacet map[string]finding.Severity
}

// unreadable is the severity of host.facet_unreadable: --severity
// host.facet_unreadable, else the default (never a facet's own
// --severity: a facet rated info must still not go blind unseen).
func (s severities) unreadable() finding.Severity {
	if v, ok := s.byRule[RuleUnreadable]; ok {
		return v
	}
	return finding.Medium
}

func (s severities) of(facet, rule, kind string) finding.Severity {
	if v, ok := s.byRule[rule]; ok {
		return v
	}
	if v, ok := s.byFacet[facet]; ok {
		return v
	}
	if kind == "removed" && quieterRemovals[facet] {
		return finding.Low
	}
	for _, r := range Rules() {
		if r.ID == rule {
			return r.Severity
		}
	}
	return finding.Medium
}
