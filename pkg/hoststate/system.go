package hoststate

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// packages reads the installed packages from /var/lib/dpkg/status. RPM
// databases (SQLite or Berkeley DB) need cgo or a database engine this
// build does not carry: they are named as not read.
func (c *collector) packages() *Facet {
	f := &Facet{}
	for _, p := range []string{"/var/lib/rpm", "/usr/lib/sysimage/rpm"} {
		if _, err := c.stat(p); err == nil {
			f.Notes = append(f.Notes, "RPM database at "+p+" not read: this build reads dpkg only (RPM's SQLite/Berkeley DB needs cgo)")
			break
		}
	}
	b, err := c.readFile("/var/lib/dpkg/status", 0)
	if err != nil {
		if len(f.Notes) > 0 {
			f.Unavailable = f.Notes[0]
			f.Notes = nil
		} else {
			f.Unavailable = "/var/lib/dpkg/status: " + why(err)
		}
		return f
	}
	bad := 0
	for _, para := range bytes.Split(b, []byte("\n\n")) {
		var name, status, version, arch string
		for _, l := range strings.Split(string(para), "\n") {
			k, v, ok := strings.Cut(l, ":")
			if !ok || strings.HasPrefix(l, " ") {
				continue
			}
			v = strings.TrimSpace(v)
			switch k {
			case "Package":
				name = v
			case "Status":
				status = v
			case "Version":
				version = v
			case "Architecture":
				arch = v
			}
		}
		if name == "" {
			if len(bytes.TrimSpace(para)) > 0 {
				bad++
			}
			continue
		}
		if st := strings.Fields(status); len(st) != 3 || st[2] != "installed" {
			continue
		}
		if version == "" {
			bad++ // a truncated paragraph
			continue
		}
		key := name
		if arch != "" {
			key += ":" + arch
		}
		f.Items = append(f.Items, Item{Key: key, Name: name, Fields: map[string]string{"version": version}})
	}
	if bad > 0 {
		f.Malformed += bad
		f.Notes = append(f.Notes, fmt.Sprintf("/var/lib/dpkg/status: %d malformed entries skipped", bad))
	}
	return f
}

// modules reads the loaded kernel modules from /proc/modules.
func (c *collector) modules() *Facet {
	f := &Facet{}
	b, err := c.readFile("/proc/modules", 0)
	if err != nil {
		f.Unavailable = "/proc/modules: " + why(err) + " (a kernel without modules, or a container)"
		return f
	}
	bad := 0
	for _, l := range lines(b) {
		fs := strings.Fields(l)
		if len(fs) == 0 {
			continue
		}
		if len(fs) < 3 {
			bad++
			continue
		}
		f.Items = append(f.Items, Item{Key: fs[0], Name: fs[0]})
	}
	if bad > 0 {
		f.Malformed += bad
		f.Notes = append(f.Notes, fmt.Sprintf("/proc/modules: %d malformed lines skipped", bad))
	}
	return f
}

// SecuritySysctls are the kernel parameters the sysctls facet watches.
var SecuritySysctls = []string{
	"kernel.kptr_restrict", "kernel.dmesg_restrict", "kernel.randomize_va_space", "kernel.unprivileged_bpf_disabled",
	"kernel.yama.ptrace_scope", "kernel.kexec_load_disabled", "kernel.modules_disabled", "kernel.sysrq",
	"kernel.perf_event_paranoid", "kernel.unprivileged_userns_clone", "net.core.bpf_jit_harden",
	"fs.protected_hardlinks", "fs.protected_symlinks", "fs.protected_fifos", "fs.protected_regular", "fs.suid_dumpable",
	"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding",
	"net.ipv4.conf.all.accept_redirects", "net.ipv4.conf.default.accept_redirects", "net.ipv6.conf.all.accept_redirects",
	"net.ipv4.conf.all.secure_redirects", "net.ipv4.conf.all.send_redirects", "net.ipv4.conf.all.accept_source_route",
	"net.ipv6.conf.all.accept_source_route", "net.ipv4.conf.all.rp_filter", "net.ipv4.conf.default.rp_filter",
	"net.ipv4.conf.all.log_martians", "net.ipv4.tcp_syncookies", "net.ipv4.icmp_echo_ignore_broadcasts",
}

// sysctls reads SecuritySysctls from /proc/sys. A parameter this kernel
// does not have is left out.
func (c *collector) sysctls() *Facet {
	f := &Facet{}
	if _, err := c.stat("/proc/sys"); err != nil {
		f.Unavailable = "/proc/sys: " + why(err)
		return f
	}
	for _, name := range SecuritySysctls {
		p := "/proc/sys/" + strings.ReplaceAll(name, ".", "/")
		b, err := c.readFile(p, 0)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				f.Notes = append(f.Notes, p+": "+why(err))
			}
			continue
		}
		v := strings.Join(strings.Fields(string(b)), " ")
		if v == "" {
			f.Notes = append(f.Notes, p+": empty")
			continue
		}
		f.Items = append(f.Items, Item{Key: name, Name: name, Fields: map[string]string{"value": v}})
	}
	return f
}
