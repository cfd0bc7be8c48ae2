// Package examples tests the Sensu resource definitions users copy:
// each file loads as sensuctl create would load it, and every command in
// it parses and validates with the real binary.
package examples

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

func TestSensuExamplesAreValidAndTheirCommandsParse(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("sensu", "*.yaml"))
	require.NoError(t, err)
	demo, err := filepath.Glob(filepath.Join("demo", "resources", "*.yaml"))
	require.NoError(t, err)
	files = append(files, demo...)
	require.NotEmpty(t, files)
	h := testutil.New(t)
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			t.Parallel()
			r, err := sensuexec.LoadResources(f)
			require.NoError(t, err)
			var commands []string
			for _, c := range r.Checks {
				commands = append(commands, c.Command)
			}
			for _, m := range r.Mutators {
				commands = append(commands, m.Command)
			}
			for _, hd := range r.Handlers {
				commands = append(commands, hd.Command)
			}
			require.NotEmpty(t, commands, "an example defines at least one command")
			for _, pl := range r.Pipelines {
				for _, wf := range pl.Workflows {
					require.NotNil(t, r.Handler(wf.Handler.Name), "pipeline %s names handler %s, defined in the same file", pl.Name, wf.Handler.Name)
				}
			}
			for _, cmd := range commands {
				// Sensu token substitution ({{ .name }}) happens on the agent.
				require.NotContains(t, cmd, "{{", "token substitution is not resolved here")
				resp := h.Exec(cmd+" --validate-only", "")
				require.Equal(t, 0, resp.Status, "%s: %s", cmd, resp.Output)
				require.Empty(t, strings.TrimSpace(resp.Output))
			}
		})
	}
}
