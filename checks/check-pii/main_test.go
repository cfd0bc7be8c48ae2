package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

const (
	card  = "5555555555554444"
	email = "jane.doe@example.com"
	aws   = "AKIAQYLPMN5HHHFPZAM2"
	key   = "fingerprint-key-0123456789abcdef"
)

// logs writes an application log with a card, an email and a key in it.
func logs(t *testing.T) (dir, log string) {
	t.Helper()
	dir = t.TempDir()
	log = filepath.Join(dir, "logs", "app.log")
	require.NoError(t, os.MkdirAll(filepath.Dir(log), 0o755))
	require.NoError(t, os.WriteFile(log, []byte(`{"msg":"payment","card":"`+card+`","user":"`+email+"\"}\nstartup aws_access_key_id="+aws+"\n"), 0o644))
	return dir, log
}

// requireClean fails if a planted value or the key shows in text.
func requireClean(t *testing.T, text string) {
	t.Helper()
	testutil.RequireNoSecret(t, text, card, email, aws, key)
}

func TestScansAsSensuRunsItAndOnlyOnce(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir, log := logs(t)
	logFile := filepath.Join(dir, "check.log")
	check := &corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "pii-in-logs"}, Timeout: 60, OutputMetricFormat: corev2.NagiosOutputMetricFormat,
		Command: "check-pii --path " + testutil.Shell(filepath.Dir(log)) + " --state " + testutil.Shell(filepath.Join(dir, "state")) +
			" --region eu-west-1 --log-level debug --log-file " + testutil.Shell(logFile),
		EnvVars: []string{"VIGIL_PII_FINGERPRINT_KEY=" + key},
	}
	ev := h.RunCheck(check)
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	require.True(t, strings.HasPrefix(ev.Check.Output, "check-pii CRITICAL - 3 found in 1 file, 121 B scanned: 1 pii.credit_card, 1 pii.email, 1 secret.aws_access_key_id |"), ev.Check.Output)
	require.Contains(t, ev.Check.Output, "[critical] pii.credit_card "+log+": mastercard card ending 4444 ("+log+":1:26)")
	require.Contains(t, ev.Check.Output, "[critical] secret.aws_access_key_id "+log+": AWS long-term access key AKIA… ("+log+":2:27)")
	points := map[string]float64{}
	for _, p := range ev.Metrics.Points {
		points[p.Name] = p.Value
	}
	require.InDelta(t, 121, points["bytes_scanned"], 0)
	require.InDelta(t, 1, points["matches.pii.email"], 0)
	requireClean(t, ev.Check.Output)

	ev = h.RunCheck(check)
	require.EqualValues(t, 0, ev.Check.Status, ev.Check.Output)
	require.True(t, strings.HasPrefix(ev.Check.Output, "check-pii OK - no personal data or secrets in 1 file, 0 B scanned |"), ev.Check.Output)

	for _, name := range []string{"state/check-pii.state", "state/fingerprint.key", "check.log"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if name != "state/fingerprint.key" {
			require.NoError(t, err, name)
		}
		requireClean(t, string(b))
	}
}

func TestJSONCarriesFingerprintsThatMatchAcrossHosts(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	_, log := logs(t)
	run := func() plugin.Report {
		resp := h.Exec("check-pii --format json --types pii.email --path "+testutil.Shell(log), "", "VIGIL_PII_FINGERPRINT_KEY="+key)
		require.Equal(t, 1, resp.Status, resp.Output)
		requireClean(t, resp.Output)
		var rep plugin.Report
		require.NoError(t, json.Unmarshal([]byte(resp.Output), &rep))
		return rep
	}
	a, b := run(), run()
	require.Len(t, a.Findings, 1)
	require.Equal(t, "pii.email", a.Findings[0].Rule)
	require.Equal(t, "address at example.com", a.Findings[0].Message)
	require.NotEmpty(t, a.Findings[0].Fingerprint)
	require.Equal(t, a.Findings[0].Fingerprint, b.Findings[0].Fingerprint)
}

func TestStdinIsData(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	resp := h.Exec("check-pii --stdin --types pii.credit_card", "ok\ncharged "+card+"\n")
	require.Equal(t, 2, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "[critical] pii.credit_card stdin: mastercard card ending 4444 (stdin:2:9)")
	requireClean(t, resp.Output)
}

func TestThresholdsTurnCountsIntoStatus(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	_, log := logs(t)
	base := "check-pii --types pii.email --path " + testutil.Shell(log)
	resp := h.Exec(base+" --warning pii.email=2", "")
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "[info] pii.email")
	resp = h.Exec(base+" --warning pii.email=1 --critical pii.email=5", "")
	require.Equal(t, 1, resp.Status, resp.Output)
}

func TestBadInputIsUnknownWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	dir, log := logs(t)
	state := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(state, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(state, "check-pii.state"), []byte("{not json"), 0o600))
	p := " --path " + testutil.Shell(log)
	cases := []struct{ name, cmd, want string }{
		{"nothing to scan", "check-pii", "check-pii UNKNOWN - --path (or VIGIL_PII_PATHS) or --stdin is required\n"},
		{"stdin and paths", "check-pii --stdin" + p, "check-pii UNKNOWN - --stdin and --path cannot be combined\n"},
		{"an unknown rule", "check-pii --types pii.nope" + p, "check-pii UNKNOWN - --types: unknown rule \"pii.nope\""},
		{"a threshold for a rule not run", "check-pii --types pii.email --critical pii.phone=1" + p, "check-pii UNKNOWN - rule pii.phone has a threshold or severity but is not enabled (see --types)\n"},
		{"a bad severity", "check-pii --severity pii.email=loud" + p, "check-pii UNKNOWN - --severity pii.email: "},
		{"a short key", "check-pii --fingerprint-key short" + p, "check-pii UNKNOWN - --fingerprint-key: "},
		{"a damaged state", "check-pii --state " + testutil.Shell(state) + p, "check-pii UNKNOWN - "},
		{"missing detectors", "check-pii --detectors /nonexistent.yaml" + p, "check-pii UNKNOWN - read detectors: open /nonexistent.yaml: no such file or directory\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := h.Exec(c.cmd, "")
			require.Equal(t, 3, resp.Status, resp.Output)
			require.True(t, strings.HasPrefix(resp.Output, c.want), resp.Output)
			require.Equal(t, 1, strings.Count(resp.Output, "\n"), resp.Output)
			requireClean(t, resp.Output)
		})
	}
}

func TestFindingsAsSensuEvents(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	_, log := logs(t)
	api, url := testutil.EventsAPI(t)
	check := &corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "pii-in-logs"}, Stdin: true, Handlers: []string{"archive"}, Timeout: 60,
		Command: "check-pii --path " + testutil.Shell(log) + " --events-api " + url + " --events-state " + testutil.Shell(filepath.Join(t.TempDir(), "events.json")),
	}
	ev := h.RunCheck(check)
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	events := api.Events()
	require.NotEmpty(t, events)
	for _, e := range events {
		require.NoError(t, e.Validate())
		b, err := json.Marshal(e)
		require.NoError(t, err)
		requireClean(t, string(b))
	}
}

func TestEveryJSONMetricCarriesTheRegion(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	_, log := logs(t)
	api, url := testutil.EventsAPI(t)
	resp := h.Exec("check-pii --format json --region eu-west-1 --data-class payment --path "+testutil.Shell(log)+
		" --events-api "+url+" --events-state "+testutil.Shell(filepath.Join(t.TempDir(), "events.json")), "")
	require.Equal(t, 2, resp.Status, resp.Output)
	var rep plugin.Report
	require.NoError(t, json.Unmarshal([]byte(resp.Output), &rep))
	names := map[string]float64{}
	for _, m := range rep.Metrics {
		require.Equal(t, "eu-west-1", m.Tags["region"], m.Name)
		require.Equal(t, "payment", m.Tags["data_class"], m.Name)
		names[m.Name] = m.Value
	}
	require.Contains(t, names, "findings")
	require.Contains(t, names, "bytes_scanned")
	require.InDelta(t, len(api.Events()), names["events_posted"], 0)
}
