package hoststate

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
)

// passwdEntry is one line of /etc/passwd.
type passwdEntry struct {
	name, uid, gid, home, shell, pw string
}

// nisItem is a NIS compat line of /etc/passwd or /etc/group ("+",
// "+alice", "-bob", "+@admins"): not malformed, and security-relevant
// (a "+" line imports every NIS user), so an item of its own, without the
// password field.
func nisItem(file, line string) Item {
	f := strings.Split(line, ":")
	if len(f) > 1 {
		f[1] = ""
	}
	return Item{Key: "nis " + file + " " + f[0], Name: f[0], Fields: map[string]string{"entry": strings.Join(f, ":")}}
}

// isNIS reports whether a passwd or group line is a NIS compat entry.
func isNIS(l string) bool { return strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-") }

// readPasswd reads /etc/passwd; bad counts malformed lines, nis holds the
// NIS compat lines.
func (c *collector) readPasswd() (out []passwdEntry, nis []string, bad int, err error) {
	b, err := c.readFile("/etc/passwd", 0)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, l := range lines(b) {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if isNIS(l) {
			nis = append(nis, l)
			continue
		}
		f := strings.Split(l, ":")
		if len(f) != 7 || f[0] == "" {
			bad++
			continue
		}
		if _, err := strconv.ParseUint(f[2], 10, 32); err != nil {
			bad++
			continue
		}
		out = append(out, passwdEntry{name: f[0], pw: f[1], uid: f[2], gid: f[3], home: f[5], shell: f[6]})
	}
	return out, nis, bad, nil
}

// noteDuplicates notes names that appear more than once in a file: every
// line stays an item (numberDuplicates), and the note says why.
func noteDuplicates(f *Facet, file, what string, names []string) {
	count := map[string]int{}
	var order []string
	for _, n := range names {
		if count[n]++; count[n] == 2 {
			order = append(order, n)
		}
	}
	for _, n := range order {
		f.Notes = append(f.Notes, fmt.Sprintf("%s: %s %s appears %d times: each line is an item of its own", file, what, n, count[n]))
	}
}

// passwordState says whether a password field holds a usable password,
// without keeping anything derived from the hash.
func passwordState(field string) string {
	switch {
	case field == "":
		return "empty"
	case strings.HasPrefix(field, "!") || strings.HasPrefix(field, "*"):
		return "locked"
	default:
		return "set"
	}
}

// users reads local users (/etc/passwd, password state from /etc/shadow)
// and groups (/etc/group).
func (c *collector) users() *Facet {
	f := &Facet{}
	pw, nis, bad, err := c.readPasswd()
	if err != nil {
		f.Unavailable = "/etc/passwd: " + why(err)
		return f
	}
	for _, l := range nis {
		f.Items = append(f.Items, nisItem("passwd", l))
	}
	var names []string
	for _, u := range pw {
		names = append(names, u.name)
	}
	noteDuplicates(f, "/etc/passwd", "user", names)
	if bad > 0 {
		f.Malformed += bad
		f.Notes = append(f.Notes, fmt.Sprintf("/etc/passwd: %d malformed lines skipped", bad))
	}
	shadow := map[string]string{}
	if b, err := c.readFile("/etc/shadow", 0); err != nil {
		f.Notes = append(f.Notes, "/etc/shadow: "+why(err)+": password states unknown")
		shadow = nil
	} else {
		for _, l := range lines(b) {
			name, rest, ok := strings.Cut(l, ":")
			if !ok || name == "" {
				continue
			}
			hash, _, _ := strings.Cut(rest, ":")
			shadow[name] = passwordState(hash)
		}
	}
	for _, u := range pw {
		it := Item{Key: "user " + u.name, Name: u.name,
			Fields: map[string]string{"uid": u.uid, "gid": u.gid, "home": u.home, "shell": u.shell}}
		switch {
		case u.pw != "x" && u.pw != "":
			it.Fields["password"] = passwordState(u.pw) // a legacy hash in passwd itself
		case u.pw == "":
			it.Fields["password"] = "empty"
		case shadow != nil:
			if s, ok := shadow[u.name]; ok {
				it.Fields["password"] = s
			} else {
				it.Fields["password"] = "no shadow entry"
			}
		}
		f.Items = append(f.Items, it)
	}
	b, err := c.readFile("/etc/group", 0)
	if err != nil {
		f.Notes = append(f.Notes, "/etc/group: "+why(err))
		return f
	}
	bad = 0
	names = nil
	for _, l := range lines(b) {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if isNIS(l) {
			f.Items = append(f.Items, nisItem("group", l))
			continue
		}
		g := strings.Split(l, ":")
		if len(g) != 4 || g[0] == "" {
			bad++
			continue
		}
		var members []string
		for _, m := range strings.Split(g[3], ",") {
			if m = strings.TrimSpace(m); m != "" {
				members = append(members, m)
			}
		}
		slices.Sort(members)
		names = append(names, g[0])
		f.Items = append(f.Items, Item{Key: "group " + g[0], Name: g[0],
			Fields: map[string]string{"gid": g[2], "members": strings.Join(members, ",")}})
	}
	if bad > 0 {
		f.Malformed += bad
		f.Notes = append(f.Notes, fmt.Sprintf("/etc/group: %d malformed lines skipped", bad))
	}
	noteDuplicates(f, "/etc/group", "group", names)
	return f
}

// authorizedKeys reads every user's ~/.ssh/authorized_keys and
// authorized_keys2: type, size, SHA256 fingerprint and comment of each
// key, never the key.
func (c *collector) authorizedKeys() *Facet {
	f := &Facet{}
	pw, _, _, err := c.readPasswd()
	if err != nil {
		f.Unavailable = "/etc/passwd: " + why(err)
		return f
	}
	seen := map[string]bool{}
	for _, u := range pw {
		if u.home == "" || u.home == "/" || u.home == "/nonexistent" || seen[u.home+"\x00"+u.name] {
			continue
		}
		seen[u.home+"\x00"+u.name] = true
		for _, name := range []string{"authorized_keys", "authorized_keys2"} {
			// Inside the root: a home of "/../../etc" or a home that is a
			// symbolic link to / is resolved as the host would, under it.
			p := path.Join("/", u.home, ".ssh", name)
			b, err := c.readFile(p, maxSmallFile)
			if err != nil {
				if !errors.Is(err, os.ErrNotExist) && !strings.Contains(why(err), "not a directory") {
					f.Notes = append(f.Notes, fmt.Sprintf("%s: %s", p, why(err)))
					if errors.Is(err, errNotRegular) {
						f.Malformed++ // sshd may read it; this check cannot: a blind spot
					}
				}
				continue
			}
			for n, l := range lines(b) {
				l = strings.TrimSpace(l)
				if l == "" || strings.HasPrefix(l, "#") {
					continue
				}
				k, err := parseAuthorizedKey(l)
				if err != nil {
					// Never quote the line: it is key material.
					f.Notes = append(f.Notes, fmt.Sprintf("%s:%d: %v", p, n+1, err))
					f.Malformed++
					continue
				}
				show := map[string]string{"type": k.kind, "bits": strconv.Itoa(k.bits), "file": p}
				if k.comment != "" {
					show["comment"] = k.comment
				}
				if k.options {
					show["options"] = "yes"
				}
				f.Items = append(f.Items, Item{Key: u.name + " " + k.fingerprint, Name: u.name,
					Fields: map[string]string{"user": u.name, "fingerprint": k.fingerprint, "type": k.kind}, Show: show})
			}
		}
	}
	return f
}

// sshKey is what is kept of an authorized key.
type sshKey struct {
	kind, fingerprint, comment string
	bits                       int
	options                    bool
}

// keyTypes maps the key types sshd accepts to how ssh-keygen -l names them.
var keyTypes = map[string]string{
	"ssh-rsa": "RSA", "ssh-dss": "DSA", "ssh-ed25519": "ED25519",
	"ecdsa-sha2-nistp256": "ECDSA", "ecdsa-sha2-nistp384": "ECDSA", "ecdsa-sha2-nistp521": "ECDSA",
	"sk-ssh-ed25519@openssh.com": "ED25519-SK", "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
	"ssh-rsa-cert-v01@openssh.com": "RSA-CERT", "ssh-ed25519-cert-v01@openssh.com": "ED25519-CERT",
	"ecdsa-sha2-nistp256-cert-v01@openssh.com": "ECDSA-CERT", "ecdsa-sha2-nistp384-cert-v01@openssh.com": "ECDSA-CERT",
	"ecdsa-sha2-nistp521-cert-v01@openssh.com": "ECDSA-CERT", "ssh-dss-cert-v01@openssh.com": "DSA-CERT",
	"sk-ssh-ed25519-cert-v01@openssh.com": "ED25519-SK-CERT", "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com": "ECDSA-SK-CERT",
}

// parseAuthorizedKey reads one authorized_keys line: [options] type
// base64 [comment]. Options may quote spaces.
func parseAuthorizedKey(line string) (sshKey, error) {
	var k sshKey
	rest := line
	first, _ := splitField(rest)
	if _, ok := keyTypes[first]; !ok {
		_, rest = splitField(rest) // options
		k.options = true
	}
	typ, rest := splitField(rest)
	b64, rest := splitField(rest)
	name, ok := keyTypes[typ]
	if !ok {
		return k, errors.New("not a key line (unknown key type)")
	}
	blob, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return k, errors.New("key is not valid base64")
	}
	inner, fields, err := sshStrings(blob)
	if err != nil || inner != typ {
		return k, errors.New("key blob does not match its type")
	}
	sum := sha256.Sum256(blob)
	k.kind = name
	k.fingerprint = "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
	k.comment = strings.TrimSpace(rest)
	k.bits = keyBits(typ, fields)
	return k, nil
}

// splitField cuts the first whitespace-separated field, honouring double
// quotes (authorized_keys options).
func splitField(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quoted = !quoted
		case ' ', '\t':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// sshStrings splits an SSH wire-format blob into its first string (the
// type) and the rest of its length-prefixed fields.
func sshStrings(b []byte) (string, [][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return "", nil, errors.New("short blob")
		}
		n := binary.BigEndian.Uint32(b)
		if int64(n) > int64(len(b)-4) {
			return "", nil, errors.New("short blob")
		}
		out = append(out, b[4:4+n])
		b = b[4+n:]
	}
	if len(out) == 0 {
		return "", nil, errors.New("empty blob")
	}
	return string(out[0]), out[1:], nil
}

// keyBits is the key size as ssh-keygen -l prints it.
func keyBits(typ string, fields [][]byte) int {
	switch {
	case strings.HasPrefix(typ, "ssh-rsa") && len(fields) >= 2 && !strings.Contains(typ, "cert"):
		return new(big.Int).SetBytes(bytes.TrimLeft(fields[1], "\x00")).BitLen()
	case typ == "ssh-dss" && len(fields) >= 1:
		return new(big.Int).SetBytes(fields[0]).BitLen()
	case strings.Contains(typ, "nistp384"):
		return 384
	case strings.Contains(typ, "nistp521"):
		return 521
	case strings.Contains(typ, "nistp256"), strings.Contains(typ, "ed25519"):
		return 256
	}
	return 0
}
