package audit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

func loadRules(t *testing.T, text string) (*RuleSet, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return LoadRules(path)
}

const customRules = `
rules:
  - id: custom.secret_delete
    description: secret deleted in production
    source: k8s
    severity: critical
    match:
      verb: [delete, deletecollection]
      objectRef.resource: secrets
      objectRef.namespace: "prod*"
      responseStatus.code: "< 300"
  - id: custom.human_exec
    source: k8s
    severity: high
    cel: has(event.objectRef.subresource) && event.objectRef.subresource == "exec" && !event.user.username.startsWith("system:") && event.responseStatus.code == 101
  - id: custom.controller_reads
    source: k8s
    match:
      user.username: system:kube-controller-manager
  - id: custom.root_login
    source: auth
    severity: high
    match:
      program: [sshd, sshd-session]
      user: root
  - id: custom.shadow
    source: auditd
    match:
      type: SYSCALL
      exe: /bin/ping
builtin:
  k8s.pod_exec: {enabled: false}
  ssh.accepted_login: {severity: low}
`

func TestCustomRules(t *testing.T) {
	t.Parallel()
	rs, err := loadRules(t, customRules)
	require.NoError(t, err)
	require.Equal(t, []string{"custom.secret_delete", "custom.human_exec", "custom.controller_reads", "custom.root_login", "custom.shadow"}, rs.IDs())
	e := newEngine(t, func(o *Options) { o.Custom = rs })
	feedLines(e, K8s,
		`{"kind":"Event","stage":"ResponseComplete","verb":"delete","user":{"username":"bob"},"objectRef":{"resource":"secrets","namespace":"prod-eu","name":"db"},"responseStatus":{"code":200}}`,
		`{"kind":"Event","stage":"ResponseComplete","verb":"delete","user":{"username":"bob"},"objectRef":{"resource":"secrets","namespace":"prod-eu","name":"db"},"responseStatus":{"code":404}}`,
		`{"kind":"Event","stage":"ResponseComplete","verb":"delete","user":{"username":"bob"},"objectRef":{"resource":"secrets","namespace":"dev","name":"db"},"responseStatus":{"code":200}}`,
		`{"kind":"Event","stage":"ResponseComplete","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"p","name":"a","subresource":"exec"},"responseStatus":{"code":101}}`,
		`{"kind":"Event","stage":"ResponseComplete","verb":"get","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"p","name":"a"},"responseStatus":{"code":200}}`,
		`{"kind":"Event","stage":"ResponseComplete","verb":"watch","user":{"username":"system:kube-controller-manager"},"objectRef":{"resource":"secrets"},"responseStatus":{"code":200}}`,
	)
	feedFile(t, e, Auth, "auth.log")
	feedFile(t, e, Auditd, "audit.log")
	r := e.Report(5)
	require.Equal(t, 1, r.Events["custom.secret_delete"], "only the successful delete in a prod namespace")
	del := find(r, "custom.secret_delete")[0]
	require.Equal(t, finding.Critical, del.Severity)
	require.Equal(t, "bob", del.Actor)
	require.Equal(t, "prod-eu/secrets/db", del.Object)
	require.Equal(t, "secret deleted in production: bob delete prod-eu/secrets/db", del.Message)

	require.Equal(t, 1, r.Events["custom.human_exec"], "CEL, and an event without a subresource is no match")
	require.Equal(t, finding.High, find(r, "custom.human_exec")[0].Severity)
	require.Zero(t, r.Events[PodExec], "disabled in the rules file")
	require.Equal(t, 1, r.Events["custom.controller_reads"], "custom rules see trusted users")
	require.Equal(t, 3, r.Events["custom.root_login"], "the lines of sshd about root: two failures (one repeated) and max-auth")
	require.Equal(t, finding.Low, find(r, SSHAcceptedLogin)[0].Severity)
	require.Equal(t, 1, r.Events["custom.shadow"])
}

func TestRulesFileMistakesNameTheLine(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, text, want string }{
		{"bad yaml", "rules: [\n", "rules.yaml:1: did not find expected node content"},
		{"unknown top key", "rule: []\n", `1: unknown key "rule" (want rules or builtin)`},
		{"no id", "rules:\n  - match: {verb: get}\n", `2: rule "": an id with a dot`},
		{"built-in id", "rules:\n  - id: k8s.pod_exec\n    match: {verb: get}\n", "2: rule k8s.pod_exec: the id of a built-in rule"},
		{"unknown field", "rules:\n  - id: c.x\n    mach: {verb: get}\n", `2: unknown key "mach" (want id, description, source, severity, match, cel)`},
		{"no match", "rules:\n  - id: c.x\n", "2: rule c.x: match or cel is required"},
		{"both", "rules:\n  - id: c.x\n    source: k8s\n    cel: 'true'\n    match: {verb: get}\n", "match and cel cannot be combined"},
		{"bad severity", "rules:\n  - id: c.x\n    severity: hgh\n    match: {verb: get}\n", `2: rule c.x: unknown severity "hgh"`},
		{"bad source", "rules:\n  - id: c.x\n    source: nginx\n    match: {verb: get}\n", `2: rule c.x: source "nginx"`},
		{"bad comparison", "rules:\n  - id: c.x\n    match:\n      responseStatus.code: '< many'\n", `4: rule c.x: match responseStatus.code: "< many": a comparison needs a number`},
		{"bad glob", "rules:\n  - id: c.x\n    match:\n      verb: '[a'\n", `4: rule c.x: match verb: bad glob`},
		{"empty list", "rules:\n  - id: c.x\n    match:\n      verb: []\n", "4: rule c.x: match verb: an empty list matches nothing"},
		{"cel without k8s", "rules:\n  - id: c.x\n    cel: 'true'\n", "cel rules are for Kubernetes events"},
		{"cel syntax", "rules:\n  - id: c.x\n    source: k8s\n    cel: 'event.verb =='\n", "2: rule c.x: cel: ERROR"},
		{"cel not bool", "rules:\n  - id: c.x\n    source: k8s\n    cel: '1 + 2'\n", "not a bool"},
		{"twice", "rules:\n  - id: c.x\n    match: {verb: a}\n  - id: c.x\n    match: {verb: b}\n", "4: rule c.x: defined twice"},
		{"unknown builtin", "builtin:\n  k8s.nope: {enabled: false}\n", `2: builtin: no built-in rule "k8s.nope"`},
		{"builtin field", "builtin:\n  k8s.pod_exec: {enable: false}\n", `2: builtin k8s.pod_exec: unknown key "enable" (want enabled, severity)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := loadRules(t, tt.text)
			require.Error(t, err)
			require.Contains(t, err.Error(), "rules.yaml:")
			require.Contains(t, err.Error(), tt.want)
			require.NotContains(t, err.Error(), "\n")
		})
	}
	_, err := LoadRules(filepath.Join(t.TempDir(), "missing.yaml"))
	require.ErrorContains(t, err, "read rules:")
}
