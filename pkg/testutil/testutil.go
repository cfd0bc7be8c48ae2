// Package testutil runs Vigil's real binaries in tests the way Sensu runs
// them (through pkg/sensuexec) and holds shared fixtures.
//
// Binaries come from $VIGIL_BIN_DIR when set (make test builds them once
// into bin/ and sets it); otherwise the first call builds every plugin of
// the module into a temporary directory, once per test process.
//
// Service and OwnService give a test the real servers handlers write to
// (Prometheus, InfluxDB, VictoriaMetrics, VictoriaLogs), started on
// 127.0.0.1 by scripts/services.sh.
package testutil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev2 "github.com/sensu/sensu-go/api/core/v2"
	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/internal/release"
	"github.com/vigil-sec/vigil/pkg/sensuexec"
	"github.com/vigil-sec/vigil/pkg/spool"
)

var (
	buildOnce sync.Once
	binDir    string
	errBuild  error

	extraMu    sync.Mutex
	extraBuilt = map[string]string{}
)

// ModuleRoot returns the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Plugins lists the binaries of the module, as the release does.
func Plugins() ([]release.Plugin, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	return release.Plugins(root)
}

// BinDir returns a directory holding every plugin binary, built at most
// once per test process.
func BinDir(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if d := os.Getenv("VIGIL_BIN_DIR"); d != "" {
			binDir, errBuild = filepath.Abs(d)
			return
		}
		binDir, errBuild = build()
	})
	require.NoError(t, errBuild, "build the plugin binaries")
	return binDir
}

func build() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	plugins, err := release.Plugins(root)
	if err != nil {
		return "", err
	}
	pkgs := make([]string, 0, len(plugins))
	for _, p := range plugins {
		pkgs = append(pkgs, "./"+p.Dir)
	}
	return goBuild(root, pkgs...)
}

// BuildPackages builds main packages of the module (patterns relative to
// its root, such as "./internal/testplugins/...") into a directory, once
// per test process and pattern list, and returns the directory.
func BuildPackages(t testing.TB, pkgs ...string) string {
	t.Helper()
	key := strings.Join(pkgs, " ")
	extraMu.Lock()
	defer extraMu.Unlock()
	if dir, ok := extraBuilt[key]; ok {
		return dir
	}
	root, err := ModuleRoot()
	require.NoError(t, err)
	dir, err := goBuild(root, pkgs...)
	require.NoError(t, err)
	extraBuilt[key] = dir
	return dir
}

func goBuild(root string, pkgs ...string) (string, error) {
	dir, err := os.MkdirTemp("", "vigil-bin-")
	if err != nil {
		return "", err
	}
	args := append([]string{"build", "-trimpath", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return dir, nil
}

// Binary returns the path of one built plugin.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(BinDir(t), name)
	_, err := os.Stat(p)
	require.NoError(t, err, "plugin binary %s", name)
	return p
}

// Harness runs commands the way Sensu does, with Bins on PATH as runtime
// assets would put them.
type Harness struct {
	T    testing.TB
	Bins []string
}

// New returns a harness whose PATH holds the module's plugin binaries and
// any extra directories.
func New(t testing.TB, extraBins ...string) *Harness {
	return &Harness{T: t, Bins: append([]string{BinDir(t)}, extraBins...)}
}

// Agent returns the sensu-agent emulation.
func (h *Harness) Agent() *sensuexec.Agent { return &sensuexec.Agent{AssetBins: h.Bins} }

// Backend returns the sensu-backend emulation.
func (h *Harness) Backend() *sensuexec.Backend { return &sensuexec.Backend{AssetBins: h.Bins} }

// Event returns a valid event for entity "web-1" and check "check-x",
// timestamped now, with a failing status.
func Event() *corev2.Event {
	ev := corev2.FixtureEvent("web-1", "check-x")
	ev.Timestamp = time.Now().Unix()
	ev.Check.Status = 2
	ev.Check.Output = "check-x CRITICAL - something happened"
	ev.Check.Executed = ev.Timestamp
	return ev
}

// RunCheck runs a check definition as sensu-agent would and returns the
// event, after asserting that it passes the backend's validation.
func (h *Harness) RunCheck(cfg *corev2.CheckConfig) *corev2.Event {
	h.T.Helper()
	if cfg.Namespace == "" {
		cfg.Namespace = "default"
	}
	if cfg.Interval == 0 {
		cfg.Interval = 60
	}
	ev, _, err := h.Agent().RunCheck(context.Background(), cfg)
	require.NoError(h.T, err)
	require.NoError(h.T, ev.Validate(), "the check's event must pass corev2 validation")
	return ev
}

// Mutate pipes the event through a mutator command as sensu-backend does
// and returns the mutated event. It asserts that the mutator exited 0 and
// that its whole output (stdout and stderr merged) is one valid event.
func (h *Harness) Mutate(command string, ev *corev2.Event) *corev2.Event {
	h.T.Helper()
	out, resp, err := h.Backend().Mutate(context.Background(), &corev2.Mutator{ObjectMeta: corev2.ObjectMeta{Name: "m"}, Command: command, Timeout: 30}, ev)
	require.NoError(h.T, err, "mutator output: %s", resp.Output)
	var got corev2.Event
	require.NoError(h.T, json.Unmarshal(out, &got), "mutator output must be only the event JSON: %q", out)
	require.NoError(h.T, got.Validate())
	return &got
}

// Handle pipes the event through a handler command as sensu-backend does.
func (h *Harness) Handle(command string, ev *corev2.Event, env ...string) sensuexec.Response {
	h.T.Helper()
	b, err := json.Marshal(ev)
	require.NoError(h.T, err)
	return h.HandleRaw(command, b, env...)
}

// HandleRaw pipes raw bytes to a handler command.
func (h *Harness) HandleRaw(command string, input []byte, env ...string) sensuexec.Response {
	h.T.Helper()
	resp, err := h.Backend().Handle(context.Background(), &corev2.Handler{ObjectMeta: corev2.ObjectMeta{Name: "h"}, Type: "pipe", Command: command, Timeout: 60, EnvVars: env}, input)
	require.NoError(h.T, err)
	return resp
}

// Exec runs a command line with the binaries on PATH and returns the
// Sensu-style response (merged output, exit status).
func (h *Harness) Exec(command string, input string, env ...string) sensuexec.Response {
	h.T.Helper()
	resp, err := sensuexec.Execute(context.Background(), sensuexec.Request{
		Command: command,
		Env:     sensuexec.Environment(nil, h.Bins, env),
		Input:   input,
		Timeout: 60,
	})
	require.NoError(h.T, err)
	return resp
}

// EventsAPI starts an agent events API on 127.0.0.1 and returns it with
// its /events URL.
func EventsAPI(t testing.TB) (*sensuexec.EventsAPI, string) {
	api := &sensuexec.EventsAPI{}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return api, srv.URL + "/events"
}

// RequireNoSecret fails if any secret value appears in text.
func RequireNoSecret(t testing.TB, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		require.NotEmpty(t, s)
		require.NotContains(t, text, s, "a secret (%s…) leaked", s[:min(3, len(s))])
	}
}

// Shell quotes a string for sh -c.
func Shell(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Spooled returns how many events the handler spool in dir holds.
func Spooled(t testing.TB, dir string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := spool.Open(ctx, dir, spool.Limits{})
	require.NoError(t, err)
	defer s.Close()
	return s.Len()
}
