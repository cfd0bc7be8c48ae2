// Command check-config-drift turns configuration management runs into
// monitoring signals: what Puppet, Chef, Ansible, Terraform or driftctl
// changed, failed to change, left out of sync or had to revert, rated
// against a baseline (immutable, thresholds, or a learned pattern), and
// whether the agent still runs at all. See README.md.
package main

import (
	"context"
	"os"
	"time"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/driftcheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func main() {
	os.Exit(plugin.RunCheck(context.Background(), check(), os.Args[1:], plugin.StdIO()))
}

func check() plugin.Check[driftcheck.Config] {
	return plugin.Check[driftcheck.Config]{
		Plugin: plugin.Plugin[driftcheck.Config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "check-config-drift",
				Short:    "Configuration drift as a signal: changes, failures, corrective changes and stale or disabled agents from Puppet, Chef, Ansible, Terraform and driftctl",
				Keyspace: "vigil.io/check-config-drift",
				// --timeout's default: a report on a hung NFS mount or a
				// multi-gigabyte one must not hold the agent's check slot.
				Timeout: 30,
			},
			Options:  options,
			Validate: driftcheck.Validate,
		},
		Run: driftcheck.Run,
	}
}

func options(c *driftcheck.Config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "source", Env: "VIGIL_DRIFT_SOURCE", Path: "source", Default: "puppet", Value: &c.Source,
			Allow: []string{"auto", "puppet", "chef", "ansible", "terraform", "driftctl"},
			Usage: "tool that wrote the report: puppet, chef, ansible, terraform, driftctl, or auto (from the file's content; needs --path)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "path", Shorthand: "p", Env: "VIGIL_DRIFT_PATH", Path: "path", Value: &c.Path,
			Usage: "report file (default for puppet: /opt/puppetlabs/puppet/public/last_run_summary.yaml, else …/cache/state/last_run_summary.yaml; for chef: the newest /var/chef/reports/chef-run-report-*.json)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "root", Env: "VIGIL_ROOT", Value: &c.Root,
			Usage: "directory the default paths are read under instead of / (a fixture tree, a container's root)"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "disable-lock", Value: &c.DisableLock,
			Usage: "Puppet's agent_disabled.lock (default: next to the report, then /opt/puppetlabs/puppet/cache/state/ under --root)"}},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "max-age", Path: "max-age", Value: &c.MaxAge,
			Usage: "a last run older than this is a drift.stale_run finding (e.g. 2h for a 30-minute agent); 0 is off"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "immutable", Path: "immutable", Value: &c.Immutable,
			Usage: "any change or pending change is critical (golden images, immutable hosts)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "changed-warning", Path: "changed-warning", Value: &c.ChangedWarning,
			Usage: "changes (changed plus out of sync) that make the check WARNING; 0 is off"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "changed-critical", Path: "changed-critical", Value: &c.ChangedCritical,
			Usage: "changes that make the check CRITICAL; 0 is off"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "learn", Env: "VIGIL_DRIFT_LEARN", Value: &c.Learn,
			Usage: "state file of recent runs' changes; a run with more changes than median + k·MAD of them is WARNING"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "learn-min", Path: "learn-min", Default: driftcheck.DefaultLearnMin, Value: &c.LearnMin,
			Usage: "runs learned before --learn judges one"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[float64]{Argument: "learn-k", Path: "learn-k", Default: driftcheck.DefaultLearnK, Value: &c.LearnK,
			Usage: "how many median absolute deviations above the median a run's changes may be (a MAD of 0 counts as 1)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "learn-runs", Default: driftcheck.DefaultLearnRuns, Value: &c.LearnRuns,
			Usage: "most recent runs --learn keeps"}},
		{Spec: &sensu.MapPluginConfigOption[string]{Argument: "severity", Path: "severity", Value: &c.Severity,
			Usage: "per rule, the severity of its findings (drift.agent_disabled=medium,…)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "max-resources", Default: 1000, Value: &c.MaxResources,
			Usage: "resources kept in memory as findings; the rest are counted"}},
	}
}
