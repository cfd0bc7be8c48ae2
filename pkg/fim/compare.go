package fim

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/vigil-sec/vigil/pkg/finding"
)

// The rules a check reports.
const (
	RuleAdded      = "fim.added"
	RuleRemoved    = "fim.removed"
	RuleModified   = "fim.modified"
	RuleUnreadable = "fim.unreadable"
	RuleChanging   = "fim.changing"
	RuleTampered   = "fim.baseline_tampered"
)

// Change kinds, the "kind" of a finding.
const (
	KindAdded    = "added"
	KindRemoved  = "removed"
	KindModified = "modified"
)

// Diff returns the watched attributes that differ between the baseline's
// record and the current entry, and a detail for each.
func Diff(old, cur *Entry, g *Group) (Attr, []string) {
	watch := g.Watch
	if old.Type == TypeDir || cur.Type == TypeDir {
		watch &^= dirIgnored
	}
	var changed Attr
	var details []string
	note := func(a Attr, detail string) {
		changed |= a
		if detail != "" {
			details = append(details, detail)
		}
	}
	if watch&AttrType != 0 && (old.Type != cur.Type || old.Rdev != cur.Rdev) {
		if old.Type != cur.Type {
			note(AttrType, fmt.Sprintf("was a %s, now a %s", old.Type, cur.Type))
		} else {
			note(AttrType, fmt.Sprintf("device number %d:%d → %d:%d", major(old.Rdev), minor(old.Rdev), major(cur.Rdev), minor(cur.Rdev)))
		}
		// Once the type changed, the other attributes describe another
		// kind of object: the type is the finding.
		return changed, details
	}
	if watch&AttrContent != 0 && cur.Type == TypeFile && old.Hash != nil && cur.Hash != nil && !bytes.Equal(old.Hash, cur.Hash) {
		note(AttrContent, fmt.Sprintf("content %s → %s", short(old.Hash), short(cur.Hash)))
	}
	if watch&AttrSize != 0 && old.Size != cur.Size && (!g.Growing || cur.Size < old.Size) {
		note(AttrSize, fmt.Sprintf("size %d → %d", old.Size, cur.Size))
	}
	if watch&AttrMode != 0 && old.Mode != cur.Mode {
		note(AttrMode, fmt.Sprintf("mode %04o → %04o", old.Mode, cur.Mode))
	}
	if watch&AttrUID != 0 && old.UID != cur.UID {
		note(AttrUID, fmt.Sprintf("uid %d → %d", old.UID, cur.UID))
	}
	if watch&AttrGID != 0 && old.GID != cur.GID {
		note(AttrGID, fmt.Sprintf("gid %d → %d", old.GID, cur.GID))
	}
	if watch&AttrMtime != 0 && old.Mtime != cur.Mtime && (!g.Growing || cur.Mtime < old.Mtime) {
		note(AttrMtime, "")
	}
	if watch&AttrInode != 0 && (old.Ino != cur.Ino || old.Dev != cur.Dev) {
		note(AttrInode, fmt.Sprintf("inode %d → %d", old.Ino, cur.Ino))
	}
	if watch&AttrLinkTarget != 0 && old.Target != cur.Target {
		note(AttrLinkTarget, fmt.Sprintf("target %s → %s", Display(old.Target), Display(cur.Target)))
	}
	if watch&AttrXattrs != 0 && !bytes.Equal(old.Xattrs, cur.Xattrs) && cur.Err == "" {
		note(AttrXattrs, "extended attributes (ACL, SELinux label) changed")
	}
	if watch&AttrNlink != 0 && old.Nlink != cur.Nlink {
		note(AttrNlink, fmt.Sprintf("links %d → %d", old.Nlink, cur.Nlink))
	}
	if watch&AttrCtime != 0 && old.Ctime != cur.Ctime {
		note(AttrCtime, "")
	}
	return changed, details
}

func short(h []byte) string { return hex.EncodeToString(h[:min(len(h), 6)]) }

func major(dev uint64) uint64 { return (dev>>8)&0xfff | (dev>>32)&^0xfff }
func minor(dev uint64) uint64 { return dev&0xff | (dev>>12)&^0xff }

// gainsPrivilege reports a setuid or setgid bit that is new.
func gainsPrivilege(oldMode, newMode uint32) bool {
	return newMode&(modeSetuid|modeSetgid)&^oldMode != 0
}

// severity rates a change: the group's severity, raised to critical when
// a file gains setuid or setgid.
func severity(g *Group, old, cur *Entry) finding.Severity {
	sev := g.Severity
	if cur != nil && cur.Type == TypeFile {
		var before uint32
		if old != nil && old.Type == TypeFile {
			before = old.Mode
		}
		if gainsPrivilege(before, cur.Mode) {
			sev = finding.Critical
		}
	}
	return sev
}

func location(g *Group) string { return "group " + g.Name }

// modifiedFinding describes a changed entry.
func modifiedFinding(old, cur *Entry, g *Group, changed Attr, details []string) finding.Finding {
	msg := strings.Join(changed.Names(), ", ") + " changed"
	if len(details) > 0 {
		msg += ": " + strings.Join(details, "; ")
	}
	if gainsPrivilege(old.Mode, cur.Mode) && cur.Type == TypeFile {
		msg += " (gained setuid/setgid)"
	}
	return finding.Finding{
		Rule: RuleModified, Severity: severity(g, old, cur), Object: Display(cur.Path), Location: location(g),
		Message: msg, Kind: KindModified, Changed: changed.Names(),
	}
}

func addedFinding(cur *Entry, g *Group) finding.Finding {
	msg := cur.describe()
	if cur.Type == TypeFile && cur.Mode&(modeSetuid|modeSetgid) != 0 {
		msg += " (setuid/setgid)"
	}
	return finding.Finding{Rule: RuleAdded, Severity: severity(g, nil, cur), Object: Display(cur.Path), Location: location(g), Message: msg, Kind: KindAdded}
}

func removedFinding(old *Entry, g *Group) finding.Finding {
	return finding.Finding{Rule: RuleRemoved, Severity: g.Severity, Object: Display(old.Path), Location: location(g),
		Message: old.Type.String() + " removed", Kind: KindRemoved}
}

// problemFinding reports an entry that could not be read or did not hold
// still: a blind spot, rated low whatever its group (the group is named
// in the location).
func problemFinding(cur *Entry, g *Group, changing bool) finding.Finding {
	rule := RuleUnreadable
	if changing {
		rule = RuleChanging
	}
	return finding.Finding{Rule: rule, Severity: finding.Low, Object: Display(cur.Path), Location: location(g), Message: cur.Err}
}
