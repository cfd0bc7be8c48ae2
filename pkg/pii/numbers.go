package pii

import (
	"net/netip"
	"strings"
)

// maxGroups bounds the digit groups of one run.
const maxGroups = 12

// run is a parsed run of digit groups: "4111 1111 1111 1111" has four
// groups of four separated by spaces.
type run struct {
	start, end int
	n          int // groups
	digits     int
	groups     [maxGroups]uint8 // digits per group (a group longer than 255 digits is not a value)
	seps       [maxGroups]byte
}

// sameSep reports whether every separator is c (a run of one group has
// none and qualifies).
func (r *run) sameSep(c byte) bool {
	for k := 0; k < r.n-1; k++ {
		if r.seps[k] != c {
			return false
		}
	}
	return true
}

func (r *run) shape(gs ...int) bool {
	if r.n != len(gs) {
		return false
	}
	for k, g := range gs {
		if int(r.groups[k]) != g {
			return false
		}
	}
	return true
}

// digitsOf copies the digits of data[start:end] into buf.
func digitsOf(data []byte, start, end int, buf []byte) []byte {
	buf = buf[:0]
	for _, c := range data[start:end] {
		if isDigit[c] {
			buf = append(buf, c)
		}
	}
	return buf
}

// number parses the number that starts at data[i] and returns the index
// after it. Digits inside a word (a hash, an identifier, "x86_64") are
// skipped with the word; an IBAN is a word that starts with two capitals.
func (s *Scanner) number(data []byte, i int, ms []Match) ([]Match, int) {
	n := len(data)
	if !boundary(data, i) {
		if s.on[rIBAN] && i >= 2 && isUpper[data[i-1]] && isUpper[data[i-2]] && boundary(data, i-2) {
			if m, ok := ibanAt(data, i-2); ok {
				return append(ms, m), m.End
			}
		}
		return ms, span(data, i, &isWord)
	}
	// First pass, no bookkeeping: most runs in logs (times, dates,
	// ports, sizes) are too short to be anything.
	j, digits, seps, dots := i, 0, 0, 0
	for {
		for j < n && isDigit[data[j]] {
			j++
			digits++
		}
		if j+1 < n && (data[j] == ' ' || data[j] == '-' || data[j] == '.') && isDigit[data[j+1]] {
			if data[j] == '.' {
				dots++
			}
			j++
			seps++
			continue
		}
		break
	}
	if j < n && isWord[data[j]] {
		// "2x", "64bit", "10am": a word, not a number.
		return ms, span(data, j, &isWord)
	}
	if !s.on[rIP] && (digits < 9 || dots > 0 && (dots != 2 || seps != 2 || digits != 10)) {
		// Without IP addresses, a dotted run can only be a phone number
		// written 415.555.2671.
		return ms, j
	}
	// The groups after "DE79 " are the rest of an IBAN-shaped number whose
	// check failed: not a card or a phone of their own.
	if i >= 5 && data[i-1] == ' ' && isUpper[data[i-5]] && isUpper[data[i-4]] && isDigit[data[i-3]] && isDigit[data[i-2]] && boundary(data, i-5) && ibanCountry(data[i-5:i-3]) {
		return ms, j
	}
	// A compact run can only be an undashed SSN (9 digits) or a card (13 to
	// 19 digits, first digit 2 to 6): epoch timestamps, ids and sizes stop
	// here.
	if seps == 0 && digits != 9 && (digits < 13 || digits > 19 || data[i] < '2' || data[i] > '6') {
		return ms, j
	}
	r := parseRun(data, i, j)
	if couldBeIP := s.on[rIP] && r.n == 4; r.digits < 9 && !couldBeIP {
		return ms, r.end
	}
	if m, ok := s.classify(data, &r); ok {
		return append(ms, m), r.end
	}
	// A run of several numbers may hold one whole: "id 12 card 4111…" is
	// not it, but "batch 7 4111111111111111" is. Try each group alone.
	if r.n > 1 {
		// The groups are walked in the data itself: a group's recorded
		// length stops at 255.
		for pos := r.start; pos < r.end; {
			end := span(data, pos, &isDigit)
			if g := end - pos; g >= 9 && g <= 19 {
				one := run{start: pos, end: end, n: 1, digits: g}
				one.groups[0] = uint8(g)
				if m, ok := s.classify(data, &one); ok {
					ms = append(ms, m)
				}
			}
			pos = end + 1
		}
	}
	return ms, r.end
}

// parseRun splits data[i:end] into digit groups and separators.
func parseRun(data []byte, i, end int) run {
	r := run{start: i, end: end}
	for j := i; j < end && r.n < maxGroups; {
		g := j
		for j < end && isDigit[data[j]] {
			j++
		}
		r.groups[r.n] = uint8(min(j-g, 255)) //nolint:gosec // bounded
		r.digits += j - g
		if j < end {
			r.seps[r.n] = data[j]
			j++
		}
		r.n++
		if r.n == maxGroups {
			r.end = j
		}
	}
	return r
}

// classify validates a run as an SSN, a phone number, a card or an IP
// address.
func (s *Scanner) classify(data []byte, r *run) (Match, bool) {
	var buf [24]byte
	switch {
	case s.on[rSSN] && r.shape(3, 2, 4) && r.sameSep('-'):
		d := digitsOf(data, r.start, r.end, buf[:0])
		if validSSN(d) {
			return Match{Rule: USSSN, Start: r.start, End: r.end, Hint: "US SSN", norm: string(d)}, true
		}
	case s.on[rPhone] && r.shape(3, 3, 4) && (r.sameSep('-') || r.sameSep('.')):
		d := digitsOf(data, r.start, r.end, buf[:0])
		if validNANP(d) {
			return phoneMatch(r.start, r.end, "1"+string(d)), true
		}
	}
	if s.on[rCard] && r.digits >= 13 && r.digits <= 19 && (r.n == 1 || r.sameSep(' ') || r.sameSep('-')) && cardGrouping(r) {
		d := digitsOf(data, r.start, r.end, buf[:0])
		if brand := cardBrand(d); brand != "" && luhn(d) {
			return Match{Rule: CreditCard, Start: r.start, End: r.end, Class: brand,
				Hint: brand + " card ending " + string(d[len(d)-4:]), norm: string(d)}, true
		}
	}
	if s.on[rSSN] && (r.shape(9) || (r.shape(3, 2, 4) && r.sameSep(' '))) && ssnContext(data, r.start) {
		d := digitsOf(data, r.start, r.end, buf[:0])
		if validSSN(d) {
			return Match{Rule: USSSN, Start: r.start, End: r.end, Hint: "US SSN", norm: string(d)}, true
		}
	}
	if s.on[rIP] && r.n == 4 && r.sameSep('.') {
		if m, ok := ipMatch(data, r); ok {
			return m, true
		}
	}
	return Match{}, false
}

// cardGrouping accepts compact numbers, groups of four (the last
// shorter), and the Amex 4-6-5 and Diners 4-6-4 layouts.
func cardGrouping(r *run) bool {
	if r.n == 1 || r.shape(4, 6, 5) || r.shape(4, 6, 4) {
		return true
	}
	for k := 0; k < r.n-1; k++ {
		if r.groups[k] != 4 {
			return false
		}
	}
	return r.groups[r.n-1] >= 1 && r.groups[r.n-1] <= 4
}

// luhn checks the Luhn check digit.
func luhn(d []byte) bool {
	sum := 0
	double := false
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// cardBrand returns the brand whose issuer prefix and length the number
// has, or "" (a millisecond timestamp starts with 1: no issuer).
func cardBrand(d []byte) string {
	l := len(d)
	p2 := int(d[0]-'0')*10 + int(d[1]-'0')
	p3 := p2*10 + int(d[2]-'0')
	p4 := p3*10 + int(d[3]-'0')
	switch {
	case d[0] == '4' && (l == 13 || l == 16 || l == 19):
		return "visa"
	case (p2 >= 51 && p2 <= 55 || p4 >= 2221 && p4 <= 2720) && l == 16:
		return "mastercard"
	case (p2 == 34 || p2 == 37) && l == 15:
		return "amex"
	case (p4 == 6011 || p2 == 65 || p3 >= 644 && p3 <= 649) && l >= 16 && l <= 19:
		return "discover"
	case p4 >= 3528 && p4 <= 3589 && l >= 16 && l <= 19:
		return "jcb"
	case (p2 == 36 || p3 >= 300 && p3 <= 305 || p2 == 38 || p2 == 39) && l >= 14 && l <= 19:
		return "diners"
	case p2 == 62 && l >= 16 && l <= 19:
		return "unionpay"
	case p4 >= 2200 && p4 <= 2204 && l == 16:
		return "mir"
	case (p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 || p4 == 6759 || p4 >= 6761 && p4 <= 6763) && l >= 16 && l <= 19:
		return "maestro"
	}
	return ""
}

// validSSN applies the SSA rules: area not 000, 666 or 900-999, group not
// 00, serial not 0000, and not a famous fake.
func validSSN(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	s := string(d)
	area, group, serial := s[:3], s[3:5], s[5:]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	switch s {
	case "078051120", "123456789", "219099999", "457555462":
		return false
	}
	return strings.Trim(s, s[:1]) != "" // not all the same digit
}

// ssnContext looks for "ssn" shortly before an undashed SSN, which is
// otherwise any nine digits.
func ssnContext(data []byte, start int) bool { return wordBefore(data, start, 24, "ssn") }

// wordBefore says whether word (lowercase letters) stands, in any case,
// within the window bytes before start. It does not allocate.
func wordBefore(data []byte, start, window int, word string) bool {
	w := data[max(0, start-window):start]
	for k := 0; k+len(word) <= len(w); k++ {
		j := 0
		for j < len(word) && w[k+j]|0x20 == word[j] {
			j++
		}
		if j == len(word) {
			return true
		}
	}
	return false
}

// validNANP checks a 10-digit North American number: area and exchange
// start with 2-9 and are not N11 service codes.
func validNANP(d []byte) bool {
	if len(d) != 10 {
		return false
	}
	area, exch := d[:3], d[3:6]
	if area[0] < '2' || exch[0] < '2' {
		return false
	}
	if area[1] == '9' || (area[1] == '1' && area[2] == '1') || (exch[1] == '1' && exch[2] == '1') {
		return false
	}
	return true
}

func phoneMatch(start, end int, e164 string) Match {
	return Match{Rule: Phone, Start: start, End: end, Hint: "phone number +" + e164[:len(e164)-min(len(e164), 8)] + "… ending " + e164[len(e164)-2:], norm: "+" + e164}
}

func allDigits(b []byte) bool { return span(b, 0, &isDigit) == len(b) }

// parenPhone parses "(415) 555-2671" at data[i] == '('.
func (s *Scanner) parenPhone(data []byte, i int, ms []Match) []Match {
	n := len(data)
	if i+13 > n || !boundary(data, i) {
		return ms
	}
	b := data[i:]
	if !allDigits(b[1:4]) || b[4] != ')' {
		return ms
	}
	k := 5
	if b[k] == ' ' {
		k++
	}
	if k+8 > len(b) || !allDigits(b[k:k+3]) || (b[k+3] != '-' && b[k+3] != ' ' && b[k+3] != '.') || !allDigits(b[k+4:k+8]) {
		return ms
	}
	end := i + k + 8
	if end < n && isWord[data[end]] {
		return ms
	}
	var buf [16]byte
	d := digitsOf(data, i, end, buf[:0])
	if !validNANP(d) {
		return ms
	}
	return append(ms, phoneMatch(i, end, "1"+string(d)))
}

// intlPhone parses "+CC national number" at data[i] == '+', with spaces,
// dashes, dots and one pair of parentheses as separators.
func (s *Scanner) intlPhone(data []byte, i int, ms []Match) ([]Match, int) {
	n := len(data)
	var buf [20]byte
	d := buf[:0]
	j := i + 1
	end := j
	parens := 0
	for j < n && len(d) < 16 {
		c := data[j]
		switch {
		case isDigit[c]:
			d = append(d, c)
			j++
			end = j
		case (c == ' ' || c == '-' || c == '.') && j+1 < n && (isDigit[data[j+1]] || data[j+1] == '('):
			j++
		case c == '(' && parens == 0 && j+1 < n && isDigit[data[j+1]]:
			parens = 1
			j++
		case c == ')' && parens == 1:
			parens = 2
			j++
		default:
			goto done
		}
	}
done:
	if end < n && isWord[data[end]] || len(d) < 8 || len(d) > 15 {
		return ms, end
	}
	if !validE164(d) {
		return ms, end
	}
	return append(ms, phoneMatch(i, end, string(d))), end
}

// validE164 checks a full international number: a known country code and
// a national number of a plausible length for it.
func validE164(d []byte) bool {
	if d[0] == '1' {
		return len(d) == 11 && validNANP(d[1:])
	}
	cc, national := countryCode(d)
	if cc == "" {
		return false
	}
	l := len(national)
	if national[0] == '0' {
		return false // the trunk prefix is dropped after a country code
	}
	switch cc {
	case "44":
		return l == 9 || l == 10
	case "49":
		return l >= 5 && l <= 11
	case "33", "34", "32":
		return l == 9
	case "7":
		return l == 10
	case "39":
		return l >= 6 && l <= 11
	case "31", "41", "43", "45", "46", "47", "48":
		return l >= 7 && l <= 10
	default:
		return l >= 6 && l <= 12
	}
}

// countryCode splits a number into an ITU country code and the rest.
func countryCode(d []byte) (string, []byte) {
	if d[0] == '7' {
		return "7", d[1:]
	}
	if len(d) > 2 && twoDigitCC[string(d[:2])] {
		return string(d[:2]), d[2:]
	}
	if len(d) > 3 && threeDigitCC(string(d[:3])) {
		return string(d[:3]), d[3:]
	}
	return "", nil
}

var twoDigitCC = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98") {
		m[c] = true
	}
	return m
}()

// threeDigitCC accepts the zones of three-digit codes (Africa 21x-29x,
// Europe 35x-38x and 42x, the Americas 50x/59x, Oceania 67x-69x, East Asia
// 85x-88x, the Middle East 96x-97x, Central Asia 99x).
func threeDigitCC(c string) bool {
	switch c[:2] {
	case "21", "22", "23", "24", "25", "26", "28", "29", "35", "37", "38", "42", "50", "59", "67", "68", "69", "80", "85", "87", "88", "96", "97", "99":
		return true
	}
	return false
}

// ipMatch classifies a dotted quad. Version strings ("version":
// "10.7.31.9") and runs that continue as OIDs are not addresses.
func ipMatch(data []byte, r *run) (Match, bool) {
	if r.start > 0 && (data[r.start-1] == '.' || data[r.start-1] == '/') {
		return Match{}, false
	}
	if wordBefore(data, r.start, 16, "version") {
		return Match{}, false
	}
	addr, err := netip.ParseAddr(string(data[r.start:r.end]))
	if err != nil {
		return Match{}, false
	}
	class := ipClass(addr)
	return Match{Rule: IPAddress, Start: r.start, End: r.end, Class: class, Hint: class + " IPv4 address", norm: addr.String()}, true
}

// ipClass sorts an address into private, public or reserved (loopback,
// link-local, documentation, multicast and other special ranges).
func ipClass(a netip.Addr) string {
	switch {
	case a.IsPrivate():
		return "private"
	case a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() || reserved(a):
		return "reserved"
	default:
		return ipClassPublic
	}
}

var reservedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, p := range []string{"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32"} {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}()

func reserved(a netip.Addr) bool {
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
