package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/enrich"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

func inventory(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "inventory.yaml"))
	require.NoError(t, err)
	return p
}

// command is mutator-enrich with the test inventory and a private cache.
func command(t *testing.T, extra ...string) string {
	t.Helper()
	return strings.Join(append([]string{"mutator-enrich", "--inventory", testutil.Shell(inventory(t)), "--cache-dir", testutil.Shell(t.TempDir())}, extra...), " ")
}

func auditEvent(entity string) *corev2.Event {
	ev := testutil.Event()
	ev.Entity.Name = entity
	ev.Check.Name = "check-audit-log"
	fs := []finding.Finding{
		{Rule: "k8s.pod_exec", Severity: finding.Medium, Object: "pod/api-7"},
		{Rule: "k8s.cluster_admin_binding", Severity: finding.Critical, Object: "clusterrolebinding/x"},
	}
	b, _ := json.Marshal(fs)
	ev.Check.Annotations = map[string]string{finding.Annotation: string(b)}
	return ev
}

func mustJSON(t testing.TB, ev *corev2.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return string(b)
}

func TestEnrichesAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	out := testutil.New(t).Mutate(command(t), auditEvent("web-1"))
	l, a := out.Check.Labels, out.Check.Annotations
	require.Equal(t, map[string]string{
		enrich.LabelOwner: "alice@example.com", enrich.LabelTeam: "web", enrich.LabelEnvironment: "production",
		enrich.LabelRegion: "eu-west-1", enrich.LabelDataClass: "confidential", enrich.LabelPagerDutyTeam: "web",
	}, l)
	require.Equal(t, "web-1", a[enrich.AnnotationInventory])
	require.Equal(t, "https://runbooks.example.com/web/k8s.cluster_admin_binding", a[enrich.AnnotationRunbook])
	var rules map[string]enrich.RuleInfo
	require.NoError(t, json.Unmarshal([]byte(a[enrich.AnnotationRules]), &rules))
	require.Equal(t, []string{"T1098"}, rules["k8s.cluster_admin_binding"].MITRE)
	require.Contains(t, rules["k8s.pod_exec"].Compliance, "CIS Kubernetes 3.2.2")
	require.NotContains(t, a, enrich.AnnotationCloud, "cloud metadata is off by default")
}

func TestFirstMatchPrecedence(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	cases := []struct {
		name, entity string
		labels       map[string]string
		entry        string
	}{
		{"an exact name beats a label selector", "web-1", map[string]string{"app": "payments"}, "web-1"},
		{"a glob beats a label selector", "web-7", map[string]string{"app": "payments"}, "web-pool"},
		{"a label selector when nothing else matches", "api-3", map[string]string{"app": "payments"}, "payments"},
		{"nothing matches", "db-1", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ev := auditEvent(c.entity)
			ev.Entity.Labels = c.labels
			out := h.Mutate(command(t), ev)
			require.Equal(t, c.entry, out.Check.Annotations[enrich.AnnotationInventory])
			require.Equal(t, c.labels, out.Entity.Labels, "the entity's own labels are left alone")
		})
	}
}

func TestNeverOverwritesUnlessAsked(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	ev := auditEvent("web-1")
	ev.Check.Labels = map[string]string{enrich.LabelTeam: "set-by-check"}
	ev.Check.Annotations[enrich.AnnotationRunbook] = "https://wiki.example.com/mine"
	out := h.Mutate(command(t), ev)
	require.Equal(t, "set-by-check", out.Check.Labels[enrich.LabelTeam])
	require.Equal(t, "https://wiki.example.com/mine", out.Check.Annotations[enrich.AnnotationRunbook])
	require.Equal(t, "alice@example.com", out.Check.Labels[enrich.LabelOwner], "what is missing is still added")

	out = h.Mutate(command(t, "--overwrite"), ev)
	require.Equal(t, "web", out.Check.Labels[enrich.LabelTeam])

	// The check definition may ask; the entity (the agent's host) may not.
	byEntity := auditEvent("web-1")
	byEntity.Check.Labels = map[string]string{enrich.LabelTeam: "set-by-check"}
	byEntity.Entity.Annotations = map[string]string{"vigil.io/mutator-enrich/overwrite": "true"}
	out = h.Mutate(command(t), byEntity)
	require.Equal(t, "set-by-check", out.Check.Labels[enrich.LabelTeam])
	byCheck := auditEvent("web-1")
	byCheck.Check.Labels = map[string]string{enrich.LabelTeam: "set-by-check"}
	byCheck.Check.Annotations["vigil.io/mutator-enrich/overwrite"] = "true"
	out = h.Mutate(command(t), byCheck)
	require.Equal(t, "web", out.Check.Labels[enrich.LabelTeam])
}

func TestBadInputIsOneLineExitOne(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	bad := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	ev := mustJSON(t, auditEvent("web-1"))
	cases := []struct{ name, cmd, input, want string }{
		{"garbage on stdin", "mutator-enrich", "not json", "mutator-enrich: invalid event on stdin: expected a JSON object\n"},
		{"an event without an entity", "mutator-enrich", `{"timestamp":1,"check":{"metadata":{"name":"c"},"interval":1}}`, "mutator-enrich: invalid event on stdin: event must contain an entity\n"},
		{"broken inventory YAML", "mutator-enrich --inventory " + bad("broken.yaml", "- entity: a\n\tteam: b\n"), ev,
			"mutator-enrich: inventory " + filepath.Join(dir, "broken.yaml") + ":2: invalid YAML: found a tab character that violates indentation\n"},
		{"an unknown inventory field", "mutator-enrich --inventory " + bad("unknown.yaml", "- entity: a\n  owner: x\n  pager: y\n"), ev,
			"mutator-enrich: inventory " + filepath.Join(dir, "unknown.yaml") + `:3: unknown field "pager" (known: name, entity, glob, owner, team, environment, region, data_class, pagerduty_team, runbook_base_url, matchLabels)` + "\n"},
		{"a bad selector", "mutator-enrich --inventory " + bad("glob.yaml", "- glob: \"[web\"\n"), ev,
			"mutator-enrich: inventory " + filepath.Join(dir, "glob.yaml") + `:1: glob "[web" is not a valid pattern (path.Match syntax: *, ?, [a-z], \ escapes)` + "\n"},
		{"a missing inventory", "mutator-enrich --inventory " + filepath.Join(dir, "nope.yaml"), ev,
			"mutator-enrich: inventory " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
		{"a directory as inventory", "mutator-enrich --inventory " + dir, ev, "mutator-enrich: inventory " + dir + ": not a regular file\n"},
		{"a bad cloud provider", "mutator-enrich --cloud-metadata openstack", ev, ""},
		{"a cloud endpoint that is not a URL", "mutator-enrich --cloud-metadata aws --cloud-endpoint 169.254.169.254", ev, ""},
		{"a huge cloud timeout", "mutator-enrich --cloud-metadata aws --cloud-timeout 1m", ev, ""},
		{"a misspelt flag", "mutator-enrich --inventry x", ev, "mutator-enrich: unknown flag --inventry (did you mean --inventory?) (see --help)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := h.Exec(c.cmd+" --cache-dir "+testutil.Shell(t.TempDir()), c.input)
			require.Equal(t, 1, resp.Status, resp.Output)
			require.Equal(t, 1, strings.Count(resp.Output, "\n"), resp.Output)
			if c.want != "" {
				require.Equal(t, c.want, resp.Output)
			}
		})
	}
}

func TestUnreadableInventory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	p := filepath.Join(t.TempDir(), "inv.yaml")
	require.NoError(t, os.WriteFile(p, []byte("- entity: a\n"), 0))
	resp := testutil.New(t).Exec("mutator-enrich --inventory "+p, mustJSON(t, auditEvent("a")))
	require.Equal(t, 1, resp.Status)
	require.Equal(t, "mutator-enrich: inventory "+p+": permission denied\n", resp.Output)
}

func TestTheCacheIsWrittenAndFollowsTheInventory(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir := t.TempDir()
	inv := filepath.Join(dir, "inv.yaml")
	cache := filepath.Join(dir, "cache")
	require.NoError(t, os.WriteFile(inv, []byte("- entity: web-1\n  team: aaaa\n"), 0o600))
	cmd := "mutator-enrich --inventory " + inv + " --cache-dir " + cache
	require.Equal(t, "aaaa", h.Mutate(cmd, auditEvent("web-1")).Check.Labels[enrich.LabelTeam])
	files, err := filepath.Glob(filepath.Join(cache, "inventory-*.idx"))
	require.NoError(t, err)
	require.Len(t, files, 1)
	st, err := os.Stat(inv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(inv, []byte("- entity: web-1\n  team: bbbb\n"), 0o600))
	require.NoError(t, os.Chtimes(inv, st.ModTime(), st.ModTime()))
	require.Equal(t, "bbbb", h.Mutate(cmd, auditEvent("web-1")).Check.Labels[enrich.LabelTeam], "same size, same mtime, new content")
	require.Equal(t, "bbbb", h.Mutate(cmd+" --no-cache", auditEvent("web-1")).Check.Labels[enrich.LabelTeam])
}

func TestCloudMetadataFromIMDSv2AndWithoutIt(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			_, _ = w.Write([]byte("tok"))
		case r.URL.Path == "/latest/dynamic/instance-identity/document" && r.Header.Get("X-aws-ec2-metadata-token") == "tok":
			_, _ = w.Write([]byte(`{"accountId":"123456789012","region":"eu-west-1","availabilityZone":"eu-west-1a","instanceId":"i-0abc","instanceType":"t3.micro"}`))
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	h := testutil.New(t)
	out := h.Mutate(command(t, "--cloud-metadata aws --cloud-endpoint "+srv.URL), auditEvent("web-1"))
	require.JSONEq(t, `{"provider":"aws","account":"123456789012","region":"eu-west-1","zone":"eu-west-1a","instance_id":"i-0abc","instance_type":"t3.micro"}`, out.Check.Annotations[enrich.AnnotationCloud])

	// A metadata service that is not there: enriched all the same, and
	// Mutate proves nothing reached stderr (the output is one event).
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	out = h.Mutate(command(t, "--cloud-metadata auto --cloud-timeout 200ms --cloud-endpoint "+deadURL), auditEvent("web-1"))
	require.NotContains(t, out.Check.Annotations, enrich.AnnotationCloud)
	require.Equal(t, "web", out.Check.Labels[enrich.LabelTeam])

	// An entity cannot point the mutator at another metadata endpoint.
	ev := auditEvent("web-1")
	ev.Entity.Annotations = map[string]string{"vigil.io/mutator-enrich/cloud-endpoint": srv.URL, "vigil.io/mutator-enrich/cloud-metadata": "aws"}
	out = h.Mutate(command(t), ev)
	require.NotContains(t, out.Check.Annotations, enrich.AnnotationCloud)
}

func TestNothingOnStderr(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(testutil.Binary(t, "mutator-enrich"), "--inventory", inventory(t), "--cache-dir", t.TempDir())
	cmd.Stdin = strings.NewReader(mustJSON(t, auditEvent("web-1")))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run())
	require.Empty(t, stderr.String())
	require.Equal(t, 1, strings.Count(stdout.String(), "\n"))
	require.True(t, json.Valid([]byte(stdout.String())))
}

func TestChainedAfterMutatorRedact(t *testing.T) {
	t.Parallel()
	ev := auditEvent("web-1")
	ev.Check.Output = "login failed for jane.doe@example.com"
	out := testutil.New(t).Mutate("mutator-redact | "+command(t), ev)
	require.NotContains(t, out.Check.Output, "jane.doe@example.com")
	require.Equal(t, "web", out.Check.Labels[enrich.LabelTeam])
	require.Contains(t, out.Check.Annotations, "vigil.io/redactions")
}
