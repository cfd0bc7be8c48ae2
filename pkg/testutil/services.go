package testutil

// Real servers for tests: Prometheus, InfluxDB 1.x, VictoriaMetrics and
// VictoriaLogs, started on 127.0.0.1 by scripts/services.sh.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The servers scripts/services.sh starts, by the name Service and
// OwnService take.
const (
	Prometheus      = "prometheus"
	InfluxDB        = "influxdb"
	VictoriaMetrics = "victoria-metrics"
	VictoriaLogs    = "victoria-logs"
)

// serviceEnv names the variables `scripts/services.sh up` writes for
// each server: its base URL and, for VictoriaMetrics, its Graphite
// plaintext address.
var serviceEnv = map[string]struct{ url, graphite string }{
	Prometheus:      {url: "VIGIL_PROMETHEUS_URL"},
	InfluxDB:        {url: "VIGIL_INFLUXDB_URL"},
	VictoriaMetrics: {url: "VIGIL_VICTORIAMETRICS_URL", graphite: "VIGIL_VICTORIAMETRICS_GRAPHITE"},
	VictoriaLogs:    {url: "VIGIL_VICTORIALOGS_URL"},
}

// scriptTimeout bounds one run of scripts/services.sh: the script waits
// 30 s at most for a server to be ready and 15 s for one to stop.
const scriptTimeout = 60 * time.Second

// Server is a running server as a test reaches it.
type Server struct {
	// Name is one of Prometheus, InfluxDB, VictoriaMetrics, VictoriaLogs.
	Name string
	// URL is the base URL, http://127.0.0.1:PORT, without a slash.
	URL string
	// Graphite is the host:port of VictoriaMetrics' Graphite plaintext
	// listener; empty for the other servers.
	Graphite string
}

// Service returns the server NAME for the test. When the environment
// names one (VIGIL_PROMETHEUS_URL, VIGIL_INFLUXDB_URL,
// VIGIL_VICTORIAMETRICS_URL with VIGIL_VICTORIAMETRICS_GRAPHITE,
// VIGIL_VICTORIALOGS_URL: make test sets them from `scripts/services.sh
// up`), the test shares that server with every other test and must keep
// its data apart (a database, metric or field value of its own).
// Otherwise Service starts a private instance in t.TempDir(), stopped
// when the test ends. It fails the test, never skips it, when the server
// cannot be started.
func Service(t testing.TB, name string) Server {
	t.Helper()
	env, ok := serviceEnv[name]
	if !ok {
		t.Fatalf("testutil.Service: unknown server %q (one of %s)", name, serviceNames())
	}
	if url := os.Getenv(env.url); url != "" {
		s := Server{Name: name, URL: strings.TrimRight(url, "/")}
		if env.graphite != "" {
			if s.Graphite = os.Getenv(env.graphite); s.Graphite == "" {
				t.Fatalf("testutil.Service: %s is set but %s is not", env.url, env.graphite)
			}
		}
		return s
	}
	return OwnService(t, name).Server
}

// Instance is a private server of one test, with its data in a
// directory of its own. Stop and Start stop it and bring it back on the
// same address with the same data, so a test can lose the server
// mid-run. The instance is stopped when the test ends.
type Instance struct {
	Server
	// Dir holds the server's data, config, log (Dir/log) and pid file.
	Dir string

	t       testing.TB
	script  string
	port    string
	mu      sync.Mutex
	running bool
}

// OwnService starts a private instance of the server NAME in
// t.TempDir(), whatever the environment says, and stops it when the
// test ends. It fails the test when the server cannot be started.
func OwnService(t testing.TB, name string) *Instance {
	t.Helper()
	if _, ok := serviceEnv[name]; !ok {
		t.Fatalf("testutil.OwnService: unknown server %q (one of %s)", name, serviceNames())
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatalf("testutil.OwnService: %v", err)
	}
	in := &Instance{
		Server: Server{Name: name},
		Dir:    t.TempDir(),
		t:      t,
		script: filepath.Join(root, "scripts", "services.sh"),
	}
	t.Cleanup(in.Stop)
	in.Start()
	return in
}

// Start starts the instance, on the address it had if it ran before, and
// waits until it is ready. It fails the test when it cannot.
func (in *Instance) Start() {
	in.t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.running {
		in.t.Fatalf("testutil: %s in %s is already running", in.Name, in.Dir)
	}
	args := []string{"start", in.Name, in.Dir}
	if in.port != "" {
		args = append(args, in.port)
	}
	out, err := in.run(args...)
	if err != nil {
		in.t.Fatalf("testutil: start %s: %v", in.Name, err)
	}
	s, err := parseStart(in.Name, out)
	if err != nil {
		in.t.Fatalf("testutil: start %s: %v", in.Name, err)
	}
	if in.URL != "" && (s.URL != in.URL || s.Graphite != in.Graphite) {
		in.t.Fatalf("testutil: %s came back on %s %s, not %s %s", in.Name, s.URL, s.Graphite, in.URL, in.Graphite)
	}
	in.Server = s
	in.port = s.URL[strings.LastIndexByte(s.URL, ':')+1:]
	in.running = true
}

// Stop stops the instance (SIGTERM, SIGKILL after 10 s) and waits until
// it has exited; its data stays in Dir. Stopping a stopped instance does
// nothing.
func (in *Instance) Stop() {
	in.t.Helper()
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.running {
		return
	}
	if _, err := in.run("stop", in.Dir); err != nil {
		in.t.Fatalf("testutil: stop %s: %v", in.Name, err)
	}
	in.running = false
}

// run runs scripts/services.sh and returns its stdout; the error carries
// its stderr, which ends with the server's log when a start failed.
func (in *Instance) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, in.script, args...)
	// A server started for this test process stops within a second of
	// its exit, even when a timeout kills the process before the
	// cleanups run.
	cmd.Env = append(os.Environ(), "VIGIL_SERVICES_OWNER="+strconv.Itoa(os.Getpid()))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("scripts/services.sh %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// parseStart reads the url= and graphite= lines `services.sh start`
// prints.
func parseStart(name, out string) (Server, error) {
	s := Server{Name: name}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "url":
			s.URL = v
		case "graphite":
			s.Graphite = v
		}
	}
	if s.URL == "" || (name == VictoriaMetrics && s.Graphite == "") {
		return s, fmt.Errorf("unexpected output of scripts/services.sh start: %q", out)
	}
	return s, nil
}

func serviceNames() string {
	return strings.Join([]string{Prometheus, InfluxDB, VictoriaMetrics, VictoriaLogs}, ", ")
}

// LogsQL runs a LogsQL query on a VictoriaLogs server and returns the
// result rows (VictoriaLogs answers one JSON object a line).
func LogsQL(t testing.TB, base, query string) []map[string]string {
	t.Helper()
	resp, err := http.Get(base + "/select/logsql/query?" + url.Values{"query": {query}}.Encode()) //nolint:noctx // a test's local server
	if err != nil {
		t.Fatalf("LogsQL %q: %v", query, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("LogsQL %q: HTTP %d %v: %s", query, resp.StatusCode, err, body)
	}
	var rows []map[string]string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("LogsQL %q: a row is not JSON: %v: %s", query, err, sc.Bytes())
		}
		rows = append(rows, row)
	}
	return rows
}
