package main

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// This file writes auth.log as a central rsyslog writes it for three
// hosts: bastion-1 (Debian 13: RFC 3339 high-precision stamps, OpenSSH
// 9.8+ logging connections as sshd-session) and web-1 and db-1 (older:
// traditional "Nov 22 00:00:01" stamps, sshd). The background is cron
// sessions, the kernel's audit of them, postfix delivering cron mail,
// systemd timers and the odd sshd reload; nothing in it may be a finding.
// The ssh sessions and sudo commands of the day are planted: each
// "Accepted" or "COMMAND=" line is a finding (info), the session lines
// around it are not.

// The auth rules of check-audit-log.
const (
	ruleSSHFailed      = "ssh.failed_login"
	ruleSSHInvalidUser = "ssh.invalid_user"
	ruleSSHMaxAuth     = "ssh.max_auth_exceeded"
	ruleSSHAccepted    = "ssh.accepted_login"
	ruleSudoAuthFail   = "sudo.auth_failure"
	ruleSudoNotAllowed = "sudo.not_in_sudoers"
	ruleSudoCommand    = "sudo.command"
)

// host is one host of the central log.
type host struct {
	name    string
	rfc3339 bool
	sshd    string // the program name of sshd's per-connection messages
	pid     int    // the last process id handed out
	boot    int64  // boot time in ns, for the kernel's uptime stamps
	session int    // the last logind session number
}

// authGen writes auth.log lines. It is not safe for concurrent use.
type authGen struct {
	buf
	st    stamper
	hosts []*host
}

func newAuthGen(r *rand.Rand) *authGen {
	a := &authGen{buf: buf{r: r, b: make([]byte, 0, 512)}}
	for _, h := range []host{{name: "bastion-1", rfc3339: true, sshd: "sshd-session"}, {name: "web-1", sshd: "sshd"}, {name: "db-1", sshd: "sshd"}} {
		h.pid = 100000 + r.IntN(200000)
		h.boot = start.UnixNano() - int64(24*time.Hour) - r.Int64N(int64(30*24*time.Hour))
		h.session = 1000 + r.IntN(5000)
		a.hosts = append(a.hosts, &h)
	}
	return a
}

func (a *authGen) host(name string) *host {
	for _, h := range a.hosts {
		if h.name == name {
			return h
		}
	}
	panic("no host " + name)
}

// newPID hands out the host's next process id.
func (h *host) newPID(r *rand.Rand) int {
	h.pid += 1 + r.IntN(40)
	if h.pid > 4194304 {
		h.pid = 1000
	}
	return h.pid
}

// head starts a line: stamp, host, program and pid (none when 0).
func (a *authGen) head(h *host, t int64, prog string, pid int) {
	a.b = a.st.syslog(a.b[:0], t, h.rfc3339)
	a.s(" ")
	a.s(h.name)
	a.s(" ")
	a.s(prog)
	if pid != 0 {
		a.s("[")
		a.n(pid)
		a.s("]")
	}
	a.s(": ")
}

// genAuth writes the auth log.
func genAuth(r, ri *rand.Rand, s *stream) {
	s.ft.Source = "auth"
	s.setPlan(authIncidents(newAuthGen(ri)))
	a := newAuthGen(r)
	for !s.done() {
		t := s.now(r, int64(200*time.Millisecond))
		s.flushPlanned(t)
		a.background(s, t)
	}
	s.flushPlanned(1<<63 - 1)
}

// background writes one background record (one to five lines) at t.
func (a *authGen) background(s *stream, t int64) {
	r := a.r
	h := a.hosts[r.IntN(len(a.hosts))]
	line := func(prog string, pid int, msg ...string) {
		a.head(h, t, prog, pid)
		for _, m := range msg {
			a.s(m)
		}
		s.benign(a.b, t)
	}
	switch n := r.IntN(1000); {
	case n < 600:
		user, uid := "root", "(uid=0)"
		switch {
		case h.name == "web-1" && r.IntN(4) == 0:
			user, uid = "www-data", "(uid=33)"
		case h.name == "db-1" && r.IntN(4) == 0:
			user, uid = "postgres", "(uid=116)"
		}
		pid := h.newPID(r)
		line("CRON", pid, "pam_unix(cron:session): session opened for user ", user, uid, " by (uid=0)")
		line("CRON", pid, "pam_unix(cron:session): session closed for user ", user)
	case n < 720:
		up := t - h.boot
		a.head(h, t, "kernel", 0)
		a.s("[")
		a.b = strconv.AppendInt(a.b, up/1e9, 10)
		a.b = micro(a.b, up)
		a.s("] audit: type=1006 audit(")
		a.b = strconv.AppendInt(a.b, t/1e9, 10)
		a.s(".")
		a.n(int(t / 1e6 % 1000))
		a.s(":")
		a.n(100000 + r.IntN(900000))
		a.s("): pid=")
		a.n(h.pid)
		a.s(" uid=0 subj=unconfined old-auid=4294967295 auid=0 tty=(none) old-ses=4294967295 ses=")
		a.n(h.session + r.IntN(50))
		a.s(" res=1")
		s.benign(a.b, t)
	case n < 860:
		a.mail(s, h, t)
	case n < 998:
		unit := []string{"sysstat-collect.service - system activity accounting tool", "logrotate.service - Rotate log files",
			"apt-daily.service - Daily apt download activities", "man-db.service - Daily man-db regeneration",
			"phpsessionclean.service - Clean php session files"}[r.IntN(5)]
		name, _, _ := strings.Cut(unit, " - ")
		line("systemd", 1, "Starting ", unit, "...")
		line("systemd", 1, name, ": Deactivated successfully.")
		line("systemd", 1, "Finished ", unit, ".")
	default:
		pid := h.newPID(r)
		line("sshd", pid, "Received SIGHUP; restarting.")
		line("sshd", pid, "Server listening on 0.0.0.0 port 22.")
		line("sshd", pid, "Server listening on :: port 22.")
	}
}

// mail writes postfix delivering a cron mail to root.
func (a *authGen) mail(s *stream, h *host, t int64) {
	r := a.r
	id := make([]byte, 0, 16)
	const alphabet = "0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz"
	for range 15 {
		id = append(id, alphabet[r.IntN(len(alphabet))])
	}
	qid := string(id)
	domain := h.name + ".example.com"
	for _, l := range []struct{ prog, msg string }{
		{"postfix/pickup", qid + ": uid=0 from=<root>"},
		{"postfix/cleanup", qid + ": message-id=<" + qid + "@" + domain + ">"},
		{"postfix/qmgr", qid + ": from=<root@" + domain + ">, size=" + strconv.Itoa(600+r.IntN(900)) + ", nrcpt=1 (queue active)"},
		{"postfix/local", qid + ": to=<root@" + domain + ">, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0/0/0.01, dsn=2.0.0, status=sent (delivered to mailbox)"},
		{"postfix/qmgr", qid + ": removed"},
	} {
		a.head(h, t, l.prog, h.newPID(r))
		a.s(l.msg)
		s.benign(a.b, t)
	}
}

// authIncidents plans the auth incidents.
func authIncidents(a *authGen) *plan {
	p := &plan{}
	t := spread(a.r, 4)
	a.bruteForce(p, t[0])
	a.slowFailures(p, t[1])
	a.sudoFailure(p, t[2])
	a.notInSudoers(p, t[3])
	a.sessions(p)
	a.sudoCommands(p)
	return p
}

// at plans one line of inc on host h.
func (a *authGen) at(p *plan, inc int, h *host, t int64, prog string, pid int, msg string, rules ...string) {
	a.head(h, t, prog, pid)
	a.s(msg)
	p.add(inc, t, a.take(), rules, len(rules) > 0)
}

// randomTime returns a time between 1% and 97% of the day.
func (a *authGen) randomTime() int64 {
	return start.UnixNano() + day/100 + a.r.Int64N(day*96/100)
}

func (a *authGen) port() string { return strconv.Itoa(32768 + a.r.IntN(28000)) }

// bruteForce: 30 failed passwords from one address in five minutes on
// the bastion: 16 single tries as root, 8 invalid users, and one
// connection that tries root six times and hits MaxAuthTries.
func (a *authGen) bruteForce(p *plan, t0 int64) {
	const ip = "203.0.113.7"
	inc := p.incident("ssh-brute-force", "30 failed ssh passwords from one address in five minutes, 8 of them for invalid users, one connection over MaxAuthTries",
		&Expected{Rule: ruleSSHFailed, Source: ip, Severity: []string{"high", "critical"}},
		&Expected{Rule: ruleSSHInvalidUser, Source: ip},
		&Expected{Rule: ruleSSHMaxAuth, Actor: "root", Source: ip})
	h := a.host("bastion-1")
	kinds := make([]int, 0, 25) // 0: root once, 1: invalid user, 2: root six times
	for i := range 25 {
		kinds = append(kinds, min(i/16, 1))
	}
	kinds[20] = 2
	a.r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	invalid := []string{"admin", "test", "oracle", "ubuntu", "postgres", "user", "guest", "ftpuser"}
	t := t0
	for _, k := range kinds {
		pid, port := h.newPID(a.r), a.port()
		pam := "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + ip + "  user=root"
		switch k {
		case 0:
			a.at(p, inc, h, t, h.sshd, pid, pam)
			a.at(p, inc, h, t+2*second, h.sshd, pid, "Failed password for root from "+ip+" port "+port+" ssh2", ruleSSHFailed)
			a.at(p, inc, h, t+3*second, h.sshd, pid, "Connection closed by authenticating user root "+ip+" port "+port+" [preauth]")
		case 1:
			u := invalid[0]
			invalid = invalid[1:]
			a.at(p, inc, h, t, h.sshd, pid, "Invalid user "+u+" from "+ip+" port "+port, ruleSSHInvalidUser)
			a.at(p, inc, h, t+1e8, h.sshd, pid, "pam_unix(sshd:auth): check pass; user unknown")
			a.at(p, inc, h, t+1e8, h.sshd, pid, "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost="+ip+" ")
			a.at(p, inc, h, t+2*second, h.sshd, pid, "Failed password for invalid user "+u+" from "+ip+" port "+port+" ssh2", ruleSSHFailed)
			a.at(p, inc, h, t+3*second, h.sshd, pid, "Connection closed by invalid user "+u+" "+ip+" port "+port+" [preauth]")
		default:
			a.at(p, inc, h, t, h.sshd, pid, pam)
			for i := range 6 {
				a.at(p, inc, h, t+int64(i+1)*second, h.sshd, pid, "Failed password for root from "+ip+" port "+port+" ssh2", ruleSSHFailed)
			}
			a.at(p, inc, h, t+7*second, h.sshd, pid, "error: maximum authentication attempts exceeded for root from "+ip+" port "+port+" ssh2 [preauth]", ruleSSHMaxAuth)
			a.at(p, inc, h, t+7*second, h.sshd, pid, "Disconnecting authenticating user root "+ip+" port "+port+": Too many authentication failures [preauth]")
			a.at(p, inc, h, t+7*second, h.sshd, pid, "PAM 5 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost="+ip+"  user=root")
		}
		t += 11 * second
	}
}

// slowFailures: three failed logins from one address over two minutes on
// web-1, by password, public key and keyboard-interactive: below the
// warning threshold.
func (a *authGen) slowFailures(p *plan, t0 int64) {
	const ip = "198.51.100.23"
	inc := p.incident("ssh-few-failures", "three failed ssh logins for git from one address in two minutes (password, public key, keyboard-interactive)",
		&Expected{Rule: ruleSSHFailed, Actor: "git", Source: ip, Severity: []string{"info"}})
	h := a.host("web-1")
	pam := "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=" + ip + "  user=git"
	for i, method := range []string{"password", "publickey", "keyboard-interactive/pam"} {
		t, pid, port := t0+int64(i)*55*second, h.newPID(a.r), a.port()
		suffix := ""
		if method == "publickey" {
			a.b = append(a.b[:0], ": RSA SHA256:"...)
			a.b64(43)
			suffix = string(a.take())
		} else {
			a.at(p, inc, h, t, h.sshd, pid, pam)
		}
		a.at(p, inc, h, t+2*second, h.sshd, pid, "Failed "+method+" for git from "+ip+" port "+port+" ssh2"+suffix, ruleSSHFailed)
		a.at(p, inc, h, t+3*second, h.sshd, pid, "Connection closed by authenticating user git "+ip+" port "+port+" [preauth]")
	}
}

// sudoLine writes sudo's "%8s : " prefix and the rest.
func sudoLine(user, rest string) string {
	pad := "        "[:max(0, 8-len(user))]
	return pad + user + " : " + rest
}

func (a *authGen) sudoFailure(p *plan, t0 int64) {
	inc := p.incident("sudo-auth-failure", "alice mistypes her sudo password three times on the bastion",
		&Expected{Rule: ruleSudoAuthFail, Actor: "alice"})
	h := a.host("bastion-1")
	a.at(p, inc, h, t0, "sudo", 0, "pam_unix(sudo:auth): authentication failure; logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice")
	a.at(p, inc, h, t0+9*second, "sudo", 0, sudoLine("alice", "3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/bash"), ruleSudoAuthFail)
}

func (a *authGen) notInSudoers(p *plan, t0 int64) {
	inc := p.incident("not-in-sudoers", "bob, not in sudoers, tries to read /etc/shadow on web-1",
		&Expected{Rule: ruleSudoNotAllowed, Actor: "bob"})
	a.at(p, inc, a.host("web-1"), t0, "sudo", 0, sudoLine("bob", "user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/cat /etc/shadow"), ruleSudoNotAllowed)
}

// sessions: the day's ssh logins, 36 by deploy from 10.0.0.5 on web-1
// and db-1 (public key) and 12 by alice from 10.0.0.8 on the bastion
// (password), each with its session lines.
func (a *authGen) sessions(p *plan) {
	inc := p.incident("ssh-logins", "the day's ssh logins: deploy from 10.0.0.5 by public key on web-1 and db-1, alice from 10.0.0.8 by password on the bastion",
		&Expected{Rule: ruleSSHAccepted, Actor: "deploy", Source: "10.0.0.5", Severity: []string{"info"}},
		&Expected{Rule: ruleSSHAccepted, Actor: "alice", Source: "10.0.0.8", Severity: []string{"info"}})
	for i := range 48 {
		user, uid, ip, h := "deploy", "1001", "10.0.0.5", a.hosts[1+i%2]
		if i >= 36 {
			user, uid, ip, h = "alice", "1000", "10.0.0.8", a.hosts[0]
		}
		t, pid, port := a.randomTime(), h.newPID(a.r), a.port()
		if i == 0 {
			port = "50022"
		}
		h.session++
		session := strconv.Itoa(h.session)
		how := "password for alice from " + ip + " port " + port + " ssh2"
		if user == "deploy" {
			a.b = append(a.b[:0], "publickey for deploy from "+ip+" port "+port+" ssh2: ED25519 SHA256:"...)
			a.b64(43)
			how = string(a.take())
		}
		a.at(p, inc, h, t, h.sshd, pid, "Accepted "+how, ruleSSHAccepted)
		a.at(p, inc, h, t+5e6, h.sshd, pid, "pam_unix(sshd:session): session opened for user "+user+"(uid="+uid+") by "+user+"(uid=0)")
		a.at(p, inc, h, t+9e6, "systemd-logind", 612, "New session "+session+" of user "+user+".")
		end := t + 2*minute + a.r.Int64N(38*minute)
		a.at(p, inc, h, end, h.sshd, pid, "Received disconnect from "+ip+" port "+port+":11: disconnected by user")
		a.at(p, inc, h, end, h.sshd, pid, "Disconnected from user "+user+" "+ip+" port "+port)
		a.at(p, inc, h, end+2e6, h.sshd, pid, "pam_unix(sshd:session): session closed for user "+user)
		a.at(p, inc, h, end+4e6, "systemd-logind", 612, "Session "+session+" logged out. Waiting for processes to exit.")
		a.at(p, inc, h, end+6e6, "systemd-logind", 612, "Removed session "+session+".")
	}
}

// sudoCommands: the day's sudo commands, 16 by carol on web-1 and 8 by
// alice on the bastion, each with its PAM session lines.
func (a *authGen) sudoCommands(p *plan) {
	inc := p.incident("sudo-commands", "the day's sudo commands: carol on web-1, alice on the bastion",
		&Expected{Rule: ruleSudoCommand, Actor: "carol", Severity: []string{"info"}},
		&Expected{Rule: ruleSudoCommand, Actor: "alice", Severity: []string{"info"}})
	carol := []string{"/usr/bin/systemctl restart nginx", "/usr/bin/journalctl -u nginx --since today", "/usr/bin/tail -n 200 /var/log/nginx/error.log", "/usr/bin/systemctl reload nginx"}
	alice := []string{"/usr/bin/systemctl status sshd", "/usr/bin/apt-get update", "/usr/bin/less /var/log/auth.log"}
	for i := range 24 {
		user, uid, pts, h, cmd := "carol", "1002", "0", a.hosts[1], carol[i%len(carol)]
		if i >= 16 {
			user, uid, pts, h, cmd = "alice", "1000", "1", a.hosts[0], alice[i%len(alice)]
		}
		t := a.randomTime()
		a.at(p, inc, h, t, "sudo", 0, sudoLine(user, "TTY=pts/"+pts+" ; PWD=/home/"+user+" ; USER=root ; COMMAND="+cmd), ruleSudoCommand)
		a.at(p, inc, h, t+3e6, "sudo", 0, "pam_unix(sudo:session): session opened for user root(uid=0) by "+user+"(uid="+uid+")")
		a.at(p, inc, h, t+second+a.r.Int64N(5*second), "sudo", 0, "pam_unix(sudo:session): session closed for user root")
	}
}
