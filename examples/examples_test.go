// Package examples tests the Sensu resource definitions users copy:
// each file loads as sensuctl create would load it, and every command in
// it parses and validates with the real binary.
package examples

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

func TestSensuExamplesAreValidAndTheirCommandsParse(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("sensu", "*.yaml"))
	require.NoError(t, err)
	for _, dir := range []string{"resources", "services"} {
		demo, err := filepath.Glob(filepath.Join("demo", dir, "*.yaml"))
		require.NoError(t, err)
		files = append(files, demo...)
	}
	require.NotEmpty(t, files)
	h := testutil.New(t)
	plugins, err := testutil.Plugins()
	require.NoError(t, err)
	vigil := map[string]bool{}
	for _, p := range plugins {
		vigil[p.Name] = true
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			r, err := sensuexec.LoadResources(f)
			require.NoError(t, err)
			// Each command with the environment Sensu would give it: its
			// env_vars and its secrets (placeholders here).
			type command struct {
				line string
				env  []string
			}
			var commands []command
			withSecrets := func(line string, env []string, secrets []*corev2.Secret) command {
				// The servers' URLs make demo-services exports.
				env = append(env, "VIGIL_VICTORIALOGS_URL=http://127.0.0.1:9428", "VIGIL_PROMETHEUS_URL=http://127.0.0.1:9090")
				for _, s := range secrets {
					env = append(env, s.Name+"=placeholder-secret-0123456789abc")
				}
				return command{line, env}
			}
			for _, c := range r.Checks {
				commands = append(commands, withSecrets(c.Command, c.EnvVars, c.Secrets))
			}
			for _, m := range r.Mutators {
				commands = append(commands, withSecrets(m.Command, m.EnvVars, m.Secrets))
			}
			for _, hd := range r.Handlers {
				commands = append(commands, withSecrets(hd.Command, hd.EnvVars, hd.Secrets))
			}
			require.NotEmpty(t, commands, "an example defines at least one command")
			if strings.HasPrefix(f, "sensu"+string(filepath.Separator)) {
				checkPipelineReferences(t, f, r)
			} else {
				// The demo's files are loaded together: its pipelines may
				// name another file's mutator.
				for _, pl := range r.Pipelines {
					for _, wf := range pl.Workflows {
						require.NotNil(t, r.Handler(wf.Handler.Name), "pipeline %s names handler %s, defined in the same file", pl.Name, wf.Handler.Name)
					}
				}
			}
			for _, cmd := range commands {
				// Sensu token substitution ({{ .name }}) happens on the agent.
				require.NotContains(t, cmd.line, "{{", "token substitution is not resolved here")
				// Sensu runs a command with sh -c, so a mutator may be a
				// pipeline (mutator-redact | mutator-enrich): each part is
				// validated on its own.
				for _, part := range strings.Split(cmd.line, " | ") {
					if !vigil[strings.Fields(part)[0]] {
						continue // a third-party command (the demo's home-grown check) is not ours to validate
					}
					resp := h.Exec(part+" --validate-only", "", cmd.env...)
					require.Equal(t, 0, resp.Status, "%s: %s", part, resp.Output)
					require.Empty(t, strings.TrimSpace(resp.Output))
				}
			}
		})
	}
}

// Built-in resources a pipeline may name without defining them.
var (
	builtinFilters  = []string{"is_incident", "not_silenced", "has_metrics"}
	builtinMutators = []string{"json", "only_check_output"}
)

// checkPipelineReferences fails for every handler, mutator or filter a
// pipeline names that is neither defined in the same file nor built in:
// sensuctl create -f of that one file would leave the pipeline dangling.
func checkPipelineReferences(t *testing.T, file string, r *sensuexec.Resources) {
	t.Helper()
	for _, pl := range r.Pipelines {
		for _, wf := range pl.Workflows {
			where := file + ": pipeline " + pl.Name + ", workflow " + wf.Name
			if wf.Handler == nil {
				t.Errorf("%s names no handler", where)
			} else if r.Handler(wf.Handler.Name) == nil {
				t.Errorf("%s names handler %q, which is not defined in the same file", where, wf.Handler.Name)
			}
			if wf.Mutator != nil && r.Mutator(wf.Mutator.Name) == nil && !slices.Contains(builtinMutators, wf.Mutator.Name) {
				t.Errorf("%s names mutator %q, which is neither defined in the same file nor built in (%s)", where, wf.Mutator.Name, strings.Join(builtinMutators, ", "))
			}
			for _, fl := range wf.Filters {
				if r.Filter(fl.Name) == nil && !slices.Contains(builtinFilters, fl.Name) {
					t.Errorf("%s names filter %q, which is neither defined in the same file nor built in (%s)", where, fl.Name, strings.Join(builtinFilters, ", "))
				}
			}
		}
	}
}

// suiteFile is the one file with the whole suite: everything it names,
// it defines.
const suiteFile = "vigil.yaml"

// TestSensuExamplesAreComplete holds the definitions users copy from
// examples/sensu (not the demo's) to what a production check needs: the
// asset, subscriptions, an interval and a TTL, a home for its metrics,
// and secrets that exist.
func TestSensuExamplesAreComplete(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("sensu", "*.yaml"))
	require.NoError(t, err)
	require.Contains(t, files, filepath.Join("sensu", suiteFile))
	// What the directory defines as a whole: a check of one file may name
	// a handler or pipeline of another (check-pii.yaml, handler-tsdb.yaml).
	all := &sensuexec.Resources{}
	loaded := map[string]*sensuexec.Resources{}
	for _, f := range files {
		r, err := sensuexec.LoadResources(f)
		require.NoError(t, err)
		loaded[f] = r
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NoError(t, all.Add(b))
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			r := loaded[f]
			suite := filepath.Base(f) == suiteFile
			for _, c := range r.Checks {
				checkCheck(t, f, c, r, all, suite)
			}
			comments := commentText(t, f)
			secretRef := func(kind, name string, secrets []*corev2.Secret) {
				for _, s := range secrets {
					if r.Secret(s.Secret) != nil {
						continue
					}
					if suite {
						t.Errorf("%s: %s %s names secret %q (env %s): %s defines every secret it names, and it does not define this one", f, kind, name, s.Secret, s.Name, suiteFile)
						continue
					}
					if !mentions(comments, s.Secret) {
						t.Errorf("%s: %s %s names secret %q (env %s), which is neither defined in the file (a secrets/v1 Secret) nor documented in its comments", f, kind, name, s.Secret, s.Name)
					}
				}
			}
			for _, c := range r.Checks {
				secretRef("check", c.Name, c.Secrets)
			}
			for _, m := range r.Mutators {
				secretRef("mutator", m.Name, m.Secrets)
			}
			for _, h := range r.Handlers {
				secretRef("handler", h.Name, h.Secrets)
			}
			if suite {
				checkSuite(t, f, r)
			}
		})
	}
}

// checkCheck holds one CheckConfig of examples/sensu to what production
// needs.
func checkCheck(t *testing.T, file string, c *corev2.CheckConfig, r, all *sensuexec.Resources, suite bool) {
	t.Helper()
	where := file + ": check " + c.Name
	if !slices.Contains(c.RuntimeAssets, "vigil") {
		t.Errorf("%s: runtime_assets %v does not include the vigil asset: the agent would not find the binary", where, c.RuntimeAssets)
	}
	if len(c.Subscriptions) == 0 {
		t.Errorf("%s: no subscriptions: no agent would run it", where)
	}
	switch {
	case c.Cron != "":
		// A cron check has no interval; its TTL still tells a check that
		// stopped reporting.
		if c.Ttl <= 0 {
			t.Errorf("%s: cron %q without a ttl: a check that stops reporting would go unnoticed", where, c.Cron)
		}
	case c.Interval == 0:
		t.Errorf("%s: interval is 0", where)
	case c.Ttl < int64(c.Interval)+5:
		t.Errorf("%s: ttl %d must exceed interval %d by at least 5 s, or a check that stops reporting goes unnoticed", where, c.Ttl, c.Interval)
	}
	if c.OutputMetricFormat != "" && len(c.OutputMetricHandlers) == 0 && !pipelineHandlesMetrics(c, all) {
		t.Errorf("%s: output_metric_format %s, but no output_metric_handlers and no pipeline of its sends metrics to handler-tsdb: the metric points would be dropped", where, c.OutputMetricFormat)
	}
	// What the check names exists in examples/sensu, and in the suite
	// file itself.
	defs := all
	scope := "examples/sensu"
	if suite {
		defs, scope = r, suiteFile
	}
	for _, h := range c.OutputMetricHandlers {
		if defs.Handler(h) == nil {
			t.Errorf("%s: output_metric_handlers names %q, which %s does not define", where, h, scope)
		}
	}
	for _, h := range c.Handlers {
		if defs.Handler(h) == nil {
			t.Errorf("%s: handlers names %q, which %s does not define", where, h, scope)
		}
	}
	for _, p := range c.Pipelines {
		if defs.Pipeline(p.Name) == nil {
			t.Errorf("%s: pipelines names %q, which %s does not define", where, p.Name, scope)
		}
	}
	if suite {
		for _, a := range c.RuntimeAssets {
			if r.Asset(a) == nil {
				t.Errorf("%s: runtime_assets names %q, which %s does not define", where, a, suiteFile)
			}
		}
	}
}

// pipelineHandlesMetrics reports whether a pipeline the check names sends
// events to handler-tsdb.
func pipelineHandlesMetrics(c *corev2.CheckConfig, all *sensuexec.Resources) bool {
	for _, ref := range c.Pipelines {
		p := all.Pipeline(ref.Name)
		if p == nil {
			continue
		}
		for _, wf := range p.Workflows {
			if wf.Handler == nil {
				continue
			}
			if h := all.Handler(wf.Handler.Name); h != nil && commandName(h.Command) == "handler-tsdb" {
				return true
			}
		}
	}
	return false
}

var sha512Hex = regexp.MustCompile(`^[0-9a-f]{128}$`)

// checkSuite checks what only the suite file promises: every secret it
// defines is used and comes from the env provider, the asset has a build
// per Linux platform with a well-formed checksum, and every handler and
// mutator runs from the asset.
func checkSuite(t *testing.T, file string, r *sensuexec.Resources) {
	t.Helper()
	used := map[string]bool{}
	for _, c := range r.Checks {
		for _, s := range c.Secrets {
			used[s.Secret] = true
		}
	}
	for _, m := range r.Mutators {
		for _, s := range m.Secrets {
			used[s.Secret] = true
		}
		if !slices.Contains(m.RuntimeAssets, "vigil") {
			t.Errorf("%s: mutator %s: runtime_assets %v does not include vigil", file, m.Name, m.RuntimeAssets)
		}
	}
	for _, h := range r.Handlers {
		for _, s := range h.Secrets {
			used[s.Secret] = true
		}
		if !slices.Contains(h.RuntimeAssets, "vigil") {
			t.Errorf("%s: handler %s: runtime_assets %v does not include vigil", file, h.Name, h.RuntimeAssets)
		}
	}
	for _, s := range r.Secrets {
		if !used[s.Name] {
			t.Errorf("%s: secret %s is defined but nothing names it", file, s.Name)
		}
		if s.Provider != "env" {
			t.Errorf("%s: secret %s: provider %s, not env", file, s.Name, s.Provider)
		}
	}
	a := r.Asset("vigil")
	if a == nil {
		t.Errorf("%s: no vigil asset", file)
		return
	}
	want := map[string][]string{
		"amd64": {"entity.system.os == 'linux'", "entity.system.arch == 'amd64'"},
		"arm64": {"entity.system.os == 'linux'", "entity.system.arch == 'arm64'"},
		"armv7": {"entity.system.os == 'linux'", "entity.system.arch == 'arm'", "entity.system.arm_version == 7"},
	}
	seen := map[string]bool{}
	for _, b := range a.Builds {
		if !sha512Hex.MatchString(b.Sha512) {
			t.Errorf("%s: asset build %s: sha512 is not 128 lowercase hex characters", file, b.URL)
		}
		for arch, filters := range want {
			if strings.HasSuffix(b.URL, "_linux_"+arch+".tar.gz") {
				seen[arch] = true
				if !slices.Equal(b.Filters, filters) {
					t.Errorf("%s: asset build %s: filters %q, want %q (what the agent reports)", file, b.URL, b.Filters, filters)
				}
			}
		}
	}
	for arch := range want {
		if !seen[arch] {
			t.Errorf("%s: asset vigil has no build for linux %s", file, arch)
		}
	}
}

// commentText is the text of a YAML file's comment lines.
func commentText(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var s strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "#") {
			s.WriteString(l[1:] + "\n")
		}
	}
	return s.String()
}

// mentions reports whether text names a resource as a whole word.
func mentions(text, name string) bool {
	return regexp.MustCompile(`(^|[^\w-])` + regexp.QuoteMeta(name) + `($|[^\w-])`).MatchString(text)
}

// commandName is a command's first word.
func commandName(command string) string {
	if f := strings.Fields(command); len(f) > 0 {
		return f[0]
	}
	return ""
}
