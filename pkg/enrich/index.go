package enrich

import (
	"bytes"
	"encoding/binary"
	"errors"
	"path"
	"slices"
	"strings"
)

// Index is an inventory compiled for lookup. Its bytes are what the cache
// file holds, so a mutator run reads one file and decodes only the entry
// it needs: exact entity names are found by binary search, then globs are
// tried in file order, then label selectors in file order.
//
// Layout (integers are little-endian uint32 unless said otherwise;
// strings are a uvarint length and the bytes):
//
//	nNames, offsets[nNames], globsAt, labelsAt     the table
//	name records, sorted by entity name:           entity, entry
//	nGlobs, glob records in file order:            pattern, entry
//	nLabels, label records in file order:          uvarint n, n×(key, value), entry
//	entry:                                         uvarint line, name, owner, team,
//	                                               environment, region, data class,
//	                                               PagerDuty team, runbook base URL
type Index struct {
	b []byte
	// counts, read once
	nNames, globsAt, labelsAt int
}

// errCorrupt is returned when an index does not decode.
var errCorrupt = errors.New("corrupt inventory index")

// BuildIndex compiles entries (as ParseInventory returns them, in file
// order) into an Index.
func BuildIndex(entries []Entry) *Index {
	var names, globs, labels []*Entry
	for i := range entries {
		e := &entries[i]
		switch {
		case e.Entity != "":
			names = append(names, e)
		case e.Glob != "":
			globs = append(globs, e)
		default:
			labels = append(labels, e)
		}
	}
	slices.SortStableFunc(names, func(a, b *Entry) int { return strings.Compare(a.Entity, b.Entity) })

	head := 4 * (1 + len(names) + 2)
	b := make([]byte, head, head+len(entries)*96)
	binary.LittleEndian.PutUint32(b, uint32(len(names))) //nolint:gosec // an inventory holds far fewer than 2^32 entries
	for i, e := range names {
		binary.LittleEndian.PutUint32(b[4*(1+i):], uint32(len(b))) //nolint:gosec // an index is far smaller than 4 GiB
		b = appendString(b, e.Entity)
		b = appendEntry(b, e)
	}
	binary.LittleEndian.PutUint32(b[4*(1+len(names)):], uint32(len(b))) //nolint:gosec // as above
	b = binary.LittleEndian.AppendUint32(b, uint32(len(globs)))         //nolint:gosec // as above
	for _, e := range globs {
		b = appendString(b, e.Glob)
		b = appendEntry(b, e)
	}
	binary.LittleEndian.PutUint32(b[4*(2+len(names)):], uint32(len(b))) //nolint:gosec // as above
	b = binary.LittleEndian.AppendUint32(b, uint32(len(labels)))        //nolint:gosec // as above
	for _, e := range labels {
		keys := make([]string, 0, len(e.MatchLabels))
		for k := range e.MatchLabels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = binary.AppendUvarint(b, uint64(len(keys)))
		for _, k := range keys {
			b = appendString(b, k)
			b = appendString(b, e.MatchLabels[k])
		}
		b = appendEntry(b, e)
	}
	ix, err := openIndex(b)
	if err != nil {
		panic("pkg/enrich: BuildIndex wrote an index it cannot read: " + err.Error())
	}
	return ix
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendEntry(b []byte, e *Entry) []byte {
	b = binary.AppendUvarint(b, uint64(max(e.Line, 0))) //nolint:gosec // non-negative
	for _, s := range [...]string{e.Name, e.Owner, e.Team, e.Environment, e.Region, e.DataClass, e.PagerDutyTeam, e.RunbookBaseURL} {
		b = appendString(b, s)
	}
	return b
}

// openIndex checks the table of an encoded index. Records are checked as
// they are read: a corrupt index gives errCorrupt, never a panic.
func openIndex(b []byte) (*Index, error) {
	if len(b) < 12 {
		return nil, errCorrupt
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 0 || n > (len(b)-12)/4 {
		return nil, errCorrupt
	}
	ix := &Index{b: b, nNames: n}
	ix.globsAt = int(binary.LittleEndian.Uint32(b[4*(1+n):]))
	ix.labelsAt = int(binary.LittleEndian.Uint32(b[4*(2+n):]))
	if ix.globsAt > ix.labelsAt || ix.labelsAt+4 > len(b) || ix.globsAt+4 > len(b) {
		return nil, errCorrupt
	}
	return ix, nil
}

// Len returns the number of entries.
func (ix *Index) Len() int {
	return ix.nNames + int(binary.LittleEndian.Uint32(ix.b[ix.globsAt:])) + int(binary.LittleEndian.Uint32(ix.b[ix.labelsAt:]))
}

// Bytes returns the encoded index.
func (ix *Index) Bytes() []byte { return ix.b }

// reader decodes records with bounds checks.
type reader struct {
	b   []byte
	off int
	err bool
}

func (r *reader) uvarint() uint64 {
	if r.err || r.off >= len(r.b) {
		r.err = true
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err = true
		return 0
	}
	r.off += n
	return v
}

func (r *reader) bytes() []byte {
	v := r.uvarint()
	if r.err || v > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	n := int(v) //nolint:gosec // bounded by len(r.b) just above
	if n > len(r.b)-r.off {
		r.err = true
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) str() string { return string(r.bytes()) }

func (r *reader) entry() Entry {
	e := Entry{Line: int(min(r.uvarint(), 1<<31))} //nolint:gosec // bounded
	for _, p := range [...]*string{&e.Name, &e.Owner, &e.Team, &e.Environment, &e.Region, &e.DataClass, &e.PagerDutyTeam, &e.RunbookBaseURL} {
		*p = r.str()
	}
	return e
}

func (r *reader) skipEntry() {
	r.uvarint()
	for range 8 {
		r.bytes()
	}
}

// Lookup returns the entry for an entity: the entry naming it exactly,
// else the first glob (in file order) that matches its name, else the
// first label selector (in file order) whose labels it all carries. The
// selector fields of the result are set from the record that matched.
func (ix *Index) Lookup(entity string, labels map[string]string) (*Entry, error) {
	// Exact names: binary search on the sorted records.
	lo, hi := 0, ix.nNames
	key := []byte(entity)
	for lo < hi {
		mid := lo + (hi-lo)/2
		r := reader{b: ix.b, off: int(binary.LittleEndian.Uint32(ix.b[4*(1+mid):]))}
		c := bytes.Compare(r.bytes(), key)
		if r.err {
			return nil, errCorrupt
		}
		switch {
		case c == 0:
			e := r.entry()
			if r.err {
				return nil, errCorrupt
			}
			e.Entity = entity
			return &e, nil
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}

	r := reader{b: ix.b, off: ix.globsAt + 4}
	for range binary.LittleEndian.Uint32(ix.b[ix.globsAt:]) {
		pat := r.str()
		if r.err {
			return nil, errCorrupt
		}
		if ok, _ := path.Match(pat, entity); ok {
			e := r.entry()
			if r.err {
				return nil, errCorrupt
			}
			e.Glob = pat
			return &e, nil
		}
		r.skipEntry()
	}

	r = reader{b: ix.b, off: ix.labelsAt + 4}
	for range binary.LittleEndian.Uint32(ix.b[ix.labelsAt:]) {
		n := r.uvarint()
		if r.err || n > uint64(len(r.b)) {
			return nil, errCorrupt
		}
		match := true
		var sel map[string]string
		for range n {
			k, v := r.str(), r.str()
			if got, ok := labels[k]; !ok || got != v {
				match = false
			}
			if match {
				if sel == nil {
					sel = make(map[string]string, n)
				}
				sel[k] = v
			}
		}
		if r.err {
			return nil, errCorrupt
		}
		if match {
			e := r.entry()
			if r.err {
				return nil, errCorrupt
			}
			e.MatchLabels = sel
			return &e, nil
		}
		r.skipEntry()
	}
	if r.err {
		return nil, errCorrupt
	}
	return nil, nil
}
