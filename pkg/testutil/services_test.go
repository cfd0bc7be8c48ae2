package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var httpClient = &http.Client{Timeout: 5 * time.Second}

// call sends one request and returns the status and body.
func call(t *testing.T, method, u, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// eventually retries get until it returns a body holding want, for 10 s
// at most: new data takes up to a second to be searchable in
// VictoriaMetrics.
func eventually(t *testing.T, get func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := get()
		if strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never got %q; the last answer: %s", want, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestIntegrationServices(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s *Instance)
		check func(t *testing.T, s *Instance)
	}{
		{name: Prometheus, write: func(*testing.T, *Instance) {}, check: checkPrometheus},
		{name: InfluxDB, write: writeInfluxDB, check: checkInfluxDB},
		{name: VictoriaMetrics, write: writeVictoriaMetrics, check: checkVictoriaMetrics},
		{name: VictoriaLogs, write: writeVictoriaLogs, check: checkVictoriaLogs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := OwnService(t, tc.name)
			require.True(t, strings.HasPrefix(s.URL, "http://127.0.0.1:"), s.URL)
			tc.write(t, s)
			tc.check(t, s)

			addr := s.URL
			s.Stop()
			_, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "http://"), time.Second)
			require.Error(t, err, "the server must be down after Stop")
			s.Stop() // idempotent
			s.Start()
			assert.Equal(t, addr, s.URL, "Start must bring the server back on its address")
			tc.check(t, s)
		})
	}
}

func checkPrometheus(t *testing.T, s *Instance) {
	code, body := call(t, http.MethodGet, s.URL+"/api/v1/query?query=up", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"status":"success"`)
}

func writeInfluxDB(t *testing.T, s *Instance) {
	line := fmt.Sprintf("vigil_test,host=web-1 value=42 %d", time.Now().UnixNano())
	code, body := call(t, http.MethodPost, s.URL+"/write?db=vigil&precision=ns", "text/plain", line)
	require.Equal(t, http.StatusNoContent, code, body)
}

func checkInfluxDB(t *testing.T, s *Instance) {
	q := url.Values{"db": {"vigil"}, "q": {"SELECT value FROM vigil_test WHERE host = 'web-1'"}}
	code, body := call(t, http.MethodGet, s.URL+"/query?"+q.Encode(), "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"columns":["time","value"]`)
	require.Contains(t, body, `,42]`)
}

func writeVictoriaMetrics(t *testing.T, s *Instance) {
	code, body := call(t, http.MethodPost, s.URL+"/write", "text/plain", "vigil_test,host=web-1 value=42")
	require.Equal(t, http.StatusNoContent, code, body)

	conn, err := net.DialTimeout("tcp", s.Graphite, 5*time.Second)
	require.NoError(t, err)
	_, err = fmt.Fprintf(conn, "vigil.graphite.test 7 %d\n", time.Now().Unix())
	require.NoError(t, err)
	require.NoError(t, conn.Close())
}

func checkVictoriaMetrics(t *testing.T, s *Instance) {
	export := func(match string) func() string {
		return func() string {
			code, body := call(t, http.MethodGet, s.URL+"/internal/force_flush", "", "")
			require.Equal(t, http.StatusOK, code, body)
			_, body = call(t, http.MethodGet, s.URL+"/api/v1/export?"+url.Values{"match[]": {match}}.Encode(), "", "")
			return body
		}
	}
	eventually(t, export(`vigil_test_value{host="web-1"}`), `"values":[42]`)
	eventually(t, export(`{__name__="vigil.graphite.test"}`), `"values":[7]`)
}

func writeVictoriaLogs(t *testing.T, s *Instance) {
	// The field names of an Elasticsearch document are passed as query
	// arguments: without them VictoriaLogs 1.102 takes _time and _msg.
	// The content type must not be a form's, or the body is read as one.
	doc := fmt.Sprintf(`{"@timestamp":%q,"message":"vigil services test","host":"web-1"}`, time.Now().UTC().Format(time.RFC3339Nano))
	code, body := call(t, http.MethodPost, s.URL+"/insert/elasticsearch/_bulk?_msg_field=message&_time_field=@timestamp&_stream_fields=host",
		"application/x-ndjson", `{"create":{"_index":"vigil"}}`+"\n"+doc+"\n")
	require.Equal(t, http.StatusOK, code, body)
	var resp struct {
		Errors bool
		Items  []map[string]struct{ Status int }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &resp), body)
	require.False(t, resp.Errors, body)
	require.Len(t, resp.Items, 1, body)
	require.Equal(t, http.StatusCreated, resp.Items[0]["create"].Status, body)
}

func checkVictoriaLogs(t *testing.T, s *Instance) {
	// Leaving _stream out of the fields: the rows of a new stream are
	// left out of results with _stream until its tags are searchable,
	// seconds to a minute later.
	q := url.Values{"query": {`"vigil services test" | fields _time, _msg, host`}}
	code, body := call(t, http.MethodGet, s.URL+"/select/logsql/query?"+q.Encode(), "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"_msg":"vigil services test"`)
	require.Contains(t, body, `"host":"web-1"`)
}

// TestIntegrationService reaches every server the way handler tests do:
// those of `scripts/services.sh up` when the environment names them,
// private ones otherwise.
func TestIntegrationService(t *testing.T) {
	t.Parallel()
	for name, path := range map[string]string{
		Prometheus:      "/-/ready",
		InfluxDB:        "/ping",
		VictoriaMetrics: "/health",
		VictoriaLogs:    "/health",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := Service(t, name)
			code, body := call(t, http.MethodGet, s.URL+path, "", "")
			require.Less(t, code, 300, body)
			if name == VictoriaMetrics {
				conn, err := net.DialTimeout("tcp", s.Graphite, 5*time.Second)
				require.NoError(t, err)
				require.NoError(t, conn.Close())
			}
		})
	}
}

// TestServicesScriptFailures: a server that cannot start fails the
// script, which shows the end of the server's log.
func TestServicesScriptFailures(t *testing.T) {
	t.Parallel()
	root, err := ModuleRoot()
	require.NoError(t, err)
	script := filepath.Join(root, "scripts", "services.sh")

	t.Run("unknown server", func(t *testing.T) {
		t.Parallel()
		out, err := exec.Command(script, "start", "elasticsearch", t.TempDir()).CombinedOutput()
		require.Error(t, err)
		require.Contains(t, string(out), "unknown service 'elasticsearch'")
	})
	t.Run("port taken", func(t *testing.T) {
		t.Parallel()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
		cmd := exec.Command(script, "start", VictoriaLogs, t.TempDir(), port)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		require.Error(t, cmd.Run())
		require.Empty(t, stdout.String())
		require.Contains(t, stderr.String(), "victoria-logs failed to start")
		require.Contains(t, stderr.String(), "address already in use")
	})
}
