//go:build linux

// Command check-host-drift records a signed baseline of a host's
// security-relevant state (listening ports, users, sudoers, SSH keys,
// scheduled jobs, enabled units, packages, kernel modules, sysctls, SUID
// binaries, the firewall) and reports what drifted since. See README.md.
package main

import (
	"context"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/hostcheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
)

func main() {
	os.Exit(plugin.RunCheck(context.Background(), check(), os.Args[1:], plugin.StdIO()))
}

func check() plugin.Check[hostcheck.Config] {
	return plugin.Check[hostcheck.Config]{
		Plugin: plugin.Plugin[hostcheck.Config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "check-host-drift",
				Short:    "Record a signed baseline of a host's security-relevant state and report what drifted: ports, users, keys, jobs, packages, modules, sysctls, SUID, firewall",
				Keyspace: "vigil.io/check-host-drift",
				// --timeout's default: a check that hangs (a FIFO, a stuck
				// /proc or NFS home) must end, and say so.
				Timeout: 30,
			},
			Options:  options,
			Validate: hostcheck.Validate,
		},
		Run: hostcheck.Run,
	}
}

func options(c *hostcheck.Config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "baseline", Shorthand: "b", Env: "VIGIL_HOST_BASELINE", Value: &c.Baseline,
			Usage: "baseline file (default: $VIGIL_STATE_DIR/check-host-drift/baseline.json)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "init", Value: &c.Init,
			Usage: "record the first baseline (refuses to overwrite one)"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "update", Value: &c.Update,
			Usage: "accept the current state as the new baseline and list what changed"}},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "facets", Env: "VIGIL_HOST_FACETS", Path: "facets", Value: &c.Facets,
			Usage: "facets to read, comma-separated (default: all): ports, users, sudoers, authorized_keys, cron, units, packages, modules, sysctls, suid, firewall"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.MapPluginConfigOption[string]{Argument: "severity", Path: "severity", Value: &c.Severity,
			Usage: "severity per facet or per rule id, over the defaults (ports=critical,host.package_changed=info,…)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "allow-list", Env: "VIGIL_HOST_ALLOW_LIST", Value: &c.AllowList,
			Usage: "YAML file of expected state (facet: [name glob or {field: glob}]) whose changes raise no finding"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "firewall-file", Env: "VIGIL_HOST_FIREWALL_FILE", Value: &c.FirewallFile,
			Usage: "saved ruleset (nft -j list ruleset, nft list ruleset or iptables-save output) read under --root instead of running nft or iptables-save"}},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "hmac-key", Env: "VIGIL_HOST_HMAC_KEY", Secret: true, Value: &c.HMACKey,
			Usage: "key that signs the baseline (HMAC-SHA256) and verifies it"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "root", Env: "VIGIL_HOST_ROOT", Value: &c.Root,
			Usage: "file system to read instead of /, e.g. /host for a host mounted into a container (/proc included)"}},
	}
}
