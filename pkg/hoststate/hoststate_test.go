package hoststate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	require.Equal(t, []string{"chain inet filter forward", "chain inet filter input", "table inet filter"}, keys(fw))
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
	require.Len(t, nft, 2)
	require.Equal(t, "table inet filter", nft[1].Key)
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

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, content := range files {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(content), 0o600))
	}
}

func TestDuplicateUsersAndGroupsAreKeptAndNumbered(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/bash\ndaemon:x:0:0::/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n+::::::\n",
		"etc/group":  "root:x:0:\nsudo:x:27:alice\nsudo:x:27:mallory\n",
	})
	for i := 0; i < 5; i++ { // the order is the file's, on every run
		u := collect(t, Options{Root: root, Facets: []string{Users}}).Facets[Users]
		require.Equal(t, []string{"group root", "group sudo", "group sudo #2", "nis passwd +", "user daemon", "user daemon #2", "user root"}, keys(u))
		require.Equal(t, "0", item(t, u, "user daemon").Fields["uid"], "the first line is what getpwnam returns")
		require.Equal(t, "1", item(t, u, "user daemon #2").Fields["uid"])
		require.Equal(t, "2", item(t, u, "user daemon #2").Fields["duplicate"])
		require.Equal(t, "mallory", item(t, u, "group sudo #2").Fields["members"])
		require.Zero(t, u.Malformed, "a NIS + line is not malformed")
		require.Contains(t, u.Notes, "/etc/group: group sudo appears 2 times: each line is an item of its own")
	}
}

func TestReusePortListenersAreOneItemWithEveryProcess(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	line := func(n, ino int) string {
		return "   " + string(rune('0'+n)) + ": 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 " + string(rune('0'+ino)) + " 1 0000000000000000 100 0 0 10 0\n"
	}
	writeTree(t, root, map[string]string{
		"proc/net/tcp": "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" + line(0, 7) + line(1, 8),
		"proc/10/comm": "nginx\n", "proc/11/comm": "evil\n",
	})
	for pid, ino := range map[string]string{"10": "7", "11": "8"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, "proc", pid, "fd"), 0o755))
		require.NoError(t, os.Symlink("socket:["+ino+"]", filepath.Join(root, "proc", pid, "fd", "3")))
	}
	f := collect(t, Options{Root: root, Facets: []string{Ports}}).Facets[Ports]
	require.Equal(t, []string{"tcp 0.0.0.0:80"}, keys(f))
	require.Equal(t, "evil,nginx", f.Items[0].Fields["process"])
}

// ln -s /etc/shadow ROOT/etc/sudoers.d/zz must neither read the shadow
// file of the machine running the check nor copy any file's lines that
// was reached through a link; a home of "/../../.." stays in the root.
func TestLinksAndHomesStayInsideTheRoot(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	writeTree(t, outside, map[string]string{"secret": "OUTSIDE-SECRET ALL=(ALL) ALL\n", ".ssh/authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPmwfPaWDTdJahg6onTitQFWnvi1+H2K8twlPBX6PyZ7 outside\n"})
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"etc/sudoers":   "root ALL=(ALL) ALL\n",
		"etc/shadow":    "root:INSIDE-SHADOW-HASH:19000::::::\n",
		"etc/passwd":    "root:x:0:0:root:/root:/bin/bash\nesc:x:1:1::/../../../../../../../../" + strings.TrimPrefix(outside, "/") + ":/bin/sh\n",
		"etc/crontab":   "",
		"usr/bin/.keep": "", "etc/sudoers.d/README": "",
	})
	require.NoError(t, os.Symlink("/etc/shadow", filepath.Join(root, "etc/sudoers.d/zz")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(root, "etc/sudoers.d/abs")))
	require.NoError(t, os.Symlink("../../../../../../../../../../"+strings.TrimPrefix(outside, "/")+"/secret", filepath.Join(root, "etc/sudoers.d/rel")))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "bin")))
	s := collect(t, Options{Root: root, Facets: []string{Sudoers, AuthorizedKeys, SUID}})
	sudo := s.Facets[Sudoers]
	for _, it := range sudo.Items {
		for _, l := range it.Lines {
			require.NotContains(t, l, "SHADOW")
			require.NotContains(t, l, "OUTSIDE")
		}
	}
	zz := item(t, sudo, "/etc/sudoers.d/zz")
	require.Empty(t, zz.Lines, "reached through a link: never copied")
	require.Equal(t, "/etc/shadow", zz.Fields["link"])
	require.Equal(t, "1", zz.Fields["lines"], "the root's own /etc/shadow, digested")
	require.Equal(t, "unreadable", item(t, sudo, "/etc/sudoers.d/abs").Fields["sha256"], "an absolute link is read under the root, where it leads nowhere")
	require.Equal(t, "unreadable", item(t, sudo, "/etc/sudoers.d/rel").Fields["sha256"], ".. stops at the root")
	require.Equal(t, []string{"root ALL=(ALL) ALL"}, item(t, sudo, "/etc/sudoers").Lines)
	require.Empty(t, s.Facets[AuthorizedKeys].Items, "the home is taken under the root")
	require.Empty(t, s.Facets[SUID].Items)
}

// A FIFO (or a device) where a file is expected is noted, not read: it
// would block the check forever.
func TestAFIFOIsNotReadAndDoesNotHang(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{"etc/passwd": "alice:x:1000:1000::/home/alice:/bin/bash\n", "etc/sudoers": "root ALL=(ALL) ALL\n"})
	require.NoError(t, os.MkdirAll(filepath.Join(root, "home/alice/.ssh"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "home/alice/.ssh/authorized_keys"), 0o600))
	require.NoError(t, syscall.Mkfifo(filepath.Join(root, "etc/crontab"), 0o600))
	done := make(chan *Snapshot)
	go func() {
		s, _ := Collect(context.Background(), Options{Root: root, Facets: []string{AuthorizedKeys, Cron}})
		done <- s
	}()
	select {
	case s := <-done:
		require.Equal(t, []string{"/home/alice/.ssh/authorized_keys: not a regular file (a named pipe): not read"}, s.Facets[AuthorizedKeys].Notes)
		require.Equal(t, 1, s.Facets[AuthorizedKeys].Malformed)
		require.Contains(t, s.Facets[Cron].Notes, "/etc/crontab: not a regular file (a named pipe): not read")
	case <-time.After(10 * time.Second):
		t.Fatal("a FIFO hangs the collection")
	}
}

func TestHostNameUnderTheRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	require.Empty(t, collect(t, Options{Root: root, Facets: []string{Modules}}).Host)
	writeTree(t, root, map[string]string{"etc/hostname": "# set by cloud-init\nweb-1\n"})
	require.Equal(t, "web-1", collect(t, Options{Root: root, Facets: []string{Modules}}).Host)
}

func TestFirewallTableFlagsExpiringElementsAndIPv6(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"a.json":     `{"nftables":[{"table":{"family":"inet","name":"f","handle":1}},{"set":{"family":"inet","name":"ban","table":"f","type":"ipv4_addr","handle":3,"flags":["timeout"],"elem":[{"elem":{"val":"203.0.113.7","timeout":600,"expires":598}}]}}]}`,
		"b.json":     `{"nftables":[{"table":{"family":"inet","name":"f","handle":1}},{"set":{"family":"inet","name":"ban","table":"f","type":"ipv4_addr","handle":3,"flags":["timeout"],"elem":[{"elem":{"val":"203.0.113.7","timeout":600,"expires":12}}]}}]}`,
		"c.json":     `{"nftables":[{"table":{"family":"inet","name":"f","handle":1,"flags":["dormant"]}},{"set":{"family":"inet","name":"ban","table":"f","type":"ipv4_addr","handle":3,"flags":["timeout"],"elem":[{"elem":{"val":"203.0.113.7","timeout":600,"expires":12}}]}}]}`,
		"a.txt":      "table inet f {\n\tset ban {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = { 203.0.113.7 timeout 10m expires 9m58s }\n\t}\n}\n",
		"b.txt":      "table inet f {\n\tset ban {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = { 203.0.113.7 timeout 10m expires 1m2s500ms }\n\t}\n}\n",
		"c.txt":      "table inet f {\n\tflags dormant\n\tset ban {\n\t\ttype ipv4_addr\n\t\tflags timeout\n\t\telements = { 203.0.113.7 timeout 10m expires 1m2s }\n\t}\n}\n",
		"both.rules": "# Generated by iptables-save v1.8.9\n*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n# Generated by ip6tables-save v1.8.9\n*filter\n:INPUT DROP [0:0]\nCOMMIT\n",
	})
	fw := func(file string) *Facet {
		f := collect(t, Options{Root: root, Facets: []string{Firewall}, FirewallFile: "/" + file}).Facets[Firewall]
		require.Empty(t, f.Unavailable, file)
		return f
	}
	for _, ext := range []string{"json", "txt"} {
		require.Equal(t, fw("a."+ext).Items, fw("b."+ext).Items, "%s: an element's expiry counting down is not change", ext)
		c := fw("c." + ext)
		require.NotEqual(t, fw("b."+ext).Items, c.Items, "%s: a dormant table is change", ext)
		require.Equal(t, "dormant", item(t, c, "table inet f").Fields["flags"], ext)
	}
	both := fw("both.rules")
	require.Equal(t, []string{"chain filter INPUT", "chain ip6 filter INPUT"}, keys(both))
	require.Equal(t, "DROP", item(t, both, "chain ip6 filter INPUT").Fields["policy"])
}

// On this host (root /), without nft, both iptables-save and
// ip6tables-save run.
func TestIp6tablesSaveRunsToo(t *testing.T) {
	bin := t.TempDir()
	script := func(name, out string) {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\nprintf '"+out+"'\n"), 0o700))
	}
	script("iptables-save", `*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n`)
	script("ip6tables-save", `*filter\n:INPUT DROP [0:0]\n-A INPUT -p tcp --dport 4444 -j ACCEPT\nCOMMIT\n`)
	t.Setenv("PATH", bin)
	f := collect(t, Options{Facets: []string{Firewall}}).Facets[Firewall]
	require.Empty(t, f.Unavailable)
	require.Equal(t, []string{"chain filter INPUT", "chain ip6 filter INPUT"}, keys(f))
	require.Equal(t, "1", item(t, f, "chain ip6 filter INPUT").Fields["rules"])
}

func TestCertificateKeyTypes(t *testing.T) {
	t.Parallel()
	for _, typ := range []string{"ecdsa-sha2-nistp384-cert-v01@openssh.com", "sk-ssh-ed25519-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com"} {
		_, ok := keyTypes[typ]
		require.True(t, ok, typ)
	}
}
