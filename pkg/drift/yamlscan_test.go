package drift

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// scanTree builds a generic tree from the scanner's scalars: maps,
// slices, strings and nil.
func scanTree(t *testing.T, data []byte) (any, error) {
	t.Helper()
	var root any
	s := newYAMLScanner(bytes.NewReader(data), func(path []pathElem, tag string, v []byte) {
		var val any
		if v != nil {
			str := string(v)
			val = str
			if tag == "" && (str == "~" || str == "null") {
				val = nil
			}
		}
		root = insert(root, path, val)
	})
	err := s.run()
	return root, err
}

func insert(node any, path []pathElem, val any) any {
	if len(path) == 0 {
		return val
	}
	p := path[0]
	if p.Index >= 0 {
		s, _ := node.([]any)
		for len(s) <= p.Index {
			s = append(s, nil)
		}
		s[p.Index] = insert(s[p.Index], path[1:], val)
		return s
	}
	m, _ := node.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	m[p.Key] = insert(m[p.Key], path[1:], val)
	return m
}

// v3Tree is yaml.v3's reading of the same document, in the same shape.
func v3Tree(n *yaml.Node) any {
	switch n.Kind {
	case yaml.DocumentNode:
		return v3Tree(n.Content[0])
	case yaml.AliasNode:
		return v3Tree(n.Alias)
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			return "[]"
		}
		out := make([]any, len(n.Content))
		for i, c := range n.Content {
			out[i] = v3Tree(c)
		}
		return out
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			return "{}"
		}
		out := map[string]any{}
		for i := 0; i < len(n.Content); i += 2 {
			out[n.Content[i].Value] = v3Tree(n.Content[i+1])
		}
		return out
	default:
		if n.Tag == "!!null" {
			return nil
		}
		return n.Value
	}
}

func requireSameAsYAMLv3(t *testing.T, name string, data []byte) {
	t.Helper()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc), name)
	got, err := scanTree(t, data)
	require.NoError(t, err, name)
	require.Equal(t, v3Tree(&doc), got, name)
}

func TestTheScannerReadsWhatYAMLv3Reads(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"ruby tags and sequences at the key's column":  "--- !ruby/object:Puppet::Transaction::Report\nmetrics:\n  resources: !ruby/object:Puppet::Util::Metric\n    name: resources\n    values:\n    - - total\n      - Total\n      - 7\n    - - changed\n      - Changed\n      - 1\nlogs:\n- !ruby/object:Puppet::Util::Log\n  level: !ruby/sym notice\n  message: hello\n  tags:\n  - notice\nhost: web-01\n",
		"quoted keys with colons":                      "resource_statuses:\n  \"Exec[echo: hi]\": !ruby/object:Puppet::Resource::Status\n    title: 'echo: hi'\n    changed: true\n  'File[/tmp/it''s]':\n    title: \"/tmp/it's\"\n",
		"explicit long keys":                           "resource_statuses:\n  ? Exec[/usr/bin/a very long command that goes on and on past one hundred and twenty eight characters\n    of text so that libyaml writes it as an explicit key]\n  : !ruby/object:Puppet::Resource::Status\n    title: x\n    events: []\n  File[/b]:\n    title: /b\n",
		"folded plain scalars":                         "a:\n  message: content changed '{sha256}aaaa' to\n    '{sha256}bbbb' because\n\n    of a blank line\n  next: 1\n",
		"multi-line quoted scalars":                    "a: \"first line\\n  escaped \\\"quote\\\" and \\\n  joined \\u00e9\"\nb: 'single\n  folded\n\n  with a break'\nc: \"x\"\n",
		"block scalars":                                "a: |\n  line 1\n    indented\n\n  line 3\nb: |-\n  stripped\nc: |+\n  kept\n\nd: >\n  folded\n  text\n\n  para\ne: |2-\n    leading spaces\n  x\nf:\n- |\n  in a sequence\n- >-\n  folded\n  item\ng: end\n",
		"nulls and empties":                            "a:\nb: ~\nc: []\nd: {}\ne:\n  f:\n  g: x\nh: ''\n",
		"anchors and aliases":                          "a: &1 shared\nb: *1\nc:\n- &x y\n- z\n",
		"an anchor on a sequence entry":                "c:\n- &x y\n- z\nd: *x\n",
		"a comment after the document start":           "--- # a comment\na: 1\nb:\n  c: 2\n",
		"a tag and a comment after the document start": "--- !ruby/object:Puppet::Transaction::Report # c\nhost: web-01\n",
		"comments":            "# head\na: 1 # trailing\n# mid\nb:\n  # inside\n  c: 2\n",
		"document end":        "---\na: 1\n...\n",
		"compact nested maps": "- a: 1\n  b:\n  - c: 2\n    d: 3\n- e\n",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			requireSameAsYAMLv3(t, name, []byte(doc))
		})
	}
}

func TestTheScannerReadsEveryPuppetFixtureAsYAMLv3Does(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/puppet/*report*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		if strings.Contains(f, "broken") || strings.Contains(f, "truncated") {
			continue
		}
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		requireSameAsYAMLv3(t, f, data)
	}
}

func TestTheScannerSaysWhereTheYAMLIsWrong(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, doc, want string }{
		{"bad indentation", "a:\n    b: 1\n  c: 2\n", "line 3: bad indentation"},
		{"unterminated quote", "a: 'open\nb: 1\n", "line 1: the file ends inside this value"},
		{"no key", "a: 1\nnot a key\n", "line 2: expected a key"},
		{"cut mid-line", "a: 1\nb: tru", "truncated"},
	}
	for _, tt := range cases {
		_, err := scanTree(t, []byte(tt.doc))
		require.Error(t, err, tt.name)
		require.Contains(t, err.Error(), tt.want, tt.name)
	}
}

func TestUnescape(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{`a\tb`: "a\tb", `\x41\u00e9\U0001F600`: "Aé😀", `\\`: `\`} {
		got, err := unescape(nil, []byte(in))
		require.NoError(t, err)
		require.Equal(t, want, string(got), strconv.Quote(in))
	}
	_, err := unescape(nil, []byte(`\q`))
	require.Error(t, err)
}

// FuzzParse: no input makes a parser panic.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*/*")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, src := range []Source{Auto, Puppet, Chef, Ansible, Terraform, Driftctl} {
				_, _ = Parse(src, "fuzz", data, Options{})
			}
			_, _ = scanTree(t, data)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("hangs on %q", data)
		}
	})
}

// The documented limit: an alias of a collection reads as an empty scalar.
func TestAnAliasOfACollectionReadsAsEmpty(t *testing.T) {
	t.Parallel()
	tree, err := scanTree(t, []byte("a: &m\n  x: 1\nb: *m\n"))
	require.NoError(t, err)
	require.Equal(t, map[string]any{"a": map[string]any{"x": "1"}, "b": ""}, tree)
}
