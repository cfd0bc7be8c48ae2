// Command mutator-fixture is a mutator built on pkg/plugin for the
// runtime's own tests: it copies its configuration into labels.
package main

import (
	"context"
	"os"
	"strconv"
	"strings"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/internal/testplugins/fixture"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func main() {
	os.Exit(plugin.RunMutator(context.Background(), plugin.Mutator[fixture.Config]{
		Plugin: plugin.Plugin[fixture.Config]{
			PluginConfig: sensu.PluginConfig{Name: "mutator-fixture", Short: "test mutator", Keyspace: "vigil.io/mutator-fixture"},
			Options:      fixture.Options,
		},
		Mutate: func(ctx context.Context, c *fixture.Config, env *plugin.Env) (*corev2.Event, error) {
			if err := fixture.Work(ctx, c, env); err != nil {
				return nil, err
			}
			ev := env.Event
			if ev.Labels == nil {
				ev.Labels = map[string]string{}
			}
			ev.Labels["fixture.endpoint"] = c.Endpoint
			ev.Labels["fixture.index"] = c.Index
			ev.Labels["fixture.command"] = c.Command
			ev.Labels["fixture.threshold"] = strconv.Itoa(c.Threshold)
			ev.Labels["fixture.labels"] = strings.Join(c.Labels, ",")
			return ev, nil
		},
	}, os.Args[1:], plugin.StdIO()))
}
