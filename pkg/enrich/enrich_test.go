package enrich_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/enrich"
	"github.com/vigil-sec/vigil/pkg/finding"
)

const inventoryYAML = `# the fleet
- name: web-1-itself
  entity: web-1
  owner: alice@example.com
  team: web
  environment: production
  region: eu-west-1
  data_class: confidential
  pagerduty_team: web
  runbook_base_url: https://runbooks.example.com/web/
- glob: "web-*"
  team: web-pool
- glob: "*"
  team: catch-all-glob
- name: payments
  matchLabels: {app: payments, tier: web}
  team: payments
- matchLabels: {app: payments}
  team: payments-any
`

func write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

func TestLookupPrecedenceIsNameThenGlobThenLabelsFirstMatchWins(t *testing.T) {
	t.Parallel()
	entries, err := enrich.ParseInventory("inv.yaml", []byte(inventoryYAML))
	require.NoError(t, err)
	ix := enrich.BuildIndex(entries)
	require.Equal(t, 5, ix.Len())
	cases := []struct {
		name, entity string
		labels       map[string]string
		team, entry  string
	}{
		{"an exact name beats globs and labels", "web-1", map[string]string{"app": "payments", "tier": "web"}, "web", "web-1-itself"},
		{"the first glob in file order wins", "web-2", nil, "web-pool", "web-*"},
		{"a later catch-all glob still beats label selectors", "db-1", map[string]string{"app": "payments"}, "catch-all-glob", "*"},
	}
	for _, c := range cases {
		e, err := ix.Lookup(c.entity, c.labels)
		require.NoError(t, err, c.name)
		require.NotNil(t, e, c.name)
		require.Equal(t, c.team, e.Team, c.name)
		require.Equal(t, c.entry, e.Name, c.name)
	}
	// Without globs, label selectors in file order.
	noGlobs := `- matchLabels: {app: payments, tier: web}
  team: payments
- matchLabels: {app: payments}
  team: payments-any
- entity: web-1
  team: web
`
	entries, err = enrich.ParseInventory("inv.yaml", []byte(noGlobs))
	require.NoError(t, err)
	ix = enrich.BuildIndex(entries)
	e, err := ix.Lookup("api-1", map[string]string{"app": "payments", "tier": "web", "x": "y"})
	require.NoError(t, err)
	require.Equal(t, "payments", e.Team)
	require.Equal(t, "app=payments,tier=web", e.Name, "a label entry without a name is named by its selector")
	e, err = ix.Lookup("api-1", map[string]string{"app": "payments"})
	require.NoError(t, err)
	require.Equal(t, "payments-any", e.Team)
	e, err = ix.Lookup("api-1", map[string]string{"app": "billing"})
	require.NoError(t, err)
	require.Nil(t, e)
}

func TestJSONInventoryIsReadByContent(t *testing.T) {
	t.Parallel()
	js := `[
  {"entity": "web-1", "team": "web", "runbook_base_url": "https://r.example.com/"},
  {"glob": "db-*", "team": "db"},
  {"matchLabels": {"app": "x"}, "team": "x"}
]`
	entries, err := enrich.ParseInventory("inv.json", []byte(js))
	require.NoError(t, err)
	require.Len(t, entries, 3)
	require.Equal(t, 2, entries[0].Line)
	require.Equal(t, 4, entries[2].Line)
	e, err := enrich.BuildIndex(entries).Lookup("db-9", nil)
	require.NoError(t, err)
	require.Equal(t, "db", e.Team)
}

func TestBadInventoriesNameFileLineAndReason(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, content, want string }{
		{"broken YAML", "- entity: web-1\n\tteam: web\n", "inv:2: invalid YAML"},
		{"an unknown field", "- entity: web-1\n  teem: web\n", `inv:2: unknown field "teem"`},
		{"no selector", "- team: web\n", "inv:1: an entry needs one selector"},
		{"two selectors", "- entity: web-1\n  glob: web-*\n", "inv:1: an entry takes one selector"},
		{"a bad glob", "- entity: a\n- glob: \"web-[\"\n", `inv:2: glob "web-[" is not a valid pattern`},
		{"an empty matchLabels", "- matchLabels: {}\n", "inv:1: matchLabels is empty"},
		{"matchLabels not a mapping", "- matchLabels: [a]\n", "inv:1: matchLabels must be a mapping"},
		{"a list where a string goes", "- entity: web-1\n  owner: [a, b]\n", "inv:2: owner must be a string"},
		{"not a list", "entity: web-1\n", "inv:1: want a list of entries"},
		{"an entity twice", "- entity: web-1\n- entity: web-1\n", `inv:2: entity "web-1" already listed at line 1`},
		{"a name twice", "- name: a\n  entity: x\n- name: a\n  entity: y\n", `inv:3: entry name "a" already used at line 1`},
		{"a relative runbook URL", "- entity: web-1\n  runbook_base_url: runbooks/\n", "inv:1: runbook_base_url must be an absolute"},
		{"broken JSON", "[\n {\"entity\": \"a\"},\n {\"entity\": }\n]", "inv:3: invalid JSON"},
		{"an unknown JSON field", "[\n {\"entity\": \"a\", \"x\": \"y\"}\n]", `inv:2: unknown field "x"`},
		{"a JSON number where a string goes", "[\n {\"entity\": 1}\n]", "inv:2: entity must be a string"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := enrich.ParseInventory("inv", []byte(c.content))
			require.Error(t, err)
			var ie *enrich.InventoryError
			require.ErrorAs(t, err, &ie)
			require.Equal(t, "inventory "+c.want, err.Error()[:min(len(err.Error()), len("inventory "+c.want))], err.Error())
			require.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestEmptyInventoryMatchesNothing(t *testing.T) {
	t.Parallel()
	for _, content := range []string{"", "# nothing yet\n", "[]"} {
		entries, err := enrich.ParseInventory("inv", []byte(content))
		require.NoError(t, err)
		e, err := enrich.BuildIndex(entries).Lookup("web-1", nil)
		require.NoError(t, err)
		require.Nil(t, e)
	}
}

func TestUnreadableInventory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := enrich.LoadInventory(filepath.Join(dir, "missing.yaml"), enrich.LoadOptions{})
	require.EqualError(t, err, "inventory "+filepath.Join(dir, "missing.yaml")+": no such file or directory")
	_, err = enrich.LoadInventory(dir, enrich.LoadOptions{})
	require.EqualError(t, err, "inventory "+dir+": not a regular file")
	if os.Geteuid() != 0 {
		p := write(t, "inv.yaml", inventoryYAML)
		require.NoError(t, os.Chmod(p, 0))
		_, err = enrich.LoadInventory(p, enrich.LoadOptions{})
		require.EqualError(t, err, "inventory "+p+": permission denied")
	}
}

func TestCacheIsUsedAndRebuiltWhenTheInventoryChanges(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	inv := write(t, "inv.yaml", "- entity: web-1\n  team: aaaa\n")
	o := enrich.LoadOptions{CacheDir: cache}
	lookup := func() string {
		ix, err := enrich.LoadInventory(inv, o)
		require.NoError(t, err)
		e, err := ix.Lookup("web-1", nil)
		require.NoError(t, err)
		return e.Team
	}
	require.Equal(t, "aaaa", lookup())
	abs, err := filepath.Abs(inv)
	require.NoError(t, err)
	cp := enrich.CachePath(cache, abs)
	fi, err := os.Stat(cp)
	require.NoError(t, err, "the cache was written")
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	// The cache is what answers: damage the inventory's copy in the cache
	// is impossible to see, so check a second load does not rewrite it.
	before := fi.ModTime()
	require.Equal(t, "aaaa", lookup())
	fi, err = os.Stat(cp)
	require.NoError(t, err)
	require.Equal(t, before, fi.ModTime(), "a fresh cache is not rewritten")

	// Same size, same modification time, different content.
	st, err := os.Stat(inv)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(inv, []byte("- entity: web-1\n  team: bbbb\n"), 0o600))
	require.NoError(t, os.Chtimes(inv, st.ModTime(), st.ModTime()))
	require.Equal(t, "bbbb", lookup(), "the content hash is part of the key")

	// A damaged cache is rebuilt, not trusted.
	b, err := os.ReadFile(cp)
	require.NoError(t, err)
	b[len(b)-3] ^= 0xff
	require.NoError(t, os.WriteFile(cp, b, 0o600))
	require.Equal(t, "bbbb", lookup())
	require.NoError(t, os.WriteFile(cp, []byte("garbage"), 0o600))
	require.Equal(t, "bbbb", lookup())

	// A cache that cannot be written costs time, not the event.
	ro := enrich.LoadOptions{CacheDir: filepath.Join(write(t, "file", "x"), "sub")}
	ix, err := enrich.LoadInventory(inv, ro)
	require.NoError(t, err)
	require.Equal(t, 1, ix.Len())
}

func TestACachedBadInventoryIsStillAnError(t *testing.T) {
	t.Parallel()
	cache := t.TempDir()
	inv := write(t, "inv.yaml", "- entity: web-1\n")
	_, err := enrich.LoadInventory(inv, enrich.LoadOptions{CacheDir: cache})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(inv, []byte("- entity: web-1\n  oops: 1\n"), 0o600))
	_, err = enrich.LoadInventory(inv, enrich.LoadOptions{CacheDir: cache})
	require.ErrorContains(t, err, `inv.yaml:2: unknown field "oops"`)
}

func eventWith(fs ...finding.Finding) *corev2.Event {
	ev := corev2.FixtureEvent("web-1", "check-audit-log")
	if len(fs) > 0 {
		b, _ := json.Marshal(fs)
		ev.Check.Annotations = map[string]string{finding.Annotation: string(b)}
	}
	return ev
}

func TestApplyWritesTheContractKeysOnTheCheck(t *testing.T) {
	t.Parallel()
	entries, err := enrich.ParseInventory("inv", []byte(inventoryYAML))
	require.NoError(t, err)
	e, err := enrich.BuildIndex(entries).Lookup("web-1", nil)
	require.NoError(t, err)
	ev := eventWith(
		finding.Finding{Rule: "k8s.pod_exec", Severity: finding.Medium},
		finding.Finding{Rule: "k8s.cluster_admin_binding", Severity: finding.Critical},
		finding.Finding{Rule: "custom.prod_secret_delete", Severity: finding.High},
		finding.Finding{Rule: "custom.prod_secret_delete", Severity: finding.Low},
	)
	entityLabels := map[string]string{"keep": "me"}
	ev.Entity.Labels = entityLabels
	cloud := &enrich.Instance{Provider: "aws", Region: "eu-west-1", InstanceID: "i-1"}
	_, err = enrich.Apply(ev, enrich.Context{Entry: e, Cloud: cloud}, enrich.Options{})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"keep": "me"}, ev.Entity.Labels, "the entity is never written")
	l, a := ev.Check.Labels, ev.Check.Annotations
	require.Equal(t, "alice@example.com", l[enrich.LabelOwner])
	require.Equal(t, "web", l[enrich.LabelTeam])
	require.Equal(t, "production", l[enrich.LabelEnvironment])
	require.Equal(t, "eu-west-1", l[enrich.LabelRegion])
	require.Equal(t, "confidential", l[enrich.LabelDataClass])
	require.Equal(t, "web", l[enrich.LabelPagerDutyTeam])
	require.Equal(t, "web-1-itself", a[enrich.AnnotationInventory])
	require.Equal(t, "https://runbooks.example.com/web/k8s.cluster_admin_binding", a[enrich.AnnotationRunbook], "the worst finding's rule")
	require.JSONEq(t, `{"provider":"aws","region":"eu-west-1","instance_id":"i-1"}`, a[enrich.AnnotationCloud])
	var rules map[string]enrich.RuleInfo
	require.NoError(t, json.Unmarshal([]byte(a[enrich.AnnotationRules]), &rules))
	require.Len(t, rules, 3)
	require.Equal(t, []string{"T1609"}, rules["k8s.pod_exec"].MITRE)
	require.Equal(t, "critical", rules["k8s.cluster_admin_binding"].Severity)
	require.Equal(t, enrich.RuleInfo{MITRE: []string{}, Compliance: []string{}, Severity: "high"}, rules["custom.prod_secret_delete"], "a custom rule: the severity of its worst finding")
	require.Contains(t, a[enrich.AnnotationRules], `"description":"Someone ran exec`)
}

func TestRunbookWithoutFindingsIsTheCheckName(t *testing.T) {
	t.Parallel()
	ev := eventWith()
	_, err := enrich.Apply(ev, enrich.Context{}, enrich.Options{RunbookBaseURL: "https://rb.example.com/base"})
	require.NoError(t, err)
	require.Equal(t, "https://rb.example.com/base/check-audit-log", ev.Check.Annotations[enrich.AnnotationRunbook])
	require.Equal(t, "{}", ev.Check.Annotations[enrich.AnnotationRules])
	require.NotContains(t, ev.Check.Annotations, enrich.AnnotationInventory)
	require.NotContains(t, ev.Check.Labels, enrich.LabelTeam)
}

func TestNeverOverwriteUnlessAsked(t *testing.T) {
	t.Parallel()
	entry := &enrich.Entry{Name: "x", Entity: "web-1", Team: "from-inventory", Owner: "o@example.com"}
	for _, overwrite := range []bool{false, true} {
		ev := eventWith()
		ev.Check.Labels = map[string]string{enrich.LabelTeam: "from-check"}
		ev.Check.Annotations = map[string]string{enrich.AnnotationRules: "kept"}
		set, err := enrich.Apply(ev, enrich.Context{Entry: entry}, enrich.Options{Overwrite: overwrite})
		require.NoError(t, err)
		require.Equal(t, "o@example.com", ev.Check.Labels[enrich.LabelOwner])
		if overwrite {
			require.Equal(t, "from-inventory", ev.Check.Labels[enrich.LabelTeam])
			require.Equal(t, "{}", ev.Check.Annotations[enrich.AnnotationRules])
			require.Contains(t, set, enrich.LabelTeam)
		} else {
			require.Equal(t, "from-check", ev.Check.Labels[enrich.LabelTeam])
			require.Equal(t, "kept", ev.Check.Annotations[enrich.AnnotationRules])
			require.NotContains(t, set, enrich.LabelTeam)
		}
	}
}

func TestAMetricsOnlyEventIsLeftAlone(t *testing.T) {
	t.Parallel()
	ev := &corev2.Event{Entity: corev2.FixtureEntity("web-1"), Metrics: &corev2.Metrics{}}
	set, err := enrich.Apply(ev, enrich.Context{Entry: &enrich.Entry{Team: "x"}}, enrich.Options{})
	require.NoError(t, err)
	require.Empty(t, set)
}

// imds is an AWS IMDSv2 emulation: a token from PUT, then the identity
// document for that token only.
func imds(t *testing.T, delay time.Duration) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(delay)
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
			if r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
				http.Error(w, "missing ttl", http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte("tok-123"))
		case r.Method == http.MethodGet && r.URL.Path == "/latest/dynamic/instance-identity/document":
			if r.Header.Get("X-aws-ec2-metadata-token") != "tok-123" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			_, _ = w.Write([]byte(`{"accountId":"123456789012","region":"eu-west-1","availabilityZone":"eu-west-1b","instanceId":"i-0abc","instanceType":"m6i.large","imageId":"ami-1"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestCloudMetadataAWSIMDSv2(t *testing.T) {
	t.Parallel()
	srv, _ := imds(t, 0)
	for _, provider := range []string{enrich.CloudAWS, enrich.CloudAuto} {
		in, err := enrich.FetchInstance(context.Background(), enrich.CloudOptions{Provider: provider, Endpoint: srv.URL, Timeout: 2 * time.Second})
		require.NoError(t, err, provider)
		require.Equal(t, &enrich.Instance{Provider: "aws", Account: "123456789012", Region: "eu-west-1", Zone: "eu-west-1b", InstanceID: "i-0abc", InstanceType: "m6i.large"}, in)
	}
	_, err := enrich.FetchInstance(context.Background(), enrich.CloudOptions{Provider: enrich.CloudGCP, Endpoint: srv.URL, Timeout: time.Second})
	require.ErrorContains(t, err, "gcp: ")
}

func TestCloudMetadataTimesOut(t *testing.T) {
	t.Parallel()
	srv, _ := imds(t, time.Second)
	start := time.Now()
	_, err := enrich.FetchInstance(context.Background(), enrich.CloudOptions{Provider: enrich.CloudAuto, Endpoint: srv.URL, Timeout: 50 * time.Millisecond})
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 1500*time.Millisecond, "the timeout bounds the fetch (a generous bound: this is not a timing test)")
}

func TestCloudMetadataGCPAndAzure(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/computeMetadata/v1/" && r.Header.Get("Metadata-Flavor") == "Google":
			w.Header().Set("Metadata-Flavor", "Google")
			_, _ = w.Write([]byte(`{"instance":{"id":4520031799277581759,"zone":"projects/123/zones/europe-west1-b","machineType":"projects/123/machineTypes/e2-medium"},"project":{"projectId":"acme-prod"}}`))
		case r.URL.Path == "/metadata/instance/compute" && r.Header.Get("Metadata") == "true" && r.URL.Query().Get("api-version") != "":
			_, _ = w.Write([]byte(`{"location":"westeurope","zone":"2","vmId":"02aab8a4-74ef-476e-8182-f6d2ba4166a6","vmSize":"Standard_D2s_v3","subscriptionId":"8d10da13-8125-4ba9-a717-bf7490507b3d"}`))
		default:
			http.Error(w, "no", http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	in, err := enrich.FetchInstance(context.Background(), enrich.CloudOptions{Provider: enrich.CloudGCP, Endpoint: srv.URL, Timeout: time.Second})
	require.NoError(t, err)
	require.Equal(t, &enrich.Instance{Provider: "gcp", Account: "acme-prod", Region: "europe-west1", Zone: "europe-west1-b", InstanceID: "4520031799277581759", InstanceType: "e2-medium"}, in)
	in, err = enrich.FetchInstance(context.Background(), enrich.CloudOptions{Provider: enrich.CloudAzure, Endpoint: srv.URL, Timeout: time.Second})
	require.NoError(t, err)
	require.Equal(t, "westeurope", in.Region)
	require.Equal(t, "Standard_D2s_v3", in.InstanceType)
	_, err = enrich.FetchInstance(context.Background(), enrich.CloudOptions{Provider: "openstack", Endpoint: srv.URL})
	require.ErrorContains(t, err, "unknown cloud provider")
}

func TestCorruptIndexNeverPanics(t *testing.T) {
	t.Parallel()
	entries, err := enrich.ParseInventory("inv", []byte(inventoryYAML))
	require.NoError(t, err)
	good := enrich.BuildIndex(entries).Bytes()
	// Every truncation and a flipped byte at every position: the cache
	// checksum normally catches this; the decoder must hold regardless.
	for i := range good {
		for _, b := range [][]byte{good[:i], flip(good, i)} {
			ix, err := enrich.OpenIndexForTest(b)
			if err != nil {
				continue
			}
			_, _ = ix.Lookup("web-1", nil)
			_, _ = ix.Lookup("web-9", map[string]string{"app": "payments"})
			_, _ = ix.Lookup("zzz", map[string]string{"app": "payments", "tier": "web"})
		}
	}
	require.True(t, strings.HasPrefix(string(good), string(good[:4])))
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xff
	return c
}

func TestAnEntryChosenByTheHostsLabelsGivesNoPagerDutyTeam(t *testing.T) {
	t.Parallel()
	ev := eventWith()
	entry := &enrich.Entry{Name: "databases", MatchLabels: map[string]string{"tier": "db"}, Team: "dba", PagerDutyTeam: "dba"}
	_, err := enrich.Apply(ev, enrich.Context{Entry: entry}, enrich.Options{})
	require.NoError(t, err)
	require.Equal(t, "dba", ev.Check.Labels[enrich.LabelTeam], "context, yes")
	require.NotContains(t, ev.Check.Labels, enrich.LabelPagerDutyTeam, "routing, no: the host writes its own labels")
}

func TestARuleIDThatIsNotAnIDStaysOutOfTheRunbookURL(t *testing.T) {
	t.Parallel()
	ev := eventWith(finding.Finding{Rule: "../../../evil", Severity: finding.Critical})
	_, err := enrich.Apply(ev, enrich.Context{}, enrich.Options{RunbookBaseURL: "https://rb.example.com/base/"})
	require.NoError(t, err)
	require.Equal(t, "https://rb.example.com/base/check-audit-log", ev.Check.Annotations[enrich.AnnotationRunbook])
}
