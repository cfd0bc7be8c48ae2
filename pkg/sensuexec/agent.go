package sensuexec

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	corev2 "github.com/sensu/sensu-go/api/core/v2"
)

// Agent runs checks the way sensu-agent does.
type Agent struct {
	// Entity is the agent's entity; a default one is used when nil.
	Entity *corev2.Entity
	// Env is the agent process's environment; nil means os.Environ().
	Env []string
	// AssetBins are runtime-asset bin directories, prepended to PATH.
	AssetBins []string
	// Dir is the working directory of the commands (the agent's cache
	// directory in a real installation); empty means the current one.
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultEntity is an agent entity that passes validation.
func DefaultEntity() *corev2.Entity {
	e := corev2.FixtureEntity("vigil-test-host")
	e.Namespace = "default"
	e.EntityClass = corev2.EntityAgentClass
	return e
}

func (a *Agent) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *Agent) entity() *corev2.Entity {
	if a.Entity != nil {
		return a.Entity
	}
	return DefaultEntity()
}

// Environment merges the process environment, asset paths and the
// resource's env_vars the way sensu-go's environment.MergeEnvironments
// does: later sources win, PATH-like variables are prepended.
func Environment(base []string, assetBins []string, envVars []string) []string {
	if base == nil {
		base = os.Environ()
	}
	vars := map[string]string{}
	var order []string
	// set assigns a variable; for the path lists Sensu prepends instead,
	// so that an asset's bin directory and a check's own PATH both stay.
	set := func(kv string, prepend bool) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return
		}
		old, seen := vars[k]
		if !seen {
			order = append(order, k)
		}
		if prepend && old != "" && (k == "PATH" || k == "CPATH" || k == "LD_LIBRARY_PATH") {
			v += string(filepath.ListSeparator) + old
		}
		vars[k] = v
	}
	for _, kv := range base {
		set(kv, false)
	}
	if len(assetBins) > 0 {
		set("PATH="+strings.Join(assetBins, string(filepath.ListSeparator)), true)
	}
	for _, kv := range envVars {
		set(kv, true)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out
}

// RunCheck executes a check configuration and returns the event the agent
// would send to the backend.
func (a *Agent) RunCheck(ctx context.Context, cfg *corev2.CheckConfig) (*corev2.Event, Response, error) {
	check := corev2.NewCheck(cfg)
	check.Executed = a.now().Unix()
	event := &corev2.Event{ObjectMeta: corev2.ObjectMeta{Namespace: check.Namespace}, Check: check}
	req := Request{
		Command: cfg.Command,
		Env:     Environment(a.Env, a.AssetBins, cfg.EnvVars),
		Timeout: int(cfg.Timeout),
		Dir:     a.Dir,
	}
	if cfg.Stdin {
		input, err := json.Marshal(event)
		if err != nil {
			return nil, Response{}, fmt.Errorf("error marshaling json from event: %w", err)
		}
		req.Input = string(input)
	}
	resp, err := Execute(ctx, req)
	if err != nil {
		event.Check.Output = err.Error()
		resp.Status = FallbackStatus
	} else {
		event.Check.Output = resp.Output
	}
	event.Check.Duration = resp.Duration
	event.Check.Status = uint32(resp.Status) //nolint:gosec // as sensu-agent does
	event.Entity = a.entity()
	event.Timestamp = a.now().Unix()
	if check.OutputMetricFormat != "" || len(check.OutputMetricHandlers) != 0 {
		event.Metrics = &corev2.Metrics{}
	}
	if check.OutputMetricFormat == corev2.NagiosOutputMetricFormat {
		event.Metrics.Points = NagiosPerfdata(event.Check.Output, event.Check.Executed, check.OutputMetricTags)
	} else if check.OutputMetricFormat != "" {
		return nil, resp, fmt.Errorf("output_metric_format %q is not emulated here", check.OutputMetricFormat)
	}
	if len(check.OutputMetricHandlers) != 0 {
		event.Metrics.Handlers = check.OutputMetricHandlers
	}
	return event, resp, nil
}

var perfNonNumeric = regexp.MustCompile(`[^-\d.]`)

// NagiosPerfdata extracts metric points from check output exactly as
// sensu-agent's nagios_perfdata transformer does: the output must split
// into two parts on "|"; the second is split on spaces; each token's part
// before ";" must split into two on "="; spaces in the label become "_"
// and every character of the value but digits, "-" and "." is dropped.
// Points carry the check's executed time (seconds) and output_metric_tags.
func NagiosPerfdata(output string, executed int64, tags []*corev2.MetricTag) []*corev2.MetricPoint {
	parts := strings.Split(output, "|")
	if len(parts) != 2 {
		return nil
	}
	var points []*corev2.MetricPoint
	for _, metric := range strings.Split(strings.TrimSpace(parts[1]), " ") {
		if metric = strings.TrimSpace(metric); metric == "" {
			continue
		}
		kv := strings.Split(strings.Split(metric, ";")[0], "=")
		if len(kv) != 2 {
			continue
		}
		label := strings.ReplaceAll(kv[0], " ", "_")
		value, err := strconv.ParseFloat(perfNonNumeric.ReplaceAllString(kv[1], ""), 64)
		if err != nil {
			continue
		}
		pt := &corev2.MetricPoint{Name: label, Value: value, Timestamp: executed, Tags: tags}
		if pt.Tags == nil {
			pt.Tags = []*corev2.MetricTag{}
		}
		points = append(points, pt)
	}
	return points
}

// EventsAPI is the agent's events API (POST /events): it completes and
// validates posted events the way prepareEvent does and records them.
type EventsAPI struct {
	// Agent supplies the entity and namespace.
	Agent *Agent

	mu     sync.Mutex
	events []*corev2.Event
	// Reject makes the next n posts fail with 500, to test retries.
	Reject int
}

// Events returns the accepted events in arrival order.
func (api *EventsAPI) Events() []*corev2.Event {
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]*corev2.Event(nil), api.events...)
}

// ServeHTTP implements POST /events.
func (api *EventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/events" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	api.mu.Lock()
	if api.Reject > 0 {
		api.Reject--
		api.mu.Unlock()
		http.Error(w, "temporarily unavailable", http.StatusInternalServerError)
		return
	}
	api.mu.Unlock()
	var event *corev2.Event
	if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := api.prepare(event); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := event.Validate(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	api.mu.Lock()
	api.events = append(api.events, event)
	api.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

// prepare mirrors sensu-agent's prepareEvent.
func (api *EventsAPI) prepare(event *corev2.Event) error {
	if event == nil {
		return fmt.Errorf("an event must be provided")
	}
	if !event.HasCheck() && !event.HasMetrics() {
		return fmt.Errorf("event must contain a check or metrics")
	}
	agent := api.Agent
	if agent == nil {
		agent = &Agent{}
	}
	ent := agent.entity()
	now := agent.now().Unix()
	if event.Timestamp == 0 {
		event.Timestamp = now
	}
	if len(event.ID) == 0 {
		id := uuid.New()
		event.ID = id[:]
	}
	if event.Namespace == "" {
		event.Namespace = ent.Namespace
	}
	if event.HasCheck() {
		if event.Check.Interval == 0 {
			event.Check.Interval = 1
		}
		if event.Check.Namespace == "" {
			event.Check.Namespace = ent.Namespace
		}
		if event.Check.Executed == 0 {
			event.Check.Executed = now
		}
		if err := event.Check.Validate(); err != nil {
			return err
		}
	}
	if event.Entity == nil || event.Entity.Name == ent.Name {
		event.Entity = ent
	} else {
		// A different entity is a proxy entity.
		event.Entity.EntityClass = corev2.EntityProxyClass
		if event.Entity.Namespace == "" {
			event.Entity.Namespace = ent.Namespace
		}
	}
	return event.Entity.Validate()
}
