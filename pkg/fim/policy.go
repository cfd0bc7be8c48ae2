package fim

import (
	"bytes"
	_ "embed" // the built-in policy
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// Attr is a set of watched attributes.
type Attr uint16

// The attributes. Their names are the vocabulary of a finding's
// "changed" list and of a policy's "watch".
const (
	AttrContent Attr = 1 << iota
	AttrSize
	AttrMode
	AttrUID
	AttrGID
	AttrMtime
	AttrInode
	AttrType
	AttrLinkTarget
	AttrXattrs
	AttrNlink
	AttrCtime
)

// attrNames is in report order.
var attrNames = []struct {
	a    Attr
	name string
}{
	{AttrType, "type"}, {AttrContent, "content"}, {AttrSize, "size"}, {AttrMode, "mode"}, {AttrUID, "uid"}, {AttrGID, "gid"},
	{AttrMtime, "mtime"}, {AttrInode, "inode"}, {AttrLinkTarget, "link_target"}, {AttrXattrs, "xattrs"}, {AttrNlink, "nlink"}, {AttrCtime, "ctime"},
}

// aideLetters maps AIDE's attribute names to ours.
var aideLetters = map[string]Attr{
	"p": AttrMode, "i": AttrInode, "n": AttrNlink, "u": AttrUID, "g": AttrGID, "s": AttrSize, "m": AttrMtime, "c": AttrCtime,
	"l": AttrLinkTarget, "ftype": AttrType, "xattrs": AttrXattrs, "acl": AttrXattrs, "selinux": AttrXattrs,
	"sha256": AttrContent, "sha512": AttrContent, "blake3": AttrContent, "md5": AttrContent, "sha1": AttrContent,
}

// DefaultWatch is what a group watches unless it says otherwise: AIDE's
// NORMAL without the link count and ctime, which change with harmless
// operations (a new hard link elsewhere, a metadata touch).
const DefaultWatch = AttrType | AttrContent | AttrSize | AttrMode | AttrUID | AttrGID | AttrMtime | AttrInode | AttrLinkTarget

// dirIgnored are never compared on directories: a directory's mtime,
// ctime and size change whenever an entry is added or removed, which is
// reported on the entry itself.
const dirIgnored = AttrContent | AttrSize | AttrMtime | AttrCtime | AttrNlink

// Names lists the attributes of the set, in report order.
func (a Attr) Names() []string {
	var out []string
	for _, n := range attrNames {
		if a&n.a != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// String renders the set as "type+content+…".
func (a Attr) String() string { return strings.Join(a.Names(), "+") }

// ParseAttrs reads "content+mode+uid" or AIDE's "p+i+n+u+g+s+m+c+sha256";
// "growing" is accepted as a flag and reported separately.
func ParseAttrs(s string) (Attr, bool, error) {
	var a Attr
	growing := false
	for tok := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '+' || r == ',' || r == ' ' }) {
		tok = strings.ToLower(tok)
		if tok == "growing" {
			growing = true
			continue
		}
		if tok == "all" {
			for _, n := range attrNames {
				a |= n.a
			}
			continue
		}
		if v, ok := aideLetters[tok]; ok {
			a |= v
			continue
		}
		i := slices.IndexFunc(attrNames, func(n struct {
			a    Attr
			name string
		}) bool {
			return n.name == tok
		})
		if i < 0 {
			return 0, false, fmt.Errorf("unknown attribute %q (want %s, or AIDE's p i n u g s m c l ftype sha256)", tok, strings.Join(Attr(0xffff).Names(), ", "))
		}
		a |= attrNames[i].a
	}
	return a, growing, nil
}

// Group is a named set of paths with what to watch and how severe a
// change is.
type Group struct {
	Name     string
	Severity finding.Severity
	Watch    Attr
	// Growing lets a file's size and mtime grow (logs): only a shrink or
	// another watched attribute is a change.
	Growing bool
	// Ignore records nothing for the group's paths.
	Ignore  bool
	paths   []*Glob
	exclude []*Glob
}

// Policy decides which entries are scanned and how their changes rate.
type Policy struct {
	// Roots are scanned when no path is given.
	Roots []string
	// Source says where the policy came from.
	Source  string
	exclude []*Glob
	groups  []*Group
	// fallback rates entries no group matches.
	fallback *Group
	raw      []byte
}

//go:embed default-policy.yaml
var defaultPolicyYAML []byte

// DefaultPolicy returns the built-in policy.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy(defaultPolicyYAML, "built-in policy")
	if err != nil {
		panic("built-in policy: " + err.Error()) // covered by TestDefaultPolicyParses
	}
	return p
}

// LoadPolicy reads a policy file.
func LoadPolicy(path string) (*Policy, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the operator's policy file
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return ParsePolicy(b, path)
}

// YAML returns the policy as written.
func (p *Policy) YAML() []byte { return p.raw }

type policyFile struct {
	Roots   []string      `yaml:"roots"`
	Exclude []string      `yaml:"exclude"`
	Groups  []policyGroup `yaml:"groups"`
}

type policyGroup struct {
	Name     string    `yaml:"name"`
	Severity string    `yaml:"severity"`
	Watch    yaml.Node `yaml:"watch"`
	Paths    []string  `yaml:"paths"`
	Exclude  []string  `yaml:"exclude"`
	Ignore   bool      `yaml:"ignore"`
}

// ParsePolicy reads a policy from YAML. Unknown keys are errors: a typo in
// a security policy must not silently widen what goes unwatched.
func ParsePolicy(b []byte, source string) (*Policy, error) {
	var f policyFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		// yaml.v3 lists errors over several lines; a check prints one.
		msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "yaml: unmarshal errors:", "")), " ")
		return nil, fmt.Errorf("policy %s: %s", source, msg)
	}
	p := &Policy{Source: source, raw: b}
	for _, r := range f.Roots {
		if !filepath.IsAbs(r) {
			return nil, fmt.Errorf("policy %s: root %q must be an absolute path", source, r)
		}
		p.Roots = append(p.Roots, filepath.Clean(r))
	}
	var err error
	if p.exclude, err = compileAll(f.Exclude); err != nil {
		return nil, fmt.Errorf("policy %s: exclude: %w", source, err)
	}
	names := map[string]bool{}
	for i, g := range f.Groups {
		where := fmt.Sprintf("policy %s: group %d (%q)", source, i+1, g.Name)
		if g.Name == "" {
			return nil, fmt.Errorf("policy %s: group %d has no name", source, i+1)
		}
		if names[g.Name] {
			return nil, fmt.Errorf("%s: duplicate name", where)
		}
		names[g.Name] = true
		grp := &Group{Name: g.Name, Ignore: g.Ignore, Watch: DefaultWatch, Severity: finding.Medium}
		if g.Severity != "" {
			if grp.Severity, err = finding.ParseSeverity(g.Severity); err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
		}
		if w, err := watchOf(g.Watch); err != nil {
			return nil, fmt.Errorf("%s: watch: %w", where, err)
		} else if w != "" {
			if grp.Watch, grp.Growing, err = ParseAttrs(w); err != nil {
				return nil, fmt.Errorf("%s: watch: %w", where, err)
			}
		}
		if len(g.Paths) == 0 {
			return nil, fmt.Errorf("%s: no paths", where)
		}
		if grp.paths, err = compileAll(g.Paths); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if grp.exclude, err = compileAll(g.Exclude); err != nil {
			return nil, fmt.Errorf("%s: exclude: %w", where, err)
		}
		p.groups = append(p.groups, grp)
	}
	p.fallback = &Group{Name: "default", Severity: finding.Medium, Watch: DefaultWatch}
	return p, nil
}

// watchOf accepts "a+b+c" or a YAML list.
func watchOf(n yaml.Node) (string, error) {
	switch n.Kind {
	case 0:
		return "", nil
	case yaml.ScalarNode:
		if n.Value == "" {
			return "", errors.New("empty")
		}
		return n.Value, nil
	case yaml.SequenceNode:
		var parts []string
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return "", errors.New("want a list of attribute names")
			}
			parts = append(parts, c.Value)
		}
		if len(parts) == 0 {
			return "", errors.New("empty")
		}
		return strings.Join(parts, "+"), nil
	default:
		return "", errors.New("want a string such as content+mode+uid or a list")
	}
}

func compileAll(patterns []string) ([]*Glob, error) {
	out := make([]*Glob, 0, len(patterns))
	for _, s := range patterns {
		g, err := CompileGlob(s)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}

// AddExcludes adds command-line exclusions.
func (p *Policy) AddExcludes(patterns []string) error {
	gs, err := compileAll(patterns)
	if err != nil {
		return fmt.Errorf("--exclude: %w", err)
	}
	p.exclude = append(p.exclude, gs...)
	return nil
}

// Excluded reports whether a path is excluded everywhere: it is neither
// scanned nor recorded, and an excluded directory is not descended.
func (p *Policy) Excluded(path string) bool { return matchAny(p.exclude, path) }

// Classify returns the group that rates a path: the first group whose
// paths match and whose excludes do not. Paths no group claims fall to a
// medium-severity default group that watches DefaultWatch.
func (p *Policy) Classify(path string) *Group {
	for _, g := range p.groups {
		if matchAny(g.paths, path) && !matchAny(g.exclude, path) {
			return g
		}
	}
	return p.fallback
}

// Groups returns the policy's groups in order.
func (p *Policy) Groups() []*Group { return p.groups }

func matchAny(gs []*Glob, path string) bool {
	for _, g := range gs {
		if g.Match(path) {
			return true
		}
	}
	return false
}
