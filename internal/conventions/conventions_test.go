// Package conventions holds the tests that keep every binary of the
// module in the same shape: the conventions of CONTRIBUTING.md, checked
// on the real binaries.
package conventions

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/internal/release"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

func plugins(t *testing.T) (string, []release.Plugin) {
	t.Helper()
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	ps, err := release.Plugins(root)
	require.NoError(t, err)
	require.NotEmpty(t, ps)
	return root, ps
}

// kindOf is the plugin kind from its folder.
func kindOf(p release.Plugin) string { return strings.SplitN(p.Dir, "/", 2)[0] }

func TestEveryBinaryHasItsFiles(t *testing.T) {
	t.Parallel()
	root, ps := plugins(t)
	changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	require.NoError(t, err)
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			readme, err := os.ReadFile(filepath.Join(root, p.Dir, "README.md"))
			require.NoError(t, err, "README.md")
			require.Contains(t, string(readme), "<!-- BEGIN OPTIONS -->")
			if !strings.Contains(string(changelog), p.Name+":") {
				t.Fatalf("CHANGELOG.md has no entry scoped %q", p.Name+":")
			}
			if kindOf(p) != "cmd" {
				_, err := os.Stat(filepath.Join(root, "examples", "sensu", p.Name+".yaml"))
				require.NoError(t, err, "examples/sensu/%s.yaml", p.Name)
				require.Contains(t, string(readme), "<!-- BEGIN EXAMPLE examples/sensu/"+p.Name+".yaml -->")
			}
			tests, _ := filepath.Glob(filepath.Join(root, p.Dir, "*_test.go"))
			require.NotEmpty(t, tests, "tests next to the binary")
		})
	}
}

func TestEveryBinaryFailsClosedOnAMisspeltFlag(t *testing.T) {
	t.Parallel()
	_, ps := plugins(t)
	h := testutil.New(t)
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			resp := h.Exec(p.Name+" --no-such-flag", "")
			want := 1
			if kindOf(p) == "checks" {
				want = 3
			}
			require.Equal(t, want, resp.Status, resp.Output)
			require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
			require.Contains(t, resp.Output, "unknown flag --no-such-flag")
		})
	}
}

func TestEveryBinaryPrintsItsVersion(t *testing.T) {
	t.Parallel()
	_, ps := plugins(t)
	h := testutil.New(t)
	for _, p := range ps {
		resp := h.Exec(p.Name+" version", "")
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Regexp(t, "^"+regexp.QuoteMeta(p.Name)+` \S+ \(commit \S+, built \S+\)\n$`, resp.Output)
	}
}

// Option names that say what an option controls must be declared with
// the matching kind, so that the runtime's override rules protect them.
// The first pattern that matches decides (--api-key is a credential, not
// an endpoint).
var kindByName = []struct {
	re   *regexp.Regexp
	kind string
}{
	{regexp.MustCompile(`(^|-)(password|passwd|token|secret|api-key|routing-key|credential|cert|key-file)($|-)`), "credential"},
	{regexp.MustCompile(`(^|-)(url|endpoint|address|addr|host|server|api)($|-)`), "endpoint"},
	{regexp.MustCompile(`(^|-)(index|data-stream|database|db|bucket|table|spool|archive)($|-)`), "target"},
	{regexp.MustCompile(`(^|-)(command|exec|action|run)($|-)`), "command"},
}

func TestOptionKindsMatchTheirNames(t *testing.T) {
	t.Parallel()
	_, ps := plugins(t)
	h := testutil.New(t)
	for _, p := range ps {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			resp := h.Exec(p.Name+" options --format json", "")
			require.Equal(t, 0, resp.Status, resp.Output)
			var docs []plugin.OptionDoc
			require.NoError(t, json.Unmarshal([]byte(resp.Output), &docs))
			for _, d := range docs {
				if d.Kind != "general" {
					require.NotEqual(t, "check, entity", d.Scope, "--%s is %s and must not take entity annotations", d.Flag, d.Kind)
				}
				if d.Secret {
					require.Equal(t, "credential", d.Kind, "--%s is secret", d.Flag)
				}
				name := strings.TrimSuffix(d.Flag, "-file")
				limit := strings.HasPrefix(name, "max-") || strings.HasSuffix(name, "-max") || strings.Contains(name, "-max-")
				for _, k := range kindByName {
					if k.re.MatchString(name) && !limit {
						require.Equal(t, k.kind, d.Kind, "--%s looks like a %s option", d.Flag, k.kind)
						break
					}
				}
				require.NotEmpty(t, d.Usage, "--%s has no usage text", d.Flag)
			}
		})
	}
}
