package pii

import (
	"encoding/base64"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

func scanAll(t *testing.T, s *Scanner, text string) []Match {
	t.Helper()
	var out []Match
	s.Scan([]byte(text), nil, func(m Match) { out = append(out, m) })
	return out
}

// ghToken builds a GitHub token with a correct checksum.
func ghToken(prefix, random string) string {
	sum := crc32.ChecksumIEEE([]byte(random))
	enc := make([]byte, 6)
	for k := 5; k >= 0; k-- {
		enc[k] = base62[sum%62]
		sum /= 62
	}
	return prefix + random + string(enc)
}

func TestDetectorsFindValidatedValues(t *testing.T) {
	t.Parallel()
	all, err := New(Options{Rules: Rules})
	require.NoError(t, err)
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	pem := "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n-----END RSA PRIVATE KEY-----"
	cases := []struct {
		name, text, rule, value string
	}{
		{"a Visa number in groups of four", `"card":"4111 1111 1111 1111"`, CreditCard, "4111 1111 1111 1111"},
		{"a compact Mastercard", "card=5555555555554444 ok", CreditCard, "5555555555554444"},
		{"a 2-series Mastercard with dashes", "cc 2223-0031-2200-3222.", CreditCard, "2223-0031-2200-3222"},
		{"an Amex in 4-6-5", "amex 3782 822463 10005 paid", CreditCard, "3782 822463 10005"},
		{"a Diners in 4-6-4", "diners 3056 930902 5904", CreditCard, "3056 930902 5904"},
		{"a JCB", "jcb:3530111333300000", CreditCard, "3530111333300000"},
		{"a Discover", "(6011111111111117)", CreditCard, "6011111111111117"},
		{"an email", "from jane.doe+tag@example.co.uk to", Email, "jane.doe+tag@example.co.uk"},
		{"a URL-encoded email", "GET /login?user=jane.doe%40gmail.com&x=1", Email, "jane.doe%40gmail.com"},
		{"an email in JSON", `{"email":"j_smith@mail.example.de"}`, Email, "j_smith@mail.example.de"},
		{"a dashed SSN", "ssn 219-09-9998 on file", USSSN, "219-09-9998"},
		{"a compact SSN after the word ssn", "ssn=536906000", USSSN, "536906000"},
		{"a spaced SSN after SSN", "SSN: 536 90 6000", USSSN, "536 90 6000"},
		{"a German IBAN", "iban DE89370400440532013000 ok", IBAN, "DE89370400440532013000"},
		{"a grouped IBAN", "IBAN: DE89 3704 0044 0532 0130 00.", IBAN, "DE89 3704 0044 0532 0130 00"},
		{"a British IBAN with letters", "GB82WEST12345698765432", IBAN, "GB82WEST12345698765432"},
		{"a Dutch IBAN", "to NL91ABNA0417164300", IBAN, "NL91ABNA0417164300"},
		{"a NANP number with +1", "call +1 415 555 2671 now", Phone, "+1 415 555 2671"},
		{"a NANP number with dashes", "tel 415-555-2671", Phone, "415-555-2671"},
		{"a NANP number with dots", "tel 415.555.2671", Phone, "415.555.2671"},
		{"a NANP number in parentheses", "tel (415) 555-2671", Phone, "(415) 555-2671"},
		{"a compact E.164 number", "sms +14155552671", Phone, "+14155552671"},
		{"a UK number", "tel +44 20 7946 0958", Phone, "+44 20 7946 0958"},
		{"a UK mobile", "+44 7700 900123", Phone, "+44 7700 900123"},
		{"a German number", "+49 30 901820", Phone, "+49 30 901820"},
		{"a French number", "+33 1 42 68 53 00", Phone, "+33 1 42 68 53 00"},
		{"an AWS access key", "aws_access_key_id=AKIAQYLPMN5HHHFPZAM2", AWSAccessKey, "AKIAQYLPMN5HHHFPZAM2"},
		{"a temporary AWS key", "ASIAQYLPMN5HHHFPZAM2,", AWSAccessKey, "ASIAQYLPMN5HHHFPZAM2"},
		{"a GitHub token", "token " + ghToken("ghp_", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123"), GitHubToken, ghToken("ghp_", "aBcDeFgHiJkLmNoPqRsTuVwXyZ0123")},
		{"a Slack bot token", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", SlackToken, "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"},
		{"a Stripe live key", `key: "sk_live_51HxYzAbCdEfGhIjKlMnOpQr"`, StripeKey, "sk_live_51HxYzAbCdEfGhIjKlMnOpQr"},
		{"a JWT", "Authorization: Bearer " + jwt, JWT, jwt},
		{"a PEM key over lines", "key:\n" + pem + "\n", PrivateKey, pem},
		{"a JSON-escaped PEM key", `{"key":"` + strings.ReplaceAll(pem, "\n", `\n`) + `"}`, PrivateKey, strings.ReplaceAll(pem, "\n", `\n`)},
		{"a public IP address", "client 8.8.8.8 -", IPAddress, "8.8.8.8"},
		// After a JSON escape ("\n", "\t"), whose letter is not part of the value.
		{"a card after an escaped newline", `{"m":"x\n4111 1111 1111 1111\tend"}`, CreditCard, "4111 1111 1111 1111"},
		{"an email after an escaped newline", `{"m":"x\nalice@example.com\nnext"}`, Email, "alice@example.com"},
		{"an SSN after an escaped tab", `{"m":"\t219-09-9998\n"}`, USSSN, "219-09-9998"},
		{"a phone after an escaped newline", `{"m":"call\n+1 415 555 2671\r\n"}`, Phone, "+1 415 555 2671"},
		{"an IBAN after an escaped newline", `{"m":"iban\nDE89370400440532013000\n"}`, IBAN, "DE89370400440532013000"},
		{"an AWS key after an escaped newline", `{"k":"\nAKIAQYLPMN5HHHFPZAM2\n"}`, AWSAccessKey, "AKIAQYLPMN5HHHFPZAM2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ms := scanAll(t, all, c.text)
			require.Len(t, ms, 1, "%q: %+v", c.text, ms)
			require.Equal(t, c.rule, ms[0].Rule)
			require.Equal(t, c.value, c.text[ms[0].Start:ms[0].End])
			require.NotContains(t, ms[0].Hint, c.value, "the hint never holds the value")
		})
	}
}

// luhnValid appends the Luhn check digit to prefix.
func luhnValid(t *testing.T, prefix string) string {
	t.Helper()
	for d := '0'; d <= '9'; d++ {
		if v := prefix + string(d); luhn([]byte(v)) {
			return v
		}
	}
	t.Fatalf("no check digit for %s", prefix)
	return ""
}

func TestLookalikesAreNotFindings(t *testing.T) {
	t.Parallel()
	all, err := New(Options{Rules: Rules})
	require.NoError(t, err)
	badJWT := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"JWT"}`)) + ".eyJzdWIiOiIxIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"
	cases := []struct{ name, text string }{
		{"a 13-digit millisecond timestamp that passes Luhn", `"ts":` + luhnValid(t, "176389201200")},
		{"a 19-digit nanosecond timestamp that passes Luhn", `"ts_ns":` + luhnValid(t, "176389201212345678")},
		{"a 14-digit date-time stamp that passes Luhn", "job " + luhnValid(t, "2026112310150") + " done"},
		{"an order id", `"order_id":"ORD-20261123-0004567"`},
		{"a UUID", "req 6f0c1e2a-4b3d-4c5e-9f61-7a8b9c0d1e2f"},
		{"a version string", `"version":"10.7.31.9" v2.1.1.108`},
		{"an SNMP OID", "snmpd: 1.3.6.1.4.1.2021.10.1.3.1"},
		{"a card number failing Luhn", "card 4111 1111 1111 1112"},
		{"a masked card number", "card 4111-XXXX-XXXX-1111"},
		{"a card number inside a word", "id=tx4111111111111111"},
		{"an image name", "src=logo@2x.png"},
		{"a Java object", "at Object@6d06d69c"},
		{"a local account", "mail to root@localhost"},
		{"an invalid domain", "user@host.invalid"},
		{"credentials in a URL", "db=postgres://admin:s3cret@db.example.com:5432/app"},
		{"an IBAN with a bad check", "DE88370400440532013000"},
		{"a grouped IBAN with a bad check whose digits pass Luhn as a Discover", "iban DE79 6450 4045 2680 0975 96"},
		{"an IBAN of the wrong length", "DE8937040044053201300"},
		{"an SSN with area 000", "ssn 000-12-3456"},
		{"an SSN with area 666", "ssn 666-12-3456"},
		{"an SSN in the 900s", "ssn 912-34-5678"},
		{"the famous fake SSN", "ssn 078-05-1120"},
		{"nine digits without context", "id 536906000"},
		{"the AWS documentation key", "AKIAIOSFODNN7EXAMPLE"},
		{"a GitHub token with a bad checksum", "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123000000"},
		{"Stripe's documentation key", "sk_test_4eC39HqLyjWDarjtT1zdp7dc"},
		{"a JWT-looking string without alg", badJWT},
		{"a public key", "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----"},
		{"a certificate", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		{"a phone number with an N11 area code", "tel 911-555-2671"},
		{"ten bare digits", "id 4155552671"},
		{"a time zone", "2026-11-23T10:15:02+00:00"},
		{"a NANP number with an exchange starting with 1", "tel 415-155-2671"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for _, m := range scanAll(t, all, c.text) {
				require.Equal(t, IPAddress, m.Rule, "%q matched %s %q", c.text, m.Rule, c.text[m.Start:m.End])
			}
		})
	}
}

func TestOverlapsResolveToTheLongerMatch(t *testing.T) {
	t.Parallel()
	s, err := New(Options{})
	require.NoError(t, err)
	// The digits of an IBAN are not also reported as a card or a phone.
	ms := scanAll(t, s, "pay to GB33 BUKB 2020 1555 5555 55 today")
	require.Len(t, ms, 1)
	require.Equal(t, IBAN, ms[0].Rule)
}

func TestIPAddressesAreClassified(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Rules: []string{IPAddress}})
	require.NoError(t, err)
	got := map[string]string{}
	for _, m := range scanAll(t, s, "a 10.1.2.3 b 8.8.4.4 c 192.0.2.10 d 127.0.0.1 e 999.1.1.1 f 1.3.6.1.4.1") {
		got[m.norm] = m.Class
	}
	require.Equal(t, map[string]string{"10.1.2.3": "private", "8.8.4.4": "public", "192.0.2.10": "reserved", "127.0.0.1": "reserved"}, got)
}

func TestRulesSelectDetectors(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Rules: []string{Email}})
	require.NoError(t, err)
	ms := scanAll(t, s, "a@example.com 4111111111111111")
	require.Len(t, ms, 1)
	require.Equal(t, Email, ms[0].Rule)
	_, err = New(Options{Rules: []string{"pii.colour"}})
	require.ErrorContains(t, err, `unknown rule "pii.colour"`)
	s, err = New(Options{})
	require.NoError(t, err)
	require.False(t, s.Enabled(IPAddress), "IP addresses are off by default")
}

func TestCardsBesideLongDigitRunsAndIBANLookalikes(t *testing.T) {
	t.Parallel()
	s := defaultScanner(t)
	long := strings.Repeat("0", 300)
	ms := scanAll(t, s, long+" 4111111111111111 ok")
	require.Len(t, ms, 1, "a group longer than 255 digits does not shift the next one")
	require.Equal(t, CreditCard, ms[0].Rule)
	require.Equal(t, len(long)+1, ms[0].Start)

	ms = scanAll(t, s, "ref AB12 4111 1111 1111 1111 paid")
	require.Len(t, ms, 1, "AB is no IBAN country: the groups after it are a card")
	require.Equal(t, CreditCard, ms[0].Rule)
	require.Empty(t, scanAll(t, s, "iban DE12 4111 1111 1111 1111 bad"), "the tail of an IBAN whose check failed is not a card")
}

func TestCustomDetectorsAddToTheBuiltInRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "detectors.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`detectors:
  - name: employee_id
    pattern: 'EMP-[0-9]{6}'
    severity: low
  - name: loyalty_card
    pattern: 'LC[0-9]{12}'
    validator: luhn
`), 0o600))
	custom, err := LoadCustom(path)
	require.NoError(t, err)

	s, err := New(Options{Custom: custom})
	require.NoError(t, err)
	var rules []string
	for _, m := range scanAll(t, s, "EMP-123456 jane@example.com LC411111111117 LC411111111112") {
		rules = append(rules, m.Rule)
	}
	require.Equal(t, []string{"custom.employee_id", Email, "custom.loyalty_card"}, rules, "the built-in rules still run; the Luhn validator drops the second card")
	require.True(t, s.Enabled("custom.employee_id"))
	require.Equal(t, finding.Low, s.Severity("custom.employee_id"))
	require.Equal(t, finding.High, s.Severity("custom.loyalty_card"), "custom detectors are high unless they say")
	require.Equal(t, finding.Critical, s.Severity(CreditCard))

	iban := filepath.Join(dir, "iban.yaml")
	require.NoError(t, os.WriteFile(iban, []byte("detectors: [{name: acct, pattern: '[A-Z]{2}[0-9]{2}[A-Z0-9 -]{10,30}', validator: mod97}]\n"), 0o600))
	ibans, err := LoadCustom(iban)
	require.NoError(t, err)
	s, err = New(Options{Rules: []string{"custom.acct"}, Custom: ibans})
	require.NoError(t, err)
	require.Len(t, scanAll(t, s, "DE89 3704 0044 0532 0130 00"), 1)
	require.Empty(t, scanAll(t, s, "DE89-3704-0044-0532-0130-00"), "punctuation other than spaces is not an IBAN")

	only, err := New(Options{Rules: []string{"custom.employee_id"}, Custom: custom})
	require.NoError(t, err)
	require.False(t, only.Enabled(Email), "--types naming only custom rules turns the built-in ones off")

	for body, want := range map[string]string{
		"detectors: [{name: x}]":                           "a pattern is required",
		"detectors: [{name: x, pattern: '('}]":             "bad pattern",
		"detectors: [{name: 'a b', pattern: x}]":           "a name without spaces or dots is required",
		"detectors: [{name: x, pattern: x, validator: y}]": `unknown validator "y"`,
		"detectors: [{name: x, pattern: x, colour: red}]":  "field colour not found",
	} {
		bad := filepath.Join(dir, "bad.yaml")
		require.NoError(t, os.WriteFile(bad, []byte(body), 0o600))
		_, err := LoadCustom(bad)
		require.ErrorContains(t, err, want, body)
		require.NotContains(t, err.Error(), "\n")
	}
}

func TestFingerprintsAreKeyedAndStable(t *testing.T) {
	t.Parallel()
	f1, err := NewFingerprinter([]byte("0123456789abcdef"))
	require.NoError(t, err)
	f2, err := NewFingerprinter([]byte("fedcba9876543210"))
	require.NoError(t, err)
	s := defaultScanner(t)
	a := scanAll(t, s, "card 4111 1111 1111 1111")[0]
	b := scanAll(t, s, "card 4111-1111-1111-1111")[0]
	require.Equal(t, f1.Of(a), f1.Of(b), "the same number, grouped differently, is the same value")
	require.NotEqual(t, f1.Of(a), f2.Of(a), "another key, another fingerprint")
	require.Len(t, f1.Of(a), 32)
	require.NotContains(t, f1.Token(a), "4111")
	_, err = NewFingerprinter([]byte("short"))
	require.Error(t, err)
}

func TestASecretAtEveryOffsetOfTheBuffer(t *testing.T) {
	t.Parallel()
	s := defaultScanner(t)
	tok := ghToken("ghp_", "zyxwvutsrqponmlkjihgfedcba9876")
	for pad := range 64 {
		text := strings.Repeat("x ", pad) + tok + " " + strings.Repeat("y", pad)
		ms := scanAll(t, s, text)
		require.Len(t, ms, 1, "pad %d", pad)
		require.Equal(t, tok, text[ms[0].Start:ms[0].End])
	}
}

func FuzzScanNeverPanics(f *testing.F) {
	for _, seed := range []string{"4111 1111 1111 1111", "a@b.co", "+44 20 7946 0958", "DE89 3704", "-----BEGIN RSA PRIVATE KEY-----", "eyJhbGciOiJub25lIn0.e30.", "ghp_", "xoxb-1-2-3", "(415) 555-", "%40x.com", "1.2.3.4.5"} {
		f.Add(seed)
	}
	s, err := New(Options{Rules: Rules})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s.Scan([]byte(text), nil, func(m Match) {
			if m.Start < 0 || m.End > len(text) || m.Start >= m.End {
				t.Fatalf("bad match %+v in %q", m, text)
			}
		})
	})
}

func defaultScanner(t *testing.T) *Scanner {
	t.Helper()
	s, err := New(Options{})
	require.NoError(t, err)
	return s
}
