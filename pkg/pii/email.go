package pii

import (
	"bytes"
	"strings"

	"golang.org/x/net/publicsuffix"
)

var (
	isLocal  = byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._%+-")
	isDomain = byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-.")
)

// emailAt parses an email around an '@' at data[at] (or "%40", URL
// encoded, with the domain from dom). The domain must end in a real ICANN
// public suffix with a registrable name before it: logo@2x.png,
// Object@6d06d69c and root@localhost are not addresses.
func emailAt(data []byte, at, dom int, ms []Match) []Match {
	start := at
	for start > 0 && at-start < 64 && isLocal[data[start-1]] {
		start--
	}
	// "\njane@…" in a JSON string: the 'n' belongs to the escape.
	if start > 0 && start < at && data[start-1] == '\\' {
		start++
	}
	for start < at && data[start] == '.' {
		start++
	}
	if start == at || data[at-1] == '.' {
		return ms
	}
	// "scheme://user:password@host" is a credential in a URL, not an email.
	if start > 0 && data[start-1] == ':' && bytes.Contains(data[max(0, start-80):start], []byte("://")) {
		return ms
	}
	end := dom
	n := len(data)
	for end < n && end-dom < 253 && isDomain[data[end]] {
		end++
	}
	for end > dom && (data[end-1] == '.' || data[end-1] == '-') {
		end--
	}
	domain := data[dom:end]
	dot := bytes.LastIndexByte(domain, '.')
	if dot <= 0 || len(domain)-dot-1 < 2 || bytes.Contains(domain, []byte("..")) {
		return ms
	}
	for _, c := range domain[dot+1:] {
		if isDigit[c] || c == '-' {
			return ms
		}
	}
	lower := strings.ToLower(string(domain))
	suffix, icann := publicsuffix.PublicSuffix(lower)
	if !icann || len(suffix) >= len(lower) {
		return ms
	}
	local := data[start:at]
	if bytes.Contains(local, []byte("..")) {
		return ms
	}
	norm := strings.ToLower(string(local)) + "@" + lower
	return append(ms, Match{Rule: Email, Start: start, End: end, Hint: "address at " + lower, norm: norm})
}
