// Package units formats quantities for people, and reads timestamps whose
// unit the producer did not say.
package units

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Bytes renders a byte count: "973.1 MiB", "12 B".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// Count renders n with a noun in the right number: "1 file", "3 files".
// The plural is the noun with an "s", which is all our nouns need.
func Count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Epoch turns a Unix timestamp of unknown unit into a time. Sensu event
// timestamps are seconds and metric point timestamps may be seconds,
// milliseconds, microseconds or nanoseconds (the agent's transformers
// disagree); the unit is detected by magnitude, so that no precision is
// lost and nothing lands in the year 56886. The ranges meet at 1e11 s
// (year 5138), 1e14 ms (year 5138) and so on, so every timestamp between
// 1973 and 5138 is read right, whatever its unit.
func Epoch(ts int64) time.Time {
	switch {
	case ts > 1e17 || ts < -1e17:
		return time.Unix(0, ts)
	case ts > 1e14 || ts < -1e14:
		return time.UnixMicro(ts)
	case ts > 1e11 || ts < -1e11:
		return time.UnixMilli(ts)
	default:
		return time.Unix(ts, 0)
	}
}

// Clip cuts s to at most n bytes on a character boundary, followed by "…"
// when it was cut: for messages from servers and commands, which may be
// long and need not be ASCII.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
