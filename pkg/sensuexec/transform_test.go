package sensuexec_test

import (
	"os"
	"strings"
	"testing"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/sensuexec"
)

func TestEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		base      []string
		assetBins []string
		envVars   []string
		want      []string
	}{
		{
			name: "the base passes through in order",
			base: []string{"B=2", "A=1"},
			want: []string{"B=2", "A=1"},
		},
		{
			name:      "asset bins are prepended to PATH in their order",
			base:      []string{"PATH=/usr/bin:/bin", "HOME=/root"},
			assetBins: []string{"/cache/a/bin", "/cache/b/bin"},
			want:      []string{"PATH=/cache/a/bin:/cache/b/bin:/usr/bin:/bin", "HOME=/root"},
		},
		{
			name:      "a check's PATH, CPATH and LD_LIBRARY_PATH are prepended, as sensu-go's MergeEnvironments does",
			base:      []string{"PATH=/usr/bin:/bin", "LD_LIBRARY_PATH=/usr/lib", "CPATH=/usr/include", "HOME=/root"},
			assetBins: []string{"/assets/bin"},
			envVars:   []string{"PATH=/opt/check/bin", "LD_LIBRARY_PATH=/opt/lib", "CPATH=/opt/include", "HOME=/home/sensu"},
			want:      []string{"PATH=/opt/check/bin:/assets/bin:/usr/bin:/bin", "LD_LIBRARY_PATH=/opt/lib:/usr/lib", "CPATH=/opt/include:/usr/include", "HOME=/home/sensu"},
		},
		{
			name:      "asset bins make a PATH when there was none",
			base:      []string{"HOME=/root"},
			assetBins: []string{"/cache/a/bin"},
			want:      []string{"HOME=/root", "PATH=/cache/a/bin"},
		},
		{
			name:    "env_vars override the base where it had them",
			base:    []string{"A=1", "B=2", "C=3"},
			envVars: []string{"B=two"},
			want:    []string{"A=1", "B=two", "C=3"},
		},
		{
			name:    "new env_vars come after the base, in their order",
			base:    []string{"A=1"},
			envVars: []string{"Z=26", "M=13"},
			want:    []string{"A=1", "Z=26", "M=13"},
		},
		{
			name:    "the last of duplicate definitions wins",
			base:    []string{"A=1", "A=2"},
			envVars: []string{"B=1", "B=2"},
			want:    []string{"A=2", "B=2"},
		},
		{
			name:    "malformed entries are dropped",
			base:    []string{"A=1", "garbage"},
			envVars: []string{"junk"},
			want:    []string{"A=1"},
		},
		{
			name:    "an empty value is a value",
			base:    []string{"A=1"},
			envVars: []string{"EMPTY="},
			want:    []string{"A=1", "EMPTY="},
		},
		{
			name:    "a value may hold equals signs",
			envVars: []string{"OPTS=a=b=c"},
			base:    []string{},
			want:    []string{"OPTS=a=b=c"},
		},
		{
			name: "an empty base stays empty",
			base: []string{},
			want: []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sensuexec.Environment(tt.base, tt.assetBins, tt.envVars))
		})
	}

	t.Run("a nil base is this process's environment", func(t *testing.T) {
		t.Parallel()
		want := map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				want[k] = v
			}
		}
		got := map[string]string{}
		for _, kv := range sensuexec.Environment(nil, nil, []string{"VIGIL_EXTRA=1"}) {
			k, v, ok := strings.Cut(kv, "=")
			require.True(t, ok, kv)
			got[k] = v
		}
		want["VIGIL_EXTRA"] = "1"
		require.Equal(t, want, got)
	})
}

func TestNagiosPerfdata(t *testing.T) {
	t.Parallel()
	const executed = 12345
	point := func(name string, value float64) *corev2.MetricPoint {
		return &corev2.MetricPoint{Name: name, Value: value, Timestamp: executed, Tags: []*corev2.MetricTag{}}
	}
	// The first cases are sensu-go's own (agent/transformers/nagios_test.go).
	tests := []struct {
		name   string
		output string
		want   []*corev2.MetricPoint
	}{
		{name: "no perfdata metric", output: "PING ok - Packet loss = 0%, RTA = 0.80 ms", want: nil},
		{name: "single perfdata metric", output: "PING ok - Packet loss = 0% | percent_packet_loss=0", want: []*corev2.MetricPoint{point("percent_packet_loss", 0)}},
		{name: "single perfdata metric with newline", output: "PING ok - Packet loss = 0% | percent_packet_loss=0\n", want: []*corev2.MetricPoint{point("percent_packet_loss", 0)}},
		{
			name:   "multiple perfdata metrics with commas",
			output: "PING ok - Packet loss = 0%, RTA = 0.80 ms | percent_packet_loss=0, rta=0.80",
			want:   []*corev2.MetricPoint{point("percent_packet_loss", 0), point("rta", 0.8)},
		},
		{name: "GH_2511 an invalid token is ignored", output: "PING ok - Packet loss = 0%, RTA = 0.80 ms | percent_packet_loss=0, foo", want: []*corev2.MetricPoint{point("percent_packet_loss", 0)}},
		{name: "GH_2511 a stray word on both sides is ignored", output: "PING ok - Packet loss = 0% foo | percent_packet_loss=0 foo", want: []*corev2.MetricPoint{point("percent_packet_loss", 0)}},
		{name: "invalid perfdata format", output: "PING ok - Packet loss = 0%, RTA = 0.80 ms | percent_packet_loss", want: nil},
		{name: "invalid perfdata value", output: "PING ok - Packet loss = 0%, RTA = 0.80 ms | percent_packet_loss=a", want: nil},
		{
			name:   "bug #2021 thresholds, min and a trailing semicolon",
			output: "CRITICAL - load average: 0.01, 0.04, 0.05|load1=0.010;0.010;0.010;0; load5=0.040;0.010;0.010;0; load15=0.050;0.010;0.010;0; \n",
			want:   []*corev2.MetricPoint{point("load1", 0.01), point("load5", 0.04), point("load15", 0.05)},
		},
		// The same rules on Vigil's own output and on edge cases.
		{
			name:   "units of measure are stripped",
			output: "OK | time=0.5s size=1024B used=85% temp=-3.5C count=12c",
			want:   []*corev2.MetricPoint{point("time", 0.5), point("size", 1024), point("used", 85), point("temp", -3.5), point("count", 12)},
		},
		{
			name:   "a Vigil check's quoted labels keep their quotes",
			output: "FIM CRITICAL - 2 files changed | 'changed'=2;;1;0 'scanned'=1500;;;0\n[high] /etc/passwd modified\n",
			want:   []*corev2.MetricPoint{point("'changed'", 2), point("'scanned'", 1500)},
		},
		{
			name:   "a quoted label with a space splits as Sensu splits it",
			output: "OK | 'disk used'=5",
			want:   []*corev2.MetricPoint{point("used'", 5)},
		},
		{name: "two pipes mean no metrics at all", output: "OK | a=1 | b=2", want: nil},
		{name: "a pipe only in the long output still counts", output: "OK\nlong text | a=1", want: []*corev2.MetricPoint{point("a", 1)}},
		{name: "repeated spaces are skipped", output: "OK |  a=1    b=2  ", want: []*corev2.MetricPoint{point("a", 1), point("b", 2)}},
		{name: "a tab is not a separator", output: "OK | a=1\tb=2", want: nil},
		{name: "two equals signs make a token invalid", output: "OK | a=b=1 c=3", want: []*corev2.MetricPoint{point("c", 3)}},
		{name: "an empty value is invalid", output: "OK | a= b=2", want: []*corev2.MetricPoint{point("b", 2)}},
		{name: "a value of only a unit is invalid", output: "OK | a=ms", want: nil},
		{name: "an exponent loses its e as in Sensu", output: "OK | big=1e3", want: []*corev2.MetricPoint{point("big", 13)}},
		{name: "an empty perfdata part has no metrics", output: "OK |", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, sensuexec.NagiosPerfdata(tt.output, executed, nil))
		})
	}

	t.Run("output_metric_tags are attached to every point", func(t *testing.T) {
		t.Parallel()
		tags := []*corev2.MetricTag{{Name: "host", Value: "web-1"}, {Name: "plugin", Value: "check-fim"}}
		got := sensuexec.NagiosPerfdata("OK | a=1 b=2", 99, tags)
		require.Equal(t, []*corev2.MetricPoint{
			{Name: "a", Value: 1, Timestamp: 99, Tags: tags},
			{Name: "b", Value: 2, Timestamp: 99, Tags: tags},
		}, got)
	})
}
