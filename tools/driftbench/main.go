// Command driftbench writes a realistic Puppet last_run_report.yaml of a
// given size for scripts/bench/drift.sh: the Ruby-tagged report Psych
// writes (metrics, logs, resource_statuses with their events, the run's
// keys last), with tens of thousands of resources of the usual types,
// titles that need quoting (colons, quotes), explicit keys for titles
// longer than 128 characters, long values folded over lines, and a
// known number of changed, failed, out-of-sync and corrective resources.
//
//	driftbench --out FILE --mb 50 [--seed 42]
//
// It prints the expected counts as JSON on stdout.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

func main() {
	out := flag.String("out", "", "report file to write")
	mb := flag.Int("mb", 50, "size in MB")
	seed := flag.Uint64("seed", 42, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "driftbench: --out is required")
		os.Exit(2)
	}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "driftbench:", err)
		os.Exit(1)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	c := Generate(w, int64(*mb)<<20, *seed)
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "driftbench:", err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "driftbench:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(c)
}

// Counts are what the report holds.
type Counts struct {
	Total      int `json:"total"`
	Changed    int `json:"changed"`
	Failed     int `json:"failed"`
	OutOfSync  int `json:"out_of_sync"`
	Corrective int `json:"corrective"`
	Skipped    int `json:"skipped"`
}

type countingWriter struct {
	w interface{ WriteString(string) (int, error) }
	n int64
}

func (c *countingWriter) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	_, _ = c.w.WriteString(s)
	c.n += int64(len(s))
}

// Generate writes a report of about size bytes.
func Generate(w interface{ WriteString(string) (int, error) }, size int64, seed uint64) Counts {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cw := &countingWriter{w: w}
	var c Counts
	cw.printf("--- !ruby/object:Puppet::Transaction::Report\nmetrics:\n  time: !ruby/object:Puppet::Util::Metric\n    name: time\n    label: Time\n    values:\n")
	for _, m := range []string{"exec", "file", "package", "service", "config_retrieval", "catalog_application"} {
		cw.printf("    - - %s\n      - %s\n      - %.9f\n", m, strings.ToUpper(m[:1])+m[1:], r.Float64()*3)
	}
	cw.printf("    - - total\n      - Total\n      - 48.123456789\n")
	cw.printf("logs:\n")
	for i := range 200 {
		level := []string{":info", ":notice", ":notice", ":warning"}[i%4]
		cw.printf("- !ruby/object:Puppet::Util::Log\n  level: %s\n  message: \"--- /etc/app/conf.d/%d.conf\\t2025-11-22 09:12:44.000000000 +0000\\n+++ /tmp/puppet-file20251123-811-%x\\t2025-11-23\n    10:00:02.103918273 +0000\\n@@ -1 +1 @@\\n-key = old\\n+key = new\\n\"\n  source: \"/Stage[main]/App::Conf/File[/etc/app/conf.d/%d.conf]/content\"\n  tags:\n  - %s\n  - file\n  time: 2025-11-23 10:00:%02d.%09d +00:00\n  file: \"/etc/puppetlabs/code/environments/production/modules/app/manifests/conf.pp\"\n  line: %d\n",
			level, i, r.Uint32(), i, strings.TrimPrefix(level, ":"), i%60, r.IntN(1e9), 10+i%40)
	}
	cw.printf("resource_statuses:\n")
	for i := 0; cw.n < size-2048; i++ {
		resource(cw, r, i, &c)
	}
	cw.printf("host: bench-01.example.com\ntime: 2025-11-23 10:00:00.101221331 +00:00\nkind: apply\nreport_format: 12\npuppet_version: 8.10.0\nconfiguration_version: production-7f3c2a1\ntransaction_uuid: 0b6e1f3a-6c2d-4f5e-9a8b-7c6d5e4f3a2b\ncode_id: \ncatalog_uuid: 4f2a8c1e-9b3d-4e7f-8a6c-5d4e3f2a1b0c\ncached_catalog_status: not_used\nmaster_used: puppet.example.com:8140\nserver_used: puppet.example.com:8140\nenvironment: production\nstatus: failed\nnoop: false\nnoop_pending: false\ncorrective_change: true\ntransaction_completed: true\n")
	return c
}

func resource(cw *countingWriter, r *rand.Rand, i int, c *Counts) {
	var typ, title string
	var props []string
	switch i % 10 {
	case 0, 1, 2, 3:
		typ, title, props = "File", fmt.Sprintf("/etc/app/conf.d/service-%d/settings-%d.conf", i%97, i), []string{"content", "mode"}
	case 4:
		typ, title, props = "Package", fmt.Sprintf("lib-%d-common", i), []string{"ensure"}
	case 5:
		typ, title, props = "Service", fmt.Sprintf("worker@%d", i), []string{"ensure", "enable"}
	case 6:
		typ, title, props = "User", fmt.Sprintf("svc%d", i), []string{"shell", "groups"}
	case 7:
		typ, title, props = "Exec", fmt.Sprintf("echo 'step %d: done' >> /var/log/deploy.log", i), []string{"returns"}
	case 8:
		typ, title, props = "Exec", fmt.Sprintf("/usr/local/bin/sync-config --source https://config.example.com:8443/api/v2/hosts/bench-01 --target /etc/app/generated/%d.yaml --owner app --group app --mode 0640 --retries 3", i), []string{"returns"}
	default:
		typ, title, props = "Augeas", fmt.Sprintf("sysctl-%d", i), []string{"returns"}
	}
	key := typ + "[" + title + "]"
	changed, failed, oos, corrective := false, false, false, false
	switch x := r.IntN(1000); {
	case x < 20:
		changed, oos = true, true
		corrective = x < 5
	case x < 22:
		failed, oos = true, true
	case x < 26:
		oos = true // a resource with noop => true
	}
	c.Total++
	if changed {
		c.Changed++
	}
	if failed {
		c.Failed++
	}
	if oos && !changed && !failed {
		c.OutOfSync++
	}
	if corrective {
		c.Corrective++
	}
	qkey := quote(key)
	if len(qkey) > 128 {
		cw.printf("  ? %s\n  : !ruby/object:Puppet::Resource::Status\n", fold(qkey, 4))
	} else {
		cw.printf("  %s: !ruby/object:Puppet::Resource::Status\n", qkey)
	}
	cw.printf("    resource: %s\n    file: \"/etc/puppetlabs/code/environments/production/modules/m%d/manifests/init.pp\"\n    line: %d\n    evaluation_time: %.6f\n    change_count: %d\n    out_of_sync_count: %d\n    tags:\n    - %s\n    - class\n    - m%d\n    time: 2025-11-23 10:00:%02d.%09d +00:00\n",
		fold(qkey, 6), i%50, 1+i%300, r.Float64()/10, b2i(changed), b2i(oos), strings.ToLower(typ), i%50, i%60, r.IntN(1e9))
	nev := 0
	if oos || r.IntN(4) == 0 {
		nev = 1 + r.IntN(2)
	}
	if nev == 0 {
		cw.printf("    events: []\n")
	} else {
		cw.printf("    events:\n")
	}
	for e := range nev {
		status := "success"
		switch {
		case failed:
			status = "failure"
		case oos && !changed:
			status = "noop"
		case !oos:
			status = "audit"
		}
		prop := props[e%len(props)]
		cw.printf("    - !ruby/object:Puppet::Transaction::Event\n      audited: false\n      property: %s\n      previous_value: \"{sha256}%064x\"\n      desired_value: \"{sha256}%064x\"\n      historical_value: \n      message: content changed '{sha256}%064x'\n        to '{sha256}%064x'\n      name: :%s_changed\n      status: %s\n      time: 2025-11-23 10:00:%02d.%09d +00:00\n      redacted: \n      corrective_change: %t\n",
			prop, r.Uint64(), r.Uint64(), r.Uint64(), r.Uint64(), prop, status, i%60, r.IntN(1e9), corrective)
	}
	cw.printf("    out_of_sync: %t\n    changed: %t\n    resource_type: %s\n    title: %s\n    skipped: false\n    failed: %t\n    failed_to_restart: false\n    containment_path:\n    - Stage[main]\n    - M%d\n    - %s\n    corrective_change: %t\n",
		oos, changed, typ, fold(quote(title), 6), failed, i%50, fold(qkey, 6), corrective)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// quote writes a string as Psych would: double-quoted when it holds ": ",
// starts with a quote or a slash-free indicator, else plain.
func quote(s string) string {
	if strings.Contains(s, ": ") || strings.Contains(s, " #") || strings.ContainsAny(s[:1], "'\"!&*[{|>%@`") {
		return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
	}
	return s
}

// fold breaks a scalar longer than 80 columns at spaces, continuing at
// indent, as libyaml's emitter does.
func fold(s string, indent int) string {
	if len(s) <= 80 {
		return s
	}
	var b strings.Builder
	col := indent
	for i, word := range strings.Split(s, " ") {
		if i > 0 {
			if col+len(word) > 80 {
				b.WriteString("\n" + strings.Repeat(" ", indent+2))
				col = indent + 2
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(word)
		col += len(word)
	}
	return b.String()
}
