package pii

// ibanCountry says whether two bytes are a country with IBANs.
func ibanCountry(cc []byte) bool {
	_, ok := ibanLengths[string(cc)]
	return ok
}

// ibanLengths is the length of each country's IBAN (SWIFT IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27, "BR": 29, "BY": 28,
	"CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
	"IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
	"LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
	"NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
	"SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29,
	"VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// ibanAt parses an IBAN starting at data[i] (two capitals, two check
// digits), compact or grouped by four with single spaces, and validates
// its length and mod-97 check.
func ibanAt(data []byte, i int) (Match, bool) {
	n := len(data)
	if i+4 > n {
		return Match{}, false
	}
	want, ok := ibanLengths[string(data[i:i+2])]
	if !ok {
		return Match{}, false
	}
	var buf [34]byte
	b := buf[:0]
	j := i
	grouped := j+4 < n && data[j+4] == ' '
	for j < n && len(b) < want {
		c := data[j]
		switch {
		case isAlnum[c] && (c < 'a' || c > 'z'):
			b = append(b, c)
			j++
		case grouped && c == ' ' && len(b)%4 == 0 && j+1 < n && isAlnum[data[j+1]]:
			j++
		default:
			return Match{}, false
		}
	}
	if len(b) != want || (j < n && isWord[data[j]]) {
		return Match{}, false
	}
	if !mod97(b) {
		return Match{}, false
	}
	return Match{Rule: IBAN, Start: i, End: j, Class: string(b[:2]),
		Hint: "IBAN " + string(b[:2]) + "… ending " + string(b[len(b)-4:]), norm: string(b)}, true
}

// mod97 checks an IBAN: move the first four characters to the end, read
// letters as 10-35, and the number must be 1 modulo 97.
func mod97(b []byte) bool {
	for _, c := range b {
		if !isDigit[c] && !isUpper[c] {
			return false // a custom detector's match may hold anything
		}
	}
	rem := 0
	add := func(c byte) {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		default:
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		}
	}
	for _, c := range b[4:] {
		add(c)
	}
	for _, c := range b[:4] {
		add(c)
	}
	return rem == 1
}
