package kubernetes_test

import (
	"bytes"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

type policy struct {
	APIVersion string   `yaml:"apiVersion"`
	Kind       string   `yaml:"kind"`
	OmitStages []string `yaml:"omitStages"`
	Rules      []struct {
		Level           string   `yaml:"level"`
		Users           []string `yaml:"users"`
		Verbs           []string `yaml:"verbs"`
		NonResourceURLs []string `yaml:"nonResourceURLs"`
		Resources       []struct {
			Group     string   `yaml:"group"`
			Resources []string `yaml:"resources"`
		} `yaml:"resources"`
	} `yaml:"rules"`
}

// level is the level of the first rule that matches a request, as the
// API server picks it (users and non-resource rules never match these).
func (p policy) level(verb, group, resource string) string {
	for _, r := range p.Rules {
		if len(r.Users) > 0 || len(r.NonResourceURLs) > 0 || len(r.Verbs) > 0 && !slices.Contains(r.Verbs, verb) {
			continue
		}
		if len(r.Resources) == 0 {
			return r.Level
		}
		for _, g := range r.Resources {
			if g.Group == group && slices.Contains(g.Resources, resource) {
				return r.Level
			}
		}
	}
	return "None"
}

func TestTheAuditPolicyShowsWhatTheRulesReadAndNoSecret(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("audit-policy.yaml")
	require.NoError(t, err)
	var p policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&p))
	require.Equal(t, "audit.k8s.io/v1", p.APIVersion)
	require.Equal(t, "Policy", p.Kind)
	for _, r := range p.Rules {
		require.Contains(t, []string{"None", "Metadata", "Request", "RequestResponse"}, r.Level)
	}
	tests := []struct{ verb, group, resource, want string }{
		// Bodies that hold credentials are never logged.
		{"get", "", "secrets", "Metadata"},
		{"create", "", "secrets", "Metadata"},
		{"patch", "", "configmaps", "Metadata"},
		{"create", "", "serviceaccounts/token", "Metadata"},
		{"create", "authentication.k8s.io", "tokenreviews", "Metadata"},
		// The pod spec and role binding rules see the objects written.
		{"create", "", "pods", "Request"},
		{"create", "apps", "daemonsets", "Request"},
		{"update", "batch", "cronjobs", "Request"},
		{"create", "rbac.authorization.k8s.io", "clusterrolebindings", "Request"},
		{"patch", "apps", "deployments", "RequestResponse"},
		{"patch", "rbac.authorization.k8s.io", "clusterroles", "RequestResponse"},
		// Shells are seen (CIS 3.2.2).
		{"create", "", "pods/exec", "Metadata"},
		{"get", "", "pods/portforward", "Metadata"},
		{"get", "", "pods", "Metadata"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, p.level(tt.verb, tt.group, tt.resource), "%s %s/%s", tt.verb, tt.group, tt.resource)
	}
}
