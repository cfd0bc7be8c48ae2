package elastic_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/elastic"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

// eventJSON is an event as the backend hands it to a handler.
const eventJSON = `{
  "id": "5c0a7a4e-3f0e-4b7a-9d9b-2f1c8e6a4b01",
  "timestamp": 1736935200,
  "entity": {"entity_class": "agent", "metadata": {"name": "web1", "namespace": "default", "labels": {"team": "payments", "app.kubernetes.io/name": "web"}}},
  "check": {
    "metadata": {"name": "check-audit-log", "namespace": "default", "annotations": {"runbook": "https://wiki/runbook"}},
    "command": "check-audit-log --format json",
    "status": 2, "executed": 1736935199, "occurrences": 3, "interval": 60,
    "output": "{\"plugin\":\"check-audit-log\",\"status\":2,\"summary\":\"2 findings: 1 critical, 1 medium\",\"findings\":[{\"rule\":\"k8s.pod_exec\",\"severity\":\"critical\",\"object\":\"prod/web-7d9\",\"actor\":\"alice\",\"message\":\"alice exec'd into prod/web-7d9\",\"time\":\"2025-01-15T10:00:00Z\",\"container\":\"app\"},{\"rule\":\"ssh.failed_login\",\"severity\":\"medium\",\"object\":\"root\",\"source\":\"203.0.113.7\",\"count\":12}],\"findings_total\":5,\"metrics\":[]}\n"
  }
}`

func parse(t *testing.T, raw string) *corev2.Event {
	t.Helper()
	ev, err := plugin.ParseEvent([]byte(raw))
	require.NoError(t, err)
	return ev
}

// doc splits an item into its action and document.
func doc(t *testing.T, it elastic.Item) (action map[string]map[string]string, body map[string]any) {
	t.Helper()
	require.True(t, bytes.HasSuffix(it, []byte("\n")))
	lines := bytes.Split(bytes.TrimSuffix(it, []byte("\n")), []byte("\n"))
	require.Len(t, lines, 2, "an action line and a document line")
	require.NoError(t, json.Unmarshal(lines[0], &action))
	require.NoError(t, json.Unmarshal(lines[1], &body))
	return action, body
}

func TestDocumentIsTheWholeEventPlusTimestampAndFindings(t *testing.T) {
	t.Parallel()
	ev := parse(t, eventJSON)
	it, err := elastic.Document(ev, []byte(eventJSON), elastic.Target{Index: "vigil-events", DatePattern: mustPattern(t, "daily")})
	require.NoError(t, err)
	action, body := doc(t, it)

	require.Equal(t, map[string]map[string]string{"create": {"_index": "vigil-events-2025.01.15", "_id": "5c0a7a4e-3f0e-4b7a-9d9b-2f1c8e6a4b01"}}, action)
	require.Equal(t, "2025-01-15T10:00:00.000000000Z", body["@timestamp"])

	var original map[string]any
	require.NoError(t, json.Unmarshal([]byte(eventJSON), &original))
	for k, v := range original {
		require.Equal(t, v, body[k], "the event's %q is kept as received", k)
	}

	v := body["vigil"].(map[string]any)
	require.Equal(t, "web1", v["entity"])
	require.Equal(t, "check-audit-log", v["check"])
	require.EqualValues(t, 2, v["status"])
	require.Equal(t, "critical", v["severity"], "the worst finding's severity")
	require.Equal(t, "2 findings: 1 critical, 1 medium", v["summary"])
	require.EqualValues(t, 5, v["findings_total"], "the check found more than it listed")
	require.Equal(t, []any{"k8s.pod_exec", "ssh.failed_login"}, v["rules"])
	fs := v["findings"].([]any)
	require.Len(t, fs, 2)
	exec := fs[0].(map[string]any)
	require.Equal(t, "k8s.pod_exec", exec["rule"])
	require.Equal(t, "alice", exec["actor"])
	require.Equal(t, "2025-01-15T10:00:00Z", exec["time"])
	require.Equal(t, map[string]any{"container": "app"}, exec["attrs"], "rule-specific fields go under attrs, one flattened field")
	require.EqualValues(t, 12, fs[1].(map[string]any)["count"])
}

func TestDocumentReadsTheFindingsAnnotationAndStatusWithoutFindings(t *testing.T) {
	t.Parallel()
	ann, err := json.Marshal([]finding.Finding{{Rule: "fim.modified", Severity: finding.High, Object: "/usr/bin/ssh", Changed: []string{"sha256", "mtime"}}})
	require.NoError(t, err)
	ev := corev2.FixtureEvent("web1", "check-file-integrity")
	ev.Timestamp = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC).UnixMilli() // a producer that wrote milliseconds
	ev.Check.Annotations = map[string]string{finding.Annotation: string(ann)}
	raw, err := json.Marshal(ev)
	require.NoError(t, err)
	it, err := elastic.Document(ev, raw, elastic.Target{Index: "vigil-events", DatePattern: mustPattern(t, "monthly")})
	require.NoError(t, err)
	action, body := doc(t, it)
	require.Equal(t, "vigil-events-2025.03", action["create"]["_index"], "the unit is detected, not the year 57000")
	v := body["vigil"].(map[string]any)
	require.Equal(t, "high", v["severity"])
	require.Equal(t, []any{"sha256", "mtime"}, v["findings"].([]any)[0].(map[string]any)["changed"])

	ev.Check.Annotations = nil
	ev.Check.Status = 1
	raw, _ = json.Marshal(ev)
	it, err = elastic.Document(ev, raw, elastic.Target{DataStream: "logs-vigil-default"})
	require.NoError(t, err)
	action, body = doc(t, it)
	require.Equal(t, "logs-vigil-default", action["create"]["_index"])
	require.Equal(t, "medium", body["vigil"].(map[string]any)["severity"], "WARNING without findings")
	require.EqualValues(t, 0, body["vigil"].(map[string]any)["findings_total"])
}

func TestDocumentIDIsStableWithoutAnEventID(t *testing.T) {
	t.Parallel()
	a := corev2.FixtureEvent("web1", "check-pii")
	b := corev2.FixtureEvent("web1", "check-pii")
	a.ID, b.ID = nil, nil
	require.Equal(t, elastic.DocumentID(a), elastic.DocumentID(b), "a retried delivery gets the same id")
	b.Check.Executed++
	require.NotEqual(t, elastic.DocumentID(a), elastic.DocumentID(b), "the next run is a new document")
	c := corev2.FixtureEvent("web2", "check-pii")
	c.ID = nil
	require.NotEqual(t, elastic.DocumentID(a), elastic.DocumentID(c))
}

func TestDocumentRefusesWhatIsNotAnObject(t *testing.T) {
	t.Parallel()
	ev := corev2.FixtureEvent("web1", "check-pii")
	for _, raw := range []string{`[1]`, `{"a":`, ``} {
		_, err := elastic.Document(ev, []byte(raw), elastic.Target{Index: "x"})
		require.Error(t, err, raw)
	}
}

func mustPattern(t *testing.T, s string) elastic.DatePattern {
	t.Helper()
	p, err := elastic.ParseDatePattern(s)
	require.NoError(t, err)
	return p
}

func TestDatePatterns(t *testing.T) {
	t.Parallel()
	at := time.Date(2027, 1, 1, 7, 30, 0, 0, time.UTC) // a Friday: ISO week 53 of 2026
	for pattern, want := range map[string]string{
		"daily":         "2027.01.01",
		"weekly":        "2026.53",
		"monthly":       "2027.01",
		"none":          "",
		"YYYY-MM-DD.HH": "2027-01-01.07",
		"v2-YYYY":       "v2-2027",
		"yyyy.MM.dd":    "2027.01.01", // Logstash's spelling
		"xxxx.ww":       "2026.53",
	} {
		require.Equal(t, want, mustPattern(t, pattern).Format(at), pattern)
	}
	require.Equal(t, "vigil-events", elastic.Target{Index: "vigil-events", DatePattern: mustPattern(t, "none")}.IndexFor(at))
	for _, bad := range []string{"YYYY/MM", "YYYY MM", "Week-WW"} {
		_, err := elastic.ParseDatePattern(bad)
		require.Error(t, err, bad)
	}
}

func TestValidateIndexName(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "vigil-events", "logs-vigil-default", "a.b_c+d"} {
		require.NoError(t, elastic.ValidateIndexName(ok), ok)
	}
	for _, bad := range []string{"Vigil", "-x", "_x", "a b", "a,b", "a*", "a:b", ".", ".."} {
		require.Error(t, elastic.ValidateIndexName(bad), bad)
	}
}

func TestTemplateKeepsTheMappingBounded(t *testing.T) {
	t.Parallel()
	var tmpl struct {
		IndexPatterns []string       `json:"index_patterns"`
		DataStream    map[string]any `json:"data_stream"`
		Template      struct {
			Mappings struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	require.NoError(t, json.Unmarshal(elastic.Target{Index: "vigil-events"}.Template(), &tmpl))
	require.Equal(t, []string{"vigil-events-*", "vigil-events"}, tmpl.IndexPatterns)
	require.Nil(t, tmpl.DataStream)
	props := tmpl.Template.Mappings.Properties
	for _, path := range []string{"entity", "check"} {
		require.Contains(t, string(props[path]), `"labels":{"ignore_above":1024,"type":"flattened"}`, path)
		require.Contains(t, string(props[path]), `"annotations":{"ignore_above":1024,"type":"flattened"}`, path)
	}
	require.Contains(t, string(props["vigil"]), `"rule":{"ignore_above":1024,"type":"keyword"}`)
	require.Contains(t, string(props["vigil"]), `"attrs":{"ignore_above":1024,"type":"flattened"}`)
	require.JSONEq(t, `{"type":"date"}`, string(props["@timestamp"]))

	require.NoError(t, json.Unmarshal(elastic.Target{DataStream: "logs-vigil-default"}.Template(), &tmpl))
	require.Equal(t, []string{"logs-vigil-default"}, tmpl.IndexPatterns)
	require.NotNil(t, tmpl.DataStream)
}
