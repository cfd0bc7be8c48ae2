// Package redact scrubs personal data and secrets out of a Sensu event
// before it leaves the region: mutator-redact's engine.
//
// Value walks a decoded event (any Go value: pointers, structs, slices,
// maps) and scans every string in it with pkg/pii: check output and
// command, labels and annotations, metric tags, hook output, everything.
// Each detected value is replaced by a typed mask, "[REDACTED:pii.email]",
// or with a tokenizer by a keyed token, "[pii.email:3fa2c1d04e5b]", so that
// the same value still correlates across events. Map keys are left as they
// are: they name things, they do not carry them. Working on the decoded
// event costs a fraction of decoding it again from redacted JSON (the
// Sensu event type decodes its JSON twice).
package redact

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"

	corev2 "github.com/sensu/sensu-go/api/core/v2"

	"github.com/vigil-sec/vigil/pkg/pii"
)

// Annotation holds an event's redaction counts, as a JSON object by rule:
// a dashboard can show what was removed without showing it.
const Annotation = "vigil.io/redactions"

// Redactor scrubs values in place. It is safe for concurrent use.
type Redactor struct {
	scanner *pii.Scanner
	fp      *pii.Fingerprinter
}

// New returns a redactor; with a fingerprinter it tokenizes instead of
// masking.
func New(scanner *pii.Scanner, tokenize *pii.Fingerprinter) *Redactor {
	return &Redactor{scanner: scanner, fp: tokenize}
}

// Counts are redactions per rule.
type Counts map[string]int

// Total is the number of redactions.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Rules lists the rules with redactions, sorted.
func (c Counts) Rules() []string { return slices.Sorted(maps.Keys(c)) }

// Value redacts every string reachable from v, which must be a pointer,
// in place, and returns the counts.
func (r *Redactor) Value(v any) Counts {
	w := &walker{r: r, counts: Counts{}}
	w.walk(reflect.ValueOf(v))
	return w.counts
}

// Event redacts every string of ev and records the counts in the
// Annotation of its check (of the event itself when it has none).
func (r *Redactor) Event(ev *corev2.Event) Counts {
	counts := r.Value(ev)
	meta := &ev.ObjectMeta
	if ev.Check != nil {
		meta = &ev.Check.ObjectMeta
	}
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	b, _ := json.Marshal(counts) //nolint:errchkjson // a map of strings to ints always encodes
	meta.Annotations[Annotation] = string(b)
	return counts
}

// String redacts one string.
func (r *Redactor) String(s string, counts Counts, buf *pii.Buffer) string {
	var out []byte
	last := 0
	r.scanner.Scan([]byte(s), buf, func(m pii.Match) {
		if out == nil {
			out = make([]byte, 0, len(s)+16)
		}
		out = append(out, s[last:m.Start]...)
		if r.fp != nil {
			out = append(out, r.fp.Token(m)...)
		} else {
			out = append(out, pii.Mask(m)...)
		}
		last = m.End
		counts[m.Rule]++
	})
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}

type walker struct {
	r      *Redactor
	counts Counts
	buf    pii.Buffer
}

func (w *walker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			w.walk(v.Elem())
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		if !v.CanSet() {
			w.walk(v.Elem())
			return
		}
		// What an interface holds is not addressable: walk a copy and
		// put it back.
		if cp, changed := w.walkCopy(v.Elem()); changed {
			v.Set(cp)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				w.walk(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes (an event id), not text
		}
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		// Map values are not addressable either; keys name things and
		// are kept. The map is updated after the iteration.
		type update struct{ k, v reflect.Value }
		var updates []update
		for iter := v.MapRange(); iter.Next(); {
			if cp, changed := w.walkCopy(iter.Value()); changed {
				updates = append(updates, update{iter.Key(), cp})
			}
		}
		for _, u := range updates {
			v.SetMapIndex(u.k, u.v)
		}
	case reflect.String:
		if v.CanSet() {
			if red := w.r.String(v.String(), w.counts, &w.buf); red != v.String() {
				v.SetString(red)
			}
		}
	}
}

// walkCopy redacts a settable copy of val, which cannot be set in place,
// and says whether anything in it was redacted.
func (w *walker) walkCopy(val reflect.Value) (reflect.Value, bool) {
	cp := reflect.New(val.Type()).Elem()
	cp.Set(val)
	before := w.counts.Total()
	w.walk(cp)
	return cp, w.counts.Total() != before
}
