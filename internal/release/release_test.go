package release

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

func TestAssetTarballRunsItsBinary(t *testing.T) {
	t.Parallel()
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	host := Target{OS: runtime.GOOS, Arch: runtime.GOARCH}
	build := func(out string) map[string][]Asset {
		assets, err := Build{Root: root, Out: out, Version: "9.8.7", Commit: "c0ffee1", Date: "2026-11-23T00:00:00Z",
			URLBase: "https://assets.example/vigil/9.8.7", Targets: []Target{host}}.Run(t.Context())
		require.NoError(t, err)
		return assets
	}
	out := t.TempDir()
	assets := build(out)
	plugins, err := Plugins(root)
	require.NoError(t, err)
	require.Len(t, assets, len(plugins)+1, "one asset per binary and the suite")

	for _, name := range []string{"handler-archive", SuiteName} {
		a := assets[name]
		require.Len(t, a, 1)
		require.Equal(t, name+"_9.8.7_"+host.Suffix()+".tar.gz", a[0].File)
		tarball, err := os.ReadFile(filepath.Join(out, a[0].File))
		require.NoError(t, err)

		sums, err := os.ReadFile(filepath.Join(out, ChecksumsName(name, "9.8.7")))
		require.NoError(t, err)
		sum := sha512.Sum512(tarball)
		require.Equal(t, hex.EncodeToString(sum[:])+"  "+a[0].File+"\n", string(sums))

		files, modes, err := ReadAll(bytes.NewReader(tarball))
		require.NoError(t, err)
		for _, f := range []string{"bin/handler-archive", "LICENSE", "README.md", "CHANGELOG.md"} {
			require.Contains(t, files, f)
		}
		require.Equal(t, int64(0o755), modes["bin/handler-archive"])

		// Unpack as the agent does and run the binary from bin/.
		dir := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "handler-archive"), files["bin/handler-archive"], 0o755)) //nolint:gosec // an executable
		got, err := exec.Command(filepath.Join(dir, "bin", "handler-archive"), "version").Output()
		require.NoError(t, err)
		require.Equal(t, "handler-archive 9.8.7 (commit c0ffee1, built 2026-11-23T00:00:00Z)\n", string(got))
	}
	suite, _, err := ReadAll(bytes.NewReader(mustRead(t, filepath.Join(out, assets[SuiteName][0].File))))
	require.NoError(t, err)
	for _, p := range plugins {
		require.Contains(t, suite, "bin/"+p.Name, "the suite holds every binary")
	}

	// The Asset definition is a valid Sensu resource with the checksum.
	r, err := sensuexec.LoadResources(filepath.Join(out, "handler-archive_9.8.7_asset.yml"))
	require.NoError(t, err)
	require.Len(t, r.Assets, 1)
	require.Equal(t, assets["handler-archive"][0].SHA512, r.Assets[0].Builds[0].Sha512)
	require.Equal(t, "https://assets.example/vigil/9.8.7/"+assets["handler-archive"][0].File, r.Assets[0].Builds[0].URL)

	// Tarballs are reproducible.
	again := build(t.TempDir())
	require.Equal(t, assets["handler-archive"][0].SHA512, again["handler-archive"][0].SHA512)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // test output
	require.NoError(t, err)
	return b
}

func TestBonsaiFiltersMatchWhatTheAgentReports(t *testing.T) {
	t.Parallel()
	y := BonsaiYAML("d", Targets)
	require.Contains(t, y, `asset_filename: "#{repo}_#{version}_linux_armv7.tar.gz"`)
	require.Contains(t, y, `- "entity.system.arch == 'arm'"`)
	require.Contains(t, y, `- "entity.system.arm_version == 7"`)
	require.NotContains(t, y, "arch == 'armv7'", "the agent reports GOARCH, never armv7")
	require.Equal(t, len(Targets), strings.Count(y, "- platform:"))
	require.Equal(t, []string{"entity.system.os == 'linux'", "entity.system.arch == 'arm'", "entity.system.arm_version == 7"}, Target{OS: "linux", Arch: "arm", ARM: "7"}.Filters())
}
