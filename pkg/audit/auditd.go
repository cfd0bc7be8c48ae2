package audit

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// auditdState groups auditd records into events. The records of one
// event share their id, "msg=audit(1642262625.123:456)", and are written
// together (a kernel event ends with an EOE record); user-space records
// (USER_*, CRED_*) are events of one record.
type auditdState struct {
	open  map[string]*adEvent
	order []string
}

// maxOpenAuditd bounds the events being grouped: records of one event
// are written together, so an event still open after this many others is
// complete.
const maxOpenAuditd = 64

type adEvent struct {
	id      string
	time    time.Time
	loc     Location
	records []adRecord
}

type adRecord struct {
	typ    string
	fields map[string]string
}

func (a *auditdState) init() { a.open = map[string]*adEvent{} }

// field returns the first value of a field among the event's records.
func (ev *adEvent) field(k string) string {
	for _, r := range ev.records {
		if v, ok := r.fields[k]; ok {
			return v
		}
	}
	return ""
}

func (ev *adEvent) record(typ string) (adRecord, bool) {
	for _, r := range ev.records {
		if r.typ == typ {
			return r, true
		}
	}
	return adRecord{}, false
}

func (e *Engine) feedAuditd(loc Location, line []byte) {
	s := strings.TrimSpace(string(line))
	if s == "" {
		return
	}
	rec, id, t, ok := parseAuditd(s)
	if !ok {
		e.badLine(loc)
		return
	}
	ev := e.auditd.open[id]
	if ev == nil {
		ev = &adEvent{id: id, time: t, loc: loc}
		e.auditd.open[id] = ev
		e.auditd.order = append(e.auditd.order, id)
	}
	if rec.typ != "EOE" {
		ev.records = append(ev.records, rec)
	}
	if rec.typ == "EOE" || strings.HasPrefix(rec.typ, "USER_") || strings.HasPrefix(rec.typ, "CRED_") {
		e.closeAuditd(id)
	}
	for len(e.auditd.order) > maxOpenAuditd {
		e.closeAuditd(e.auditd.order[0])
	}
}

// parseAuditd reads "[node=N ]type=T msg=audit(SEC.MS:SERIAL): k=v …".
func parseAuditd(s string) (rec adRecord, id string, t time.Time, ok bool) {
	if strings.HasPrefix(s, "node=") {
		_, s, _ = strings.Cut(s, " ")
	}
	typ, ok := strings.CutPrefix(s, "type=")
	if !ok {
		return rec, "", t, false
	}
	typ, rest, _ := strings.Cut(typ, " ")
	rest, ok = strings.CutPrefix(rest, "msg=audit(")
	if !ok {
		return rec, "", t, false
	}
	id, rest, ok = strings.Cut(rest, "):")
	if !ok {
		return rec, "", t, false
	}
	stamp, _, _ := strings.Cut(id, ":")
	sec, frac, _ := strings.Cut(stamp, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return rec, "", t, false
	}
	ms, _ := strconv.ParseInt(frac, 10, 64)
	t = time.Unix(n, ms*int64(time.Millisecond)).UTC()
	rec = adRecord{typ: typ, fields: map[string]string{}}
	// Enriched logs (log_format = ENRICHED) append the resolved names
	// (AUID="alice") after a group separator.
	raw, enriched, _ := strings.Cut(rest, "\x1d")
	parseFields(raw, rec.fields)
	parseFields(enriched, rec.fields)
	return rec, id, t, true
}

// parseFields reads k=v pairs: "v" quoted, 'k=v …' nested (user-space
// records carry their fields in msg='…'), or bare, in which case the
// fields auditd encodes are hex-decoded.
func parseFields(s string, into map[string]string) {
	for {
		s = strings.TrimLeft(s, " ")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return
		}
		k, v := s[:eq], s[eq+1:]
		switch {
		case strings.HasPrefix(v, `"`):
			end := strings.IndexByte(v[1:], '"')
			if end < 0 {
				into[k] = v[1:]
				return
			}
			into[k], s = v[1:1+end], v[2+end:]
		case strings.HasPrefix(v, "'"):
			end := strings.IndexByte(v[1:], '\'')
			if end < 0 {
				end = len(v) - 1
			}
			parseFields(v[1:1+end], into)
			s = v[min(2+end, len(v)):]
		default:
			val, next, _ := strings.Cut(v, " ")
			into[k], s = decodeField(k, val), next
		}
	}
}

// decodeField hex-decodes the value of a field auditd encodes when the
// value holds a space, a quote or a control character.
func decodeField(k, v string) string {
	switch {
	case k == "acct", k == "exe", k == "comm", k == "cwd", k == "name", k == "proctitle",
		k == "path", k == "cmd", k == "data", k == "key", k == "new", k == "old",
		len(k) > 1 && k[0] == 'a' && k[1] >= '0' && k[1] <= '9':
	default:
		return v
	}
	if len(v) < 2 || len(v)%2 != 0 {
		return v
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return v
	}
	return string(b)
}

// closeAuditd evaluates a complete event.
func (e *Engine) closeAuditd(id string) {
	ev := e.auditd.open[id]
	if ev == nil {
		return
	}
	delete(e.auditd.open, id)
	for i, o := range e.auditd.order {
		if o == id {
			e.auditd.order = append(e.auditd.order[:i], e.auditd.order[i+1:]...)
			break
		}
	}
	if len(ev.records) == 0 {
		return
	}
	e.auditdRules(ev)
	if e.opt.Custom != nil {
		e.custom(Auditd, auditdRecord{ev}, func() hit {
			return hit{actor: auditUser(ev), source: auditSource(ev), object: ev.field("exe"),
				message: ev.records[0].typ + " " + ev.id, time: ev.time, loc: ev.loc}
		})
	}
}

// flushAuditd evaluates the events still open (end of a file).
func (e *Engine) flushAuditd() {
	for len(e.auditd.order) > 0 {
		e.closeAuditd(e.auditd.order[0])
	}
}

// auditUser names the login user of an event: the enriched AUID, the
// account of a user-space record, or the numeric auid.
func auditUser(ev *adEvent) string {
	for _, k := range []string{"AUID", "acct", "auid"} {
		if v := ev.field(k); v != "" && v != "?" && v != "4294967295" && v != "unset" {
			return v
		}
	}
	return ""
}

// auditSource is where an event came from: the remote address or host.
func auditSource(ev *adEvent) string {
	for _, k := range []string{"addr", "hostname"} {
		if v := ev.field(k); v != "" && v != "?" {
			return v
		}
	}
	return ""
}

func (e *Engine) auditdRules(ev *adEvent) {
	for _, r := range ev.records {
		if (r.typ == "USER_AUTH" || r.typ == "USER_LOGIN") && (r.fields["res"] == "failed" || r.fields["res"] == "failure") {
			src, user := auditSource(ev), auditUser(ev)
			key := src
			if key == "" {
				key = "local"
			}
			// sshd built with Linux audit support writes USER_LOGIN
			// res=failed for the same attempt PAM's USER_AUTH reports:
			// only USER_AUTH counts towards the window.
			if r.typ == "USER_AUTH" {
				e.failedLogin(key, user, ev.time)
			}
			e.emit(hit{rule: AuditdAuthFailure, actor: user, source: src, object: r.fields["exe"], time: ev.time,
				loc: ev.loc, user: user, threshold: true, attrs: map[string]any{"type": r.typ}})
		}
	}
	sc, ok := ev.record("SYSCALL")
	if !ok || len(e.keys) == 0 {
		return
	}
	if _, exec := ev.record("EXECVE"); !exec {
		return
	}
	for key := range strings.SplitSeq(sc.fields["key"], "\x01") {
		if !e.keys[key] {
			continue
		}
		user := auditUser(ev)
		if user == "" {
			user = "unset"
		}
		exe := sc.fields["exe"]
		msg := fmt.Sprintf("%s ran %s as uid %s, euid %s (key %s)", user, exe, sc.fields["uid"], sc.fields["euid"], key)
		if sc.fields["success"] == "no" {
			msg += ", which failed"
		}
		e.emit(hit{rule: AuditdExec, actor: user, source: auditSource(ev), object: exe, message: msg, time: ev.time, loc: ev.loc,
			severity: ruleSeverity(AuditdExec),
			attrs:    map[string]any{"key": key, "uid": sc.fields["uid"], "euid": sc.fields["euid"], "success": sc.fields["success"]}})
		return
	}
}

// ruleSeverity is a built-in rule's default severity.
func ruleSeverity(id string) finding.Severity {
	r, _ := builtin(id)
	return r.Severity
}
