package pii

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"strings"
)

var (
	litBegin  = []byte("-----BEGIN ")
	litGithub = []byte("github")
	litLive   = []byte("live_")
	litTest   = []byte("test_")

	isBase32    = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
	isBase64URL = byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_")
	isSlack     = byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
)

// documentationValues are published examples, never real credentials.
var documentationValues = map[string]bool{
	"AKIAIOSFODNN7EXAMPLE":             true,
	"sk_test_4eC39HqLyjWDarjtT1zdp7dc": true,
	"sk_test_BQokikJOvBiI2HlWgH4olfQ2": true,
}

// scanLiterals finds the credentials that have a fixed prefix. Each
// search runs on the runtime's vectorised IndexByte, anchored on a byte
// that is rare in logs (the '_' of ghp_ and sk_live_, the 'J' of eyJ, the
// 'I' of AKIA and ASIA, the 'B' of -----BEGIN), so that it skips most of
// the data at memory speed.
func (s *Scanner) scanLiterals(data []byte, ms []Match) []Match {
	n := len(data)
	add := func(m Match, ok bool) {
		if ok {
			ms = append(ms, m)
		}
	}
	if s.on[rGitHub] || s.on[rStripe] {
		eachByte(data, '_', func(i int) {
			if i >= 3 && s.on[rGitHub] && data[i-3] == 'g' && data[i-2] == 'h' {
				add(githubToken(data, i-3))
			}
			if i >= 6 && s.on[rGitHub] && data[i-1] == 'b' && bytes.Equal(data[i-6:i], litGithub) {
				add(githubToken(data, i-6))
			}
			if i >= 2 && s.on[rStripe] && data[i-1] == 'k' && (data[i-2] == 's' || data[i-2] == 'r') && i+6 < n &&
				(bytes.Equal(data[i+1:i+6], litLive) || bytes.Equal(data[i+1:i+6], litTest)) {
				add(stripeKey(data, i-2))
			}
		})
	}
	if s.on[rJWT] {
		eachByte(data, 'J', func(i int) {
			if i >= 2 && data[i-1] == 'y' && data[i-2] == 'e' {
				add(jwtAt(data, i-2))
			}
		})
	}
	if s.on[rAWS] {
		// The 'I' of AKIA and ASIA.
		eachByte(data, 'I', func(i int) {
			if i >= 2 && i+1 < n && data[i-2] == 'A' && (data[i-1] == 'K' || data[i-1] == 'S') && data[i+1] == 'A' {
				add(awsKey(data, i-2))
			}
		})
	}
	if s.on[rSlack] {
		eachByte(data, 'x', func(i int) {
			if i+2 < n && data[i+1] == 'o' && data[i+2] == 'x' {
				add(slackToken(data, i))
			}
		})
	}
	if s.on[rPEM] {
		// The 'B' of "-----BEGIN ".
		eachByte(data, 'B', func(i int) {
			if i >= 5 && bytes.HasPrefix(data[i-5:], litBegin) {
				add(privateKey(data, i-5))
			}
		})
	}
	return ms
}

// eachByte calls f at every offset of c in data.
func eachByte(data []byte, c byte, f func(i int)) {
	for off := 0; off < len(data); {
		j := bytes.IndexByte(data[off:], c)
		if j < 0 {
			return
		}
		f(off + j)
		off += j + 1
	}
}

// span returns the end of the run of set bytes from i.
func span(data []byte, i int, set *[256]bool) int {
	for i < len(data) && set[data[i]] {
		i++
	}
	return i
}

// awsKey: AKIA or ASIA and 16 base32 characters, a whole token.
func awsKey(data []byte, i int) (Match, bool) {
	end := i + 20
	if !boundary(data, i) || end > len(data) || span(data, i+4, &isBase32) != end || (end < len(data) && isAlnum[data[end]]) {
		return Match{}, false
	}
	v := string(data[i:end])
	if documentationValues[v] || strings.HasSuffix(v, "EXAMPLE") {
		return Match{}, false
	}
	kind := "long-term"
	if v[1] == 'S' {
		kind = "temporary"
	}
	return Match{Rule: AWSAccessKey, Start: i, End: end, Class: kind, Hint: "AWS " + kind + " access key " + v[:4] + "…", norm: v}, true
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// githubToken: gh[pousr]_ and 36 base62 characters whose last six are the
// base62 CRC-32 of the first thirty (github.blog, 2021-04-05); or a
// fine-grained github_pat_ token.
func githubToken(data []byte, i int) (Match, bool) {
	if !boundary(data, i) || i+4 > len(data) {
		return Match{}, false
	}
	if bytes.HasPrefix(data[i:], []byte("github_pat_")) {
		end := span(data, i+11, &isWord)
		if end-i-11 < 60 {
			return Match{}, false
		}
		return Match{Rule: GitHubToken, Start: i, End: end, Class: "fine-grained", Hint: "GitHub token github_pat_…", norm: string(data[i:end])}, true
	}
	switch data[i+2] {
	case 'p', 'o', 'u', 's', 'r':
	default:
		return Match{}, false
	}
	if data[i+3] != '_' {
		return Match{}, false
	}
	body := i + 4
	end := span(data, body, &isAlnum)
	if end-body != 36 || (end < len(data) && isWord[data[end]]) {
		return Match{}, false
	}
	random, check := data[body:body+30], data[body+30:end]
	sum := crc32.ChecksumIEEE(random)
	var enc [6]byte
	for k := 5; k >= 0; k-- {
		enc[k] = base62[sum%62]
		sum /= 62
	}
	if sum != 0 || !bytes.Equal(enc[:], check) {
		return Match{}, false
	}
	prefix := string(data[i : i+4])
	return Match{Rule: GitHubToken, Start: i, End: end, Class: prefix, Hint: "GitHub token " + prefix + "…", norm: string(data[i:end])}, true
}

// slackToken: xox[abposr]- and at least three dash-separated parts, the
// first numeric.
func slackToken(data []byte, i int) (Match, bool) {
	if !boundary(data, i) || i+5 > len(data) || data[i+4] != '-' {
		return Match{}, false
	}
	switch data[i+3] {
	case 'a', 'b', 'p', 'o', 's', 'r', 'e':
	default:
		return Match{}, false
	}
	end := span(data, i+5, &isSlack)
	for end > i+5 && data[end-1] == '-' {
		end--
	}
	body := data[i+5 : end]
	parts := bytes.Split(body, []byte("-"))
	if len(parts) < 3 || len(body) < 20 || span(parts[0], 0, &isDigit) != len(parts[0]) || len(parts[0]) < 8 {
		return Match{}, false
	}
	last := parts[len(parts)-1]
	if len(last) < 16 {
		return Match{}, false
	}
	return Match{Rule: SlackToken, Start: i, End: end, Class: string(data[i : i+4]), Hint: "Slack token " + string(data[i:i+5]) + "…", norm: string(data[i:end])}, true
}

// stripeKey: sk_live_, rk_live_, sk_test_ or rk_test_ and at least 16
// alphanumerics; i points at the 's' or 'r'.
func stripeKey(data []byte, i int) (Match, bool) {
	if i < 0 || (data[i] != 's' && data[i] != 'r') || !boundary(data, i) {
		return Match{}, false
	}
	body := i + 8
	end := span(data, body, &isAlnum)
	if end-body < 16 || (end < len(data) && isWord[data[end]]) {
		return Match{}, false
	}
	v := string(data[i:end])
	if documentationValues[v] {
		return Match{}, false
	}
	return Match{Rule: StripeKey, Start: i, End: end, Class: v[:7], Hint: "Stripe key " + v[:8] + "…", norm: v}, true
}

// jwtAt: three base64url segments whose header decodes to a JSON object
// with "alg".
func jwtAt(data []byte, i int) (Match, bool) {
	if !boundary(data, i) {
		return Match{}, false
	}
	h := span(data, i, &isBase64URL)
	if h-i < 10 || h >= len(data) || data[h] != '.' {
		return Match{}, false
	}
	p := span(data, h+1, &isBase64URL)
	if p-h-1 < 4 || p >= len(data) || data[p] != '.' {
		return Match{}, false
	}
	sig := span(data, p+1, &isBase64URL)
	if sig-p-1 < 16 {
		return Match{}, false
	}
	hdr, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(string(data[i:h]), "="))
	if err != nil {
		return Match{}, false
	}
	var head struct {
		Alg *string `json:"alg"`
	}
	if json.Unmarshal(hdr, &head) != nil || head.Alg == nil {
		return Match{}, false
	}
	return Match{Rule: JWT, Start: i, End: sig, Class: *head.Alg, Hint: "JWT signed with " + *head.Alg, norm: string(data[i:sig])}, true
}

// privateKey: a PEM private key block, raw over several lines or
// JSON-escaped on one. The BEGIN line is the evidence; the match runs to
// the END line when it is within 16 KiB, so that redaction removes the
// whole key.
func privateKey(data []byte, i int) (Match, bool) {
	lineEnd := i + len(litBegin)
	for lineEnd < len(data) && lineEnd-i < 64 && data[lineEnd] != '-' && data[lineEnd] != '\n' {
		lineEnd++
	}
	label := string(data[i+len(litBegin) : lineEnd])
	if !strings.HasSuffix(label, "PRIVATE KEY") || !bytes.HasPrefix(data[lineEnd:], []byte("-----")) {
		return Match{}, false
	}
	end := lineEnd + 5
	if k := bytes.Index(data[end:min(len(data), end+16<<10)], []byte("-----END "+label+"-----")); k >= 0 {
		end += k + len("-----END "+label+"-----")
	}
	kind := strings.TrimSpace(strings.TrimSuffix(label, "PRIVATE KEY"))
	if kind == "" {
		kind = "PKCS8"
	}
	return Match{Rule: PrivateKey, Start: i, End: end, Class: kind, Hint: kind + " private key", norm: string(data[i:end])}, true
}
