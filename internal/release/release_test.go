package release_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/internal/release"
	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// TestAssetTarballRunsItsBinary runs the real release tool (make assets)
// for this machine's platform, as a separate process: compressing tens of
// megabytes inside a race-instrumented test would take minutes.
func TestAssetTarballRunsItsBinary(t *testing.T) {
	t.Parallel()
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	tool := filepath.Join(testutil.BuildPackages(t, "./tools/release"), "release")
	host := release.Target{OS: runtime.GOOS, Arch: runtime.GOARCH}
	build := func(out string) {
		cmd := exec.Command(tool, "--host-only", "--version", "9.8.7", "--commit", "c0ffee1", "--date", "2026-11-23T00:00:00Z",
			"--url-base", "https://assets.example/vigil/9.8.7", "--out", out)
		cmd.Dir = root
		msg, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", msg)
	}
	out := t.TempDir()
	build(out)
	plugins, err := release.Plugins(root)
	require.NoError(t, err)
	sums := map[string]string{}
	for _, name := range append([]string{release.SuiteName}, pluginNames(plugins)...) {
		file := release.FileName(name, "9.8.7", host)
		tarball := mustRead(t, filepath.Join(out, file))
		sum := sha512.Sum512(tarball)
		sums[name] = hex.EncodeToString(sum[:])
		require.Equal(t, sums[name]+"  "+file+"\n", string(mustRead(t, filepath.Join(out, release.ChecksumsName(name, "9.8.7")))))
	}

	tarball := mustRead(t, filepath.Join(out, release.FileName("handler-archive", "9.8.7", host)))
	files, modes, err := release.ReadAll(bytes.NewReader(tarball))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"bin/handler-archive", "LICENSE", "README.md", "CHANGELOG.md"}, keys(files))
	require.Equal(t, int64(0o755), modes["bin/handler-archive"])

	// Unpack as the agent does and run the binary from bin/.
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "bin"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", "handler-archive"), files["bin/handler-archive"], 0o755))
	got, err := exec.Command(filepath.Join(dir, "bin", "handler-archive"), "version").Output()
	require.NoError(t, err)
	require.Equal(t, "handler-archive 9.8.7 (commit c0ffee1, built 2026-11-23T00:00:00Z)\n", string(got))

	suite, _, err := release.ReadAll(bytes.NewReader(mustRead(t, filepath.Join(out, release.FileName(release.SuiteName, "9.8.7", host)))))
	require.NoError(t, err)
	for _, p := range plugins {
		require.Contains(t, suite, "bin/"+p.Name, "the suite holds every binary")
	}

	// The Asset definition is a valid Sensu resource with the checksum.
	r, err := sensuexec.LoadResources(filepath.Join(out, "handler-archive_9.8.7_asset.yml"))
	require.NoError(t, err)
	require.Len(t, r.Assets, 1)
	require.Equal(t, sums["handler-archive"], r.Assets[0].Builds[0].Sha512)
	require.Equal(t, "https://assets.example/vigil/9.8.7/"+release.FileName("handler-archive", "9.8.7", host), r.Assets[0].Builds[0].URL)

	// The suite installed as the agent installs an asset: the download's
	// sha512 checked against the Asset definition, the tarball unpacked
	// with its modes, bin/ put on PATH; then every binary answers version
	// and a real check runs from there.
	suiteAsset, err := sensuexec.LoadResources(filepath.Join(out, release.SuiteName+"_9.8.7_asset.yml"))
	require.NoError(t, err)
	require.Len(t, suiteAsset.Assets, 1)
	download := mustRead(t, filepath.Join(out, release.FileName(release.SuiteName, "9.8.7", host)))
	got512 := sha512.Sum512(download)
	require.Equal(t, suiteAsset.Assets[0].Builds[0].Sha512, hex.EncodeToString(got512[:]), "the agent refuses an asset whose sha512 differs")
	suiteFiles, suiteModes, err := release.ReadAll(bytes.NewReader(download))
	require.NoError(t, err)
	cache := t.TempDir()
	for name, body := range suiteFiles {
		path := filepath.Join(cache, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, body, os.FileMode(suiteModes[name])))
	}
	agent := &sensuexec.Agent{AssetBins: []string{filepath.Join(cache, "bin")}, Env: []string{"PATH=/usr/bin:/bin"}}
	for _, p := range plugins {
		resp, err := sensuexec.Execute(context.Background(), sensuexec.Request{Command: p.Name + " version",
			Env: sensuexec.Environment([]string{"PATH=/usr/bin:/bin"}, agent.AssetBins, nil), Timeout: 30})
		require.NoError(t, err)
		require.Equal(t, p.Name+" 9.8.7 (commit c0ffee1, built 2026-11-23T00:00:00Z)\n", resp.Output, "from the installed asset's bin/")
	}
	tree := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(tree, "etc"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(tree, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644))
	baseline := filepath.Join(t.TempDir(), "fim.vfim")
	for _, args := range []string{"--init ", ""} {
		ev, resp, err := agent.RunCheck(context.Background(), &corev2.CheckConfig{
			ObjectMeta: corev2.ObjectMeta{Name: "file-integrity", Namespace: "default"}, Interval: 60,
			Command: "check-file-integrity " + args + "--root " + tree + " --path /etc --baseline " + baseline, RuntimeAssets: []string{release.SuiteName},
		})
		require.NoError(t, err)
		require.Equal(t, uint32(0), ev.Check.Status, resp.Output)
		require.NoError(t, ev.Validate())
	}

	// Tarballs are reproducible.
	again := t.TempDir()
	build(again)
	second := sha512.Sum512(mustRead(t, filepath.Join(again, release.FileName("handler-archive", "9.8.7", host))))
	require.Equal(t, sums["handler-archive"], hex.EncodeToString(second[:]))
}

func pluginNames(ps []release.Plugin) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestBonsaiFiltersMatchWhatTheAgentReports(t *testing.T) {
	t.Parallel()
	y := release.BonsaiYAML("d", release.Targets)
	require.Contains(t, y, `asset_filename: "#{repo}_#{version}_linux_armv7.tar.gz"`)
	require.Contains(t, y, `- "entity.system.arch == 'arm'"`)
	require.Contains(t, y, `- "entity.system.arm_version == 7"`)
	require.NotContains(t, y, "arch == 'armv7'", "the agent reports GOARCH, never armv7")
	require.Equal(t, len(release.Targets), strings.Count(y, "- platform:"))
	require.Equal(t, []string{"entity.system.os == 'linux'", "entity.system.arch == 'arm'", "entity.system.arm_version == 7"}, release.Target{OS: "linux", Arch: "arm", ARM: "7"}.Filters())
}
