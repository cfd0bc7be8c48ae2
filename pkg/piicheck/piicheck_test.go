package piicheck_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/piicheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
)

// The planted values. None may appear in a result, a note or the state.
const (
	card  = "4111 1111 1111 1111"
	email = "alice@example.com"
	token = "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"
	iban  = "DE89370400440532013000"
)

var planted = []string{card, "4111111111111111", email, "alice", token, iban}

func write(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}

func appendTo(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(content)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// run validates c and runs the check, failing the test on an error. A
// run with a state directory holds its lock until Commit, or until the
// test ends (its context is done).
func run(t *testing.T, c piicheck.Config) plugin.Result {
	t.Helper()
	res, err := tryContext(t.Context(), c, nil)
	require.NoError(t, err)
	return res
}

func try(c piicheck.Config, stdin *strings.Reader) (plugin.Result, error) {
	return tryContext(context.Background(), c, stdin)
}

func tryContext(ctx context.Context, c piicheck.Config, stdin *strings.Reader) (plugin.Result, error) {
	if err := piicheck.Validate(&c); err != nil {
		return plugin.Result{}, err
	}
	env := &plugin.Env{}
	if stdin != nil {
		env.Stdin = stdin
	}
	return piicheck.Run(ctx, &c, env)
}

// locations lists "rule location" for each finding, in order.
func locations(res plugin.Result) []string {
	var out []string
	for _, f := range res.Findings {
		out = append(out, f.Rule+" "+f.Location)
	}
	return out
}

// requireNoValue fails if a planted value shows in the result.
func requireNoValue(t *testing.T, res plugin.Result) {
	t.Helper()
	b, err := json.Marshal(struct {
		S string
		F []finding.Finding
		N []string
		M []plugin.Metric
	}{res.Summary, res.Findings, res.Notes, res.Metrics})
	require.NoError(t, err)
	for _, v := range planted {
		require.NotContains(t, string(b), v)
	}
}

func TestFindingsSayWhereAndNeverWhat(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "app.log")
	content := "user " + email + " paid with " + card + "\nip 10.0.0.1 ok\n\ttoken " + token + "\nwire to " + iban + "\n"
	write(t, log, content)
	res := run(t, piicheck.Config{Paths: []string{log}, Region: "eu-west-1", DataClass: "payment"})

	require.Equal(t, []string{
		"pii.email " + log + ":1:6",
		"pii.credit_card " + log + ":1:34",
		"secret.github_token " + log + ":3:8",
		"pii.iban " + log + ":4:9",
	}, locations(res))
	require.Equal(t, 4, res.Total)
	require.Equal(t, "4 found in 1 file, 147 B scanned: 1 pii.credit_card, 1 pii.email, 1 pii.iban, 1 secret.github_token", res.Summary)
	byRule := map[string]finding.Finding{}
	for _, f := range res.Findings {
		byRule[f.Rule] = f
	}
	require.Equal(t, finding.Critical, byRule["pii.credit_card"].Severity)
	require.Equal(t, "visa card ending 1111", byRule["pii.credit_card"].Message)
	require.Equal(t, "address at example.com", byRule["pii.email"].Message)
	require.Equal(t, finding.High, byRule["pii.iban"].Severity)
	require.Equal(t, "eu-west-1", byRule["pii.email"].Attrs["region"])
	require.Equal(t, "payment", byRule["pii.email"].Attrs["data_class"])
	require.Regexp(t, `^[0-9a-f]{16,}$`, byRule["pii.email"].Fingerprint)
	require.Contains(t, res.Notes, "fingerprints hold for this run only: give --state or --fingerprint-key to recognise values across runs")
	requireNoValue(t, res)

	metrics := map[string]float64{}
	for _, m := range res.Metrics {
		name := m.Name
		if rule := m.Tags["rule"]; rule != "" {
			name += "." + rule
		}
		metrics[name] = m.Value
	}
	require.Equal(t, map[string]string{"region": "eu-west-1", "data_class": "payment"}, res.MetricTags)
	require.InDelta(t, len(content), metrics["bytes_scanned"], 0)
	require.InDelta(t, 4, metrics["lines_scanned"], 0)
	require.InDelta(t, 1, metrics["matches.pii.iban"], 0)
}

func TestStateReadsOnlyWhatWasAppendedOnceCommitted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, st := filepath.Join(dir, "logs", "app.log"), filepath.Join(dir, "state")
	write(t, log, "a "+email+"\nb\n")
	c := piicheck.Config{Paths: []string{log}, State: st}

	ctx, abandon := context.WithCancel(context.Background())
	first, err := tryContext(ctx, c, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"pii.email " + log + ":1:3"}, locations(first))
	require.NotNil(t, first.Commit)
	// The run died before its result was out: its lock goes with it, it
	// saves nothing, and the next run reads the same lines again.
	abandon()
	require.ErrorContains(t, first.Commit(), "run abandoned before its positions were saved")
	again := run(t, c)
	require.Equal(t, locations(first), locations(again))
	require.Equal(t, first.Findings[0].Fingerprint, again.Findings[0].Fingerprint, "the key in --state keeps fingerprints stable")
	require.NoError(t, again.Commit())

	empty := run(t, c)
	require.Empty(t, empty.Findings)
	require.NoError(t, empty.Commit())

	appendTo(t, log, "c "+card+"\nhalf a line "+token)
	res := run(t, c)
	require.Equal(t, []string{"pii.credit_card " + log + ":3:3"}, locations(res))
	require.Contains(t, res.Notes, "52 bytes of an unfinished last line wait for the next run")
	require.NoError(t, res.Commit())
	appendTo(t, log, "\n")
	res = run(t, c)
	require.Equal(t, []string{"secret.github_token " + log + ":4:13"}, locations(res))
	require.NoError(t, res.Commit())

	key, err := os.ReadFile(filepath.Join(st, "fingerprint.key"))
	require.NoError(t, err)
	require.Len(t, key, 32)
	fi, err := os.Stat(filepath.Join(st, "fingerprint.key"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	stateFile, err := os.ReadFile(filepath.Join(st, "check-pii.state"))
	require.NoError(t, err)
	for _, v := range planted {
		require.NotContains(t, string(stateFile), v)
	}
}

func TestRotationLosesNothingAndReadsNothingTwice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logs, st := filepath.Join(dir, "logs"), filepath.Join(dir, "state")
	log := filepath.Join(logs, "app.log")
	write(t, log, "one "+email+"\n")
	write(t, filepath.Join(logs, "orphan.log.1"), "old "+iban+"\n")
	c := piicheck.Config{Paths: []string{logs}, State: st}
	res := run(t, c)
	require.Equal(t, []string{"pii.email " + log + ":1:5", "pii.iban " + logs + "/orphan.log.1:1:5"}, locations(res))
	require.NoError(t, res.Commit())

	// Written after the last run, then rotated away (logrotate's create).
	appendTo(t, log, "two "+card+"\n")
	require.NoError(t, os.Rename(log, log+".1"))
	write(t, log, "three "+token+"\n")
	res = run(t, c)
	require.Equal(t, []string{"pii.credit_card " + log + ".1:2:5", "secret.github_token " + log + ":1:7"}, locations(res))
	require.Contains(t, res.Notes, "followed 1 rotation")
	require.NoError(t, res.Commit())
	require.Empty(t, run(t, c).Findings)
}

func TestLongLinesAreScannedWholeAndOnce(t *testing.T) {
	t.Parallel()
	// Cards around every 256 KiB piece boundary of a 1 MiB line, and one
	// exactly across each: each found once, at its true column.
	line := []byte(strings.Repeat("x", 1<<20))
	var want []string
	log := filepath.Join(t.TempDir(), "long.log")
	for _, at := range []int{10, 256<<10 - 8, 512<<10 - 19, 512<<10 + 3, 768<<10 - 1, 1<<20 - 40} {
		copy(line[at:], " "+card+" ")
		want = append(want, "pii.credit_card "+log+":2:"+strconv.Itoa(at+2))
	}
	write(t, log, "short\n"+string(line)+"\nafter "+email+"\n")
	want = append(want, "pii.email "+log+":3:7")
	for _, workers := range []int{1, 2} {
		res := run(t, piicheck.Config{Paths: []string{log}, Workers: workers})
		require.Equal(t, want, locations(res), "workers %d", workers)
		require.Equal(t, 7, res.Total)
	}
}

func TestWithoutStateTheLastLineIsScannedEvenWithoutANewline(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "export.log")
	write(t, log, "ok\nx "+card)
	res := run(t, piicheck.Config{Paths: []string{log}})
	require.Equal(t, []string{"pii.credit_card " + log + ":2:3"}, locations(res))
	require.NotContains(t, strings.Join(res.Notes, "\n"), "unfinished last line")
}

func TestBinaryDataIsScannedToo(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "core.bin")
	write(t, log, "\x00\x01\xff\xfe binary\x00"+card+"\x00\n")
	res := run(t, piicheck.Config{Paths: []string{log}})
	require.Equal(t, []string{"pii.credit_card " + log + ":1:13"}, locations(res))
}

func TestDirectoriesHonourIncludeExcludeAndSkipTheState(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, name := range []string{"a.log", "a.log.1", "a.log-20261122.gz", "b.txt", "nested/c.log", "skip.log", "state/x.log"} {
		write(t, filepath.Join(dir, name), "v "+email+"\n")
	}
	c := piicheck.Config{Paths: []string{dir}, Include: []string{"*.log*"}, Exclude: []string{"skip.*"}, State: filepath.Join(dir, "state")}
	var objects []string
	for _, f := range run(t, c).Findings {
		objects = append(objects, strings.TrimPrefix(f.Object, dir+"/"))
	}
	// a.log.1 is read as a.log's predecessor, once; the .gz is older still
	// and was never followed, so it is skipped with it.
	require.ElementsMatch(t, []string{"a.log", "nested/c.log"}, objects)
}

func TestStdin(t *testing.T) {
	t.Parallel()
	res, err := try(piicheck.Config{Stdin: true, Types: []string{"pii.email"}}, strings.NewReader("x "+card+"\ny "+email+"\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"pii.email stdin:2:3"}, locations(res))
	require.Equal(t, "1 found in 42 B of stdin scanned: 1 pii.email", res.Summary)
	require.Nil(t, res.Commit)
}

func TestThresholdsRateByCount(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "app.log")
	c := piicheck.Config{Paths: []string{log}, Warning: map[string]int{"pii.email": 2}, Critical: map[string]int{"pii.email": 3}, Severity: map[string]string{"pii.credit_card": "low"}}
	for n, want := range map[int]finding.Severity{1: finding.Info, 2: finding.Medium, 3: finding.Critical} {
		write(t, log, strings.Repeat(email+"\n", n)+card+"\n")
		res := run(t, c)
		require.Len(t, res.Findings, n+1)
		for _, f := range res.Findings {
			if f.Rule == "pii.email" {
				require.Equal(t, want, f.Severity, "%d emails", n)
			} else {
				require.Equal(t, finding.Low, f.Severity)
			}
		}
	}
}

func TestFingerprintKey(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "app.log")
	write(t, log, email+"\n"+email+"\n")
	key := secret.String("shared-key-0123456789abcdef")
	a := run(t, piicheck.Config{Paths: []string{log}, FingerprintKey: key})
	b := run(t, piicheck.Config{Paths: []string{log}, FingerprintKey: key})
	require.Equal(t, a.Findings[0].Fingerprint, a.Findings[1].Fingerprint)
	require.Equal(t, a.Findings[0].Fingerprint, b.Findings[0].Fingerprint)
	require.Empty(t, a.Notes)

	_, err := try(piicheck.Config{Paths: []string{log}, FingerprintKey: "short"}, nil)
	require.ErrorContains(t, err, "--fingerprint-key")
}

func TestCustomDetectors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, detectors := filepath.Join(dir, "app.log"), filepath.Join(dir, "detectors.yaml")
	write(t, log, "hired EMP-123456 and EMP-12345\n")
	write(t, detectors, "detectors:\n  - name: employee_id\n    pattern: 'EMP-[0-9]{6}'\n    severity: low\n")
	res := run(t, piicheck.Config{Paths: []string{log}, Detectors: detectors, Types: []string{"pii.email"}, Critical: map[string]int{"custom.employee_id": 1}})
	require.Equal(t, []string{"custom.employee_id " + log + ":1:7"}, locations(res))
	require.Equal(t, finding.Critical, res.Findings[0].Severity)
	require.NotContains(t, res.Findings[0].Message, "123456")
}

func TestMissingPathsAreNotedNotFatal(t *testing.T) {
	t.Parallel()
	gone := filepath.Join(t.TempDir(), "gone.log")
	res := run(t, piicheck.Config{Paths: []string{gone}})
	require.Contains(t, res.Notes, "path "+gone+" does not exist")
	require.Equal(t, "no personal data or secrets in 0 files, 0 B scanned", res.Summary)
}

func TestBadConfigurationIsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log := filepath.Join(dir, "app.log")
	write(t, log, "x\n")
	detectors := filepath.Join(dir, "detectors.yaml")
	write(t, detectors, "detectors: [{name: x, pattern: '('}]\n")
	for _, c := range []struct {
		cfg  piicheck.Config
		want string
	}{
		{piicheck.Config{}, "--path (or VIGIL_PII_PATHS) or --stdin is required"},
		{piicheck.Config{Stdin: true, Paths: []string{log}}, "--stdin and --path cannot be combined"},
		{piicheck.Config{Paths: []string{log}, Workers: -1}, "--workers must be 0 (one per CPU) or more, got -1"},
		{piicheck.Config{Paths: []string{log}, Include: []string{"["}}, `bad glob "["`},
		{piicheck.Config{Paths: []string{log}, Severity: map[string]string{"pii.email": "loud"}}, "--severity pii.email"},
		{piicheck.Config{Paths: []string{log}, Warning: map[string]int{"pii.email": 0}}, "--warning pii.email: a count of at least 1 is needed"},
		{piicheck.Config{Paths: []string{log}, Warning: map[string]int{"pii.email": 5}, Critical: map[string]int{"pii.email": 2}}, "--critical pii.email (2) is below --warning (5)"},
		{piicheck.Config{Paths: []string{log}, Types: []string{"pii.nope"}}, `--types: unknown rule "pii.nope"`},
		{piicheck.Config{Paths: []string{log}, Types: []string{"pii.email"}, Warning: map[string]int{"pii.phone": 1}}, "rule pii.phone has a threshold or severity but is not enabled (see --types)"},
		{piicheck.Config{Paths: []string{log}, Detectors: filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{piicheck.Config{Paths: []string{log}, Detectors: detectors}, "detectors.yaml"},
	} {
		_, err := try(c.cfg, nil)
		require.ErrorContains(t, err, c.want)
		require.NotContains(t, err.Error(), "\n", "one line")
	}
}

func TestADamagedStateIsAnErrorNotAFreshStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, st := filepath.Join(dir, "app.log"), filepath.Join(dir, "state")
	write(t, log, email+"\n")
	write(t, filepath.Join(st, "check-pii.state"), "garbage")
	_, err := try(piicheck.Config{Paths: []string{log}, State: st}, nil)
	require.ErrorContains(t, err, "check-pii.state")
}
