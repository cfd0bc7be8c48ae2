package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/testutil"
)

// es8 reads a genuine Elasticsearch 8 response (pkg/elastic/testdata/es8).
func es8(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "pkg", "elastic", "testdata", "es8", name))
	require.NoError(t, err)
	return b
}

// cluster replays Elasticsearch 8: it installs templates, answers bulk
// requests item by item through item (nil: created), and records what it
// was sent.
type cluster struct {
	*httptest.Server
	mu        sync.Mutex
	templates []string
	bulks     [][]map[string]any // the documents of each bulk request
	refuse    atomic.Bool        // answer 401 to everything
	item      func(doc map[string]any) json.RawMessage
	// templateAnswer, when set, answers template requests (status, body).
	templateAnswer func() (int, []byte)
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	unauthorized := es8(t, "error-401.json")
	templateOK := es8(t, "index-template-ok.json")
	var created json.RawMessage
	{
		var ok struct{ Items []json.RawMessage }
		require.NoError(t, json.Unmarshal(es8(t, "bulk-ok.json"), &ok))
		created = ok.Items[0]
	}
	c := &cluster{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if c.refuse.Load() {
			w.Header().Add("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write(unauthorized)
			return
		}
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		switch {
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/_index_template/") && c.templateAnswer != nil:
			status, body := c.templateAnswer()
			w.WriteHeader(status)
			_, _ = w.Write(body)
		case r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/_index_template/"):
			c.mu.Lock()
			c.templates = append(c.templates, strings.TrimPrefix(r.URL.Path, "/_index_template/"))
			c.mu.Unlock()
			_, _ = w.Write(templateOK)
		case r.Method == http.MethodPost && r.URL.Path == "/_bulk":
			var docs []map[string]any
			var items []json.RawMessage
			sc := bufio.NewScanner(bytes.NewReader(body))
			sc.Buffer(nil, 16<<20)
			for n := 0; sc.Scan(); n++ {
				if n%2 == 0 {
					continue
				}
				var d map[string]any
				if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				docs = append(docs, d)
				it := created
				if c.item != nil {
					if x := c.item(d); x != nil {
						it = x
					}
				}
				items = append(items, it)
			}
			c.mu.Lock()
			c.bulks = append(c.bulks, docs)
			c.mu.Unlock()
			resp, _ := json.Marshal(map[string]any{"took": 2, "errors": false, "items": items})
			_, _ = w.Write(resp)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *cluster) seen() (templates []string, bulks [][]map[string]any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.templates...), append([][]map[string]any(nil), c.bulks...)
}

func checkOf(doc map[string]any) string { return doc["vigil"].(map[string]any)["check"].(string) }

func TestIndexesEachEventAndInstallsTheTemplateOnce(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	es := newCluster(t)
	stateDir := t.TempDir()
	for i := range 2 {
		ev := testutil.Event()
		ev.Check.Name = fmt.Sprintf("check-%d", i)
		resp := h.Handle("handler-elasticsearch --url "+es.URL, ev, "VIGIL_STATE_DIR="+stateDir)
		require.Equal(t, 0, resp.Status, resp.Output)
		require.Empty(t, resp.Output, "a handler is silent on success")
	}
	templates, bulks := es.seen()
	require.Equal(t, []string{"vigil-events"}, templates, "installed on first use only")
	require.Len(t, bulks, 2)
	doc := bulks[1][0]
	require.Equal(t, "check-1", checkOf(doc))
	require.Equal(t, "web-1", doc["vigil"].(map[string]any)["entity"])
	require.NotEmpty(t, doc["@timestamp"])
	require.Equal(t, "check-x CRITICAL - something happened", doc["check"].(map[string]any)["output"], "the whole event is kept")
}

func TestKeepsEventsTheClusterRefusesAndSendsThemFirstInOrder(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	es := newCluster(t)
	spool := t.TempDir()
	cmd := "handler-elasticsearch --skip-template --retries 0 --spool-dir " + testutil.Shell(spool) + " --url " + es.URL
	es.refuse.Store(true)
	for i := range 3 {
		ev := testutil.Event()
		ev.Check.Name = fmt.Sprintf("check-%d", i)
		resp := h.Handle(cmd, ev, "ELASTICSEARCH_USERNAME=vigil", "ELASTICSEARCH_PASSWORD=s3cret-password-1")
		require.Equal(t, 0, resp.Status, "kept in the spool is not a failure: %s", resp.Output)
		require.Contains(t, resp.Output, "kept in the spool")
		require.Contains(t, resp.Output, "HTTP 401")
		require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
		testutil.RequireNoSecret(t, resp.Output, "s3cret-password-1")
	}
	es.refuse.Store(false)
	ev := testutil.Event()
	ev.Check.Name = "check-3"
	resp := h.Handle(cmd, ev, "ELASTICSEARCH_USERNAME=vigil", "ELASTICSEARCH_PASSWORD=s3cret-password-1")
	require.Equal(t, 0, resp.Status, resp.Output)
	_, bulks := es.seen()
	require.Len(t, bulks, 1, "one bulk request for the spool and the new event")
	var order []string
	for _, d := range bulks[0] {
		order = append(order, checkOf(d))
	}
	require.Equal(t, []string{"check-0", "check-1", "check-2", "check-3"}, order)
	require.Zero(t, testutil.Spooled(t, spool))
}

func TestAMappingConflictIsKeptInDeadWithoutTheValue(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	es := newCluster(t)
	var conflict json.RawMessage
	{
		var doc struct{ Items []json.RawMessage }
		require.NoError(t, json.Unmarshal(es8(t, "bulk-mapping-conflict.json"), &doc))
		conflict = doc.Items[1]
	}
	es.item = func(d map[string]any) json.RawMessage {
		if checkOf(d) == "check-bad" {
			return conflict
		}
		return nil
	}
	spool := t.TempDir()
	ev := testutil.Event()
	ev.Check.Name = "check-bad"
	resp := h.Handle("handler-elasticsearch --skip-template --spool-dir "+testutil.Shell(spool)+" --url "+es.URL, ev)
	require.Equal(t, 1, resp.Status, resp.Output)
	require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
	require.Contains(t, resp.Output, "document_parsing_exception")
	require.NotContains(t, resp.Output, "invalid", "the field's value stays out of the logs")
	reasons, err := filepath.Glob(filepath.Join(spool, "dead", "*.reason"))
	require.NoError(t, err)
	require.Len(t, reasons, 1)
	events, err := filepath.Glob(filepath.Join(spool, "dead", "*.event"))
	require.NoError(t, err)
	require.Len(t, events, 1, "the event is kept next to its reason")
}

func TestSecretsNeverAppearOnAnyErrorPath(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	es := newCluster(t)
	es.refuse.Store(true)
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler()) // a certificate nobody trusts
	t.Cleanup(tlsSrv.Close)
	const password, apiKey = "pw-0123456789-secret", "key-id:key-0123456789-secret"
	env := []string{"ELASTICSEARCH_PASSWORD=" + password, "ELASTICSEARCH_API_KEY=" + apiKey, "ELASTICSEARCH_USERNAME=vigil"}
	for _, args := range []string{
		"--url " + es.URL + " --no-spool",                            // 401
		"--url " + es.URL + " --skip-template --no-spool",            // 401 on the bulk request
		"--url http://127.0.0.1:1 --no-spool --retries 0",            // connection refused
		"--url " + tlsSrv.URL + " --no-spool --retries 0",            // TLS verification
		"--url http://vigil:" + password + "@127.0.0.1:1 --no-spool", // credentials in the URL
		"--url " + es.URL + " --index-date-pattern YYYY/MM",          // bad option
	} {
		resp := h.Handle("handler-elasticsearch --retries 0 "+args, testutil.Event(), env...)
		require.Equal(t, 1, resp.Status, "%s: %s", args, resp.Output)
		testutil.RequireNoSecret(t, resp.Output, password, apiKey, "key-0123456789-secret")
	}
}

func TestBadInputIsOneLine(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	for _, tc := range []struct{ args, input, want string }{
		{"", "not json", "handler-elasticsearch: "},
		{"--index Vigil", "", "must be lowercase"},
		{"--data-stream 'a b'", "", "Elasticsearch forbids"},
		{"--index-date-pattern YYYY/MM", "", "--index-date-pattern"},
		{"--url es:9200", "", "--url (or ELASTICSEARCH_URL)"},
		{"--bulk-max-bytes 10", "", "--bulk-max-bytes"},
		{"--cert-file c.pem", "", "--cert-file and --key-file"},
	} {
		input := tc.input
		if input == "" {
			b, err := json.Marshal(testutil.Event())
			require.NoError(t, err)
			input = string(b)
		}
		resp := h.HandleRaw("handler-elasticsearch "+tc.args, []byte(input))
		require.Equal(t, 1, resp.Status, "%s: %s", tc.args, resp.Output)
		require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one line: %q", resp.Output)
		require.Contains(t, resp.Output, tc.want)
	}
}

func TestTrustsAPEMBundleAndWarnsWithoutVerification(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	created := `{"took":1,"errors":false,"items":[{"create":{"_index":"vigil-events-2026.11.23","_id":"x","status":201}}]}`
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, created)
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))

	resp := h.Handle("handler-elasticsearch --skip-template --no-spool --ca-file "+testutil.Shell(ca)+" --url "+srv.URL, testutil.Event())
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Empty(t, resp.Output)

	resp = h.Handle("handler-elasticsearch --skip-template --no-spool --retries 0 --url "+srv.URL, testutil.Event())
	require.Equal(t, 1, resp.Status, "an unknown CA fails: %s", resp.Output)
	require.Contains(t, resp.Output, "certificate")

	resp = h.Handle("handler-elasticsearch --skip-template --no-spool --insecure-skip-verify --url "+srv.URL, testutil.Event())
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "TLS certificate verification is disabled", "warned on every run")
}

func TestATemplateTheClusterRefusesDoesNotStopTheEvents(t *testing.T) {
	t.Parallel()
	h := testutil.New(t)
	es := newCluster(t)
	forbidden := es8(t, "error-403.json")
	es.templateAnswer = func() (int, []byte) { return http.StatusForbidden, forbidden }
	resp := h.Handle("handler-elasticsearch --url "+es.URL, testutil.Event(), "VIGIL_STATE_DIR="+t.TempDir())
	require.Equal(t, 0, resp.Status, resp.Output)
	require.Contains(t, resp.Output, "index template not installed")
	require.Contains(t, resp.Output, "HTTP 403")
	require.Equal(t, 1, strings.Count(resp.Output, "\n"), "one warning line: %q", resp.Output)
	_, bulks := es.seen()
	require.Len(t, bulks, 1, "the event is indexed all the same")
}
