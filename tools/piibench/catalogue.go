package main

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// This file decides what is planted and where it may stand: every planted
// rule and decoy kind with its count for 500 MB, its variants, and the
// contexts (placers) it is written in for each file kind.

// catalogue collects the plants; values of planted items are unique, so
// that a check which de-duplicates by value loses nothing.
type catalogue struct {
	r      *rand.Rand
	scale  float64
	seen   map[string]bool
	plants []plant
}

// count scales a count given for 500 MB; every kind appears at least once.
func (c *catalogue) count(base int) int { return max(1, int(math.Round(float64(base)*c.scale))) }

// add makes n items of one rule (planted) or kind (decoy) with mk.
func (c *catalogue) add(rule, kind string, base int, mk func(r *rand.Rand) (variant, value string, p places, err error)) error {
	for i := 0; i < c.count(base); {
		variant, value, p, err := mk(c.r)
		if err != nil {
			return fmt.Errorf("%s%s: %w", rule, kind, err)
		}
		if rule != "" && c.seen[value] {
			continue
		}
		c.seen[value] = true
		c.plants = append(c.plants, plant{item: Item{Rule: rule, Kind: kind, Variant: variant, Value: value}, place: p})
		i++
	}
	return nil
}

// assign spreads the plants over the files that can hold them, in
// proportion to the files' line counts, and shuffles each file's list.
func (c *catalogue) assign(estLines [nFiles]int) [nFiles][]plant {
	var out [nFiles][]plant
	for _, p := range c.plants {
		total := 0
		for f := range nFiles {
			if len(p.place[f]) > 0 {
				total += estLines[f]
			}
		}
		x := c.r.IntN(total)
		for f := range nFiles {
			if len(p.place[f]) == 0 {
				continue
			}
			if x < estLines[f] {
				out[f] = append(out[f], p)
				break
			}
			x -= estLines[f]
		}
	}
	for f := range nFiles {
		c.r.Shuffle(len(out[f]), func(i, j int) { out[f][i], out[f][j] = out[f][j], out[f][i] })
	}
	return out
}

// The planted rules, as check-pii names them.
const (
	ruleCard    = "pii.credit_card"
	ruleEmail   = "pii.email"
	rulePhone   = "pii.phone"
	ruleSSN     = "pii.us_ssn"
	ruleIBAN    = "pii.iban"
	ruleAWS     = "secret.aws_access_key_id"
	ruleGitHub  = "secret.github_token"
	ruleSlack   = "secret.slack_token"
	ruleStripe  = "secret.stripe_key"
	ruleJWT     = "secret.jwt"
	rulePrivKey = "secret.private_key"
)

// plantedRules lists the planted rules in report order.
var plantedRules = []string{ruleCard, ruleEmail, rulePhone, ruleSSN, ruleIBAN, ruleAWS, ruleGitHub, ruleSlack, ruleStripe, ruleJWT, rulePrivKey}

// build makes every planted item and decoy (counts for 500 MB).
func (c *catalogue) build() error {
	steps := []struct {
		rule, kind string
		n          int
		mk         func(r *rand.Rand) (string, string, places, error)
	}{
		{ruleCard, "", 1000, func(r *rand.Rand) (string, string, places, error) {
			v, variant := card(r, true)
			return variant, v, cardPlaces(v), nil
		}},
		{ruleEmail, "", 1000, mkEmail},
		{rulePhone, "", 1000, func(r *rand.Rand) (string, string, places, error) {
			variant := pick(r, phoneFormats)
			v := phone(r, variant)
			return variant, v, phonePlaces(v), nil
		}},
		{ruleSSN, "", 1000, func(r *rand.Rand) (string, string, places, error) {
			d := ssnDigits(r)
			switch r.IntN(20) {
			case 0:
				return "compact", d, ssnPlaces(d, "compact"), nil
			case 1:
				v := d[:3] + " " + d[3:5] + " " + d[5:]
				return "space", v, ssnPlaces(v, "space"), nil
			default:
				return "dashed", ssnDashed(d), ssnPlaces(ssnDashed(d), "dashed"), nil
			}
		}},
		{ruleIBAN, "", 1000, func(r *rand.Rand) (string, string, places, error) {
			v := iban(r, true)
			if r.IntN(2) == 0 {
				return "grouped", groupBy4(v), ibanPlaces(groupBy4(v)), nil
			}
			return "compact", v, ibanPlaces(v), nil
		}},
		{ruleAWS, "", 200, func(r *rand.Rand) (string, string, places, error) {
			v := awsKeyID(r)
			variant := strings.ToLower(v[:4])
			secret := ""
			if r.IntN(4) != 0 {
				secret, variant = awsSecretKey(r), variant+"_with_secret"
			}
			return variant, v, awsPlaces(secret), nil
		}},
		{ruleGitHub, "", 200, func(r *rand.Rand) (string, string, places, error) {
			v := githubToken(r, true)
			return v[:4], v, githubPlaces(), nil
		}},
		{ruleSlack, "", 200, func(r *rand.Rand) (string, string, places, error) {
			v := slackToken(r)
			return v[:4], v, slackPlaces(), nil
		}},
		{ruleStripe, "", 200, func(r *rand.Rand) (string, string, places, error) {
			v := stripeKey(r)
			return v[:7], v, stripePlaces(), nil
		}},
		{ruleJWT, "", 200, func(r *rand.Rand) (string, string, places, error) {
			v, alg := validJWT(r)
			return alg, v, jwtPlaces(), nil
		}},
		{rulePrivKey, "", 100, mkPrivateKey},

		// Decoys: none of these may be reported.
		{"", "card_ms_timestamp", 200, func(r *rand.Rand) (string, string, places, error) {
			v := luhnTimestamp(r, 1e6)
			return "luhn_valid_13", v, msTimestampPlaces(), nil
		}},
		{"", "card_ns_timestamp", 200, func(r *rand.Rand) (string, string, places, error) {
			v := luhnTimestamp(r, 1)
			return "luhn_valid_19", v, nsTimestampPlaces(), nil
		}},
		{"", "card_stamp14", 100, func(r *rand.Rand) (string, string, places, error) {
			for {
				t := epoch.Add(randDuration(r))
				if v := t.Format("20060102150405"); luhnValid(v) {
					return "luhn_valid_yyyymmddhhmmss", v, stamp14Places(), nil
				}
			}
		}},
		{"", "card_bad_luhn", 300, func(r *rand.Rand) (string, string, places, error) {
			v, variant := card(r, false)
			return variant, v, cardPlaces(v), nil
		}},
		{"", "card_masked", 200, func(r *rand.Rand) (string, string, places, error) {
			num := cardDigits(r, brands[r.IntN(3)], true)
			variant := pick(r, []string{"x_dash", "stars_compact", "stars_space", "partial_space"})
			v := map[string]string{
				"x_dash":        num[:4] + "-XXXX-XXXX-" + num[12:],
				"stars_compact": num[:6] + "******" + num[12:],
				"stars_space":   "**** **** **** " + num[12:],
				"partial_space": num[:4] + " " + num[4:6] + "** **** " + num[12:],
			}[variant]
			return variant, v, cardPlaces(v), nil
		}},
		{"", "order_id", 100, func(r *rand.Rand) (string, string, places, error) {
			v := "ORD-" + epoch.Add(randDuration(r)).Format("20060102") + "-" + strconv.Itoa(10000000 + r.IntN(10000000))[1:]
			return "ord", v, orderPlaces(), nil
		}},
		{"", "uuid", 100, func(r *rand.Rand) (string, string, places, error) {
			d := randStr(r, digits, 32)
			v := d[:8] + "-" + d[8:12] + "-4" + d[13:16] + "-" + string("89"[r.IntN(2)]) + d[17:20] + "-" + d[20:]
			return "all_decimal", v, uuidPlaces(), nil
		}},
		{"", "version", 100, func(r *rand.Rand) (string, string, places, error) {
			if r.IntN(2) == 0 {
				v := "v" + strconv.Itoa(1+r.IntN(9)) + "." + strconv.Itoa(r.IntN(10)) + "." + strconv.Itoa(r.IntN(10)) + "." + strconv.Itoa(100+r.IntN(900))
				return "v_four_part", v, versionPlaces(true), nil
			}
			v := strconv.Itoa(1+r.IntN(20)) + "." + strconv.Itoa(r.IntN(10)) + "." + strconv.Itoa(r.IntN(100)) + "." + strconv.Itoa(r.IntN(100))
			return "json_four_part", v, versionPlaces(false), nil
		}},
		{"", "snmp_oid", 250, func(r *rand.Rand) (string, string, places, error) {
			v := "1.3.6.1.4.1." + pick(r, []string{"2021.10.1.3.1", "2021.4.6.0", "2021.11.9.0", "9.9.13.1.3.1.3", "311.1.1.3.1.2", "8072.1.3.2.3.1.1"})
			return "enterprise", v, oidPlaces(), nil
		}},
		{"", "aws_example", 50, func(r *rand.Rand) (string, string, places, error) {
			if r.IntN(3) == 0 {
				return "secret_key", awsExampleSecret, awsExampleSecretPlaces(), nil
			}
			return "key_id", awsExampleKeyID, awsPlaces(awsExampleSecret), nil
		}},
		{"", "email_lookalike", 500, mkEmailLookalike},
		{"", "iban_bad_check", 250, func(r *rand.Rand) (string, string, places, error) {
			v := iban(r, false)
			if r.IntN(2) == 0 {
				return "grouped", groupBy4(v), ibanPlaces(groupBy4(v)), nil
			}
			return "compact", v, ibanPlaces(v), nil
		}},
		{"", "ssn_invalid", 500, func(r *rand.Rand) (string, string, places, error) {
			d, variant := badSSNDigits(r)
			if r.IntN(10) == 0 {
				return variant + "_compact", d, ssnPlaces(d, "compact"), nil
			}
			return variant, ssnDashed(d), ssnPlaces(ssnDashed(d), "dashed"), nil
		}},
		{"", "github_bad_checksum", 50, func(r *rand.Rand) (string, string, places, error) {
			v := githubToken(r, false)
			return v[:4], v, githubPlaces(), nil
		}},
		{"", "jwt_bad_header", 50, func(r *rand.Rand) (string, string, places, error) {
			if r.IntN(2) == 0 {
				return "no_alg", jwt(r, `{"typ":"JWT","kid":"`+randStr(r, hexLower, 8)+`"}`), jwtPlaces(), nil
			}
			return "not_json", jwt(r, `{"typ":"JWT","alg":"HS256"`), jwtPlaces(), nil
		}},
		{"", "stripe_doc_key", 25, func(*rand.Rand) (string, string, places, error) {
			return "docs", stripeDocKey, stripePlaces(), nil
		}},
		{"", "pem_public_key", 25, mkPublicPEM(false)},
		{"", "pem_certificate", 25, mkPublicPEM(true)},
	}
	for _, s := range steps {
		if err := c.add(s.rule, s.kind, s.n, s.mk); err != nil {
			return err
		}
	}
	return nil
}

// randDuration is a random offset within the logged day.
func randDuration(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(24 * time.Hour))) }

// luhnTimestamp returns a time of the logged day in units of unit
// nanoseconds (1e6: 13-digit milliseconds; 1: 19-digit nanoseconds) that
// passes Luhn.
func luhnTimestamp(r *rand.Rand, unit int64) string {
	v := (epoch.UnixNano() + r.Int64N(86400e9)) / unit
	for !luhnValid(strconv.FormatInt(v, 10)) {
		v++
	}
	return strconv.FormatInt(v, 10)
}

func mkEmail(r *rand.Rand) (string, string, places, error) {
	var p places
	switch k := r.IntN(20); {
	case k < 8:
		v := email(r, false)
		p[fSyslog] = []placer{
			postfixFrom, sysMsg("CRON", true, "(root) CMD (/usr/local/bin/nightly-report --mail-to ", ")"),
			postfix("smtpd", ": client=unknown[198.51.100.23], sasl_method=LOGIN, sasl_username=", ""),
		}
		p[fAccess] = []placer{accessUser()}
		return "plain", v, p, nil
	case k < 15:
		v := email(r, false)
		p[fApp] = []placer{
			appField("info", "auth", "email", "", ""), appField("info", "checkout", "customer_email", "", ""),
			appField("info", "auth", "msg", "password reset requested for ", ""),
		}
		return "json", v, p, nil
	default:
		v := email(r, true)
		p[fAccess] = []placer{
			accessReq("GET /login?user=", "&next=%2Faccount", 302),
			accessReq("GET /api/v1/newsletter/unsubscribe?email=", "&list=weekly", 200),
		}
		p[fApp] = []placer{appField("info", "search", "url", "/api/v1/users?email=", "&limit=10")}
		return "urlencoded", v, p, nil
	}
}

func mkPrivateKey(r *rand.Rand) (string, string, places, error) {
	kind := pick(r, privateKeyKinds)
	v, err := privateKeyPEM(r, kind)
	if err != nil {
		return "", "", places{}, err
	}
	variant := map[string]string{"RSA PRIVATE KEY": "rsa", "PRIVATE KEY": "pkcs8", "EC PRIVATE KEY": "ec", "OPENSSH PRIVATE KEY": "openssh"}[kind]
	return pemPlaced(r, variant, v, false)
}

func mkPublicPEM(cert bool) func(r *rand.Rand) (string, string, places, error) {
	return func(r *rand.Rand) (string, string, places, error) {
		v, err := publicPEM(r, cert)
		if err != nil {
			return "", "", places{}, err
		}
		return pemPlaced(r, "public", v, true)
	}
}

// pemPlaced puts half the blocks raw over several syslog lines and half
// JSON-escaped in one app line.
func pemPlaced(r *rand.Rand, variant, block string, public bool) (string, string, places, error) {
	var p places
	if r.IntN(2) == 0 {
		if public {
			p[fSyslog] = []placer{sysMsg("deploy", true, "installing /etc/ssl/certs/app.pem: ", ""), sysMsg("cloud-init", true, "ec2: ", "")}
		} else {
			p[fSyslog] = []placer{sysMsg("deploy", true, "writing /etc/app/tls/key.pem: ", ""), sysMsg("cloud-init", true, "ec2: ", "")}
		}
		return variant + "_raw", block, p, nil
	}
	if public {
		p[fApp] = []placer{appField("info", "secrets-sync", "certificate", "", `\n`), appField("debug", "config", "public_key", "", `\n`)}
	} else {
		p[fApp] = []placer{appField("info", "secrets-sync", "key", "", `\n`), appField("debug", "config", "tls_key", "", `\n`)}
	}
	return variant + "_json", strings.ReplaceAll(block, "\n", `\n`), p, nil
}

func mkEmailLookalike(r *rand.Rand) (string, string, places, error) {
	var p places
	switch r.IntN(4) {
	case 0:
		v := pick(r, []string{"logo", "icon", "hero", "avatar"}) + "@" + pick(r, []string{"2x", "3x"}) + "." + pick(r, []string{"png", "webp"})
		p[fAccess] = []placer{accessReq("GET /static/img/", "", 200)}
		p[fApp] = []placer{appField("info", "search", "asset", "/static/img/", "")}
		return "retina_asset", v, p, nil
	case 1:
		p[fApp] = []placer{appField("error", "worker", "msg", "handler java.lang.", " timed out after 30000 ms")}
		p[fSyslog] = []placer{sysMsg("java", true, "WARN pool exhausted, held by java.lang.", "")}
		return "java_object", "Object@" + randStr(r, hexLower, 8), p, nil
	case 2:
		p[fSyslog] = []placer{postfixFrom}
		return "localhost", "root@localhost", p, nil
	default:
		p[fApp] = []placer{appField("info", "auth", "email", "", "")}
		p[fSyslog] = []placer{postfixFrom}
		return "invalid_tld", "user@host.invalid", p, nil
	}
}

// --- placers ---

func appField(level, service, name, pre, post string) placer {
	return func(l *liner, v string) {
		l.appHead(level, service)
		l.s(`"` + name + `":"` + pre)
		l.val(v)
		l.s(post + `",`)
		l.appTail()
	}
}

func appNumber(service, name string) placer {
	return func(l *liner, v string) {
		l.appHead("info", service)
		l.s(`"` + name + `":`)
		l.val(v)
		l.s(`,`)
		l.appTail()
	}
}

func sysMsg(prog string, pid bool, pre, post string) placer {
	return func(l *liner, v string) {
		l.sysHead(prog, pid)
		l.s(pre)
		l.val(v)
		l.s(post)
	}
}

// postfix writes a Postfix line with a queue id: "QUEUEID" + pre + value + post.
func postfix(daemon, pre, post string) placer {
	return func(l *liner, v string) {
		l.sysHead("postfix/"+daemon, true)
		l.queueID()
		l.s(pre)
		l.val(v)
		l.s(post)
	}
}

// postfixFrom is the queue manager's line for a sender.
var postfixFrom = postfix("qmgr", ": from=<", ">, size=4213, nrcpt=1 (queue active)")

// accessReq writes a request line whose target is req + value + post.
func accessReq(req, post string, status int) placer {
	return func(l *liner, v string) {
		l.accessHead("-")
		l.s(req)
		l.val(v)
		l.s(post)
		l.accessTail(status)
	}
}

// accessUser puts the value in the remote_user field (HTTP basic auth).
func accessUser() placer {
	return func(l *liner, v string) {
		l.ip()
		l.s(" - ")
		l.val(v)
		l.s(" [")
		l.b = append(l.b, l.accStamp...)
		l.s(`] "GET /account/invoices`)
		l.accessTail(200)
	}
}

// noSpace reports whether a value can stand in a URL unencoded.
func noSpace(v string) bool { return !strings.ContainsAny(v, " ()") }

func cardPlaces(v string) places {
	var p places
	p[fApp] = []placer{
		appField("info", "checkout", "card", "", ""), appField("info", "checkout", "card_number", "", ""),
		appField("warn", "checkout", "msg", "payment declined for card ", " (code 05)"),
	}
	p[fSyslog] = []placer{sysMsg("billing", true, "charge failed for card ", " amount=42.10 EUR")}
	if noSpace(v) {
		p[fSyslog] = append(p[fSyslog], sysMsg("billing", true, "charge failed card=", " amount=42.10 EUR"))
		p[fAccess] = []placer{accessReq("POST /api/v1/payments?card=", "&amount=1999&currency=EUR", 402)}
	}
	return p
}

func phonePlaces(v string) places {
	var p places
	p[fApp] = []placer{appField("info", "crm", "phone", "", ""), appField("info", "notify", "msg", "SMS sent to ", " (segments=1)")}
	p[fSyslog] = []placer{sysMsg("crm-sync", true, "contact updated phone=", " source=import"), sysMsg("sms-gw", true, "delivered to ", " status=ok")}
	if noSpace(v) {
		p[fAccess] = []placer{accessReq("GET /api/v1/callback?phone=", "&lang=en", 200)}
	}
	return p
}

// ssnPlaces: the dashed form stands anywhere; the compact and spaced
// forms only right after the word "ssn".
func ssnPlaces(v, form string) places {
	var p places
	switch form {
	case "dashed":
		p[fApp] = []placer{appField("info", "kyc", "ssn", "", ""), appField("info", "kyc", "msg", "identity verified for ", "")}
		p[fSyslog] = []placer{sysMsg("kyc", true, "lookup ssn=", " result=match")}
		p[fAccess] = []placer{accessReq("GET /api/v1/kyc/verify?ssn=", "&source=web", 200)}
	case "compact":
		p[fApp] = []placer{appField("info", "kyc", "msg", "lookup ssn=", " result=match")}
		p[fSyslog] = []placer{sysMsg("kyc", true, "lookup ssn=", " result=match")}
		p[fAccess] = []placer{accessReq("GET /api/v1/kyc/verify?ssn=", "&source=web", 200)}
	default:
		p[fApp] = []placer{appField("warn", "kyc", "msg", "verify SSN: ", " failed")}
		p[fSyslog] = []placer{sysMsg("kyc", true, "verify SSN: ", " failed")}
	}
	return p
}

func ibanPlaces(v string) places {
	var p places
	p[fApp] = []placer{appField("info", "payouts", "iban", "", ""), appField("info", "payouts", "msg", "payout scheduled to ", " amount=120.00 EUR")}
	p[fSyslog] = []placer{sysMsg("payouts", true, "SEPA transfer queued iban=", " amount=120.00"), sysMsg("payouts", true, "refund to account ", " ref 8812")}
	if noSpace(v) {
		p[fAccess] = []placer{accessReq("GET /api/v1/accounts/validate?iban=", "&country="+v[:2], 200)}
	}
	return p
}

// awsPlaces writes a key id, with its secret key next to it when secret
// is not empty.
func awsPlaces(secret string) places {
	var p places
	if secret != "" {
		p[fApp] = []placer{appField("info", "uploader", "aws_access_key_id", "", `","aws_secret_access_key":"`+secret)}
		p[fSyslog] = []placer{sysMsg("sudo", false, "  deploy : TTY=pts/1 ; PWD=/srv/app ; USER=root ; COMMAND=/usr/bin/env AWS_ACCESS_KEY_ID=",
			" AWS_SECRET_ACCESS_KEY="+secret+" /usr/local/bin/aws s3 sync /srv/app/backups s3://acme-backups")}
		return p
	}
	p[fApp] = []placer{appField("warn", "uploader", "msg", "using static credentials ", " for s3://acme-backups")}
	p[fAccess] = []placer{presignedURL}
	return p
}

// presignedURL is an S3 query-string-authenticated request (signature
// version 2): the key id in the clear, the signature URL-encoded.
func presignedURL(l *liner, v string) {
	l.accessHead("-")
	l.s("GET /reports/2026-11.pdf?AWSAccessKeyId=")
	l.val(v)
	l.s("&Expires=1795395600&Signature=")
	sig := make([]byte, 20)
	fillBytes(l.r, sig)
	l.s(url.QueryEscape(base64.StdEncoding.EncodeToString(sig)))
	l.accessTail(200)
}

func awsExampleSecretPlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "config", "msg", "loaded profile default: aws_secret_access_key=", "")}
	p[fSyslog] = []placer{sysMsg("cloud-init", true, "aws_secret_access_key = ", "")}
	return p
}

func githubPlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "ci", "github_token", "", ""), appField("debug", "ci", "msg", "cloning with token ", "")}
	p[fSyslog] = []placer{sysMsg("runner", true, "env GITHUB_TOKEN=", " GITHUB_ACTIONS=true")}
	p[fAccess] = []placer{accessReq("GET /api/v3/repos/acme/app/contents?access_token=", "&ref=main", 200)}
	return p
}

func slackPlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "alerts", "slack_token", "", ""), appField("error", "alerts", "msg", "chat.postMessage failed with token ", ": invalid_auth")}
	p[fSyslog] = []placer{sysMsg("alertd", true, "slack notify failed token=", " error=invalid_auth")}
	p[fAccess] = []placer{accessReq("POST /api/chat.postMessage?token=", "&channel=C024BE91L", 200)}
	return p
}

func stripePlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "billing", "stripe_key", "", ""), appField("info", "billing", "msg", "stripe client init key=", "")}
	p[fSyslog] = []placer{sysMsg("billing", true, "loaded STRIPE_SECRET_KEY=", " from environment")}
	return p
}

func jwtPlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "gateway", "authorization", "Bearer ", ""), appField("info", "auth", "id_token", "", "")}
	p[fSyslog] = []placer{sysMsg("api-gw", true, "upstream request headers: Authorization: Bearer ", "")}
	p[fAccess] = []placer{accessReq("GET /oauth/callback?id_token=", "&state=af0ifjsldkj", 302)}
	return p
}

func msTimestampPlaces() places {
	var p places
	p[fApp] = []placer{appNumber("worker", "queued_at_ms"), appNumber("checkout", "created_ms")}
	p[fAccess] = []placer{accessReq("GET /api/v1/cart?_=", "", 200)}
	return p
}

func nsTimestampPlaces() places {
	var p places
	p[fApp] = []placer{appNumber("worker", "received_ns"), appNumber("search", "event_time_ns")}
	return p
}

func stamp14Places() places {
	var p places
	p[fApp] = []placer{appField("info", "worker", "batch_id", "", "")}
	p[fSyslog] = []placer{sysMsg("CRON", true, "(root) CMD (/usr/local/bin/backup --out /var/backups/db-", ".sql.gz)")}
	return p
}

func orderPlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "checkout", "order_id", "", "")}
	p[fSyslog] = []placer{sysMsg("fulfil", true, "shipped order ", " via DHL")}
	return p
}

func uuidPlaces() places {
	var p places
	p[fApp] = []placer{appField("info", "checkout", "idempotency_key", "", "")}
	p[fSyslog] = []placer{sysMsg("worker", true, "job ", " finished in 212 ms")}
	return p
}

func versionPlaces(v bool) places {
	var p places
	if v {
		p[fSyslog] = []placer{sysMsg("agent", true, "vigil-agent ", " started")}
		p[fApp] = []placer{appField("info", "worker", "msg", "plugin loaded ", "")}
		return p
	}
	p[fApp] = []placer{appField("info", "worker", "version", "", "")}
	return p
}

func oidPlaces() places {
	var p places
	p[fSyslog] = []placer{sysMsg("snmpd", true, "Received GET request for ", " from UDP: [10.0.0.5]:41235")}
	return p
}
