//go:build linux

package fim

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// fixture is a small tree with a policy rooted at it.
type fixture struct {
	t      *testing.T
	dir    string
	policy *Policy
	key    []byte
	base   []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{t: t, dir: dir, key: []byte("test-key-0123456789")}
	for path, content := range map[string]string{
		"bin/ps":              "ps binary v1",
		"bin/ls":              "ls binary v1",
		"etc/passwd":          "root:x:0:0:root:/root:/bin/bash\n",
		"etc/ssh/sshd_config": "PermitRootLogin no\n",
		"var/log/syslog":      "boot\n",
		"data/a":              "aaaa",
		"data/b":              "bbbb",
		"data/cache/tmp":      "volatile",
	} {
		f.write(path, content)
	}
	require.NoError(t, os.Symlink("../bin/ps", f.path("bin/pslink")))
	require.NoError(t, os.Link(f.path("data/a"), f.path("data/a-hardlink")))
	p, err := ParsePolicy([]byte(`exclude: ['`+dir+`/data/cache/**']
groups:
  - name: bins
    severity: critical
    paths: ['`+dir+`/bin/**']
  - name: etc
    severity: high
    paths: ['`+dir+`/etc/**']
  - name: logs
    severity: low
    watch: type+mode+uid+gid+size+mtime+growing
    paths: ['`+dir+`/var/log/**']
  - name: rest
    severity: medium
    paths: ['/**']
`), "test")
	require.NoError(t, err)
	f.policy = p
	return f
}

func (f *fixture) path(rel string) string { return filepath.Join(f.dir, rel) }

func (f *fixture) write(rel, content string) {
	f.t.Helper()
	require.NoError(f.t, os.MkdirAll(filepath.Dir(f.path(rel)), 0o755))
	require.NoError(f.t, os.WriteFile(f.path(rel), []byte(content), 0o644))
}

func (f *fixture) opts(mode Mode) Options {
	return Options{Paths: []string{f.dir}, Policy: f.policy, Mode: mode, Algorithm: "sha256", Workers: 3, Key: f.key}
}

// init records the baseline in memory.
func (f *fixture) init() *Result {
	f.t.Helper()
	var buf bytes.Buffer
	o := f.opts(ModeFull)
	o.Record = &buf
	res, err := Scan(context.Background(), o)
	require.NoError(f.t, err)
	require.Empty(f.t, res.Findings, "a clean tree records without findings")
	f.base = buf.Bytes()
	return res
}

func (f *fixture) check(mode Mode) *Result {
	f.t.Helper()
	o := f.opts(mode)
	o.Baseline = bytes.NewReader(f.base)
	res, err := Scan(context.Background(), o)
	require.NoError(f.t, err)
	return res
}

func TestAnUnchangedTreeHasNoFindings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	rec := f.init()
	require.EqualValues(t, 16, rec.Recorded, "root, 6 dirs, 8 files, 1 symlink; the cache is excluded")
	full := f.check(ModeFull)
	require.Empty(t, full.Findings)
	require.EqualValues(t, 16, full.Entries)
	require.EqualValues(t, 7, full.FilesHashed, "every file but the log, whose content is not watched")
	fast := f.check(ModeFast)
	require.Empty(t, fast.Findings)
	require.Zero(t, fast.FilesHashed, "fast mode trusts unchanged fingerprints")
	require.EqualValues(t, 7, fast.Trusted)
}

func TestEveryMutationIsDetectedOnce(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, os.Geteuid(), "this test changes owners and creates devices: run it as root (make test does)")
	cases := []struct {
		name    string
		mutate  func(f *fixture)
		rule    string
		object  string
		changed []string
		sev     finding.Severity
	}{
		{"content changed, size and mtime restored", func(f *fixture) {
			p := f.path("bin/ps")
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, []byte("ps binary v2"), 0o644))
			require.NoError(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
		}, RuleModified, "bin/ps", []string{"content"}, finding.Critical},
		{"chmod", func(f *fixture) { require.NoError(t, os.Chmod(f.path("etc/passwd"), 0o666)) }, RuleModified, "etc/passwd", []string{"mode"}, finding.High},
		{"chown", func(f *fixture) { require.NoError(t, os.Lchown(f.path("etc/passwd"), 4242, 4343)) }, RuleModified, "etc/passwd", []string{"uid", "gid"}, finding.High},
		{"setuid added in a medium group is critical", func(f *fixture) { require.NoError(t, unix.Chmod(f.path("data/b"), 0o4755)) }, RuleModified, "data/b", []string{"mode"}, finding.Critical},
		{"new file", func(f *fixture) { f.write("etc/evil", "* * * * * root sh") }, RuleAdded, "etc/evil", nil, finding.High},
		{"new setuid file in a medium group is critical", func(f *fixture) {
			f.write("data/shell", "#!/bin/sh")
			require.NoError(t, unix.Chmod(f.path("data/shell"), 0o4755))
		}, RuleAdded, "data/shell", nil, finding.Critical},
		{"deleted file", func(f *fixture) { require.NoError(t, os.Remove(f.path("etc/passwd"))) }, RuleRemoved, "etc/passwd", nil, finding.High},
		{"symlink retargeted", func(f *fixture) {
			require.NoError(t, os.Remove(f.path("bin/pslink")))
			require.NoError(t, os.Symlink("../bin/ls", f.path("bin/pslink")))
		}, RuleModified, "bin/pslink", []string{"link_target"}, finding.Critical},
		{"file replaced by a directory", func(f *fixture) {
			require.NoError(t, os.Remove(f.path("bin/ls")))
			require.NoError(t, os.Mkdir(f.path("bin/ls"), 0o755))
		}, RuleModified, "bin/ls", []string{"type"}, finding.Critical},
		{"hard link swapped for a copy", func(f *fixture) {
			f.write("data/a.new", "aaaa")
			require.NoError(t, os.Rename(f.path("data/a.new"), f.path("data/a-hardlink")))
		}, RuleModified, "data/a-hardlink", []string{"mtime", "inode"}, finding.Medium},
		{"log grew: not a change", func(f *fixture) {
			fh, err := os.OpenFile(f.path("var/log/syslog"), os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			_, err = fh.WriteString("more\n")
			require.NoError(t, err)
			require.NoError(t, fh.Close())
		}, "", "", nil, 0},
		{"log truncated: a change", func(f *fixture) { require.NoError(t, os.Truncate(f.path("var/log/syslog"), 0)) }, "", "", nil, 0},
	}
	for _, c := range cases {
		for _, mode := range []Mode{ModeFull, ModeFast} {
			t.Run(c.name+map[Mode]string{ModeFull: " (full)", ModeFast: " (fast)"}[mode], func(t *testing.T) {
				t.Parallel()
				f := newFixture(t)
				f.init()
				// mtime granularity: make sure a rewrite gets a new ctime.
				time.Sleep(10 * time.Millisecond)
				c.mutate(f)
				res := f.check(mode)
				if c.name == "log grew: not a change" {
					require.Empty(t, res.Findings)
					return
				}
				if c.name == "log truncated: a change" {
					require.Len(t, res.Findings, 1)
					require.Equal(t, []string{"size"}, res.Findings[0].Changed)
					require.Equal(t, finding.Low, res.Findings[0].Severity)
					return
				}
				require.Len(t, res.Findings, 1, "exactly one finding: %+v", res.Findings)
				got := res.Findings[0]
				require.Equal(t, c.rule, got.Rule)
				require.Equal(t, f.path(c.object), got.Object)
				require.Equal(t, c.sev, got.Severity)
				// A recreated symlink or file may also show a new mtime and,
				// unless the inode number is reused, a new inode.
				for _, a := range c.changed {
					require.Contains(t, got.Changed, a)
				}
				for _, a := range got.Changed {
					require.True(t, slices.Contains(c.changed, a) || a == "mtime" || a == "inode", "unexpected %q in %v", a, got.Changed)
				}
				require.Equal(t, map[string]string{RuleAdded: KindAdded, RuleRemoved: KindRemoved, RuleModified: KindModified}[c.rule], got.Kind)
				require.Equal(t, 1, res.Changes())
			})
		}
	}
}

func TestSpecialFilesAndStrangeNames(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, os.Geteuid(), "creating a device node needs root")
	f := newFixture(t)
	require.NoError(t, unix.Mkfifo(f.path("data/fifo"), 0o600))
	l, err := net.Listen("unix", f.path("data/s"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	require.NoError(t, unix.Mknod(f.path("data/null"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	f.write("data/new\nline", "x")
	f.write("data/\xff\xfe", "y")
	// A symlink out of the tree is recorded, never followed.
	require.NoError(t, os.Symlink("/etc", f.path("data/outside")))
	// A sparse file of 64 MiB.
	sp, err := os.Create(f.path("data/sparse"))
	require.NoError(t, err)
	require.NoError(t, sp.Truncate(64<<20))
	require.NoError(t, sp.Close())

	rec := f.init()
	require.EqualValues(t, 16+7, rec.Recorded, "the fifo, socket, device, two odd names, the symlink and the sparse file; nothing of /etc")
	require.Empty(t, f.check(ModeFull).Findings, "a FIFO is never opened (it would block)")

	require.NoError(t, os.Remove(f.path("data/null")))
	require.NoError(t, unix.Mknod(f.path("data/null"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 5))))
	require.NoError(t, os.WriteFile(f.path("data/new\nline"), []byte("changed"), 0o644))
	require.NoError(t, os.WriteFile(f.path("data/\xff\xfe"), []byte("changed"), 0o644))
	res := f.check(ModeFull)
	objects := map[string][]string{}
	for _, fd := range res.Findings {
		objects[fd.Object] = fd.Changed
	}
	require.Equal(t, map[string][]string{
		f.path("data") + `/new\nline`: {"content", "size", "mtime"},
		f.path("data") + `/\xff\xfe`:  {"content", "size", "mtime"},
		f.path("data/null"):           {"type"},
	}, objects)
}

// TestPathsLongerThanPathMax builds a tree deeper than PATH_MAX (4096
// bytes) with *at system calls, since plain paths cannot reach it.
func TestPathsLongerThanPathMax(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	fd, err := unix.Open(f.path("data"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	require.NoError(t, err)
	name := strings.Repeat("d", 200)
	for range 25 {
		require.NoError(t, unix.Mkdirat(fd, name, 0o755))
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		require.NoError(t, err)
		require.NoError(t, unix.Close(fd))
		fd = next
	}
	write := func(content string) {
		file, err := unix.Openat(fd, "deep", unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, 0o644)
		require.NoError(t, err)
		_, err = unix.Write(file, []byte(content))
		require.NoError(t, err)
		require.NoError(t, unix.Close(file))
	}
	write("one")
	f.init()
	write("two")
	res := f.check(ModeFull)
	require.Len(t, res.Findings, 1)
	require.Greater(t, len(res.Findings[0].Object), 5000)
	require.True(t, strings.HasSuffix(res.Findings[0].Object, "/deep"))
	require.Contains(t, res.Findings[0].Changed, "content")
	require.NoError(t, unix.Close(fd))
}

func TestBaselineTamperingIsCaught(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	run := func(base []byte, key []byte) error {
		o := f.opts(ModeFull)
		o.Key = key
		o.Baseline = bytes.NewReader(base)
		_, err := Scan(context.Background(), o)
		return err
	}
	require.NoError(t, run(f.base, f.key))

	// Flip one byte of each record area: the path, the digest, the mode.
	for _, at := range []int{len(f.base) / 3, len(f.base) / 2, len(f.base) - 60} {
		forged := bytes.Clone(f.base)
		forged[at] ^= 0x01
		err := run(forged, f.key)
		require.True(t, errors.Is(err, ErrTampered) || errors.Is(err, ErrCorrupt), "byte %d: %v", at, err)
	}
	require.ErrorIs(t, run(f.base, []byte("another key")), ErrTampered)
	require.ErrorIs(t, run(f.base, nil), ErrNeedKey)
	require.ErrorIs(t, run(f.base[:len(f.base)-10], f.key), ErrCorrupt)
	require.ErrorIs(t, run([]byte("not a baseline"), f.key), ErrCorrupt)

	// A baseline re-recorded without a key must not pass for a signed one.
	var unsigned bytes.Buffer
	o := f.opts(ModeFull)
	o.Key, o.Record = nil, &unsigned
	_, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.ErrorIs(t, run(unsigned.Bytes(), f.key), ErrTampered)
	require.NoError(t, run(unsigned.Bytes(), nil))
}

func TestScopeChangesAreNotReportedAsRemovals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	// Exclude a subtree and scan fewer paths: out of scope is not removed.
	require.NoError(t, f.policy.AddExcludes([]string{f.path("etc") + "/**"}))
	o := f.opts(ModeFull)
	o.Paths = []string{f.path("bin"), f.path("etc"), f.path("var")}
	o.Baseline = bytes.NewReader(f.base)
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.Empty(t, res.Findings)
	require.False(t, res.PolicyChanged, "excludes added at run time do not change the policy file")
}

func TestAnExcludedDirectoryTakesItsSubtreeOutOfScope(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	// A literal directory, without /**: the walk does not enter it, and
	// what the baseline holds below it is not removed.
	require.NoError(t, f.policy.AddExcludes([]string{f.path("etc")}))
	res := f.check(ModeFull)
	require.Empty(t, res.Findings)
	require.Zero(t, res.Removed)
}

// failListing makes listing the directory at path fail with EIO.
func failListing(path string) func(fd int) ([]string, error) {
	return func(fd int) ([]string, error) {
		if p, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd)); p == path {
			return nil, unix.EIO
		}
		return readDirNames(fd)
	}
}

func TestADirectoryThatCannotBeListedIsOneUnreadableEntry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	ssh := f.path("etc/ssh")

	// Recording: one entry for the directory, not a second with the same
	// path (which the baseline writer refused as out of order).
	var buf bytes.Buffer
	o := f.opts(ModeFull)
	o.Record, o.readDir = &buf, failListing(ssh)
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Findings, 1)
	require.Equal(t, "fim.unreadable", res.Findings[0].Rule)
	require.Equal(t, ssh, res.Findings[0].Object)
	require.Contains(t, res.Findings[0].Message, "cannot list directory: input/output error")

	// Comparing: what the baseline holds below it was not seen, not removed.
	o = f.opts(ModeFull)
	o.Baseline, o.readDir = bytes.NewReader(f.base), failListing(ssh)
	res, err = Scan(context.Background(), o)
	require.NoError(t, err)
	require.Len(t, res.Findings, 1, "%+v", res.Findings)
	require.Equal(t, "fim.unreadable", res.Findings[0].Rule)
	require.Zero(t, res.Removed)
	require.Equal(t, 1, res.Problems)
}

func TestExtendedAttributesWithoutContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, n := range []string{"labelled", "plain"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), []byte(strings.Repeat(n, 1000)), 0o644))
	}
	require.NoError(t, unix.Setxattr(filepath.Join(dir, "labelled"), "user.vigil", []byte("a"), 0))
	p, err := ParsePolicy([]byte("groups:\n  - name: labels\n    severity: high\n    watch: type+xattrs\n    paths: ['"+dir+"/**']\n"), "test")
	require.NoError(t, err)
	opts := func(mode Mode) Options {
		return Options{Paths: []string{dir}, Policy: p, Mode: mode, Algorithm: "sha256", Workers: 2}
	}
	var base bytes.Buffer
	o := opts(ModeFull)
	o.Record = &base
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.Empty(t, res.Findings)
	require.Zero(t, res.BytesHashed, "content is not watched, so not read")

	check := func(mode Mode) *Result {
		o := opts(mode)
		o.Baseline = bytes.NewReader(base.Bytes())
		res, err := Scan(context.Background(), o)
		require.NoError(t, err)
		return res
	}
	res = check(ModeFast)
	require.Empty(t, res.Findings)
	require.EqualValues(t, 2, res.Trusted, "a file without xattrs is trusted too: the baseline says it had none")

	require.NoError(t, unix.Setxattr(filepath.Join(dir, "plain"), "user.vigil", []byte("b"), 0))
	require.NoError(t, unix.Setxattr(filepath.Join(dir, "labelled"), "user.vigil", []byte("c"), 0))
	for _, mode := range []Mode{ModeFast, ModeFull} {
		res = check(mode)
		require.Len(t, res.Findings, 2, "mode %v", mode)
		for _, f := range res.Findings {
			require.Equal(t, []string{"xattrs"}, f.Changed, f.Object)
		}
		require.Zero(t, res.BytesHashed)
	}
}

func TestMissingPathsAreNamed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	o := f.opts(ModeFull)
	o.Paths = []string{f.path("bin"), f.path("nope"), "/nonexistent-vigil/x"}
	o.Record = &bytes.Buffer{}
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{f.path("nope"), "/nonexistent-vigil/x"}, res.Missing)
}

func TestFindingsAreBoundedMostSevereKept(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	for i := range 50 {
		f.write(filepath.Join("data", "n", strings.Repeat("x", i+1)), "new")
	}
	require.NoError(t, os.Chmod(f.path("bin/ls"), 0o700))
	o := f.opts(ModeFast)
	o.Baseline = bytes.NewReader(f.base)
	o.MaxFindings = 5
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.Equal(t, 52, res.Total, "50 files and their directory added, one chmod")
	require.Len(t, res.Findings, 5)
	require.Equal(t, finding.Critical, res.Findings[0].Severity, "the critical change survives the bound")
}

func TestAFileChangingWhileHashedIsReported(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := f.path("data/growing")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte("x"), 32<<20), 0o644))
	stop := make(chan struct{})
	done := make(chan struct{})
	writing := make(chan struct{})
	go func() {
		defer close(done)
		fh, err := os.OpenFile(big, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			close(writing)
			return
		}
		defer func() { _ = fh.Close() }()
		first := true
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = fh.Write([]byte("y"))
				if first {
					close(writing) // the scan starts once the file is growing
					first = false
				}
			}
		}
	}()
	<-writing
	o := f.opts(ModeFull)
	o.Record = &bytes.Buffer{}
	res, err := Scan(context.Background(), o)
	close(stop)
	<-done
	require.NoError(t, err)
	var got []string
	for _, fd := range res.Findings {
		got = append(got, fd.Rule+" "+fd.Object+" "+fd.Message)
	}
	require.Contains(t, got, RuleChanging+" "+big+" changed while being hashed")
}

func TestCancelStopsTheScan(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for i := range 200 {
		f.write(filepath.Join("data", "many", strings.Repeat("f", 1+i%50)+string(rune('a'+i%26))), strings.Repeat("z", 1<<16))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("timed out after 1ms"))
	o := f.opts(ModeFull)
	o.Record = &bytes.Buffer{}
	_, err := Scan(ctx, o)
	require.ErrorContains(t, err, "timed out after 1ms")
}

func TestUpdateAcceptsTheCurrentState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.init()
	require.NoError(t, os.Chmod(f.path("bin/ps"), 0o700))
	f.write("etc/new", "n")
	var next bytes.Buffer
	o := f.opts(ModeFast)
	o.Baseline = bytes.NewReader(f.base)
	o.Record = &next
	res, err := Scan(context.Background(), o)
	require.NoError(t, err)
	require.Equal(t, 2, res.Changes())
	require.EqualValues(t, 17, res.Recorded)
	f.base = next.Bytes()
	require.Empty(t, f.check(ModeFull).Findings, "after --update the accepted changes are gone")
}

func TestBlake3Baselines(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var buf bytes.Buffer
	o := f.opts(ModeFull)
	o.Algorithm, o.Record = "blake3", &buf
	_, err := Scan(context.Background(), o)
	require.NoError(t, err)
	f.base = buf.Bytes()
	f.write("bin/ps", "ps binary v3")
	res := f.check(ModeFull)
	require.Equal(t, "blake3", res.Algorithm, "a comparison uses the baseline's digest")
	require.Len(t, res.Findings, 1)
	require.Contains(t, res.Findings[0].Changed, "content")
}
