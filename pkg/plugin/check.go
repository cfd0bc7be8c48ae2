package plugin

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/agentapi"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/state"
)

// Check is a check binary: it observes, reports findings and exits with
// the status (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
type Check[C any] struct {
	Plugin[C]
	// StdinIsData, when it returns true for the parsed configuration,
	// makes stdin the check's data (e.g. --stdin for log checks) instead
	// of a Sensu event.
	StdinIsData func(cfg *C) bool
	// Run observes and returns the result. An error makes the check
	// UNKNOWN with the error as its one line.
	Run func(ctx context.Context, cfg *C, env *Env) (Result, error)
}

// checkCommon holds the output and event options every check has.
type checkCommon struct {
	Format         string
	MaxFindings    int
	SeverityStatus map[string]int
	EventsAPI      string
	EventsState    string
	EventsMax      int

	statusMap finding.StatusMap
}

func (c *checkCommon) options() []Option {
	return []Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "format", Env: "VIGIL_FORMAT", Default: "nagios", Value: &c.Format,
			Allow: []string{"nagios", "json"}, Usage: "output format: nagios (status line, perfdata, findings) or json"}},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "max-findings", Path: "max-findings", Default: 20, Value: &c.MaxFindings,
			Usage: "most findings printed; 0 prints all"}, Annotations: CheckAnnotation},
		{Spec: &sensu.MapPluginConfigOption[int]{Argument: "severity-status", Path: "severity-status", Value: &c.SeverityStatus,
			Usage: "status raised by each severity, over the default critical=2,high=2,medium=1,low=1,info=0"}, Annotations: CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "events-api", Env: "VIGIL_EVENTS_API", Value: &c.EventsAPI,
			Usage: "also post each finding as its own event to this Sensu agent events API (e.g. " + agentapi.DefaultURL + ")"}, Kind: Endpoint},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "events-state", Env: "VIGIL_EVENTS_STATE", Value: &c.EventsState,
			Usage: "file remembering which finding events are open, to resolve them (default: under $VIGIL_STATE_DIR)"}, Kind: Target},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "events-max", Default: agentapi.DefaultMaxEvents, Value: &c.EventsMax,
			Usage: "above this many findings, post one event per rule instead of one per finding"}},
	}
}

func (c *checkCommon) validate() error {
	if c.MaxFindings < 0 {
		return errors.New("--max-findings must be 0 (all) or more")
	}
	if c.EventsMax < 1 {
		return errors.New("--events-max must be at least 1")
	}
	m, err := finding.ParseStatusMap(c.SeverityStatus)
	if err != nil {
		return fmt.Errorf("--severity-status: %w", err)
	}
	c.statusMap = m
	if c.EventsAPI != "" {
		if err := validateURL(c.EventsAPI); err != nil {
			return fmt.Errorf("--events-api: %w", err)
		}
	}
	return nil
}

// RunCheck runs a check and returns its exit code. main calls it as
// os.Exit(plugin.RunCheck(ctx, check, os.Args[1:], plugin.StdIO())).
func RunCheck[C any](ctx context.Context, c Check[C], args []string, stdio IO) int {
	s := newSetup(c.Plugin, kindCheck, stdio)
	wantEvent := func(cfg *C) bool { return c.StdinIsData == nil || !c.StdinIsData(cfg) }
	if code, done := s.start(args, wantEvent); done {
		return code
	}
	cc := &s.com.check
	rep, err := run(ctx, s.com.Timeout, s.env.Redact, func(ctx context.Context) (Report, error) {
		res, err := c.Run(ctx, s.cfg, &s.env)
		if err != nil {
			return Report{}, err
		}
		rep := finalize(c.Name, res, cc.statusMap)
		if cc.EventsAPI != "" {
			s.emit(ctx, &rep)
		}
		if res.Commit != nil {
			if err := res.Commit(); err != nil {
				return Report{}, fmt.Errorf("save state: %w", err)
			}
		}
		return rep, nil
	})
	if err != nil {
		return s.errOut(err.Error())
	}
	if cc.Format == "json" {
		err = writeJSON(stdio.Stdout, rep, cc.MaxFindings)
	} else {
		err = writeNagios(stdio.Stdout, rep, cc.MaxFindings)
	}
	if err != nil {
		return 3
	}
	return int(rep.Status)
}

// emit posts the findings to the agent events API. A delivery failure
// does not hide the check's own result: it adds a note and raises the
// status to at least WARNING, since findings that do not reach Sensu are
// a monitoring problem of their own.
func (s *setup[C]) emit(ctx context.Context, rep *Report) {
	cc := &s.com.check
	name := s.p.Name
	if ev := s.env.Event; ev != nil && ev.Check != nil && ev.Check.Name != "" {
		name = ev.Check.Name
	}
	statePath := cc.EventsState
	if statePath == "" {
		statePath = filepath.Join(state.DefaultDir(), "events", agentapi.EventName(s.p.Name, "state", name)+".json")
	}
	client, err := httpx.New(httpx.Config{RetryMax: 2, Redact: s.env.Redact, Log: s.env.Log})
	if err == nil {
		em := &agentapi.Emitter{URL: cc.EventsAPI, Client: client, StatePath: statePath, MaxEvents: cc.EventsMax, StatusOf: cc.statusMap.Status}
		var r agentapi.Report
		r, err = em.Emit(ctx, s.env.Event, name, rep.Findings)
		rep.addMetric(Metric{Name: "events_posted", Value: float64(r.Sent), Min: Zero()})
	}
	if err != nil {
		s.env.Log.Error("events API delivery failed", "err", err)
		rep.Notes = append(rep.Notes, "events API: "+oneLine(s.env.Redact.Redact(err.Error())))
		rep.Status = finding.Worse(rep.Status, finding.StatusWarning)
	}
}
