package nagios

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// service is one servicestatus block of status.dat.
type service struct {
	Host, Name   string
	Checked      bool
	State        int
	LastCheck    int64
	Output, Long string
	PerfData     string
	raw          map[string]string
}

// readStatus parses status.dat (Nagios writes it to a temporary file and
// renames it, so a read sees one whole version) into its services, by
// service_description.
func readStatus(path string) (map[string]service, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]service{}
	var block map[string]string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "servicestatus {":
			block = map[string]string{}
		case line == "}" && block != nil:
			s, err := toService(block)
			if err != nil {
				return nil, err
			}
			out[s.Name] = s
			block = nil
		case block != nil:
			if k, v, ok := strings.Cut(line, "="); ok {
				block[k] = v
			}
		}
	}
	return out, sc.Err()
}

func toService(b map[string]string) (service, error) {
	s := service{Host: b["host_name"], Name: b["service_description"], Output: b["plugin_output"],
		Long: strings.ReplaceAll(b["long_plugin_output"], `\n`, "\n"), PerfData: b["performance_data"], raw: b}
	s.Checked = b["has_been_checked"] == "1"
	var err error
	if s.State, err = strconv.Atoi(b["current_state"]); err != nil {
		return s, fmt.Errorf("service %q: current_state %q", s.Name, b["current_state"])
	}
	if s.LastCheck, err = strconv.ParseInt(b["last_check"], 10, 64); err != nil {
		return s, fmt.Errorf("service %q: last_check %q", s.Name, b["last_check"])
	}
	return s, nil
}

// perfItem is one item of Nagios performance data.
type perfItem struct {
	Label, Value, UOM, Warn, Crit, Min, Max string
}

var (
	perfRe = regexp.MustCompile(`^('[^'=]+'|[^'=\s]+)=(-?[0-9]+(?:\.[0-9]+)?)(s|ms|us|%|B|KB|MB|GB|TB|c)?` +
		`(?:;([^;]*)(?:;([^;]*)(?:;([^;]*)(?:;([^;]*))?)?)?)?$`)
	// A threshold range of the plugin guidelines: [@][start:][end], start may be ~.
	rangeRe = regexp.MustCompile(`^@?(?:(?:-?[0-9]+(?:\.[0-9]+)?|~):)?(?:-?[0-9]+(?:\.[0-9]+)?)?$`)
	numRe   = regexp.MustCompile(`^(?:-?[0-9]+(?:\.[0-9]+)?)?$`)
)

// parsePerfData splits performance data into items ('quoted labels' may
// hold spaces) and checks that each is 'label'=value[UOM];warn;crit;min;max.
func parsePerfData(s string) ([]perfItem, error) {
	var items []perfItem
	for _, tok := range splitPerf(s) {
		m := perfRe.FindStringSubmatch(tok)
		if m == nil {
			return nil, fmt.Errorf("malformed perfdata item %q", tok)
		}
		it := perfItem{Label: strings.Trim(m[1], "'"), Value: m[2], UOM: m[3], Warn: m[4], Crit: m[5], Min: m[6], Max: m[7]}
		if !rangeRe.MatchString(it.Warn) || !rangeRe.MatchString(it.Crit) {
			return nil, fmt.Errorf("perfdata item %q: bad warn/crit range", tok)
		}
		if !numRe.MatchString(it.Min) || !numRe.MatchString(it.Max) {
			return nil, fmt.Errorf("perfdata item %q: bad min/max", tok)
		}
		items = append(items, it)
	}
	return items, nil
}

func splitPerf(s string) []string {
	var toks []string
	var cur strings.Builder
	quoted := false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted = !quoted
			cur.WriteRune(r)
		case (r == ' ' || r == '\t' || r == '\n') && !quoted:
			if cur.Len() > 0 {
				toks = append(toks, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		toks = append(toks, cur.String())
	}
	return toks
}

func TestReadStatus(t *testing.T) {
	st, err := readStatus("testdata/status.dat")
	require.NoError(t, err)
	require.Len(t, st, 1)
	s := st["File integrity"]
	require.True(t, s.Checked)
	require.Equal(t, 2, s.State)
	require.EqualValues(t, 1795460001, s.LastCheck)
	require.Equal(t, "check-file-integrity CRITICAL - 1 change", s.Output)
	require.Equal(t, "[critical] fim.modified /usr/bin/ps\nsecond line", s.Long)
	items, err := parsePerfData(s.PerfData)
	require.NoError(t, err)
	require.Equal(t, []perfItem{
		{Label: "findings", Value: "1", Min: "0"},
		{Label: "bytes_hashed", Value: "2286", UOM: "B", Min: "0"},
		{Label: "a label", Value: "0.5", UOM: "s", Warn: "1:", Crit: "@10", Min: "0"},
	}, items)
}

func TestParsePerfDataRejects(t *testing.T) {
	for _, bad := range []string{"x", "x=", "x=abc", "x=1;;;;;", "'x=1", "x=1zz", "x=1;a", "x=1;;;z"} {
		_, err := parsePerfData(bad)
		require.Error(t, err, bad)
	}
}
