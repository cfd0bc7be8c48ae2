package main

import (
	"container/heap"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// This file writes k8s-audit.log: one audit.k8s.io/v1 Event per line, as
// kube-apiserver --audit-log-path writes them (fields in the order of the
// Go struct, core objectRefs without apiGroup, no responseStatus and no
// authorization annotations at stage RequestReceived, watches logged at
// ResponseStarted and again minutes later at ResponseComplete).
//
// The background is what a 12-node cluster logs all day, and nothing in
// it may be a finding: the control plane's own identities (kubelets,
// controllers, the scheduler, the API server) doing everything they do,
// including reading secrets and creating privileged host-network pods in
// kube-system; anonymous health probes; and people and non-system service
// accounts reading non-secret resources, some of those reads with a
// responseObject that holds a privileged pod. No 401 or 403, no
// impersonation, no write by anyone the check does not trust.

// The Kubernetes version in user agents.
const kubeVersion = "v1.31.2 (linux/amd64) kubernetes/5864a46"

// An identity is a user as the audit log writes it, pre-rendered.
type identity struct {
	name  string
	group string // the group RBAC allows, for the authorization reason
	json  []byte // the "user" object
	ua    string
	ip    string
}

// newIdentity renders a user object: uid and extra are written when set
// (service-account tokens have them, certificates and OIDC users do not).
func newIdentity(name, uid string, groups []string, extra, ua, ip string) identity {
	w := &buf{}
	w.s(`{"username":`)
	w.q(name)
	if uid != "" {
		w.s(`,"uid":`)
		w.q(uid)
	}
	w.s(`,"groups":[`)
	for i, g := range groups {
		if i > 0 {
			w.s(",")
		}
		w.q(g)
	}
	w.s("]")
	if extra != "" {
		w.s(`,"extra":`)
		w.s(extra)
	}
	w.s("}")
	return identity{name: name, group: groups[0], json: w.b, ua: ua, ip: ip}
}

// serviceAccount is a service-account identity with a bound token.
func serviceAccount(ns, name, uid, ua, ip string) identity {
	return newIdentity("system:serviceaccount:"+ns+":"+name, uid,
		[]string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
		`{"authentication.kubernetes.io/credential-id":["JTI=`+uid[:8]+`-5c1f-4d8e-9a43-`+uid[24:]+`"]}`, ua, ip)
}

// controller is a kube-controller-manager controller with its own
// service account (--use-service-account-credentials).
func controller(name, uid string) identity {
	sa := "system:serviceaccount:kube-system:" + name
	return newIdentity(sa, uid, []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"}, "",
		"kube-controller-manager/"+kubeVersion+"/"+sa, "10.0.0.11")
}

// human is a person authenticated by OIDC, using kubectl from the VPN.
func human(name, group, ip string) identity {
	return newIdentity(name, "", []string{"oidc:" + group, "system:authenticated"}, "", "kubectl/"+kubeVersion, ip)
}

// node is a kubelet.
type node struct {
	name, ip string
	id       identity
}

// An objectRef names the object of a request; resource "" means a
// non-resource request (/healthz).
type objectRef struct {
	resource, namespace, name, group, version, subresource string
}

// kev is one audit event, rendered once per stage it is logged at.
type kev struct {
	level, id, verb, uri string
	user, imp            []byte // imp: impersonatedUser, nil when none
	ip, ua               string
	obj                  objectRef
	code                 int
	failure              []byte // responseStatus fields of a failure, before "code"
	req, resp            []byte // requestObject, responseObject (raw JSON)
	// received is requestReceivedTimestamp; started the ResponseStarted
	// stage (watches, exec), 0 when the event has none; at the
	// ResponseComplete stage.
	received, started, at int64
	decision, reason      string
	annotations           []byte // more annotations: `,"key":"value"`
}

// The stages.
const (
	stageReceived = "RequestReceived"
	stageStarted  = "ResponseStarted"
	stageComplete = "ResponseComplete"
)

// k8sGen renders audit events. It is not safe for concurrent use.
type k8sGen struct {
	buf
	o       buf // builds request and response objects
	st      stamper
	out     *stream // a dummy while planning incidents
	nodes   []node
	pending watches
	// the identities of the background
	kcm, scheduler, apiserver, anonymous identity
	controllers                          map[string]identity
	humans, readers                      []identity
	kubeProxy, coredns                   identity
}

func newK8sGen(r *rand.Rand, s *stream) *k8sGen {
	g := &k8sGen{buf: buf{r: r, b: make([]byte, 0, 8192)}, o: buf{r: r, b: make([]byte, 0, 8192)}, out: s}
	for i := range 12 {
		name, ip := "worker-"+strconv.Itoa(i-2), "10.0.1."+strconv.Itoa(10+i)
		if i < 3 {
			name, ip = "cp-"+strconv.Itoa(i+1), "10.0.0."+strconv.Itoa(11+i)
		}
		id := newIdentity("system:node:"+name, "", []string{"system:nodes", "system:authenticated"}, "", "kubelet/"+kubeVersion, ip)
		g.nodes = append(g.nodes, node{name: name, ip: ip, id: id})
	}
	g.kcm = newIdentity("system:kube-controller-manager", "", []string{"system:authenticated"}, "", "kube-controller-manager/"+kubeVersion+"/leader-election", "10.0.0.11")
	g.scheduler = newIdentity("system:kube-scheduler", "", []string{"system:authenticated"}, "", "kube-scheduler/"+kubeVersion+"/scheduler", "10.0.0.12")
	g.apiserver = newIdentity("system:apiserver", "8f0a4a6e-3c1b-4e0d-9b55-0c6f1b2d7e41", []string{"system:authenticated", "system:masters"}, "", "kube-apiserver/"+kubeVersion, "::1")
	g.anonymous = newIdentity("system:anonymous", "", []string{"system:unauthenticated"}, "", "kube-probe/1.31", "")
	g.controllers = map[string]identity{}
	for i, c := range []string{"replicaset-controller", "daemon-set-controller", "deployment-controller", "endpointslice-controller",
		"clusterrole-aggregation-controller", "generic-garbage-collector", "namespace-controller", "resourcequota-controller", "job-controller"} {
		g.controllers[c] = controller(c, "4b1c"+strconv.Itoa(1000+i)+"-7e2a-4f5b-8c3d-"+strconv.Itoa(100000000000+i*7919))
	}
	g.kubeProxy = serviceAccount("kube-system", "kube-proxy", "0b8e5d2c-1f4a-4c3e-9d7b-6a5e4f3c2b1a", "kube-proxy/"+kubeVersion, "10.0.1.14")
	g.coredns = serviceAccount("kube-system", "coredns", "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "coredns/v1.11.3 (linux/amd64) kubernetes/5864a46", "10.244.0.3")
	g.humans = []identity{
		human("alice@example.com", "platform", "10.20.0.21"),
		human("bob.dev@example.com", "developers", "10.20.0.34"),
		human("carol.sre@example.com", "sre", "10.20.0.47"),
		human("dan.qa@example.com", "developers", "10.20.0.52"),
	}
	g.readers = []identity{
		serviceAccount("monitoring", "prometheus-k8s", "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "prometheus/2.54.1", "10.244.3.21"),
		serviceAccount("ingress-nginx", "ingress-nginx", "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a", "nginx-ingress-controller/v1.11.3 (linux/amd64) ingress-nginx/9c1d0c7", "10.244.5.12"),
		serviceAccount("argocd", "argocd-application-controller", "6c7d8e9f-0a1b-4c2d-9e3f-4a5b6c7d8e9f", "argocd-application-controller/v2.12.4+27d1e64 (linux/amd64)", "10.244.7.8"),
		serviceAccount("monitoring", "kube-state-metrics", "2f3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c", "kube-state-metrics/v2.13.0 (linux/amd64) kubernetes/unknown", "10.244.3.40"),
	}
	return g
}

// The workloads of the cluster: namespace, app, image.
var apps = []struct{ ns, app, image string }{
	{"prod", "api", "registry.example.com/shop/api:1.42.0"},
	{"prod", "web", "registry.example.com/shop/web:3.8.1"},
	{"prod", "worker", "registry.example.com/shop/worker:1.42.0"},
	{"payments", "checkout", "registry.example.com/payments/checkout:2.7.3"},
	{"payments", "ledger", "registry.example.com/payments/ledger:0.19.2"},
	{"staging", "api", "registry.example.com/shop/api:1.43.0-rc.2"},
	{"staging", "web", "registry.example.com/shop/web:3.9.0-rc.1"},
	{"monitoring", "grafana", "docker.io/grafana/grafana:11.2.2"},
	{"ingress-nginx", "ingress-nginx-controller", "registry.k8s.io/ingress-nginx/controller:v1.11.3"},
	{"argocd", "argocd-repo-server", "quay.io/argoproj/argocd:v2.12.4"},
	{"kube-system", "coredns", "registry.k8s.io/coredns/coredns:v1.11.3"},
	{"default", "nginx", "docker.io/library/nginx:1.27"},
}

// render appends one line of e at stage.
func (g *k8sGen) render(e *kev, stage string) {
	g.s(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"`)
	g.s(e.level)
	g.s(`","auditID":"`)
	g.s(e.id)
	g.s(`","stage":"`)
	g.s(stage)
	g.s(`","requestURI":`)
	g.q(e.uri)
	g.s(`,"verb":"`)
	g.s(e.verb)
	g.s(`","user":`)
	g.b = append(g.b, e.user...)
	if e.imp != nil {
		g.s(`,"impersonatedUser":`)
		g.b = append(g.b, e.imp...)
	}
	g.s(`,"sourceIPs":["`)
	g.s(e.ip)
	g.s(`"],"userAgent":`)
	g.q(e.ua)
	if o := &e.obj; o.resource != "" {
		g.s(`,"objectRef":{"resource":"`)
		g.s(o.resource)
		g.s(`"`)
		if o.namespace != "" {
			g.s(`,"namespace":"`)
			g.s(o.namespace)
			g.s(`"`)
		}
		if o.name != "" {
			g.s(`,"name":"`)
			g.s(o.name)
			g.s(`"`)
		}
		if o.group != "" {
			g.s(`,"apiGroup":"`)
			g.s(o.group)
			g.s(`"`)
		}
		g.s(`,"apiVersion":"`)
		g.s(o.version)
		g.s(`"`)
		if o.subresource != "" {
			g.s(`,"subresource":"`)
			g.s(o.subresource)
			g.s(`"`)
		}
		g.s("}")
	}
	if stage != stageReceived {
		g.s(`,"responseStatus":{"metadata":{}`)
		g.b = append(g.b, e.failure...)
		g.s(`,"code":`)
		g.n(e.code)
		g.s("}")
	}
	if e.req != nil && (e.level == "Request" || e.level == "RequestResponse") {
		g.s(`,"requestObject":`)
		g.b = append(g.b, e.req...)
	}
	if e.resp != nil && e.level == "RequestResponse" && stage == stageComplete {
		g.s(`,"responseObject":`)
		g.b = append(g.b, e.resp...)
	}
	g.s(`,"requestReceivedTimestamp":`)
	g.b = g.st.k8s(g.b, e.received)
	g.s(`,"stageTimestamp":`)
	switch stage {
	case stageReceived:
		g.b = g.st.k8s(g.b, e.received)
	case stageStarted:
		g.b = g.st.k8s(g.b, e.started)
	default:
		g.b = g.st.k8s(g.b, e.at)
	}
	if stage != stageReceived && e.decision != "" {
		g.s(`,"annotations":{"authorization.k8s.io/decision":"`)
		g.s(e.decision)
		g.s(`","authorization.k8s.io/reason":`)
		g.q(e.reason)
		g.b = append(g.b, e.annotations...)
		g.s("}")
	}
	g.s("}")
}

// newID returns a fresh auditID.
func (g *k8sGen) newID() string {
	g.o.b = g.o.b[:0]
	g.o.uuid()
	return string(g.o.b)
}

// event fills the common fields of a background event that completes
// at t after a latency of up to maxLatency.
func (g *k8sGen) event(id identity, level, verb, uri string, obj objectRef, t int64, maxLatency time.Duration) *kev {
	e := &kev{level: level, id: g.newID(), verb: verb, uri: uri, user: id.json, ip: id.ip, ua: id.ua, obj: obj,
		code: 200, at: t, decision: "allow"}
	e.received = max(t-1e5-g.r.Int64N(int64(maxLatency)), g.out.last)
	return e
}

// emit writes a background event at its stages: ResponseComplete,
// preceded one time in four by RequestReceived; a watch is written at
// ResponseStarted and its ResponseComplete queued for when it times out.
func (g *k8sGen) emit(e *kev) {
	if e.verb == "watch" {
		e.started, e.at = e.at, e.at+int64(5*time.Minute)+g.r.Int64N(int64(5*time.Minute))
		g.line(e, stageStarted, e.started)
		heap.Push(&g.pending, *e)
		return
	}
	if g.r.IntN(4) == 0 {
		g.line(e, stageReceived, e.received)
	}
	g.line(e, stageComplete, e.at)
}

// withBody decides the level of a write by a control-plane identity: one
// in three is logged at Request with its body (the caller renders it),
// the others at Metadata, emitted here.
func (g *k8sGen) withBody(e *kev) bool {
	if g.r.IntN(3) > 0 {
		g.emit(e)
		return false
	}
	e.level = "Request"
	return true
}

// line writes one background line.
func (g *k8sGen) line(e *kev, stage string, at int64) {
	g.b = g.b[:0]
	g.render(e, stage)
	g.out.benign(g.b, at)
}

// flush writes the incident lines and the watch completions due by t, in
// time order.
func (g *k8sGen) flush(t int64) {
	for {
		p, w := g.out.nextPlanned(), int64(1<<63-1)
		if len(g.pending) > 0 {
			w = g.pending[0].at
		}
		switch {
		case min(p, w) > t || g.out.next == len(g.out.planned) && len(g.pending) == 0:
			return
		case p <= w:
			g.out.writePlanned()
		default:
			e := heap.Pop(&g.pending).(kev)
			g.line(&e, stageComplete, e.at)
		}
	}
}

// genK8s writes the Kubernetes audit log.
func genK8s(r, ri *rand.Rand, s *stream) {
	s.ft.Source = "k8s"
	s.setPlan(k8sIncidents(newK8sGen(ri, &stream{ft: &FileTruth{}})))
	g := newK8sGen(r, s)
	for !s.done() {
		t := s.now(r, int64(20*time.Millisecond))
		g.flush(t)
		g.background(t)
	}
	g.flush(1<<63 - 1)
}

// background writes one background request completing at t.
func (g *k8sGen) background(t int64) {
	r := g.r
	switch n := r.IntN(1000); {
	case n < 230:
		g.kubeletLease(t)
	case n < 290:
		g.kubeletNodeStatus(t)
	case n < 350:
		g.kubeletSecret(t)
	case n < 410:
		g.kubeletConfigMap(t)
	case n < 440:
		g.kubeletToken(t)
	case n < 485:
		g.kubeletPodStatus(t)
	case n < 515:
		g.kubeletEvent(t)
	case n < 575:
		g.leaderLease(t)
	case n < 605:
		g.apiserverRequest(t)
	case n < 640:
		g.endpointSlice(t)
	case n < 665:
		g.controllerRead(t)
	case n < 671:
		g.createPod(t)
	case n < 673:
		g.daemonSetPod(t)
	case n < 675:
		g.aggregateRole(t)
	case n < 685:
		g.controlPlaneWatch(t)
	case n < 740:
		g.healthProbe(t)
	case n < 840:
		g.humanRead(t)
	case n < 960:
		g.readerRead(t)
	default:
		g.systemWatch(t)
	}
}

func (g *k8sGen) pickNode() *node { return &g.nodes[g.r.IntN(len(g.nodes))] }

// podName writes a ReplicaSet pod name into o and returns it.
func (g *k8sGen) podName(app string) string {
	g.o.b = append(g.o.b[:0], app...)
	g.o.s("-")
	g.o.alnum(10)
	g.o.s("-")
	g.o.alnum(5)
	return string(g.o.b)
}

func (g *k8sGen) kubeletLease(t int64) {
	n := g.pickNode()
	e := g.event(n.id, "Metadata", "update", "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"+n.name+"?timeout=10s",
		objectRef{resource: "leases", namespace: "kube-node-lease", name: n.name, group: "coordination.k8s.io", version: "v1"}, t, 4*time.Millisecond)
	if g.r.IntN(100) == 0 {
		e.code = 409
		e.failure = []byte(`,"status":"Failure","message":"Operation cannot be fulfilled on leases.coordination.k8s.io \"` + n.name +
			`\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","details":{"name":"` +
			n.name + `","group":"coordination.k8s.io","kind":"leases"}`)
	}
	g.emit(e)
}

func (g *k8sGen) kubeletNodeStatus(t int64) {
	n := g.pickNode()
	e := g.event(n.id, "Metadata", "patch", "/api/v1/nodes/"+n.name+"/status?timeout=10s",
		objectRef{resource: "nodes", name: n.name, version: "v1", subresource: "status"}, t, 8*time.Millisecond)
	if !g.withBody(e) {
		return
	}
	o := &g.o
	o.b = o.b[:0]
	o.s(`{"status":{"$setElementOrder/conditions":[{"type":"MemoryPressure"},{"type":"DiskPressure"},{"type":"PIDPressure"},{"type":"Ready"}],"conditions":[`)
	for i, c := range []string{"MemoryPressure", "DiskPressure", "PIDPressure", "Ready"} {
		if i > 0 {
			o.s(",")
		}
		o.s(`{"lastHeartbeatTime":`)
		o.b = g.st.k8s(o.b, t-int64(time.Second))
		o.s(`,"type":"`)
		o.s(c)
		o.s(`"}`)
	}
	o.s(`]}}`)
	e.req = o.b
	g.emit(e)
}

func (g *k8sGen) kubeletSecret(t int64) {
	n, a := g.pickNode(), apps[g.r.IntN(len(apps))]
	name := a.app + "-" + []string{"tls", "credentials", "env", "db"}[g.r.IntN(4)]
	if g.r.IntN(2) == 0 {
		g.emit(g.event(n.id, "Metadata", "get", "/api/v1/namespaces/"+a.ns+"/secrets/"+name,
			objectRef{resource: "secrets", namespace: a.ns, name: name, version: "v1"}, t, 3*time.Millisecond))
		return
	}
	g.emit(g.event(n.id, "Metadata", "watch", "/api/v1/namespaces/"+a.ns+"/secrets?allowWatchBookmarks=true&fieldSelector=metadata.name%3D"+name+
		"&resourceVersion="+strconv.Itoa(4000000+g.r.IntN(1000000))+"&timeout=9m12s&timeoutSeconds=552&watch=true",
		objectRef{resource: "secrets", namespace: a.ns, version: "v1"}, t, 2*time.Millisecond))
}

func (g *k8sGen) kubeletConfigMap(t int64) {
	n, a := g.pickNode(), apps[g.r.IntN(len(apps))]
	name := "kube-root-ca.crt"
	if g.r.IntN(2) == 0 {
		name = a.app + "-config"
	}
	if g.r.IntN(3) == 0 {
		g.emit(g.event(n.id, "Metadata", "watch", "/api/v1/namespaces/"+a.ns+"/configmaps?allowWatchBookmarks=true&fieldSelector=metadata.name%3D"+name+
			"&resourceVersion="+strconv.Itoa(4000000+g.r.IntN(1000000))+"&timeout=6m41s&timeoutSeconds=401&watch=true",
			objectRef{resource: "configmaps", namespace: a.ns, version: "v1"}, t, 2*time.Millisecond))
		return
	}
	g.emit(g.event(n.id, "Metadata", "get", "/api/v1/namespaces/"+a.ns+"/configmaps/"+name,
		objectRef{resource: "configmaps", namespace: a.ns, name: name, version: "v1"}, t, 3*time.Millisecond))
}

func (g *k8sGen) kubeletToken(t int64) {
	n, a := g.pickNode(), apps[g.r.IntN(len(apps))]
	e := g.event(n.id, "Metadata", "create", "/api/v1/namespaces/"+a.ns+"/serviceaccounts/"+a.app+"/token",
		objectRef{resource: "serviceaccounts", namespace: a.ns, name: a.app, version: "v1", subresource: "token"}, t, 5*time.Millisecond)
	e.code = 201
	g.emit(e)
}

func (g *k8sGen) kubeletPodStatus(t int64) {
	n, a := g.pickNode(), apps[g.r.IntN(len(apps))]
	pod := g.podName(a.app)
	e := g.event(n.id, "Metadata", "patch", "/api/v1/namespaces/"+a.ns+"/pods/"+pod+"/status",
		objectRef{resource: "pods", namespace: a.ns, name: pod, version: "v1", subresource: "status"}, t, 6*time.Millisecond)
	if !g.withBody(e) {
		return
	}
	o := &g.o
	o.b = o.b[:0]
	o.s(`{"metadata":{"uid":"`)
	o.uuid()
	o.s(`"},"status":{"$setElementOrder/conditions":[{"type":"PodReadyToStartContainers"},{"type":"Initialized"},{"type":"Ready"},{"type":"ContainersReady"},{"type":"PodScheduled"}],"conditions":[{"lastTransitionTime":`)
	o.b = g.st.k8s(o.b, t-int64(time.Second))
	o.s(`,"status":"True","type":"Ready"},{"lastTransitionTime":`)
	o.b = g.st.k8s(o.b, t-int64(time.Second))
	o.s(`,"status":"True","type":"ContainersReady"}],"containerStatuses":[{"containerID":"containerd://`)
	o.hex(64)
	o.s(`","image":"`)
	o.s(a.image)
	o.s(`","imageID":"`)
	o.s(a.image)
	o.s(`@sha256:`)
	o.hex(64)
	o.s(`","lastState":{},"name":"`)
	o.s(a.app)
	o.s(`","ready":true,"restartCount":0,"started":true,"state":{"running":{"startedAt":`)
	o.b = g.st.k8s(o.b, t-int64(20*time.Second))
	o.s(`}}}]}}`)
	e.req = o.b
	g.emit(e)
}

func (g *k8sGen) kubeletEvent(t int64) {
	n, a := g.pickNode(), apps[g.r.IntN(len(apps))]
	pod := g.podName(a.app)
	e := g.event(n.id, "Metadata", "create", "/api/v1/namespaces/"+a.ns+"/events",
		objectRef{resource: "events", namespace: a.ns, version: "v1"}, t, 4*time.Millisecond)
	e.code = 201
	if !g.withBody(e) {
		return
	}
	reason, msg := []string{"Pulled", "Created", "Started", "Unhealthy"}[g.r.IntN(4)], ""
	switch reason {
	case "Pulled":
		msg = `Container image \"` + a.image + `\" already present on machine`
	case "Created":
		msg = "Created container " + a.app
	case "Started":
		msg = "Started container " + a.app
	default:
		msg = "Readiness probe failed: Get \\\"http://10.244.2.17:8080/ready\\\": context deadline exceeded"
	}
	o := &g.o
	o.b = o.b[:0]
	o.s(`{"kind":"Event","apiVersion":"v1","metadata":{"name":"`)
	o.s(pod)
	o.s(`.`)
	o.hex(16)
	o.s(`","namespace":"`)
	o.s(a.ns)
	o.s(`"},"involvedObject":{"kind":"Pod","namespace":"`)
	o.s(a.ns)
	o.s(`","name":"`)
	o.s(pod)
	o.s(`","uid":"`)
	o.uuid()
	o.s(`","apiVersion":"v1","fieldPath":"spec.containers{`)
	o.s(a.app)
	o.s(`}"},"reason":"`)
	o.s(reason)
	o.s(`","message":"`)
	o.s(msg)
	o.s(`","source":{"component":"kubelet","host":"`)
	o.s(n.name)
	o.s(`"},"firstTimestamp":`)
	o.b = g.st.k8s(o.b, t)
	o.s(`,"lastTimestamp":`)
	o.b = g.st.k8s(o.b, t)
	o.s(`,"count":1,"type":"Normal","eventTime":null,"reportingComponent":"kubelet","reportingInstance":"`)
	o.s(n.name)
	o.s(`"}`)
	e.req = o.b
	g.emit(e)
}

func (g *k8sGen) leaderLease(t int64) {
	id, name := g.kcm, "kube-controller-manager"
	if g.r.IntN(2) == 0 {
		id, name = g.scheduler, "kube-scheduler"
	}
	verb := "update"
	if g.r.IntN(3) == 0 {
		verb = "get"
	}
	e := g.event(id, "Metadata", verb, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"+name+"?timeout=5s",
		objectRef{resource: "leases", namespace: "kube-system", name: name, group: "coordination.k8s.io", version: "v1"}, t, 3*time.Millisecond)
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:` + name + `" of ClusterRole "system:` + name + `" to User "system:` + name + `"`
	g.emit(e)
}

func (g *k8sGen) apiserverRequest(t int64) {
	var e *kev
	switch g.r.IntN(3) {
	case 0:
		e = g.event(g.apiserver, "Metadata", "get", "/api/v1/namespaces/default/endpoints/kubernetes",
			objectRef{resource: "endpoints", namespace: "default", name: "kubernetes", version: "v1"}, t, time.Millisecond)
	case 1:
		e = g.event(g.apiserver, "Metadata", "get", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes",
			objectRef{resource: "endpointslices", namespace: "default", name: "kubernetes", group: "discovery.k8s.io", version: "v1"}, t, time.Millisecond)
	default:
		name := "apiserver-" + []string{"7xqz4kvbd2n3lrw5cyzyyavbui", "p3c5lgzw4a2hq7nqhjkcyd7v3e", "q2gd5f4jbh3xkyn7tmwp6rs5ze"}[g.r.IntN(3)]
		e = g.event(g.apiserver, "Metadata", "update", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"+name,
			objectRef{resource: "leases", namespace: "kube-system", name: name, group: "coordination.k8s.io", version: "v1"}, t, 2*time.Millisecond)
	}
	e.reason = ""
	g.emit(e)
}

func (g *k8sGen) endpointSlice(t int64) {
	a := apps[g.r.IntN(len(apps))]
	id := g.controllers["endpointslice-controller"]
	o := &g.o
	o.b = append(o.b[:0], a.app...)
	o.s("-")
	o.alnum(5)
	name := string(o.b)
	e := g.event(id, "Metadata", "update", "/apis/discovery.k8s.io/v1/namespaces/"+a.ns+"/endpointslices/"+name,
		objectRef{resource: "endpointslices", namespace: a.ns, name: name, group: "discovery.k8s.io", version: "v1"}, t, 5*time.Millisecond)
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:controller:endpointslice-controller" of ClusterRole "system:controller:endpointslice-controller" to ServiceAccount "endpointslice-controller/kube-system"`
	if !g.withBody(e) {
		return
	}
	o.b = o.b[:0]
	o.s(`{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"`)
	o.s(name)
	o.s(`","generateName":"`)
	o.s(a.app)
	o.s(`-","namespace":"`)
	o.s(a.ns)
	o.s(`","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"`)
	o.s(a.app)
	o.s(`"}},"addressType":"IPv4","endpoints":[`)
	for i := range 1 + g.r.IntN(3) {
		if i > 0 {
			o.s(",")
		}
		o.s(`{"addresses":["10.244.`)
		o.n(g.r.IntN(12))
		o.s(".")
		o.n(2 + g.r.IntN(250))
		o.s(`"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"`)
		o.s(g.pickNode().name)
		o.s(`"}`)
	}
	o.s(`],"ports":[{"name":"http","protocol":"TCP","port":8080}]}`)
	e.req = o.b
	g.emit(e)
}

func (g *k8sGen) controllerRead(t int64) {
	a := apps[g.r.IntN(len(apps))]
	c := []string{"generic-garbage-collector", "namespace-controller", "resourcequota-controller", "deployment-controller", "job-controller"}[g.r.IntN(5)]
	var e *kev
	switch g.r.IntN(3) {
	case 0:
		e = g.event(g.controllers[c], "Metadata", "list", "/apis/apps/v1/namespaces/"+a.ns+"/replicasets?limit=500",
			objectRef{resource: "replicasets", namespace: a.ns, group: "apps", version: "v1"}, t, 6*time.Millisecond)
	case 1:
		e = g.event(g.controllers[c], "Metadata", "get", "/api/v1/namespaces/"+a.ns+"/resourcequotas/compute",
			objectRef{resource: "resourcequotas", namespace: a.ns, name: "compute", version: "v1"}, t, 2*time.Millisecond)
		if g.r.IntN(2) == 0 {
			e.code = 404
			e.failure = []byte(`,"status":"Failure","message":"resourcequotas \"compute\" not found","reason":"NotFound","details":{"name":"compute","kind":"resourcequotas"}`)
		}
	default:
		e = g.event(g.controllers["deployment-controller"], "Metadata", "update", "/apis/apps/v1/namespaces/"+a.ns+"/deployments/"+a.app+"/status",
			objectRef{resource: "deployments", namespace: a.ns, name: a.app, group: "apps", version: "v1", subresource: "status"}, t, 5*time.Millisecond)
	}
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:controller:` + c + `" of ClusterRole "system:controller:` + c + `" to ServiceAccount "` + c + `/kube-system"`
	g.emit(e)
}

// createPod: the ReplicaSet controller creates a pod (anywhere, kube-system
// included) and the scheduler binds it.
func (g *k8sGen) createPod(t int64) {
	a := apps[g.r.IntN(len(apps))]
	pod := g.podName(a.app)
	if g.r.IntN(2) == 0 {
		e := g.event(g.scheduler, "Request", "create", "/api/v1/namespaces/"+a.ns+"/pods/"+pod+"/binding",
			objectRef{resource: "pods", namespace: a.ns, name: pod, version: "v1", subresource: "binding"}, t, 5*time.Millisecond)
		e.code = 201
		e.reason = `RBAC: allowed by ClusterRoleBinding "system:kube-scheduler" of ClusterRole "system:kube-scheduler" to User "system:kube-scheduler"`
		g.o.b = g.o.b[:0]
		g.o.s(`{"kind":"Binding","apiVersion":"v1","metadata":{"name":"` + pod + `","namespace":"` + a.ns + `","uid":"`)
		g.o.uuid()
		g.o.s(`"},"target":{"kind":"Node","name":"` + g.pickNode().name + `"}}`)
		e.req = g.o.b
		g.emit(e)
		return
	}
	e := g.event(g.controllers["replicaset-controller"], "RequestResponse", "create", "/api/v1/namespaces/"+a.ns+"/pods",
		objectRef{resource: "pods", namespace: a.ns, name: pod, version: "v1"}, t, 12*time.Millisecond)
	e.code = 201
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:controller:replicaset-controller" of ClusterRole "system:controller:replicaset-controller" to ServiceAccount "replicaset-controller/kube-system"`
	e.annotations = []byte(`,"pod-security.kubernetes.io/enforce-policy":"restricted:latest"`)
	p := podSpec{ns: a.ns, name: pod, app: a.app, image: a.image, owner: "ReplicaSet", sa: a.app}
	e.req = g.pod(p, t, false)
	e.resp = g.pod(p, t, true)
	g.emit(e)
}

// daemonSetPod: the DaemonSet controller creates a privileged
// host-network kube-proxy pod in kube-system.
func (g *k8sGen) daemonSetPod(t int64) {
	n := g.pickNode()
	o := &g.o
	o.b = append(o.b[:0], "kube-proxy-"...)
	o.alnum(5)
	pod := string(o.b)
	e := g.event(g.controllers["daemon-set-controller"], "RequestResponse", "create", "/api/v1/namespaces/kube-system/pods",
		objectRef{resource: "pods", namespace: "kube-system", name: pod, version: "v1"}, t, 12*time.Millisecond)
	e.code = 201
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:controller:daemon-set-controller" of ClusterRole "system:controller:daemon-set-controller" to ServiceAccount "daemon-set-controller/kube-system"`
	e.annotations = []byte(`,"pod-security.kubernetes.io/enforce-policy":"privileged:latest"`)
	p := podSpec{ns: "kube-system", name: pod, app: "kube-proxy", image: "registry.k8s.io/kube-proxy:v1.31.2", owner: "DaemonSet", sa: "kube-proxy",
		privileged: true, hostNetwork: true, hostPaths: []string{"/run/xtables.lock", "/lib/modules"}, node: n.name}
	e.req = g.pod(p, t, false)
	e.resp = g.pod(p, t, true)
	g.emit(e)
}

// aggregateRole: the aggregation controller rewrites the rules of the
// admin, edit and view roles.
func (g *k8sGen) aggregateRole(t int64) {
	role := []string{"admin", "edit", "view"}[g.r.IntN(3)]
	e := g.event(g.controllers["clusterrole-aggregation-controller"], "RequestResponse", "update", "/apis/rbac.authorization.k8s.io/v1/clusterroles/"+role,
		objectRef{resource: "clusterroles", name: role, group: "rbac.authorization.k8s.io", version: "v1"}, t, 6*time.Millisecond)
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:controller:clusterrole-aggregation-controller" of ClusterRole "cluster-admin" to ServiceAccount "clusterrole-aggregation-controller/kube-system"`
	verbs := `["get","list","watch"]`
	if role != "view" {
		verbs = `["create","delete","deletecollection","get","list","patch","update","watch"]`
	}
	e.req = []byte(`{"kind":"ClusterRole","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"` + role +
		`","labels":{"kubernetes.io/bootstrapping":"rbac-defaults"}},"rules":[{"verbs":` + verbs +
		`,"apiGroups":[""],"resources":["pods","services","endpoints","persistentvolumeclaims","configmaps"]},{"verbs":` + verbs +
		`,"apiGroups":["apps"],"resources":["deployments","replicasets","statefulsets","daemonsets"]},{"verbs":` + verbs +
		`,"apiGroups":["batch"],"resources":["jobs","cronjobs"]}],"aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"rbac.authorization.k8s.io/aggregate-to-` + role + `":"true"}}]}}`)
	e.resp = e.req
	g.emit(e)
}

// controlPlaneWatch: the controller manager and the scheduler watch
// everything, secrets included.
func (g *k8sGen) controlPlaneWatch(t int64) {
	id := g.kcm
	res := []string{"secrets", "pods", "nodes", "serviceaccounts", "configmaps"}[g.r.IntN(5)]
	if res != "secrets" && g.r.IntN(2) == 0 {
		id = g.scheduler
	}
	verb, uri := "watch", "/api/v1/"+res+"?allowWatchBookmarks=true&resourceVersion="+strconv.Itoa(4000000+g.r.IntN(1000000))+"&timeout=8m3s&timeoutSeconds=483&watch=true"
	if g.r.IntN(4) == 0 {
		verb, uri = "list", "/api/v1/"+res+"?limit=500&resourceVersion=0"
	}
	e := g.event(id, "Metadata", verb, uri, objectRef{resource: res, version: "v1"}, t, 20*time.Millisecond)
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:kube-controller-manager" of ClusterRole "system:kube-controller-manager" to User "system:kube-controller-manager"`
	g.emit(e)
}

// healthProbe: the kubelets probe the API servers anonymously.
func (g *k8sGen) healthProbe(t int64) {
	path := []string{"/livez", "/readyz", "/healthz", "/version"}[g.r.IntN(4)]
	e := g.event(g.anonymous, "Metadata", "get", path, objectRef{}, t, time.Millisecond)
	e.ip = g.nodes[g.r.IntN(3)].ip
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:public-info-viewer" of ClusterRole "system:public-info-viewer" to Group "system:unauthenticated"`
	g.emit(e)
}

// humanRead: people read pods, deployments, configmaps, events, services,
// nodes; one in eight reads is logged with its response, which may hold
// a privileged pod.
func (g *k8sGen) humanRead(t int64) {
	id := g.humans[g.r.IntN(len(g.humans))]
	a := apps[g.r.IntN(len(apps))]
	reason := `RBAC: allowed by ClusterRoleBinding "oidc-readers" of ClusterRole "view" to Group "` + id.group + `"`
	var e *kev
	switch k := g.r.IntN(16); {
	case k < 4:
		e = g.event(id, "Metadata", "list", "/api/v1/namespaces/"+a.ns+"/pods?limit=500",
			objectRef{resource: "pods", namespace: a.ns, version: "v1"}, t, 15*time.Millisecond)
	case k == 4:
		e = g.event(id, "RequestResponse", "get", "/apis/apps/v1/namespaces/"+a.ns+"/deployments/"+a.app,
			objectRef{resource: "deployments", namespace: a.ns, name: a.app, group: "apps", version: "v1"}, t, 4*time.Millisecond)
		e.resp = g.deployment(a.ns, a.app, a.image)
	case k == 5:
		pod := g.podName("kube-proxy")
		e = g.event(id, "RequestResponse", "get", "/api/v1/namespaces/kube-system/pods/"+pod,
			objectRef{resource: "pods", namespace: "kube-system", name: pod, version: "v1"}, t, 4*time.Millisecond)
		e.resp = g.pod(podSpec{ns: "kube-system", name: pod, app: "kube-proxy", image: "registry.k8s.io/kube-proxy:v1.31.2", owner: "DaemonSet",
			sa: "kube-proxy", privileged: true, hostNetwork: true, hostPaths: []string{"/run/xtables.lock", "/lib/modules"}, node: g.pickNode().name}, t-int64(time.Hour), true)
	case k < 8:
		e = g.event(id, "Metadata", "list", "/api/v1/namespaces/"+a.ns+"/events?fieldSelector=involvedObject.name%3D"+a.app,
			objectRef{resource: "events", namespace: a.ns, version: "v1"}, t, 8*time.Millisecond)
	case k < 10:
		e = g.event(id, "Metadata", "get", "/api/v1/namespaces/"+a.ns+"/configmaps/"+a.app+"-config",
			objectRef{resource: "configmaps", namespace: a.ns, name: a.app + "-config", version: "v1"}, t, 3*time.Millisecond)
	case k == 10:
		e = g.event(id, "Metadata", "watch", "/api/v1/namespaces/"+a.ns+"/pods?labelSelector=app%3D"+a.app+"&watch=true",
			objectRef{resource: "pods", namespace: a.ns, version: "v1"}, t, 3*time.Millisecond)
	case k < 13:
		e = g.event(id, "Metadata", "list", "/api/v1/nodes?limit=500",
			objectRef{resource: "nodes", version: "v1"}, t, 9*time.Millisecond)
	default:
		e = g.event(id, "Metadata", "get", "/api/v1/namespaces/"+a.ns+"/services/"+a.app,
			objectRef{resource: "services", namespace: a.ns, name: a.app, version: "v1"}, t, 3*time.Millisecond)
	}
	e.reason = reason
	g.emit(e)
}

// readerRead: monitoring, ingress and GitOps service accounts list and
// watch non-secret resources.
func (g *k8sGen) readerRead(t int64) {
	k := g.r.IntN(len(g.readers))
	id := g.readers[k]
	a := apps[g.r.IntN(len(apps))]
	var res, group, version, ns string
	switch k {
	case 0:
		res, version = []string{"pods", "endpoints", "services", "nodes"}[g.r.IntN(4)], "v1"
	case 1:
		res, group, version = []string{"ingresses", "endpointslices", "services", "configmaps"}[g.r.IntN(4)], "", "v1"
		switch res {
		case "ingresses":
			group = "networking.k8s.io"
		case "endpointslices":
			group = "discovery.k8s.io"
		}
	case 2:
		res, group, version = []string{"deployments", "statefulsets", "replicasets"}[g.r.IntN(3)], "apps", "v1"
	default:
		res, group, version = []string{"pods", "deployments", "daemonsets", "namespaces", "nodes"}[g.r.IntN(5)], "", "v1"
		if res == "deployments" || res == "daemonsets" {
			group = "apps"
		}
	}
	if res != "nodes" && res != "namespaces" && g.r.IntN(2) == 0 {
		ns = a.ns
	}
	path := "/api/v1/"
	if group != "" {
		path = "/apis/" + group + "/" + version + "/"
	}
	if ns != "" {
		path += "namespaces/" + ns + "/"
	}
	path += res
	verb, uri := "list", path+"?limit=500&resourceVersion=0"
	if g.r.IntN(3) == 0 {
		verb, uri = "watch", path+"?allowWatchBookmarks=true&resourceVersion="+strconv.Itoa(4000000+g.r.IntN(1000000))+"&timeout=7m12s&timeoutSeconds=432&watch=true"
	}
	e := g.event(id, "Metadata", verb, uri, objectRef{resource: res, namespace: ns, group: group, version: version}, t, 10*time.Millisecond)
	ns, name, _ := strings.Cut(strings.TrimPrefix(id.name, "system:serviceaccount:"), ":")
	e.reason = `RBAC: allowed by ClusterRoleBinding "` + name + `" of ClusterRole "` + name + `" to ServiceAccount "` + name + "/" + ns + `"`
	g.emit(e)
}

// systemWatch: kube-proxy and CoreDNS watch services and endpointslices.
func (g *k8sGen) systemWatch(t int64) {
	id := g.kubeProxy
	if g.r.IntN(2) == 0 {
		id = g.coredns
	}
	res, group := "services", ""
	if g.r.IntN(2) == 0 {
		res, group = "endpointslices", "discovery.k8s.io"
	}
	path := "/api/v1/" + res
	if group != "" {
		path = "/apis/" + group + "/v1/" + res
	}
	e := g.event(id, "Metadata", "watch", path+"?allowWatchBookmarks=true&labelSelector=%21service.kubernetes.io%2Fheadless&resourceVersion="+
		strconv.Itoa(4000000+g.r.IntN(1000000))+"&timeout=5m44s&timeoutSeconds=344&watch=true",
		objectRef{resource: res, group: group, version: "v1"}, t, 3*time.Millisecond)
	e.reason = `RBAC: allowed by ClusterRoleBinding "system:node-proxier" of ClusterRole "system:node-proxier" to ServiceAccount "kube-proxy/kube-system"`
	g.emit(e)
}

// podSpec describes a pod to render.
type podSpec struct {
	ns, name, app, image, owner, sa, node     string
	privileged, hostNetwork, hostPID, hostIPC bool
	hostPaths                                 []string
}

// pod renders a pod created at t as a controller submits it (status
// false) or as the API server returns it (status true).
func (g *k8sGen) pod(p podSpec, t int64, status bool) []byte {
	w := buf{r: g.r, b: make([]byte, 0, 2048)}
	w.s(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"`)
	w.s(p.name)
	w.s(`","namespace":"`)
	w.s(p.ns)
	if status {
		w.s(`","uid":"`)
		w.uuid()
		w.s(`","resourceVersion":"`)
		w.n(4000000 + g.r.IntN(1000000))
		w.s(`","creationTimestamp":`)
		w.b = g.st.k8sSeconds(w.b, t)
		w.s(`,"labels":{"app":"`)
	} else {
		w.s(`","labels":{"app":"`)
	}
	w.s(p.app)
	w.s(`"}`)
	if p.owner != "" {
		w.s(`,"ownerReferences":[{"apiVersion":"apps/v1","kind":"`)
		w.s(p.owner)
		w.s(`","name":"`)
		w.s(p.app)
		w.s(`","uid":"`)
		w.uuid()
		w.s(`","controller":true,"blockOwnerDeletion":true}]`)
	}
	w.s(`},"spec":{"volumes":[`)
	for i, path := range p.hostPaths {
		w.s(`{"name":"host-`)
		w.n(i)
		w.s(`","hostPath":{"path":"`)
		w.s(path)
		w.s(`","type":""}},`)
	}
	w.s(`{"name":"kube-api-access-`)
	w.alnum(5)
	w.s(`","projected":{"sources":[{"serviceAccountToken":{"expirationSeconds":3607,"path":"token"}},{"configMap":{"name":"kube-root-ca.crt","items":[{"key":"ca.crt","path":"ca.crt"}]}}],"defaultMode":420}}],"containers":[{"name":"`)
	w.s(p.app)
	w.s(`","image":"`)
	w.s(p.image)
	w.s(`","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"limits":{"memory":"512Mi"},"requests":{"cpu":"100m","memory":"256Mi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":`)
	if p.privileged {
		w.s(`{"privileged":true}`)
	} else {
		w.s(`{"capabilities":{"drop":["ALL"]},"privileged":false,"runAsNonRoot":true,"readOnlyRootFilesystem":true,"allowPrivilegeEscalation":false}`)
	}
	w.s(`}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"`)
	w.s(p.sa)
	w.s(`","serviceAccount":"`)
	w.s(p.sa)
	w.s(`"`)
	if p.node != "" {
		w.s(`,"nodeName":"`)
		w.s(p.node)
		w.s(`"`)
	}
	if p.hostNetwork {
		w.s(`,"hostNetwork":true`)
	}
	if p.hostPID {
		w.s(`,"hostPID":true`)
	}
	if p.hostIPC {
		w.s(`,"hostIPC":true`)
	}
	w.s(`,"securityContext":{},"schedulerName":"default-scheduler","tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],"priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},"status":`)
	if status {
		w.s(`{"phase":"Pending","qosClass":"Burstable"}}`)
	} else {
		w.s(`{}}`)
	}
	return w.b
}

// deployment renders a Deployment as the API server returns it.
func (g *k8sGen) deployment(ns, app, image string) []byte {
	w := buf{r: g.r}
	w.s(`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"` + app + `","namespace":"` + ns + `","uid":"`)
	w.uuid()
	w.s(`","resourceVersion":"`)
	w.n(4000000 + g.r.IntN(1000000))
	w.s(`","generation":`)
	w.n(1 + g.r.IntN(40))
	w.s(`,"labels":{"app":"` + app + `"},"annotations":{"deployment.kubernetes.io/revision":"`)
	w.n(1 + g.r.IntN(40))
	w.s(`"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"` + app + `"}},"template":{"metadata":{"labels":{"app":"` + app +
		`"}},"spec":{"containers":[{"name":"` + app + `","image":"` + image +
		`","ports":[{"containerPort":8080,"protocol":"TCP"}],"resources":{"limits":{"memory":"512Mi"},"requests":{"cpu":"100m","memory":"256Mi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent","securityContext":{"allowPrivilegeEscalation":false,"runAsNonRoot":true}}],"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"default-scheduler"}},"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}},"revisionHistoryLimit":10,"progressDeadlineSeconds":600},"status":{"observedGeneration":3,"replicas":3,"updatedReplicas":3,"readyReplicas":3,"availableReplicas":3,"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"Deployment has minimum availability."}]}}`)
	return w.b
}

// watches is a min-heap of watch events by the time they complete.
type watches []kev

func (h watches) Len() int           { return len(h) }
func (h watches) Less(i, j int) bool { return h[i].at < h[j].at }
func (h watches) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *watches) Push(x any)        { *h = append(*h, x.(kev)) }
func (h *watches) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
