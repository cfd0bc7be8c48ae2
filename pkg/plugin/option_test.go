package plugin

import (
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/sensu/sensu-plugin-sdk/sensu"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/secret"
)

type testConfig struct {
	Name    string
	Count   int
	Paths   []string
	Globs   []string
	Map     map[string]int
	Token   secret.String
	Wait    time.Duration
	Verbose bool
	Ratio   float64
	Mode    string
}

func testOptions(c *testConfig) []Option {
	return []Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "name", Env: "T_NAME", Path: "name", Default: "def", Value: &c.Name}, Annotations: AnyAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "count", Shorthand: "c", Env: "T_COUNT", Path: "count", Default: 3, Value: &c.Count}, Annotations: CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "path", Env: "T_PATHS", Path: "paths", Default: []string{"/etc"}, Value: &c.Paths}, Annotations: CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "glob", UseCobraStringArray: true, Value: &c.Globs}},
		{Spec: &sensu.MapPluginConfigOption[int]{Argument: "map", Env: "T_MAP", Path: "map", Default: map[string]int{"a": 1}, Value: &c.Map}, Annotations: CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "token", Env: "T_TOKEN", Path: "token", Secret: true, Value: &c.Token}, Kind: Credential, Annotations: CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "wait", Env: "T_WAIT", Path: "wait", Default: time.Second, Value: &c.Wait}, Annotations: CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "verbose", Shorthand: "v", Value: &c.Verbose}},
		{Spec: &sensu.PluginConfigOption[float64]{Argument: "ratio", Env: "T_RATIO", Default: 0.5, Value: &c.Ratio}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "mode", Default: "full", Allow: []string{"fast"}, Value: &c.Mode}},
	}
}

func envOf(m map[string]string) environ {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func parsed(t *testing.T, args []string, env map[string]string, ev *corev2.Event) (*testConfig, *optionSet, error) {
	t.Helper()
	c := &testConfig{}
	s, err := newOptionSet("test", "vigil.io/test", testOptions(c))
	require.NoError(t, err)
	if err := s.parse(args, envOf(env)); err != nil {
		return c, s, err
	}
	if err := s.applyAnnotations(ev); err != nil {
		return c, s, err
	}
	return c, s, s.validate()
}

func TestOptionSourcesAndPrecedence(t *testing.T) {
	t.Parallel()
	withCheck := func(ann map[string]string) *corev2.Event {
		ev := corev2.FixtureEvent("e", "c")
		ev.Check.Annotations = ann
		return ev
	}
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		ev    *corev2.Event
		check func(t *testing.T, c *testConfig)
	}{
		{"defaults apply", nil, nil, nil, func(t *testing.T, c *testConfig) {
			require.Equal(t, "def", c.Name)
			require.Equal(t, 3, c.Count)
			require.Equal(t, []string{"/etc"}, c.Paths)
			require.Equal(t, map[string]int{"a": 1}, c.Map)
			require.Equal(t, time.Second, c.Wait)
			require.InDelta(t, 0.5, c.Ratio, 0)
		}},
		{"environment beats default", nil, map[string]string{"T_NAME": "env", "T_COUNT": "7", "T_PATHS": "/a,/b", "T_MAP": "b=2", "T_WAIT": "90"}, nil, func(t *testing.T, c *testConfig) {
			require.Equal(t, "env", c.Name)
			require.Equal(t, 7, c.Count)
			require.Equal(t, []string{"/a", "/b"}, c.Paths)
			require.Equal(t, map[string]int{"a": 1, "b": 2}, c.Map)
			require.Equal(t, 90*time.Second, c.Wait)
		}},
		{"flag beats environment", []string{"--name", "flag", "-c", "9"}, map[string]string{"T_NAME": "env", "T_COUNT": "7"}, nil, func(t *testing.T, c *testConfig) {
			require.Equal(t, "flag", c.Name)
			require.Equal(t, 9, c.Count)
		}},
		{"a repeated slice flag replaces the default, then appends", []string{"--path", "/x", "--path", "/y,/z"}, nil, nil, func(t *testing.T, c *testConfig) {
			require.Equal(t, []string{"/x", "/y", "/z"}, c.Paths)
		}},
		{"a string-array flag keeps commas", []string{"--glob", "*.{log,txt}"}, nil, nil, func(t *testing.T, c *testConfig) {
			require.Equal(t, []string{"*.{log,txt}"}, c.Globs)
		}},
		{"check annotation beats flag, as in the SDK", []string{"--name", "flag", "--count", "1"}, nil,
			withCheck(map[string]string{"vigil.io/test/name": "ann", "vigil.io/test/count": "12", "vigil.io/test/paths": `["/p","/q"]`, "vigil.io/test/map": `{"c":3}`, "vigil.io/test/wait": `"2m"`}),
			func(t *testing.T, c *testConfig) {
				require.Equal(t, "ann", c.Name)
				require.Equal(t, 12, c.Count)
				require.Equal(t, []string{"/p", "/q"}, c.Paths)
				require.Equal(t, map[string]int{"a": 1, "c": 3}, c.Map)
				require.Equal(t, 2*time.Minute, c.Wait)
			}},
		{"a raw annotation string is a one-element list", nil, nil, withCheck(map[string]string{"vigil.io/test/paths": "/only"}), func(t *testing.T, c *testConfig) {
			require.Equal(t, []string{"/only"}, c.Paths)
		}},
		{"a bool flag needs no value", []string{"-v"}, nil, nil, func(t *testing.T, c *testConfig) {
			require.True(t, c.Verbose)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, _, err := parsed(t, tc.args, tc.env, tc.ev)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestOptionErrorsNameTheSource(t *testing.T) {
	t.Parallel()
	withCheck := func(ann map[string]string) *corev2.Event {
		ev := corev2.FixtureEvent("e", "c")
		ev.Check.Annotations = ann
		return ev
	}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		ev   *corev2.Event
		want string
	}{
		{"a bad environment value", nil, map[string]string{"T_COUNT": "many"}, nil, `T_COUNT: invalid int value "many"`},
		{"a bad annotation value", nil, nil, withCheck(map[string]string{"vigil.io/test/count": "many"}), "check annotation vigil.io/test/count: invalid int value"},
		{"a value outside Allow", []string{"--mode", "slow"}, nil, nil, "--mode: must be one of fast"},
		{"a negative duration", []string{"--wait", "-5s"}, nil, nil, "negative duration"},
		{"a map entry without =", []string{"--map", "oops"}, nil, nil, `"oops" is not key=value`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := parsed(t, tc.args, tc.env, tc.ev)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestSecretErrorsDoNotEchoTheValue(t *testing.T) {
	t.Parallel()
	c := &struct{ N secret.String }{}
	s, err := newOptionSet("t", "k", []Option{{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "n", Secret: true, Restrict: []secret.String{"hunter22"}, Value: &c.N}, Kind: Credential}})
	require.NoError(t, err)
	require.NoError(t, s.parse([]string{"--n", "hunter22"}, envOf(nil)))
	err = s.validate()
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter22")
	require.Equal(t, "[REDACTED]", s.secrets.Redact("hunter22"))
}

func TestOptionsTableRules(t *testing.T) {
	t.Parallel()
	var s string
	var n secret.String
	cases := []struct {
		name string
		opts []Option
		want string
	}{
		{"an endpoint cannot take entity annotations", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "url", Path: "url", Value: &s}, Kind: Endpoint, Annotations: AnyAnnotation}}, "a endpoint option cannot be overridden by entity annotations"},
		{"a target cannot take entity annotations", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "index", Path: "index", Value: &s}, Kind: Target, Annotations: AnyAnnotation}}, "cannot be overridden by entity annotations"},
		{"a command cannot take entity annotations", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "cmd", Path: "cmd", Value: &s}, Kind: Command, Annotations: AnyAnnotation}}, "cannot be overridden by entity annotations"},
		{"a secret cannot take entity annotations", []Option{{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "key", Path: "key", Secret: true, Value: &n}, Kind: Credential, Annotations: AnyAnnotation}}, "a secret option cannot be overridden by entity annotations"},
		{"a secret must be a Credential", []Option{{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "key", Secret: true, Value: &n}}}, "must be of Kind Credential"},
		{"a secret must be a secret.String", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "key", Secret: true, Value: &s}, Kind: Credential}}, "must be a sensu.PluginConfigOption[secret.String]"},
		{"a secret cannot be a list", []Option{{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "keys", Secret: true, Value: &[]string{}}, Kind: Credential}}, "must be a sensu.PluginConfigOption[secret.String]"},
		{"a secret cannot be a map", []Option{{Spec: &sensu.MapPluginConfigOption[string]{Argument: "keys", Secret: true, Value: &map[string]string{}}, Kind: Credential}}, "must be a sensu.PluginConfigOption[secret.String]"},
		{"an override needs a Path", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "x", Value: &s}, Annotations: CheckAnnotation}}, "annotation overrides need a Path"},
		{"two options cannot share a flag", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "x", Value: &s}}, {Spec: &sensu.PluginConfigOption[string]{Argument: "x", Value: &s}}}, `both use flag "x"`},
		{"two options cannot share a shorthand", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "x", Shorthand: "M", Value: &s}}, {Spec: &sensu.PluginConfigOption[string]{Argument: "y", Shorthand: "M", Value: &s}}}, `both use shorthand "M"`},
		{"an option needs a Value", []Option{{Spec: &sensu.PluginConfigOption[string]{Argument: "x"}}}, "nil Value"},
		{"an option needs a flag", []Option{{Spec: &sensu.PluginConfigOption[string]{Value: &s}}}, "no Argument"},
		{"unsupported value types are refused", []Option{{Spec: &sensu.PluginConfigOption[int32]{Argument: "x", Value: new(int32)}}}, "not supported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := newOptionSet("t", "k", tc.opts)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"30": 30 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute, " 10s ": 10 * time.Second, "0": 0} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "soon", "-1", "-3s"} {
		_, err := ParseDuration(bad)
		require.Error(t, err, bad)
	}
}

func TestEditDistanceSuggestsNearFlags(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, editDistance("endpont", "endpoint"))
	require.Equal(t, 0, editDistance("a", "a"))
	require.Equal(t, 3, editDistance("", "abc"))
}
