package finding_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

func TestSeveritiesAreOrderedFromInfoToCritical(t *testing.T) {
	t.Parallel()
	require.Equal(t, []finding.Severity{finding.Info, finding.Low, finding.Medium, finding.High, finding.Critical}, finding.Severities())
	for i, s := range finding.Severities() {
		require.Equal(t, finding.Severity(i), s)
	}
	var zero finding.Severity
	require.Equal(t, finding.Info, zero)
}

func TestSeverityString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   finding.Severity
		want string
	}{
		{name: "info is named info", in: finding.Info, want: "info"},
		{name: "low is named low", in: finding.Low, want: "low"},
		{name: "medium is named medium", in: finding.Medium, want: "medium"},
		{name: "high is named high", in: finding.High, want: "high"},
		{name: "critical is named critical", in: finding.Critical, want: "critical"},
		{name: "a value above critical shows its number", in: finding.Severity(5), want: "severity(5)"},
		{name: "a negative value shows its number", in: finding.Severity(-1), want: "severity(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.in.String())
		})
	}
}

func TestParseSeverity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    finding.Severity
		wantErr bool
	}{
		{name: "a lowercase name parses", in: "medium", want: finding.Medium},
		{name: "an uppercase name parses", in: "HIGH", want: finding.High},
		{name: "a mixed case name parses", in: "Critical", want: finding.Critical},
		{name: "surrounding spaces are ignored", in: "  low\t", want: finding.Low},
		{name: "info parses", in: "info", want: finding.Info},
		{name: "an unknown name is an error", in: "severe", wantErr: true},
		{name: "a prefix of a name is an error", in: "crit", wantErr: true},
		{name: "the empty string is an error", in: "", wantErr: true},
		{name: "a number is an error", in: "3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := finding.ParseSeverity(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				require.ErrorContains(t, err, "unknown severity")
				require.ErrorContains(t, err, "info, low, medium, high, critical")
				require.Equal(t, finding.Info, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSeverityTextRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range finding.Severities() {
		t.Run(s.String()+" survives MarshalText and UnmarshalText", func(t *testing.T) {
			t.Parallel()
			b, err := s.MarshalText()
			require.NoError(t, err)
			require.Equal(t, s.String(), string(b))
			var got finding.Severity
			require.NoError(t, got.UnmarshalText(b))
			require.Equal(t, s, got)
		})
	}
}

func TestSeverityMarshalTextRejectsInvalidValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   finding.Severity
	}{
		{name: "a value above critical is rejected", in: finding.Severity(5)},
		{name: "a negative value is rejected", in: finding.Severity(-1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := tt.in.MarshalText()
			require.ErrorContains(t, err, "invalid severity")
			require.Nil(t, b)
			_, err = json.Marshal(tt.in)
			require.Error(t, err)
		})
	}
}

func TestSeverityUnmarshalText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		start   finding.Severity
		want    finding.Severity
		wantErr bool
	}{
		{name: "a name sets the severity", in: "high", start: finding.Info, want: finding.High},
		{name: "an uppercase name sets the severity", in: "LOW", start: finding.Critical, want: finding.Low},
		{name: "an unknown name is an error and leaves the value alone", in: "bogus", start: finding.Medium, want: finding.Medium, wantErr: true},
		{name: "an empty name is an error and leaves the value alone", in: "", start: finding.High, want: finding.High, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.start
			err := got.UnmarshalText([]byte(tt.in))
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSeverityJSON(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(map[string]finding.Severity{"s": finding.High})
	require.NoError(t, err)
	require.JSONEq(t, `{"s":"high"}`, string(b))

	tests := []struct {
		name    string
		in      string
		want    finding.Severity
		wantErr bool
	}{
		{name: "a JSON string name decodes", in: `"critical"`, want: finding.Critical},
		{name: "a JSON string in uppercase decodes", in: `"MEDIUM"`, want: finding.Medium},
		{name: "an unknown JSON string is an error", in: `"urgent"`, wantErr: true},
		{name: "a JSON number is an error", in: `3`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got finding.Severity
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func fullFinding() finding.Finding {
	return finding.Finding{
		Rule:        "fim.modified",
		Severity:    finding.High,
		Object:      "/usr/bin/ssh",
		Location:    "host-a",
		Message:     "/usr/bin/ssh was replaced",
		Kind:        "modified",
		Changed:     []string{"sha256", "mode"},
		Actor:       "alice",
		Source:      "10.0.0.7",
		Time:        time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.FixedZone("CET", 3600)),
		Fingerprint: "sha256:abcd",
		Count:       3,
		Attrs: map[string]any{
			"port":   22,
			"ratio":  0.25,
			"big":    int64(9007199254740993),
			"tags":   []string{"a", "b"},
			"nested": map[string]any{"n": 1, "s": "x"},
			"ok":     true,
			"none":   nil,
			"mode":   "0755",
		},
	}
}

func TestFindingMarshalJSONWritesOneFlatObject(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(fullFinding())
	require.NoError(t, err)
	require.JSONEq(t, `{
		"rule": "fim.modified",
		"severity": "high",
		"object": "/usr/bin/ssh",
		"location": "host-a",
		"message": "/usr/bin/ssh was replaced",
		"kind": "modified",
		"changed": ["sha256", "mode"],
		"actor": "alice",
		"source": "10.0.0.7",
		"time": "2026-03-04T04:06:07.890123456Z",
		"fingerprint": "sha256:abcd",
		"count": 3,
		"port": 22,
		"ratio": 0.25,
		"big": 9007199254740993,
		"tags": ["a", "b"],
		"nested": {"n": 1, "s": "x"},
		"ok": true,
		"none": null,
		"mode": "0755"
	}`, string(b))
}

func TestFindingMarshalJSONIsStable(t *testing.T) {
	t.Parallel()
	first, err := json.Marshal(fullFinding())
	require.NoError(t, err)
	for range 10 {
		again, err := json.Marshal(fullFinding())
		require.NoError(t, err)
		require.Equal(t, string(first), string(again))
	}
	// encoding/json sorts map keys: the output is alphabetical.
	require.True(t, strings.HasPrefix(string(first), `{"actor":"alice","big":`), string(first))
}

func TestFindingMarshalJSONOmitsEmptyOptionalFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   finding.Finding
		want string
	}{
		{
			name: "a minimal finding keeps rule, severity, object and message",
			in:   finding.Finding{Rule: "pii.email"},
			want: `{"rule":"pii.email","severity":"info","object":"","message":""}`,
		},
		{
			name: "a zero time and a zero count are omitted",
			in:   finding.Finding{Rule: "r", Severity: finding.Low, Object: "o", Message: "m", Time: time.Time{}, Count: 0},
			want: `{"rule":"r","severity":"low","object":"o","message":"m"}`,
		},
		{
			name: "a negative count is omitted",
			in:   finding.Finding{Rule: "r", Count: -2},
			want: `{"rule":"r","severity":"info","object":"","message":""}`,
		},
		{
			name: "an empty changed list is omitted",
			in:   finding.Finding{Rule: "r", Changed: []string{}},
			want: `{"rule":"r","severity":"info","object":"","message":""}`,
		},
		{
			name: "an empty attribute map adds nothing",
			in:   finding.Finding{Rule: "r", Attrs: map[string]any{}},
			want: `{"rule":"r","severity":"info","object":"","message":""}`,
		},
		{
			name: "a count of one is written",
			in:   finding.Finding{Rule: "r", Count: 1},
			want: `{"rule":"r","severity":"info","object":"","message":"","count":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.in)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(b))
		})
	}
}

func TestFindingMarshalJSONRejectsAttrsThatCollideWithFixedFields(t *testing.T) {
	t.Parallel()
	reserved := []string{"rule", "severity", "object", "location", "message", "kind", "changed", "actor", "source", "time", "fingerprint", "count"}
	for _, key := range reserved {
		t.Run("an attribute named "+key+" is rejected", func(t *testing.T) {
			t.Parallel()
			f := finding.Finding{Rule: "r", Severity: finding.Low, Attrs: map[string]any{"extra": 1, key: "x"}}
			b, err := json.Marshal(f)
			require.ErrorContains(t, err, `finding attribute "`+key+`" collides with a fixed field`)
			require.Nil(t, b)
		})
	}
}

func TestFindingMarshalJSONRejectsAnInvalidSeverity(t *testing.T) {
	t.Parallel()
	_, err := json.Marshal(finding.Finding{Rule: "r", Severity: finding.Severity(9)})
	require.ErrorContains(t, err, "invalid severity 9")
}

func TestFindingJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := fullFinding()
	b, err := json.Marshal(in)
	require.NoError(t, err)

	var got finding.Finding
	require.NoError(t, json.Unmarshal(b, &got))

	require.True(t, in.Time.Equal(got.Time), "time %v != %v", in.Time, got.Time)
	require.Equal(t, time.UTC, got.Time.Location())
	want := in
	want.Time = in.Time.UTC()
	// Attributes come back as JSON values, with numbers as json.Number so
	// that large integers keep their precision.
	want.Attrs = map[string]any{
		"port":   json.Number("22"),
		"ratio":  json.Number("0.25"),
		"big":    json.Number("9007199254740993"),
		"tags":   []any{"a", "b"},
		"nested": map[string]any{"n": json.Number("1"), "s": "x"},
		"ok":     true,
		"none":   nil,
		"mode":   "0755",
	}
	require.Equal(t, want, got)

	again, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(b), string(again))
}

func TestFindingJSONRoundTripOfAMinimalFinding(t *testing.T) {
	t.Parallel()
	in := finding.Finding{Rule: "pii.email", Severity: finding.Medium, Object: "log", Message: "m"}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var got finding.Finding
	require.NoError(t, json.Unmarshal(b, &got))
	require.Equal(t, in, got)
	require.Nil(t, got.Attrs)
	require.True(t, got.Time.IsZero())
}

func TestFindingJSONInsideASlice(t *testing.T) {
	t.Parallel()
	in := []finding.Finding{
		{Rule: "a", Severity: finding.Low, Attrs: map[string]any{"n": 1}},
		{Rule: "b", Severity: finding.Critical, Count: 2},
	}
	b, err := json.Marshal(in)
	require.NoError(t, err)
	var got []finding.Finding
	require.NoError(t, json.Unmarshal(b, &got))
	require.Len(t, got, 2)
	require.Equal(t, "a", got[0].Rule)
	require.Equal(t, finding.Low, got[0].Severity)
	require.Equal(t, map[string]any{"n": json.Number("1")}, got[0].Attrs)
	require.Equal(t, "b", got[1].Rule)
	require.Equal(t, finding.Critical, got[1].Severity)
	require.Equal(t, 2, got[1].Count)
}

func TestFindingUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    finding.Finding
		wantErr string
	}{
		{
			name: "unknown keys land in Attrs",
			in:   `{"rule":"r","severity":"low","user_id":"u1","n":1.5}`,
			want: finding.Finding{Rule: "r", Severity: finding.Low, Attrs: map[string]any{"user_id": "u1", "n": json.Number("1.5")}},
		},
		{
			name: "fixed keys do not land in Attrs",
			in:   `{"rule":"r","severity":"high","object":"o","location":"l","message":"m","kind":"k","changed":["x"],"actor":"a","source":"s","fingerprint":"f","count":4}`,
			want: finding.Finding{Rule: "r", Severity: finding.High, Object: "o", Location: "l", Message: "m", Kind: "k", Changed: []string{"x"}, Actor: "a", Source: "s", Fingerprint: "f", Count: 4},
		},
		{
			name: "the severity name is case-insensitive",
			in:   `{"rule":"r","severity":"CRITICAL"}`,
			want: finding.Finding{Rule: "r", Severity: finding.Critical},
		},
		{
			name: "info is an explicit severity, not a missing one",
			in:   `{"rule":"r","severity":"info"}`,
			want: finding.Finding{Rule: "r", Severity: finding.Info},
		},
		{
			name: "a time with an offset is read",
			in:   `{"rule":"r","severity":"low","time":"2026-01-02T03:04:05+02:00"}`,
			want: finding.Finding{Rule: "r", Severity: finding.Low, Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 7200))},
		},
		{name: "a missing rule is an error", in: `{"severity":"low"}`, wantErr: "finding has no rule"},
		{name: "an empty rule is an error", in: `{"rule":"","severity":"low"}`, wantErr: "finding has no rule"},
		{name: "a missing severity is an error naming the rule", in: `{"rule":"fim.added"}`, wantErr: "finding fim.added has no severity"},
		{name: "a null severity is an error", in: `{"rule":"r","severity":null}`, wantErr: "finding r has no severity"},
		{name: "an unknown severity is an error", in: `{"rule":"r","severity":"urgent"}`, wantErr: "unknown severity"},
		{name: "a numeric severity is an error", in: `{"rule":"r","severity":3}`, wantErr: "cannot unmarshal number"},
		{name: "a rule of the wrong type is an error", in: `{"rule":5,"severity":"low"}`, wantErr: "cannot unmarshal number"},
		{name: "a malformed time is an error", in: `{"rule":"r","severity":"low","time":"yesterday"}`, wantErr: "cannot parse"},
		{name: "a JSON array is an error", in: `[]`, wantErr: "cannot unmarshal array"},
		{name: "truncated JSON is an error", in: `{"rule":"r","severity":"low"`, wantErr: "unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got finding.Finding
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Time.Equal(got.Time), "time %v != %v", tt.want.Time, got.Time)
			tt.want.Time, got.Time = time.Time{}, time.Time{}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestFindingUnmarshalJSONReplacesEarlierContents(t *testing.T) {
	t.Parallel()
	got := fullFinding()
	require.NoError(t, json.Unmarshal([]byte(`{"rule":"r","severity":"low","x":"y"}`), &got))
	require.Equal(t, finding.Finding{Rule: "r", Severity: finding.Low, Attrs: map[string]any{"x": "y"}}, got)
}

func TestFindingUnmarshalJSONErrorLeavesTheFindingAlone(t *testing.T) {
	t.Parallel()
	got := finding.Finding{Rule: "keep", Severity: finding.High}
	require.Error(t, json.Unmarshal([]byte(`{"severity":"low"}`), &got))
	require.Equal(t, finding.Finding{Rule: "keep", Severity: finding.High}, got)
}

func TestFindingOccurrences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		count int
		want  int
	}{
		{name: "a zero count stands for one", count: 0, want: 1},
		{name: "a negative count stands for one", count: -4, want: 1},
		{name: "a count of one is one", count: 1, want: 1},
		{name: "a larger count is itself", count: 17, want: 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, finding.Finding{Count: tt.count}.Occurrences())
		})
	}
}

func TestFindingKey(t *testing.T) {
	t.Parallel()
	base := finding.Finding{Rule: "fim.modified", Object: "/etc/passwd", Message: "changed", Severity: finding.High}
	tests := []struct {
		name  string
		other finding.Finding
		same  bool
	}{
		{name: "a different message, severity and time is the same finding", other: finding.Finding{Rule: "fim.modified", Object: "/etc/passwd", Message: "changed again", Severity: finding.Low, Time: time.Unix(1, 0)}, same: true},
		{name: "different attributes are the same finding", other: finding.Finding{Rule: "fim.modified", Object: "/etc/passwd", Attrs: map[string]any{"a": 1}}, same: true},
		{name: "a different object is another finding", other: finding.Finding{Rule: "fim.modified", Object: "/etc/shadow"}, same: false},
		{name: "a different rule is another finding", other: finding.Finding{Rule: "fim.added", Object: "/etc/passwd"}, same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.same {
				require.Equal(t, base.Key(), tt.other.Key())
			} else {
				require.NotEqual(t, base.Key(), tt.other.Key())
			}
		})
	}
}

func TestFindingKeySeparatesRuleFromObject(t *testing.T) {
	t.Parallel()
	a := finding.Finding{Rule: "ab", Object: "c"}
	b := finding.Finding{Rule: "a", Object: "bc"}
	require.NotEqual(t, a.Key(), b.Key())
	require.Equal(t, "ab\x00c", a.Key())
}

func TestFindingCloneCopiesSlicesAndMaps(t *testing.T) {
	t.Parallel()
	orig := fullFinding()
	c := orig.Clone()
	require.Equal(t, orig, c)

	c.Changed[0] = "owner"
	c.Changed = append(c.Changed, "size")
	c.Attrs["port"] = 2222
	c.Attrs["added"] = "x"
	delete(c.Attrs, "mode")
	c.Rule = "other"

	require.Equal(t, fullFinding(), orig)
}

func TestFindingCloneKeepsNilAsNil(t *testing.T) {
	t.Parallel()
	c := finding.Finding{Rule: "r"}.Clone()
	require.Nil(t, c.Changed)
	require.Nil(t, c.Attrs)
}

func TestSortBySeverity(t *testing.T) {
	t.Parallel()
	fs := []finding.Finding{
		{Rule: "b", Object: "1", Severity: finding.Low},
		{Rule: "a", Object: "2", Severity: finding.Critical},
		{Rule: "a", Object: "1", Severity: finding.Info},
		{Rule: "b", Object: "1", Severity: finding.Critical},
		{Rule: "a", Object: "1", Severity: finding.Critical},
		{Rule: "c", Object: "9", Severity: finding.Medium},
		{Rule: "a", Object: "3", Severity: finding.High},
	}
	finding.SortBySeverity(fs)
	got := make([]string, len(fs))
	for i, f := range fs {
		got[i] = f.Severity.String() + " " + f.Rule + " " + f.Object
	}
	require.Equal(t, []string{
		"critical a 1",
		"critical a 2",
		"critical b 1",
		"high a 3",
		"medium c 9",
		"low b 1",
		"info a 1",
	}, got)
}

func TestSortBySeverityIsStable(t *testing.T) {
	t.Parallel()
	// Enough equal keys that an unstable sort (pdqsort only stays stable
	// below a dozen elements) would reorder them.
	sevs := []finding.Severity{finding.Low, finding.High, finding.Medium}
	var fs []finding.Finding
	for i := range 300 {
		fs = append(fs, finding.Finding{Rule: "r", Object: "o", Severity: sevs[(i*7)%3], Count: i})
	}
	finding.SortBySeverity(fs)
	for i := 1; i < len(fs); i++ {
		prev, cur := fs[i-1], fs[i]
		require.GreaterOrEqual(t, prev.Severity, cur.Severity)
		if prev.Severity == cur.Severity {
			require.Less(t, prev.Count, cur.Count, "equal findings keep their input order")
		}
	}
}

func TestSortBySeverityKeepsTheOrderOfFewEqualFindings(t *testing.T) {
	t.Parallel()
	fs := []finding.Finding{
		{Rule: "r", Object: "o", Severity: finding.Low, Message: "first low"},
		{Rule: "r", Object: "o", Severity: finding.High, Message: "first high"},
		{Rule: "r", Object: "o", Severity: finding.Low, Message: "second low"},
		{Rule: "r", Object: "o", Severity: finding.High, Message: "second high"},
		{Rule: "r", Object: "o", Severity: finding.Low, Message: "third low"},
		{Rule: "r", Object: "o", Severity: finding.High, Message: "third high"},
	}
	finding.SortBySeverity(fs)
	got := make([]string, len(fs))
	for i, f := range fs {
		got[i] = f.Message
	}
	require.Equal(t, []string{"first high", "second high", "third high", "first low", "second low", "third low"}, got)
}

func TestSortBySeverityHandlesEmptyAndNil(t *testing.T) {
	t.Parallel()
	require.NotPanics(t, func() { finding.SortBySeverity(nil) })
	empty := []finding.Finding{}
	finding.SortBySeverity(empty)
	require.Empty(t, empty)
}

func TestCloneCopiesNestedAttributes(t *testing.T) {
	t.Parallel()
	var f finding.Finding
	require.NoError(t, json.Unmarshal([]byte(`{"rule":"r","severity":"low","object":"o","message":"m","nested":{"list":[1,{"k":"v"}]}}`), &f))
	c := f.Clone()
	c.Attrs["nested"].(map[string]any)["list"].([]any)[1].(map[string]any)["k"] = "changed"
	require.Equal(t, "v", f.Attrs["nested"].(map[string]any)["list"].([]any)[1].(map[string]any)["k"])
}

func TestMarshalJSONEscapesLikeEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"plain", `quote " backslash \ slash /`, "<script>&amp;", "tab\tnew\nline\rcr\x00\x1f", "bad \xff utf8", "line\u2028sep\u2029", "émoji 🙂"} {
		f := finding.Finding{Rule: "r", Severity: finding.Low, Object: s, Message: s, Attrs: map[string]any{"zz": s}}
		got, err := json.Marshal(f)
		require.NoError(t, err)
		want, err := json.Marshal(map[string]any{"rule": "r", "severity": "low", "object": s, "message": s, "zz": s})
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

func TestParseSeverities(t *testing.T) {
	t.Parallel()
	got, err := finding.ParseSeverities(map[string]string{"k8s.pod_exec": "High", "pii.email": " low"})
	require.NoError(t, err)
	require.Equal(t, map[string]finding.Severity{"k8s.pod_exec": finding.High, "pii.email": finding.Low}, got)
	_, err = finding.ParseSeverities(map[string]string{"pii.email": "loud"})
	require.EqualError(t, err, `pii.email: unknown severity "loud" (want one of info, low, medium, high, critical)`)
}
