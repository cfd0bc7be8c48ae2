package drift

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Messages from a report (Chef's exception, Puppet's error logs and event
// messages, Ansible's msg, Terraform's diagnostics) end up in findings,
// the status line and JSON output, which monitoring ships and stores. A
// tool's message can hold a command line with its credentials (Chef's
// Mixlib::ShellOut::ShellCommandFailed holds the command and
// "---- Begin output of mysql -uroot -p… ----" with its whole output), so
// a message is reduced before it is kept: its first line, cut before any
// "---- Begin output", with credentials masked, at most maxMessage runes.

// maxMessage bounds a message kept from a report, in runes.
const maxMessage = 240

// maxMessageScan is how much of a message's first line is looked at; the
// rest could never be shown.
const maxMessageScan = 4096

// masked replaces a credential.
const masked = "***"

var (
	// scheme://user:password@host
	urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*):[^\s@/]*@`)
	// --password=x, --db-password x, -password x, --token=x, --api-key x
	secretFlag = regexp.MustCompile(`(?i)(^|[\s'"(\[])(--?[A-Za-z0-9_-]*(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|credentials?)[A-Za-z0-9_-]*)(=|\s+)(?:"[^"]*"?|'[^']*'?|[^\s'"]+)`)
	// password=x, token: x, "api_key":"x", PGPASSWORD=x
	secretPair = regexp.MustCompile(`(?i)([A-Za-z0-9_.-]*(?:passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key)[A-Za-z0-9_.-]*["']?\s*[=:]\s*)(?:"[^"]*"?|'[^']*'?|[^\s,;&'"}\]]+)`)
	// mysql -pS3cret, sshpass -pS3cret (the value attached to -p)
	shortPassword = regexp.MustCompile(`(^|[\s'"(\[])-p([^\s'"]+)`)
	// SQL: IDENTIFIED BY 'x', WITH PASSWORD 'x'
	sqlPassword = regexp.MustCompile(`(?i)\b((?:identified\s+(?:with\s+\S+\s+)?by|with\s+(?:encrypted\s+)?password)\s+)(?:'[^']*'?|"[^"]*"?|[^\s'"]+)`)
	// Authorization: Bearer x, Basic x
	authScheme = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}`)
)

// maskSecrets masks the credentials a message or a resource title may
// hold: URL userinfo, password-like flags and key=value pairs, mysql's
// -pPASSWORD, SQL password literals, authorization headers.
func maskSecrets(s string) string {
	s = urlUserinfo.ReplaceAllString(s, "$1:"+masked+"@")
	s = secretFlag.ReplaceAllString(s, "$1$2$3"+masked)
	s = secretPair.ReplaceAllString(s, "${1}"+masked)
	s = shortPassword.ReplaceAllString(s, "$1-p"+masked)
	s = sqlPassword.ReplaceAllString(s, "${1}"+masked)
	s = authScheme.ReplaceAllString(s, "$1 "+masked)
	return s
}

// shortMessage reduces a message from a report to what may be shown: its first
// non-blank line, cut before "---- Begin output", credentials masked, on
// one line of at most maxMessage runes.
func shortMessage(s string) string {
	s = strings.TrimLeft(s, " \t\r\n")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "---- Begin output"); i >= 0 {
		s = s[:i]
	}
	if len(s) > maxMessageScan {
		s = strings.ToValidUTF8(s[:maxMessageScan], "")
	}
	s = strings.Join(strings.Fields(maskSecrets(s)), " ")
	if utf8.RuneCountInString(s) <= maxMessage {
		return s
	}
	n := 0
	for i := range s {
		if n == maxMessage-1 {
			return strings.TrimRight(s[:i], " ") + "…"
		}
		n++
	}
	return s
}
