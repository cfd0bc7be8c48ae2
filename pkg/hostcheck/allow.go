package hostcheck

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/vigil-sec/vigil/pkg/hoststate"
)

// allowFields are the fields an allow-list entry of each facet may
// match, besides name and key.
var allowFields = map[string][]string{
	hoststate.Ports:          {"proto", "port", "addr", "process"},
	hoststate.Users:          {"uid", "gid", "home", "shell", "password", "members"},
	hoststate.Sudoers:        {"sha256", "lines"},
	hoststate.AuthorizedKeys: {"user", "fingerprint", "type"},
	hoststate.Cron:           {"sha256", "lines", "path"},
	hoststate.Units:          {"unit", "target"},
	hoststate.Packages:       {"version"},
	hoststate.Modules:        {},
	hoststate.Sysctls:        {"value"},
	hoststate.SUID:           {"mode", "owner", "size", "sha256"},
	hoststate.Firewall:       {"sha256", "rules", "policy"},
}

// allowEntry matches items: every field's glob must match.
type allowEntry struct {
	globs map[string]string
}

// AllowList is expected state: items it matches raise no finding.
type AllowList struct {
	entries map[string][]allowEntry
}

// LoadAllowList reads an allow-list file (YAML): facet → list of
// entries, each a glob matched against an item's name ("22/tcp",
// "alice", "linux-image-*") or a map of field globs
// ({port: "53", proto: udp, process: systemd-resolve}). Errors name
// the file and line.
func LoadAllowList(file string) (*AllowList, error) {
	b, err := os.ReadFile(file) //nolint:gosec // the operator's allow-list
	if err != nil {
		return nil, fmt.Errorf("read allow-list: %w", err)
	}
	a, err := ParseAllowList(b)
	if err != nil {
		return nil, fmt.Errorf("allow-list %s%w", file, err)
	}
	return a, nil
}

// ParseAllowList parses allow-list YAML; errors start with ":LINE: ".
func ParseAllowList(b []byte) (*AllowList, error) {
	a := &AllowList{entries: map[string][]allowEntry{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return a, nil
		}
		return nil, fmt.Errorf(": %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	at := func(n *yaml.Node, format string, args ...any) error {
		return fmt.Errorf(":%d: %s", n.Line, fmt.Sprintf(format, args...))
	}
	if len(doc.Content) == 0 {
		return a, nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, at(top, "want a map of facet to entries")
	}
	for i := 0; i < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		facet := k.Value
		fields, ok := allowFields[facet]
		if !ok {
			return nil, at(k, "unknown facet %q (want one of %s)", facet, strings.Join(hoststate.Facets, ", "))
		}
		if v.Kind != yaml.SequenceNode {
			return nil, at(v, "%s: want a list of entries", facet)
		}
		for _, e := range v.Content {
			entry := allowEntry{globs: map[string]string{}}
			switch e.Kind {
			case yaml.ScalarNode:
				entry.globs["name"] = e.Value
			case yaml.MappingNode:
				for j := 0; j < len(e.Content); j += 2 {
					fk, fv := e.Content[j], e.Content[j+1]
					if fk.Value != "name" && fk.Value != "key" && !slices.Contains(fields, fk.Value) {
						return nil, at(fk, "%s: unknown field %q (want name, key or %s)", facet, fk.Value, strings.Join(fields, ", "))
					}
					if fv.Kind != yaml.ScalarNode {
						return nil, at(fv, "%s: %s: want a string", facet, fk.Value)
					}
					entry.globs[fk.Value] = fv.Value
				}
				if len(entry.globs) == 0 {
					return nil, at(e, "%s: an empty entry would allow everything", facet)
				}
			default:
				return nil, at(e, "%s: an entry is a name glob or a map of field globs", facet)
			}
			for f, g := range entry.globs {
				if _, err := path.Match(g, ""); err != nil {
					return nil, at(e, "%s: %s: bad glob %q", facet, f, g)
				}
			}
			a.entries[facet] = append(a.entries[facet], entry)
		}
	}
	return a, nil
}

// guarded are the fields an entry must name to allow an item: a user
// with uid 0 other than root is allowed only by an entry that names the
// uid (an entry naming only the user does not hide it becoming root), a
// second line of the same user or group (a duplicate, keyed "NAME #2")
// only by an entry that names the key.
func guarded(facet string, it *hoststate.Item) []string {
	if facet != hoststate.Users {
		return nil
	}
	var out []string
	if it.Fields["uid"] == "0" && it.Key != "user root" {
		out = append(out, "uid")
	}
	if it.Fields["duplicate"] != "" {
		out = append(out, "key")
	}
	return out
}

// Allows reports whether the item is expected.
func (a *AllowList) Allows(facet string, it *hoststate.Item) bool {
	if a == nil || it == nil {
		return false
	}
	needs := guarded(facet, it)
	for _, e := range a.entries[facet] {
		ok := true
		for _, f := range needs {
			if _, named := e.globs[f]; !named {
				ok = false
			}
		}
		for f, g := range e.globs {
			var v string
			switch f {
			case "name":
				v = it.Name
				if m, _ := path.Match(g, it.Key); m {
					continue
				}
			case "key":
				v = it.Key
			default:
				var present bool
				if v, present = it.Fields[f]; !present {
					ok = false
				}
			}
			if m, _ := path.Match(g, v); !m {
				ok = false
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
