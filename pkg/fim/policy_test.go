package fim

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

func TestGlobMatching(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"/etc/passwd", []string{"/etc/passwd"}, []string{"/etc/passwd-", "/etc", "/etc/passwd/x"}},
		{"/etc/**", []string{"/etc", "/etc/a", "/etc/a/b/c"}, []string{"/etcx", "/et", "/var/etc/a"}},
		{"/**", []string{"/", "/a", "/a/b"}, nil},
		{"/**/bin/ssh", []string{"/bin/ssh", "/usr/bin/ssh", "/usr/local/bin/ssh"}, []string{"/usr/xbin/ssh", "/bin/sshd", "/usr/bin/ssh/x"}},
		{"/**/bin/{ssh,ps}", []string{"/bin/ps", "/usr/bin/ssh"}, []string{"/bin/pss", "/bin/s"}},
		{"/var/log/*.log", []string{"/var/log/a.log", "/var/log/.log"}, []string{"/var/log/a/b.log", "/var/log/a.log.1"}},
		{"/**/*.pyc", []string{"/x.pyc", "/usr/lib/a/b.pyc"}, []string{"/usr/lib/a/b.py"}},
		{"/etc/cron*/**", []string{"/etc/cron.d", "/etc/cron.d/job", "/etc/crontab"}, []string{"/etc/xcron.d"}},
		{"/a/**/b", []string{"/a/b", "/a/x/b", "/a/x/y/b"}, []string{"/a/xb", "/b"}},
		{"/tmp/file?.[0-9]", []string{"/tmp/file1.7"}, []string{"/tmp/file1.x", "/tmp/file/.7"}},
		{"/tmp/[!a]x", []string{"/tmp/bx"}, []string{"/tmp/ax"}},
		{"/**/lib*/**/security/**", []string{"/lib/security/pam_unix.so", "/usr/lib64/security", "/usr/lib/x86_64-linux-gnu/security/a"}, []string{"/usr/share/security/a"}},
	}
	for _, c := range cases {
		t.Run(c.pattern, func(t *testing.T) {
			t.Parallel()
			g, err := CompileGlob(c.pattern)
			require.NoError(t, err)
			for _, p := range c.match {
				require.True(t, g.Match(p), "%s should match %s", c.pattern, p)
			}
			for _, p := range c.miss {
				require.False(t, g.Match(p), "%s should not match %s", c.pattern, p)
			}
		})
	}
	for _, bad := range []string{"relative/path", "/a/{b", "/a/b}", "/a/[b"} {
		_, err := CompileGlob(bad)
		require.Error(t, err, bad)
	}
}

func TestDefaultPolicyRatesWhereItMatters(t *testing.T) {
	t.Parallel()
	p := DefaultPolicy()
	cases := map[string]struct {
		group string
		sev   finding.Severity
	}{
		"/usr/bin/ssh":   {"trojan-targets", finding.Critical},
		"/bin/ps":        {"trojan-targets", finding.Critical},
		"/usr/sbin/sshd": {"trojan-targets", finding.Critical},
		"/usr/lib/x86_64-linux-gnu/security/pam_unix.so": {"trojan-targets", finding.Critical},
		"/etc/shadow":                         {"authentication", finding.Critical},
		"/etc/ssh/sshd_config":                {"authentication", finding.Critical},
		"/etc/sudoers.d/90-cloud":             {"authentication", finding.Critical},
		"/etc/cron.d/backup":                  {"boot-and-schedules", finding.Critical},
		"/boot/vmlinuz":                       {"boot-and-schedules", finding.Critical},
		"/usr/bin/vim":                        {"system-binaries", finding.Critical},
		"/usr/lib/x86_64-linux-gnu/libc.so.6": {"system-libraries", finding.Critical},
		"/etc/hostname":                       {"configuration", finding.High},
		"/var/log/syslog":                     {"logs", finding.Low},
		"/srv/www/index.html":                 {"everything-else", finding.Medium},
	}
	for path, want := range cases {
		g := p.Classify(path)
		require.Equal(t, want.group, g.Name, path)
		require.Equal(t, want.sev, g.Severity, path)
	}
	require.True(t, p.Classify("/var/spool/cron/x").Ignore)
	for _, ex := range []string{"/proc", "/proc/1/status", "/tmp/x", "/usr/lib/python3/x/__pycache__/a.pyc"} {
		require.True(t, p.Excluded(ex), ex)
	}
	require.False(t, p.Excluded("/etc/passwd"))
	logs := p.Classify("/var/log/auth.log")
	require.Equal(t, AttrType|AttrMode|AttrUID|AttrGID, logs.Watch)
	require.Contains(t, p.Roots, "/etc")
}

func TestPolicyErrorsSayWhatIsWrong(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"unknown key", "groups:\n  - name: a\n    paths: [/a]\n    sevrity: high\n", "field sevrity not found"},
		{"unknown severity", "groups:\n  - name: a\n    paths: [/a]\n    severity: hgih\n", `group 1 ("a"): unknown severity "hgih"`},
		{"unknown attribute", "groups:\n  - name: a\n    paths: [/a]\n    watch: content+colour\n", `unknown attribute "colour"`},
		{"relative pattern", "groups:\n  - name: a\n    paths: [etc/**]\n", "must be an absolute path"},
		{"no paths", "groups:\n  - name: a\n", "no paths"},
		{"no name", "groups:\n  - paths: [/a]\n", "group 1 has no name"},
		{"duplicate name", "groups:\n  - name: a\n    paths: [/a]\n  - name: a\n    paths: [/b]\n", "duplicate name"},
		{"relative root", "roots: [etc]\n", "must be an absolute path"},
		{"not YAML", "groups: [\n", "policy p.yaml"},
		{"bad exclude", "exclude: ['/a/{b']\n", "unclosed {"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParsePolicy([]byte(c.yaml), "p.yaml")
			require.ErrorContains(t, err, c.want)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestWatchAcceptsNamesListsAndAIDELetters(t *testing.T) {
	t.Parallel()
	p, err := ParsePolicy([]byte(`groups:
  - name: aide
    paths: [/a/**]
    watch: p+i+n+u+g+s+m+c+sha256
  - name: list
    paths: [/b/**]
    watch: [content, mode, xattrs]
  - name: default
    paths: [/c/**]
`), "p.yaml")
	require.NoError(t, err)
	require.Equal(t, AttrMode|AttrInode|AttrNlink|AttrUID|AttrGID|AttrSize|AttrMtime|AttrCtime|AttrContent, p.Classify("/a/x").Watch)
	require.Equal(t, AttrContent|AttrMode|AttrXattrs, p.Classify("/b/x").Watch)
	require.Equal(t, DefaultWatch, p.Classify("/c/x").Watch)
	require.Equal(t, "default", p.Classify("/elsewhere").Name, "unmatched paths fall to the default group")
	require.Equal(t, "type+content+size+mode+uid+gid+mtime+inode+link_target", DefaultWatch.String())
}
