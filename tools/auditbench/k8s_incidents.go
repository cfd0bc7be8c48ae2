package main

import (
	"strconv"
	"time"
)

// The Kubernetes rules of check-audit-log.
const (
	ruleSecretAccess       = "k8s.secret_access"
	ruleSecretAccessDenied = "k8s.secret_access_denied"
	rulePodExec            = "k8s.pod_exec"
	ruleClusterAdmin       = "k8s.cluster_admin_binding"
	ruleRBACChange         = "k8s.rbac_change"
	ruleWildcardRole       = "k8s.wildcard_role"
	ruleAnonymous          = "k8s.anonymous_request"
	rulePrivilegedPod      = "k8s.privileged_pod"
	ruleSensitiveMount     = "k8s.sensitive_mount"
	ruleHostNamespace      = "k8s.host_namespace"
	ruleSATokenCreate      = "k8s.sa_token_create"
	ruleImpersonation      = "k8s.impersonation"
	ruleKubeSystemChange   = "k8s.kube_system_change"
	ruleDeniedBurst        = "k8s.denied_burst"
	rulePolicyLevelLow     = "k8s.policy_level_low"
)

const (
	second = int64(time.Second)
	minute = int64(time.Minute)
)

// k8sIncident plants one scenario starting at t0.
type k8sIncident func(g *k8sGen, p *plan, t0 int64)

// k8sIncidents plans the Kubernetes incidents, each with its own actor
// and source address, spread over the day. Each event is logged at stage
// ResponseComplete, some also at RequestReceived (which the check
// ignores), execs and watches also at ResponseStarted with the same
// auditID (they count once).
func k8sIncidents(g *k8sGen) *plan {
	p := &plan{}
	all := []k8sIncident{
		secretReadByContractor, secretListByCI, secretReadDenied, execByContractor, portForwardAndAttach,
		clusterAdminByUser, clusterAdminByCI, rbacChanges, wildcardRoles, anonymousReads,
		privilegedPod, privilegedDeployment, sensitiveMounts, hostNamespaces, containerEscape,
		tokenRequest, impersonation, kubeSystemChanges, deniedBurst, metadataLevelWrites,
	}
	for i, t0 := range spread(g.r, len(all)) {
		all[i](g, p, t0)
	}
	return p
}

// ev starts an incident event that completes at t.
func (g *k8sGen) ev(id identity, level, verb, uri string, obj objectRef, t int64) *kev {
	return &kev{level: level, id: g.newID(), verb: verb, uri: uri, user: id.json, ip: id.ip, ua: id.ua, obj: obj, code: 200,
		received: t - 3e6 - g.r.Int64N(9e6), at: t, decision: "allow", reason: `RBAC: allowed by RoleBinding "team-edit" of ClusterRole "edit" to Group "` + id.group + `"`}
}

// plant schedules e: at RequestReceived when received is set, at
// ResponseStarted when e.started is, and at ResponseComplete, where its
// rules count. match says whether a per-line filter of the rules selects
// its lines (RequestReceived excepted).
func (g *k8sGen) plant(p *plan, inc int, e *kev, received bool, match bool, rules ...string) {
	if received {
		g.b = g.b[:0]
		g.render(e, stageReceived)
		p.add(inc, e.received, g.take(), nil, false)
	}
	if e.started != 0 {
		g.b = g.b[:0]
		g.render(e, stageStarted)
		p.add(inc, e.started, g.take(), nil, match)
	}
	g.b = g.b[:0]
	g.render(e, stageComplete)
	p.add(inc, e.at, g.take(), rules, match)
}

// forbid makes e a 403 as RBAC writes it.
func forbid(e *kev, user, verb, resource, group, ns, name string) {
	e.code, e.decision, e.reason = 403, "forbid", ""
	where := " at the cluster scope"
	if ns != "" {
		where = ` in the namespace \"` + ns + `\"`
	}
	subject := resource
	if name != "" {
		subject += ` \"` + name + `\"`
	}
	e.failure = []byte(`,"status":"Failure","message":"` + subject + ` is forbidden: User \"` + user + `\" cannot ` + verb + ` resource \"` + resource +
		`\" in API group \"` + group + `\"` + where + `","reason":"Forbidden","details":{"name":"` + name + `","kind":"` + resource + `"}`)
}

func secretReadByContractor(g *k8sGen, p *plan, t0 int64) {
	id := human("mallory@example.com", "contractors", "203.0.113.10")
	inc := p.incident("secret-read-by-contractor", "a contractor reads the live Stripe secret three times",
		&Expected{Rule: ruleSecretAccess, Actor: id.name, Source: id.ip})
	for i, dt := range []int64{0, 7 * minute, 19 * minute} {
		e := g.ev(id, "Metadata", "get", "/api/v1/namespaces/payments/secrets/stripe-live", objectRef{resource: "secrets", namespace: "payments", name: "stripe-live", version: "v1"}, t0+dt)
		g.plant(p, inc, e, i == 0, true, ruleSecretAccess)
	}
}

func secretListByCI(g *k8sGen, p *plan, t0 int64) {
	id := serviceAccount("ci", "deployer", "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", "kubectl/"+kubeVersion, "10.250.3.17")
	inc := p.incident("secret-list-by-ci", "a CI service account lists, then watches, the secrets of prod",
		&Expected{Rule: ruleSecretAccess, Actor: id.name, Source: id.ip})
	e := g.ev(id, "Metadata", "list", "/api/v1/namespaces/prod/secrets?limit=500", objectRef{resource: "secrets", namespace: "prod", version: "v1"}, t0)
	e.reason = `RBAC: allowed by RoleBinding "deployer/prod" of ClusterRole "admin" to ServiceAccount "deployer/ci"`
	g.plant(p, inc, e, false, true, ruleSecretAccess)
	e = g.ev(id, "Metadata", "watch", "/api/v1/namespaces/prod/secrets?allowWatchBookmarks=true&resourceVersion=4811234&watch=true",
		objectRef{resource: "secrets", namespace: "prod", version: "v1"}, t0+6*minute)
	e.started, e.received = t0+2*second, t0+2*second-2e6
	e.reason = `RBAC: allowed by RoleBinding "deployer/prod" of ClusterRole "admin" to ServiceAccount "deployer/ci"`
	g.plant(p, inc, e, false, true, ruleSecretAccess)
}

func secretReadDenied(g *k8sGen, p *plan, t0 int64) {
	id := human("intern@example.com", "interns", "198.51.100.40")
	inc := p.incident("secret-read-denied", "an intern tries to read two kube-system secrets and is refused",
		&Expected{Rule: ruleSecretAccessDenied, Actor: id.name, Source: id.ip})
	for i, name := range []string{"admin-token", "bootstrap-token-9k2x7f"} {
		e := g.ev(id, "Metadata", "get", "/api/v1/namespaces/kube-system/secrets/"+name, objectRef{resource: "secrets", namespace: "kube-system", name: name, version: "v1"}, t0+int64(i)*40*second)
		forbid(e, id.name, "get", "secrets", "", "kube-system", name)
		g.plant(p, inc, e, i == 1, true, ruleSecretAccessDenied)
	}
}

// exec plans an exec-like request on a pod: ResponseStarted and
// ResponseComplete, both with code 101 and the same auditID.
func (g *k8sGen) exec(p *plan, inc int, id identity, verb, ns, pod, sub, query string, t0, length int64) {
	e := g.ev(id, "Request", verb, "/api/v1/namespaces/"+ns+"/pods/"+pod+"/"+sub+query, objectRef{resource: "pods", namespace: ns, name: pod, version: "v1", subresource: sub}, t0+length)
	e.received, e.started, e.code = t0, t0+25e6, 101
	g.plant(p, inc, e, false, true, rulePodExec)
}

func execByContractor(g *k8sGen, p *plan, t0 int64) {
	id := human("ops-contractor@example.com", "contractors", "203.0.113.21")
	inc := p.incident("exec-by-contractor", "a contractor opens two shells in a prod pod (each logged at ResponseStarted and ResponseComplete)",
		&Expected{Rule: rulePodExec, Actor: id.name, Source: id.ip})
	pod := g.podName("api")
	g.exec(p, inc, id, "create", "prod", pod, "exec", "?command=%2Fbin%2Fsh&container=api&stdin=true&stdout=true&tty=true", t0, 3*minute)
	g.exec(p, inc, id, "create", "prod", pod, "exec", "?command=cat&command=%2Fetc%2Fapi%2Fconfig.yaml&container=api&stdout=true", t0+11*minute, 2*second)
}

func portForwardAndAttach(g *k8sGen, p *plan, t0 int64) {
	id := human("dave@example.com", "developers", "198.51.100.55")
	inc := p.incident("port-forward-and-attach", "a developer port-forwards to the ledger database and attaches to a pod (GET)",
		&Expected{Rule: rulePodExec, Actor: id.name, Source: id.ip})
	pod := g.podName("ledger")
	g.exec(p, inc, id, "create", "payments", pod, "portforward", "", t0, 14*minute)
	g.exec(p, inc, id, "get", "payments", pod, "attach", "?container=ledger&stdin=true&stdout=true&tty=true", t0+20*minute, 90*second)
}

// binding renders a (Cluster)RoleBinding to roleKind/role for subject.
func binding(kind, name, ns, subjectKind, subject, subjectNS, roleKind, role string) []byte {
	meta := `{"name":"` + name + `"`
	if ns != "" {
		meta += `,"namespace":"` + ns + `"`
	}
	subj := `{"kind":"` + subjectKind + `","name":"` + subject + `"`
	if subjectKind == "ServiceAccount" {
		subj += `,"namespace":"` + subjectNS + `"`
	} else {
		subj += `,"apiGroup":"rbac.authorization.k8s.io"`
	}
	return []byte(`{"kind":"` + kind + `","apiVersion":"rbac.authorization.k8s.io/v1","metadata":` + meta + `,"creationTimestamp":null},"subjects":[` + subj +
		`}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"` + roleKind + `","name":"` + role + `"}}`)
}

func clusterAdminByUser(g *k8sGen, p *plan, t0 int64) {
	id := human("eve@example.com", "developers", "203.0.113.30")
	inc := p.incident("cluster-admin-binding-by-user", "a developer binds herself to cluster-admin",
		&Expected{Rule: ruleClusterAdmin, Actor: id.name, Source: id.ip}, &Expected{Rule: ruleRBACChange, Actor: id.name, Source: id.ip})
	e := g.ev(id, "Request", "create", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings?fieldManager=kubectl-create&fieldValidation=Strict",
		objectRef{resource: "clusterrolebindings", name: "eve-admin", group: "rbac.authorization.k8s.io", version: "v1"}, t0)
	e.code = 201
	e.reason = `RBAC: allowed by ClusterRoleBinding "platform-rbac-managers" of ClusterRole "rbac-manager" to Group "oidc:developers"`
	e.req = binding("ClusterRoleBinding", "eve-admin", "", "User", id.name, "", "ClusterRole", "cluster-admin")
	g.plant(p, inc, e, true, true, ruleClusterAdmin, ruleRBACChange)
}

func clusterAdminByCI(g *k8sGen, p *plan, t0 int64) {
	id := serviceAccount("dev", "jenkins", "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b", "kubectl/"+kubeVersion, "10.250.7.9")
	inc := p.incident("cluster-admin-binding-by-ci", "a Jenkins service account binds itself to cluster-admin in namespace dev",
		&Expected{Rule: ruleClusterAdmin, Actor: id.name, Source: id.ip}, &Expected{Rule: ruleRBACChange, Actor: id.name, Source: id.ip})
	e := g.ev(id, "Request", "create", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/rolebindings?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
		objectRef{resource: "rolebindings", namespace: "dev", name: "jenkins-admin", group: "rbac.authorization.k8s.io", version: "v1"}, t0)
	e.code = 201
	e.reason = `RBAC: allowed by RoleBinding "jenkins/dev" of ClusterRole "admin" to ServiceAccount "jenkins/dev"`
	e.req = binding("RoleBinding", "jenkins-admin", "dev", "ServiceAccount", "jenkins", "dev", "ClusterRole", "cluster-admin")
	g.plant(p, inc, e, false, true, ruleClusterAdmin, ruleRBACChange)
}

func rbacChanges(g *k8sGen, p *plan, t0 int64) {
	id := human("frank@example.com", "developers", "198.51.100.60")
	inc := p.incident("rbac-changes", "a developer creates a role, patches a binding and deletes a cluster role",
		&Expected{Rule: ruleRBACChange, Actor: id.name, Source: id.ip})
	e := g.ev(id, "RequestResponse", "create", "/apis/rbac.authorization.k8s.io/v1/namespaces/staging/roles?fieldManager=kubectl-create&fieldValidation=Strict",
		objectRef{resource: "roles", namespace: "staging", name: "pod-reader", group: "rbac.authorization.k8s.io", version: "v1"}, t0)
	e.code = 201
	e.req = []byte(`{"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"pod-reader","namespace":"staging","creationTimestamp":null},"rules":[{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["pods","pods/log"]}]}`)
	e.resp = []byte(`{"kind":"Role","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"pod-reader","namespace":"staging","uid":"0d9e8f7a-6b5c-4d3e-9f2a-1b0c9d8e7f6a","resourceVersion":"4822931","creationTimestamp":"2026-11-22T00:00:00Z"},"rules":[{"verbs":["get","list","watch"],"apiGroups":[""],"resources":["pods","pods/log"]}]}`)
	g.plant(p, inc, e, true, true, ruleRBACChange)
	e = g.ev(id, "Request", "patch", "/apis/rbac.authorization.k8s.io/v1/namespaces/staging/rolebindings/pod-reader-binding?fieldManager=kubectl-patch",
		objectRef{resource: "rolebindings", namespace: "staging", name: "pod-reader-binding", group: "rbac.authorization.k8s.io", version: "v1"}, t0+4*minute)
	e.req = []byte(`{"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"User","name":"frank@example.com"},{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"oidc:contractors"}]}`)
	g.plant(p, inc, e, false, true, ruleRBACChange)
	e = g.ev(id, "Request", "delete", "/apis/rbac.authorization.k8s.io/v1/clusterroles/monitoring-reader",
		objectRef{resource: "clusterroles", name: "monitoring-reader", group: "rbac.authorization.k8s.io", version: "v1"}, t0+9*minute)
	e.req = []byte(`{"kind":"DeleteOptions","apiVersion":"rbac.authorization.k8s.io/v1","propagationPolicy":"Background"}`)
	g.plant(p, inc, e, false, true, ruleRBACChange)
}

func wildcardRoles(g *k8sGen, p *plan, t0 int64) {
	id := human("grace@example.com", "platform", "203.0.113.44")
	inc := p.incident("wildcard-roles", `a platform engineer creates a cluster role with "*" everywhere and patches a role to verbs "*"`,
		&Expected{Rule: ruleWildcardRole, Actor: id.name, Source: id.ip}, &Expected{Rule: ruleRBACChange, Actor: id.name, Source: id.ip})
	e := g.ev(id, "Request", "create", "/apis/rbac.authorization.k8s.io/v1/clusterroles?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
		objectRef{resource: "clusterroles", name: "grace-everything", group: "rbac.authorization.k8s.io", version: "v1"}, t0)
	e.code = 201
	e.req = []byte(`{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"grace-everything","creationTimestamp":null,"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"grace-everything\"}}\n"}},"rules":[{"verbs":["*"],"apiGroups":["*"],"resources":["*"]}]}`)
	g.plant(p, inc, e, false, true, ruleWildcardRole, ruleRBACChange)
	e = g.ev(id, "Request", "patch", "/apis/rbac.authorization.k8s.io/v1/namespaces/dev/roles/dev-ops?fieldManager=kubectl-patch",
		objectRef{resource: "roles", namespace: "dev", name: "dev-ops", group: "rbac.authorization.k8s.io", version: "v1"}, t0+3*minute)
	e.req = []byte(`{"rules":[{"apiGroups":[""],"resources":["pods","pods/exec"],"verbs":["*"]}]}`)
	g.plant(p, inc, e, true, true, ruleWildcardRole, ruleRBACChange)
}

func anonymousReads(g *k8sGen, p *plan, t0 int64) {
	id := newIdentity("system:anonymous", "", []string{"system:unauthenticated"}, "", "curl/8.5.0", "192.0.2.77")
	inc := p.incident("anonymous-reads", "an unauthenticated client lists pods, deployments and nodes, allowed by a binding of system:anonymous",
		&Expected{Rule: ruleAnonymous, Actor: id.name, Source: id.ip})
	for i, x := range []struct {
		uri string
		obj objectRef
	}{
		{"/api/v1/namespaces/default/pods", objectRef{resource: "pods", namespace: "default", version: "v1"}},
		{"/apis/apps/v1/deployments", objectRef{resource: "deployments", group: "apps", version: "v1"}},
		{"/api/v1/nodes", objectRef{resource: "nodes", version: "v1"}},
	} {
		e := g.ev(id, "Metadata", "list", x.uri, x.obj, t0+int64(i)*3*second)
		e.reason = `RBAC: allowed by ClusterRoleBinding "anonymous-view" of ClusterRole "view" to User "system:anonymous"`
		g.plant(p, inc, e, false, true, ruleAnonymous)
	}
}

// userPod renders a pod as kubectl submits it.
func userPod(ns, name, image, spec, container string) []byte {
	return []byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"` + name + `","namespace":"` + ns + `","creationTimestamp":null,"labels":{"run":"` + name +
		`"}},"spec":{` + spec + `"containers":[{"name":"` + name + `","image":"` + image + `","command":["sleep","infinity"],"resources":{}` + container +
		`}],"restartPolicy":"Always","dnsPolicy":"ClusterFirst"},"status":{}}`)
}

// createUserPod plans a pod created by id with kubectl, logged with its
// request and response.
func (g *k8sGen) createUserPod(p *plan, inc int, id identity, ns, name string, body []byte, t int64, received bool, rules ...string) {
	e := g.ev(id, "RequestResponse", "create", "/api/v1/namespaces/"+ns+"/pods?fieldManager=kubectl-run", objectRef{resource: "pods", namespace: ns, name: name, version: "v1"}, t)
	e.code, e.req = 201, body
	e.resp = []byte(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"` + name + `","namespace":"` + ns + `","uid":"c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f","resourceVersion":"4830017"},"status":{"phase":"Pending","qosClass":"BestEffort"}}`)
	e.annotations = []byte(`,"pod-security.kubernetes.io/enforce-policy":"privileged:latest"`)
	g.plant(p, inc, e, received, true, rules...)
}

func privilegedPod(g *k8sGen, p *plan, t0 int64) {
	id := human("henry@example.com", "developers", "198.51.100.71")
	inc := p.incident("privileged-pod", "a developer runs a privileged debug pod",
		&Expected{Rule: rulePrivilegedPod, Actor: id.name, Source: id.ip})
	g.createUserPod(p, inc, id, "default", "debug-henry", userPod("default", "debug-henry", "docker.io/library/busybox:1.36", "", `,"securityContext":{"privileged":true}`), t0, true, rulePrivilegedPod)
}

func privilegedDeployment(g *k8sGen, p *plan, t0 int64) {
	id := human("ivan@example.com", "developers", "203.0.113.80")
	inc := p.incident("privileged-deployment", "a developer creates a deployment whose pod template is privileged",
		&Expected{Rule: rulePrivilegedPod, Actor: id.name, Source: id.ip})
	e := g.ev(id, "Request", "create", "/apis/apps/v1/namespaces/prod/deployments?fieldManager=kubectl-client-side-apply&fieldValidation=Strict",
		objectRef{resource: "deployments", namespace: "prod", name: "node-debugger", group: "apps", version: "v1"}, t0)
	e.code = 201
	e.req = []byte(`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"node-debugger","namespace":"prod","creationTimestamp":null},"spec":{"replicas":1,"selector":{"matchLabels":{"app":"node-debugger"}},"template":{"metadata":{"creationTimestamp":null,"labels":{"app":"node-debugger"}},"spec":{"containers":[{"name":"debugger","image":"docker.io/nicolaka/netshoot:v0.13","command":["sleep","infinity"],"resources":{},"securityContext":{"privileged":true}}]}},"strategy":{}},"status":{}}`)
	g.plant(p, inc, e, false, true, rulePrivilegedPod)
}

func sensitiveMounts(g *k8sGen, p *plan, t0 int64) {
	id := human("judy@example.com", "sre", "192.0.2.90")
	inc := p.incident("sensitive-host-mounts", "an SRE mounts the host's root and the Docker socket into two pods",
		&Expected{Rule: ruleSensitiveMount, Actor: id.name, Source: id.ip})
	g.createUserPod(p, inc, id, "default", "backup", userPod("default", "backup", "docker.io/restic/restic:0.17.1",
		`"volumes":[{"name":"host","hostPath":{"path":"/","type":"Directory"}}],`, `,"volumeMounts":[{"name":"host","mountPath":"/host","readOnly":true}]`), t0, false, ruleSensitiveMount)
	g.createUserPod(p, inc, id, "default", "docker-tools", userPod("default", "docker-tools", "docker.io/library/docker:27-cli",
		`"volumes":[{"name":"sock","hostPath":{"path":"/var/run/docker.sock","type":"Socket"}}],`, `,"volumeMounts":[{"name":"sock","mountPath":"/var/run/docker.sock"}]`), t0+5*minute, true, ruleSensitiveMount)
}

func hostNamespaces(g *k8sGen, p *plan, t0 int64) {
	id := human("ken@example.com", "sre", "198.51.100.85")
	inc := p.incident("host-namespaces", "an SRE runs pods in the host's network, PID and IPC namespaces",
		&Expected{Rule: ruleHostNamespace, Actor: id.name, Source: id.ip})
	for i, x := range []struct{ name, spec string }{{"netdebug", `"hostNetwork":true,`}, {"pidspy", `"hostPID":true,`}, {"ipc-probe", `"hostIPC":true,`}} {
		g.createUserPod(p, inc, id, "default", x.name, userPod("default", x.name, "docker.io/nicolaka/netshoot:v0.13", x.spec, ""), t0+int64(i)*2*minute, false, ruleHostNamespace)
	}
}

func containerEscape(g *k8sGen, p *plan, t0 int64) {
	id := human("leo@example.com", "contractors", "203.0.113.99")
	inc := p.incident("container-escape-pod", "a contractor runs a privileged host-PID pod with /etc/kubernetes mounted",
		&Expected{Rule: rulePrivilegedPod, Actor: id.name, Source: id.ip},
		&Expected{Rule: ruleSensitiveMount, Actor: id.name, Source: id.ip},
		&Expected{Rule: ruleHostNamespace, Actor: id.name, Source: id.ip})
	g.createUserPod(p, inc, id, "default", "rootkit", userPod("default", "rootkit", "docker.io/library/alpine:3.20",
		`"volumes":[{"name":"pki","hostPath":{"path":"/etc/kubernetes","type":""}}],"hostPID":true,`,
		`,"volumeMounts":[{"name":"pki","mountPath":"/pki"}],"securityContext":{"privileged":true}`), t0, true, rulePrivilegedPod, ruleSensitiveMount, ruleHostNamespace)
}

func tokenRequest(g *k8sGen, p *plan, t0 int64) {
	id := human("mike@example.com", "developers", "192.0.2.101")
	inc := p.incident("token-request", "a developer mints a token for the payments service account",
		&Expected{Rule: ruleSATokenCreate, Actor: id.name, Source: id.ip})
	e := g.ev(id, "Request", "create", "/api/v1/namespaces/prod/serviceaccounts/payments-sa/token",
		objectRef{resource: "serviceaccounts", namespace: "prod", name: "payments-sa", version: "v1", subresource: "token"}, t0)
	e.code = 201
	e.req = []byte(`{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"audiences":null,"expirationSeconds":86400,"boundObjectRef":null},"status":{"token":"","expirationTimestamp":null}}`)
	g.plant(p, inc, e, false, true, ruleSATokenCreate)
}

func impersonation(g *k8sGen, p *plan, t0 int64) {
	id := human("nina@example.com", "sre", "203.0.113.111")
	inc := p.incident("impersonation", "an SRE reads namespaces and nodes as admin@example.com in system:masters",
		&Expected{Rule: ruleImpersonation, Actor: id.name, Source: id.ip})
	imp := []byte(`{"username":"admin@example.com","groups":["system:masters","system:authenticated"]}`)
	for i, x := range []struct {
		uri string
		obj objectRef
	}{
		{"/api/v1/namespaces?limit=500", objectRef{resource: "namespaces", version: "v1"}},
		{"/api/v1/nodes?limit=500", objectRef{resource: "nodes", version: "v1"}},
	} {
		e := g.ev(id, "Metadata", "list", x.uri, x.obj, t0+int64(i)*30*second)
		e.imp = imp
		e.reason = `RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"`
		g.plant(p, inc, e, i == 0, true, ruleImpersonation)
	}
}

func kubeSystemChanges(g *k8sGen, p *plan, t0 int64) {
	id := human("oscar@example.com", "platform", "198.51.100.120")
	inc := p.incident("kube-system-changes", "a platform engineer creates a plain pod in kube-system and a service account in kube-public",
		&Expected{Rule: ruleKubeSystemChange, Actor: id.name, Source: id.ip})
	g.createUserPod(p, inc, id, "kube-system", "oscar-shell", userPod("kube-system", "oscar-shell", "docker.io/library/alpine:3.20", "",
		`,"securityContext":{"allowPrivilegeEscalation":false,"runAsNonRoot":true,"runAsUser":1000}`), t0, false, ruleKubeSystemChange)
	e := g.ev(id, "Request", "create", "/api/v1/namespaces/kube-public/serviceaccounts?fieldManager=kubectl-create&fieldValidation=Strict",
		objectRef{resource: "serviceaccounts", namespace: "kube-public", name: "backdoor", version: "v1"}, t0+2*minute)
	e.code = 201
	e.req = []byte(`{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"backdoor","namespace":"kube-public","creationTimestamp":null}}`)
	g.plant(p, inc, e, true, true, ruleKubeSystemChange)
}

func deniedBurst(g *k8sGen, p *plan, t0 int64) {
	id := human("peter@example.com", "interns", "203.0.113.150")
	id.ua = "Go-http-client/2.0"
	inc := p.incident("denied-burst", "a client is refused 30 times in two minutes listing pods namespace after namespace",
		&Expected{Rule: ruleDeniedBurst, Actor: id.name, Source: id.ip})
	namespaces := []string{"default", "prod", "payments", "staging", "kube-system", "monitoring", "argocd", "ingress-nginx", "ci", "dev"}
	for i := range 30 {
		ns := namespaces[i%len(namespaces)]
		e := g.ev(id, "Metadata", "list", "/api/v1/namespaces/"+ns+"/pods?limit="+strconv.Itoa(500), objectRef{resource: "pods", namespace: ns, version: "v1"}, t0+int64(i)*4*second)
		forbid(e, id.name, "list", "pods", "", ns, "")
		g.plant(p, inc, e, false, false)
	}
}

func metadataLevelWrites(g *k8sGen, p *plan, t0 int64) {
	id := human("quinn@example.com", "developers", "192.0.2.160")
	inc := p.incident("metadata-level-writes", "a developer creates three pods and patches one in staging, logged at level Metadata: the policy hides their specs",
		&Expected{Rule: rulePolicyLevelLow})
	for i := range 3 {
		name := "scratch-" + strconv.Itoa(i+1)
		e := g.ev(id, "Metadata", "create", "/api/v1/namespaces/staging/pods?fieldManager=kubectl-run", objectRef{resource: "pods", namespace: "staging", name: name, version: "v1"}, t0+int64(i)*minute)
		e.code = 201
		g.plant(p, inc, e, false, true)
	}
	e := g.ev(id, "Metadata", "patch", "/api/v1/namespaces/staging/pods/scratch-1?fieldManager=kubectl-label",
		objectRef{resource: "pods", namespace: "staging", name: "scratch-1", version: "v1"}, t0+5*minute)
	g.plant(p, inc, e, false, true)
}
