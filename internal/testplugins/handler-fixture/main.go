// Command handler-fixture is a handler built on pkg/plugin for the
// runtime's own tests: it writes its configuration to --out.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/internal/testplugins/common"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func main() {
	os.Exit(plugin.RunHandler(context.Background(), plugin.Handler[common.Config]{
		Plugin: plugin.Plugin[common.Config]{
			PluginConfig: sensu.PluginConfig{Name: "handler-fixture", Short: "test handler", Keyspace: "vigil.io/handler-fixture"},
			Options:      common.Options,
		},
		Handle: func(ctx context.Context, c *common.Config, env *plugin.Env) error {
			if err := common.Work(ctx, c, env); err != nil {
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
