// Package examples tests the Sensu resource definitions users copy:
// each file loads as sensuctl create would load it, and every command in
// it parses and validates with the real binary.
package examples

import (
	"path/filepath"
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
			for _, pl := range r.Pipelines {
				for _, wf := range pl.Workflows {
					require.NotNil(t, r.Handler(wf.Handler.Name), "pipeline %s names handler %s, defined in the same file", pl.Name, wf.Handler.Name)
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
