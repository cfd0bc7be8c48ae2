// Command check-fixture is a check built on pkg/plugin for the runtime's
// own tests.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/internal/testplugins/fixture"
	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func main() {
	os.Exit(plugin.RunCheck(context.Background(), plugin.Check[fixture.Config]{
		Plugin: plugin.Plugin[fixture.Config]{
			PluginConfig: sensu.PluginConfig{Name: "check-fixture", Short: "test check", Keyspace: "vigil.io/check-fixture"},
			Options:      fixture.Options,
		},
		Run: func(ctx context.Context, c *fixture.Config, env *plugin.Env) (plugin.Result, error) {
			if err := fixture.Work(ctx, c, env); err != nil {
				return plugin.Result{}, err
			}
			var r plugin.Result
			sev := []finding.Severity{finding.Critical, finding.High, finding.Medium, finding.Low, finding.Info}
			for i := range c.Findings {
				r.Findings = append(r.Findings, finding.Finding{Rule: "fixture.rule", Severity: sev[i%len(sev)],
					Object: fmt.Sprintf("/obj/%d", i), Message: "value=secret|pipe\nnewline"})
			}
			r.Notes = []string{fmt.Sprintf("endpoint %s index %s command %s threshold %d labels %v", c.Endpoint, c.Index, c.Command, c.Threshold, c.Labels)}
			return r, nil
		},
	}, os.Args[1:], plugin.StdIO()))
}
