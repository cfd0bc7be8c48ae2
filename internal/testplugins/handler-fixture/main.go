// Command handler-fixture is a handler built on pkg/plugin for the
// runtime's own tests: it writes its configuration to --out.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/internal/testplugins/fixture"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func main() {
	os.Exit(plugin.RunHandler(context.Background(), plugin.Handler[fixture.Config]{
		Plugin: plugin.Plugin[fixture.Config]{
			PluginConfig: sensu.PluginConfig{Name: "handler-fixture", Short: "test handler", Keyspace: "vigil.io/handler-fixture"},
			Options:      fixture.Options,
		},
		Handle: func(ctx context.Context, c *fixture.Config, env *plugin.Env) error {
			if err := fixture.Work(ctx, c, env); err != nil {
				return err
			}
			if c.Out == "" {
				return nil
			}
			b, err := json.Marshal(map[string]any{"endpoint": c.Endpoint, "index": c.Index, "command": c.Command,
				"threshold": c.Threshold, "labels": c.Labels, "token_set": c.Token.IsSet(), "token_is": c.Token.Reveal() == "from-check-annotation"})
			if err != nil {
				return err
			}
			return os.WriteFile(c.Out, b, 0o600)
		},
	}, os.Args[1:], plugin.StdIO()))
}
