package tail

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseGeneration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		file  string
		ok    bool
		gz    bool
		dated bool
		num   int64
		date  string
	}{
		{name: "a numbered generation", file: "app.log.1", ok: true, num: 1},
		{name: "a compressed numbered generation", file: "app.log.12.gz", ok: true, gz: true, num: 12},
		{name: "a generation numbered from zero", file: "app.log.0", ok: true, num: 0},
		{name: "logrotate's dateext", file: "app.log-20261123", ok: true, dated: true, date: "20261123"},
		{name: "a dashed date, compressed", file: "app.log-2026-11-23.gz", ok: true, gz: true, dated: true, date: "20261123"},
		{name: "a date with an hour", file: "app.log-20261123-17", ok: true, dated: true, date: "2026112317"},
		{name: "a date after a dot", file: "app.log.20261123", ok: true, dated: true, date: "20261123"},
		{name: "the followed file itself is not a generation", file: "app.log"},
		{name: "another log that shares the prefix is not a generation", file: "app.log2"},
		{name: "a temporary file is not a generation", file: "app.log.1.tmp"},
		{name: "a lock file is not a generation", file: "app.log.lock"},
		{name: "a bare separator is not a generation", file: "app.log."},
		{name: "a separator at the end of the suffix is not a generation", file: "app.log-2026-"},
		{name: "doubled separators are not a generation", file: "app.log-2026--11-23"},
		{name: "other compression is not read", file: "app.log.1.xz"},
		{name: "a different base is not a generation", file: "other.log.1"},
		{name: "kube-apiserver's backup, the date before the extension", file: "app-2026-11-23T10-00-00.000.log", ok: true, dated: true, date: "20261123100000000"},
		{name: "kube-apiserver's compressed backup", file: "app-2026-11-23T10-00-00.000.log.gz", ok: true, gz: true, dated: true, date: "20261123100000000"},
		{name: "logrotate's dateext with the extension kept", file: "app-20261123.log", ok: true, dated: true, date: "20261123"},
		{name: "another log of the same stem is not a generation", file: "app-errors.log"},
		{name: "a short number before the extension is not a date", file: "app-2.log"},
		{name: "another extension is not a generation", file: "app-20261123.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, ok := parseGeneration("app.log", tt.file)
			require.Equal(t, tt.ok, ok)
			if !ok {
				return
			}
			require.Equal(t, tt.gz, g.gz)
			require.Equal(t, tt.dated, g.dated)
			require.Equal(t, tt.num, g.num)
			require.Equal(t, tt.date, g.date)
		})
	}
}

func TestSortGenerations(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2026, 11, d, 0, 0, 0, 0, time.UTC) }
	gen := func(name string, mtime time.Time) *generation {
		g, ok := parseGeneration("app.log", name)
		require.True(t, ok, name)
		g.mtime = mtime
		return &g
	}
	tests := []struct {
		name string
		gens []*generation
		want []string // oldest first
	}{
		{
			name: "a higher number is older whatever the times say",
			gens: []*generation{gen("app.log.1", day(1)), gen("app.log.10.gz", day(9)), gen("app.log.2", day(5))},
			want: []string{"app.log.10.gz", "app.log.2", "app.log.1"},
		},
		{
			name: "an older date is older whatever the times say",
			gens: []*generation{gen("app.log-20261124", day(1)), gen("app.log-2026-11-02.gz", day(9)), gen("app.log-20261110", day(5))},
			want: []string{"app.log-2026-11-02.gz", "app.log-20261110", "app.log-20261124"},
		},
		{
			name: "mixed schemes are ordered by modification time",
			gens: []*generation{gen("app.log.1", day(3)), gen("app.log-20261101", day(1)), gen("app.log.2", day(2))},
			want: []string{"app.log-20261101", "app.log.2", "app.log.1"},
		},
		{
			name: "equal dates fall back to modification time",
			gens: []*generation{gen("app.log-20261101.gz", day(2)), gen("app.log_20261101", day(1))},
			want: []string{"app.log_20261101", "app.log-20261101.gz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sortGenerations(tt.gens)
			var got []string
			for _, g := range tt.gens {
				got = append(got, g.name)
			}
			require.Equal(t, tt.want, got)
		})
	}
}

func TestWholeLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want int
	}{
		{name: "short lines are all whole", in: "ab\ncd\n", want: 6},
		{name: "a long line ends the prefix", in: "ab\n0123456789\ncd\n", want: 3},
		{name: "a long first line gives nothing", in: "0123456789\nab\n", want: 0},
		{name: "a line of exactly the limit is whole", in: "01234\n", want: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, wholeLines([]byte(tt.in), 6))
		})
	}
}

func TestOptionsDefaults(t *testing.T) {
	t.Parallel()
	o, err := Options{}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, Options{ChunkSize: 1 << 20, MaxLine: 1 << 20, Overlap: 4 << 10}, o)
	o, err = Options{MaxLine: 64}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, 16, o.Overlap, "the default overlap shrinks with a short MaxLine")
}
