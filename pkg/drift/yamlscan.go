package drift

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// This file is a streaming reader for the block YAML that Ruby's Psych
// (libyaml's emitter) writes, which is what Puppet's last_run_report.yaml
// is. yaml.v3 decodes a 50 MB report into nodes in seconds and a
// gigabyte of memory; this reader passes each scalar with its path to a
// callback and keeps only the open nesting levels, so a report of any
// size is read in one pass in constant memory.
//
// It reads what an emitter writes: block mappings and sequences
// (sequences inside a mapping at the key's indentation, as libyaml
// writes them, or deeper), explicit keys ("? key" / ": value", which
// libyaml uses for keys longer than 128 characters), plain scalars folded
// over several lines, single- and double-quoted scalars over several
// lines with their escapes, literal and folded block scalars with
// chomping and indentation indicators, tags of any kind (!ruby/object:…,
// !ruby/sym, !binary, whose base64 is decoded), anchors and aliases of
// scalars (as a mapping value or a sequence entry), comments, the
// document markers (with a comment after them), and flow collections on
// one line (passed as their text). Anything else is an error with its
// line number, but for one limit: an alias of a mapping or a sequence
// reads as an empty scalar, its anchored collection not being kept (the
// reader keeps no tree). Psych writes such aliases only for a Ruby object
// referred to twice, which a Puppet report does not hold. yamlscan_test.go checks it against yaml.v3 on every fixture and
// on generated reports.

// pathElem is one step of a scalar's path: a mapping key or, when Index
// is 0 or more, a sequence index.
type pathElem struct {
	Key   string
	Index int
}

// maxYAMLLine bounds one line of a report.
const maxYAMLLine = 64 << 20

// yamlError is a syntax error at a line.
type yamlError struct {
	Line   int
	Reason string
}

func (e *yamlError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// errTruncated marks input that ends in the middle of a line or value.
var errTruncated = errors.New("truncated")

type yamlFrame struct {
	indent int
	seq    bool
	key    string
	idx    int
}

type pending struct {
	indent int  // the parent's column
	inMap  bool // the parent is a mapping key (a sequence may start at its column)
	tag    string
}

// yamlScanner reads one document.
type yamlScanner struct {
	r          *bufio.Reader
	lineNo     int
	line       []byte
	back       bool
	eof        bool
	noEOL      bool // the last line had no line break
	long       []byte
	frames     []yamlFrame
	path       []pathElem
	pend       *pending
	onScalar   func(path []pathElem, tag string, value []byte)
	anchors    map[string]string
	keys       map[string]string
	buf        []byte
	rootTag    string // the tag on the document's root node
	hadRoot    bool
	lastScalar string
}

func newYAMLScanner(r io.Reader, onScalar func(path []pathElem, tag string, value []byte)) *yamlScanner {
	return &yamlScanner{
		r:        bufio.NewReaderSize(r, 256<<10),
		onScalar: onScalar,
		anchors:  map[string]string{},
		keys:     map[string]string{},
	}
}

// next returns the next line without its line break.
func (s *yamlScanner) next() ([]byte, error) {
	if s.back {
		s.back = false
		return s.line, nil
	}
	if s.eof {
		return nil, io.EOF
	}
	b, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.long = append(s.long[:0], b...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(s.long) > maxYAMLLine {
				return nil, &yamlError{s.lineNo + 1, fmt.Sprintf("line longer than %d MiB", maxYAMLLine>>20)}
			}
			b, err = s.r.ReadSlice('\n')
			s.long = append(s.long, b...)
		}
		b = s.long
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if errors.Is(err, io.EOF) {
		s.eof = true
		if len(b) == 0 {
			return nil, io.EOF
		}
		s.noEOL = true
	}
	s.lineNo++
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	s.line = b
	return b, nil
}

func (s *yamlScanner) unread() { s.back = true }

func (s *yamlScanner) errf(format string, args ...any) error {
	return &yamlError{s.lineNo, fmt.Sprintf(format, args...)}
}

func indentOf(line []byte) (int, []byte) {
	n := 0
	for n < len(line) && line[n] == ' ' {
		n++
	}
	return n, line[n:]
}

func isBlank(c []byte) bool {
	return len(bytes.TrimLeft(c, " \t")) == 0
}

func isComment(c []byte) bool { return len(c) > 0 && c[0] == '#' }

func isSeqEntry(c []byte) bool {
	return len(c) > 0 && c[0] == '-' && (len(c) == 1 || c[1] == ' ')
}

// run reads the document and reports every scalar.
func (s *yamlScanner) run() error {
	started := false
	for {
		line, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		n, c := indentOf(line)
		if isBlank(c) || isComment(c) {
			continue
		}
		if n == 0 && (bytes.Equal(c, []byte("---")) || bytes.HasPrefix(c, []byte("--- "))) {
			if started {
				break // a second document: only the first is read
			}
			started = true
			rest := bytes.TrimLeft(c[3:], " ")
			if len(rest) == 0 || isComment(rest) {
				continue // "---" or "--- # comment"
			}
			_, tag, after := s.props(rest)
			s.rootTag = tag
			if after = bytes.TrimSpace(after); len(after) > 0 && !isComment(after) {
				if _, err := s.scalar(-1, after, tag, true); err != nil {
					return err
				}
			}
			continue
		}
		if n == 0 && bytes.Equal(bytes.TrimRight(c, " "), []byte("...")) {
			break
		}
		if n == 0 && c[0] == '%' && !started {
			continue // a directive
		}
		started = true
		if err := s.handle(n, c); err != nil {
			return err
		}
	}
	if s.pend != nil {
		s.pend = nil
		s.emit(s.pathNow(), "", nil)
	}
	if s.noEOL {
		return errTruncated
	}
	return nil
}

// handle processes one content line at column n.
func (s *yamlScanner) handle(n int, c []byte) error {
	if p := s.pend; p != nil {
		s.pend = nil
		if n > p.indent || (n == p.indent && p.inMap && isSeqEntry(c)) {
			return s.node(n, c, p.indent, p.inMap, p.tag)
		}
		s.emit(s.pathNow(), p.tag, nil)
	}
	for len(s.frames) > 0 {
		top := &s.frames[len(s.frames)-1]
		if top.indent > n || (top.indent == n && top.seq && !isSeqEntry(c)) {
			s.frames = s.frames[:len(s.frames)-1]
			continue
		}
		break
	}
	if len(s.frames) == 0 {
		if s.hadRoot {
			return s.errf("content after the document's root node")
		}
		return s.node(n, c, -1, false, s.rootTag)
	}
	top := &s.frames[len(s.frames)-1]
	if top.indent != n {
		return s.errf("bad indentation (column %d, expected %d)", n+1, top.indent+1)
	}
	if top.seq {
		if !isSeqEntry(c) {
			return s.errf("expected a sequence entry")
		}
		top.idx++
		return s.seqItem(n, c)
	}
	return s.mapEntry(n, c)
}

// node reads a node that starts at column col of the current line; the
// parent is at column parent. A collection may start here: the node
// begins its own line or follows a sequence entry's dash.
func (s *yamlScanner) node(col int, c []byte, parent int, inMap bool, tag string) error {
	s.hadRoot = true
	if isSeqEntry(c) {
		s.frames = append(s.frames, yamlFrame{indent: col, seq: true, idx: 0})
		return s.seqItem(col, c)
	}
	if c[0] == '?' && (len(c) == 1 || c[1] == ' ') {
		s.frames = append(s.frames, yamlFrame{indent: col})
		return s.mapEntry(col, c)
	}
	if key, rest, restCol, ok, err := s.splitKey(c, col); err != nil {
		return err
	} else if ok {
		s.frames = append(s.frames, yamlFrame{indent: col, key: key})
		return s.value(col, restCol, rest)
	}
	_ = inMap
	_, err := s.scalar(parent, c, tag, true)
	return err
}

// seqItem reads "- item" at column n.
func (s *yamlScanner) seqItem(n int, c []byte) error {
	rest := c[1:]
	sp := 0
	for sp < len(rest) && rest[sp] == ' ' {
		sp++
	}
	rest = rest[sp:]
	if len(rest) == 0 || isComment(rest) {
		s.pend = &pending{indent: n}
		return nil
	}
	anchor, tag, after := s.props(rest)
	if len(bytes.TrimSpace(after)) == 0 || isComment(bytes.TrimSpace(after)) {
		s.pend = &pending{indent: n, tag: tag}
		_ = anchor
		return nil
	}
	col := n + 1 + sp + (len(rest) - len(after))
	if tag != "" || anchor != "" {
		_, err := s.scalar(n, after, tag, true)
		if err == nil && anchor != "" {
			s.anchors[anchor] = s.lastScalar
		}
		return err
	}
	return s.node(col, after, n, false, "")
}

// mapEntry reads "key: value", "? key" or ": value" at column n, in the
// mapping on top of the stack.
func (s *yamlScanner) mapEntry(n int, c []byte) error {
	top := &s.frames[len(s.frames)-1]
	if c[0] == '?' && (len(c) == 1 || c[1] == ' ') {
		rest := bytes.TrimLeft(c[1:], " ")
		_, tag, after := s.props(rest)
		v, err := s.scalar(n, after, tag, false)
		if err != nil {
			return err
		}
		top = &s.frames[len(s.frames)-1]
		top.key = string(v)
		return nil
	}
	if c[0] == ':' && (len(c) == 1 || c[1] == ' ') {
		rest := c[1:]
		sp := 0
		for sp < len(rest) && rest[sp] == ' ' {
			sp++
		}
		return s.value(n, n+1+sp, rest[sp:])
	}
	key, rest, restCol, ok, err := s.splitKey(c, n)
	if err != nil {
		return err
	}
	if !ok {
		return s.errf("expected a key")
	}
	top.key = key
	return s.value(n, restCol, rest)
}

// value reads a mapping value that starts after "key:" on the line.
func (s *yamlScanner) value(keyCol, col int, rest []byte) error {
	if len(rest) == 0 || isComment(rest) {
		s.pend = &pending{indent: keyCol, inMap: true}
		return nil
	}
	anchor, tag, after := s.props(rest)
	if len(bytes.TrimSpace(after)) == 0 || isComment(after) {
		s.pend = &pending{indent: keyCol, inMap: true, tag: tag}
		_ = anchor
		return nil
	}
	_ = col
	_, err := s.scalar(keyCol, after, tag, true)
	if err == nil && anchor != "" {
		s.anchors[anchor] = s.lastScalar
	}
	return err
}

// props splits off an anchor (&a) and a tag (!t) in either order.
func (s *yamlScanner) props(c []byte) (anchor, tag string, rest []byte) {
	rest = c
	for range 2 {
		if len(rest) == 0 {
			break
		}
		switch rest[0] {
		case '&':
			end := bytes.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			anchor = string(rest[1:end])
		case '!':
			end := bytes.IndexByte(rest, ' ')
			if end < 0 {
				end = len(rest)
			}
			tag = string(rest[:end])
		default:
			return anchor, tag, rest
		}
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			return anchor, tag, nil
		}
		rest = bytes.TrimLeft(rest[end:], " ")
	}
	return anchor, tag, rest
}

// splitKey recognises "key: rest" (plain or quoted key) and returns the
// key, the rest after the colon and its column.
func (s *yamlScanner) splitKey(c []byte, col int) (key string, rest []byte, restCol int, ok bool, err error) {
	var kb []byte
	var after int
	switch c[0] {
	case '\'', '"':
		end := quotedEnd(c)
		if end < 0 {
			return "", nil, 0, false, nil // a multi-line quoted scalar: not a key
		}
		if end >= len(c) || c[end] != ':' || (end+1 < len(c) && c[end+1] != ' ') {
			return "", nil, 0, false, nil
		}
		v, e := unquoteLine(c[:end])
		if e != nil {
			return "", nil, 0, false, s.errf("%v", e)
		}
		kb, after = v, end+1
	case '-', '[', '{', '#', '&', '*', '!', '|', '>', '%', '@', '`', ']', '}':
		if c[0] == '-' && len(c) > 1 && c[1] != ' ' {
			break // "-foo: bar" is a plain key
		}
		return "", nil, 0, false, nil
	}
	if kb == nil {
		i := 0
		for {
			j := bytes.IndexByte(c[i:], ':')
			if j < 0 {
				return "", nil, 0, false, nil
			}
			i += j
			if h := bytes.Index(c[:i], []byte(" #")); h >= 0 {
				return "", nil, 0, false, nil
			}
			if i+1 == len(c) || c[i+1] == ' ' {
				break
			}
			i++
		}
		kb, after = bytes.TrimRight(c[:i], " "), i+1
	}
	sp := 0
	for after+sp < len(c) && c[after+sp] == ' ' {
		sp++
	}
	key, found := s.keys[string(kb)]
	if !found {
		key = string(kb)
		if len(s.keys) < 4096 {
			s.keys[key] = key
		}
	}
	return key, c[after+sp:], col + after + sp, true, nil
}

// quotedEnd returns the index after the closing quote of the quoted
// scalar c starts with, or -1 when it does not close on this line.
func quotedEnd(c []byte) int {
	q := c[0]
	for i := 1; i < len(c); i++ {
		switch {
		case q == '"' && c[i] == '\\':
			i++
		case c[i] == q:
			if q == '\'' && i+1 < len(c) && c[i+1] == '\'' {
				i++
				continue
			}
			return i + 1
		}
	}
	return -1
}

// unquoteLine decodes a quoted scalar that is whole on one line.
func unquoteLine(c []byte) ([]byte, error) {
	if c[0] == '\'' {
		return bytes.ReplaceAll(c[1:len(c)-1], []byte("''"), []byte("'")), nil
	}
	return unescape(nil, c[1:len(c)-1])
}

// unescape appends the double-quoted content b with its escapes decoded.
func unescape(dst, b []byte) ([]byte, error) {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			dst = append(dst, b[i])
			continue
		}
		i++
		if i >= len(b) {
			return nil, errors.New("a backslash ends the quoted string")
		}
		switch b[i] {
		case '0':
			dst = append(dst, 0)
		case 'a':
			dst = append(dst, 7)
		case 'b':
			dst = append(dst, 8)
		case 't', '\t':
			dst = append(dst, '\t')
		case 'n':
			dst = append(dst, '\n')
		case 'v':
			dst = append(dst, 11)
		case 'f':
			dst = append(dst, 12)
		case 'r':
			dst = append(dst, '\r')
		case 'e':
			dst = append(dst, 27)
		case ' ', '"', '/', '\\':
			dst = append(dst, b[i])
		case 'N':
			dst = utf8.AppendRune(dst, '\u0085')
		case '_':
			dst = utf8.AppendRune(dst, '\u00a0')
		case 'L':
			dst = utf8.AppendRune(dst, '\u2028')
		case 'P':
			dst = utf8.AppendRune(dst, '\u2029')
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[b[i]]
			if i+n >= len(b) {
				return nil, errors.New("a short escape in a quoted string")
			}
			r, err := strconv.ParseUint(string(b[i+1:i+1+n]), 16, 32)
			if err != nil {
				return nil, fmt.Errorf("bad escape \\%c%s", b[i], b[i+1:i+1+n])
			}
			if b[i] == 'x' {
				dst = append(dst, byte(r))
			} else {
				dst = utf8.AppendRune(dst, rune(r))
			}
			i += n
		default:
			return nil, fmt.Errorf("unknown escape \\%c", b[i])
		}
	}
	return dst, nil
}

// scalar reads a scalar starting with c on the current line, continuing
// on the lines below that are deeper than parent. When emit is set it is
// reported at the current path; its value is returned either way (valid
// until the next call).
func (s *yamlScanner) scalar(parent int, c []byte, tag string, emit bool) ([]byte, error) {
	start := s.lineNo
	var v []byte
	var err error
	s.buf = s.buf[:0]
	switch {
	case len(c) == 0:
		v = nil
	case c[0] == '\'' || c[0] == '"':
		v, err = s.quoted(c)
	case c[0] == '|' || c[0] == '>':
		v, err = s.block(parent, c)
	case c[0] == '*':
		v = append(s.buf, s.anchors[string(bytes.TrimSpace(c[1:]))]...)
	case c[0] == '[' || c[0] == '{':
		v = append(s.buf, bytes.TrimRight(c, " ")...)
		if !bytes.Equal(v, []byte("[]")) && !bytes.Equal(v, []byte("{}")) {
			if l := v[len(v)-1]; l != ']' && l != '}' {
				return nil, s.errf("a flow collection over several lines is not supported")
			}
		}
	default:
		v, err = s.plain(parent, c)
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &yamlError{start, "the file ends inside this value"}
		}
		return nil, err
	}
	if tag == "!binary" || tag == "!!binary" {
		dec := make([]byte, base64.StdEncoding.DecodedLen(len(v)))
		n, e := base64.StdEncoding.Decode(dec, bytes.Map(func(r rune) rune {
			if r == '\n' || r == ' ' {
				return -1
			}
			return r
		}, v))
		if e == nil {
			v = dec[:n]
		}
	}
	s.buf = v
	s.lastScalar = string(v)
	if emit {
		s.emit(s.pathNow(), tag, v)
	}
	return v, nil
}

// plain reads a plain scalar, folding its continuation lines.
func (s *yamlScanner) plain(parent int, c []byte) ([]byte, error) {
	v := append(s.buf, trimPlain(c)...)
	blanks := 0
	for {
		line, err := s.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return v, nil
			}
			return nil, err
		}
		n, cc := indentOf(line)
		if isBlank(cc) {
			blanks++
			continue
		}
		if n <= parent || isComment(cc) || (n == 0 && (bytes.HasPrefix(cc, []byte("---")) || bytes.HasPrefix(cc, []byte("...")))) {
			s.unread()
			return v, nil
		}
		if blanks == 0 {
			v = append(v, ' ')
		}
		for ; blanks > 0; blanks-- {
			v = append(v, '\n')
		}
		v = append(v, trimPlain(cc)...)
	}
}

// trimPlain drops a trailing comment and spaces.
func trimPlain(c []byte) []byte {
	if i := bytes.Index(c, []byte(" #")); i >= 0 {
		c = c[:i]
	}
	return bytes.TrimRight(c, " \t")
}

// quoted reads a single- or double-quoted scalar over as many lines as it
// takes.
func (s *yamlScanner) quoted(c []byte) ([]byte, error) {
	q := c[0]
	v := s.buf
	seg := c[1:]
	first := true
	for {
		// Find the closing quote on this segment.
		end := -1
		for i := 0; i < len(seg); i++ {
			if q == '"' && seg[i] == '\\' {
				i++
				continue
			}
			if seg[i] == q {
				if q == '\'' && i+1 < len(seg) && seg[i+1] == '\'' {
					i++
					continue
				}
				end = i
				break
			}
		}
		part := seg
		if end >= 0 {
			part = seg[:end]
		}
		if !first {
			part = bytes.TrimLeft(part, " \t")
		}
		escapedBreak := false
		if end < 0 {
			part = bytes.TrimRight(part, " \t")
			if q == '"' && len(part) > 0 && part[len(part)-1] == '\\' && !endsWithEscapedBackslash(part) {
				part, escapedBreak = part[:len(part)-1], true
			}
		}
		if q == '\'' {
			v = append(v, bytes.ReplaceAll(part, []byte("''"), []byte("'"))...)
		} else {
			var err error
			if v, err = unescape(v, part); err != nil {
				return nil, s.errf("%v", err)
			}
		}
		if end >= 0 {
			return v, nil
		}
		// Continue on the next line(s): blank lines are line breaks, one
		// break between text is a space.
		blanks := 0
		for {
			line, err := s.next()
			if err != nil {
				return nil, err
			}
			if isBlank(line) {
				blanks++
				continue
			}
			seg = line
			break
		}
		switch {
		case blanks > 0:
			for ; blanks > 0; blanks-- {
				v = append(v, '\n')
			}
		case !escapedBreak:
			v = append(v, ' ')
		}
		first = false
	}
}

// endsWithEscapedBackslash reports whether b ends with "\\" (an escaped
// backslash) rather than a lone escaping one.
func endsWithEscapedBackslash(b []byte) bool {
	n := 0
	for i := len(b) - 1; i >= 0 && b[i] == '\\'; i-- {
		n++
	}
	return n%2 == 0
}

// block reads a literal (|) or folded (>) block scalar.
func (s *yamlScanner) block(parent int, c []byte) ([]byte, error) {
	literal := c[0] == '|'
	chomp := byte(0)
	indent := 0
	for _, ch := range trimPlain(c[1:]) {
		switch {
		case ch == '-' || ch == '+':
			chomp = ch
		case ch >= '1' && ch <= '9':
			indent = int(ch - '0')
		default:
			return nil, s.errf("bad block scalar header %q", c)
		}
	}
	base := max(parent, 0)
	if parent < 0 {
		base = 0
	}
	contentIndent := -1
	if indent > 0 {
		contentIndent = base + indent
		if parent < 0 {
			contentIndent = indent
		}
	}
	v := s.buf
	trailing := 0 // line breaks not yet written
	prevMore := false
	started := false
	for {
		line, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		n, cc := indentOf(line)
		if isBlank(cc) {
			if contentIndent >= 0 && n > contentIndent {
				// A whitespace line longer than the indentation keeps its spaces in a literal.
				if literal {
					for ; trailing > 0; trailing-- {
						v = append(v, '\n')
					}
					v = append(v, line[contentIndent:]...)
					trailing = 1
					started = true
					continue
				}
			}
			trailing++
			continue
		}
		if contentIndent < 0 {
			if n <= parent {
				s.unread()
				break
			}
			contentIndent = n
		}
		if n < contentIndent {
			s.unread()
			break
		}
		text := line[contentIndent:]
		more := len(text) > 0 && (text[0] == ' ' || text[0] == '\t')
		switch {
		case !started:
			for ; trailing > 0; trailing-- {
				v = append(v, '\n')
			}
		case literal || more || prevMore:
			for ; trailing > 0; trailing-- {
				v = append(v, '\n')
			}
		case trailing == 1:
			v = append(v, ' ')
		default:
			for trailing--; trailing > 0; trailing-- {
				v = append(v, '\n')
			}
		}
		v = append(v, text...)
		trailing = 1
		started = true
		prevMore = more
	}
	switch chomp {
	case '-':
	case '+':
		for ; trailing > 0; trailing-- {
			v = append(v, '\n')
		}
	default:
		if started {
			v = append(v, '\n')
		}
	}
	return v, nil
}

// pathNow is the path of the value being read.
func (s *yamlScanner) pathNow() []pathElem {
	s.path = s.path[:0]
	for _, f := range s.frames {
		if f.seq {
			s.path = append(s.path, pathElem{Index: f.idx})
		} else {
			s.path = append(s.path, pathElem{Key: f.key, Index: -1})
		}
	}
	return s.path
}

func (s *yamlScanner) emit(path []pathElem, tag string, v []byte) {
	if s.onScalar != nil {
		s.onScalar(path, tag, v)
	}
}
