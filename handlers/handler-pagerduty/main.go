// Command handler-pagerduty pages through PagerDuty's Events API v2:
// non-OK events trigger (or acknowledge) an incident with the findings and
// the enrichment as context, OK events resolve it, and what cannot be sent
// now waits in the spool. See README.md and pkg/alert.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/alert"
	"github.com/vigil-sec/vigil/pkg/deliver"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
)

func main() {
	os.Exit(plugin.RunHandler(context.Background(), handler(), os.Args[1:], plugin.StdIO()))
}

// config is handler-pagerduty's configuration.
type config struct {
	deliver.Options
	alert.Config
	Teams []string
}

var names = deliver.Names{
	Handler:    "handler-pagerduty",
	EnvPrefix:  "PAGERDUTY",
	DefaultURL: "https://events.pagerduty.com",
	URLUsage:   "the Events API v2 endpoint (the client adds /v2/enqueue)",
	Token:      "routing-key", TokenEnv: "ROUTING_KEY",
	TokenUsage:  "the integration's routing key (32 characters), used when the check names no allowed team",
	NoBasicAuth: true,
}

func handler() plugin.Handler[config] {
	return plugin.Handler[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "handler-pagerduty",
				Short:    "Page through PagerDuty's Events API v2 with the findings and enrichment as context; resolve when the check recovers",
				Timeout:  30,
				Keyspace: "vigil.io/handler-pagerduty",
			},
			Options:  options,
			Validate: validate,
		},
		Handle: handle,
	}
}

func options(c *config) []plugin.Option {
	tmpl := func(name, def string, v *string, what string) plugin.Option {
		return plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: name + "-template", Env: "PAGERDUTY_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_TEMPLATE",
			Path: name + "-template", Default: def, Value: v,
			Usage: what + " (Go template over the event, .Summary, .Severity, .Findings and .Rule; functions toJSON, default, truncate)"}, Annotations: plugin.CheckAnnotation}
	}
	return append(c.Table(names),
		plugin.Option{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "teams", Env: "PAGERDUTY_TEAMS", Value: &c.Teams,
			Usage: "teams allowed to have their own routing key, read from PAGERDUTY_ROUTING_KEY_TEAM, chosen by the check's vigil.io/pagerduty-team label"}, Kind: plugin.Target},
		tmpl("dedup-key", alert.DefaultDedupKey, &c.DedupKey, "dedup key: one incident per entity and check"),
		tmpl("summary", alert.DefaultSummary, &c.Summary, "summary, cut to 1024 characters"),
		tmpl("source", alert.DefaultSource, &c.Source, "source"),
		tmpl("component", alert.DefaultComponent, &c.Component, "component"),
		tmpl("group", alert.DefaultGroup, &c.Group, "group"),
		tmpl("class", alert.DefaultClass, &c.Class, "class"),
		plugin.Option{Spec: &sensu.MapPluginConfigOption[string]{Argument: "severity-map", Env: "PAGERDUTY_SEVERITY_MAP", Path: "severity-map", Value: &c.Severities,
			Usage: "PagerDuty severity (critical, error, warning, info) per finding severity or state, e.g. high=critical,status-unknown=warning (defaults: critical=critical high=error medium=warning low=info info=info status-warning=warning status-critical=critical status-unknown=error)"},
			Annotations: plugin.CheckAnnotation},
		plugin.Option{Spec: &sensu.PluginConfigOption[int]{Argument: "acknowledge-status", Env: "PAGERDUTY_ACKNOWLEDGE_STATUS", Path: "acknowledge-status", Value: &c.AckStatus,
			Usage: "acknowledge instead of trigger for this status (e.g. 1: a WARNING acknowledges); 0 means never"}, Annotations: plugin.CheckAnnotation},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "sensu-url", Env: "PAGERDUTY_SENSU_URL", Value: &c.DashboardURL,
			Usage: "the Sensu web UI's base URL, to link each incident to its event"}, Kind: plugin.Endpoint},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "client-name", Env: "PAGERDUTY_CLIENT_NAME", Default: "Vigil", Value: &c.ClientName,
			Usage: "the client name PagerDuty shows"}},
	)
}

// teamName is what a team may be called: it becomes part of an
// environment variable's name.
var teamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func validate(c *config) error {
	if err := c.Validate(names, ""); err != nil {
		return err
	}
	if !c.Token.IsSet() {
		return fmt.Errorf("--routing-key (or PAGERDUTY_ROUTING_KEY, or --routing-key-file) is required")
	}
	if n := len(c.Token.Reveal()); n != 32 {
		return fmt.Errorf("--routing-key (or PAGERDUTY_ROUTING_KEY) must be 32 characters, got %d", n)
	}
	for _, t := range c.Teams {
		if !teamName.MatchString(t) {
			return fmt.Errorf("--teams: %q is not a team name (letters, digits, - and _)", t)
		}
	}
	if c.AckStatus < 0 {
		return fmt.Errorf("--acknowledge-status must be 0 (never) or a status, got %d", c.AckStatus)
	}
	_, err := alert.NewBuilder(c.Config)
	return err
}

func handle(ctx context.Context, c *config, env *plugin.Env) error {
	b, err := alert.NewBuilder(c.Config)
	if err != nil {
		return err
	}
	item, err := b.Build(env.Event)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(item)
	if err != nil {
		return fmt.Errorf("encode the PagerDuty event: %w", err)
	}
	httpc, err := c.Client(env)
	if err != nil {
		return err
	}
	s := alert.NewSender(c.URL, httpc, c.keyFor(env), env.Redact.Redact)
	return c.Deliver(ctx, env, raw, s.Send)
}

// keyFor returns the routing key of a team: its own when the team is
// allowed and its key is set, else the default one (with a warning).
func (c *config) keyFor(env *plugin.Env) func(team string) (secret.String, error) {
	return func(team string) (secret.String, error) {
		if team == "" {
			return c.Token, nil
		}
		if !slices.Contains(c.Teams, team) {
			env.Log.Warn("the check names a team that --teams does not allow; paging with the default routing key", "team", team)
			return c.Token, nil
		}
		name := "PAGERDUTY_ROUTING_KEY_" + strings.ToUpper(strings.ReplaceAll(team, "-", "_"))
		key, ok := os.LookupEnv(name)
		if !ok || key == "" {
			env.Log.Warn("the team's routing key is not set; paging with the default routing key", "team", team, "variable", name)
			return c.Token, nil
		}
		env.Redact.Add(key)
		if len(key) != 32 {
			env.Log.Warn("the team's routing key is not 32 characters; paging with the default routing key", "team", team, "variable", name)
			return c.Token, nil
		}
		return secret.String(key), nil
	}
}
