package main

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file re-implements the rules of check-audit-log as the issue
// states them, independently of the generator, and applies them to the
// generated files: what it finds must be what the ground truth says.

// auditEvent is the part of an audit.k8s.io/v1 Event the rules read.
type auditEvent struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string   `json:"username"`
		UID      string   `json:"uid"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	SourceIPs []string `json:"sourceIPs"`
	UserAgent string   `json:"userAgent"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		APIVersion  string `json:"apiVersion"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestObject            json.RawMessage   `json:"requestObject"`
	ResponseObject           json.RawMessage   `json:"responseObject"`
	RequestReceivedTimestamp time.Time         `json:"requestReceivedTimestamp"`
	StageTimestamp           time.Time         `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations"`
}

// refFinding is a finding of the reference: rule, actor, source.
type refFinding struct{ rule, actor, source string }

// refResult is what the reference finds in one file.
type refResult struct {
	events   map[string]int
	findings map[refFinding]bool
	// lines holds every line a rule looked at twice: a per-line match, a
	// denied request, a planted auth event.
	lines    map[int64]bool
	matching int64
	// failures per source, for the severity thresholds.
	failures map[string][]time.Time
}

func trustedUser(u string) bool {
	switch u {
	case "system:kube-controller-manager", "system:kube-scheduler", "system:apiserver":
		return true
	}
	return strings.HasPrefix(u, "system:node:") || strings.HasPrefix(u, "system:serviceaccount:kube-system:")
}

var (
	workloads = []string{"pods", "deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "cronjobs"}
	rbacKinds = []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}
	health    = []string{"/healthz", "/livez", "/readyz", "/version"}
)

// podSpecs returns the pod specs in a request object: a pod's, or a
// workload's template.
func podSpecs(obj json.RawMessage) []map[string]any {
	var o struct {
		Spec map[string]any `json:"spec"`
	}
	if json.Unmarshal(obj, &o) != nil || o.Spec == nil {
		return nil
	}
	specs := []map[string]any{o.Spec}
	t, _ := o.Spec["template"].(map[string]any)
	if jt, ok := o.Spec["jobTemplate"].(map[string]any); ok {
		s, _ := jt["spec"].(map[string]any)
		t, _ = s["template"].(map[string]any)
	}
	if s, ok := t["spec"].(map[string]any); ok {
		specs = append(specs, s)
	}
	return specs
}

func sensitivePath(p string) bool {
	if p == "/" {
		return true
	}
	for _, s := range []string{"/etc", "/proc", "/root", "/var/lib/kubelet", "/var/run/docker.sock", "/run/containerd/containerd.sock"} {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// k8sRules returns the per-event rules of e, and whether it is a write
// that the audit policy logged without its body.
func k8sRules(e *auditEvent) (rules []string, policyLow bool) {
	trusted := trustedUser(e.User.Username)
	code := 0
	if e.ResponseStatus != nil {
		code = e.ResponseStatus.Code
	}
	var res, ns, group, sub string
	if o := e.ObjectRef; o != nil {
		res, ns, group, sub = o.Resource, o.Namespace, o.APIGroup, o.Subresource
	}
	verb := e.Verb
	write := verb == "create" || verb == "update" || verb == "patch"
	if e.ImpersonatedUser != nil && !trusted {
		rules = append(rules, ruleImpersonation)
	}
	if res == "secrets" && sub == "" && !trusted && (verb == "get" || verb == "list" || verb == "watch") {
		switch {
		case code >= 200 && code < 300:
			rules = append(rules, ruleSecretAccess)
		case code == 401 || code == 403:
			rules = append(rules, ruleSecretAccessDenied)
		}
	}
	if res == "pods" && slices.Contains([]string{"exec", "attach", "portforward", "proxy"}, sub) && (verb == "create" || verb == "get") {
		rules = append(rules, rulePodExec)
	}
	if group == "rbac.authorization.k8s.io" && slices.Contains(rbacKinds, res) && !trusted && (write || verb == "delete") {
		var o struct {
			RoleRef struct{ Name string } `json:"roleRef"`
			Rules   []struct {
				Verbs     []string `json:"verbs"`
				Resources []string `json:"resources"`
			} `json:"rules"`
		}
		_ = json.Unmarshal(e.RequestObject, &o)
		if verb == "create" && strings.HasSuffix(res, "bindings") && o.RoleRef.Name == "cluster-admin" {
			rules = append(rules, ruleClusterAdmin)
		}
		if write && strings.HasSuffix(res, "roles") && slices.ContainsFunc(o.Rules, func(r struct {
			Verbs     []string `json:"verbs"`
			Resources []string `json:"resources"`
		}) bool {
			return slices.Contains(r.Verbs, "*") || slices.Contains(r.Resources, "*")
		}) {
			rules = append(rules, ruleWildcardRole)
		}
		rules = append(rules, ruleRBACChange)
	}
	path, _, _ := strings.Cut(e.RequestURI, "?")
	if (e.User.Username == "system:anonymous" || slices.Contains(e.User.Groups, "system:unauthenticated")) &&
		e.Annotations["authorization.k8s.io/decision"] == "allow" && !slices.Contains(health, path) {
		rules = append(rules, ruleAnonymous)
	}
	if verb == "create" && !trusted && sub == "" {
		var priv, mount, hostNS bool
		for _, spec := range podSpecs(e.RequestObject) {
			hostNS = hostNS || spec["hostNetwork"] == true || spec["hostPID"] == true || spec["hostIPC"] == true
			for _, key := range []string{"containers", "initContainers"} {
				cs, _ := spec[key].([]any)
				for _, c := range cs {
					sc, _ := c.(map[string]any)["securityContext"].(map[string]any)
					priv = priv || sc["privileged"] == true
				}
			}
			vs, _ := spec["volumes"].([]any)
			for _, v := range vs {
				hp, _ := v.(map[string]any)["hostPath"].(map[string]any)
				p, _ := hp["path"].(string)
				mount = mount || hp != nil && sensitivePath(p)
			}
		}
		if priv {
			rules = append(rules, rulePrivilegedPod)
		}
		if mount {
			rules = append(rules, ruleSensitiveMount)
		}
		if hostNS {
			rules = append(rules, ruleHostNamespace)
		}
		if (res == "pods" || res == "serviceaccounts") && (ns == "kube-system" || ns == "kube-public") {
			rules = append(rules, ruleKubeSystemChange)
		}
	}
	if verb == "create" && res == "serviceaccounts" && sub == "token" && !trusted {
		rules = append(rules, ruleSATokenCreate)
	}
	policyLow = e.Level == "Metadata" && write && !trusted && sub == "" && (slices.Contains(workloads, res) || slices.Contains(rbacKinds, res))
	return rules, policyLow
}

// refK8s applies the reference rules to a Kubernetes audit log, checking
// each event's shape on the way.
func refK8s(t *testing.T, path string) *refResult {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	res := &refResult{events: map[string]int{}, findings: map[refFinding]bool{}, lines: map[int64]bool{}}
	counted := map[string]map[string]bool{} // auditID → rules counted
	stages := map[string][]string{}         // auditID → stages seen
	denied := map[string][]time.Time{}      // user or IP → denied requests
	var last time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n int64
	for sc.Scan() {
		n++
		var e auditEvent
		require.NoError(t, json.Unmarshal(sc.Bytes(), &e), "line %d", n)
		checkAuditEvent(t, n, &e)
		require.False(t, e.StageTimestamp.Before(last), "line %d goes back in time", n)
		last = e.StageTimestamp
		stages[e.AuditID] = append(stages[e.AuditID], e.Stage)
		if e.Stage == stageReceived {
			continue
		}
		rules, low := k8sRules(&e)
		if len(rules) > 0 || low {
			res.matching++
			res.lines[n] = true
		}
		if counted[e.AuditID] == nil {
			counted[e.AuditID] = map[string]bool{}
		}
		for _, r := range rules {
			res.findings[refFinding{r, e.User.Username, e.SourceIPs[0]}] = true
			if !counted[e.AuditID][r] {
				counted[e.AuditID][r] = true
				res.events[r]++
			}
		}
		if low {
			res.findings[refFinding{rulePolicyLevelLow, "", ""}] = true
		}
		if c := e.ResponseStatus.Code; (c == 401 || c == 403) && !counted[e.AuditID]["denied"] {
			counted[e.AuditID]["denied"] = true
			res.lines[n] = true
			denied["actor "+e.User.Username] = append(denied["actor "+e.User.Username], e.StageTimestamp)
			denied["source "+e.SourceIPs[0]] = append(denied["source "+e.SourceIPs[0]], e.StageTimestamp)
		}
	}
	require.NoError(t, sc.Err())
	for id, st := range stages {
		require.Equal(t, 1, count(st, stageComplete), "auditID %s: stages %v", id, st)
		require.LessOrEqual(t, count(st, stageReceived)+count(st, stageStarted), 2, "auditID %s: stages %v", id, st)
	}
	for who, ts := range denied {
		if maxInWindow(ts, 10*time.Minute) >= 10 {
			kind, name, _ := strings.Cut(who, " ")
			f := refFinding{rule: ruleDeniedBurst}
			if kind == "actor" {
				f.actor = name
			} else {
				f.source = name
			}
			res.findings[f] = true
		}
	}
	return res
}

func count(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// maxInWindow is the most times within any window of width w (ts sorted).
func maxInWindow(ts []time.Time, w time.Duration) int {
	best := 0
	for i, j := 0, 0; j < len(ts); j++ {
		for ts[j].Sub(ts[i]) > w {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

var (
	reUUID     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	reSourceIP = regexp.MustCompile(`^(\d{1,3}\.){3}\d{1,3}$|^::1$`)
)

// checkAuditEvent asserts the shape of an audit event as the API server
// writes it.
func checkAuditEvent(t *testing.T, n int64, e *auditEvent) {
	t.Helper()
	require.Equal(t, "Event", e.Kind, "line %d", n)
	require.Equal(t, "audit.k8s.io/v1", e.APIVersion, "line %d", n)
	require.Contains(t, []string{"Metadata", "Request", "RequestResponse"}, e.Level, "line %d", n)
	require.Regexp(t, reUUID, e.AuditID, "line %d", n)
	require.Contains(t, []string{stageReceived, stageStarted, stageComplete}, e.Stage, "line %d", n)
	require.True(t, strings.HasPrefix(e.RequestURI, "/"), "line %d", n)
	require.Contains(t, []string{"get", "list", "watch", "create", "update", "patch", "delete"}, e.Verb, "line %d", n)
	require.NotEmpty(t, e.User.Username, "line %d", n)
	require.NotEmpty(t, e.User.Groups, "line %d", n)
	require.Len(t, e.SourceIPs, 1, "line %d", n)
	require.Regexp(t, reSourceIP, e.SourceIPs[0], "line %d", n)
	require.NotEmpty(t, e.UserAgent, "line %d", n)
	require.False(t, e.RequestReceivedTimestamp.IsZero(), "line %d", n)
	require.False(t, e.StageTimestamp.Before(e.RequestReceivedTimestamp), "line %d", n)
	if e.ObjectRef != nil {
		require.NotEmpty(t, e.ObjectRef.Resource, "line %d", n)
		require.NotEmpty(t, e.ObjectRef.APIVersion, "line %d", n)
	} else {
		require.Contains(t, health, e.RequestURI, "line %d: a non-resource request", n)
	}
	if e.Stage == stageReceived {
		require.Nil(t, e.ResponseStatus, "line %d", n)
		require.Nil(t, e.Annotations, "line %d", n)
		require.Equal(t, e.RequestReceivedTimestamp, e.StageTimestamp, "line %d", n)
	} else {
		require.NotNil(t, e.ResponseStatus, "line %d", n)
		require.Contains(t, []string{"allow", "forbid"}, e.Annotations["authorization.k8s.io/decision"], "line %d", n)
	}
	if e.Level == "Metadata" {
		require.Nil(t, e.RequestObject, "line %d", n)
	}
	if e.Level != "RequestResponse" || e.Stage != stageComplete {
		require.Nil(t, e.ResponseObject, "line %d", n)
	}
}

// The syslog forms of auth.log.
var (
	reSyslog = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00|[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d) (bastion-1|web-1|db-1) ([A-Za-z][A-Za-z/-]*)(?:\[(\d+)\])?: (.+)$`)
	reFailed = regexp.MustCompile(`^Failed (?:password|publickey|keyboard-interactive/pam) for (?:invalid user )?(\S+) from (\S+) port \d+ ssh2(?:: .*)?$`)
	reInval  = regexp.MustCompile(`^Invalid user (\S+) from (\S+) port \d+$`)
	reMaxAu  = regexp.MustCompile(`^error: maximum authentication attempts exceeded for (?:invalid user )?(\S+) from (\S+) port \d+ ssh2 \[preauth\]$`)
	reAccept = regexp.MustCompile(`^Accepted (?:password|publickey|keyboard-interactive/pam) for (\S+) from (\S+) port \d+ ssh2(?:: .*)?$`)
	reSudo   = regexp.MustCompile(`^ *(\S+) : (?:(\d+ incorrect password attempts) ; |(user NOT in sudoers) ; )?TTY=\S+ ; PWD=\S+ ; USER=\S+ ; COMMAND=.+$`)
)

// refAuth applies the reference rules to an auth log.
func refAuth(t *testing.T, path string) *refResult {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	res := &refResult{events: map[string]int{}, findings: map[refFinding]bool{}, lines: map[int64]bool{}, failures: map[string][]time.Time{}}
	var last time.Time
	sc := bufio.NewScanner(f)
	var n int64
	for sc.Scan() {
		n++
		m := reSyslog.FindStringSubmatch(sc.Text())
		require.NotNil(t, m, "line %d: %q", n, sc.Text())
		stamp, prog, msg := m[1], m[3], m[5]
		var ts time.Time
		if stamp[0] >= '0' && stamp[0] <= '9' {
			ts, err = time.Parse(time.RFC3339Nano, stamp)
		} else {
			ts, err = time.Parse("2006 "+time.Stamp, "2026 "+stamp)
		}
		require.NoError(t, err, "line %d", n)
		require.False(t, ts.Before(last.Truncate(time.Second)), "line %d goes back in time", n)
		last = ts
		var rule, actor, source string
		switch prog {
		case "sshd", "sshd-session":
			if x := reFailed.FindStringSubmatch(msg); x != nil {
				rule, actor, source = ruleSSHFailed, x[1], x[2]
				res.failures[source] = append(res.failures[source], ts)
			} else if x := reInval.FindStringSubmatch(msg); x != nil {
				rule, actor, source = ruleSSHInvalidUser, x[1], x[2]
			} else if x := reMaxAu.FindStringSubmatch(msg); x != nil {
				rule, actor, source = ruleSSHMaxAuth, x[1], x[2]
			} else if x := reAccept.FindStringSubmatch(msg); x != nil {
				rule, actor, source = ruleSSHAccepted, x[1], x[2]
			}
		case "sudo":
			if x := reSudo.FindStringSubmatch(msg); x != nil {
				switch rule, actor = ruleSudoCommand, x[1]; {
				case x[2] != "":
					rule = ruleSudoAuthFail
				case x[3] != "":
					rule = ruleSudoNotAllowed
				}
			}
		}
		if rule != "" {
			res.events[rule]++
			res.findings[refFinding{rule, actor, source}] = true
			res.lines[n] = true
			res.matching++
		}
	}
	require.NoError(t, sc.Err())
	return res
}

// requireTruthMatches asserts that the reference's result is the truth.
func requireTruthMatches(t *testing.T, ft *FileTruth, ref *refResult, size int64) {
	t.Helper()
	require.Equal(t, size, ft.Bytes, "bytes")
	require.Equal(t, ft.Lines, ft.BenignLines+ft.PlantedLines)
	require.Equal(t, ref.events, ft.Events, "events per rule")
	require.Equal(t, ref.matching, ft.MatchingLines, "matching lines")
	planted := map[int64]bool{}
	for _, inc := range ft.Incidents {
		require.NotEmpty(t, inc.Lines, inc.ID)
		require.NotEmpty(t, inc.Findings, inc.ID)
		for _, l := range inc.Lines {
			require.False(t, planted[l], "line %d in two incidents", l)
			planted[l] = true
		}
	}
	require.Len(t, planted, int(ft.PlantedLines))
	for l := range ref.lines {
		require.True(t, planted[l], "line %d matches a rule but belongs to no incident (a finding on benign traffic)", l)
	}
	// Every expected finding is found by the reference, and every
	// finding of the reference is expected.
	for _, inc := range ft.Incidents {
		for _, e := range inc.Findings {
			found := false
			for f := range ref.findings {
				found = found || e.matches(f.rule, f.actor, f.source)
			}
			require.True(t, found, "%s: %s %s is not in the file", inc.ID, e.Rule, e.who())
			if ft.Events[e.Rule] > 0 {
				require.Positive(t, e.Events, "%s: %s", inc.ID, e.Rule)
			}
		}
	}
	for f := range ref.findings {
		expected := false
		for _, inc := range ft.Incidents {
			for _, e := range inc.Findings {
				expected = expected || e.matches(f.rule, f.actor, f.source)
			}
		}
		require.True(t, expected, "the reference finds %+v, which the truth does not expect", f)
	}
}
