package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"hash/crc32"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// genSmall writes a 2 MB corpus into a new temporary directory.
func genSmall(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	_, err := generate(dir, 2, 42)
	require.NoError(t, err)
	return dir
}

var corpusFiles = []string{truthFile, decoysFile, logsDir + "/access.log", logsDir + "/app.jsonl", logsDir + "/syslog"}

func TestTheSameSeedWritesTheSameBytes(t *testing.T) {
	t.Parallel()
	a, b := genSmall(t), genSmall(t)
	for _, f := range corpusFiles {
		x, err := os.ReadFile(filepath.Join(a, f))
		require.NoError(t, err)
		y, err := os.ReadFile(filepath.Join(b, f))
		require.NoError(t, err)
		require.NotEmpty(t, x, f)
		require.True(t, bytes.Equal(x, y), "%s differs between two runs", f)
	}
	c := t.TempDir()
	_, err := generate(c, 2, 43)
	require.NoError(t, err)
	x, _ := os.ReadFile(filepath.Join(a, corpusFiles[2]))
	y, _ := os.ReadFile(filepath.Join(c, corpusFiles[2]))
	require.False(t, bytes.Equal(x, y), "another seed must give another corpus")
}

func TestTheCorpusIsWhatTheGroundTruthSays(t *testing.T) {
	t.Parallel()
	checkCorpus(t, genSmall(t))
}

// TestAGeneratedCorpus checks a full-size corpus made by piibench gen,
// when PIIBENCH_CORPUS names its directory.
func TestAGeneratedCorpus(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("PIIBENCH_CORPUS")
	if dir == "" {
		t.Skip("set PIIBENCH_CORPUS to a directory written by piibench gen")
	}
	checkCorpus(t, dir)
}

// checkCorpus asserts that every item is at its file:line:col, that no
// line holds two items, that items are on at most ~1% of the lines, that
// every planted value passes its type's validation and that every decoy
// fails it.
func checkCorpus(t *testing.T, dir string) {
	t.Helper()
	planted, err := readItems(filepath.Join(dir, truthFile))
	require.NoError(t, err)
	decoys, err := readItems(filepath.Join(dir, decoysFile))
	require.NoError(t, err)
	lines := map[string][][]byte{}
	total := 0
	for _, f := range fileNames {
		b, err := os.ReadFile(filepath.Join(dir, logsDir, f))
		require.NoError(t, err)
		require.True(t, bytes.HasSuffix(b, []byte("\n")))
		lines[f] = bytes.Split(b[:len(b)-1], []byte("\n"))
		total += len(lines[f])
	}
	taken := map[string]string{}
	for _, it := range slices.Concat(planted, decoys) {
		name := it.Rule + it.Kind + "/" + it.Variant
		ls := lines[it.File]
		require.Positive(t, it.Line, name)
		require.LessOrEqual(t, it.Line+it.lines()-1, len(ls), name)
		text := string(bytes.Join(ls[it.Line-1:it.Line-1+it.lines()], []byte("\n")))
		require.Positive(t, it.Col, name)
		require.True(t, strings.HasPrefix(text[it.Col-1:], it.Value), "%s is not at %s:%d:%d", name, it.File, it.Line, it.Col)
		for k := range it.lines() {
			key := it.File + ":" + strconv.Itoa(it.Line+k)
			require.Empty(t, taken[key], "%s and %s on one line %s", taken[key], name, key)
			taken[key] = name
		}
	}
	require.LessOrEqual(t, float64(len(planted)+len(decoys)), 0.011*float64(total), "items on more than 1%% of the lines")
	for _, it := range planted {
		assert.True(t, valid(t, it.Rule, it.Value), "planted %s %s %q fails its validation", it.Rule, it.Variant, it.Value)
	}
	for _, it := range decoys {
		rule := decoyRule[it.Kind]
		require.NotEmpty(t, rule, "decoy kind %s has no rule to fail", it.Kind)
		assert.False(t, valid(t, rule, it.Value), "decoy %s %s %q passes %s", it.Kind, it.Variant, it.Value, rule)
	}
	// Every ns timestamp of the app log is 19 digits long.
	for i, l := range lines["app.jsonl"] {
		require.Regexp(t, `^\{"ts_ns":\d{19},`, string(l[:min(len(l), 30)]), "app.jsonl:%d", i+1)
	}
}

// decoyRule is the rule each decoy kind must not pass.
var decoyRule = map[string]string{
	"card_ms_timestamp": ruleCard, "card_ns_timestamp": ruleCard, "card_stamp14": ruleCard, "card_bad_luhn": ruleCard,
	"card_masked": ruleCard, "order_id": ruleCard, "uuid": ruleCard, "version": rulePhone, "snmp_oid": rulePhone,
	"aws_example": ruleAWS, "email_lookalike": ruleEmail, "iban_bad_check": ruleIBAN, "ssn_invalid": ruleSSN,
	"github_bad_checksum": ruleGitHub, "jwt_bad_header": ruleJWT, "stripe_doc_key": ruleStripe,
	"pem_public_key": rulePrivKey, "pem_certificate": rulePrivKey,
}

var (
	reCard   = regexp.MustCompile(`^[0-9]+([ -][0-9]+)*$`)
	reSSN    = regexp.MustCompile(`^[0-9]{3}([ -]?)[0-9]{2}([ -]?)[0-9]{4}$`)
	reEmail  = regexp.MustCompile(`^[a-z0-9._+]+(@|%40)[a-z0-9.-]+\.(com|org|net|io|de|fr|co\.uk|com\.au|nl)$`)
	rePhone  = regexp.MustCompile(`^(\+1[ -]?)?\(?[2-9][0-8][0-9]\)?[ .-]?[2-9][0-9]{2}[ .-]?[0-9]{4}$|^\+(44|49|33) [1-9][0-9 ]{6,13}$`)
	reAWS    = regexp.MustCompile(`^(AKIA|ASIA)[A-Z2-7]{16}$`)
	reSlack  = regexp.MustCompile(`^xox[bp]-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24}$`)
	reStripe = regexp.MustCompile(`^(sk_live|rk_live|sk_test)_[A-Za-z0-9]{24}$`)
)

// valid is the test's view of "a correct detector reports this value".
func valid(t *testing.T, rule, v string) bool {
	t.Helper()
	switch rule {
	case ruleCard:
		// Groups are separated by one space or one dash, or not at all.
		if strings.ContainsAny(v, "X*") || !reCard.MatchString(v) {
			return false
		}
		return cardValid(digitsOnly(v))
	case ruleEmail:
		return reEmail.MatchString(v)
	case rulePhone:
		return rePhone.MatchString(v)
	case ruleSSN:
		return reSSN.MatchString(v) && ssnValid(digitsOnly(v))
	case ruleIBAN:
		return ibanValid(v)
	case ruleAWS:
		return reAWS.MatchString(v) && !strings.HasSuffix(v, "EXAMPLE")
	case ruleGitHub:
		return githubValid(v) && independentChecksum(v[4:34]) == v[34:]
	case ruleSlack:
		return reSlack.MatchString(v)
	case ruleStripe:
		return reStripe.MatchString(v) && v != stripeDocKey
	case ruleJWT:
		return jwtHeaderValid(v)
	case rulePrivKey:
		return privateKeyParses(t, v)
	}
	t.Fatalf("no validation for %s", rule)
	return false
}

// independentChecksum recomputes a GitHub token checksum without
// math/big: CRC-32 by repeated division into 0-9A-Za-z.
func independentChecksum(random string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE([]byte(random))
	out := []byte("000000")
	for i := 5; i >= 0 && v > 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out)
}

// privateKeyParses decodes a raw or JSON-escaped PEM private key.
func privateKeyParses(t *testing.T, v string) bool {
	t.Helper()
	block, rest := pem.Decode([]byte(strings.ReplaceAll(v, `\n`, "\n")))
	if block == nil || len(bytes.TrimSpace(rest)) > 0 {
		return false
	}
	var err error
	switch block.Type {
	case "RSA PRIVATE KEY":
		_, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		_, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		_, err = x509.ParseECPrivateKey(block.Bytes)
	case "OPENSSH PRIVATE KEY":
		if !bytes.HasPrefix(block.Bytes, []byte("openssh-key-v1\x00")) {
			return false
		}
	default:
		return false
	}
	require.NoError(t, err, block.Type)
	return true
}

func TestValidationsOnKnownValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, rule, value string
		want              bool
	}{
		{"the Visa test number passes", ruleCard, "4111 1111 1111 1111", true},
		{"an Amex number grouped 4-6-5 passes", ruleCard, "3782-822463-10005", true},
		{"a masked card fails", ruleCard, "4111-XXXX-XXXX-1111", false},
		{"a Luhn-valid ms timestamp has no issuer", ruleCard, "1795467681049", false},
		{"the German IBAN example passes", ruleIBAN, "DE89 3704 0044 0532 0130 00", true},
		{"the British IBAN example passes", ruleIBAN, "GB82WEST12345698765432", true},
		{"the Dutch IBAN example passes", ruleIBAN, "NL91ABNA0417164300", true},
		{"a wrong IBAN check digit fails", ruleIBAN, "DE88370400440532013000", false},
		{"SSN area 666 fails", ruleSSN, "666-12-3456", false},
		{"the Woolworth SSN fails", ruleSSN, "078-05-1120", false},
		{"a valid SSN passes", ruleSSN, "536-90-4399", true},
		{"the AWS documentation key fails", ruleAWS, awsExampleKeyID, false},
		{"the Stripe documentation key fails", ruleStripe, stripeDocKey, false},
		{"the jwt.io example passes", ruleJWT, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", true},
		{"retina asset names are not emails", ruleEmail, "logo@2x.png", false},
		{"a NANP number with a 1xx area fails", rulePhone, "(115) 555-2671", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, valid(t, tc.rule, tc.value))
		})
	}
}

func TestGitHubChecksumsAgreeWithAnIndependentEncoding(t *testing.T) {
	t.Parallel()
	for _, random := range []string{"000000000000000000000000000000", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1"} {
		require.Equal(t, independentChecksum(random), githubChecksum(random), random)
	}
}

// perfectReport is a check-pii report with one finding per planted item,
// at its absolute path, line and column.
func perfectReport(t *testing.T, dir string) map[string]any {
	t.Helper()
	planted, err := readItems(filepath.Join(dir, truthFile))
	require.NoError(t, err)
	logs, err := filepath.Abs(filepath.Join(dir, logsDir))
	require.NoError(t, err)
	var fs []map[string]any
	for _, it := range planted {
		fs = append(fs, map[string]any{"rule": it.Rule, "severity": "high", "object": it.File, "message": "found",
			"location": filepath.Join(logs, it.File) + ":" + strconv.Itoa(it.Line) + ":" + strconv.Itoa(it.Col)})
	}
	return map[string]any{"plugin": "check-pii", "status": 2, "summary": "x", "findings": fs, "findings_total": len(fs), "metrics": []any{}}
}

// scoreReport writes rep and runs piibench on it.
func scoreReport(t *testing.T, cmd, dir string, rep any) (int, *Score, string) {
	t.Helper()
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "report.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	out := filepath.Join(t.TempDir(), "score.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{cmd, dir, path, "--json", out}, &stdout, &stderr)
	require.Empty(t, stderr.String())
	sb, err := os.ReadFile(out)
	require.NoError(t, err)
	var s Score
	require.NoError(t, json.Unmarshal(sb, &s))
	return code, &s, stdout.String()
}

func rowOf(t *testing.T, s *Score, rule string) RuleScore {
	t.Helper()
	for _, r := range s.Rules {
		if r.Rule == rule {
			return r
		}
	}
	t.Fatalf("no row for %s", rule)
	return RuleScore{}
}

func TestAPerfectReportScoresOne(t *testing.T) {
	t.Parallel()
	dir := genSmall(t)
	code, s, out := scoreReport(t, "score", dir, perfectReport(t, dir))
	require.Equal(t, exitOK, code, out)
	require.True(t, s.Pass)
	require.Len(t, s.Rules, len(plantedRules))
	for _, r := range s.Rules {
		require.Positive(t, r.Planted, r.Rule)
		require.InDelta(t, 1.0, r.Recall, 0, r.Rule)
		require.InDelta(t, 1.0, r.Precision, 0, r.Rule)
	}
	require.Zero(t, s.DecoyHits+s.BackgroundFP+s.CrossRule+s.ColMismatches)
}

func TestAMissedItemADecoyHitAndABackgroundFindingFail(t *testing.T) {
	t.Parallel()
	dir := genSmall(t)
	rep := perfectReport(t, dir)
	fs := rep["findings"].([]map[string]any)
	var missed string
	for i, f := range fs {
		if f["rule"] == ruleEmail {
			missed = f["location"].(string)
			fs = append(fs[:i], fs[i+1:]...)
			break
		}
	}
	require.NotEmpty(t, missed)
	decoys, err := readItems(filepath.Join(dir, decoysFile))
	require.NoError(t, err)
	var decoy Item
	for _, d := range decoys {
		if d.Kind == "card_ms_timestamp" {
			decoy = d
		}
	}
	abs, err := filepath.Abs(filepath.Join(dir, logsDir))
	require.NoError(t, err)
	truth, err := loadTruth(dir)
	require.NoError(t, err)
	empty := 1 // the first syslog line with nothing planted
	for {
		if _, taken := truth.at["syslog:"+strconv.Itoa(empty)]; !taken {
			break
		}
		empty++
	}
	fs = append(fs,
		map[string]any{"rule": ruleCard, "severity": "critical", "object": "x", "message": "x",
			"location": filepath.Join(abs, decoy.File) + ":" + strconv.Itoa(decoy.Line) + ":" + strconv.Itoa(decoy.Col)},
		map[string]any{"rule": rulePhone, "severity": "medium", "object": "x", "message": "x",
			"location": filepath.Join(abs, "syslog") + ":" + strconv.Itoa(empty) + ":5"})
	rep["findings"], rep["findings_total"] = fs, len(fs)
	code, s, out := scoreReport(t, "score", dir, rep)
	require.Equal(t, exitFailed, code)
	require.False(t, s.Pass)
	email := rowOf(t, s, ruleEmail)
	require.Equal(t, email.Planted-1, email.Found)
	require.Less(t, email.Recall, minRecall)
	require.Equal(t, 1, s.DecoyHits)
	require.Equal(t, map[string]int{"card_ms_timestamp": 1}, s.DecoyHitsByKind)
	require.Equal(t, 1, rowOf(t, s, ruleCard).FalsePositives)
	require.Equal(t, 1, s.BackgroundFP)
	require.Equal(t, 1, rowOf(t, s, rulePhone).FalsePositives)
	require.Contains(t, out, "FAIL")
	require.Contains(t, out, "missed: pii.email")
}

func TestATruncatedReportFails(t *testing.T) {
	t.Parallel()
	dir := genSmall(t)
	rep := perfectReport(t, dir)
	rep["findings_total"] = 100000
	code, s, out := scoreReport(t, "score", dir, rep)
	require.Equal(t, exitFailed, code)
	require.False(t, s.Pass)
	require.Equal(t, 100000, s.Total)
	require.Contains(t, out, "--max-findings 0")
}

func TestGitleaksRuleIDsMapToOurs(t *testing.T) {
	t.Parallel()
	dir := genSmall(t)
	planted, err := readItems(filepath.Join(dir, truthFile))
	require.NoError(t, err)
	ids := map[string]string{ruleAWS: "aws-access-token", ruleGitHub: "github-pat", ruleSlack: "slack-bot-token",
		ruleStripe: "stripe-access-token", ruleJWT: "jwt", rulePrivKey: "private-key"}
	var rep []map[string]any
	for _, it := range planted {
		if id, ok := ids[it.Rule]; ok {
			rep = append(rep, map[string]any{"File": filepath.Join(dir, logsDir, it.File), "StartLine": it.Line, "StartColumn": it.Col, "RuleID": id})
		}
	}
	rep = append(rep, map[string]any{"File": filepath.Join(dir, logsDir, "syslog"), "StartLine": 1, "StartColumn": 1, "RuleID": "generic-api-key"})
	code, s, out := scoreReport(t, "score-gitleaks", dir, rep)
	require.Equal(t, exitOK, code, out)
	require.Len(t, s.Rules, len(ids))
	for _, r := range s.Rules {
		require.InDelta(t, 1.0, r.Recall, 0, r.Rule)
	}
	require.Equal(t, 1, s.Unmapped)
	require.Equal(t, 1, s.BackgroundFP)
}

func TestLocationsSplitOnTheLastTwoColons(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, loc, file string
		line, col       int
		bad             bool
	}{
		{name: "a plain path", loc: "/var/log/app.jsonl:1234:56", file: "/var/log/app.jsonl", line: 1234, col: 56},
		{name: "a path with colons", loc: "/data/c:d/x:y.log:7:1", file: "/data/c:d/x:y.log", line: 7, col: 1},
		{name: "no column", loc: "/var/log/syslog:12", bad: true},
		{name: "no numbers", loc: "/var/log/syslog", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file, line, col, err := parseLocation(tc.loc)
			if tc.bad {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, []any{tc.file, tc.line, tc.col}, []any{file, line, col})
		})
	}
}

func TestTheTypicalEventIsAbout4KBWithThreeEmailsAndACard(t *testing.T) {
	t.Parallel()
	b, err := typicalEvent()
	require.NoError(t, err)
	var ev struct {
		Check struct {
			Output string `json:"output"`
		} `json:"check"`
	}
	require.NoError(t, json.Unmarshal(b, &ev))
	out := ev.Check.Output
	require.InDelta(t, 4096, len(out), 600)
	require.Len(t, regexp.MustCompile(`[a-z0-9._+]+@[a-z0-9.-]+\.[a-z]+`).FindAllString(out, -1), 3)
	require.Contains(t, out, "payment declined for card ")
	b2, err := typicalEvent()
	require.NoError(t, err)
	require.True(t, bytes.Equal(b, b2), "two typical events differ")
}
