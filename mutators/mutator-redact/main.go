// Command mutator-redact scrubs personal data and secrets out of a Sensu
// event before any handler ships it: every detected value in any string
// field becomes a typed mask or a keyed token, and the counts go into the
// vigil.io/redactions annotation. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/pii"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/redact"
	"github.com/vigil-sec/vigil/pkg/secret"
)

func main() {
	os.Exit(plugin.RunMutator(context.Background(), mutator(), os.Args[1:], plugin.StdIO()))
}

// config is mutator-redact's configuration.
type config struct {
	Types     []string
	Detectors string
	Mode      string
	Key       secret.String
}

func mutator() plugin.Mutator[config] {
	return plugin.Mutator[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "mutator-redact",
				Short:    "Replace personal data and secrets in every string of a Sensu event with typed masks or keyed tokens",
				Timeout:  10,
				Keyspace: "vigil.io/mutator-redact",
			},
			Options:  options,
			Validate: validate,
		},
		Mutate: mutate,
	}
}

func options(c *config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "types", Env: "VIGIL_REDACT_TYPES", Path: "types", Value: &c.Types,
			Usage: "rules to redact, comma-separated (default: every rule but pii.ip_address)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "detectors", Env: "VIGIL_REDACT_DETECTORS", Value: &c.Detectors,
			Usage: "YAML file of custom detectors (name, pattern, validator, severity)"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "mode", Env: "VIGIL_REDACT_MODE", Default: "mask", Allow: []string{"mask", "tokenize"}, Value: &c.Mode,
			Usage: "mask writes [REDACTED:rule]; tokenize writes [rule:token], a keyed HMAC, so the same value still correlates"}},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "key", Env: "VIGIL_REDACT_KEY", Secret: true, Value: &c.Key,
			Usage: "key of the tokens (--mode tokenize), at least 16 bytes; share it between regions that must correlate"}, Kind: plugin.Credential},
	}
}

func validate(c *config) error {
	if c.Mode == "tokenize" && !c.Key.IsSet() {
		return errors.New("--mode tokenize needs --key, --key-file or VIGIL_REDACT_KEY")
	}
	return nil
}

// mutate redacts the event as received and records the counts in its
// vigil.io/redactions annotation.
func mutate(_ context.Context, c *config, env *plugin.Env) (*corev2.Event, error) {
	custom, err := pii.LoadCustom(c.Detectors)
	if err != nil {
		return nil, err
	}
	scanner, err := pii.New(pii.Options{Rules: c.Types, Custom: custom})
	if err != nil {
		return nil, fmt.Errorf("--types: %w", err)
	}
	var fp *pii.Fingerprinter
	if c.Mode == "tokenize" {
		if fp, err = pii.NewFingerprinter([]byte(c.Key.Reveal())); err != nil {
			return nil, fmt.Errorf("--key: %w", err)
		}
	}
	redact.New(scanner, fp).Event(env.Event)
	return env.Event, nil
}
