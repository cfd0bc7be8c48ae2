//go:build unix

package sensuexec_test

import (
	"os"
	"path/filepath"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

const resourcesYAML = `
---
type: CheckConfig
api_version: core/v2
metadata:
  name: check-fim
spec:
  command: check-file-integrity --path /etc
  interval: 60
  publish: true
  subscriptions: [linux]
  pipelines:
    - {type: Pipeline, api_version: core/v2, name: security}
---
type: Mutator
api_version: core/v2
metadata:
  name: mutator-upper
  namespace: security
spec:
  command: tr a-z A-Z
---
type: Handler
api_version: core/v2
metadata:
  name: handler-archive
spec:
  type: pipe
  command: cat > "$OUT"
---
type: Pipeline
api_version: core/v2
metadata:
  name: security
spec:
  workflows:
    - name: incidents
      filters:
        - {name: is_incident, type: EventFilter, api_version: core/v2}
      mutator: {name: mutator-upper, type: Mutator, api_version: core/v2}
      handler: {name: handler-archive, type: Handler, api_version: core/v2}
    - name: everything
      handler: {name: handler-archive, type: Handler, api_version: core/v2}
`

func TestLoadResourcesReadsEveryDocument(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "resources.yaml")
	require.NoError(t, os.WriteFile(path, []byte(resourcesYAML), 0o600))
	r, err := sensuexec.LoadResources(path)
	require.NoError(t, err)

	require.Len(t, r.Checks, 1)
	require.Equal(t, "check-fim", r.Checks[0].Name)
	require.Equal(t, "default", r.Checks[0].Namespace, "a missing namespace is default")
	require.Equal(t, uint32(60), r.Checks[0].Interval)
	require.Equal(t, "security", r.Mutator("mutator-upper").Namespace)
	require.Equal(t, corev2.HandlerPipeType, r.Handler("handler-archive").Type)
	p := r.Pipeline("security")
	require.NotNil(t, p)
	require.Len(t, p.Workflows, 2)
	require.Nil(t, r.Mutator("nope"))
	require.Nil(t, r.Handler("nope"))
	require.Nil(t, r.Pipeline("nope"))
}

func TestLoadResourcesReadsSecrets(t *testing.T) {
	t.Parallel()
	const doc = `
type: Secret
api_version: secrets/v1
metadata:
  name: elasticsearch-api-key
spec:
  id: ELASTICSEARCH_API_KEY
  provider: env
---
type: Secret
api_version: secrets/v1
metadata:
  name: pagerduty-routing-key
  namespace: security
spec:
  id: secret/pagerduty#routing_key
  provider: vault
`
	r := &sensuexec.Resources{}
	require.NoError(t, r.Add([]byte(doc)))
	require.Len(t, r.Secrets, 2)
	es := r.Secret("elasticsearch-api-key")
	require.NotNil(t, es)
	require.Equal(t, "ELASTICSEARCH_API_KEY", es.ID)
	require.Equal(t, "env", es.Provider)
	require.Equal(t, "default", es.Namespace, "a missing namespace is default")
	pd := r.Secret("pagerduty-routing-key")
	require.NotNil(t, pd)
	require.Equal(t, "vault", pd.Provider)
	require.Equal(t, "security", pd.Namespace)
	require.Nil(t, r.Secret("nope"))
}

func TestResourcesAddRefusesWhatSensuctlRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{name: "another API version", doc: "type: Handler\napi_version: core/v3\nmetadata: {name: h}\nspec: {command: x}\n", wantErr: `api_version "core/v3"`},
		{name: "an unsupported type", doc: "type: Silenced\napi_version: core/v2\nmetadata: {name: s}\nspec: {}\n", wantErr: `resource type "Silenced"`},
		{name: "a misspelt field", doc: "type: Handler\napi_version: core/v2\nmetadata: {name: h}\nspec: {comand: x}\n", wantErr: "Handler h spec"},
		{name: "an invalid resource", doc: "type: CheckConfig\napi_version: core/v2\nmetadata: {name: c}\nspec: {command: x, publish: true}\n", wantErr: "CheckConfig c is invalid"},
		{name: "a Secret of another API version", doc: "type: Secret\napi_version: core/v2\nmetadata: {name: s}\nspec: {id: X, provider: env}\n", wantErr: `resource type "Secret"`},
		{name: "a Secret without a name", doc: "type: Secret\napi_version: secrets/v1\nmetadata: {}\nspec: {id: X, provider: env}\n", wantErr: "Secret  is invalid"},
		{name: "a Secret of an unknown provider", doc: "type: Secret\napi_version: secrets/v1\nmetadata: {name: s}\nspec: {id: X, provider: aws}\n", wantErr: `Secret s is invalid: provider "aws" is not env or vault`},
		{name: "a Secret without an id", doc: "type: Secret\napi_version: secrets/v1\nmetadata: {name: s}\nspec: {provider: env}\n", wantErr: "Secret s is invalid: id is empty"},
		{name: "a Secret with a misspelt field", doc: "type: Secret\napi_version: secrets/v1\nmetadata: {name: s}\nspec: {id: X, provder: env}\n", wantErr: "Secret s spec"},
		{name: "another secrets/v1 type", doc: "type: VaultProvider\napi_version: secrets/v1\nmetadata: {name: v}\nspec: {}\n", wantErr: `api_version "secrets/v1" is not core/v2`},
		{name: "invalid YAML names the document", doc: "type: Handler\napi_version: core/v2\nmetadata: {name: h}\nspec: {type: pipe, command: x}\n---\ntype: [\n", wantErr: "document 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := (&sensuexec.Resources{}).Add([]byte(tt.doc))
			require.ErrorContains(t, err, tt.wantErr)
		})
	}

	t.Run("a missing file is an error", func(t *testing.T) {
		t.Parallel()
		_, err := sensuexec.LoadResources(filepath.Join(t.TempDir(), "none.yaml"))
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("a bad file is named in the error", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "bad.yaml")
		require.NoError(t, os.WriteFile(path, []byte("type: Nope\napi_version: core/v2\nmetadata: {name: n}\nspec: {}\n"), 0o600))
		_, err := sensuexec.LoadResources(path)
		require.ErrorContains(t, err, path)
	})
}

func TestRoute(t *testing.T) {
	t.Parallel()
	load := func(t *testing.T) *sensuexec.Resources {
		t.Helper()
		r := &sensuexec.Resources{}
		require.NoError(t, r.Add([]byte(resourcesYAML)))
		return r
	}
	event := func(status uint32) *corev2.Event {
		ev := testEvent(status)
		ev.Check.Pipelines = []*corev2.ResourceReference{{Name: "security", Type: "Pipeline", APIVersion: "core/v2"}}
		return ev
	}

	t.Run("an incident goes through every workflow", func(t *testing.T) {
		t.Parallel()
		out := filepath.Join(t.TempDir(), "received")
		b := testBackend()
		b.Env = append(b.Env, "OUT="+out)
		res := b.Route(t.Context(), load(t), event(2))
		require.Len(t, res, 2)
		require.Equal(t, "incidents", res[0].Workflow)
		require.Equal(t, "handler-archive", res[0].Handler)
		require.False(t, res[0].Filtered)
		require.NoError(t, res[0].Err)
		require.Equal(t, 0, res[0].Response.Status)
		require.Equal(t, "everything", res[1].Workflow)
		require.NoError(t, res[1].Err)
		// The second workflow wrote last, without the mutator.
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Contains(t, string(got), `"check-fim"`)
	})
	t.Run("an OK event is filtered by is_incident", func(t *testing.T) {
		t.Parallel()
		b := testBackend()
		b.Env = append(b.Env, "OUT="+filepath.Join(t.TempDir(), "received"))
		res := b.Route(t.Context(), load(t), event(0))
		require.Len(t, res, 2)
		require.True(t, res[0].Filtered)
		require.NoError(t, res[0].Err)
		require.False(t, res[1].Filtered)
	})
	t.Run("a missing pipeline is reported", func(t *testing.T) {
		t.Parallel()
		ev := event(2)
		ev.Check.Pipelines[0].Name = "nowhere"
		res := testBackend().Route(t.Context(), load(t), ev)
		require.Len(t, res, 1)
		require.ErrorContains(t, res[0].Err, "pipeline nowhere not found")
	})
	t.Run("a missing handler is reported", func(t *testing.T) {
		t.Parallel()
		r := load(t)
		r.Handlers = nil
		res := testBackend().Route(t.Context(), r, event(2))
		require.Len(t, res, 2)
		require.ErrorContains(t, res[0].Err, "handler handler-archive not found")
	})
	t.Run("the built-in filters and json mutator", func(t *testing.T) {
		t.Parallel()
		r := load(t)
		require.NoError(t, r.Add([]byte(`
type: Pipeline
api_version: core/v2
metadata: {name: metrics}
spec:
  workflows:
    - name: with-metrics
      filters: [{name: has_metrics, type: EventFilter, api_version: core/v2}]
      mutator: {name: json, type: Mutator, api_version: core/v2}
      handler: {name: handler-archive, type: Handler, api_version: core/v2}
    - name: not-silenced
      filters: [{name: not_silenced, type: EventFilter, api_version: core/v2}]
      handler: {name: handler-archive, type: Handler, api_version: core/v2}
    - name: custom
      filters: [{name: business_hours, type: EventFilter, api_version: core/v2}]
      handler: {name: handler-archive, type: Handler, api_version: core/v2}
`)))
		out := filepath.Join(t.TempDir(), "received")
		b := testBackend()
		b.Env = append(b.Env, "OUT="+out)
		ev := event(2)
		ev.Check.Pipelines = []*corev2.ResourceReference{{Name: "metrics", Type: "Pipeline", APIVersion: "core/v2"}}
		ev.Check.Silenced = []string{"linux:check-fim"}

		res := b.Route(t.Context(), r, ev)
		require.Len(t, res, 3)
		require.True(t, res[0].Filtered, "no metrics")
		require.True(t, res[1].Filtered, "silenced")
		require.ErrorContains(t, res[2].Err, "filter business_hours is not emulated")

		ev.Metrics = &corev2.Metrics{Points: []*corev2.MetricPoint{{Name: "a", Value: 1}}}
		ev.Check.Silenced = nil
		res = b.Route(t.Context(), r, ev)
		require.False(t, res[0].Filtered)
		require.NoError(t, res[0].Err, "the json mutator is built in")
		require.False(t, res[1].Filtered)
		require.NoError(t, res[1].Err)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Contains(t, string(got), `"metrics"`)
	})
	t.Run("an event without a check goes nowhere", func(t *testing.T) {
		t.Parallel()
		ev := event(2)
		ev.Check = nil
		require.Empty(t, testBackend().Route(t.Context(), load(t), ev))
	})
}
