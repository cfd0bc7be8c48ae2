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

const key = "fim-test-key-5d41402abc4b2a76"

// tree makes a small watched tree and a policy for it; it returns the
// tree, the policy path and the baseline path (outside the tree).
func tree(t *testing.T) (string, string, string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	for path, content := range map[string]string{"usr/bin/ssh": "ssh", "usr/bin/vim": "vim", "etc/hosts": "127.0.0.1 localhost\n", "etc/motd": "hi\n"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, filepath.Dir(path)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, path), []byte(content), 0o644))
	}
	policy := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte(`groups:
  - name: trojan-targets
    severity: critical
    paths: ['/**/bin/ssh']
  - name: binaries
    severity: high
    paths: ['`+root+`/usr/**']
  - name: config
    severity: medium
    paths: ['`+root+`/etc/**']
`), 0o600))
	return root, policy, filepath.Join(dir, "state", "baseline.vfim")
}

func cmd(root, policy, baseline string, extra ...string) string {
	return strings.Join(append([]string{"check-file-integrity", "--path", testutil.Shell(root), "--policy", testutil.Shell(policy), "--baseline", testutil.Shell(baseline)}, extra...), " ")
}

func TestInitCheckUpdateAsSensuRunsIt(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, policy, baseline := tree(t)
	env := []string{"VIGIL_FIM_HMAC_KEY=" + key}

	resp := h.Exec(cmd(root, policy, baseline, "--init"), "", env...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "check-file-integrity OK - baseline recorded: 8 entries, ")
	fi, err := os.Stat(baseline)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	check := &corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "file-integrity"}, Command: cmd(root, policy, baseline), Timeout: 60,
		OutputMetricFormat: corev2.NagiosOutputMetricFormat, EnvVars: env,
	}
	ev := h.RunCheck(check)
	require.EqualValues(t, 0, ev.Check.Status, ev.Check.Output)
	require.True(t, strings.HasPrefix(ev.Check.Output, "check-file-integrity OK - no changes in 8 entries |"), ev.Check.Output)
	points := map[string]float64{}
	for _, p := range ev.Metrics.Points {
		points[p.Name] = p.Value
	}
	require.InDelta(t, 8, points["entries"], 0)
	require.InDelta(t, 4, points["files_hashed"], 0)
	require.InDelta(t, 0, points["changes.modified.critical"], 0)

	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/bin/ssh"), []byte("trojaned ssh"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "etc/new"), []byte("x"), 0o644))
	ev = h.RunCheck(check)
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	require.Contains(t, ev.Check.Output, "[critical] fim.modified "+root+"/usr/bin/ssh: content, size, mtime changed")
	require.Contains(t, ev.Check.Output, "[medium] fim.added "+root+"/etc/new")
	points = map[string]float64{}
	for _, p := range ev.Metrics.Points {
		points[p.Name] = p.Value
	}
	require.InDelta(t, 1, points["changes.modified.critical"], 0)
	require.InDelta(t, 1, points["changes.added.medium"], 0)

	resp = h.Exec(cmd(root, policy, baseline, "--update"), "", env...)
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "baseline updated: 2 entries changed (1 added, 0 removed, 1 modified) of 9")
	require.Contains(t, resp.Output, "accepted: [critical] fim.modified "+root+"/usr/bin/ssh")
	require.EqualValues(t, 0, h.RunCheck(check).Check.Status)
}

func TestJSONReportsKindAndChangedAttributes(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, policy, baseline := tree(t)
	require.Equal(t, 0, h.Exec(cmd(root, policy, baseline, "--init"), "").Status)
	require.NoError(t, os.Chmod(filepath.Join(root, "etc/hosts"), 0o600))
	require.NoError(t, os.Remove(filepath.Join(root, "etc/motd")))
	resp := h.Exec(cmd(root, policy, baseline, "--format json", "--mode fast"), "")
	require.Equal(t, 1, resp.Status, resp.Output)
	var rep plugin.Report
	require.NoError(t, json.Unmarshal([]byte(resp.Output), &rep))
	require.Equal(t, 2, rep.FindingsTotal)
	byObject := map[string]struct {
		rule, kind string
		changed    []string
	}{}
	for _, f := range rep.Findings {
		byObject[f.Object] = struct {
			rule, kind string
			changed    []string
		}{f.Rule, f.Kind, f.Changed}
	}
	require.Equal(t, "fim.modified", byObject[root+"/etc/hosts"].rule)
	require.Equal(t, "modified", byObject[root+"/etc/hosts"].kind)
	require.Equal(t, []string{"mode"}, byObject[root+"/etc/hosts"].changed)
	require.Equal(t, "fim.removed", byObject[root+"/etc/motd"].rule)
	require.Equal(t, "removed", byObject[root+"/etc/motd"].kind)
	require.Contains(t, strings.Join(rep.Notes, "\n"), "mode fast: 1 file re-hashed, 2 trusted from the baseline")
}

func TestTheBaselineIsProtected(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, policy, baseline := tree(t)
	withKey := "VIGIL_FIM_HMAC_KEY=" + key
	require.Equal(t, 0, h.Exec(cmd(root, policy, baseline, "--init"), "", withKey).Status)

	t.Run("a second --init refuses to overwrite it", func(t *testing.T) {
		resp := h.Exec(cmd(root, policy, baseline, "--init"), "", withKey)
		require.Equal(t, 3, resp.Status)
		require.Equal(t, "check-file-integrity UNKNOWN - baseline "+baseline+" already exists: use --update to accept the current state, or remove it to start over\n", resp.Output)
	})
	t.Run("a signed baseline needs the key", func(t *testing.T) {
		resp := h.Exec(cmd(root, policy, baseline), "")
		require.Equal(t, 3, resp.Status)
		require.Equal(t, "check-file-integrity UNKNOWN - baseline "+baseline+" is signed: give --hmac-key-file or VIGIL_FIM_HMAC_KEY to verify it\n", resp.Output)
	})
	t.Run("the key can come from a file", func(t *testing.T) {
		keyFile := filepath.Join(t.TempDir(), "key")
		require.NoError(t, os.WriteFile(keyFile, []byte(key+"\n"), 0o600))
		resp := h.Exec(cmd(root, policy, baseline, "--hmac-key-file", keyFile), "")
		require.Equal(t, 0, resp.Status, resp.Output)
		testutil.RequireNoSecret(t, resp.Output, key)
	})
	t.Run("a forged baseline is CRITICAL", func(t *testing.T) {
		b, err := os.ReadFile(baseline)
		require.NoError(t, err)
		forged := filepath.Join(t.TempDir(), "forged.vfim")
		i := strings.Index(string(b), "ssh")
		require.Positive(t, i)
		b[i] = 'S' // rename a path inside a record
		require.NoError(t, os.WriteFile(forged, b, 0o600))
		resp := h.Exec(cmd(root, policy, forged), "", withKey)
		require.Equal(t, 2, resp.Status, resp.Output)
		require.True(t, strings.HasPrefix(resp.Output, "check-file-integrity CRITICAL - baseline "+forged+" failed verification: baseline signature does not verify |"), resp.Output)
		require.Contains(t, resp.Output, "[critical] fim.baseline_tampered "+forged)
	})
	t.Run("a damaged baseline is UNKNOWN", func(t *testing.T) {
		damaged := filepath.Join(t.TempDir(), "damaged.vfim")
		require.NoError(t, os.WriteFile(damaged, []byte("VIGILFIM\n\x05{}"), 0o600))
		resp := h.Exec(cmd(root, policy, damaged), "", withKey)
		require.Equal(t, 3, resp.Status)
		require.Equal(t, 1, strings.Count(resp.Output, "\n"), resp.Output)
		require.Contains(t, resp.Output, "baseline is damaged")
	})
	t.Run("the key never shows", func(t *testing.T) {
		resp := h.Exec(cmd(root, policy, baseline, "--log-level debug --hmac-key "+key), "")
		testutil.RequireNoSecret(t, resp.Output, key)
	})
}

func TestBadInputIsUnknownWithOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, policy, baseline := tree(t)
	badPolicy := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(badPolicy, []byte("groups:\n  - name: x\n    paths: [/x]\n    severity: extreme\n"), 0o600))
	cases := []struct{ name, cmd, want string }{
		{"no baseline yet", cmd(root, policy, baseline), "check-file-integrity UNKNOWN - no baseline at " + baseline + ": record one with --init\n"},
		{"a bad policy", cmd(root, badPolicy, baseline), `check-file-integrity UNKNOWN - policy ` + badPolicy + `: group 1 ("x"): unknown severity "extreme" (want one of info, low, medium, high, critical)` + "\n"},
		{"a missing policy", cmd(root, "/nonexistent/policy.yaml", baseline), "check-file-integrity UNKNOWN - read policy: open /nonexistent/policy.yaml: no such file or directory\n"},
		{"init and update together", cmd(root, policy, baseline, "--init --update"), "check-file-integrity UNKNOWN - --init and --update cannot be combined: --init records a first baseline, --update accepts changes\n"},
		{"a relative path", "check-file-integrity --path etc", "check-file-integrity UNKNOWN - --path \"etc\" must be absolute\n"},
		{"an unknown hash", "check-file-integrity --hash md5", "check-file-integrity UNKNOWN - --hash: must be one of sha256, blake3\n"},
		{"an unknown mode", "check-file-integrity --mode quick", "check-file-integrity UNKNOWN - --mode: must be one of full, fast\n"},
		{"a path the policy excludes", "check-file-integrity --init --path /tmp/x --path /proc --baseline " + baseline, "check-file-integrity UNKNOWN - every path to scan is excluded by the policy: /proc /tmp/x\n"},
		{"a bad exclude glob", cmd(root, policy, baseline, "--exclude '/a/{b'"), "check-file-integrity UNKNOWN - --exclude: pattern \"/a/{b\": unclosed {\n"},
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

// TestUnreadableEntriesAreFindings runs the check as an unprivileged user
// (setpriv), so that a root-only file and directory cannot be read.
func TestUnreadableEntriesAreFindings(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, os.Geteuid(), "this test drops privileges with setpriv: run it as root (make test does)")
	_, err := exec.LookPath("setpriv")
	require.NoError(t, err, "setpriv (util-linux) is needed")
	h := testutil.New(t)
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	require.NoError(t, os.Chmod(filepath.Dir(dir), 0o755))
	root := filepath.Join(dir, "tree")
	require.NoError(t, os.Mkdir(root, 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(root, "private"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(root, "secret"), []byte("s"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(root, "public"), []byte("p"), 0o644))
	state := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(state, 0o777))
	require.NoError(t, os.Chmod(state, 0o777))
	policy := filepath.Join(dir, "policy.yaml")
	require.NoError(t, os.WriteFile(policy, []byte("groups:\n  - name: all\n    paths: ['/**']\n"), 0o644))
	bin := testutil.Binary(t, "check-file-integrity")
	run := func(extra string) (int, string) {
		resp := h.Exec("setpriv --reuid=65534 --regid=65534 --clear-groups "+bin+" --policy "+policy+" --path "+root+" --baseline "+state+"/b.vfim "+extra, "")
		return resp.Status, resp.Output
	}
	status, out := run("--init")
	require.Equal(t, 1, status, out)
	require.Contains(t, out, "[low] fim.unreadable "+root+"/private: cannot open directory: permission denied")
	require.Contains(t, out, "[low] fim.unreadable "+root+"/secret: cannot read: permission denied")
	status, out = run("")
	require.Equal(t, 1, status, "still blind to them, still a WARNING: "+out)
	require.Contains(t, out, "2 entries unreadable or changing")
}

func TestFindingsAsSensuEvents(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	root, policy, baseline := tree(t)
	require.Equal(t, 0, h.Exec(cmd(root, policy, baseline, "--init"), "").Status)
	api, url := testutil.EventsAPI(t)
	require.NoError(t, os.WriteFile(filepath.Join(root, "usr/bin/ssh"), []byte("trojan"), 0o755))
	check := &corev2.CheckConfig{
		ObjectMeta: corev2.ObjectMeta{Name: "file-integrity"}, Stdin: true, Handlers: []string{"pagerduty"}, Timeout: 60,
		Command: cmd(root, policy, baseline, "--events-api", url, "--events-state", filepath.Join(t.TempDir(), "events.json")),
	}
	ev := h.RunCheck(check)
	require.EqualValues(t, 2, ev.Check.Status, ev.Check.Output)
	events := api.Events()
	require.Len(t, events, 1)
	require.EqualValues(t, 2, events[0].Check.Status)
	require.Equal(t, []string{"pagerduty"}, events[0].Check.Handlers)
	require.True(t, strings.HasPrefix(events[0].Check.Name, "file-integrity-fim.modified-"), events[0].Check.Name)
	require.Contains(t, events[0].Check.Annotations["vigil.io/findings"], `"rule":"fim.modified"`)
	require.NoError(t, events[0].Validate())
}
