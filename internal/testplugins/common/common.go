// Package common is the options table shared by the runtime's test
// plugins: one option of each kind and scope, so that tests can prove
// which sources may set which option.
package common

import (
	"context"
	"fmt"
	"time"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
)

// Config is every test plugin's configuration.
type Config struct {
	Endpoint      string
	Token         secret.String
	Index         string
	Command       string
	Threshold     int
	Labels        []string
	Sleep         time.Duration
	IgnoreContext bool
	Panic         bool
	Fail          string
	Findings      int
	Out           string
}

// Options is the options table.
func Options(c *Config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "endpoint", Env: "FIXTURE_ENDPOINT", Path: "endpoint", Default: "http://127.0.0.1:9/", Value: &c.Endpoint, Usage: "where data goes"}, Kind: plugin.Endpoint, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "token", Env: "FIXTURE_TOKEN", Path: "token", Secret: true, Value: &c.Token, Usage: "a credential"}, Kind: plugin.Credential, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "index", Path: "index", Default: "vigil-events", Value: &c.Index, Usage: "where data lands"}, Kind: plugin.Target, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "command", Path: "command", Default: "true", Value: &c.Command, Usage: "what to run"}, Kind: plugin.Command, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "threshold", Path: "threshold", Default: 5, Value: &c.Threshold, Usage: "a tunable"}, Annotations: plugin.AnyAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "label", Path: "labels", Value: &c.Labels, Usage: "repeatable"}, Annotations: plugin.AnyAnnotation},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "sleep", Value: &c.Sleep, Usage: "wait this long, watching the context"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "ignore-context", Value: &c.IgnoreContext, Usage: "sleep without watching the context"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "panic", Value: &c.Panic, Usage: "panic while running"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "fail", Value: &c.Fail, Usage: "fail with this error"}},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "findings", Value: &c.Findings, Usage: "report this many findings"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "out", Value: &c.Out, Usage: "write the configuration here"}, Kind: plugin.Target},
	}
}

// Work does what the flags ask: sleep, panic, fail, and log the whole
// configuration (which must never show the token).
func Work(ctx context.Context, c *Config, env *plugin.Env) error {
	env.Log.Info("configuration", "config", c, "token", c.Token, "formatted", fmt.Sprintf("%v %+v %s %q", c, c, c.Token, c.Token))
	env.Log.Debug("raw mistake", "err", fmt.Errorf("upstream said: bad token %s", c.Token.Reveal()))
	if c.Panic {
		var m map[string]int
		m["boom"]++
	}
	if c.Sleep > 0 {
		if c.IgnoreContext {
			time.Sleep(c.Sleep)
		} else {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(c.Sleep):
			}
		}
	}
	if c.Fail != "" {
		return fmt.Errorf("%s (token %s)", c.Fail, c.Token.Reveal())
	}
	return nil
}
