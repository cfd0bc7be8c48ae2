//go:build unix

package sensuexec_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

func testAgent() *sensuexec.Agent {
	return &sensuexec.Agent{
		Now: func() time.Time { return now },
		Env: []string{"PATH=/usr/bin:/bin"},
	}
}

func checkConfig(command string) *corev2.CheckConfig {
	return &corev2.CheckConfig{
		ObjectMeta:    corev2.ObjectMeta{Name: "check-fim", Namespace: "default", Labels: map[string]string{"team": "sec"}},
		Command:       command,
		Interval:      60,
		Publish:       true,
		Subscriptions: []string{"linux"},
		Handlers:      []string{"elasticsearch"},
	}
}

// binDir holds an executable script, as a runtime asset's bin/ would.
func binDir(t *testing.T, name, script string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755))
	return dir
}

func TestRunCheckBuildsAValidEvent(t *testing.T) {
	t.Parallel()
	cfg := checkConfig(`echo "FIM WARNING - 3 files changed | changed=3"; exit 1`)
	ev, resp, err := testAgent().RunCheck(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, ev.Validate(), "the backend would accept it")

	require.Equal(t, 1, resp.Status)
	c := ev.Check
	require.Equal(t, "check-fim", c.Name)
	require.Equal(t, "default", c.Namespace)
	require.Equal(t, "default", ev.Namespace)
	require.Equal(t, uint32(1), c.Status)
	require.Equal(t, "FIM WARNING - 3 files changed | changed=3\n", c.Output)
	require.Equal(t, now.Unix(), c.Executed)
	require.Equal(t, now.Unix(), ev.Timestamp)
	require.Positive(t, c.Duration)
	require.Equal(t, []string{"elasticsearch"}, c.Handlers)
	require.Equal(t, uint32(60), c.Interval)
	require.Equal(t, map[string]string{"team": "sec"}, c.Labels)
	require.Equal(t, sensuexec.DefaultEntity(), ev.Entity)
	require.Nil(t, ev.Metrics, "no metrics without an output metric format")
}

func TestRunCheckUsesTheAgentsEntity(t *testing.T) {
	t.Parallel()
	a := testAgent()
	a.Entity = corev2.FixtureEntity("web-7")
	a.Entity.EntityClass = corev2.EntityAgentClass
	ev, _, err := a.RunCheck(t.Context(), checkConfig("true"))
	require.NoError(t, err)
	require.Equal(t, "web-7", ev.Entity.Name)
	require.NoError(t, ev.Validate())
}

func TestDefaultEntityIsValid(t *testing.T) {
	t.Parallel()
	e := sensuexec.DefaultEntity()
	require.NoError(t, e.Validate())
	require.Equal(t, corev2.EntityAgentClass, e.EntityClass)
	require.Equal(t, "default", e.Namespace)
}

func TestRunCheckWithStdinPassesTheCheckAsAnEvent(t *testing.T) {
	t.Parallel()
	cfg := checkConfig("cat")
	cfg.Stdin = true
	ev, _, err := testAgent().RunCheck(t.Context(), cfg)
	require.NoError(t, err)
	require.Equal(t, uint32(0), ev.Check.Status)

	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(ev.Check.Output), &raw), "the command read JSON: %s", ev.Check.Output)
	require.NotContains(t, raw, "entity", "the agent sends the check before it has an entity to attach")

	var in corev2.Event
	require.NoError(t, json.Unmarshal([]byte(ev.Check.Output), &in))
	require.Equal(t, "default", in.Namespace)
	require.NotNil(t, in.Check)
	require.Equal(t, "check-fim", in.Check.Name)
	require.Equal(t, "default", in.Check.Namespace)
	require.Equal(t, "cat", in.Check.Command)
	require.Equal(t, []string{"elasticsearch"}, in.Check.Handlers)
	require.True(t, in.Check.Stdin)
	require.Empty(t, in.Check.Output, "nothing has run yet")
}

func TestRunCheckWithoutStdinGivesTheCommandNoInput(t *testing.T) {
	t.Parallel()
	ev, _, err := testAgent().RunCheck(t.Context(), checkConfig("cat; echo end"))
	require.NoError(t, err)
	require.Equal(t, "end\n", ev.Check.Output)
}

func TestRunCheckExtractsNagiosPerfdata(t *testing.T) {
	t.Parallel()
	cfg := checkConfig(`echo "FIM OK - 0 files changed | 'changed'=0;;1;0 scanned=1500 time=0.25s"`)
	cfg.OutputMetricFormat = corev2.NagiosOutputMetricFormat
	cfg.OutputMetricHandlers = []string{"tsdb"}
	tags := []*corev2.MetricTag{{Name: "site", Value: "lab"}}
	cfg.OutputMetricTags = tags
	ev, _, err := testAgent().RunCheck(t.Context(), cfg)
	require.NoError(t, err)
	require.NoError(t, ev.Validate())
	require.NotNil(t, ev.Metrics)
	require.Equal(t, []string{"tsdb"}, ev.Metrics.Handlers)
	ts := now.Unix()
	require.Equal(t, []*corev2.MetricPoint{
		{Name: "'changed'", Value: 0, Timestamp: ts, Tags: tags},
		{Name: "scanned", Value: 1500, Timestamp: ts, Tags: tags},
		{Name: "time", Value: 0.25, Timestamp: ts, Tags: tags},
	}, ev.Metrics.Points)
}

func TestRunCheckWithMetricHandlersOnly(t *testing.T) {
	t.Parallel()
	cfg := checkConfig(`echo "OK | a=1"`)
	cfg.OutputMetricHandlers = []string{"tsdb"}
	ev, _, err := testAgent().RunCheck(t.Context(), cfg)
	require.NoError(t, err)
	require.NotNil(t, ev.Metrics)
	require.Equal(t, []string{"tsdb"}, ev.Metrics.Handlers)
	require.Empty(t, ev.Metrics.Points, "no format, no extraction")
}

func TestRunCheckRefusesAFormatItDoesNotEmulate(t *testing.T) {
	t.Parallel()
	cfg := checkConfig(`echo "a.b 1 1700000000"`)
	cfg.OutputMetricFormat = corev2.GraphiteOutputMetricFormat
	ev, _, err := testAgent().RunCheck(t.Context(), cfg)
	require.ErrorContains(t, err, "not emulated")
	require.Nil(t, ev)
}

func TestRunCheckMergesTheEnvironment(t *testing.T) {
	t.Parallel()
	a := testAgent()
	a.Env = append(a.Env, "FROM_AGENT=agent", "OVERRIDDEN=agent")
	a.AssetBins = []string{binDir(t, "vigil-fake-check", `echo "$FROM_AGENT $OVERRIDDEN $FROM_CHECK"; exit 2`)}
	cfg := checkConfig("vigil-fake-check")
	cfg.EnvVars = []string{"OVERRIDDEN=check", "FROM_CHECK=check"}
	ev, _, err := a.RunCheck(t.Context(), cfg)
	require.NoError(t, err)
	require.Equal(t, "agent check check\n", ev.Check.Output, "the asset is on PATH and env_vars win")
	require.Equal(t, uint32(2), ev.Check.Status)
}

func TestRunCheckRunsInTheAgentsDirectory(t *testing.T) {
	t.Parallel()
	a := testAgent()
	a.Dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(a.Dir, "here"), []byte("cache"), 0o600))
	ev, _, err := a.RunCheck(t.Context(), checkConfig("cat here"))
	require.NoError(t, err)
	require.Equal(t, "cache", ev.Check.Output)
}

func TestRunCheckAppliesTheCheckTimeout(t *testing.T) {
	t.Parallel()
	cfg := checkConfig("echo partial; sleep 10")
	cfg.Timeout = 1
	start := time.Now()
	ev, resp, err := testAgent().RunCheck(t.Context(), cfg)
	require.NoError(t, err)
	require.Less(t, time.Since(start), 5*time.Second)
	require.True(t, resp.TimedOut)
	require.Equal(t, uint32(2), ev.Check.Status)
	require.Equal(t, "Execution timed out\npartial\n", ev.Check.Output)
	require.NoError(t, ev.Validate())
}

func TestRunCheckReportsACommandThatCannotStart(t *testing.T) {
	t.Parallel()
	a := testAgent()
	a.Dir = filepath.Join(t.TempDir(), "missing")
	ev, _, err := a.RunCheck(t.Context(), checkConfig("true"))
	require.NoError(t, err, "the failure is in the event, as sensu-agent reports it")
	require.Equal(t, uint32(sensuexec.FallbackStatus), ev.Check.Status)
	require.Contains(t, ev.Check.Output, "no such file")
	require.NoError(t, ev.Validate())
}
