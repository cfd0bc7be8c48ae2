package main

import (
	"encoding/base64"
	"hash/crc32"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
)

// This file makes the values that are planted (valid by the definition
// of their type) and the look-alikes that are not, and holds the checks
// both are held to. The checks are the generator's own guarantee, asserted
// while generating and in the test; they are not check-pii's detectors.

const (
	digits    = "0123456789"
	upper     = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	base62    = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	base32AWS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	alnum     = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	base64std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	hexLower  = "0123456789abcdef"
)

// pick returns one element of a list.
func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// randStr returns n characters of the alphabet.
func randStr(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// digitsOnly drops everything but ASCII digits.
func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// --- cards ---

// luhnValid reports whether a digit string passes the Luhn check.
func luhnValid(num string) bool {
	if len(num) < 2 {
		return false
	}
	sum := 0
	for i := range len(num) {
		c := num[len(num)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// luhnComplete appends the check digit that makes body pass Luhn.
func luhnComplete(body string) string {
	for d := byte('0'); d <= '9'; d++ {
		if s := body + string(d); luhnValid(s) {
			return s
		}
	}
	panic("unreachable: one of ten check digits passes")
}

// A brand is a card issuer: its IIN ranges (inclusive, same width) and
// number length, and how it is printed in groups.
type brand struct {
	name   string
	ranges [][2]int
	length int
	groups []int
}

var brands = []brand{
	{"visa", [][2]int{{4, 4}}, 16, []int{4, 4, 4, 4}},
	{"mastercard", [][2]int{{51, 55}}, 16, []int{4, 4, 4, 4}},
	{"mastercard2", [][2]int{{2221, 2720}}, 16, []int{4, 4, 4, 4}},
	{"amex", [][2]int{{34, 34}, {37, 37}}, 15, []int{4, 6, 5}},
	{"discover", [][2]int{{6011, 6011}, {65, 65}}, 16, []int{4, 4, 4, 4}},
	{"jcb", [][2]int{{3528, 3589}}, 16, []int{4, 4, 4, 4}},
	{"diners", [][2]int{{36, 36}}, 14, []int{4, 6, 4}},
}

// cardBrand returns the brand of a digit string whose IIN and length
// match the table, or "".
func cardBrand(num string) string {
	for _, b := range brands {
		if len(num) != b.length {
			continue
		}
		for _, rg := range b.ranges {
			w := len(strconv.Itoa(rg[0]))
			p, err := strconv.Atoi(num[:w])
			if err == nil && p >= rg[0] && p <= rg[1] {
				return b.name
			}
		}
	}
	return ""
}

// cardValid is what a correct detector accepts: a known IIN for the
// length and a Luhn check digit.
func cardValid(num string) bool { return cardBrand(num) != "" && luhnValid(num) }

// cardDigits returns the digits of a card of brand b; valid chooses
// whether the check digit is right.
func cardDigits(r *rand.Rand, b brand, valid bool) string {
	rg := pick(r, b.ranges)
	prefix := strconv.Itoa(rg[0] + r.IntN(rg[1]-rg[0]+1))
	num := luhnComplete(prefix + randStr(r, digits, b.length-len(prefix)-1))
	if !valid {
		last := num[len(num)-1] - '0'
		num = num[:len(num)-1] + string('0'+(last+1+byte(r.IntN(9)))%10)
	}
	return num
}

// groupDigits prints num in the brand's groups joined by sep.
func groupDigits(num string, groups []int, sep string) string {
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(num[:g])
		num = num[g:]
	}
	return b.String()
}

// card returns a printed card number and its variant.
func card(r *rand.Rand, valid bool) (value, variant string) {
	b := pick(r, brands)
	num := cardDigits(r, b, valid)
	switch r.IntN(3) {
	case 0:
		return num, "compact"
	case 1:
		return groupDigits(num, b.groups, " "), "space"
	default:
		return groupDigits(num, b.groups, "-"), "dash"
	}
}

// --- emails ---

var (
	firstNames = []string{"jane", "john", "maria", "ahmed", "li", "olga", "pierre", "sofia", "lukas", "emma", "noah", "mia", "yuki", "carlos", "anna", "tom", "fatima", "ivan", "chloe", "jonas", "amelie", "oliver", "isla", "raj", "priya", "lea", "max", "nina", "sam", "zoe"}
	lastNames  = []string{"doe", "smith", "garcia", "muller", "dubois", "rossi", "jansen", "de.vries", "nguyen", "kowalski", "brown", "wilson", "martin", "bernard", "schmidt", "weber", "taylor", "moreau", "bakker", "visser", "patel", "khan", "ito", "lopez", "novak", "fischer", "wagner", "clark", "evans", "walsh"}
	mailHosts  = []struct{ name, suffix string }{
		{"example", "org"}, {"acme-corp", "com"}, {"globex", "net"}, {"initech", "io"}, {"posteo", "de"}, {"gmx", "de"},
		{"orange", "fr"}, {"laposte", "fr"}, {"btinternet", "co.uk"}, {"sky", "co.uk"}, {"bigpond", "com.au"},
		{"optusnet", "com.au"}, {"ziggo", "nl"}, {"kpnmail", "nl"}, {"gmail", "com"}, {"outlook", "com"},
		{"fastmail", "com"}, {"mailbox", "org"}, {"contoso", "org"}, {"northwind", "net"}, {"t-online", "de"},
		{"free", "fr"}, {"umbrella", "co.uk"}, {"fabrikam", "com.au"},
	}
)

// email returns an address; encoded replaces '@' with %40 and leaves out
// '+tag' (a '+' in a query string would itself be encoded).
func email(r *rand.Rand, encoded bool) string {
	first, last := pick(r, firstNames), pick(r, lastNames)
	var local string
	switch r.IntN(6) {
	case 0:
		local = first + "." + last
	case 1:
		local = first + "_" + strings.ReplaceAll(last, ".", "")
	case 2:
		local = first[:1] + strings.ReplaceAll(last, ".", "") + strconv.Itoa(r.IntN(100))
	case 3:
		local = first + "." + last + "+" + pick(r, []string{"news", "shop", "billing", "test", "alerts"})
	case 4:
		local = first + strconv.Itoa(1950+r.IntN(60))
	default:
		local = first + "." + last + "." + strconv.Itoa(r.IntN(1000))
	}
	if i := strings.IndexByte(local, '+'); encoded && i >= 0 {
		local = local[:i]
	}
	h := pick(r, mailHosts)
	domain := h.name + "." + h.suffix
	if r.IntN(5) == 0 {
		domain = pick(r, []string{"mail.", "eu.", "corp."}) + domain
	}
	if encoded {
		return local + "%40" + domain
	}
	return local + "@" + domain
}

// --- phones ---

// nanp returns an area code, exchange and line number under the North
// American Numbering Plan rules (no N11 codes).
func nanp(r *rand.Rand) (area, exch, line string) {
	three := func(second string) string {
		for {
			s := string(digits[2+r.IntN(8)]) + string(second[r.IntN(len(second))]) + string(digits[r.IntN(10)])
			if s[1:] != "11" {
				return s
			}
		}
	}
	return three("012345678"), three(digits), randStr(r, digits, 4)
}

// phoneFormats are the printed shapes, by variant name.
var phoneFormats = []string{"nanp_plus_space", "nanp_plus_dash", "nanp_paren", "nanp_dash", "nanp_dot", "nanp_e164", "uk_london", "uk_mobile", "de_berlin", "de_mobile", "fr_paris"}

// phone returns a number in the given variant.
func phone(r *rand.Rand, variant string) string {
	a, e, l := nanp(r)
	switch variant {
	case "nanp_plus_space":
		return "+1 " + a + " " + e + " " + l
	case "nanp_plus_dash":
		return "+1-" + a + "-" + e + "-" + l
	case "nanp_paren":
		return "(" + a + ") " + e + "-" + l
	case "nanp_dash":
		return a + "-" + e + "-" + l
	case "nanp_dot":
		return a + "." + e + "." + l
	case "nanp_e164":
		return "+1" + a + e + l
	case "uk_london":
		return "+44 20 " + pick(r, []string{"3", "7", "8"}) + randStr(r, digits, 3) + " " + randStr(r, digits, 4)
	case "uk_mobile":
		return "+44 7" + string(digits[1+r.IntN(9)]) + randStr(r, digits, 2) + " " + randStr(r, digits, 6)
	case "de_berlin":
		return "+49 30 " + string(digits[1+r.IntN(9)]) + randStr(r, digits, 5)
	case "de_mobile":
		return "+49 1" + pick(r, []string{"51", "52", "57", "60", "62", "70", "71", "76"}) + " " + string(digits[1+r.IntN(9)]) + randStr(r, digits, 7)
	default: // fr_paris
		return "+33 " + string(digits[1+r.IntN(7)]) + " " + randStr(r, digits, 2) + " " + randStr(r, digits, 2) + " " + randStr(r, digits, 2) + " " + randStr(r, digits, 2)
	}
}

// --- SSNs ---

// ssnValid checks area 001-899 but not 666, group 01-99, serial
// 0001-9999 and the two famous fakes, on the nine digits.
func ssnValid(d string) bool {
	if len(d) != 9 || digitsOnly(d) != d {
		return false
	}
	area, _ := strconv.Atoi(d[:3])
	group, _ := strconv.Atoi(d[3:5])
	serial, _ := strconv.Atoi(d[5:])
	return area >= 1 && area <= 899 && area != 666 && group >= 1 && serial >= 1 && d != "078051120" && d != "123456789"
}

// ssnDigits returns nine valid digits.
func ssnDigits(r *rand.Rand) string {
	for {
		d := strconv.Itoa(1000 + 1 + r.IntN(899))[1:] + strconv.Itoa(100 + 1 + r.IntN(99))[1:] + strconv.Itoa(10000 + 1 + r.IntN(9999))[1:]
		if ssnValid(d) {
			return d
		}
	}
}

// badSSNDigits returns nine digits a validator must reject.
func badSSNDigits(r *rand.Rand) (string, string) {
	rest := strconv.Itoa(100 + 1 + r.IntN(99))[1:] + strconv.Itoa(10000 + 1 + r.IntN(9999))[1:]
	switch r.IntN(5) {
	case 0:
		return "000" + rest, "area_000"
	case 1:
		return "666" + rest, "area_666"
	case 2:
		return "9" + randStr(r, digits, 2) + rest, "area_9xx"
	case 3:
		return "078051120", "fake_078051120"
	default:
		return "123456789", "fake_123456789"
	}
}

// ssnDashed prints AAA-GG-SSSS.
func ssnDashed(d string) string { return d[:3] + "-" + d[3:5] + "-" + d[5:] }

// --- IBANs ---

// ibanCountry is a country's IBAN length and how its BBAN is built:
// 'n' a digit, 'a' an upper-case letter, 'c' either.
type ibanCountry struct{ code, bban string }

var ibanCountries = []ibanCountry{
	{"DE", strings.Repeat("n", 18)},                                  // 22: bank code, account
	{"GB", "aaaa" + strings.Repeat("n", 14)},                         // 22: bank, sort code, account
	{"FR", strings.Repeat("n", 10) + strings.Repeat("c", 11) + "nn"}, // 27: bank, branch, account, key
	{"NL", "aaaa" + strings.Repeat("n", 10)},                         // 18: bank, account
	{"ES", strings.Repeat("n", 20)},                                  // 24: bank, branch, check, account
	{"IT", "a" + strings.Repeat("n", 10) + strings.Repeat("c", 12)},  // 27: CIN, ABI, CAB, account
	{"CH", strings.Repeat("n", 5) + strings.Repeat("c", 12)},         // 21: bank, account
}

// ibanMod97 computes the IBAN remainder: BBAN, then the country and
// check digits, letters as 10..35.
func ibanMod97(s string) int {
	rearranged := s[4:] + s[:4]
	m := 0
	for i := range len(rearranged) {
		c := rearranged[i]
		switch {
		case c >= '0' && c <= '9':
			m = (m*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			m = (m*100 + int(c-'A'+10)) % 97
		default:
			return -1
		}
	}
	return m
}

// ibanValid checks the country's length and the mod-97 check.
func ibanValid(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 5 {
		return false
	}
	for _, c := range ibanCountries {
		if c.code == s[:2] {
			return len(s) == 4+len(c.bban) && ibanMod97(s) == 1
		}
	}
	return false
}

// iban returns a compact IBAN of a random country; valid chooses the
// check digits.
func iban(r *rand.Rand, valid bool) string {
	c := pick(r, ibanCountries)
	b := make([]byte, len(c.bban))
	for i, k := range []byte(c.bban) {
		switch k {
		case 'n':
			b[i] = digits[r.IntN(10)]
		case 'a':
			b[i] = upper[r.IntN(26)]
		default:
			if r.IntN(4) == 0 {
				b[i] = upper[r.IntN(26)]
			} else {
				b[i] = digits[r.IntN(10)]
			}
		}
	}
	check := 98 - ibanMod97(c.code+"00"+string(b))
	if !valid {
		check = 2 + (check-2+1+r.IntN(96))%97 // any other of 02..98
	}
	return c.code + strconv.Itoa(100 + check)[1:] + string(b)
}

// groupBy4 prints s in groups of four joined by single spaces.
func groupBy4(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// --- GitHub tokens ---

// githubChecksum is the 6-character checksum of a GitHub token: CRC-32
// (IEEE) of the 30 random characters, big-endian, in base62 (0-9A-Za-z),
// left-padded with '0'.
func githubChecksum(random string) string {
	v := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(random))))
	s := v.Text(62)
	// big.Int's base 62 is 0-9a-zA-Z; GitHub's alphabet puts upper case first.
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z':
			b[i] = c - 'A' + 'a'
		}
	}
	return strings.Repeat("0", 6-len(b)) + string(b)
}

// githubValid checks the prefix, the length and the checksum.
func githubValid(tok string) bool {
	if len(tok) != 40 || tok[:2] != "gh" || !strings.ContainsRune("pousr", rune(tok[2])) || tok[3] != '_' {
		return false
	}
	return githubChecksum(tok[4:34]) == tok[34:]
}

// githubToken returns a token; valid chooses the checksum.
func githubToken(r *rand.Rand, valid bool) string {
	random := randStr(r, base62, 30)
	sum := githubChecksum(random)
	if !valid {
		last := strings.IndexByte(base62, sum[5])
		sum = sum[:5] + string(base62[(last+1+r.IntN(61))%62])
	}
	return "gh" + pick(r, []string{"p", "p", "p", "o", "u", "s", "r"}) + "_" + random + sum
}

// --- JWTs ---

var b64url = base64.RawURLEncoding

// jwtHeaders are real header shapes.
var jwtHeaders = []string{
	`{"alg":"HS256","typ":"JWT"}`,
	`{"alg":"RS256","typ":"JWT","kid":"%s"}`,
	`{"typ":"JWT","alg":"ES256"}`,
	`{"alg":"RS256","kid":"%s"}`,
}

// jwt returns a token; header is the JSON header.
func jwt(r *rand.Rand, header string) string {
	iat := 1795392000 + r.IntN(86400)
	payload := `{"sub":"user-` + strconv.Itoa(10000+r.IntN(90000)) + `","iat":` + strconv.Itoa(iat) + `,"exp":` + strconv.Itoa(iat+3600) +
		`,"iss":"https://auth.` + pick(r, mailHosts).name + `.io","scope":"` + pick(r, []string{"read", "read write", "admin", "orders:read"}) + `"}`
	sig := make([]byte, 32)
	for i := range sig {
		sig[i] = byte(r.Uint32())
	}
	return b64url.EncodeToString([]byte(header)) + "." + b64url.EncodeToString([]byte(payload)) + "." + b64url.EncodeToString(sig)
}

// validJWT returns a token with a header that has "alg", and the alg.
func validJWT(r *rand.Rand) (tok, alg string) {
	h := strings.Replace(pick(r, jwtHeaders), "%s", randStr(r, hexLower, 8), 1)
	alg = h[strings.Index(h, `"alg":"`)+7:]
	return jwt(r, h), strings.ToLower(alg[:strings.IndexByte(alg, '"')])
}

// jwtHeaderValid reports whether the first segment decodes to a JSON
// object with "alg" (a shallow check, enough for the headers made here).
func jwtHeaderValid(tok string) bool {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || len(parts[2]) == 0 {
		return false
	}
	h, err := b64url.DecodeString(parts[0])
	if err != nil {
		return false
	}
	s := string(h)
	return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && strings.Contains(s, `"alg":"`)
}

// --- other secrets ---

// awsKeyID returns AKIA or ASIA and 16 base32 characters.
func awsKeyID(r *rand.Rand) string {
	return pick(r, []string{"AKIA", "AKIA", "AKIA", "ASIA"}) + randStr(r, base32AWS, 16)
}

// awsSecretKey returns 40 base64 characters.
func awsSecretKey(r *rand.Rand) string { return randStr(r, base64std, 40) }

// slackToken returns xoxb-/xoxp- digits-digits-24 alphanumerics.
func slackToken(r *rand.Rand) string {
	return pick(r, []string{"xoxb-", "xoxp-"}) + string(digits[1+r.IntN(9)]) + randStr(r, digits, 10+r.IntN(2)) + "-" +
		string(digits[1+r.IntN(9)]) + randStr(r, digits, 11+r.IntN(2)) + "-" + randStr(r, alnum, 24)
}

// stripeKey returns a live or test secret or restricted key.
func stripeKey(r *rand.Rand) string {
	return pick(r, []string{"sk_live_", "sk_live_", "rk_live_", "sk_test_"}) + randStr(r, alnum, 24)
}

// The documentation values every detector must ignore.
const (
	awsExampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	awsExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	stripeDocKey     = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
)
