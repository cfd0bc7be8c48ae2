package finding_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/finding"
)

func TestStatusString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   finding.Status
		want string
	}{
		{name: "0 is OK", in: finding.StatusOK, want: "OK"},
		{name: "1 is WARNING", in: finding.StatusWarning, want: "WARNING"},
		{name: "2 is CRITICAL", in: finding.StatusCritical, want: "CRITICAL"},
		{name: "3 is UNKNOWN", in: finding.StatusUnknown, want: "UNKNOWN"},
		{name: "an out of range code is UNKNOWN", in: finding.Status(42), want: "UNKNOWN"},
		{name: "a negative code is UNKNOWN", in: finding.Status(-1), want: "UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.in.String())
		})
	}
}

func TestStatusExitCodes(t *testing.T) {
	t.Parallel()
	require.Equal(t, 0, int(finding.StatusOK))
	require.Equal(t, 1, int(finding.StatusWarning))
	require.Equal(t, 2, int(finding.StatusCritical))
	require.Equal(t, 3, int(finding.StatusUnknown))
}

func TestWorse(t *testing.T) {
	t.Parallel()
	ok, warn, crit, unk := finding.StatusOK, finding.StatusWarning, finding.StatusCritical, finding.StatusUnknown
	tests := []struct {
		name string
		a, b finding.Status
		want finding.Status
	}{
		{name: "OK and OK is OK", a: ok, b: ok, want: ok},
		{name: "WARNING is worse than OK", a: ok, b: warn, want: warn},
		{name: "UNKNOWN is worse than OK", a: ok, b: unk, want: unk},
		{name: "CRITICAL is worse than OK", a: ok, b: crit, want: crit},
		{name: "UNKNOWN is worse than WARNING", a: warn, b: unk, want: unk},
		{name: "CRITICAL is worse than WARNING", a: warn, b: crit, want: crit},
		{name: "CRITICAL is worse than UNKNOWN", a: unk, b: crit, want: crit},
		{name: "WARNING and WARNING is WARNING", a: warn, b: warn, want: warn},
		{name: "UNKNOWN and UNKNOWN is UNKNOWN", a: unk, b: unk, want: unk},
		{name: "CRITICAL and CRITICAL is CRITICAL", a: crit, b: crit, want: crit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, finding.Worse(tt.a, tt.b))
			require.Equal(t, tt.want, finding.Worse(tt.b, tt.a), "Worse is symmetric")
		})
	}
}

func TestWorseFoldsToTheWorstStatus(t *testing.T) {
	t.Parallel()
	got := finding.StatusOK
	for _, s := range []finding.Status{finding.StatusWarning, finding.StatusUnknown, finding.StatusOK, finding.StatusWarning} {
		got = finding.Worse(got, s)
	}
	require.Equal(t, finding.StatusUnknown, got)
	got = finding.Worse(got, finding.StatusCritical)
	got = finding.Worse(got, finding.StatusUnknown)
	require.Equal(t, finding.StatusCritical, got)
}

func TestDefaultStatusMap(t *testing.T) {
	t.Parallel()
	m := finding.DefaultStatusMap()
	require.Equal(t, finding.StatusMap{
		finding.Critical: finding.StatusCritical,
		finding.High:     finding.StatusCritical,
		finding.Medium:   finding.StatusWarning,
		finding.Low:      finding.StatusWarning,
		finding.Info:     finding.StatusOK,
	}, m)

	m[finding.Info] = finding.StatusCritical
	require.Equal(t, finding.StatusOK, finding.DefaultStatusMap()[finding.Info], "each call returns a fresh map")
}

func TestStatusMapStatusFallsBackToTheDefault(t *testing.T) {
	t.Parallel()
	var nilMap finding.StatusMap
	tests := []struct {
		name string
		m    finding.StatusMap
		sev  finding.Severity
		want finding.Status
	}{
		{name: "an override is used", m: finding.StatusMap{finding.High: finding.StatusWarning}, sev: finding.High, want: finding.StatusWarning},
		{name: "a severity missing from the map uses the default", m: finding.StatusMap{finding.High: finding.StatusWarning}, sev: finding.Critical, want: finding.StatusCritical},
		{name: "an empty map uses the default", m: finding.StatusMap{}, sev: finding.Medium, want: finding.StatusWarning},
		{name: "a nil map uses the default", m: nilMap, sev: finding.Info, want: finding.StatusOK},
		{name: "an override to OK is used, not mistaken for missing", m: finding.StatusMap{finding.Critical: finding.StatusOK}, sev: finding.Critical, want: finding.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.m.Status(tt.sev))
		})
	}
}

func TestStatusMapOf(t *testing.T) {
	t.Parallel()
	f := func(sevs ...finding.Severity) []finding.Finding {
		fs := make([]finding.Finding, len(sevs))
		for i, s := range sevs {
			fs[i] = finding.Finding{Rule: "r", Severity: s}
		}
		return fs
	}
	def := finding.DefaultStatusMap()
	tests := []struct {
		name string
		m    finding.StatusMap
		fs   []finding.Finding
		want finding.Status
	}{
		{name: "no findings is OK", m: def, fs: nil, want: finding.StatusOK},
		{name: "an empty list is OK", m: def, fs: []finding.Finding{}, want: finding.StatusOK},
		{name: "info findings are OK", m: def, fs: f(finding.Info, finding.Info), want: finding.StatusOK},
		{name: "a low finding is WARNING", m: def, fs: f(finding.Info, finding.Low), want: finding.StatusWarning},
		{name: "a medium finding is WARNING", m: def, fs: f(finding.Medium), want: finding.StatusWarning},
		{name: "a high finding is CRITICAL", m: def, fs: f(finding.Low, finding.High, finding.Info), want: finding.StatusCritical},
		{name: "a critical finding is CRITICAL whatever its position", m: def, fs: f(finding.Critical, finding.Low), want: finding.StatusCritical},
		{name: "an override lowers high to WARNING", m: finding.StatusMap{finding.High: finding.StatusWarning}, fs: f(finding.High, finding.Low), want: finding.StatusWarning},
		{name: "an override raises info to CRITICAL", m: finding.StatusMap{finding.Info: finding.StatusCritical}, fs: f(finding.Info), want: finding.StatusCritical},
		{name: "an override silencing everything is OK", m: finding.StatusMap{finding.Critical: 0, finding.High: 0, finding.Medium: 0, finding.Low: 0, finding.Info: 0}, fs: f(finding.Critical, finding.Medium), want: finding.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.m.Of(tt.fs))
		})
	}
}

func TestParseStatusMap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		overrides map[string]int
		want      finding.StatusMap
		wantErr   string
	}{
		{
			name:      "no overrides is the default map",
			overrides: nil,
			want:      finding.DefaultStatusMap(),
		},
		{
			name:      "an override replaces one entry and keeps the others",
			overrides: map[string]int{"high": 1},
			want:      finding.StatusMap{finding.Critical: 2, finding.High: 1, finding.Medium: 1, finding.Low: 1, finding.Info: 0},
		},
		{
			name:      "severity names are case-insensitive",
			overrides: map[string]int{"INFO": 2, "Low": 0},
			want:      finding.StatusMap{finding.Critical: 2, finding.High: 2, finding.Medium: 1, finding.Low: 0, finding.Info: 2},
		},
		{
			name:      "every status from 0 to 2 is accepted",
			overrides: map[string]int{"critical": 0, "medium": 2, "low": 1},
			want:      finding.StatusMap{finding.Critical: 0, finding.High: 2, finding.Medium: 2, finding.Low: 1, finding.Info: 0},
		},
		{name: "an unknown severity is an error", overrides: map[string]int{"severe": 1}, wantErr: `unknown severity "severe"`},
		{name: "status 3 is an error", overrides: map[string]int{"high": 3}, wantErr: "severity high: status 3 is not 0, 1 or 2"},
		{name: "a negative status is an error", overrides: map[string]int{"low": -1}, wantErr: "severity low: status -1 is not 0, 1 or 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := finding.ParseStatusMap(tt.overrides)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestStatusMapString(t *testing.T) {
	t.Parallel()
	var nilMap finding.StatusMap
	tests := []struct {
		name string
		m    finding.StatusMap
		want string
	}{
		{name: "the default map renders most severe first", m: finding.DefaultStatusMap(), want: "critical=2,high=2,medium=1,low=1,info=0"},
		{name: "overrides are rendered", m: finding.StatusMap{finding.High: 1, finding.Info: 1}, want: "critical=2,high=1,medium=1,low=1,info=1"},
		{name: "an empty map renders the defaults", m: finding.StatusMap{}, want: "critical=2,high=2,medium=1,low=1,info=0"},
		{name: "a nil map renders the defaults", m: nilMap, want: "critical=2,high=2,medium=1,low=1,info=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.m.String())
		})
	}
}

func TestParseStatusMapStringRoundTrip(t *testing.T) {
	t.Parallel()
	m, err := finding.ParseStatusMap(map[string]int{"critical": 1, "info": 1})
	require.NoError(t, err)
	require.Equal(t, "critical=1,high=2,medium=1,low=1,info=1", m.String())
}
