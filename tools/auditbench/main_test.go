package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// genSmall writes a 2 MB Kubernetes log and a 1 MB auth log into a new
// temporary directory.
func genSmall(t *testing.T, seed uint64) (string, *Truth) {
	t.Helper()
	dir := t.TempDir()
	truth, err := generate(genOptions{dir: dir, seed: seed, k8sMB: 2, authMB: 1})
	require.NoError(t, err)
	return dir, truth
}

var corpusFiles = []string{k8sFile, authFile, truthFile}

func TestTheSameSeedWritesTheSameBytes(t *testing.T) {
	t.Parallel()
	a, _ := genSmall(t, 42)
	b, _ := genSmall(t, 42)
	c, _ := genSmall(t, 43)
	for _, f := range corpusFiles {
		x, err := os.ReadFile(filepath.Join(a, f))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, f))
		require.NoError(t, err)
		require.NotEmpty(t, x, f)
		require.True(t, bytes.Equal(x, y), "%s differs between two runs", f)
		z, err := os.ReadFile(filepath.Join(c, f))
		require.NoError(t, err)
		require.False(t, bytes.Equal(x, z), "%s: another seed must give another corpus", f)
	}
}

func TestTheIncidentsDoNotDependOnTheSize(t *testing.T) {
	t.Parallel()
	_, small := genSmall(t, 42)
	big, err := generate(genOptions{dir: t.TempDir(), seed: 42, k8sMB: 5, authMB: 3})
	require.NoError(t, err)
	for _, f := range []string{k8sFile, authFile} {
		a, b := small.Files[f], big.Files[f]
		require.Greater(t, b.Bytes, a.Bytes)
		require.Equal(t, a.Events, b.Events, f)
		require.Equal(t, a.PlantedLines, b.PlantedLines, f)
		require.Equal(t, a.MatchingLines, b.MatchingLines, f)
		require.Len(t, b.Incidents, len(a.Incidents), f)
		for i := range a.Incidents {
			require.Equal(t, a.Incidents[i].ID, b.Incidents[i].ID)
			require.Equal(t, a.Incidents[i].Findings, b.Incidents[i].Findings)
		}
	}
}

func TestTheFilesAreWhatTheGroundTruthSays(t *testing.T) {
	t.Parallel()
	dir, truth := genSmall(t, 42)
	checkCorpus(t, dir, truth)
	// What gen wrote to disk is what it returned.
	onDisk, err := readTruth(filepath.Join(dir, truthFile))
	require.NoError(t, err)
	require.Equal(t, truth, onDisk)
}

// TestAGeneratedCorpus checks a full-size corpus made by auditbench gen,
// when AUDITBENCH_CORPUS names its directory.
func TestAGeneratedCorpus(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("AUDITBENCH_CORPUS")
	if dir == "" {
		t.Skip("set AUDITBENCH_CORPUS to a directory written by auditbench gen")
	}
	truth, err := readTruth(filepath.Join(dir, truthFile))
	require.NoError(t, err)
	checkCorpus(t, dir, truth)
}

// checkCorpus runs the reference rules on both files and compares.
func checkCorpus(t *testing.T, dir string, truth *Truth) {
	t.Helper()
	require.Len(t, truth.Files, 2)
	k8s, auth := truth.Files[k8sFile], truth.Files[authFile]
	require.Equal(t, "k8s", k8s.Source)
	require.Equal(t, "auth", auth.Source)
	require.Len(t, k8s.Incidents, 20)
	require.Len(t, auth.Incidents, 6)

	size := func(name string) int64 {
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		return st.Size()
	}
	ref := refK8s(t, filepath.Join(dir, k8sFile))
	requireTruthMatches(t, k8s, ref, size(k8sFile))
	// An exec is logged twice and counts once.
	require.Equal(t, 4, k8s.Events[rulePodExec])
	require.NotContains(t, k8s.Events, ruleDeniedBurst)
	require.NotContains(t, k8s.Events, rulePolicyLevelLow)
	// The average event is in the range the issue gives.
	avg := float64(k8s.Bytes) / float64(k8s.Lines)
	require.InDelta(t, 750, avg, 250, "average event size")

	ref = refAuth(t, filepath.Join(dir, authFile))
	requireTruthMatches(t, auth, ref, size(authFile))
	require.Equal(t, 33, auth.Events[ruleSSHFailed])
	// The brute force is over the critical threshold (20 in 10 minutes),
	// the three failures under the warning one (5).
	require.GreaterOrEqual(t, maxInWindow(ref.failures["203.0.113.7"], 10*time.Minute), 20)
	require.Less(t, maxInWindow(ref.failures["198.51.100.23"], 10*time.Minute), 5)

	// Both timestamp styles and both sshd program names are there.
	b, err := os.ReadFile(filepath.Join(dir, authFile))
	require.NoError(t, err)
	for _, s := range []string{"+00:00 bastion-1 sshd-session[", "Nov 22 ", " web-1 sshd[", "Failed password for invalid user"} {
		require.Contains(t, string(b), s)
	}
}

// perfectReport is a check-audit-log report of one file with a finding
// per expectation and the events metric of the truth.
func perfectReport(ft *FileTruth) map[string]any {
	var fs []map[string]any
	for _, inc := range ft.Incidents {
		for _, e := range inc.Findings {
			sev := "medium"
			if len(e.Severity) > 0 {
				sev = e.Severity[len(e.Severity)-1]
			}
			fs = append(fs, map[string]any{"rule": e.Rule, "severity": sev, "object": inc.ID, "location": "x", "message": "x",
				"actor": e.Actor, "source": e.Source, "count": max(e.Events, 1)})
		}
	}
	ms := []map[string]any{{"name": "findings", "value": len(fs), "tags": map[string]string{}}}
	for rule, n := range ft.Events {
		ms = append(ms, map[string]any{"name": "events", "value": n, "tags": map[string]string{"rule": rule, "source": ft.Source}})
	}
	// A window rule's count is not checked, a rule with nothing planted
	// may say 0.
	if ft.Source == "k8s" {
		ms = append(ms, map[string]any{"name": "events", "value": 30, "tags": map[string]string{"rule": ruleDeniedBurst}})
	}
	ms = append(ms, map[string]any{"name": "events", "value": 0, "tags": map[string]string{"rule": "k8s.nothing_planted"}})
	return map[string]any{"plugin": "check-audit-log", "status": 2, "summary": "x", "findings": fs, "findings_total": len(fs), "metrics": ms}
}

// scoreReport writes rep and runs auditbench score on it.
func scoreReport(t *testing.T, truthPath, file string, rep any) (int, *Score, string) {
	t.Helper()
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	out := filepath.Join(t.TempDir(), "score.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"score", "--truth", truthPath, "--file", file, path, "--json", out}, &stdout, &stderr)
	require.Empty(t, stderr.String())
	sb, err := os.ReadFile(out)
	require.NoError(t, err)
	var s Score
	require.NoError(t, json.Unmarshal(sb, &s))
	return code, &s, stdout.String()
}

func TestAPerfectReportOfAGeneratedCorpusPasses(t *testing.T) {
	t.Parallel()
	dir, truth := genSmall(t, 42)
	for _, file := range []string{k8sFile, authFile} {
		ft := truth.Files[file]
		code, s, out := scoreReport(t, filepath.Join(dir, truthFile), file, perfectReport(ft))
		require.Equal(t, exitOK, code, out)
		require.True(t, s.Pass)
		require.Equal(t, len(ft.Incidents), s.IncidentsFound)
		require.True(t, strings.HasPrefix(out, "PASS "+file+": all "), out)
		require.Contains(t, s.Verdict, "planted incidents found")
		require.Contains(t, s.Verdict, "0 findings on benign traffic")
	}
}

// A hand-written ground truth and reports, to pin down the scorer's rules.
const handTruth = `{
  "command": "hand-written", "seed": 1, "start": "2026-11-22T00:00:00Z",
  "files": {"k8s-audit.log": {
    "source": "k8s", "bytes": 1000, "lines": 10, "benign_lines": 6, "planted_lines": 4, "matching_lines": 3,
    "events": {"k8s.pod_exec": 1, "k8s.rbac_change": 1, "k8s.cluster_admin_binding": 1},
    "incidents": [
      {"id": "exec", "description": "one exec", "lines": [2, 3],
       "findings": [{"rule": "k8s.pod_exec", "actor": "eve@example.com", "source": "203.0.113.5", "events": 1}]},
      {"id": "admin", "description": "a cluster-admin binding", "lines": [5],
       "findings": [{"rule": "k8s.cluster_admin_binding", "actor": "bob@example.com", "source": "198.51.100.9", "events": 1},
                    {"rule": "k8s.rbac_change", "actor": "bob@example.com", "source": "198.51.100.9", "events": 1}]},
      {"id": "burst", "description": "denied burst", "lines": [7],
       "findings": [{"rule": "k8s.denied_burst", "actor": "mallory@example.com", "source": "192.0.2.1"}]},
      {"id": "brute", "description": "brute force", "lines": [9],
       "findings": [{"rule": "ssh.failed_login", "source": "203.0.113.7", "severity": ["high", "critical"]}]}
    ]}}}`

// handReport is a correct report for handTruth; edit returns a changed
// copy.
const handReport = `{"plugin": "check-audit-log", "status": 2, "summary": "5 findings",
  "findings": [
    {"rule": "k8s.pod_exec", "severity": "high", "object": "prod/api-1", "location": "k8s-audit.log:3", "message": "exec", "actor": "eve@example.com", "source": "203.0.113.5", "count": 1},
    {"rule": "k8s.cluster_admin_binding", "severity": "critical", "object": "bob-admin", "location": "k8s-audit.log:5", "message": "m", "actor": "bob@example.com", "source": "198.51.100.9", "count": 1},
    {"rule": "k8s.rbac_change", "severity": "medium", "object": "bob-admin", "location": "k8s-audit.log:5", "message": "m", "actor": "bob@example.com", "count": 1},
    {"rule": "k8s.denied_burst", "severity": "high", "object": "", "location": "k8s-audit.log", "message": "m", "source": "192.0.2.1", "count": 30},
    {"rule": "ssh.failed_login", "severity": "critical", "object": "root", "location": "auth.log:9", "message": "m", "actor": "root", "source": "203.0.113.7", "count": 22},
    {"rule": "ssh.failed_login", "severity": "info", "object": "admin", "location": "auth.log:9", "message": "m", "actor": "admin", "source": "203.0.113.7", "count": 1}
  ],
  "findings_total": 6,
  "metrics": [
    {"name": "findings", "value": 6, "tags": {}},
    {"name": "events", "value": 1, "tags": {"rule": "k8s.pod_exec"}},
    {"name": "events", "value": 1, "tags": {"rule": "k8s.rbac_change"}},
    {"name": "events", "value": 1, "tags": {"rule": "k8s.cluster_admin_binding"}},
    {"name": "events", "value": 30, "tags": {"rule": "k8s.denied_burst"}},
    {"name": "events", "value": 0, "tags": {"rule": "k8s.secret_access"}}
  ]}`

func TestTheScorerOnHandWrittenReports(t *testing.T) {
	t.Parallel()
	truthPath := filepath.Join(t.TempDir(), "truth.json")
	require.NoError(t, os.WriteFile(truthPath, []byte(handTruth), 0o600))
	finding := `{"rule": "k8s.secret_access", "severity": "high", "object": "kube-system/x", "location": "k8s-audit.log:1", "message": "m", "actor": "system:node:worker-1", "source": "10.0.1.11", "count": 2}`
	for _, tc := range []struct {
		name    string
		edit    func(string) string
		pass    bool
		verdict string
	}{
		{"a correct report passes", func(s string) string { return s }, true,
			"all 4 planted incidents found (5 findings), 0 findings on benign traffic"},
		{"a missing incident fails", func(s string) string {
			return strings.Replace(s, `"rule": "k8s.pod_exec", "severity": "high"`, `"rule": "k8s.pod_exec_typo", "severity": "high"`, 1)
		}, false, "3 of 4 planted incidents found, missing k8s.pod_exec eve@example.com from 203.0.113.5 (exec); 1 findings on benign traffic (k8s.pod_exec_typo by eve@example.com"},
		{"a finding on benign traffic fails", func(s string) string {
			return strings.Replace(s, `"findings": [`, `"findings": [`+finding+",", 1)
		}, false, "all 4 planted incidents found; 1 findings on benign traffic (k8s.secret_access by system:node:worker-1 from 10.0.1.11 on kube-system/x)"},
		{"a wrong rule for the right actor is a miss and a finding on benign traffic", func(s string) string {
			return strings.Replace(s, `"rule": "k8s.cluster_admin_binding", "severity": "critical"`, `"rule": "k8s.privileged_pod", "severity": "critical"`, 1)
		}, false, "3 of 4 planted incidents found, missing k8s.cluster_admin_binding bob@example.com from 198.51.100.9 (admin); 1 findings on benign traffic"},
		{"an exec counted twice fails", func(s string) string {
			return strings.Replace(s, `{"name": "events", "value": 1, "tags": {"rule": "k8s.pod_exec"}}`, `{"name": "events", "value": 2, "tags": {"rule": "k8s.pod_exec"}}`, 1)
		}, false, "events metric wrong: k8s.pod_exec 2, want 1"},
		{"events of a rule with nothing planted fail", func(s string) string {
			return strings.Replace(s, `"value": 0, "tags": {"rule": "k8s.secret_access"}`, `"value": 4, "tags": {"rule": "k8s.secret_access"}`, 1)
		}, false, "events metric wrong: k8s.secret_access 4, want 0"},
		{"a brute force below high fails", func(s string) string {
			return strings.Replace(s, `"severity": "critical", "object": "root"`, `"severity": "medium", "object": "root"`, 1)
		}, false, "wrong severity: ssh.failed_login from 203.0.113.7 is medium, want high or critical"},
		{"a truncated report fails", func(s string) string {
			return strings.Replace(s, `"findings_total": 6`, `"findings_total": 60`, 1)
		}, false, "the report holds 6 of 60 findings (run check-audit-log with --max-findings 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var rep map[string]any
			require.NoError(t, json.Unmarshal([]byte(tc.edit(handReport)), &rep))
			code, s, out := scoreReport(t, truthPath, k8sFile, rep)
			require.Equal(t, tc.pass, s.Pass, out)
			if tc.pass {
				require.Equal(t, exitOK, code)
				require.Equal(t, tc.verdict, s.Verdict)
			} else {
				require.Equal(t, exitFailed, code)
				require.Contains(t, s.Verdict, tc.verdict)
				require.True(t, strings.HasPrefix(out, "FAIL k8s-audit.log: "), out)
			}
		})
	}
}

func TestScoreRefusesWhatIsNotAReport(t *testing.T) {
	t.Parallel()
	truthPath := filepath.Join(t.TempDir(), "truth.json")
	require.NoError(t, os.WriteFile(truthPath, []byte(handTruth), 0o600))
	rep := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, os.WriteFile(rep, []byte(`{"findings": []}`), 0o600))
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitError, run([]string{"score", "--truth", truthPath, "--file", k8sFile, rep}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "no findings_total")
	stderr.Reset()
	require.Equal(t, exitError, run([]string{"score", "--truth", truthPath, "--file", authFile, rep}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "--file auth.log: the ground truth has k8s-audit.log")
	stderr.Reset()
	require.Equal(t, exitError, run([]string{"gen", "--k8s-mb", "1"}, &stdout, &stderr))
	require.Contains(t, stderr.String(), "--out DIR is required")
}

func TestTheReportSaysWhatWasNotBuiltAndMarksTheTargets(t *testing.T) {
	t.Parallel()
	dir, truth := genSmall(t, 42)
	work := t.TempDir()
	results := filepath.Join(work, "results.tsv")
	k8sMB := float64(truth.Files[k8sFile].Bytes) / 1e6
	require.NoError(t, os.WriteFile(results, []byte(strings.Join([]string{
		"cat\tk8s-audit.log\t0.010\t0.011\t2048\t3\t\t",
		"jq -c, the Kubernetes rules as one select\tk8s-audit.log\t1.5\t1.6\t10240\t3\t\t" + "83",
		"check-audit-log --source k8s (taskset -c 0)\tk8s-audit.log\t" + strconv.FormatFloat(k8sMB/125, 'f', 9, 64) + "\t0.1\t30000\t3\t\t1", // 125 MB/s
		"check-audit-log --source auth (taskset -c 0)\tauth.log\t\t\t\t0\tnot built\t",
	}, "\n")+"\n"), 0o600))
	_, s, _ := scoreReport(t, filepath.Join(dir, truthFile), k8sFile, perfectReport(truth.Files[k8sFile]))
	sb, err := json.Marshal(s)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "score-k8s.json"), sb, 0o600))
	var stdout, stderr bytes.Buffer
	code := run([]string{"report", "--truth", filepath.Join(dir, truthFile), "--results", results, "--nproc", "2", "--jq", "jq-1.6",
		"--score", "k8s-audit.log=" + filepath.Join(work, "score-k8s.json"), "--score", "auth.log=" + filepath.Join(work, "missing.json")}, &stdout, &stderr)
	require.Equal(t, exitOK, code, stderr.String())
	out := stdout.String()
	for _, want := range []string{
		"| tool | input | MB/s best / median | events/s (k8s) | wall s min / median | peak RSS MB | accuracy |",
		"| check-audit-log --source auth (taskset -c 0) | auth.log | not built | | | |",
		"| check-audit-log --source k8s (taskset -c 0) | k8s-audit.log | 125 / ",
		"all 20 planted incidents found (25 findings), 0 findings on benign traffic",
		"selects 83 lines (the per-line rules match",
		"| check-audit-log ≥ 100 MB/s of Kubernetes audit JSON on one core (about 200,000 events/s) | 125 MB/s",
		"| check-audit-log ≥ 300 MB/s of auth log on one core | not built | **not met** |",
		"| check-audit-log peak RSS ≤ 64 MB | 30.7 MB | met |",
		"auth.log: no report | **not met** |",
		"jq-1.6 (Debian)",
	} {
		require.Contains(t, out, want)
	}
}
