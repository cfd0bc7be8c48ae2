// Package hoststate reads the security-relevant state of a Linux host as
// a set of facets (listening ports, users and groups, sudoers, SSH
// authorized keys, crontabs and timers, enabled units, packages, kernel
// modules, security sysctls, SUID/SGID binaries, the firewall ruleset),
// each a sorted list of items that pkg/hostcheck records in a baseline and
// compares.
//
// Every path is read under Options.Root, like node_exporter's
// --path.rootfs, so tests and containers point it at a fixture tree or a
// host mounted at /host. The package has no flags and prints nothing.
//
// What it never keeps: password hashes (only whether a password is set,
// locked or empty), SSH key material (only the type, size, SHA256
// fingerprint as ssh-keygen -lf prints it, and the comment), crontab
// lines (they often hold credentials; only a digest and a count).
// Sudoers lines are kept, bounded, so that a change can be shown: they
// name users and commands, not secrets.
//
// A facet that cannot be read at all (no /proc/modules in a container, no
// dpkg database) is Unavailable, with the reason, and is not compared; a
// facet read in part carries Notes (a truncated /proc line, an
// unreadable crontab) and the items it could read. Items whose field is
// unknown (the owning process of a socket when /proc/PID/fd is not
// readable) leave the field out, and a comparison skips fields missing
// on either side.
package hoststate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The facets, in the order they are collected and reported.
const (
	Ports          = "ports"
	Users          = "users"
	Sudoers        = "sudoers"
	AuthorizedKeys = "authorized_keys"
	Cron           = "cron"
	Units          = "units"
	Packages       = "packages"
	Modules        = "modules"
	Sysctls        = "sysctls"
	SUID           = "suid"
	Firewall       = "firewall"
)

// Facets lists every facet.
var Facets = []string{Ports, Users, Sudoers, AuthorizedKeys, Cron, Units, Packages, Modules, Sysctls, SUID, Firewall}

// ValidFacet reports whether name is a facet.
func ValidFacet(name string) bool { return slices.Contains(Facets, name) }

// Item is one thing a facet holds: a listening port, a user, a package.
type Item struct {
	// Key identifies the item within its facet ("tcp 0.0.0.0:22",
	// "user alice", "openssl:amd64").
	Key string `json:"k"`
	// Name is the short form an allow-list entry matches ("22/tcp",
	// "alice", "openssl").
	Name string `json:"n,omitempty"`
	// Fields are compared: a change of any present on both sides is a
	// change of the item. A field left out is unknown.
	Fields map[string]string `json:"f,omitempty"`
	// Show is for people only (a key's comment, a socket's uid); never
	// compared.
	Show map[string]string `json:"s,omitempty"`
	// Lines are the normalised content, bounded, where it holds no secret
	// (sudoers, iptables rules), to show what changed.
	Lines []string `json:"l,omitempty"`
}

// Facet is what one facet read.
type Facet struct {
	Items []Item `json:"items"`
	// Unavailable says why the facet could not be read at all; its items
	// are then not compared.
	Unavailable string `json:"unavailable,omitempty"`
	// Notes are partial problems: lines skipped, files unreadable.
	Notes []string `json:"notes,omitempty"`
	// Malformed counts lines or entries that could not be parsed
	// (a truncated /proc file, a damaged dpkg database): the facet was
	// read in part.
	Malformed int `json:"malformed,omitempty"`
}

// Snapshot is the state of a host.
type Snapshot struct {
	Created time.Time         `json:"created"`
	Host    string            `json:"host,omitempty"`
	Root    string            `json:"root,omitempty"`
	Facets  map[string]*Facet `json:"facets"`
}

// Options configure Collect.
type Options struct {
	// Root is the file system to read ("" or "/": this host).
	Root string
	// Facets to read (nil: all).
	Facets []string
	// FirewallFile is a saved ruleset (nft -j list ruleset, nft list
	// ruleset or iptables-save output), a path under Root. Without it,
	// and with Root "/", the ruleset is read by running nft or
	// iptables-save.
	FirewallFile string
	// CommandTimeout bounds the firewall command (default 5s).
	CommandTimeout time.Duration
	// SUIDMaxEntries bounds the SUID walk (default 200,000 entries).
	SUIDMaxEntries int
	// Host names the host in the snapshot.
	Host string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// collector carries one collection's options.
type collector struct {
	ctx  context.Context
	opts Options
	root string
	// fs is the root, opened: every read goes through it (fsys.go).
	fs *os.Root
}

// Collect reads the facets. It fails only for a cancelled context or a
// root that cannot be opened; what cannot be read is in each facet.
func Collect(ctx context.Context, opts Options) (*Snapshot, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = 5 * time.Second
	}
	if opts.SUIDMaxEntries <= 0 {
		opts.SUIDMaxEntries = 200_000
	}
	facets := opts.Facets
	if len(facets) == 0 {
		facets = Facets
	}
	root := opts.Root
	if root == "" {
		root = "/"
	}
	c := &collector{ctx: ctx, opts: opts, root: filepath.Clean(root)}
	fsys, err := os.OpenRoot(c.root)
	if err != nil {
		return nil, fmt.Errorf("root %s: %w", c.root, err)
	}
	defer func() { _ = fsys.Close() }()
	c.fs = fsys
	snap := &Snapshot{Created: opts.Now().UTC(), Host: opts.Host, Facets: map[string]*Facet{}}
	if c.root != "/" {
		snap.Root = c.root
		if snap.Host == "" {
			snap.Host = c.hostname()
		}
	}
	funcs := map[string]func() *Facet{
		Ports: c.ports, Users: c.users, Sudoers: c.sudoers, AuthorizedKeys: c.authorizedKeys, Cron: c.cron,
		Units: c.units, Packages: c.packages, Modules: c.modules, Sysctls: c.sysctls, SUID: c.suid, Firewall: c.firewall,
	}
	for _, name := range Facets {
		if !slices.Contains(facets, name) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f := funcs[name]()
		f.Items = numberDuplicates(f.Items)
		if f.Items == nil {
			f.Items = []Item{}
		}
		snap.Facets[name] = f
	}
	return snap, nil
}

// maxFile bounds any one file read whole (a dpkg status file is a few
// megabytes; /proc files are small).
const maxFile = 64 << 20

// maxSmallFile bounds a file that is a few lines when honest
// (authorized_keys, sudoers, crontabs, timer units, /etc/hostname).
const maxSmallFile = 1 << 20

// numberDuplicates sorts items by key, stably (items of the same key keep
// the order they were read in), and keeps every item: the second and
// later items of a key get " #2", " #3"… appended to their key and a
// "duplicate" field, so that a second "sudo" line in /etc/group or a
// second "daemon" line in /etc/passwd is an item of its own, compared
// and reported, never silently dropped.
func numberDuplicates(items []Item) []Item {
	slices.SortStableFunc(items, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	dups := false
	for i := 1; i < len(items); i++ {
		if items[i].Key == items[i-1].Key {
			dups = true
			break
		}
	}
	if !dups {
		return items
	}
	seen := map[string]int{}
	for i := range items {
		k := items[i].Key
		seen[k]++
		if n := seen[k]; n > 1 {
			items[i].Key = fmt.Sprintf("%s #%d", k, n)
			fields := make(map[string]string, len(items[i].Fields)+1)
			for fk, fv := range items[i].Fields {
				fields[fk] = fv
			}
			fields["duplicate"] = strconv.Itoa(n)
			items[i].Fields = fields
		}
	}
	slices.SortStableFunc(items, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return items
}

// hostname is the host name of the file system under the root, from its
// /etc/hostname ("" when there is none).
func (c *collector) hostname() string {
	b, err := c.readFile("/etc/hostname", maxSmallFile)
	if err != nil {
		return ""
	}
	for _, l := range lines(b) {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// lines splits content into lines without the newline.
func lines(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), maxFile)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// digest is a short content digest.
func digest(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// why says why a file could not be read, without the root prefix noise.
func why(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "does not exist"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// Bounds on what an item keeps of content.
const (
	maxLines    = 200
	maxLineSize = 240
)

// boundLines keeps at most maxLines lines of at most maxLineSize bytes.
func boundLines(ls []string) []string {
	out := make([]string, 0, min(len(ls), maxLines))
	for i, l := range ls {
		if i == maxLines {
			out = append(out, fmt.Sprintf("… and %d more lines", len(ls)-maxLines))
			break
		}
		if len(l) > maxLineSize {
			l = l[:maxLineSize] + "…"
		}
		out = append(out, l)
	}
	return out
}
