package hoststate

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
)

// socket is a listening socket from /proc/net/*.
type socket struct {
	proto string // tcp or udp
	addr  netip.Addr
	port  uint16
	inode string
	uid   string
}

// ports reads listening TCP sockets (state 0A) and bound, unconnected UDP
// sockets from /proc/net/{tcp,tcp6,udp,udp6}, and their owning process
// from /proc/PID/fd where readable.
func (c *collector) ports() *Facet {
	f := &Facet{}
	var socks []socket
	read := 0
	for _, file := range []struct{ name, proto string }{{"tcp", "tcp"}, {"tcp6", "tcp"}, {"udp", "udp"}, {"udp6", "udp"}} {
		p := "/proc/net/" + file.name
		b, err := c.readFile(p, 0)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.Notes = append(f.Notes, fmt.Sprintf("%s: %s", p, why(err)))
			}
			continue
		}
		read++
		s, bad := parseNet(b, file.proto)
		socks = append(socks, s...)
		if bad > 0 {
			f.Malformed += bad
			f.Notes = append(f.Notes, fmt.Sprintf("%s: %d malformed lines skipped", p, bad))
		}
	}
	if read == 0 {
		f.Unavailable = "no /proc/net/tcp, tcp6, udp or udp6 readable"
		return f
	}
	owners, complete := c.socketOwners(socks)
	if !complete && len(socks) > 0 {
		f.Notes = append(f.Notes, "the owning process of some sockets is unknown (other users' /proc/PID/fd is not readable without root)")
	}
	// Sockets bound to the same address and port (SO_REUSEPORT, or one
	// per worker) are one item whose process field lists every known
	// owner, sorted: the same on every run, whatever order /proc lists
	// them in, and a new process joining the port is a change.
	byKey := map[string]int{}
	procs := map[string][]string{}
	for _, s := range socks {
		key := fmt.Sprintf("%s %s", s.proto, netip.AddrPortFrom(s.addr, s.port))
		i, ok := byKey[key]
		if !ok {
			i = len(f.Items)
			byKey[key] = i
			f.Items = append(f.Items, Item{
				Key:    key,
				Name:   fmt.Sprintf("%d/%s", s.port, s.proto),
				Fields: map[string]string{"proto": s.proto, "port": strconv.Itoa(int(s.port)), "addr": s.addr.String()},
				Show:   map[string]string{"uid": s.uid},
			})
		} else if uids := strings.Split(f.Items[i].Show["uid"], ","); !slices.Contains(uids, s.uid) {
			uids = append(uids, s.uid)
			slices.Sort(uids)
			f.Items[i].Show["uid"] = strings.Join(uids, ",")
		}
		if p, ok := owners[s.inode]; ok && !slices.Contains(procs[key], p) {
			procs[key] = append(procs[key], p)
		}
	}
	for key, ps := range procs {
		slices.Sort(ps)
		f.Items[byKey[key]].Fields["process"] = strings.Join(ps, ",")
	}
	return f
}

// parseNet parses a /proc/net/{tcp,udp}[6] table. It returns the
// listening sockets and how many lines it could not read (a truncated
// file ends mid-line).
func parseNet(b []byte, proto string) ([]socket, int) {
	var out []socket
	bad := 0
	for i, line := range lines(b) {
		if i == 0 {
			continue // header
		}
		fs := strings.Fields(line)
		if len(fs) == 0 {
			continue
		}
		if len(fs) < 10 {
			bad++
			continue
		}
		addr, port, ok1 := parseHexAddr(fs[1])
		_, rport, ok2 := parseHexAddr(fs[2])
		if !ok1 || !ok2 {
			bad++
			continue
		}
		st := fs[3]
		if proto == "tcp" && st != "0A" {
			continue
		}
		if proto == "udp" && (st != "07" || rport != 0) {
			continue
		}
		out = append(out, socket{proto: proto, addr: addr, port: port, uid: fs[7], inode: fs[9]})
	}
	return out, bad
}

// parseHexAddr reads "0100007F:0016": the address in the kernel's byte
// order (each 32-bit word little-endian), the port big-endian.
func parseHexAddr(s string) (netip.Addr, uint16, bool) {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	raw, err := hex.DecodeString(a)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, false
	}
	for w := 0; w < len(raw); w += 4 {
		raw[w], raw[w+1], raw[w+2], raw[w+3] = raw[w+3], raw[w+2], raw[w+1], raw[w]
	}
	addr, _ := netip.AddrFromSlice(raw)
	return addr.Unmap(), uint16(port), true
}

// socketOwners maps socket inodes to the comm of a process holding them,
// walking /proc/PID/fd until every inode is found. complete is false when
// some could not be attributed.
func (c *collector) socketOwners(socks []socket) (map[string]string, bool) {
	want := map[string]bool{}
	for _, s := range socks {
		if s.inode != "0" {
			want[s.inode] = true
		}
	}
	owners := map[string]string{}
	if len(want) == 0 {
		return owners, true
	}
	procDir, _, err := c.resolve("/proc")
	if err != nil {
		return owners, false
	}
	ents, err := c.readDirName(procDir)
	if err != nil {
		return owners, false
	}
	for _, e := range ents {
		if len(owners) == len(want) || c.ctx.Err() != nil {
			break
		}
		pid := e.Name()
		if pid == "" || pid[0] < '0' || pid[0] > '9' {
			continue
		}
		fdDir := path.Join(procDir, pid, "fd")
		fds, err := c.readDirName(fdDir)
		if err != nil {
			continue
		}
		comm := ""
		for _, fd := range fds {
			target, err := c.fs.Readlink(path.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(target, "socket:[") {
				continue
			}
			ino := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
			if !want[ino] {
				continue
			}
			if _, done := owners[ino]; done {
				continue
			}
			if comm == "" {
				b, err := c.readFile("/"+path.Join(procDir, pid, "comm"), maxSmallFile)
				comm = strings.TrimSpace(string(b))
				if err != nil || comm == "" {
					comm = "pid " + pid
				}
			}
			owners[ino] = comm
		}
	}
	return owners, len(owners) == len(want)
}
