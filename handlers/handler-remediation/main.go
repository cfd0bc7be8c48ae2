// Command handler-remediation answers Sensu events with remediation
// actions chosen by rules (ask the backend to run a check on the entity,
// run a local command, call a webhook), behind guardrails: a per-entity
// rate limit, a global circuit breaker, a dry-run mode and a forensic
// capture before the action. Every decision goes to an audit log. See
// README.md; the engine is pkg/remediate.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/remediate"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/state"
)

func main() {
	stdio := plugin.StdIO()
	os.Exit(plugin.RunHandler(context.Background(), handler(stdio.Stdout, os.Getenv), os.Args[1:], stdio))
}

// config is handler-remediation's configuration.
type config struct {
	Config          string
	DryRun          bool
	StateDir        string
	AuditLog        string
	CaptureDir      string
	CaptureRoot     string
	RateLimit       int
	RateWindow      time.Duration
	BreakerEntities int
	BreakerWindow   time.Duration
	SensuURL        string
	SensuKey        secret.String
	SensuCAFile     string
}

func handler(stdout io.Writer, getenv func(string) string) plugin.Handler[config] {
	return plugin.Handler[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "handler-remediation",
				Short:    "Run remediation actions chosen by rules, behind rate limits, a circuit breaker and a forensic capture",
				Timeout:  120,
				Keyspace: "vigil.io/handler-remediation",
			},
			Options:  options,
			Validate: validate,
		},
		Handle: func(ctx context.Context, c *config, env *plugin.Env) error {
			return handle(ctx, c, env, stdout, getenv)
		},
	}
}

func options(c *config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "config", Shorthand: "c", Env: "VIGIL_REMEDIATION_CONFIG", Value: &c.Config,
			Usage: "rules and actions (YAML; see README); check annotations may only select actions it marks selectable"}, Kind: plugin.Command, Required: true},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "dry-run", Env: "VIGIL_REMEDIATION_DRY_RUN", Value: &c.DryRun,
			Usage: "decide, report and audit everything, act on nothing (no capture, no state change)"}, Kind: plugin.Command},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "state-dir", Env: "VIGIL_REMEDIATION_STATE_DIR", Value: &c.StateDir,
			Usage: "rate-limit and circuit-breaker state, and its lock (default: $VIGIL_STATE_DIR/handler-remediation, else ~/.cache/vigil/handler-remediation)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "audit-log", Env: "VIGIL_REMEDIATION_AUDIT_LOG", Value: &c.AuditLog,
			Usage: "JSON-lines audit log of every decision (default: STATE-DIR/audit.jsonl)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "capture-dir", Env: "VIGIL_REMEDIATION_CAPTURE_DIR", Value: &c.CaptureDir,
			Usage: "where forensic captures (tar.gz, 0600) are written (default: STATE-DIR/captures)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "capture-root", Env: "VIGIL_REMEDIATION_CAPTURE_ROOT", Default: "/", Value: &c.CaptureRoot,
			Usage: "directory read as / by a capture (/proc, logs, finding paths), as node_exporter's --path.rootfs"}},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "rate-limit", Env: "VIGIL_REMEDIATION_RATE_LIMIT", Default: 3, Value: &c.RateLimit,
			Usage: "most runs of one action on one entity within --rate-window; beyond, skip and escalate"}},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "rate-window", Env: "VIGIL_REMEDIATION_RATE_WINDOW", Default: time.Hour, Value: &c.RateWindow,
			Usage: "sliding window of --rate-limit"}},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "breaker-entities", Env: "VIGIL_REMEDIATION_BREAKER_ENTITIES", Default: 10, Value: &c.BreakerEntities,
			Usage: "open the circuit breaker (stop acting on every entity for --breaker-window) when more entities than this are acted on within --breaker-window"}},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "breaker-window", Env: "VIGIL_REMEDIATION_BREAKER_WINDOW", Default: 10 * time.Minute, Value: &c.BreakerWindow,
			Usage: "window of the circuit breaker, and how long it stays open"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "sensu-api-url", Env: "SENSU_API_URL", Value: &c.SensuURL,
			Usage: "Sensu backend API for sensu-execute actions (e.g. https://sensu.example:8080)"}, Kind: plugin.Endpoint},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "sensu-api-key", Env: "SENSU_API_KEY", Secret: true, Value: &c.SensuKey,
			Usage: "Sensu API key (Authorization: Key …; prefer the environment variable or --sensu-api-key-file)"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "sensu-ca-file", Env: "SENSU_CA_FILE", Value: &c.SensuCAFile,
			Usage: "PEM bundle of the CAs to trust for the Sensu API instead of the system's"}, Kind: plugin.Credential},
	}
}

func validate(c *config) error {
	if c.RateLimit < 1 {
		return fmt.Errorf("--rate-limit (or VIGIL_REMEDIATION_RATE_LIMIT) must be at least 1, got %d", c.RateLimit)
	}
	if c.RateWindow <= 0 {
		return errors.New("--rate-window (or VIGIL_REMEDIATION_RATE_WINDOW) must be more than 0")
	}
	if c.BreakerEntities < 1 {
		return fmt.Errorf("--breaker-entities (or VIGIL_REMEDIATION_BREAKER_ENTITIES) must be at least 1, got %d", c.BreakerEntities)
	}
	if c.BreakerWindow <= 0 {
		return errors.New("--breaker-window (or VIGIL_REMEDIATION_BREAKER_WINDOW) must be more than 0")
	}
	if c.SensuURL != "" {
		if err := plugin.ValidateURL("sensu-api-url", "SENSU_API_URL", c.SensuURL); err != nil {
			return err
		}
	}
	if c.CaptureRoot == "" {
		return errors.New("--capture-root (or VIGIL_REMEDIATION_CAPTURE_ROOT) must not be empty")
	}
	if c.StateDir == "" {
		c.StateDir = filepath.Join(state.DefaultDir(), "handler-remediation")
	}
	if c.AuditLog == "" {
		c.AuditLog = filepath.Join(c.StateDir, "audit.jsonl")
	}
	if c.CaptureDir == "" {
		c.CaptureDir = filepath.Join(c.StateDir, "captures")
	}
	return nil
}

// handle loads the rules, runs the engine and prints its one line: on
// stdout when it decided and did what it decided (guardrail skips
// included), as the error (stderr, exit 1) when an action failed.
func handle(ctx context.Context, c *config, env *plugin.Env, stdout io.Writer, getenv func(string) string) error {
	cfg, err := remediate.LoadConfig(c.Config)
	if err != nil {
		return err
	}
	httpCfg := func(ca string) httpx.Config {
		return httpx.Config{Timeout: 30 * time.Second, CAFile: ca, Redact: env.Redact, Log: env.Log}
	}
	api := remediate.SensuAPI{URL: c.SensuURL, Key: c.SensuKey}
	for _, name := range remediate.SortedActions(cfg) {
		if cfg.Actions[name].Kind != remediate.KindSensuExecute {
			continue
		}
		if c.SensuURL == "" || !c.SensuKey.IsSet() {
			return fmt.Errorf("action %s is sensu-execute: --sensu-api-url (or SENSU_API_URL) and SENSU_API_KEY (or --sensu-api-key-file) are required", name)
		}
		if api.Client, err = httpx.New(httpCfg(c.SensuCAFile)); err != nil {
			return fmt.Errorf("--sensu-ca-file: %w", err)
		}
		break
	}
	var mu sync.Mutex
	clients := map[string]*httpx.Client{}
	eng := &remediate.Engine{
		Config: cfg, StateDir: c.StateDir, AuditLog: c.AuditLog, CaptureDir: c.CaptureDir, CaptureRoot: c.CaptureRoot,
		DryRun: c.DryRun, Limit: remediate.Limit{Max: c.RateLimit, Window: remediate.Duration(c.RateWindow)},
		Breaker: remediate.Breaker{Entities: c.BreakerEntities, Window: c.BreakerWindow},
		Sensu:   api,
		Client: func(ca string) (*httpx.Client, error) {
			mu.Lock()
			defer mu.Unlock()
			if cl, ok := clients[ca]; ok {
				return cl, nil
			}
			cl, err := httpx.New(httpCfg(ca))
			if err == nil {
				clients[ca] = cl
			}
			return cl, err
		},
		Getenv: getenv, Redact: env.Redact, Now: env.Now, Log: env.Log,
	}
	out, err := eng.Handle(ctx, env.Event, env.EventJSON)
	if err != nil {
		return err
	}
	if out.Failed {
		return errors.New(out.Line)
	}
	if _, err := fmt.Fprintln(stdout, "handler-remediation: "+out.Line); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
