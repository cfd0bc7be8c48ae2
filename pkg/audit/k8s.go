package audit

import (
	"bytes"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// k8sState is the Kubernetes part of an Engine.
type k8sState struct {
	parser fastjson.Parser

	// pending holds the audit ids of requests seen at stage
	// ResponseStarted (watches, exec, attach, port-forward: the API server
	// logs them again at ResponseComplete), so that each request counts
	// once. order bounds it, oldest first.
	pending map[string]bool
	order   []string

	// Writes whose request body the audit policy left out.
	blind      int
	blindKinds map[string]int
	blindFirst hit
}

// maxPending bounds the requests remembered between their two stages.
const maxPending = 10_000

func (k *k8sState) init() {
	k.pending = map[string]bool{}
	k.blindKinds = map[string]int{}
}

// started records a request at ResponseStarted; false when it was
// already seen.
func (k *k8sState) started(id []byte) bool {
	if len(id) == 0 {
		return true
	}
	if k.pending[string(id)] {
		return false
	}
	s := string(id)
	k.pending[s] = true
	k.order = append(k.order, s)
	if len(k.order) > maxPending {
		delete(k.pending, k.order[0])
		k.order = k.order[1:]
	}
	return true
}

// completed says whether a request at its last stage was already counted
// at ResponseStarted, and forgets it.
func (k *k8sState) completed(id []byte) bool {
	if len(id) == 0 || !k.pending[string(id)] {
		return false
	}
	delete(k.pending, string(id))
	return true
}

func (k *k8sState) pendingIDs() []string {
	return slices.DeleteFunc(slices.Clone(k.order), func(id string) bool { return !k.pending[id] })
}

func (k *k8sState) restorePending(ids []string) {
	for _, id := range ids {
		k.started([]byte(id))
	}
}

// k8sEvent holds the fields of one audit event the rules read, as slices
// of the parser's buffer: strings are made only for hits.
type k8sEvent struct {
	v                                          *fastjson.Value
	loc                                        Location
	verb, user, resource, sub, ns, name, group []byte
	code                                       int
	ok                                         bool // 1xx-3xx
}

func (ev *k8sEvent) object() string {
	var b strings.Builder
	if len(ev.ns) > 0 {
		b.Write(ev.ns)
		b.WriteByte('/')
	}
	b.Write(ev.resource)
	if len(ev.name) > 0 {
		b.WriteByte('/')
		b.Write(ev.name)
	}
	if len(ev.sub) > 0 {
		b.WriteByte('/')
		b.Write(ev.sub)
	}
	return b.String()
}

func (ev *k8sEvent) time() time.Time {
	for _, k := range []string{"requestReceivedTimestamp", "stageTimestamp"} {
		if s := ev.v.GetStringBytes(k); len(s) > 0 {
			if t, err := time.Parse(time.RFC3339Nano, string(s)); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}

func (ev *k8sEvent) sourceIP() string {
	return string(ev.v.GetStringBytes("sourceIPs", "0"))
}

// hit builds a hit on this event with the standard subject and message
// ("alice create clusterrolebindings/tmp-admin").
func (ev *k8sEvent) hit(rule, detail string) hit {
	obj := ev.object()
	msg := string(ev.user) + " " + string(ev.verb) + " " + obj
	if in(ev.sub, shellSubs) {
		// "alice exec into shop/pods/web-1", not "alice create …/exec".
		msg = string(ev.user) + " " + string(ev.sub) + " into " + strings.TrimSuffix(obj, "/"+string(ev.sub))
	}
	if detail != "" {
		msg += ": " + detail
	}
	return hit{rule: rule, actor: string(ev.user), source: ev.sourceIP(), object: obj, message: msg,
		time: ev.time(), loc: ev.loc, severity: ruleSeverity(rule),
		attrs: map[string]any{"verb": string(ev.verb), "code": ev.code}}
}

func (e *Engine) feedK8s(loc Location, line []byte) {
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	v, err := e.k8s.parser.ParseBytes(line)
	if err != nil {
		e.badLine(loc)
		return
	}
	switch string(v.GetStringBytes("kind")) {
	case "Event":
		e.k8sEvent(loc, v)
	case "EventList": // a webhook backend's batch
		for _, item := range v.GetArray("items") {
			e.k8sEvent(loc, item)
		}
	default:
		e.badLine(loc)
	}
}

var (
	readVerbs   = []string{"get", "list", "watch"}
	writeVerbs  = []string{"create", "update", "patch"}
	changeVerbs = []string{"create", "update", "patch", "delete", "deletecollection"}
	rbacKinds   = []string{"roles", "clusterroles", "rolebindings", "clusterrolebindings"}
	grantVerbs  = []string{"escalate", "bind", "impersonate"}
	shellSubs   = []string{"exec", "attach", "portforward", "proxy"}
	// podSpecAt says where each resource keeps its pod spec.
	podSpecAt = map[string][]string{
		"pods":                   {"spec"},
		"podtemplates":           {"template", "spec"},
		"deployments":            {"spec", "template", "spec"},
		"daemonsets":             {"spec", "template", "spec"},
		"statefulsets":           {"spec", "template", "spec"},
		"replicasets":            {"spec", "template", "spec"},
		"replicationcontrollers": {"spec", "template", "spec"},
		"jobs":                   {"spec", "template", "spec"},
		"cronjobs":               {"spec", "jobTemplate", "spec", "template", "spec"},
	}
	// Paths anonymous users are allowed by the default RBAC
	// (system:public-info-viewer, service account issuer discovery).
	publicPaths = []string{"/healthz", "/livez", "/readyz", "/version", "/.well-known/openid-configuration", "/openid/v1/jwks"}
)

func in(b []byte, set []string) bool {
	return slices.Contains(set, string(b))
}

// k8sEvent applies the rules to one audit event.
func (e *Engine) k8sEvent(loc Location, v *fastjson.Value) {
	ev := k8sEvent{v: v, loc: loc,
		verb: v.GetStringBytes("verb"), user: v.GetStringBytes("user", "username"),
		code: v.GetInt("responseStatus", "code")}
	trusted := e.isTrusted(ev.user)
	// A request logged at ResponseStarted (exec, attach, port-forward,
	// watches) is logged again at ResponseComplete: count it once. Only
	// untrusted users' are remembered: the control plane's watches would
	// crowd out the exec sessions (custom rules may see a trusted watch
	// twice).
	switch string(v.GetStringBytes("stage")) {
	case "RequestReceived":
		return // the outcome is not known yet; the later stage says it
	case "ResponseStarted":
		if !trusted && !e.k8s.started(v.GetStringBytes("auditID")) {
			return
		}
	default:
		if !trusted && e.k8s.completed(v.GetStringBytes("auditID")) {
			return
		}
	}
	ev.ok = ev.code >= 100 && ev.code < 400
	if or := v.Get("objectRef"); or != nil {
		ev.resource, ev.sub = or.GetStringBytes("resource"), or.GetStringBytes("subresource")
		ev.ns, ev.name, ev.group = or.GetStringBytes("namespace"), or.GetStringBytes("name"), or.GetStringBytes("apiGroup")
	}
	if e.opt.Custom != nil {
		e.custom(K8s, k8sRecord{v}, func() hit {
			h := ev.hit("", "")
			h.attrs = nil
			return h
		})
	}
	if trusted {
		// Even the control plane does not bind cluster-admin in passing.
		if ev.ok && in(ev.verb, writeVerbs) && (string(ev.resource) == "rolebindings" || string(ev.resource) == "clusterrolebindings") {
			if body := e.body(&ev); body != nil {
				e.rbacBody(&ev, body)
			}
		}
		return
	}
	if ev.code == 401 || ev.code == 403 {
		e.countDenied(&ev)
	}
	if !ev.ok {
		if string(ev.resource) == "secrets" && len(ev.sub) == 0 && in(ev.verb, readVerbs) && (ev.code == 401 || ev.code == 403) {
			e.emit(ev.hit(SecretAccessDenied, ""))
		}
		return
	}
	if imp := v.Get("impersonatedUser"); imp != nil && imp.Type() == fastjson.TypeObject {
		h := ev.hit(Impersonation, "as "+string(imp.GetStringBytes("username")))
		h.attrs["impersonated_user"] = string(imp.GetStringBytes("username"))
		e.emit(h)
	}
	if e.anonymous(&ev) {
		// The path only: a query string can carry a command line.
		uri, _, _ := strings.Cut(string(v.GetStringBytes("requestURI")), "?")
		e.emit(ev.hit(AnonymousRequest, uri))
	}
	res := string(ev.resource)
	switch {
	case res == "secrets" && len(ev.sub) == 0 && in(ev.verb, readVerbs):
		e.emit(ev.hit(SecretAccess, ""))
	case in(ev.sub, shellSubs) && res == "pods":
		e.emit(ev.hit(PodExec, ""))
	case res == "serviceaccounts" && string(ev.sub) == "token" && string(ev.verb) == "create":
		e.emit(ev.hit(SATokenCreate, ""))
	}
	if string(ev.verb) == "create" && len(ev.sub) == 0 && (res == "pods" || res == "serviceaccounts") &&
		(string(ev.ns) == "kube-system" || string(ev.ns) == "kube-public") {
		e.emit(ev.hit(KubeSystemChange, ""))
	}
	if string(ev.group) == "rbac.authorization.k8s.io" && in(ev.resource, rbacKinds) && in(ev.verb, changeVerbs) ||
		in(ev.verb, grantVerbs) {
		e.emit(ev.hit(RBACChange, ""))
	}
	if !in(ev.verb, writeVerbs) {
		return
	}
	at, podSpec := podSpecAt[res]
	rbac := string(ev.group) == "rbac.authorization.k8s.io" && in(ev.resource, rbacKinds)
	if !podSpec && !rbac || len(ev.sub) > 0 && string(ev.sub) != "ephemeralcontainers" {
		return
	}
	body := e.body(&ev)
	if body == nil {
		e.blind(&ev)
		return
	}
	if rbac {
		e.rbacBody(&ev, body)
		return
	}
	if spec := body.Get(at...); spec != nil {
		e.podSpec(&ev, spec)
	}
}

// body is the object a write made: the request body, or the response
// body where the request's is a patch or missing. Nil when the log does
// not hold it: level Metadata, a body truncated by the API server's audit
// size limit, or a JSON patch logged without the response.
func (e *Engine) body(ev *k8sEvent) *fastjson.Value {
	if string(ev.v.GetStringBytes("annotations", "audit.k8s.io/truncated")) == "true" {
		return nil
	}
	isObject := func(v *fastjson.Value) bool { return v != nil && v.Type() == fastjson.TypeObject }
	req, resp := ev.v.Get("requestObject"), ev.v.Get("responseObject")
	switch {
	case string(ev.verb) == "patch" && isObject(resp):
		return resp // the whole object after the patch
	case isObject(req) && string(ev.verb) != "patch":
		return req
	case isObject(resp):
		return resp
	case isObject(req):
		return req // a merge patch: what it sets is what matters
	}
	return nil
}

// anonymous says whether an event is an allowed anonymous request beyond
// the public endpoints.
func (e *Engine) anonymous(ev *k8sEvent) bool {
	anon := string(ev.user) == "system:anonymous"
	for _, g := range ev.v.GetArray("user", "groups") {
		anon = anon || string(g.GetStringBytes()) == "system:unauthenticated"
	}
	if !anon {
		return false
	}
	if d := ev.v.GetStringBytes("annotations", "authorization.k8s.io/decision"); len(d) > 0 && string(d) != "allow" {
		return false
	}
	uri := string(ev.v.GetStringBytes("requestURI"))
	if i := strings.IndexByte(uri, '?'); i >= 0 {
		uri = uri[:i]
	}
	for _, p := range publicPaths {
		if uri == p || strings.HasPrefix(uri, p+"/") {
			return false
		}
	}
	return true
}

// countDenied counts a 401/403 towards the bursts of its user and address.
func (e *Engine) countDenied(ev *k8sEvent) {
	e.deniedTotal++
	t := ev.time()
	user, ip := "user "+string(ev.user), "ip "+ev.sourceIP()
	if len(ev.user) > 0 {
		e.denied.add(user, t)
	}
	if len(ip) > 3 {
		e.denied.add(ip, t)
	}
	if len(ev.user) > 0 && len(ip) > 3 && len(e.deniedPeer) < maxStateKeys {
		if _, ok := e.deniedPeer[user]; !ok {
			e.deniedPeer[user] = ip
		}
		if _, ok := e.deniedPeer[ip]; !ok {
			e.deniedPeer[ip] = user
		}
	}
}

// blind notes a write whose body the audit policy did not log.
func (e *Engine) blind(ev *k8sEvent) {
	if e.k8s.blind == 0 {
		e.k8s.blindFirst = ev.hit(PolicyLevelLow, "")
	}
	e.k8s.blind++
	e.k8s.blindKinds[string(ev.resource)]++
}

// rbacBody applies the rules that read a role or binding.
func (e *Engine) rbacBody(ev *k8sEvent, body *fastjson.Value) {
	switch string(ev.resource) {
	case "rolebindings", "clusterrolebindings":
		if string(body.GetStringBytes("roleRef", "name")) == "cluster-admin" {
			h := ev.hit(ClusterAdminBinding, "binds cluster-admin to "+subjects(body))
			e.emit(h)
		}
	default:
		for _, rule := range body.GetArray("rules") {
			for _, field := range []string{"verbs", "resources", "apiGroups"} {
				for _, x := range rule.GetArray(field) {
					if string(x.GetStringBytes()) == "*" {
						e.emit(ev.hit(WildcardRole, `"*" in `+field))
						return
					}
				}
			}
		}
	}
}

// subjects names a binding's subjects ("User bob, Group ops").
func subjects(body *fastjson.Value) string {
	var out []string
	for _, s := range body.GetArray("subjects") {
		out = append(out, string(s.GetStringBytes("kind"))+" "+string(s.GetStringBytes("name")))
	}
	if len(out) == 0 {
		return "no subject"
	}
	return strings.Join(out, ", ")
}

// sensitivePaths are the host paths a hostPath volume must not be at or
// under ("/" only exactly).
var sensitivePaths = []string{
	"/etc", "/proc", "/root", "/var/lib/kubelet", "/etc/kubernetes", "/var/lib/docker",
	"/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd", "/run/containerd",
	"/var/run/crio", "/run/crio", "/var/run/cri-dockerd.sock", "/run/cri-dockerd.sock",
}

func sensitiveHostPath(p string) bool {
	p = path.Clean("/" + p)
	if p == "/" || p == "/var/run" || p == "/run" || p == "/var" {
		return true
	}
	for _, s := range sensitivePaths {
		if p == s || strings.HasPrefix(p, s+"/") {
			return true
		}
	}
	return false
}

// podSpec applies the pod spec rules to a pod or a workload template.
func (e *Engine) podSpec(ev *k8sEvent, spec *fastjson.Value) {
	var privileged []string
	for _, list := range []string{"containers", "initContainers", "ephemeralContainers"} {
		for _, c := range spec.GetArray(list) {
			if c.GetBool("securityContext", "privileged") {
				privileged = append(privileged, string(c.GetStringBytes("name")))
			}
		}
	}
	if len(privileged) > 0 {
		e.emit(ev.hit(PrivilegedPod, "privileged container "+strings.Join(privileged, ", ")))
	}
	var mounts []string
	for _, vol := range spec.GetArray("volumes") {
		if p := vol.GetStringBytes("hostPath", "path"); p != nil && sensitiveHostPath(string(p)) {
			mounts = append(mounts, string(p))
		}
	}
	if len(mounts) > 0 {
		h := ev.hit(SensitiveMount, "hostPath "+strings.Join(mounts, ", "))
		h.attrs["host_paths"] = mounts
		e.emit(h)
	}
	var ns []string
	for _, k := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if spec.GetBool(k) {
			ns = append(ns, k)
		}
	}
	if len(ns) > 0 {
		e.emit(ev.hit(HostNamespace, strings.Join(ns, ", ")))
	}
}

// deniedBursts turns the users and addresses with many 401/403 responses
// into findings. A burst seen both by user and by address (one client)
// is one finding.
func (e *Engine) deniedBursts() []finding.Finding {
	if e.disabled[DeniedBurst] {
		return nil
	}
	var out []finding.Finding
	for _, key := range slices.Sorted(maps.Keys(e.denied.keys)) {
		s := e.denied.keys[key]
		if s.total == 0 || s.peak < e.opt.DeniedWarning {
			continue
		}
		kind, who, _ := strings.Cut(key, " ")
		peer := e.deniedPeer[key]
		if kind == "ip" && e.deniedPeer[peer] == key && e.denied.keys[peer].peak >= e.opt.DeniedWarning {
			continue // the burst of one client, reported by its user
		}
		f := finding.Finding{Rule: DeniedBurst, Severity: finding.Medium, Count: s.total,
			Time:    time.Unix(0, s.last).UTC(),
			Message: fmt.Sprintf("%d requests refused (401/403), %s within %s", s.total, e.denied.atLeast(s.peak), FormatSpan(e.opt.Window)),
			Attrs:   map[string]any{"failures_in_window": s.peak}}
		if s.peak >= e.opt.DeniedCritical {
			f.Severity = finding.High
		}
		_, other, _ := strings.Cut(peer, " ")
		if kind == "user" {
			f.Actor, f.Source, f.Object = who, other, "user "+who
		} else {
			f.Actor, f.Source, f.Object = other, who, "address "+who
		}
		e.rate(&f)
		out = append(out, f)
	}
	return out
}

// policyLow is the one finding saying that writes were logged without
// their body.
func (e *Engine) policyLow() (finding.Finding, bool) {
	if e.k8s.blind == 0 || e.disabled[PolicyLevelLow] {
		return finding.Finding{}, false
	}
	h := e.k8s.blindFirst
	kinds := slices.Sorted(maps.Keys(e.k8s.blindKinds))
	f := finding.Finding{Rule: PolicyLevelLow, Severity: h.severity, Object: strings.Join(kinds, ", "),
		Location: h.loc.String(), Time: h.time, Count: e.k8s.blind,
		Message: fmt.Sprintf("%d writes of %s logged without the object written (level Metadata, a truncated body or a JSON patch): the pod spec and role binding rules cannot see them (log these resources at level Request, or RequestResponse for patches)",
			e.k8s.blind, strings.Join(kinds, ", "))}
	e.rate(&f)
	return f, true
}
