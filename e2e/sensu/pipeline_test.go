// Package sensu drives Vigil through the whole Sensu chain the way
// sensu-agent and sensu-backend do (pkg/sensuexec: sh -c, merged output,
// the event on stdin, timeouts, exit codes), without a backend, which no
// released sensu-go can be built into here: a check runs, its event (with
// the metrics Sensu extracts from nagios_perfdata) goes through a
// pipeline whose mutator is mutator-redact | mutator-enrich, to
// handler-archive, handler-elasticsearch (VictoriaLogs), handler-tsdb
// (Prometheus), handler-pagerduty (the local Events API v2 server) and
// handler-remediation (dry run); the test then asks each store what it
// received. The check's --events-api events go to a local server that
// implements the agent's POST /events contract.
package sensu

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/internal/pdtest"
	"github.com/vigil-sec/vigil/pkg/archive"
	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// resources are the Sensu definitions of the run: the shape of
// examples/sensu, pointed at the test's servers and files through the
// environment, as a backend's env secrets provider would.
const resources = `
type: CheckConfig
api_version: core/v2
metadata: {name: fim-baseline}
spec:
  command: check-file-integrity --init --root "$E2E/host" --path /etc --path /usr/bin --baseline "$E2E/fim.vfim" --hmac-key-file "$E2E/fim.key"
  interval: 86400
  publish: false
---
type: CheckConfig
api_version: core/v2
metadata: {name: file-integrity}
spec:
  command: check-file-integrity --root "$E2E/host" --path /etc --path /usr/bin --baseline "$E2E/fim.vfim" --hmac-key-file "$E2E/fim.key" --events-api "$EVENTS_URL"
  interval: 600
  ttl: 1300
  stdin: true
  subscriptions: [linux]
  output_metric_format: nagios_perfdata
  pipelines:
    - {name: vigil-everything, type: Pipeline, api_version: core/v2}
---
type: Mutator
api_version: core/v2
metadata: {name: vigil-redact-enrich}
spec:
  command: mutator-redact | mutator-enrich --inventory "$E2E/inventory.yaml"
  timeout: 10
---
type: Handler
api_version: core/v2
metadata: {name: vigil-archive}
spec:
  type: pipe
  command: handler-archive --dir "$E2E/archive"
  timeout: 30
---
type: Handler
api_version: core/v2
metadata: {name: vigil-elasticsearch}
spec:
  type: pipe
  command: handler-elasticsearch --skip-template --spool-dir "$E2E/spool/es" --url "$VIGIL_VICTORIALOGS_URL/insert/elasticsearch?_time_field=@timestamp&_msg_field=vigil.summary"
  timeout: 30
---
type: Handler
api_version: core/v2
metadata: {name: vigil-tsdb}
spec:
  type: pipe
  command: handler-tsdb --status-metric --label "run=$RUN" --spool-dir "$E2E/spool/tsdb" --url "$VIGIL_PROMETHEUS_URL/api/v1/write"
  timeout: 30
---
type: Handler
api_version: core/v2
metadata: {name: vigil-pagerduty}
spec:
  type: pipe
  command: handler-pagerduty --teams web --sensu-url https://sensu.example.com --spool-dir "$E2E/spool/pd"
  timeout: 30
---
type: Handler
api_version: core/v2
metadata: {name: vigil-remediation}
spec:
  type: pipe
  command: handler-remediation --dry-run --config "$E2E/remediation.yaml" --state-dir "$E2E/remediation"
  timeout: 60
---
type: Pipeline
api_version: core/v2
metadata: {name: vigil-everything}
spec:
  workflows:
    - name: archive
      mutator: {name: vigil-redact-enrich, type: Mutator, api_version: core/v2}
      handler: {name: vigil-archive, type: Handler, api_version: core/v2}
    - name: elasticsearch
      mutator: {name: vigil-redact-enrich, type: Mutator, api_version: core/v2}
      handler: {name: vigil-elasticsearch, type: Handler, api_version: core/v2}
    - name: metrics
      filters: [{name: has_metrics, type: EventFilter, api_version: core/v2}]
      handler: {name: vigil-tsdb, type: Handler, api_version: core/v2}
    - name: page
      filters: [{name: is_incident, type: EventFilter, api_version: core/v2}]
      mutator: {name: vigil-redact-enrich, type: Mutator, api_version: core/v2}
      handler: {name: vigil-pagerduty, type: Handler, api_version: core/v2}
    - name: remediate
      filters: [{name: is_incident, type: EventFilter, api_version: core/v2}]
      handler: {name: vigil-remediation, type: Handler, api_version: core/v2}
`

const inventory = `
- name: the-test-host
  entity: vigil-test-host
  owner: alice@example.com
  team: web
  pagerduty_team: web
  runbook_base_url: https://runbooks.example.com/
`

const remediation = `
actions:
  rescan:
    kind: command
    command: [/bin/true]
    capture: true
rules:
  - name: critical-integrity
    match:
      checks: [file-integrity*]   # the parent and its per-finding events (file-integrity-fim-modified-…)
      rules: [fim.*]
      severity: critical
    actions: [rescan]
`

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), mode))
}

func TestAnIntegrityFindingThroughTheWholeSensuPipeline(t *testing.T) {
	t.Parallel()
	prom := testutil.Service(t, testutil.Prometheus)
	vlogs := testutil.Service(t, testutil.VictoriaLogs)
	pd := &pdtest.Server{}
	pdSrv := httptest.NewServer(pd)
	t.Cleanup(pdSrv.Close)
	h := testutil.New(t)
	api, eventsURL := testutil.EventsAPI(t)

	dir := t.TempDir()
	write(t, filepath.Join(dir, "host/etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n", 0o644)
	write(t, filepath.Join(dir, "host/usr/bin/ps"), "#!/bin/sh\necho ps\n", 0o755)
	write(t, filepath.Join(dir, "fim.key"), "e2e-hmac-key-0123456789abcdef\n", 0o600)
	write(t, filepath.Join(dir, "inventory.yaml"), inventory, 0o600)
	write(t, filepath.Join(dir, "remediation.yaml"), remediation, 0o600)

	res := &sensuexec.Resources{}
	require.NoError(t, res.Add([]byte(resources)))
	run := "e2e" + strconv.FormatInt(time.Now().UnixNano(), 36)
	env := append(os.Environ(),
		"E2E="+dir, "RUN="+run, "EVENTS_URL="+eventsURL, "VIGIL_STATE_DIR="+filepath.Join(dir, "state"),
		"VIGIL_VICTORIALOGS_URL="+vlogs.URL, "VIGIL_PROMETHEUS_URL="+prom.URL,
		"PAGERDUTY_URL="+pdSrv.URL, "PAGERDUTY_ROUTING_KEY=default0123456789abcdefghijklmno",
		"PAGERDUTY_ROUTING_KEY_WEB=webteam0123456789abcdefghijklmno")
	agent := &sensuexec.Agent{Env: env, AssetBins: h.Bins, Dir: dir}
	api.Agent = agent
	backend := &sensuexec.Backend{Env: env, AssetBins: h.Bins, Dir: dir}
	ctx := context.Background()

	ev, resp, err := agent.RunCheck(ctx, res.Check("fim-baseline"))
	require.NoError(t, err)
	require.Equal(t, uint32(0), ev.Check.Status, resp.Output)

	// The intruder replaces ps.
	write(t, filepath.Join(dir, "host/usr/bin/ps"), "#!/bin/sh\nexec /bin/ps \"$@\" | grep -v miner\n", 0o755)
	ev, resp, err = agent.RunCheck(ctx, res.Check("file-integrity"))
	require.NoError(t, err)
	require.NoError(t, ev.Validate(), "the event passes the backend's validation")
	require.Equal(t, uint32(2), ev.Check.Status, resp.Output)
	require.NotNil(t, ev.Metrics, "output_metric_format: the agent extracted the perfdata")
	require.NotEmpty(t, ev.Metrics.Points)

	// The per-finding events went to the agent's events API, each with its
	// findings in the vigil.io/findings annotation and the parent's
	// pipelines; the agent forwards them to the backend like any event.
	posted := api.Events()
	require.NotEmpty(t, posted, "check output: %s", resp.Output)
	for _, p := range posted {
		require.NoError(t, p.Validate())
		require.Equal(t, "vigil-test-host", p.Entity.Name)
		require.Contains(t, p.Check.Annotations, "vigil.io/findings")
	}

	remediated := 0
	for _, e := range append([]*corev2.Event{ev}, posted...) {
		for _, r := range backend.Route(ctx, res, e) {
			require.NoError(t, r.Err, "%s/%s", r.Pipeline, r.Workflow)
			if r.Filtered {
				continue // has_metrics: a per-finding event carries no metrics
			}
			require.Equal(t, 0, r.Response.Status, "%s: %s", r.Handler, r.Response.Output)
			if r.Handler == "vigil-remediation" && strings.Contains(r.Response.Output, "rescan would act") {
				require.Contains(t, r.Response.Output, "DRY RUN")
				remediated++
			}
		}
	}
	require.Positive(t, remediated, "the critical integrity finding would be remediated")

	t.Run("archive: redacted, enriched", func(t *testing.T) {
		var got []corev2.Event
		require.NoError(t, archive.Scan(filepath.Join(dir, "archive"), time.Time{}, time.Time{}, func(line []byte) error {
			var e corev2.Event
			require.NoError(t, json.Unmarshal(line, &e))
			got = append(got, e)
			return nil
		}))
		require.Len(t, got, 1+len(posted))
		for _, e := range got {
			require.Equal(t, "alice@example.com", e.Check.Labels["vigil.io/owner"])
			require.Equal(t, "web", e.Check.Labels["vigil.io/pagerduty-team"])
			require.Contains(t, e.Check.Annotations, "vigil.io/redactions", "mutator-redact ran first")
		}
		require.Contains(t, got[1].Check.Annotations["vigil.io/rules"], "fim.modified", "a finding's rule, described")
	})

	t.Run("elasticsearch: the document, with its findings", func(t *testing.T) {
		var rows []map[string]string
		deadline := time.Now().Add(15 * time.Second)
		for len(rows) == 0 && time.Now().Before(deadline) {
			rows = testutil.LogsQL(t, vlogs.URL, `vigil.entity:="vigil-test-host" vigil.rules:"fim.modified" check.metadata.labels.vigil.io/owner:="alice@example.com" _time:1h | fields vigil.severity, vigil.rules, _msg`)
			if len(rows) == 0 {
				time.Sleep(250 * time.Millisecond)
			}
		}
		require.NotEmpty(t, rows)
		require.Equal(t, "critical", rows[len(rows)-1]["vigil.severity"])
		require.Contains(t, rows[len(rows)-1]["vigil.rules"], "fim.modified")
	})

	t.Run("prometheus: the status and the findings per rule", func(t *testing.T) {
		status := promValue(t, prom.URL, fmt.Sprintf(`vigil_check_status{run=%q,entity="vigil-test-host",check="file-integrity"}`, run))
		require.Equal(t, "2", status)
		findings := promValue(t, prom.URL, fmt.Sprintf(`findings_critical{run=%q,check="file-integrity"}`, run))
		require.NotEqual(t, "0", findings)
	})

	t.Run("pagerduty: the team's key, the context", func(t *testing.T) {
		got := pd.Accepted()
		require.Len(t, got, 1+len(posted))
		withFindings := 0
		for _, e := range got {
			require.Equal(t, "trigger", e.Action)
			require.Equal(t, "webteam0123456789abcdefghijklmno", e.RoutingKey, "routed by the enrichment's team")
			enrichment := e.Payload.Details["enrichment"].(map[string]any)
			require.Equal(t, "alice@example.com", enrichment["owner"])
			if e.Payload.Details["findings"] != nil {
				withFindings++
				require.Equal(t, "critical", e.Payload.Severity)
			}
		}
		require.Equal(t, len(posted), withFindings, "each per-finding event pages with its finding")
	})

	t.Run("remediation: decided, audited, nothing done", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(dir, "remediation", "audit.jsonl"))
		require.NoError(t, err)
		require.Contains(t, string(b), `"decision":"dry-run"`)
	})
}

func promValue(t *testing.T, base, selector string) string {
	t.Helper()
	var doc struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	q := url.Values{"query": {selector}, "time": {strconv.FormatInt(time.Now().Unix()+1, 10)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode()) //nolint:noctx // a test's local server
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&doc))
	require.Equal(t, "success", doc.Status)
	require.Len(t, doc.Data.Result, 1, "one series for %s", selector)
	v, _ := doc.Data.Result[0].Value[1].(string)
	return strings.TrimSpace(v)
}
