package audit

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// authState is the auth-log part of an Engine.
type authState struct {
	now time.Time // for the year of syslog timestamps
	// The last timestamp read: lines come in bursts that share one.
	lastTS string
	lastT  time.Time
}

// authLine is one syslog line split into its parts, as slices of the line.
type authLine struct {
	ts, host, prog, pid, msg []byte
	loc                      Location
}

// splitSyslog splits "Nov 23 21:50:37 host prog[pid]: msg" and
// "2026-11-23T21:50:37.123456+00:00 host prog[pid]: msg" (RFC 3339, as
// rsyslog's high-precision format and journalctl -o short-iso write).
func splitSyslog(line []byte) (authLine, bool) {
	var l authLine
	var rest []byte
	switch {
	case len(line) > 16 && line[3] == ' ' && line[6] == ' ' && line[9] == ':' && line[12] == ':' && line[15] == ' ':
		l.ts, rest = line[:15], line[16:]
	case len(line) > 20 && line[4] == '-' && line[7] == '-' && line[10] == 'T':
		sp := bytes.IndexByte(line, ' ')
		if sp < 0 {
			return l, false
		}
		l.ts, rest = line[:sp], line[sp+1:]
	default:
		return l, false
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return l, false
	}
	l.host, rest = rest[:sp], rest[sp+1:]
	colon := bytes.Index(rest, []byte(": "))
	if colon <= 0 {
		if !bytes.HasSuffix(rest, []byte(":")) {
			return l, false
		}
		colon = len(rest) - 1
	}
	l.prog, l.msg = rest[:colon], rest[min(colon+2, len(rest)):]
	if i := bytes.IndexByte(l.prog, '['); i > 0 && l.prog[len(l.prog)-1] == ']' {
		l.prog, l.pid = l.prog[:i], l.prog[i+1:len(l.prog)-1]
	}
	return l, true
}

// timeOf reads a line's timestamp. A syslog timestamp has no year: it is
// the year that puts it at most a day after now (clock skew), so a
// December line read in January is last year's.
func (a *authState) timeOf(ts []byte) time.Time {
	if string(ts) == a.lastTS && a.lastTS != "" {
		return a.lastT
	}
	t := a.parseTime(string(ts))
	a.lastTS, a.lastT = string(ts), t
	return t
}

func (a *authState) parseTime(s string) time.Time {
	if len(s) == 15 {
		t, err := time.ParseInLocation(time.Stamp, s, time.Local)
		if err != nil {
			return time.Time{}
		}
		t = t.AddDate(a.now.Year(), 0, 0)
		if t.After(a.now.Add(24 * time.Hour)) {
			t = t.AddDate(-1, 0, 0)
		}
		return t
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

func (e *Engine) feedAuth(loc Location, line []byte) {
	l, ok := splitSyslog(line)
	if !ok {
		if len(bytes.TrimSpace(line)) > 0 {
			e.badLine(loc)
		}
		return
	}
	l.loc = loc
	if e.auth.now.IsZero() {
		e.auth.now = e.opt.Now()
	}
	var sub authSubject
	switch string(l.prog) {
	case "sshd", "sshd-session":
		sub = e.sshd(&l)
	case "sudo":
		sub = e.sudo(&l)
	}
	if e.opt.Custom != nil {
		e.custom(Auth, authRecord{l: &l, sub: sub}, func() hit {
			return hit{actor: sub.user, source: sub.source, object: string(l.host) + " " + string(l.prog),
				message: string(l.prog) + " on " + string(l.host), time: e.auth.timeOf(l.ts), loc: l.loc}
		})
	}
}

// authSubject is who and from where, as read from an sshd or sudo line,
// for custom rules.
type authSubject struct{ user, source string }

var (
	pFailed    = []byte("Failed ")
	pAccepted  = []byte("Accepted ")
	pInvalid   = []byte("Invalid user ")
	pMaxAuth   = []byte("maximum authentication attempts exceeded for ")
	pFor       = []byte(" for ")
	pFrom      = []byte(" from ")
	pInvalidU  = []byte("invalid user ")
	pRepeated  = []byte("message repeated ")
	pTimes     = []byte(" times: [ ")
	pErrorTag  = []byte("error: ")
	pIncorrect = []byte("incorrect password attempt")
)

// userFrom reads "[invalid user ]USER from ADDR[ port N …]". The user name
// is the client's to choose and may itself hold " from ": the address is
// after the last one.
func userFrom(b []byte) (user, ip string, ok bool) {
	b = bytes.TrimPrefix(b, pInvalidU)
	i := bytes.LastIndex(b, pFrom)
	if i < 0 {
		return "", "", false
	}
	addr := b[i+len(pFrom):]
	if sp := bytes.IndexByte(addr, ' '); sp >= 0 {
		addr = addr[:sp]
	}
	return string(b[:i]), string(addr), len(addr) > 0
}

// sshd applies the ssh rules to an sshd line.
func (e *Engine) sshd(l *authLine) authSubject {
	msg := bytes.TrimPrefix(l.msg, pErrorTag)
	repeat := 1
	// rsyslog folds identical lines: "message repeated 3 times: [ Failed …]".
	if rest, ok := bytes.CutPrefix(msg, pRepeated); ok {
		if i := bytes.Index(rest, pTimes); i > 0 {
			if n, err := strconv.Atoi(string(rest[:i])); err == nil && n > 0 {
				repeat, msg = n, bytes.TrimSuffix(rest[i+len(pTimes):], []byte("]"))
			}
		}
	}
	var rule, method, user, ip string
	var ok bool
	switch {
	case bytes.HasPrefix(msg, pFailed), bytes.HasPrefix(msg, pAccepted):
		rule = SSHFailedLogin
		rest := msg[len(pFailed):]
		if msg[0] == 'A' {
			rule, rest = SSHAcceptedLogin, msg[len(pAccepted):]
		}
		i := bytes.Index(rest, pFor)
		if i <= 0 {
			return authSubject{}
		}
		method = string(rest[:i])
		if method == "none" {
			// The client's probe for the methods on offer, before its
			// real attempt: not a failure of its own.
			return authSubject{}
		}
		user, ip, ok = userFrom(rest[i+len(pFor):])
	case bytes.HasPrefix(msg, pInvalid):
		rule = SSHInvalidUser
		user, ip, ok = userFrom(msg[len(pInvalid):])
	case bytes.HasPrefix(msg, pMaxAuth):
		rule = SSHMaxAuthExceeded
		user, ip, ok = userFrom(msg[len(pMaxAuth):])
	}
	if !ok {
		return authSubject{}
	}
	t := e.auth.timeOf(l.ts)
	object := "sshd@" + string(l.host)
	for range repeat {
		h := hit{rule: rule, actor: user, source: ip, object: object, time: t, loc: l.loc, user: user}
		if rule == SSHAcceptedLogin {
			h.message = fmt.Sprintf("%s logged in from %s (%s)", user, ip, method)
			h.attrs = map[string]any{"method": method}
			// A login from an address that was guessing passwords moments
			// before is the guessing that worked.
			if n := e.failed.recent(ip, t); n >= e.opt.FailedWarning {
				h.severity, h.escalated = finding.Critical, true
				h.message += fmt.Sprintf(" after %s failed logins from it within %s", e.failed.atLeast(n), FormatSpan(e.opt.Window))
				h.attrs["failures_before"] = n
			}
		} else {
			h.threshold = true
			if rule == SSHFailedLogin {
				e.failedLogin(ip, user, t)
			}
		}
		e.emit(h)
	}
	return authSubject{user: user, source: ip}
}

// sudo applies the sudo rules to a sudo line:
// "alice : [3 incorrect password attempts ; ]TTY=pts/0 ; PWD=… ; USER=root ; COMMAND=…".
// COMMAND comes last and its arguments are not escaped: they may hold
// " ; " and anything else, so only the fields before it are parsed, and
// only the program is kept (arguments may carry secrets).
func (e *Engine) sudo(l *authLine) authSubject {
	msg := bytes.TrimLeft(l.msg, " ")
	i := bytes.Index(msg, []byte(" : "))
	if i <= 0 || bytes.IndexByte(msg[:i], ' ') >= 0 {
		return authSubject{} // a PAM or session line
	}
	user := string(msg[:i])
	rest := msg[i+3:]
	head, cmd, found := bytes.Cut(rest, []byte(" ; COMMAND="))
	if !found {
		if head, cmd, found = bytes.Cut(rest, []byte("COMMAND=")); !found || len(head) > 0 {
			return authSubject{user: user}
		}
	}
	if sp := bytes.IndexByte(cmd, ' '); sp >= 0 {
		cmd = cmd[:sp]
	}
	command := string(cmd)
	var problem []byte
	var runAs string
	for f := range bytes.SplitSeq(head, []byte(" ; ")) {
		k, v, isKV := bytes.Cut(f, []byte("="))
		switch {
		case isKV && string(k) == "USER":
			runAs = string(v)
		case !isKV || bytes.IndexByte(k, ' ') >= 0:
			if problem == nil {
				problem = f
			}
		}
	}
	h := hit{actor: user, object: runAs, time: e.auth.timeOf(l.ts), loc: l.loc,
		attrs: map[string]any{"command": command, "run_as": runAs}}
	switch {
	case problem == nil:
		h.rule, h.object = SudoCommand, command
		h.message = fmt.Sprintf("%s ran %s as %s", user, command, runAs)
	case bytes.Contains(problem, pIncorrect):
		h.rule = SudoAuthFailure
		n, _ := strconv.Atoi(string(problem[:max(bytes.IndexByte(problem, ' '), 0)]))
		h.message = fmt.Sprintf("%s: %d incorrect password attempts (sudo %s as %s)", user, n, command, runAs)
		h.attrs["attempts"] = n
	case bytes.Contains(problem, []byte("NOT in sudoers")):
		h.rule = SudoNotInSudoers
		h.message = fmt.Sprintf("%s is not in sudoers and tried %s as %s", user, command, runAs)
	case bytes.Contains(problem, []byte("command not allowed")):
		h.rule = SudoCommandDenied
		h.message = fmt.Sprintf("%s may not run %s as %s", user, command, runAs)
	default:
		return authSubject{user: user}
	}
	h.severity = ruleSeverity(h.rule)
	e.emit(h)
	return authSubject{user: user}
}
