// Package nagios runs every Vigil check as a service of a real Nagios 4
// (Debian's nagios4-core, installed by scripts/nagios.sh), started
// headless on a configuration generated in a temporary directory from
// the command and service definitions of examples/nagios/. It reads
// status.dat for each service's state, output and performance data,
// changes the sample data, forces re-checks through the command FIFO and
// asserts the transitions.
package nagios

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/testutil"
)

// The services of examples/nagios/*.cfg and the check each one runs.
var services = map[string]string{
	"File integrity":             "check-file-integrity",
	"SSH and sudo audit":         "check-audit-log",
	"Kubernetes audit":           "check-audit-log",
	"Puppet configuration drift": "check-config-drift",
	"Terraform plan drift":       "check-config-drift",
	"Host drift":                 "check-host-drift",
	"Personal data in logs":      "check-pii",
}

var stateNames = []string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

const (
	ok       = 0
	critical = 2
	// waitFor bounds each wait for Nagios: generous, as CI runs many
	// tests at once on two cores; a pass takes a few seconds.
	waitFor = 40 * time.Second
)

type env struct {
	t       *testing.T
	root    string // the repository
	bin     string // the Vigil binaries
	host    string // $USER5$: the monitored file system (sample data)
	state   string // $USER3$
	etc     string // $USER4$
	dir     string // Nagios's own files
	status  string
	cmdFile string
	exited  <-chan error
}

func TestNagios(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Nagios 4 runs on Linux")
	}
	root, err := testutil.ModuleRoot()
	require.NoError(t, err)
	nagios := install(t, root)
	e := &env{t: t, root: root, bin: testutil.BinDir(t)}
	for _, name := range []string{"check-file-integrity", "check-audit-log", "check-config-drift", "check-host-drift", "check-pii"} {
		testutil.Binary(t, name)
	}
	e.sampleData()
	e.configure(nagios)
	e.start(nagios)

	// Every service's first result, on the clean sample data.
	first := e.waitAll("a first result of every service", func(s service) bool { return s.Checked })
	require.Equal(t, sortedKeys(services), sortedKeys(first), "the services Nagios runs (examples/nagios/*.cfg)")
	for name, s := range first {
		e.assertResult(s, ok)
		t.Logf("%s: %s", name, s.Output)
	}

	// The host is attacked and drifts.
	e.writeFile("usr/bin/ps", "#!/bin/sh\n# ps that hides the miner\nexec /bin/ps \"$@\" | grep -v xmrig\n", 0o755)
	now := time.Now().UTC()
	var burst strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&burst, "%s web-1 sshd[%d]: Failed password for root from 203.0.113.7 port %d ssh2\n",
			now.Add(time.Duration(i-40)*time.Second).Format("2006-01-02T15:04:05.000000-07:00"), 700+i, 40000+i)
	}
	e.appendFile("var/log/auth.log", burst.String())
	e.appendFile("var/log/app/app.log", `{"time":"`+now.Format(time.RFC3339)+`","level":"ERROR","msg":"payment declined","card":"5555 5555 5555 4444"}`+"\n")
	e.puppetReport(filepath.Join(root, "examples/demo/data/drift/runs/corrective.yaml"))

	changed := map[string]string{
		"File integrity":             "/usr/bin/ps",
		"SSH and sudo audit":         "203.0.113.7",
		"Personal data in logs":      "app.log",
		"Puppet configuration drift": "sshd_config",
	}
	after := e.force(sortedKeys(changed)...)
	for name, s := range after {
		e.assertResult(s, critical)
		require.Contains(t, s.Output+"\n"+s.Long, changed[name], "%s names what changed", name)
		t.Logf("%s: %s", name, s.Output)
	}

	// The operator accepts the change to /usr/bin/ps.
	e.run("check-file-integrity", "--update", "--root", e.host, "--baseline", filepath.Join(e.state, "fim.vfim"),
		"--hmac-key-file", filepath.Join(e.etc, "fim.key"))
	accepted := e.force("File integrity")
	e.assertResult(accepted["File integrity"], ok)
	t.Logf("File integrity: %s", accepted["File integrity"].Output)

	// The services that were not forced kept their first result.
	st, err := readStatus(e.status)
	require.NoError(t, err)
	for name := range services {
		if _, ok := changed[name]; !ok {
			require.Equal(t, first[name].LastCheck, st[name].LastCheck, "%s ran again: check intervals are hours here", name)
		}
	}
}

// install runs scripts/nagios.sh install and returns the nagios4 binary.
func install(t *testing.T, root string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "nagios.sh"), "install")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "scripts/nagios.sh install could not install Nagios 4 (nagios4-core):\n%s", stderr.String())
	return strings.TrimSpace(string(out))
}

// sampleData lays examples/demo/data out as a host's file system in a
// temporary directory, with the baselines the checks compare against.
func (e *env) sampleData() {
	t := e.t
	tmp := t.TempDir()
	e.host, e.state, e.etc, e.dir = filepath.Join(tmp, "host"), filepath.Join(tmp, "state"), filepath.Join(tmp, "etc"), filepath.Join(tmp, "nagios")
	for _, d := range []string{e.state, e.etc, e.dir} {
		require.NoError(t, os.MkdirAll(d, 0o700))
	}
	data := filepath.Join(e.root, "examples", "demo", "data")
	require.NoError(t, os.CopyFS(e.host, os.DirFS(filepath.Join(data, "host"))))
	e.copyFile(filepath.Join(data, "k8s", "audit.log"), filepath.Join(e.host, "var/log/kubernetes/audit/audit.log"), 0o644)
	e.copyFile(filepath.Join(data, "app", "app.log"), filepath.Join(e.host, "var/log/app/app.log"), 0o644)
	e.copyFile(filepath.Join("testdata", "plan.json"), filepath.Join(e.host, "var/lib/terraform/prod/plan.json"), 0o644)
	e.puppetReport(filepath.Join(data, "drift", "state", "last_run_report.yaml"))
	e.copyFile(filepath.Join(data, "fim.key"), filepath.Join(e.etc, "fim.key"), 0o600)
	e.copyFile(filepath.Join(data, "fim.key"), filepath.Join(e.etc, "host.key"), 0o600)
	require.NoError(t, os.WriteFile(filepath.Join(e.etc, "host-allow.yaml"), []byte("ports: []\n"), 0o600))

	// Day 0, as the operator records it (examples/nagios/*.cfg headers).
	e.run("check-file-integrity", "--init", "--root", e.host, "--baseline", filepath.Join(e.state, "fim.vfim"),
		"--hmac-key-file", filepath.Join(e.etc, "fim.key"))
	e.run("check-host-drift", "--init", "--root", e.host, "--baseline", filepath.Join(e.state, "host.json"),
		"--hmac-key-file", filepath.Join(e.etc, "host.key"))
}

// puppetReport installs a Puppet run report as the agent's last run,
// just finished.
func (e *env) puppetReport(src string) {
	b, err := os.ReadFile(src)
	require.NoError(e.t, err)
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "time: ") {
			lines[i] = "time: " + time.Now().UTC().Format(time.RFC3339)
		}
	}
	e.writeFile("opt/puppetlabs/puppet/public/last_run_summary.yaml", strings.Join(lines, "\n"), 0o644)
}

// configure writes nagios.cfg, the resource macros, a host and the
// templates the example services use, and has Nagios verify it all.
func (e *env) configure(nagios string) {
	t := e.t
	u, err := user.Current()
	require.NoError(t, err)
	g, err := user.LookupGroupId(u.Gid)
	require.NoError(t, err)
	e.status = filepath.Join(e.dir, "status.dat")
	e.cmdFile = filepath.Join(e.dir, "nagios.cmd")
	require.NoError(t, os.MkdirAll(filepath.Join(e.dir, "checkresults"), 0o700))

	resource := fmt.Sprintf("$USER1$=%s\n$USER2$=/usr/bin/env\n$USER3$=%s\n$USER4$=%s\n$USER5$=%s\n", e.bin, e.state, e.etc, e.host)
	e.write(filepath.Join(e.dir, "resource.cfg"), resource)
	e.write(filepath.Join(e.dir, "objects.cfg"), objects)

	cfgs, err := filepath.Glob(filepath.Join(e.root, "examples", "nagios", "check-*.cfg"))
	require.NoError(t, err)
	require.NotEmpty(t, cfgs)
	var b strings.Builder
	fmt.Fprintf(&b, "cfg_file=%s\n", filepath.Join(e.dir, "objects.cfg"))
	for _, c := range cfgs {
		fmt.Fprintf(&b, "cfg_file=%s\n", c)
	}
	d := func(name string) string { return filepath.Join(e.dir, name) }
	fmt.Fprintf(&b, `resource_file=%s
log_file=%s
status_file=%s
temp_file=%s
temp_path=%s
lock_file=%s
object_cache_file=%s
precached_object_file=%s
state_retention_file=%s
command_file=%s
query_socket=%s
check_result_path=%s
debug_file=%s
nagios_user=%s
nagios_group=%s
`, d("resource.cfg"), d("nagios.log"), e.status, d("nagios.tmp"), e.dir, d("nagios.lock"), d("objects.cache"),
		d("objects.precache"), d("retention.dat"), e.cmdFile, d("nagios.qh"), d("checkresults"), d("debug.log"),
		u.Username, g.Name)
	b.WriteString(settings)
	e.write(filepath.Join(e.dir, "nagios.cfg"), b.String())

	out, err := exec.Command(nagios, "-v", filepath.Join(e.dir, "nagios.cfg")).CombinedOutput()
	require.NoError(t, err, "nagios4 -v rejects the configuration:\n%s", out)
}

// The settings: one-second time units would make the example intervals
// (1 to 60 units) run the checks every few seconds, between the test's
// steps; with an hour per unit only the first round and the forced checks
// run.
const settings = `interval_length=3600
status_update_interval=1
check_external_commands=1
command_check_interval=-1
execute_service_checks=1
execute_host_checks=0
accept_passive_service_checks=0
accept_passive_host_checks=0
enable_notifications=0
enable_event_handlers=0
enable_flap_detection=0
process_performance_data=0
obsess_over_services=0
obsess_over_hosts=0
check_service_freshness=0
check_host_freshness=0
check_for_orphaned_services=0
check_for_orphaned_hosts=0
check_for_updates=0
bare_update_check=1
retain_state_information=0
use_retained_program_state=0
use_retained_scheduling_info=0
use_syslog=0
log_notifications=0
log_initial_states=1
log_rotation_method=n
service_inter_check_delay_method=n
host_inter_check_delay_method=n
max_service_check_spread=1
max_host_check_spread=1
service_interleave_factor=1
max_concurrent_checks=0
check_result_reaper_frequency=1
service_check_timeout=60
service_check_timeout_state=u
auto_reschedule_checks=0
soft_state_dependencies=0
enable_environment_macros=0
debug_level=0
daemon_dumps_core=0
`

const objects = `define timeperiod {
    timeperiod_name 24x7
    alias           always
    sunday          00:00-24:00
    monday          00:00-24:00
    tuesday         00:00-24:00
    wednesday       00:00-24:00
    thursday        00:00-24:00
    friday          00:00-24:00
    saturday        00:00-24:00
}

define contact {
    contact_name                    vigil-e2e
    alias                           Vigil end-to-end test
    host_notifications_enabled      0
    service_notifications_enabled   0
    host_notification_period        24x7
    service_notification_period     24x7
    host_notification_options       n
    service_notification_options    n
    host_notification_commands      notify-none
    service_notification_commands   notify-none
}

define command {
    command_name    notify-none
    command_line    /bin/true
}

define host {
    host_name               localhost
    alias                   The sample host of examples/demo/data
    address                 127.0.0.1
    max_check_attempts      1
    check_period            24x7
    active_checks_enabled   0
    contacts                vigil-e2e
    notification_period     24x7
    notification_interval   0
}

define service {
    name                    generic-service
    register                0
    check_period            24x7
    max_check_attempts      1
    check_interval          10
    retry_interval          1
    active_checks_enabled   1
    passive_checks_enabled  0
    contacts                vigil-e2e
    notification_period     24x7
    notification_interval   0
    notifications_enabled   0
}
`

// start runs Nagios in the foreground in a process group of its own,
// killed at the end of the test (and with the test process).
func (e *env) start(nagios string) {
	t := e.t
	logf, err := os.Create(filepath.Join(e.dir, "stdout.log"))
	require.NoError(t, err)
	cmd := exec.Command(nagios, filepath.Join(e.dir, "nagios.cfg"))
	cmd.Dir = e.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		// The workers and any check still running belong to the group.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = logf.Close()
		if t.Failed() {
			for _, f := range []string{"stdout.log", "nagios.log"} {
				if b, err := os.ReadFile(filepath.Join(e.dir, f)); err == nil {
					t.Logf("%s:\n%s", f, b)
				}
			}
		}
	})
	e.exited = done
}

// waitAll polls status.dat until every service satisfies cond.
func (e *env) waitAll(what string, cond func(service) bool, names ...string) map[string]service {
	t := e.t
	t.Helper()
	if len(names) == 0 {
		names = sortedKeys(services)
	}
	deadline := time.Now().Add(waitFor)
	var last map[string]service
	var lastErr error
	for {
		st, err := readStatus(e.status)
		if err == nil {
			last = st
			all := map[string]service{}
			for _, n := range names {
				if s, ok := st[n]; ok && cond(s) {
					all[n] = s
				}
			}
			if len(all) == len(names) {
				return all
			}
		} else {
			lastErr = err
		}
		select {
		case err := <-e.exited:
			t.Fatalf("Nagios exited while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, n := range sortedKeys(last) {
				s := last[n]
				fmt.Fprintf(&b, "  %s: checked=%v state=%d last_check=%d output=%q\n", n, s.Checked, s.State, s.LastCheck, s.Output)
			}
			t.Fatalf("no %s in %s within %s (last error: %v); services:\n%s", what, e.status, waitFor, lastErr, b.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// force schedules a forced check of the services through the command
// FIFO and waits for their new results.
func (e *env) force(names ...string) map[string]service {
	t := e.t
	t.Helper()
	// last_check counts seconds: start after the second of the last
	// result, so a new result is one with a later or equal last_check.
	st, err := readStatus(e.status)
	require.NoError(t, err)
	var latest int64
	for _, s := range st {
		latest = max(latest, s.LastCheck)
	}
	for time.Now().Unix() <= latest {
		time.Sleep(50 * time.Millisecond)
	}
	ts := time.Now().Unix()
	var cmds strings.Builder
	for _, n := range names {
		fmt.Fprintf(&cmds, "[%d] SCHEDULE_FORCED_SVC_CHECK;localhost;%s;%d\n", ts, n, ts)
	}
	e.command(cmds.String())
	return e.waitAll("new results of "+strings.Join(names, ", "), func(s service) bool { return s.LastCheck >= ts }, names...)
}

// command writes external commands to the FIFO Nagios reads.
func (e *env) command(lines string) {
	t := e.t
	deadline := time.Now().Add(waitFor)
	for {
		// Non-blocking: fails (ENXIO) rather than hangs while no reader has it open.
		f, err := os.OpenFile(e.cmdFile, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			_, err = f.WriteString(lines)
			require.NoError(t, errors.Join(err, f.Close()), "write to the command FIFO")
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("open the command FIFO %s: %v", e.cmdFile, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertResult checks a service's state, output and performance data.
func (e *env) assertResult(s service, want int) {
	t := e.t
	t.Helper()
	check := services[s.Name]
	require.Equal(t, stateNames[want], stateNames[min(max(s.State, 0), 3)], "%s: state (output %q)\n%s", s.Name, s.Output, s.Long)
	require.True(t, strings.HasPrefix(s.Output, check+" "+stateNames[want]+" - "), "%s: output %q starts with %q", s.Name, s.Output, check+" "+stateNames[want]+" - ")
	items, err := parsePerfData(s.PerfData)
	require.NoError(t, err, "%s: performance data %q", s.Name, s.PerfData)
	require.NotEmpty(t, items, "%s: performance data", s.Name)
	seen := map[string]bool{}
	for _, it := range items {
		require.False(t, seen[it.Label], "%s: perfdata label %q twice", s.Name, it.Label)
		seen[it.Label] = true
	}
	require.True(t, seen["findings"], "%s: perfdata has findings", s.Name)
}

func (e *env) run(name string, args ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(e.bin, name), args...).CombinedOutput()
	require.NoError(e.t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
}

func (e *env) copyFile(src, dst string, mode os.FileMode) {
	b, err := os.ReadFile(src)
	require.NoError(e.t, err)
	require.NoError(e.t, os.MkdirAll(filepath.Dir(dst), 0o755))
	require.NoError(e.t, os.WriteFile(dst, b, mode))
}

func (e *env) write(path, content string) {
	require.NoError(e.t, os.WriteFile(path, []byte(content), 0o600))
}

// writeFile replaces a file of the sample host.
func (e *env) writeFile(rel, content string, mode os.FileMode) {
	p := filepath.Join(e.host, rel)
	require.NoError(e.t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(e.t, os.WriteFile(p, []byte(content), mode))
}

func (e *env) appendFile(rel, content string) {
	f, err := os.OpenFile(filepath.Join(e.host, rel), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(e.t, err)
	_, err = f.WriteString(content)
	require.NoError(e.t, errors.Join(err, f.Close()))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
