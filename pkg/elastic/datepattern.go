package elastic

import (
	"fmt"
	"strings"
	"time"
)

// DatePattern is a parsed --index-date-pattern: the date part of an index
// name, written with the letters Elasticsearch and Logstash users know.
//
//	YYYY  year            MM  month   DD  day   HH  hour
//	GGGG  ISO week year   WW  ISO week
//
// Logstash's Joda letters mean the same: yyyy, dd, xxxx (week year), ww.
// Anything else is copied as is; index names allow only lowercase letters,
// digits and "-_.+", which ParseDatePattern enforces. The presets are
// "daily" (YYYY.MM.DD, the default), "weekly" (GGGG.WW), "monthly"
// (YYYY.MM) and "none".
type DatePattern []datePart

type datePart struct {
	token   string // "" for a literal
	literal string
}

var dateTokens = []string{"YYYY", "GGGG", "MM", "DD", "HH", "WW", "yyyy", "xxxx", "dd", "ww"}

// jodaTokens are Logstash's spellings of the same fields.
var jodaTokens = map[string]string{"yyyy": "YYYY", "xxxx": "GGGG", "dd": "DD", "ww": "WW"}

var datePresets = map[string]string{"daily": "YYYY.MM.DD", "weekly": "GGGG.WW", "monthly": "YYYY.MM", "none": ""}

// ParseDatePattern parses a pattern or preset.
func ParseDatePattern(s string) (DatePattern, error) {
	if p, ok := datePresets[s]; ok {
		s = p
	}
	var out DatePattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			out = append(out, datePart{literal: lit.String()})
			lit.Reset()
		}
	}
next:
	for i := 0; i < len(s); {
		for _, tok := range dateTokens {
			if strings.HasPrefix(s[i:], tok) {
				flush()
				if t, ok := jodaTokens[tok]; ok {
					tok = t
				}
				out = append(out, datePart{token: tok})
				i += len(tok)
				continue next
			}
		}
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && strings.IndexByte("-_.+", c) < 0 {
			return nil, fmt.Errorf("date pattern %q: %q is neither one of YYYY, MM, DD, HH, GGGG, WW nor allowed in an index name (a-z 0-9 - _ . +)", s, c)
		}
		lit.WriteByte(c)
		i++
	}
	flush()
	return out, nil
}

// Format writes t (in UTC) in the pattern.
func (p DatePattern) Format(t time.Time) string {
	t = t.UTC()
	var b strings.Builder
	for _, part := range p {
		switch part.token {
		case "":
			b.WriteString(part.literal)
		case "YYYY":
			fmt.Fprintf(&b, "%04d", t.Year())
		case "MM":
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case "DD":
			fmt.Fprintf(&b, "%02d", t.Day())
		case "HH":
			fmt.Fprintf(&b, "%02d", t.Hour())
		case "GGGG":
			y, _ := t.ISOWeek()
			fmt.Fprintf(&b, "%04d", y)
		case "WW":
			_, w := t.ISOWeek()
			fmt.Fprintf(&b, "%02d", w)
		}
	}
	return b.String()
}

// ValidateIndexName checks an index or data stream name against
// Elasticsearch's rules (lowercase, no \ / * ? " < > | space , #, not
// starting with - _ +, not . or .., at most 255 bytes); empty is allowed
// (unset).
func ValidateIndexName(s string) error {
	switch {
	case s == "":
		return nil
	case s == "." || s == "..":
		return fmt.Errorf("%q is not a valid index name", s)
	case len(s) > 200:
		return fmt.Errorf("index name %q is longer than 200 bytes (the date suffix needs room under the limit of 255)", s)
	case strings.ContainsAny(s[:1], "-_+"):
		return fmt.Errorf("index name %q must not start with -, _ or +", s)
	case strings.ContainsAny(s, "\\/*?\"<>| ,#:"):
		return fmt.Errorf("index name %q has a character Elasticsearch forbids (\\ / * ? \" < > | space comma # colon)", s)
	case strings.ToLower(s) != s:
		return fmt.Errorf("index name %q must be lowercase", s)
	}
	return nil
}
