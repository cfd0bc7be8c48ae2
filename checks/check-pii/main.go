// Command check-pii finds personal data and secrets in log files (card
// numbers, emails, phone numbers, SSNs, IBANs, cloud and SaaS credentials)
// and reports where, never what. See README.md.
package main

import (
	"context"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/piicheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
)

func main() {
	os.Exit(plugin.RunCheck(context.Background(), check(), os.Args[1:], plugin.StdIO()))
}

func check() plugin.Check[piicheck.Config] {
	return plugin.Check[piicheck.Config]{
		Plugin: plugin.Plugin[piicheck.Config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "check-pii",
				Short:    "Find personal data and secrets in log files: card numbers, emails, phones, SSNs, IBANs, credentials",
				Keyspace: "vigil.io/check-pii",
			},
			Options:  options,
			Validate: piicheck.Validate,
		},
		StdinIsData: func(c *piicheck.Config) bool { return c.Stdin },
		Run:         piicheck.Run,
	}
}

func options(c *piicheck.Config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "path", Shorthand: "p", Env: "VIGIL_PII_PATHS", Path: "paths", UseCobraStringArray: true, Value: &c.Paths,
			Usage: "log file, glob (quoted) or directory to scan, repeatable"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "include", Path: "include", UseCobraStringArray: true, Value: &c.Include,
			Usage: "in directories, scan only files whose name (or path, with a /) matches this glob, repeatable"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "exclude", Path: "exclude", UseCobraStringArray: true, Value: &c.Exclude,
			Usage: "in directories, skip files whose name (or path, with a /) matches this glob, repeatable"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "stdin", Value: &c.Stdin,
			Usage: "scan standard input instead of files"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "state", Env: "VIGIL_PII_STATE", Value: &c.State,
			Usage: "directory remembering how far each file was read (rotation-safe); without it every run scans whole files"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "from-end", Value: &c.FromEnd,
			Usage: "with --state, start files seen for the first time at their end (scan only what is appended later)"}},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "types", Env: "VIGIL_PII_TYPES", Path: "types", Value: &c.Types,
			Usage: "rules to run, comma-separated (default: every rule but pii.ip_address)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "detectors", Env: "VIGIL_PII_DETECTORS", Value: &c.Detectors,
			Usage: "YAML file of custom detectors (name, pattern, validator, severity)"}},
		{Spec: &sensu.MapPluginConfigOption[int]{Argument: "warning", Path: "warning", Value: &c.Warning,
			Usage: "per rule, the count at which its findings warn (rule=count,…); below it they are info"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.MapPluginConfigOption[int]{Argument: "critical", Path: "critical", Value: &c.Critical,
			Usage: "per rule, the count at which its findings are critical (rule=count,…)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.MapPluginConfigOption[string]{Argument: "severity", Path: "severity", Value: &c.Severity,
			Usage: "per rule, the severity of its findings (rule=low,…)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "region", Env: "VIGIL_REGION", Path: "region", Value: &c.Region,
			Usage: "region tag carried into findings and metrics (e.g. eu-west-1)"}, Annotations: plugin.AnyAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "data-class", Env: "VIGIL_DATA_CLASS", Path: "data-class", Value: &c.DataClass,
			Usage: "data classification tag carried into findings and metrics (e.g. customer, payment)"}, Annotations: plugin.AnyAnnotation},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "fingerprint-key", Env: "VIGIL_PII_FINGERPRINT_KEY", Secret: true, Value: &c.FingerprintKey,
			Usage: "key of the value fingerprints (HMAC-SHA256), at least 16 bytes; share it to recognise a value across hosts (default: a key kept in --state)"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "workers", Path: "workers", Value: &c.Workers,
			Usage: "scanning goroutines (0: one per CPU)"}, Annotations: plugin.AnyAnnotation},
	}
}
