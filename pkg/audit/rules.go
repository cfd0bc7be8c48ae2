package audit

import (
	"fmt"
	"strings"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// Source is a log format.
type Source int

// The formats. Auto detects the format of each file from its first line.
const (
	Auto Source = iota
	K8s
	Auth
	Auditd
)

var sourceNames = [...]string{"auto", "k8s", "auth", "auditd"}

func (s Source) String() string {
	if s < Auto || s > Auditd {
		return fmt.Sprintf("source(%d)", int(s))
	}
	return sourceNames[s]
}

// ParseSource reads "auto", "k8s", "auth" or "auditd".
func ParseSource(name string) (Source, error) {
	for i, n := range sourceNames {
		if name == n {
			return Source(i), nil
		}
	}
	return Auto, fmt.Errorf("unknown source %q (want %s)", name, strings.Join(sourceNames[:], ", "))
}

// Detect tells the format of a log from one of its lines: a JSON object
// is a Kubernetes audit log, "type=… msg=audit(" (possibly after
// "node=…") is auditd, anything else is a syslog-style auth log.
func Detect(line []byte) Source {
	s := strings.TrimLeft(string(line[:min(len(line), 128)]), " \t\ufeff")
	switch {
	case strings.HasPrefix(s, "{"):
		return K8s
	case strings.HasPrefix(s, "type=") || strings.HasPrefix(s, "node=") && strings.Contains(s, " type="):
		return Auditd
	}
	return Auth
}

// Rule is a built-in rule.
type Rule struct {
	// ID is the dotted rule id findings carry.
	ID string
	// Source is the log format it reads.
	Source Source
	// Severity is its default severity. The failure rules take theirs
	// from the thresholds instead (see Options).
	Severity finding.Severity
	// Catches says what it matches; Why, why it matters. The README's
	// rule table is written from these.
	Catches, Why string
	// threshold: the severity comes from the per-source failure window.
	threshold bool
}

// The rule ids.
//
//nolint:gosec // rule ids that name secrets, not credentials
const (
	SecretAccess        = "k8s.secret_access"
	SecretAccessDenied  = "k8s.secret_access_denied"
	PodExec             = "k8s.pod_exec"
	ClusterAdminBinding = "k8s.cluster_admin_binding"
	RBACChange          = "k8s.rbac_change"
	WildcardRole        = "k8s.wildcard_role"
	AnonymousRequest    = "k8s.anonymous_request"
	PrivilegedPod       = "k8s.privileged_pod"
	SensitiveMount      = "k8s.sensitive_mount"
	HostNamespace       = "k8s.host_namespace"
	SATokenCreate       = "k8s.sa_token_create"
	Impersonation       = "k8s.impersonation"
	KubeSystemChange    = "k8s.kube_system_change"
	DeniedBurst         = "k8s.denied_burst"
	PolicyLevelLow      = "k8s.policy_level_low"

	SSHFailedLogin     = "ssh.failed_login"
	SSHInvalidUser     = "ssh.invalid_user"
	SSHMaxAuthExceeded = "ssh.max_auth_exceeded"
	SSHAcceptedLogin   = "ssh.accepted_login"
	SudoAuthFailure    = "sudo.auth_failure"
	SudoNotInSudoers   = "sudo.not_in_sudoers"
	SudoCommandDenied  = "sudo.command_not_allowed"
	SudoCommand        = "sudo.command"

	AuditdAuthFailure = "auditd.auth_failure"
	AuditdExec        = "auditd.exec"
)

var catalogue = []Rule{
	{ID: SecretAccess, Source: K8s, Severity: finding.Medium,
		Catches: "get, list or watch of secrets that succeeded",
		Why:     "secrets hold credentials: who read which is the first question after a leak"},
	{ID: SecretAccessDenied, Source: K8s, Severity: finding.Medium,
		Catches: "get, list or watch of secrets that was refused (401/403)",
		Why:     "probing for secrets with a stolen or under-privileged identity"},
	{ID: PodExec, Source: K8s, Severity: finding.Medium,
		Catches: "exec, attach, port-forward or proxy into pods, counted once although the API server logs it at two stages (node and service proxies are left to custom rules: monitoring scrapes through them)",
		Why:     "a shell in a running container bypasses deployment controls and is how attackers move laterally"},
	{ID: ClusterAdminBinding, Source: K8s, Severity: finding.Critical,
		Catches: "a role binding or cluster role binding to cluster-admin created or replaced, by anyone, trusted users included",
		Why:     "full control of the cluster granted to someone: a classic persistence step"},
	{ID: RBACChange, Source: K8s, Severity: finding.Medium,
		Catches: "roles, cluster roles and their bindings created, updated, patched or deleted; the escalate, bind and impersonate verbs",
		Why:     "permission changes outside the deployment pipeline are how privileges creep or get stolen"},
	{ID: WildcardRole, Source: K8s, Severity: finding.High,
		Catches: `a role or cluster role written with "*" in its verbs, resources or API groups`,
		Why:     "wildcards grant everything, including what future versions add"},
	{ID: AnonymousRequest, Source: K8s, Severity: finding.High,
		Catches: "a request by system:anonymous or system:unauthenticated that was allowed, health and discovery endpoints excepted",
		Why:     "anonymous access beyond health checks is a misconfiguration an attacker needs no credentials for"},
	{ID: PrivilegedPod, Source: K8s, Severity: finding.High,
		Catches: "a pod, or a workload template (deployment, daemonset, statefulset, replicaset, job, cronjob), with a privileged container (init and ephemeral included)",
		Why:     "a privileged container is root on the node"},
	{ID: SensitiveMount, Source: K8s, Severity: finding.High,
		Catches: "a hostPath volume of /, or under /etc, /proc, /root, /var/lib/kubelet, /etc/kubernetes, or a container runtime socket",
		Why:     "these mounts read node credentials or take over the node"},
	{ID: HostNamespace, Source: K8s, Severity: finding.High,
		Catches: "a pod spec with hostNetwork, hostPID or hostIPC",
		Why:     "host namespaces escape the pod's isolation: sniff the node's traffic, see and signal its processes"},
	{ID: SATokenCreate, Source: K8s, Severity: finding.Medium,
		Catches: "a service account token requested (serviceaccounts/token create)",
		Why:     "a minted token is a credential that outlives the session that made it"},
	{ID: Impersonation, Source: K8s, Severity: finding.Medium,
		Catches: "a request made while impersonating another user (kubectl --as)",
		Why:     "impersonation hides the real actor behind another identity's permissions"},
	{ID: KubeSystemChange, Source: K8s, Severity: finding.High,
		Catches: "pods or service accounts created in kube-system or kube-public",
		Why:     "workloads hidden among the control plane's own are a persistence technique"},
	{ID: DeniedBurst, Source: K8s, Severity: finding.Medium,
		Catches: "many 401/403 responses to one user or one source address within the window (--denied-warning, --denied-critical)",
		Why:     "credential stuffing or permission probing against the API server"},
	{ID: PolicyLevelLow, Source: K8s, Severity: finding.Low,
		Catches: "writes of pods, workloads, roles or bindings logged without the object written (level Metadata, a body truncated by the audit size limit, a JSON patch without its response): said once per run",
		Why:     "the rules that read pod specs and role bindings cannot see them; the check says it is blind instead of passing silently"},

	{ID: SSHFailedLogin, Source: Auth, threshold: true,
		Catches: `"Failed password/publickey/keyboard-interactive … from IP" (sshd and sshd-session); the PAM line of the same attempt is not counted again`,
		Why:     "password guessing; rated by failures per source within the window (--failed-login-warning, --failed-login-critical); an account failing that often from several addresses is a finding of its own (password spraying)"},
	{ID: SSHInvalidUser, Source: Auth, threshold: true,
		Catches: `"Invalid user X from IP"`,
		Why:     "user-name enumeration; rated like the failed logins of its source"},
	{ID: SSHMaxAuthExceeded, Source: Auth, threshold: true,
		Catches: `"maximum authentication attempts exceeded for X from IP"`,
		Why:     "a client that tried more keys or passwords than allowed in one connection; rated like the failed logins of its source"},
	{ID: SSHAcceptedLogin, Source: Auth, Severity: finding.Info,
		Catches: `"Accepted publickey/password … for X from IP"`,
		Why:     "who logged in from where; critical when the address failed --failed-login-warning times within the window before: the guessing worked"},
	{ID: SudoAuthFailure, Source: Auth, Severity: finding.Medium,
		Catches: `sudo's "N incorrect password attempts"`,
		Why:     "someone who does not know the account's password tried to become root"},
	{ID: SudoNotInSudoers, Source: Auth, Severity: finding.High,
		Catches: `sudo's "user NOT in sudoers"`,
		Why:     "an account with no sudo rights tried to become root"},
	{ID: SudoCommandDenied, Source: Auth, Severity: finding.Medium,
		Catches: `sudo's "command not allowed"`,
		Why:     "an account tried a command beyond its sudo rules"},
	{ID: SudoCommand, Source: Auth, Severity: finding.Info,
		Catches: "a command run through sudo (the program only: arguments may hold secrets)",
		Why:     "who ran what as root"},

	{ID: AuditdAuthFailure, Source: Auditd, threshold: true,
		Catches: "USER_AUTH and USER_LOGIN records with res=failed",
		Why:     "failed authentications seen by the kernel's audit trail; rated by failures per source within the window"},
	{ID: AuditdExec, Source: Auditd, Severity: finding.Medium,
		Catches: "a program executed under one of the watched keys (--auditd-keys, matching -k of your audit rules)",
		Why:     "execution of watched programs (privileged tools, shells from services) by whom, as whom"},
}

// Threshold says whether the rule's severity comes from the failures of
// its source within the window rather than from Severity.
func (r Rule) Threshold() bool { return r.threshold }

// Rules lists the built-in rules, Kubernetes first.
func Rules() []Rule { return append([]Rule(nil), catalogue...) }

// builtin finds a built-in rule by id.
func builtin(id string) (Rule, bool) {
	for _, r := range catalogue {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}
