// Command mutator-enrich adds context to a Sensu event before a handler
// pages someone or acts on it: owner, team, environment, region, data
// class and PagerDuty team from an inventory file, what each finding's rule
// means (MITRE ATT&CK, compliance references) from the suite's rule
// catalogue, a runbook link and, when asked, cloud instance metadata. It
// writes under vigil.io/ on the event's check. See README.md; the engine
// is pkg/enrich.
package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/enrich"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/state"
)

func main() {
	os.Exit(plugin.RunMutator(context.Background(), mutator(), os.Args[1:], plugin.StdIO()))
}

// config is mutator-enrich's configuration.
type config struct {
	Inventory      string
	CacheDir       string
	NoCache        bool
	Overwrite      bool
	RunbookBaseURL string
	Cloud          string
	CloudTimeout   time.Duration
	CloudEndpoint  string
}

func mutator() plugin.Mutator[config] {
	return plugin.Mutator[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "mutator-enrich",
				Short:    "Add owner, team, runbook, MITRE ATT&CK and compliance context to a Sensu event under vigil.io/",
				Timeout:  10,
				Keyspace: "vigil.io/mutator-enrich",
			},
			Options:  options,
			Validate: validate,
		},
		Mutate: mutate,
	}
}

func options(c *config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "inventory", Env: "VIGIL_ENRICH_INVENTORY", Value: &c.Inventory,
			Usage: "inventory file (YAML or JSON list of entries: entity, glob or matchLabels selector; owner, team, environment, region, data_class, pagerduty_team, runbook_base_url)"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "cache-dir", Env: "VIGIL_ENRICH_CACHE_DIR", Value: &c.CacheDir,
			Usage: "directory of the compiled inventory cache (default: $VIGIL_STATE_DIR/mutator-enrich, else the user's cache directory)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "no-cache", Env: "VIGIL_ENRICH_NO_CACHE", Value: &c.NoCache,
			Usage: "parse the inventory on every event instead of using the compiled cache"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "overwrite", Env: "VIGIL_ENRICH_OVERWRITE", Path: "overwrite", Value: &c.Overwrite,
			Usage: "replace vigil.io/ labels and annotations the event already carries (default: keep them)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "runbook-base-url", Env: "VIGIL_ENRICH_RUNBOOK_BASE_URL", Value: &c.RunbookBaseURL,
			Usage: "runbook base URL for entities whose inventory entry has no runbook_base_url; the rule id or check name is appended"}, Kind: plugin.Endpoint},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "cloud-metadata", Env: "VIGIL_ENRICH_CLOUD_METADATA", Path: "cloud-metadata", Default: "off",
			Allow: []string{"off", enrich.CloudAuto, enrich.CloudAWS, enrich.CloudGCP, enrich.CloudAzure}, Value: &c.Cloud,
			Usage: "add the instance metadata of the machine running the mutator (vigil.io/cloud): off, auto, aws, gcp or azure"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "cloud-timeout", Env: "VIGIL_ENRICH_CLOUD_TIMEOUT", Path: "cloud-timeout", Default: 300 * time.Millisecond, Value: &c.CloudTimeout,
			Usage: "give up on the metadata service after this long and enrich without it"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "cloud-endpoint", Env: "VIGIL_ENRICH_CLOUD_ENDPOINT", Value: &c.CloudEndpoint,
			Usage: "base URL of the instance metadata service (default " + enrich.DefaultMetadataEndpoint + "; for tests and local emulators)"}, Kind: plugin.Endpoint},
	}
}

func validate(c *config) error {
	if c.RunbookBaseURL != "" {
		if err := plugin.ValidateURL("runbook-base-url", "VIGIL_ENRICH_RUNBOOK_BASE_URL", c.RunbookBaseURL); err != nil {
			return err
		}
	}
	if c.CloudEndpoint != "" {
		if err := plugin.ValidateURL("cloud-endpoint", "VIGIL_ENRICH_CLOUD_ENDPOINT", c.CloudEndpoint); err != nil {
			return err
		}
	}
	if c.Cloud != "off" && (c.CloudTimeout <= 0 || c.CloudTimeout > 5*time.Second) {
		return errors.New("--cloud-timeout (or VIGIL_ENRICH_CLOUD_TIMEOUT) must be above 0 and at most 5s: every event waits for it")
	}
	return nil
}

// mutate looks the entity up in the inventory (and the metadata service,
// at the same time) and writes the context on the event's check.
func mutate(ctx context.Context, c *config, env *plugin.Env) (*corev2.Event, error) {
	type cloudResult struct{ in *enrich.Instance }
	cloud := make(chan cloudResult, 1)
	if c.Cloud != "off" {
		go func() {
			in, err := enrich.FetchInstance(ctx, enrich.CloudOptions{Provider: c.Cloud, Endpoint: c.CloudEndpoint, Timeout: c.CloudTimeout})
			if err != nil {
				env.Log.Debug("no cloud metadata", "error", err.Error())
			}
			cloud <- cloudResult{in}
		}()
	} else {
		cloud <- cloudResult{}
	}

	var ectx enrich.Context
	if c.Inventory != "" {
		o := enrich.LoadOptions{Log: env.Log}
		if !c.NoCache {
			o.CacheDir = c.CacheDir
			if o.CacheDir == "" {
				o.CacheDir = filepath.Join(state.DefaultDir(), "mutator-enrich")
			}
		}
		ix, err := enrich.LoadInventory(c.Inventory, o)
		if err != nil {
			return nil, err
		}
		ev := env.Event
		if ev.Entity != nil {
			if ectx.Entry, err = ix.Lookup(ev.Entity.Name, ev.Entity.Labels); err != nil {
				return nil, err
			}
		}
	}
	ectx.Cloud = (<-cloud).in
	if _, err := enrich.Apply(env.Event, ectx, enrich.Options{Overwrite: c.Overwrite, RunbookBaseURL: c.RunbookBaseURL}); err != nil {
		return nil, err
	}
	return env.Event, nil
}
