// Package pii finds personal data and secrets in bytes: card numbers,
// email addresses, phone numbers, US social security numbers, IBANs, IP
// addresses, and cloud, VCS and SaaS credentials. check-pii uses it to
// audit log files and mutator-redact to scrub Sensu events.
//
// # Validated, not just matched
//
// Every candidate is validated the way the value itself is defined, so
// that look-alikes in logs do not become findings: a card number needs a
// known issuer prefix for its length, a consistent grouping and a Luhn
// check digit (a 13-digit millisecond or 19-digit nanosecond timestamp
// passes Luhn one time in ten but has no issuer); an SSN needs a valid
// area, group and serial, and the forms without dashes need the word
// "ssn" nearby; an IBAN needs its country's length and a mod-97 check; an
// email needs a domain under a real ICANN public suffix (not logo@2x.png,
// Object@6d06d69c or root@localhost); a phone number needs a country code
// and a valid national number, or the North American area and exchange
// rules; a GitHub token needs its CRC-32 checksum; a JWT needs a header
// that decodes to JSON with "alg"; documentation values such as
// AKIAIOSFODNN7EXAMPLE are ignored. Overlapping matches resolve to the
// longer one (an IBAN is not also a card).
//
// # Fast without regular expressions
//
// Go's regexp runs at about 3 MB/s on a combined PII pattern. The scanner
// instead makes one pass over the bytes with a table of trigger bytes
// (digits, '+', '(', '@', '%'), parses the short runs it lands on by hand,
// and finds the credential prefixes with the runtime's vectorised
// bytes.Index. Custom detectors (YAML, see custom.go) do use regexp, and
// only run when configured.
//
// # Never the value
//
// A Match carries offsets into the scanned bytes, for redaction, and a
// masked hint for people (the last four digits of a card, the domain of an
// email); Fingerprinter turns a value into a keyed HMAC so that the same
// value is recognised across runs without being stored.
package pii

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// The built-in rules.
const (
	CreditCard    = "pii.credit_card"
	Email         = "pii.email"
	Phone         = "pii.phone"
	USSSN         = "pii.us_ssn"
	IBAN          = "pii.iban"
	IPAddress     = "pii.ip_address"
	AWSAccessKey  = "secret.aws_access_key_id"
	GitHubToken   = "secret.github_token"
	SlackToken    = "secret.slack_token"
	StripeKey     = "secret.stripe_key"
	JWT           = "secret.jwt"
	PrivateKey    = "secret.private_key"
	customPrefix  = "custom."
	ipClassPublic = "public"
)

// Rules lists the built-in rules, in report order.
var Rules = []string{CreditCard, Email, Phone, USSSN, IBAN, IPAddress, AWSAccessKey, GitHubToken, SlackToken, StripeKey, JWT, PrivateKey}

// DefaultRules are the rules on unless configured: all but IP addresses,
// which are everywhere in logs and are counted by class when enabled.
var DefaultRules = slices.DeleteFunc(slices.Clone(Rules), func(r string) bool { return r == IPAddress })

// Severities are the default severities of the rules.
var Severities = map[string]finding.Severity{
	CreditCard: finding.Critical, USSSN: finding.Critical, IBAN: finding.High, Email: finding.Medium, Phone: finding.Medium,
	IPAddress: finding.Info, AWSAccessKey: finding.Critical, GitHubToken: finding.Critical, SlackToken: finding.Critical,
	StripeKey: finding.Critical, JWT: finding.High, PrivateKey: finding.Critical,
}

// Match is one detected value.
type Match struct {
	// Rule is the rule id, such as "pii.email".
	Rule string
	// Start and End are byte offsets of the value in the scanned data.
	Start, End int
	// Hint is a masked description for people: never the value.
	Hint string
	// Class refines the rule: the card brand, the IP address class.
	Class string
	// norm is the normalised value, for fingerprints; it is never printed.
	norm string
}

// Normalized returns the value in the canonical form fingerprints use:
// digits only for numbers, lowercase for emails, as is for secrets. It is
// the detected value: keep it out of output, logs and state.
func (m Match) Normalized() string { return m.norm }

// Options choose the detectors.
type Options struct {
	// Rules to run; empty means DefaultRules.
	Rules []string
	// Custom adds detectors from a YAML file (see LoadCustom).
	Custom []*Custom
}

// Scanner finds matches. It is safe for concurrent use.
type Scanner struct {
	on     [ruleCount]bool
	custom []*Custom
}

// rule indexes for the on table.
const (
	rCard = iota
	rEmail
	rPhone
	rSSN
	rIBAN
	rIP
	rAWS
	rGitHub
	rSlack
	rStripe
	rJWT
	rPEM
	ruleCount
)

// New builds a scanner. Custom detectors always run, in addition to the
// built-in Rules (DefaultRules when none are given).
func New(opts Options) (*Scanner, error) {
	s := &Scanner{custom: opts.Custom}
	rules := opts.Rules
	if len(rules) == 0 {
		rules = DefaultRules
	}
	for _, r := range rules {
		if strings.HasPrefix(r, customPrefix) && slices.ContainsFunc(opts.Custom, func(c *Custom) bool { return c.Rule == r }) {
			continue
		}
		i := slices.Index(Rules, r)
		if i < 0 {
			return nil, fmt.Errorf("unknown rule %q (want %s)", r, strings.Join(Rules, ", "))
		}
		s.on[i] = true
	}
	return s, nil
}

// Enabled reports whether a rule runs.
func (s *Scanner) Enabled(rule string) bool {
	if i := slices.Index(Rules, rule); i >= 0 {
		return s.on[i]
	}
	return slices.ContainsFunc(s.custom, func(c *Custom) bool { return c.Rule == rule })
}

// Severity is the default severity of a rule's findings: Severities for
// a built-in rule, the detector file's for a custom one.
func (s *Scanner) Severity(rule string) finding.Severity {
	for _, c := range s.custom {
		if c.Rule == rule {
			return c.Severity
		}
	}
	return Severities[rule]
}

// Buffer holds a scan's scratch space; reuse one per goroutine.
type Buffer struct {
	matches []Match
}

// Scan finds the matches in data and calls fn for each, in order of
// Start, after overlaps were resolved. buf may be nil.
func (s *Scanner) Scan(data []byte, buf *Buffer, fn func(Match)) {
	if buf == nil {
		buf = &Buffer{}
	}
	ms := buf.matches[:0]
	ms = s.scanTriggers(data, ms)
	ms = s.scanLiterals(data, ms)
	for _, c := range s.custom {
		ms = c.scan(data, ms)
	}
	ms = resolve(ms)
	for _, m := range ms {
		fn(m)
	}
	buf.matches = ms[:0]
}

// resolve sorts matches and keeps, of overlapping ones, the longest (the
// first on a tie).
func resolve(ms []Match) []Match {
	if len(ms) < 2 {
		return ms
	}
	slices.SortStableFunc(ms, func(a, b Match) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return (b.End - b.Start) - (a.End - a.Start)
	})
	out := ms[:1]
	for _, m := range ms[1:] {
		last := &out[len(out)-1]
		if m.Start < last.End {
			if m.End-m.Start > last.End-last.Start {
				*last = m
			}
			continue
		}
		out = append(out, m)
	}
	return out
}

// trigger classes for the main loop.
const (
	tNone = iota
	tDigit
	tPlus
	tParen
	tAt
	tPercent
)

var triggers = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = tDigit
	}
	t['+'] = tPlus
	t['('] = tParen
	t['@'] = tAt
	t['%'] = tPercent
	return t
}()

// char classes.
var (
	isDigit = byteSet("0123456789")
	isAlnum = byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
	isUpper = byteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	isWord  = byteSet("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
)

// boundary reports whether a token can start at data[i]: at the start,
// after a non-word byte, or after a JSON escape such as "\n" (the 'n' is a
// letter, but it ends the previous text).
func boundary(data []byte, i int) bool {
	if i == 0 || !isWord[data[i-1]] {
		return true
	}
	return i >= 2 && data[i-2] == '\\' && (data[i-1] == 'n' || data[i-1] == 't' || data[i-1] == 'r')
}

func byteSet(chars string) (t [256]bool) {
	for i := 0; i < len(chars); i++ {
		t[chars[i]] = true
	}
	return t
}

// scanTriggers is the hot loop: it skips bytes that cannot start a
// number or an email and hands the others to their parsers.
func (s *Scanner) scanTriggers(data []byte, ms []Match) []Match {
	wantDigits := s.on[rCard] || s.on[rPhone] || s.on[rSSN] || s.on[rIBAN] || s.on[rIP]
	wantPlus := s.on[rPhone]
	wantEmail := s.on[rEmail]
	n := len(data)
	for i := 0; i < n; i++ {
		t := triggers[data[i]]
		if t == tNone {
			continue
		}
		if t == tDigit {
			if wantDigits {
				var next int
				ms, next = s.number(data, i, ms)
				i = next - 1
			}
			continue
		}
		switch t {
		case tPlus:
			if wantPlus && i+1 < n && isDigit[data[i+1]] && boundary(data, i) {
				var next int
				ms, next = s.intlPhone(data, i, ms)
				i = next - 1
			}
		case tParen:
			if wantPlus && i+1 < n && isDigit[data[i+1]] {
				ms = s.parenPhone(data, i, ms)
			}
		case tAt:
			if wantEmail {
				ms = emailAt(data, i, i+1, ms)
			}
		case tPercent:
			if wantEmail && i+2 < n && data[i+1] == '4' && data[i+2] == '0' {
				ms = emailAt(data, i, i+3, ms)
			}
		}
	}
	return ms
}
