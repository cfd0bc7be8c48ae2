// Package release builds Vigil's Sensu assets and writes their
// definitions, from one list of targets, so that the tarballs, the
// checksums, the Sensu Asset resources and the .bonsai.yml files cannot
// disagree.
//
// Layout of an asset tarball (what sensu-agent expects: it puts bin/ on
// PATH): bin/NAME (bin/NAME.exe on Windows), LICENSE, README.md,
// CHANGELOG.md. Names follow the Bonsai convention
// NAME_VERSION_OS_ARCH.tar.gz, with ARMv7 as linux_armv7, and one
// NAME_VERSION_sha512-checksums.txt per asset. The suite asset "vigil"
// holds every binary.
//
// Tarballs are reproducible: entries sorted, owner 0, fixed modes, a
// fixed modification time (SOURCE_DATE_EPOCH, else 2000-01-01), gzip
// without name or time; the binaries are built with -trimpath,
// -buildvcs=false and CGO_ENABLED=0.
package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Target is one platform an asset is built for.
type Target struct {
	OS, Arch, ARM string
}

// Targets are the platforms assets are built for, in .bonsai.yml order.
var Targets = []Target{
	{OS: "linux", Arch: "amd64"},
	{OS: "linux", Arch: "arm64"},
	{OS: "linux", Arch: "arm", ARM: "7"},
	{OS: "darwin", Arch: "amd64"},
	{OS: "darwin", Arch: "arm64"},
	{OS: "windows", Arch: "amd64"},
}

// Suffix is the OS_ARCH part of a file name (linux_armv7 for ARMv7).
func (t Target) Suffix() string {
	if t.ARM != "" {
		return t.OS + "_" + t.Arch + "v" + t.ARM
	}
	return t.OS + "_" + t.Arch
}

// Filters are the Sensu entity filters that select the target. The agent
// reports runtime.GOARCH ("arm") and the ARM version separately, so ARMv7
// is arch == 'arm' && arm_version == 7, not arch == 'armv7' (a filter
// that never matches).
func (t Target) Filters() []string {
	f := []string{"entity.system.os == '" + t.OS + "'", "entity.system.arch == '" + t.Arch + "'"}
	if t.ARM != "" {
		f = append(f, "entity.system.arm_version == "+t.ARM)
	}
	return f
}

func (t Target) exe(name string) string {
	if t.OS == "windows" {
		return name + ".exe"
	}
	return name
}

// PluginDirs hold one binary per subfolder.
var PluginDirs = []string{"checks", "mutators", "handlers", "cmd"}

// Plugin is one binary of the module.
type Plugin struct {
	// Name is the binary name (the folder name).
	Name string
	// Dir is the folder, relative to the module root ("handlers/handler-archive").
	Dir string
}

// Plugins lists the binaries under root, sorted by name.
func Plugins(root string) ([]Plugin, error) {
	var out []Plugin
	for _, d := range PluginDirs {
		matches, err := filepath.Glob(filepath.Join(root, d, "*", "main.go"))
		if err != nil {
			return nil, err
		}
		for _, m := range matches {
			dir := filepath.Dir(m)
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				return nil, err
			}
			out = append(out, Plugin{Name: filepath.Base(dir), Dir: filepath.ToSlash(rel)})
		}
	}
	slices.SortFunc(out, func(a, b Plugin) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Supported says, per plugin name, whether the plugin's package and its
// dependencies have Go files for the target, with one go list (no
// compilation; Incomplete covers the dependencies). A plugin that only
// builds on Linux says so with build constraints.
func Supported(ctx context.Context, root string, plugins []Plugin, t Target) (map[string]bool, error) {
	args := []string{"list", "-e", "-f", "{{.ImportPath}} {{.Incomplete}}"}
	for _, p := range plugins {
		args = append(args, "./"+p.Dir)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = t.env()
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list for %s: %w", t.Suffix(), err)
	}
	ok := map[string]bool{}
	for line := range strings.Lines(string(out)) {
		pkg, incomplete, _ := strings.Cut(strings.TrimSpace(line), " ")
		ok[path.Base(pkg)] = incomplete == "false"
	}
	return ok, nil
}

func (t Target) env() []string {
	env := append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.OS, "GOARCH="+t.Arch, "GOFLAGS=-buildvcs=false")
	if t.ARM != "" {
		env = append(env, "GOARM="+t.ARM)
	}
	return env
}

// Build describes one release build.
type Build struct {
	// Root is the module root.
	Root string
	// Out is the directory for tarballs, checksums and asset definitions.
	Out string
	// Version, Commit and Date are stamped into the binaries.
	Version, Commit, Date string
	// URLBase is where the tarballs will be served from, for the Sensu
	// Asset definitions.
	URLBase string
	// Targets default to Targets.
	Targets []Target
	// ModTime is the tarball entries' time.
	ModTime time.Time
}

// LDFlags are the linker flags that stamp the version.
func LDFlags(version, commit, date string) string {
	const pkg = "github.com/vigil-sec/vigil/pkg/version"
	return fmt.Sprintf("-s -w -X %s.Version=%s -X %s.Commit=%s -X %s.Date=%s", pkg, version, pkg, commit, pkg, date)
}

// Asset is one built tarball.
type Asset struct {
	Target Target
	File   string
	SHA512 string
}

// Run builds every plugin for every supported target, packs the
// per-plugin and suite tarballs, and writes checksums and Sensu Asset
// definitions. It returns the assets by name ("vigil" for the suite).
func (b Build) Run(ctx context.Context) (map[string][]Asset, error) {
	if b.Version == "" {
		return nil, errors.New("release needs a version")
	}
	targets := b.Targets
	if targets == nil {
		targets = Targets
	}
	if b.ModTime.IsZero() {
		b.ModTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	plugins, err := Plugins(b.Root)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.Out, 0o755); err != nil { //nolint:gosec // release output is public
		return nil, err
	}
	license, err := os.ReadFile(filepath.Join(b.Root, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("read LICENSE: %w", err)
	}
	changelog, err := os.ReadFile(filepath.Join(b.Root, "CHANGELOG.md"))
	if err != nil {
		return nil, fmt.Errorf("read CHANGELOG.md: %w", err)
	}
	suiteReadme, err := os.ReadFile(filepath.Join(b.Root, "README.md"))
	if err != nil {
		return nil, fmt.Errorf("read README.md: %w", err)
	}
	assets := map[string][]Asset{}
	binDir, err := os.MkdirTemp("", "vigil-release-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(binDir) }()
	for _, t := range targets {
		var suite []entry
		supported, err := Supported(ctx, b.Root, plugins, t)
		if err != nil {
			return nil, err
		}
		for _, p := range plugins {
			if !supported[p.Name] {
				continue
			}
			bin := filepath.Join(binDir, t.Suffix(), t.exe(p.Name))
			if err := b.compile(ctx, p, t, bin); err != nil {
				return nil, err
			}
			exe, err := os.ReadFile(bin) //nolint:gosec // our build output
			if err != nil {
				return nil, err
			}
			readme, err := os.ReadFile(filepath.Join(b.Root, p.Dir, "README.md"))
			if err != nil {
				return nil, fmt.Errorf("read %s/README.md: %w", p.Dir, err)
			}
			binEntry := entry{name: "bin/" + t.exe(p.Name), data: exe, mode: 0o755}
			suite = append(suite, binEntry)
			a, err := b.pack(p.Name, t, []entry{binEntry, {name: "LICENSE", data: license, mode: 0o644},
				{name: "README.md", data: readme, mode: 0o644}, {name: "CHANGELOG.md", data: changelog, mode: 0o644}})
			if err != nil {
				return nil, err
			}
			assets[p.Name] = append(assets[p.Name], a)
		}
		if len(suite) == 0 {
			continue
		}
		suite = append(suite, entry{name: "LICENSE", data: license, mode: 0o644}, entry{name: "README.md", data: suiteReadme, mode: 0o644},
			entry{name: "CHANGELOG.md", data: changelog, mode: 0o644})
		a, err := b.pack(SuiteName, t, suite)
		if err != nil {
			return nil, err
		}
		assets[SuiteName] = append(assets[SuiteName], a)
	}
	for name, as := range assets {
		if err := b.writeChecksums(name, as); err != nil {
			return nil, err
		}
		def := AssetDefinition(name, b.Version, b.URLBase, as)
		if err := os.WriteFile(filepath.Join(b.Out, name+"_"+b.Version+"_asset.yml"), []byte(def), 0o644); err != nil { //nolint:gosec // public
			return nil, err
		}
	}
	return assets, nil
}

// SuiteName is the asset holding every binary.
const SuiteName = "vigil"

func (b Build) compile(ctx context.Context, p Plugin, t Target, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", LDFlags(b.Version, b.Commit, b.Date), "-o", out, "./"+p.Dir) //nolint:gosec // the module's own package
	cmd.Dir = b.Root
	cmd.Env = t.env()
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s: %w\n%s", p.Name, t.Suffix(), err, msg)
	}
	return nil
}

type entry struct {
	name string
	data []byte
	mode int64
}

// FileName is the tarball name of an asset for a target.
func FileName(name, version string, t Target) string {
	return name + "_" + version + "_" + t.Suffix() + ".tar.gz"
}

// ChecksumsName is the checksums file of an asset.
func ChecksumsName(name, version string) string {
	return name + "_" + version + "_sha512-checksums.txt"
}

func (b Build) pack(name string, t Target, entries []entry) (Asset, error) {
	slices.SortFunc(entries, func(x, y entry) int { return strings.Compare(x.name, y.name) })
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if err != nil {
		return Asset{}, err
	}
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, e := range entries {
		if d := filepath.Dir(e.name); d != "." && !dirs[d] {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d + "/", Mode: 0o755, Typeflag: tar.TypeDir, ModTime: b.ModTime, Format: tar.FormatPAX}); err != nil {
				return Asset{}, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.data)), Typeflag: tar.TypeReg, ModTime: b.ModTime, Format: tar.FormatPAX}); err != nil {
			return Asset{}, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return Asset{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return Asset{}, err
	}
	if err := gz.Close(); err != nil {
		return Asset{}, err
	}
	file := FileName(name, b.Version, t)
	if err := os.WriteFile(filepath.Join(b.Out, file), buf.Bytes(), 0o644); err != nil { //nolint:gosec // public
		return Asset{}, err
	}
	sum := sha512.Sum512(buf.Bytes())
	return Asset{Target: t, File: file, SHA512: hex.EncodeToString(sum[:])}, nil
}

func (b Build) writeChecksums(name string, as []Asset) error {
	var s strings.Builder
	for _, a := range as {
		s.WriteString(a.SHA512 + "  " + a.File + "\n")
	}
	return os.WriteFile(filepath.Join(b.Out, ChecksumsName(name, b.Version)), []byte(s.String()), 0o644) //nolint:gosec // public
}

// AssetDefinition renders a Sensu Asset resource (core/v2, YAML) for the
// built tarballs.
func AssetDefinition(name, version, urlBase string, as []Asset) string {
	var s strings.Builder
	fmt.Fprintf(&s, "---\ntype: Asset\napi_version: core/v2\nmetadata:\n  name: %s\n  annotations:\n    io.sensu.bonsai.version: %q\nspec:\n  builds:\n", name, version)
	for _, a := range as {
		fmt.Fprintf(&s, "  - url: %s/%s\n    sha512: %s\n    filters:\n", strings.TrimSuffix(urlBase, "/"), a.File, a.SHA512)
		for _, f := range a.Target.Filters() {
			fmt.Fprintf(&s, "    - %q\n", f)
		}
	}
	return s.String()
}

// BonsaiYAML renders the .bonsai.yml for an asset built for targets.
// Bonsai fills #{repo} and #{version} from the GitHub release.
func BonsaiYAML(description string, targets []Target) string {
	var s strings.Builder
	s.WriteString("# Generated by `make docs` from internal/release: do not edit.\n---\n")
	fmt.Fprintf(&s, "description: %q\nbuilds:\n", description)
	for _, t := range targets {
		fmt.Fprintf(&s, "  - platform: %q\n    arch: %q\n", t.OS, t.Arch+map[bool]string{true: "v" + t.ARM, false: ""}[t.ARM != ""])
		fmt.Fprintf(&s, "    asset_filename: \"#{repo}_#{version}_%s.tar.gz\"\n", t.Suffix())
		s.WriteString("    sha_filename: \"#{repo}_#{version}_sha512-checksums.txt\"\n    filter:\n")
		for _, f := range t.Filters() {
			fmt.Fprintf(&s, "      - %q\n", f)
		}
	}
	return s.String()
}

// ReadAll reads a tarball's files into a map, for tests and checks.
func ReadAll(r io.Reader) (map[string][]byte, map[string]int64, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, nil, err
	}
	tr := tar.NewReader(gz)
	files, modes := map[string][]byte{}, map[string]int64{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, modes, nil
		}
		if err != nil {
			return nil, nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, nil, err
		}
		files[h.Name], modes[h.Name] = b, h.Mode
	}
}
