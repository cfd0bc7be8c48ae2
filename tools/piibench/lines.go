package main

import (
	"math/rand/v2"
	"strconv"
	"time"
)

// This file writes the lines themselves: the background of each file
// kind and the pieces (heads, tails) that planted lines share with it.
// Background lines never contain an '@', a card-, phone-, SSN- or
// IBAN-shaped number or a credential prefix; they do contain what real
// logs are full of: IPv4 addresses, 19-digit nanosecond timestamps (one
// in ten passes Luhn), hex trace ids, UUIDs, SNMP OIDs, ports and PIDs.

// The file kinds.
const (
	fAccess = iota
	fApp
	fSyslog
	nFiles
)

// fileNames are the generated log files, fileShares their part of the
// corpus size.
var (
	fileNames  = [nFiles]string{"access.log", "app.jsonl", "syslog"}
	fileShares = [nFiles]float64{0.45, 0.40, 0.15}
)

// epoch is the start of the logged day.
var epoch = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

// A liner builds one record (a line, or the lines of a raw PEM block) of
// one file. It is not safe for concurrent use: each file has its own.
type liner struct {
	r *rand.Rand
	b []byte
	// col is the 1-based byte column of the value written with val.
	col int
	// clock is the record's time in nanoseconds since 1970; step is the
	// mean advance per record.
	clock, step int64
	// the formatted stamps of second lastSec.
	lastSec            int64
	sysStamp, accStamp []byte
}

func newLiner(r *rand.Rand, lines int) *liner {
	return &liner{r: r, b: make([]byte, 0, 4096), clock: epoch.UnixNano(), step: max(1, int64(24*time.Hour)/int64(max(lines, 1))), lastSec: -1}
}

// tick starts a new record: it clears the buffer and advances the clock.
func (l *liner) tick() {
	l.b, l.col = l.b[:0], 0
	l.clock += l.r.Int64N(2 * l.step)
	if sec := l.clock / 1e9; sec != l.lastSec {
		t := time.Unix(sec, 0).UTC()
		l.lastSec = sec
		l.sysStamp = t.AppendFormat(l.sysStamp[:0], time.Stamp)
		l.accStamp = t.AppendFormat(l.accStamp[:0], "02/Jan/2006:15:04:05 -0700")
	}
}

func (l *liner) s(str string) { l.b = append(l.b, str...) }
func (l *liner) n(v int)      { l.b = strconv.AppendInt(l.b, int64(v), 10) }

// val writes the planted value and remembers its column.
func (l *liner) val(v string) {
	l.col = len(l.b) + 1
	l.b = append(l.b, v...)
}

// hex writes n random lower-case hex digits.
func (l *liner) hex(n int) {
	for n > 0 {
		v := l.r.Uint64()
		for k := 0; k < 16 && n > 0; k, n = k+1, n-1 {
			l.b = append(l.b, hexLower[v&15])
			v >>= 4
		}
	}
}

// hexID writes an n-digit hex id. One in 1,800 16-digit ids would be all
// decimal, a number no detector can tell from a card number (and one in
// ten of those passes Luhn), so the first digit is then made a letter.
func (l *liner) hexID(n int) {
	start := len(l.b)
	l.hex(n)
	for _, c := range l.b[start:] {
		if c > '9' {
			return
		}
	}
	l.b[start] = "abcdef"[l.r.IntN(6)]
}

// uuid writes a random version 4 UUID.
func (l *liner) uuid() {
	l.hex(8)
	l.s("-")
	l.hex(4)
	l.s("-4")
	l.hex(3)
	l.b = append(l.b, '-', "89ab"[l.r.IntN(4)])
	l.hex(3)
	l.s("-")
	l.hex(12)
}

// ip writes an IPv4 address: four in ten private, the rest public.
func (l *liner) ip() {
	r := l.r
	switch r.IntN(10) {
	case 0, 1:
		l.s("10.")
		l.n(r.IntN(256))
	case 2:
		l.s("192.168")
	case 3:
		l.s("172.")
		l.n(16 + r.IntN(16))
	default:
		first := 1 + r.IntN(223)
		if first == 10 || first == 127 || first == 172 || first == 192 {
			first = 203
		}
		l.n(first)
		l.s(".")
		l.n(r.IntN(256))
	}
	l.s(".")
	l.n(r.IntN(256))
	l.s(".")
	l.n(1 + r.IntN(254))
}

// --- access.log: nginx "combined" ---

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.102 Mobile Safari/537.36",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"curl/8.5.0",
		"python-requests/2.32.3",
		"Prometheus/2.42.0",
		"kube-probe/1.31",
	}
	referers = []string{"-", "-", "-", "https://shop.acme-corp.com/", "https://shop.acme-corp.com/cart", "https://www.google.com/", "https://shop.acme-corp.com/products?category=shoes"}
	words    = []string{"shoes", "jacket", "socks", "backpack", "charger", "lamp", "mug", "headphones", "kettle", "desk"}
)

// accessHead writes `IP - USER [time] "` up to the request.
func (l *liner) accessHead(user string) {
	l.ip()
	l.s(" - ")
	l.s(user)
	l.s(" [")
	l.b = append(l.b, l.accStamp...)
	l.s(`] "`)
}

// accessTail closes the request and writes status, size, referer and agent.
func (l *liner) accessTail(status int) {
	l.s(` HTTP/1.1" `)
	l.n(status)
	l.s(" ")
	l.n(200 + l.r.IntN(60000))
	l.s(` "`)
	l.s(pick(l.r, referers))
	l.s(`" "`)
	l.s(pick(l.r, userAgents))
	l.s(`"`)
}

func (l *liner) accessBackground() {
	r := l.r
	l.accessHead("-")
	status := 200
	switch k := r.IntN(20); {
	case k < 9:
		l.s("GET /api/v1/products/")
		l.n(1000 + r.IntN(90000))
	case k < 11:
		l.s("GET /api/v1/orders?page=")
		l.n(1 + r.IntN(40))
	case k < 13:
		l.s("GET /static/js/app.")
		l.hex(8)
		l.s(".js")
		if r.IntN(3) == 0 {
			status = 304
		}
	case k < 14:
		l.s("GET /search?q=")
		l.s(pick(r, words))
	case k < 15:
		l.s("POST /api/v1/cart")
		status = 201
	case k < 16:
		l.s("GET /api/v1/payments/")
		l.uuid()
	case k < 17:
		l.s("GET /healthz")
	case k < 18:
		l.s(pick(r, []string{"GET /wp-login.php", "GET /.env", "GET /cgi-bin/luci", "POST /xmlrpc.php"}))
		status = 404
	case k < 19:
		l.s("GET /api/v1/users/")
		l.n(1000 + r.IntN(90000))
		l.s("/orders")
		if r.IntN(4) == 0 {
			status = 401
		}
	default:
		l.s(pick(r, []string{"GET /", "GET /favicon.ico", "GET /robots.txt", "HEAD /", "GET /static/img/hero.jpg"}))
	}
	if r.IntN(200) == 0 {
		status = 500
	}
	l.accessTail(status)
}

// --- app.jsonl: one JSON object per line ---

var services = []struct {
	name string
	msgs []string
}{
	{"checkout", []string{"order placed", "payment authorized", "cart updated", "inventory reserved", "shipping quote computed"}},
	{"auth", []string{"user logged in", "token refreshed", "login failed: bad password", "session expired", "mfa challenge sent"}},
	{"search", []string{"query executed", "cache miss", "index refreshed", "suggestions served"}},
	{"worker", []string{"job started", "job finished", "retrying upstream request", "db query slow", "queue drained"}},
}

// appHead writes the fields every app line starts with, up to and
// including the comma after span_id.
func (l *liner) appHead(level, service string) {
	l.s(`{"ts_ns":`)
	l.b = strconv.AppendInt(l.b, l.clock, 10)
	l.s(`,"level":"`)
	l.s(level)
	l.s(`","service":"`)
	l.s(service)
	l.s(`","host":"app-`)
	l.n(1 + l.r.IntN(6))
	l.s(`","env":"prod","region":"eu-west-1","trace_id":"`)
	l.hexID(32)
	l.s(`","span_id":"`)
	l.hexID(16)
	l.s(`",`)
}

// appTail writes the fields every app line ends with, and the brace.
func (l *liner) appTail() {
	l.s(`"client_ip":"`)
	l.ip()
	l.s(`","request_id":"`)
	l.uuid()
	l.s(`","build":"1.14.`)
	l.n(l.r.IntN(4))
	l.s(`"}`)
}

func (l *liner) appBackground() {
	r := l.r
	svc := pick(r, services)
	level := "info"
	if k := r.IntN(20); k == 0 {
		level = "error"
	} else if k < 3 {
		level = "warn"
	}
	l.appHead(level, svc.name)
	l.s(`"msg":"`)
	l.s(pick(r, svc.msgs))
	l.s(`","http":{"method":"`)
	l.s(pick(r, []string{"GET", "GET", "GET", "POST", "PUT", "DELETE"}))
	l.s(`","path":"/api/v1/`)
	l.s(pick(r, []string{"orders", "products", "cart", "sessions", "search", "jobs"}))
	l.s(`","status":`)
	l.n(pick(r, []int{200, 200, 200, 201, 204, 304, 400, 404, 500}))
	l.s(`,"duration_ms":`)
	l.n(r.IntN(900))
	l.s(`},"user_id":`)
	l.n(1000 + r.IntN(90000))
	l.s(`,"bytes":`)
	l.n(r.IntN(100000))
	l.s(`,`)
	l.appTail()
}

// --- syslog: RFC 3164 as rsyslog writes it to /var/log/syslog ---

var hosts = []string{"web-01", "web-02", "db-01", "mail-01"}

// sysHead writes "Mmm dd hh:mm:ss host prog[pid]: ".
func (l *liner) sysHead(prog string, pid bool) {
	l.b = append(l.b, l.sysStamp...)
	l.s(" ")
	l.s(pick(l.r, hosts))
	l.s(" ")
	l.s(prog)
	if pid {
		l.s("[")
		l.n(300 + l.r.IntN(65000))
		l.s("]")
	}
	l.s(": ")
}

// queueID writes a Postfix queue id.
func (l *liner) queueID() {
	for range 10 {
		l.b = append(l.b, "0123456789ABCDEF"[l.r.IntN(16)])
	}
}

var sysUsers = []string{"root", "admin", "ubuntu", "test", "oracle", "postgres", "git", "deploy", "ftp", "pi"}

func (l *liner) syslogBackground() {
	r := l.r
	switch k := r.IntN(40); {
	case k < 12:
		l.sysHead("sshd", true)
		switch r.IntN(6) {
		case 0:
			l.s("Failed password for invalid user ")
			l.s(pick(r, sysUsers))
			l.s(" from ")
		case 1:
			l.s("Failed password for root from ")
		case 2:
			l.s("Accepted publickey for git from ")
			l.ip()
			l.s(" port ")
			l.n(1024 + r.IntN(64000))
			l.s(" ssh2: ED25519 SHA256:")
			for range 43 {
				l.b = append(l.b, base64std[r.IntN(64)])
			}
			return
		case 3:
			l.s("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=")
			l.ip()
			l.s("  user=root")
			return
		case 4:
			l.s("Connection closed by authenticating user root ")
			l.ip()
			l.s(" port ")
			l.n(1024 + r.IntN(64000))
			l.s(" [preauth]")
			return
		default:
			l.s("Received disconnect from ")
			l.ip()
			l.s(" port ")
			l.n(1024 + r.IntN(64000))
			l.s(":11: Bye Bye [preauth]")
			return
		}
		l.ip()
		l.s(" port ")
		l.n(1024 + r.IntN(64000))
		l.s(" ssh2")
	case k < 16:
		l.sysHead("sudo", false)
		if r.IntN(2) == 0 {
			l.s("   alice : TTY=pts/")
			l.n(r.IntN(4))
			l.s(" ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl ")
			l.s(pick(r, []string{"restart nginx", "status postgresql", "reload postfix", "restart snmpd"}))
		} else {
			l.s("pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)")
		}
	case k < 21:
		l.sysHead("CRON", true)
		switch r.IntN(3) {
		case 0:
			l.s("(root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)")
		case 1:
			l.s("(www-data) CMD (php /var/www/app/artisan schedule:run >> /dev/null 2>&1)")
		default:
			l.s("pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)")
		}
	case k < 28:
		l.sysHead("kernel", false)
		l.s("[")
		l.n(10000 + r.IntN(900000))
		l.s(".")
		l.b = append(l.b, strconv.Itoa(1000000 + r.IntN(1000000))[1:]...)
		l.s("] [UFW BLOCK] IN=eth0 OUT= MAC=52:54:00:")
		l.hex(2)
		l.s(":")
		l.hex(2)
		l.s(":")
		l.hex(2)
		l.s(":fe:ff:ff:ff:ff:ff:08:00 SRC=")
		l.ip()
		l.s(" DST=10.0.0.")
		l.n(1 + r.IntN(20))
		l.s(" LEN=40 TOS=0x00 PREC=0x00 TTL=")
		l.n(30 + r.IntN(220))
		l.s(" ID=")
		l.n(r.IntN(65536))
		l.s(" PROTO=TCP SPT=")
		l.n(1024 + r.IntN(64000))
		l.s(" DPT=")
		l.n(pick(r, []int{22, 23, 80, 443, 3389, 5900, 8080}))
		l.s(" WINDOW=1024 RES=0x00 SYN URGP=0")
	case k < 35:
		k := r.IntN(4)
		if k < 3 {
			l.sysHead("postfix/smtpd", true)
		} else {
			l.sysHead("postfix/qmgr", true)
		}
		switch k {
		case 0:
			l.s("connect from unknown[")
			l.ip()
			l.s("]")
		case 1:
			l.s("disconnect from unknown[")
			l.ip()
			l.s("] ehlo=1 auth=0/1 quit=1 commands=2/3")
		case 2:
			l.s("warning: unknown[")
			l.ip()
			l.s("]: SASL LOGIN authentication failed: authentication failure")
		default:
			l.queueID()
			l.s(": removed")
		}
	default:
		l.sysHead("snmpd", true)
		if r.IntN(2) == 0 {
			l.s("Connection from UDP: [")
			l.ip()
			l.s("]:")
			l.n(1024 + r.IntN(64000))
			l.s("->[10.0.0.1]:161")
		} else {
			l.s("Received GET request for 1.3.6.1.2.1.")
			l.s(pick(r, []string{"1.3.0", "1.5.0", "2.2.1.10.2", "2.2.1.16.3", "25.3.3.1.2.196608", "31.1.1.1.6.2"}))
			l.s(" from ")
			l.ip()
		}
	}
}
