package catalogue_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/audit"
	"github.com/vigil-sec/vigil/pkg/catalogue"
	"github.com/vigil-sec/vigil/pkg/drift"
	"github.com/vigil-sec/vigil/pkg/fim"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/hostcheck"
	"github.com/vigil-sec/vigil/pkg/pii"
)

// engineRules lists the rule ids the engines define, from their own
// exported catalogues and constants, with the severity they give (nil when
// the engine rates the finding itself: thresholds, policies).
func engineRules() map[string]*finding.Severity {
	out := map[string]*finding.Severity{}
	for _, r := range audit.Rules() {
		if r.Threshold() {
			out[r.ID] = nil
			continue
		}
		s := r.Severity
		out[r.ID] = &s
	}
	for _, id := range pii.Rules {
		s := pii.Severities[id]
		out[id] = &s
	}
	// pkg/fim has no list, only its constants (severities come from the
	// policy groups).
	for _, id := range []string{fim.RuleAdded, fim.RuleRemoved, fim.RuleModified, fim.RuleUnreadable, fim.RuleChanging, fim.RuleTampered} {
		out[id] = nil
	}
	for _, r := range drift.Rules() {
		if r.Rated {
			out[r.ID] = nil // rated by the baseline
			continue
		}
		s := r.Severity
		out[r.ID] = &s
	}
	for _, r := range hostcheck.Rules() {
		s := r.Severity
		out[r.ID] = &s
	}
	return out
}

func TestEveryRuleTheEnginesDefineIsCatalogued(t *testing.T) {
	t.Parallel()
	rules := engineRules()
	require.NotEmpty(t, rules)
	for id, sev := range rules {
		r, ok := catalogue.Lookup(id)
		require.True(t, ok, "rule %s is emitted by an engine but missing from pkg/catalogue/rules.yaml", id)
		require.False(t, r.Reserved, "rule %s exists: drop reserved", id)
		if sev != nil {
			require.Equal(t, *sev, r.Severity, "rule %s: the catalogue's default severity differs from the engine's", id)
		}
	}
}

func TestTheCatalogueHoldsNothingElse(t *testing.T) {
	t.Parallel()
	known := engineRules()
	for _, r := range catalogue.All() {
		_, ok := known[r.ID]
		require.True(t, ok, "rule %s is in the catalogue but no engine defines it", r.ID)
		require.False(t, r.Reserved, "rule %s is reserved, but every rule of the suite has an engine now", r.ID)
	}
}

func TestReferencesAreWellFormed(t *testing.T) {
	t.Parallel()
	prefixes := []string{"CIS Kubernetes ", "CIS Linux: ", "PCI DSS ", "GDPR Art. ", "ISO 27001 A."}
	for _, r := range catalogue.All() {
		require.NotEmpty(t, r.Compliance, "%s has no compliance reference", r.ID)
		for _, c := range r.Compliance {
			ok := false
			for _, p := range prefixes {
				ok = ok || strings.HasPrefix(c, p)
			}
			require.True(t, ok, "%s: reference %q follows none of the header's forms", r.ID, c)
		}
		require.NotNil(t, r.MITRE, "%s: write mitre: [] when no technique fits", r.ID)
		require.True(t, strings.HasSuffix(r.Description, "."), "%s: a description is a sentence", r.ID)
	}
}

func TestKnownMappings(t *testing.T) {
	t.Parallel()
	cases := []struct{ id, mitre, compliance string }{
		{"k8s.pod_exec", "T1609", "CIS Kubernetes 3.2.2"},
		{"k8s.cluster_admin_binding", "T1098", "CIS Kubernetes 5.1.1"},
		{"k8s.secret_access", "T1552.007", "CIS Kubernetes 5.1.2"},
		{"ssh.failed_login", "T1110", "PCI DSS 10.2"},
		{"k8s.policy_level_low", "", "CIS Kubernetes 3.2.1"},
		{"fim.modified", "", "PCI DSS 11.5"},
		{"pii.email", "", "GDPR Art. 33"},
		{"pii.credit_card", "", "PCI DSS v4.0 3.5.1"},
	}
	for _, c := range cases {
		r, ok := catalogue.Lookup(c.id)
		require.True(t, ok, c.id)
		if c.mitre != "" {
			require.Contains(t, r.MITRE, c.mitre, c.id)
		}
		require.Contains(t, r.Compliance, c.compliance, c.id)
	}
}

func TestLookupMissesCustomAndUnknownIds(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"custom.prod_secret_delete", "k8s.nope", ""} {
		_, ok := catalogue.Lookup(id)
		require.False(t, ok, id)
	}
}

func TestResultsAreTheCallersOwn(t *testing.T) {
	t.Parallel()
	r, ok := catalogue.Lookup("k8s.pod_exec")
	require.True(t, ok)
	r.MITRE[0] = "T0000"
	again, _ := catalogue.Lookup("k8s.pod_exec")
	require.Equal(t, "T1609", again.MITRE[0])
	all := catalogue.All()
	all[0].Compliance = nil
	require.NotNil(t, catalogue.All()[0].Compliance)
}

func TestDataIsTheEmbeddedFile(t *testing.T) {
	t.Parallel()
	require.Contains(t, string(catalogue.Data()), "id: k8s.pod_exec")
}
