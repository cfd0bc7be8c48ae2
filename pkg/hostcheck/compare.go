package hostcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-sec/vigil/pkg/finding"
	"github.com/vigil-sec/vigil/pkg/hoststate"
)

// diff is a comparison's outcome.
type diff struct {
	// unreadable are the facets the baseline holds that could not be
	// read now: --update keeps their baseline.
	unreadable []string
	findings   []finding.Finding
	notes      []string
	changes    map[string]int // per facet, allowed ones excluded
	allowed    int
	items      int
	compared   int
}

// compare compares the current snapshot with the baseline, facet by
// facet. A facet missing from the baseline, or unavailable on either
// side, is not compared (and says so): an unreadable facet is not every
// item removed. A facet the baseline holds that cannot be read now is a
// host.facet_unreadable finding: a blind spot an intruder may have made
// (a chmod of /etc/passwd, a bind mount over /proc/net).
func compare(base, cur *hoststate.Snapshot, allow *AllowList, sev severities) diff {
	d := diff{changes: map[string]int{}}
	for _, name := range hoststate.Facets {
		cf := cur.Facets[name]
		if cf == nil {
			continue
		}
		bf := base.Facets[name]
		switch {
		case bf == nil:
			d.notes = append(d.notes, name+": not in the baseline: run --update to start watching it")
			continue
		case cf.Unavailable != "":
			if bf.Unavailable == "" {
				d.unreadable = append(d.unreadable, name)
				f := finding.Finding{Rule: RuleUnreadable, Severity: sev.unreadable(), Object: name, Kind: "unreadable",
					Message: fmt.Sprintf("%s was read when the baseline was recorded (%d items) and cannot be read now: %s; its changes go unseen",
						name, len(bf.Items), cf.Unavailable),
					Attrs: map[string]any{"facet": name}}
				if cur.Root != "" {
					f.Location = cur.Root
				}
				d.findings = append(d.findings, f)
				d.changes[name]++
			}
			continue
		case bf.Unavailable != "":
			d.notes = append(d.notes, name+": was not readable when the baseline was recorded: run --update to start watching it")
			continue
		}
		d.compared++
		d.items += len(cf.Items)
		emit := func(kind string, old, now *hoststate.Item, changed []string) {
			it := now
			if it == nil {
				it = old
			}
			if allow.Allows(name, it) {
				d.allowed++
				return
			}
			rule := ruleFor(name, kind)
			f := finding.Finding{Rule: rule, Severity: sev.of(name, rule, kind), Object: it.Key, Kind: kind, Changed: changed,
				Message: message(name, kind, old, now, changed), Attrs: map[string]any{"facet": name}}
			if cur.Root != "" {
				f.Location = cur.Root
			}
			d.findings = append(d.findings, f)
			d.changes[name]++
		}
		i, j := 0, 0
		for i < len(bf.Items) || j < len(cf.Items) {
			switch {
			case j == len(cf.Items) || (i < len(bf.Items) && bf.Items[i].Key < cf.Items[j].Key):
				emit("removed", &bf.Items[i], nil, nil)
				i++
			case i == len(bf.Items) || cf.Items[j].Key < bf.Items[i].Key:
				emit("added", nil, &cf.Items[j], nil)
				j++
			default:
				if ch := changedFields(&bf.Items[i], &cf.Items[j]); len(ch) > 0 {
					emit("modified", &bf.Items[i], &cf.Items[j], ch)
				}
				i++
				j++
			}
		}
	}
	return d
}

// changedFields lists the fields present on both sides that differ.
func changedFields(a, b *hoststate.Item) []string {
	var out []string
	for k, v := range a.Fields {
		if w, ok := b.Fields[k]; ok && w != v {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// nouns name a facet's items in messages.
var nouns = map[string]string{
	hoststate.Ports: "listening socket", hoststate.Users: "", hoststate.Sudoers: "sudoers file",
	hoststate.AuthorizedKeys: "authorized key", hoststate.Cron: "scheduled job file", hoststate.Units: "enabled unit",
	hoststate.Packages: "package", hoststate.Modules: "kernel module", hoststate.Sysctls: "sysctl",
	hoststate.SUID: "SUID/SGID binary", hoststate.Firewall: "firewall",
}

// message is one sentence about a change, from non-secret fields only.
func message(facet, kind string, old, now *hoststate.Item, changed []string) string {
	it := now
	if it == nil {
		it = old
	}
	noun := nouns[facet]
	if noun == "" { // users: "user alice" / "group sudo" is in the key
		noun = strings.SplitN(it.Key, " ", 2)[0]
	}
	var b strings.Builder
	switch facet {
	case hoststate.Ports:
		fmt.Fprintf(&b, "%s %s on %s", noun, it.Name, it.Fields["addr"])
		if p := it.Fields["process"]; p != "" {
			fmt.Fprintf(&b, " (%s)", p)
		}
	case hoststate.AuthorizedKeys:
		fmt.Fprintf(&b, "%s %s %s for %s", it.Show["type"], noun, it.Fields["fingerprint"], it.Fields["user"])
		if c := it.Show["comment"]; c != "" {
			fmt.Fprintf(&b, " (%s)", c)
		}
	case hoststate.Users:
		fmt.Fprintf(&b, "%s %s", noun, it.Name)
	default:
		fmt.Fprintf(&b, "%s %s", noun, it.Name)
	}
	switch kind {
	case "added":
		b.WriteString(verbs[facet][0])
		if s := fieldSummary(facet, now); s != "" {
			b.WriteString(": " + s)
		}
	case "removed":
		b.WriteString(verbs[facet][1])
	default:
		b.WriteString(" changed: ")
		var parts []string
		for _, k := range changed {
			parts = append(parts, fmt.Sprintf("%s %s → %s", k, short(old.Fields[k]), short(now.Fields[k])))
		}
		b.WriteString(strings.Join(parts, ", "))
		if d := lineDiff(old.Lines, now.Lines); d != "" {
			b.WriteString("; " + d)
		}
	}
	return b.String()
}

var verbs = map[string][2]string{
	hoststate.Ports: {" opened", " closed"}, hoststate.Users: {" added", " removed"}, hoststate.Sudoers: {" added", " removed"},
	hoststate.AuthorizedKeys: {" added", " removed"}, hoststate.Cron: {" added", " removed"}, hoststate.Units: {" enabled", " disabled"},
	hoststate.Packages: {" installed", " removed"}, hoststate.Modules: {" loaded", " unloaded"}, hoststate.Sysctls: {" appeared", " disappeared"},
	hoststate.SUID: {" appeared", " removed"}, hoststate.Firewall: {" added", " removed"},
}

// fieldSummary describes a new item.
func fieldSummary(facet string, it *hoststate.Item) string {
	var parts []string
	switch facet {
	case hoststate.Ports, hoststate.AuthorizedKeys, hoststate.Modules:
		return ""
	case hoststate.Sudoers:
		return strings.Join(firstN(it.Lines, 3), "; ")
	}
	keys := make([]string, 0, len(it.Fields))
	for k := range it.Fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, k+" "+short(it.Fields[k]))
	}
	return strings.Join(parts, ", ")
}

// short shortens digests for people.
func short(v string) string {
	if len(v) == 64 && strings.Trim(v, "0123456789abcdef") == "" {
		return v[:12]
	}
	if v == "" {
		return `""`
	}
	return v
}

func firstN(ls []string, n int) []string {
	if len(ls) > n {
		return append(slices.Clone(ls[:n]), fmt.Sprintf("… %d more", len(ls)-n))
	}
	return ls
}

// lineDiff shows up to three added and removed lines (sudoers, rules).
func lineDiff(old, now []string) string {
	if old == nil && now == nil {
		return ""
	}
	var added, removed []string
	for _, l := range now {
		if !slices.Contains(old, l) {
			added = append(added, "+ "+l)
		}
	}
	for _, l := range old {
		if !slices.Contains(now, l) {
			removed = append(removed, "- "+l)
		}
	}
	return strings.Join(append(firstN(added, 3), firstN(removed, 3)...), "; ")
}
