package hoststate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fixture is the check's fixture host tree (checks/check-host-drift/testdata/root).
func fixture(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../checks/check-host-drift/testdata/root")
	require.NoError(t, err)
	return root
}

func collect(t *testing.T, opts Options) *Snapshot {
	t.Helper()
	s, err := Collect(context.Background(), opts)
	require.NoError(t, err)
	return s
}

func keys(f *Facet) []string {
	var out []string
	for _, it := range f.Items {
		out = append(out, it.Key)
	}
	return out
}

func item(t *testing.T, f *Facet, key string) Item {
	t.Helper()
	for _, it := range f.Items {
		if it.Key == key {
			return it
		}
	}
	t.Fatalf("no item %q in %v", key, keys(f))
	return Item{}
}

func TestEveryFacetReadsTheFixtureHost(t *testing.T) {
	t.Parallel()
	s := collect(t, Options{Root: fixture(t), FirewallFile: "/etc/firewall/ruleset.json"})
	for _, name := range Facets {
		require.Empty(t, s.Facets[name].Unavailable, name)
	}

	ports := s.Facets[Ports]
	require.Equal(t, []string{"tcp 0.0.0.0:22", "tcp 127.0.0.1:3306", "tcp [::]:22", "udp 10.0.2.15:68", "udp 127.0.0.53:53"}, keys(ports))
	require.Equal(t, "sshd", item(t, ports, "tcp 0.0.0.0:22").Fields["process"])
	require.Equal(t, "22/tcp", item(t, ports, "tcp 0.0.0.0:22").Name)
	require.Equal(t, "systemd-resolve", item(t, ports, "udp 127.0.0.53:53").Fields["process"])
	_, known := item(t, ports, "tcp 127.0.0.1:3306").Fields["process"]
	require.False(t, known, "no process holds it in the fixture: unknown, not empty")

	users := s.Facets[Users]
	require.Equal(t, map[string]string{"uid": "1000", "gid": "1000", "home": "/home/alice", "shell": "/bin/bash", "password": "set"}, item(t, users, "user alice").Fields)
	require.Equal(t, "locked", item(t, users, "user root").Fields["password"])
	require.Equal(t, "alice", item(t, users, "group sudo").Fields["members"])

	sudo := s.Facets[Sudoers]
	require.Equal(t, []string{"/etc/sudoers", "/etc/sudoers.d/README", "/etc/sudoers.d/deploy"}, keys(sudo), "old.bak holds a dot: sudo skips it")
	require.Equal(t, "6", item(t, sudo, "/etc/sudoers").Fields["lines"])
	require.Contains(t, item(t, sudo, "/etc/sudoers").Lines, "%sudo ALL=(ALL:ALL) ALL")

	ak := s.Facets[AuthorizedKeys]
	require.Equal(t, []string{
		"alice SHA256:4zyxkiM+skhEZYBaMjhwAGWq39eY7Favg6m/lZHDC3g",
		"alice SHA256:t+AjmDBqMjIxd7YmASQBY0hxbm1UyG2Skzxjr7R2cog",
		"root SHA256:zHlmo9tpNuNJ8scsoxrGXLIPzEUQN7M1CbSOXykaM0M",
	}, keys(ak), "fingerprints as ssh-keygen -lf prints them (testdata/fingerprints.txt)")
	rsa := item(t, ak, "alice SHA256:4zyxkiM+skhEZYBaMjhwAGWq39eY7Favg6m/lZHDC3g")
	require.Equal(t, map[string]string{"type": "RSA", "bits": "3072", "comment": "ci deploy", "file": "/home/alice/.ssh/authorized_keys", "options": "yes"}, rsa.Show)
	require.Empty(t, ak.Notes)

	cron := s.Facets[Cron]
	require.Equal(t, []string{"/etc/cron.d/e2scrub_all", "/etc/crontab", "/var/spool/cron/crontabs/alice", "timer apt-daily.timer"}, keys(cron))
	require.Equal(t, "2", item(t, cron, "/etc/crontab").Fields["lines"])

	require.Equal(t, []string{"multi-user.target.wants/cron.service", "multi-user.target.wants/ssh.service", "timers.target.wants/apt-daily.timer"}, keys(s.Facets[Units]))

	pk := s.Facets[Packages]
	require.Equal(t, []string{"linux-image-6.1.0-18-amd64:amd64", "openssh-server:amd64", "sudo:amd64"}, keys(pk), "telnetd is only config files")
	require.Equal(t, "1:9.2p1-2+deb12u3", item(t, pk, "openssh-server:amd64").Fields["version"])

	require.Equal(t, []string{"ext4", "nf_tables", "overlay"}, keys(s.Facets[Modules]))

	sc := s.Facets[Sysctls]
	require.Equal(t, "2", item(t, sc, "kernel.randomize_va_space").Fields["value"])
	require.Equal(t, "1", item(t, sc, "kernel.yama.ptrace_scope").Fields["value"])
	require.Len(t, sc.Items, 9)

	fw := s.Facets[Firewall]
	require.Equal(t, []string{"chain inet filter forward", "chain inet filter input"}, keys(fw))
	require.Equal(t, "3", item(t, fw, "chain inet filter input").Fields["rules"])
}

// The SUID facet needs the set-user-ID bit, which git does not keep: it
// runs on a copy.
func TestSUIDBinariesInSystemPathsOnly(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for p, mode := range map[string]os.FileMode{"usr/bin/sudo": 0o755 | os.ModeSetuid, "usr/bin/ls": 0o755, "usr/lib/openssh/ssh-keysign": 0o755 | os.ModeSetuid,
		"usr/lib/a/b/c/d/deep": 0o755 | os.ModeSetuid, "usr/sbin/unix_chkpwd": 0o755 | os.ModeSetgid, "home/alice/suid": 0o755 | os.ModeSetuid} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(p), 0o600))
		require.NoError(t, os.Chmod(filepath.Join(root, p), mode))
	}
	require.NoError(t, os.Symlink("usr/bin", filepath.Join(root, "bin")))
	s := collect(t, Options{Root: root, Facets: []string{SUID}})
	f := s.Facets[SUID]
	require.Equal(t, []string{"/usr/bin/sudo", "/usr/lib/openssh/ssh-keysign", "/usr/sbin/unix_chkpwd"}, keys(f), "not below the depth bound, not outside system paths, /bin walked once")
	require.Equal(t, "4755", item(t, f, "/usr/bin/sudo").Fields["mode"])
	require.Equal(t, "2755", item(t, f, "/usr/sbin/unix_chkpwd").Fields["mode"])
	require.Len(t, item(t, f, "/usr/bin/sudo").Fields["sha256"], 64)
}

func TestBrokenAndTruncatedFilesAreReadInPart(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	write := func(p, content string) {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(content), 0o600))
	}
	tcp, err := os.ReadFile(filepath.Join(fixture(t), "proc/net/tcp"))
	require.NoError(t, err)
	write("proc/net/tcp", string(tcp[:330])) // cut inside the second line
	write("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nbroken-line\nbob:x:notanumber:1::/:/bin/sh\n")
	write("etc/group", "root:x:0:\nnope\n")
	write("root/.ssh/authorized_keys", "# old laptop\nssh-ed25519 AAAAnotbase64!!! broken\n")
	write("proc/modules", "ext4 1003520 1 - Live 0x0\ntrunc")
	write("var/lib/dpkg/status", "Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nStatus: install ok installed\n")
	write("etc/fw", "*filter\n:INPUT DROP [0:0]\n-A INPUT -j ACCEPT\n")
	s := collect(t, Options{Root: root, FirewallFile: "/etc/fw"})
	require.Equal(t, []string{"tcp 0.0.0.0:22"}, keys(s.Facets[Ports]))
	require.Equal(t, 1, s.Facets[Ports].Malformed)
	require.Equal(t, 3, s.Facets[Users].Malformed)
	require.Equal(t, []string{"group root", "user root"}, keys(s.Facets[Users]))
	require.Equal(t, 1, s.Facets[Modules].Malformed)
	require.Equal(t, []string{"a"}, keys(s.Facets[Packages]))
	require.Equal(t, 1, s.Facets[Packages].Malformed)
	require.Equal(t, "/etc/fw: table filter has no COMMIT: the output is truncated", s.Facets[Firewall].Unavailable)
	require.Contains(t, s.Facets[Users].Notes, "/etc/shadow: does not exist: password states unknown")
	require.Equal(t, "no /etc/systemd/system (not a systemd host)", s.Facets[Units].Unavailable)
	require.Equal(t, 1, s.Facets[AuthorizedKeys].Malformed)
	require.Equal(t, []string{"/root/.ssh/authorized_keys:2: key is not valid base64"}, s.Facets[AuthorizedKeys].Notes, "never the line: it is key material")
}

func TestFirewallNormalisation(t *testing.T) {
	t.Parallel()
	td, err := filepath.Abs("../../checks/check-host-drift/testdata")
	require.NoError(t, err)
	read := func(file string) []Item {
		s := collect(t, Options{Root: td, Facets: []string{Firewall}, FirewallFile: "/" + file})
		require.Empty(t, s.Facets[Firewall].Unavailable)
		return s.Facets[Firewall].Items
	}
	require.Equal(t, read("root/etc/firewall/ruleset.json"), read("counters-only.json"), "counters, handles and the nft version are not change")
	require.NotEqual(t, read("root/etc/firewall/ruleset.json"), read("port-4444.json"))
	require.Equal(t, read("iptables.rules"), read("iptables-counters.rules"))
	ipt := read("iptables.rules")
	require.Equal(t, "chain filter INPUT", ipt[1].Key)
	require.Equal(t, "2", ipt[1].Fields["rules"])
	require.Equal(t, "DROP", ipt[1].Fields["policy"])
	nft := read("nft.txt")
	require.Len(t, nft, 1)
	require.Equal(t, "chain input in table inet filter", nft[0].Key)
	require.Equal(t, "2", nft[0].Fields["rules"])
	require.Equal(t, []string{"type filter hook input priority filter; policy drop;", "ct state established,related accept", "tcp dport 22 counter accept"}, nft[0].Lines)
	s := collect(t, Options{Root: td, Facets: []string{Firewall}, FirewallFile: "/truncated.json"})
	require.True(t, strings.HasPrefix(s.Facets[Firewall].Unavailable, "/truncated.json: not an nft -j ruleset: "), s.Facets[Firewall].Unavailable)
	s = collect(t, Options{Root: td, Facets: []string{Firewall}})
	require.Equal(t, "no --firewall-file given for the file system at "+td, s.Facets[Firewall].Unavailable)
}

func TestAuthorizedKeyLinesNeverKeepKeyMaterial(t *testing.T) {
	t.Parallel()
	pub, err := os.ReadFile("../../checks/check-host-drift/testdata/mallory.pub")
	require.NoError(t, err)
	k, err := parseAuthorizedKey(strings.TrimSpace(string(pub)))
	require.NoError(t, err)
	require.Equal(t, sshKey{kind: "ED25519", fingerprint: "SHA256:9W8X+e3oWey/0wNaKsv8Xrlw3L6Wd/Y+3zhMAeaQttE", comment: "mallory@203.0.113.7", bits: 256}, k)
	for _, bad := range []string{"ssh-rsa", "ssh-rsa AAAA", "nonsense words here", `command="echo hi there" ssh-ed25519 !!!`} {
		_, err := parseAuthorizedKey(bad)
		require.Error(t, err, bad)
		require.NotContains(t, err.Error(), "AAAA")
	}
}
