package remediate

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

const goodConfig = `
actions:
  rescan:
    kind: sensu-execute
    check: check-file-integrity-rescan
    selectable: true
  converge:
    kind: command
    command: [/bin/true]
    timeout: 10s
    capture: true
    rate_limit: {max: 1, window: 6h}
  soar:
    kind: webhook
    url: https://soar.example/hook
rules:
  - name: critical-integrity
    match:
      checks: [check-file-integrity*]
      rules: [fim.*]
      severity: critical
      occurrences: [">=2", "1"]
    actions: [converge, rescan]
  - match: {status: [1]}
    actions: []
`

func TestParsesAGoodConfiguration(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("remediation.yaml", []byte(goodConfig))
	require.NoError(t, err)
	require.Len(t, c.Actions, 3)
	require.Equal(t, "converge", c.Actions["converge"].Name)
	require.Equal(t, Limit{Max: 1, Window: Duration(6 * 3600e9)}, *c.Actions["converge"].RateLimit)
	require.Equal(t, Duration(DefaultCommandTimeout), c.Actions["rescan"].Timeout)
	require.Equal(t, "rule-2", c.Rules[1].Name, "an unnamed rule is named by its position")
	require.Equal(t, DefaultAuthLogs, c.Capture.AuthLogs)
}

func TestBadConfigurationsNameTheFileAndLine(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"a YAML syntax error", "actions:\n  a: [\n", "c.yaml:2: did not find expected node content"},
		{"a misspelt field", "actions:\n  a:\n    kind: webhook\n    ulr: https://x\n", "c.yaml:4: field ulr not found in type remediate.Action"},
		{"an unknown kind", "actions:\n  a:\n    kind: reboot\n", "c.yaml:2: action a: unknown kind \"reboot\" (want sensu-execute, command or webhook)"},
		{"a missing kind", "actions:\n  a:\n    check: x\n", `c.yaml:2: action a: "kind" is required (sensu-execute, command or webhook)`},
		{"a command without argv", "actions:\n  a:\n    kind: command\n", `c.yaml:2: action a: a command action needs "command" (a list: program and arguments)`},
		{"a field of another kind", "actions:\n  a:\n    kind: sensu-execute\n    check: c\n    url: https://x\n", `c.yaml:2: action a: "url" does not apply to kind sensu-execute`},
		{"a webhook that is not http", "actions:\n  a:\n    kind: webhook\n    url: file:///etc/passwd\n", `c.yaml:2: action a: "url" must be an absolute http:// or https:// URL`},
		{"a rule naming an undefined action", "actions:\n  a: {kind: webhook, url: 'https://x'}\nrules:\n  - name: r\n    actions: [b]\n", `c.yaml:4: rule r: action "b" is not defined in the configuration file`},
		{"a bad occurrences range", "actions:\n  a: {kind: webhook, url: 'https://x'}\nrules:\n  - match: {occurrences: ['5-1']}\n    actions: [a]\n", `c.yaml:4: rule rule-1: occurrences "5-1": the range is empty`},
		{"a bad severity", "actions:\n  a: {kind: webhook, url: 'https://x'}\nrules:\n  - match: {severity: urgent}\n    actions: [a]\n", `c.yaml:4: rule rule-1: unknown severity "urgent" (want one of info, low, medium, high, critical)`},
		{"a bad duration", "actions:\n  a: {kind: webhook, url: 'https://x', timeout: soon}\n", `c.yaml:2: invalid duration "soon" (want e.g. 30s, 5m or a number of seconds)`},
		{"no actions", "rules: []\n", "c.yaml:1: no actions defined"},
		{"an empty file", "", "c.yaml: empty configuration"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig("c.yaml", []byte(c.yaml))
			require.EqualError(t, err, c.want)
		})
	}
}

func TestOccurrenceRanges(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		in1, in5 bool
	}{
		{">=3", false, true}, {">4", false, true}, {"<=1", true, false}, {"<5", true, false}, {"1-5", true, true}, {"5", false, true}, {" 2 - 4 ", false, false},
	}
	for _, c := range cases {
		r, err := ParseRange(c.in)
		require.NoError(t, err, c.in)
		require.Equal(t, c.in1, r.Contains(1), "%s contains 1", c.in)
		require.Equal(t, c.in5, r.Contains(5), "%s contains 5", c.in)
	}
	for _, bad := range []string{"", "x", ">=-1", "3-", "1-2-3", "=>3"} {
		_, err := ParseRange(bad)
		require.Error(t, err, bad)
	}
}

func TestRulesMatchEveryGivenCondition(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("c.yaml", []byte(goodConfig))
	require.NoError(t, err)
	r := &c.Rules[0]
	base := Facts{Check: "check-file-integrity", Status: 2, Occurrences: 1,
		Findings: []finding.Finding{{Rule: "fim.modified", Severity: finding.Critical, Object: "/etc/passwd"}}}
	require.True(t, r.Matches(base))
	for name, mut := range map[string]func(*Facts){
		"another check":                 func(f *Facts) { f.Check = "check-pii" },
		"an OK status":                  func(f *Facts) { f.Status = 0 },
		"occurrences outside the range": func(f *Facts) { f.Occurrences = 0 },
		"no finding of the rule":        func(f *Facts) { f.Findings[0].Rule = "pii.email" },
		"a finding below the severity":  func(f *Facts) { f.Findings[0].Severity = finding.High },
		"no structured findings":        func(f *Facts) { f.Findings = nil },
		"the severity on another rule's finding": func(f *Facts) {
			f.Findings = []finding.Finding{{Rule: "fim.modified", Severity: finding.Low}, {Rule: "pii.email", Severity: finding.Critical}}
		},
	} {
		f := base
		f.Findings = append([]finding.Finding(nil), base.Findings...)
		mut(&f)
		require.False(t, r.Matches(f), name)
	}
	sub := Rule{Match: Match{Subscriptions: []string{"role:web*"}}}
	require.NoError(t, sub.compile(c, false))
	require.True(t, sub.Matches(Facts{Status: 1, Subscriptions: []string{"linux", "role:webserver"}}))
	require.False(t, sub.Matches(Facts{Status: 1, Subscriptions: []string{"linux"}}))
	require.False(t, sub.Matches(Facts{Status: 0, Subscriptions: []string{"role:web"}}), "OK never matches unless status says so")
}

func TestAnnotationsOnlySelectSelectableActions(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig("c.yaml", []byte(goodConfig))
	require.NoError(t, err)
	rules, err := c.annotationRules(`[{"name":"mine","match":{"status":[2]},"actions":["rescan"]}]`)
	require.NoError(t, err)
	require.Equal(t, "annotation", rules[0].Source)

	_, err = c.annotationRules(`[{"actions":["converge"]}]`)
	require.EqualError(t, err, `check annotation vigil.io/handler-remediation/rules: rule annotation-1: action "converge" is not selectable by a check annotation (set selectable: true in the configuration file)`)
	_, err = c.annotationRules(`[{"actions":["reboot-everything"]}]`)
	require.EqualError(t, err, `check annotation vigil.io/handler-remediation/rules: rule annotation-1: action "reboot-everything" is not defined in the configuration file`)
	_, err = c.annotationRules(`[{"actions":["rescan"],"command":["/bin/sh"]}]`)
	require.EqualError(t, err, `check annotation vigil.io/handler-remediation/rules: 1: field command not found in type remediate.Rule`)
	_, err = c.annotationRules(`{not json`)
	require.ErrorContains(t, err, "check annotation vigil.io/handler-remediation/rules: ")
}
