package httpx_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/version"
)

// proxyChildEnv, when set, turns the test binary into a one-shot client
// that GETs the URL it holds and prints "<status> <body>".
//
// net/http reads the proxy variables once per process
// (http.ProxyFromEnvironment caches them), so a t.Setenv test would only
// work for the first test that sends a request, and never under
// -count=2. A child process gets a fresh environment every time and
// lets the test run in parallel.
const proxyChildEnv = "VIGIL_HTTPX_TEST_PROXY_CHILD_URL"

func TestMain(m *testing.M) {
	if target := os.Getenv(proxyChildEnv); target != "" {
		os.Exit(proxyChild(target))
	}
	os.Exit(m.Run())
}

func proxyChild(target string) int {
	c, err := httpx.New(httpx.Config{RetryMax: -1, Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	req, err := http.NewRequest(http.MethodGet, target, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	resp, err := c.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%d %s", resp.StatusCode, b)
	return 0
}

// childEnv is the test's environment without any proxy setting, plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(name) {
		case "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "REQUEST_METHOD", proxyChildEnv:
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func TestProxyFromEnvironmentIsUsed(t *testing.T) {
	t.Parallel()
	// Go never proxies requests to localhost or 127.0.0.1, so the target is
	// a name that only the proxy "resolves".
	proxy, rec := serve(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "via proxy")
	})
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
	cmd.Env = childEnv("GORACE=atexit_sleep_ms=0", "HTTP_PROXY="+proxy.URL, proxyChildEnv+"=http://vigil-upstream.test/hook?x=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr

	out, err := cmd.Output()

	require.NoError(t, err, "child stderr: %s", stderr.String())
	require.Equal(t, "200 via proxy", string(out))
	hits := rec.all()
	require.Len(t, hits, 1)
	require.Equal(t, "http://vigil-upstream.test/hook?x=1", hits[0].requestURI, "a proxy receives the absolute URL")
	require.Equal(t, "vigil-upstream.test", hits[0].host)
	require.Equal(t, "vigil/"+version.Version, hits[0].userAgent)
}

func TestLoopbackTargetsBypassTheProxy(t *testing.T) {
	t.Parallel()
	upstream, upstreamRec := serve(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "direct")
	})
	proxy, proxyRec := serve(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "via proxy")
	})
	exe, err := os.Executable()
	require.NoError(t, err)
	// A loopback target is never proxied, whatever HTTP_PROXY says.
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^$")
	cmd.Env = childEnv("GORACE=atexit_sleep_ms=0", "HTTP_PROXY="+proxy.URL, proxyChildEnv+"="+upstream.URL+"/hook")
	var stderr strings.Builder
	cmd.Stderr = &stderr

	out, err := cmd.Output()

	require.NoError(t, err, "child stderr: %s", stderr.String())
	require.Equal(t, "200 direct", string(out))
	require.Len(t, upstreamRec.all(), 1)
	require.Empty(t, proxyRec.all())
}
