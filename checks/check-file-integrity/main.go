//go:build linux

// Command check-file-integrity records a baseline of file trees and
// reports what changed since: content, permissions, owners, identity,
// rated by where the change happened. See README.md.
package main

import (
	"context"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/fim"
	"github.com/vigil-sec/vigil/pkg/fimcheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
)

func main() {
	os.Exit(plugin.RunCheck(context.Background(), check(), os.Args[1:], plugin.StdIO()))
}

func check() plugin.Check[fimcheck.Config] {
	return plugin.Check[fimcheck.Config]{
		Plugin: plugin.Plugin[fimcheck.Config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "check-file-integrity",
				Short:    "Record a baseline of file trees and report what changed: content, permissions, owners, identity",
				Keyspace: "vigil.io/check-file-integrity",
			},
			Options:     options,
			Validate:    fimcheck.Validate,
			Subcommands: map[string]func(plugin.IO, []string) int{"policy": fimcheck.ShowPolicy},
		},
		Run: fimcheck.Run,
	}
}

func options(c *fimcheck.Config) []plugin.Option {
	return []plugin.Option{
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "path", Shorthand: "p", Env: "VIGIL_FIM_PATHS", Path: "paths", UseCobraStringArray: true, Value: &c.Paths,
			Usage: "tree to watch, repeatable (default: the policy's roots)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "baseline", Shorthand: "b", Env: "VIGIL_FIM_BASELINE", Value: &c.Baseline,
			Usage: "baseline file; keep it outside the watched trees (default: $VIGIL_STATE_DIR/check-file-integrity/baseline.vfim)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "init", Value: &c.Init,
			Usage: "record the first baseline (refuses to overwrite one)"}},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "update", Value: &c.Update,
			Usage: "accept the current state as the new baseline and say how many entries changed"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "policy", Env: "VIGIL_FIM_POLICY", Value: &c.Policy,
			Usage: "policy file (YAML): groups of paths, what they watch, their severity (default: built in; see: check-file-integrity policy)"}},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "exclude", Path: "exclude", UseCobraStringArray: true, Value: &c.Exclude,
			Usage: "glob of paths never scanned nor recorded, repeatable (e.g. '/var/lib/app/**')"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "hash", Default: "sha256", Allow: fim.Algorithms, Value: &c.Hash,
			Usage: "content digest of a new baseline: sha256 (uses the CPU's SHA extensions) or blake3; a comparison uses the baseline's own"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "mode", Path: "mode", Default: "full", Allow: []string{"full", "fast"}, Value: &c.Mode,
			Usage: "full re-hashes every file; fast re-hashes only files whose size, mtime, ctime, inode or device changed"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "workers", Path: "workers", Value: &c.Workers,
			Usage: "files hashed in parallel (0: one per CPU)"}, Annotations: plugin.AnyAnnotation},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "hmac-key", Env: "VIGIL_FIM_HMAC_KEY", Secret: true, Value: &c.HMACKey,
			Usage: "key that signs the baseline (HMAC-SHA256) and verifies it; keep it off the watched host's disk if you can"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "root", Env: "VIGIL_FIM_ROOT", Value: &c.Root,
			Usage: "file system the paths live under, e.g. /host for a host mounted into a container"}},
	}
}
