// Package secret keeps credentials out of output, logs and errors.
//
// A String holds a secret value. Every way of printing it (fmt verbs,
// JSON, slog) shows "[REDACTED]"; only Reveal returns the value, and only
// code that puts it on the wire should call it. Because String is a ~string
// type, it can be the value of a sensu.PluginConfigOption, so a plugin's
// options table declares a secret the same way the Sensu SDK does.
//
// A String inside a struct is masked only when the field is exported: fmt
// cannot call methods on unexported fields and prints them raw.
//
// A Redactor scrubs known secret values (and credentials embedded in URLs)
// from free text such as an upstream error message, which may echo a
// request back.
package secret

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Mask is what a secret prints as.
const Mask = "[REDACTED]"

// String is a secret value. Its zero value is "no secret".
type String string

// Reveal returns the secret value. Call it only where the value goes on
// the wire.
func (s String) Reveal() string { return string(s) }

// IsSet reports whether a value is present.
func (s String) IsSet() bool { return s != "" }

// String implements fmt.Stringer with the mask.
func (s String) String() string {
	if s == "" {
		return ""
	}
	return Mask
}

// GoString implements fmt.GoStringer with the mask, for %#v.
func (s String) GoString() string { return fmt.Sprintf("secret.String(%q)", s.String()) }

// Format implements fmt.Formatter so that no verb (%s, %v, %q, %x, %d)
// prints the value.
func (s String) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprintf(f, "%q", s.String())
	case 'v':
		if f.Flag('#') {
			_, _ = fmt.Fprint(f, s.GoString())
			return
		}
		_, _ = fmt.Fprint(f, s.String())
	default:
		_, _ = fmt.Fprint(f, s.String())
	}
}

// MarshalJSON implements json.Marshaler with the mask.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalText implements encoding.TextMarshaler with the mask, for YAML
// and other encoders. encoding/json writes map keys of a string kind as
// they are, without calling it: never key a map by a secret.
func (s String) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue implements slog.LogValuer with the mask.
func (s String) LogValue() slog.Value { return slog.StringValue(s.String()) }

// FromFile reads a secret from a file, as Kubernetes and systemd
// credentials provide them. One trailing newline is dropped; an empty file
// is an error, since an empty credential is never what was meant.
func FromFile(path string) (String, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the path is the operator's choice
	if err != nil {
		return "", fmt.Errorf("read secret file: %w", err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("secret file %s is empty", path)
	}
	return String(v), nil
}

// Redactor replaces known secret values in text. The zero value redacts
// only credentials embedded in URLs.
type Redactor struct {
	values []string // each secret and its URL-encoded form, longest first
}

// minSecretLen is the shortest value redacted as a substring: replacing
// every "a" of a one-letter password would mangle messages and reveal the
// password's length and letter anyway.
const minSecretLen = 4

// NewRedactor returns a Redactor for the given values; empty and very
// short values are ignored.
func NewRedactor(values ...string) *Redactor {
	r := &Redactor{}
	r.Add(values...)
	return r
}

// Add registers more values to redact.
func (r *Redactor) Add(values ...string) {
	for _, v := range values {
		if len(v) >= minSecretLen {
			r.values = append(r.values, v)
			// An upstream may echo the value URL-encoded.
			if q := url.QueryEscape(v); q != v {
				r.values = append(r.values, q)
			}
		}
	}
	// Longest first, so that a secret containing another is masked whole.
	sort.Slice(r.values, func(i, j int) bool { return len(r.values[i]) > len(r.values[j]) })
}

// urlUserinfo matches the userinfo part of an absolute URL: a user and
// password, or a token alone (https://TOKEN@host). The password may hold
// an unescaped "@": the last "@" before the host ends it.
var urlUserinfo = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)(?:([^/@\s:]*):([^/\s]*)|([^/@\s:]+))@`)

// sensitiveQuery matches query parameters that commonly carry credentials;
// the value stops before a trailing ":" (an error's separator).
var sensitiveQuery = regexp.MustCompile(`(?i)([?&](?:access_token|api_key|apikey|auth|key|password|passwd|routing_key|secret|sig|signature|token|u|p)=)([^&\s"']*[^&\s"':])`)

// Redact returns text with registered values, URL passwords and
// credential-like query parameters replaced by the mask.
func (r *Redactor) Redact(text string) string {
	if r != nil {
		for _, v := range r.values {
			text = strings.ReplaceAll(text, v, Mask)
		}
	}
	text = urlUserinfo.ReplaceAllStringFunc(text, func(m string) string {
		g := urlUserinfo.FindStringSubmatch(m)
		if g[4] != "" {
			return g[1] + Mask + "@"
		}
		return g[1] + g[2] + ":" + Mask + "@"
	})
	return sensitiveQuery.ReplaceAllString(text, "${1}"+Mask)
}

// Error wraps err so that its message is redacted while errors.Is and
// errors.As still see the original.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: r.Redact(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
