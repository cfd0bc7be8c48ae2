package elastic_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/elastic"
	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/testutil"
)

// fixture reads a genuine Elasticsearch 8 response (testdata/es8/README.md
// says where each comes from).
func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "es8", name))
	require.NoError(t, err)
	return b
}

// fixtureItems returns the items of a genuine bulk response.
func fixtureItems(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	var doc struct {
		Items []json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal(fixture(t, name), &doc))
	return doc.Items
}

// bulkBody builds a bulk response from genuine items.
func bulkBody(items ...json.RawMessage) []byte {
	errs := false
	for _, it := range items {
		errs = errs || bytes.Contains(it, []byte(`"error"`))
	}
	b, _ := json.Marshal(map[string]any{"took": 3, "errors": errs, "items": items})
	return b
}

// request is what the replay server saw.
type request struct {
	Method, Path, Query string
	Header              http.Header
	Docs                []string // the document lines of a bulk request
	Body                []byte
}

// replay is an httptest server answering with Elasticsearch 8 responses
// chosen by answer, and recording every request.
type replay struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
}

func newReplay(t *testing.T, answer func(r request) (int, []byte)) *replay {
	t.Helper()
	rp := &replay{}
	rp.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body}
		if strings.HasSuffix(r.URL.Path, "/_bulk") {
			sc := bufio.NewScanner(bytes.NewReader(body))
			sc.Buffer(nil, 1<<20)
			for n := 0; sc.Scan(); n++ {
				if n%2 == 1 {
					req.Docs = append(req.Docs, sc.Text())
				}
			}
		}
		rp.mu.Lock()
		rp.requests = append(rp.requests, req)
		rp.mu.Unlock()
		status, resp := answer(req)
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(resp)
	}))
	t.Cleanup(rp.Close)
	return rp
}

func (rp *replay) seen() []request {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]request(nil), rp.requests...)
}

func newClient(t *testing.T, base string, mod func(*elastic.Client)) *elastic.Client {
	t.Helper()
	hc, err := httpx.New(httpx.Config{RetryMax: 2, RetryWaitMin: time.Millisecond, RetryWaitMax: 5 * time.Millisecond,
		Redact: secret.NewRedactor("s3cret-password", "apikey-id:apikey-secret")})
	require.NoError(t, err)
	u, err := url.Parse(base)
	require.NoError(t, err)
	c := &elastic.Client{HTTP: hc, URL: u, RetryWait: time.Millisecond}
	if mod != nil {
		mod(c)
	}
	return c
}

// items returns n bulk items whose documents say {"n":i}.
func items(n int) []elastic.Item {
	out := make([]elastic.Item, n)
	for i := range out {
		out[i] = elastic.Item(fmt.Sprintf("{\"create\":{\"_index\":\"vigil-events-2025.01.15\",\"_id\":\"id-%d\"}}\n{\"n\":%d}\n", i, i))
	}
	return out
}

func TestBulkSortsEachItemByItsStatus(t *testing.T) {
	t.Parallel()
	mixed := fixtureItems(t, "bulk-mixed.json") // 201, 409, 400, 429, 201
	ok := fixtureItems(t, "bulk-ok.json")[0]
	rp := newReplay(t, func(r request) (int, []byte) {
		if len(r.Docs) == len(mixed) {
			return 200, fixture(t, "bulk-mixed.json")
		}
		return 200, bulkBody(ok) // the 429 item, sent again
	})
	c := newClient(t, rp.URL, func(c *elastic.Client) { c.ItemRetries = 2 })
	errs := c.Bulk(context.Background(), items(5))

	require.NoError(t, errs[0], "201 created")
	require.NoError(t, errs[1], "409: already created by an earlier attempt, not a duplicate")
	require.Error(t, errs[2])
	require.True(t, spool.IsPermanent(errs[2]), "a mapping conflict never succeeds: %v", errs[2])
	require.Contains(t, errs[2].Error(), "document_parsing_exception")
	require.Contains(t, errs[2].Error(), "caused by illegal_argument_exception")
	require.NotContains(t, errs[2].Error(), "invalid", "the field's value must not reach our logs")
	require.NoError(t, errs[3], "429 is retried in the same run")
	require.NoError(t, errs[4])

	seen := rp.seen()
	requests := len(seen)
	require.Equal(t, 2, requests)
	require.Equal(t, []string{`{"n":3}`}, seen[1].Docs, "only the rejected item is sent again")
}

func TestBulkKeepsItemsStillRejectedAfterTheRetries(t *testing.T) {
	t.Parallel()
	rejected := fixtureItems(t, "bulk-429.json")[0]
	forbidden := fixtureItems(t, "bulk-403-item.json")[0]
	rp := newReplay(t, func(r request) (int, []byte) {
		if len(r.Docs) == 2 {
			return 200, bulkBody(rejected, forbidden)
		}
		return 200, bulkBody(rejected)
	})
	c := newClient(t, rp.URL, func(c *elastic.Client) { c.ItemRetries = 1 })
	errs := c.Bulk(context.Background(), items(2))
	for i, err := range errs {
		require.Error(t, err, i)
		require.False(t, spool.IsPermanent(err), "kept for a later run: %v", err)
	}
	require.Contains(t, errs[0].Error(), "429 es_rejected_execution_exception")
	require.Less(t, len(errs[0].Error()), 400, "the thread pool dump is cut")
	require.Contains(t, errs[1].Error(), "403")
	requests := len(rp.seen())
	require.Equal(t, 2, requests, "the 403 is not retried now, the 429 once")
}

func TestBulkIsolatesTheDocumentThatSpoilsARequest(t *testing.T) {
	t.Parallel()
	ok := fixtureItems(t, "bulk-ok.json")[0]
	rp := newReplay(t, func(r request) (int, []byte) {
		for _, d := range r.Docs {
			if d == `{"n":5}` {
				return http.StatusRequestEntityTooLarge, nil // as ES: no body
			}
		}
		resp := make([]json.RawMessage, len(r.Docs))
		for i := range resp {
			resp[i] = ok
		}
		return 200, bulkBody(resp...)
	})
	c := newClient(t, rp.URL, nil)
	errs := c.Bulk(context.Background(), items(8))
	for i, err := range errs {
		if i == 5 {
			require.True(t, spool.IsPermanent(err), "%v", err)
			require.Contains(t, err.Error(), "HTTP 413")
			continue
		}
		require.NoError(t, err, i)
	}
	var sent []string
	for _, r := range rp.seen() {
		if len(r.Docs) > 0 && !strings.Contains(strings.Join(r.Docs, ""), `"n":5`) {
			sent = append(sent, r.Docs...)
		}
	}
	require.Len(t, sent, 7, "every other document delivered exactly once")
}

func TestBulkCutsRequestsAtMaxBytesAndKeepsTheOrder(t *testing.T) {
	t.Parallel()
	ok := fixtureItems(t, "bulk-ok.json")[0]
	rp := newReplay(t, func(r request) (int, []byte) {
		resp := make([]json.RawMessage, len(r.Docs))
		for i := range resp {
			resp[i] = ok
		}
		return 200, bulkBody(resp...)
	})
	its := items(20)
	c := newClient(t, rp.URL, func(c *elastic.Client) { c.MaxBytes = 3 * len(its[0]) })
	for _, err := range c.Bulk(context.Background(), its) {
		require.NoError(t, err)
	}
	var order []string
	for _, r := range rp.seen() {
		require.LessOrEqual(t, len(r.Body), 3*len(its[0]))
		require.Equal(t, "application/x-ndjson", r.Header.Get("Content-Type"))
		order = append(order, r.Docs...)
	}
	require.GreaterOrEqual(t, len(rp.seen()), 7, "20 documents, at most 3 per request")
	for i, d := range order {
		require.Equal(t, fmt.Sprintf(`{"n":%d}`, i), d)
	}
}

func TestBulkStopsAtAnAuthenticationFailureWithoutLeakingCredentials(t *testing.T) {
	t.Parallel()
	rp := newReplay(t, func(request) (int, []byte) { return 401, fixture(t, "error-401.json") })
	for _, mod := range []func(*elastic.Client){
		func(c *elastic.Client) { c.Username, c.Password = "vigil", "s3cret-password" },
		func(c *elastic.Client) { c.APIKey = "apikey-id:apikey-secret" },
	} {
		before := len(rp.seen())
		c := newClient(t, rp.URL, func(c *elastic.Client) { c.MaxBytes = 100; mod(c) })
		errs := c.Bulk(context.Background(), items(6))
		for _, err := range errs {
			require.Error(t, err)
			require.False(t, spool.IsPermanent(err), "fixing the credentials delivers it: keep it")
			require.Contains(t, err.Error(), "HTTP 401: security_exception: unable to authenticate user [vigil]")
			require.Contains(t, err.Error(), "--api-key")
			testutil.RequireNoSecret(t, err.Error(), "s3cret-password", "apikey-secret", base64.StdEncoding.EncodeToString([]byte("apikey-id:apikey-secret")))
		}
		after := len(rp.seen())
		require.Equal(t, before+1, after, "no further request once the cluster refused one")
	}
}

func TestBulkRetriesAWholeRequest429ThenKeepsTheEvents(t *testing.T) {
	t.Parallel()
	rp := newReplay(t, func(request) (int, []byte) { return 429, fixture(t, "error-429-request.json") })
	c := newClient(t, rp.URL, nil)
	errs := c.Bulk(context.Background(), items(2))
	requests := len(rp.seen())
	require.Equal(t, 3, requests, "the first attempt and two retries")
	for _, err := range errs {
		require.False(t, spool.IsPermanent(err), "%v", err)
		require.Contains(t, err.Error(), "circuit_breaking_exception")
	}
}

func TestClientSendsCredentialsAndKeepsTheURLsPathAndQuery(t *testing.T) {
	t.Parallel()
	ok := fixtureItems(t, "bulk-ok.json")[0]
	rp := newReplay(t, func(request) (int, []byte) { return 200, bulkBody(ok) })
	cases := []struct {
		mod  func(*elastic.Client)
		want string
	}{
		{func(c *elastic.Client) { c.Username, c.Password = "vigil", "s3cret-password" }, "Basic " + base64.StdEncoding.EncodeToString([]byte("vigil:s3cret-password"))},
		{func(c *elastic.Client) { c.APIKey = "apikey-id:apikey-secret" }, "ApiKey " + base64.StdEncoding.EncodeToString([]byte("apikey-id:apikey-secret"))},
		{func(c *elastic.Client) { c.APIKey = "QUJDOkRFRg==" }, "ApiKey QUJDOkRFRg=="},
		{func(c *elastic.Client) { c.Username, c.APIKey = "vigil", "QUJDOkRFRg==" }, "ApiKey QUJDOkRFRg=="},
	}
	for i, tc := range cases {
		c := newClient(t, rp.URL+"/insert/elasticsearch/?_msg_field=vigil.summary", tc.mod)
		require.NoError(t, c.Bulk(context.Background(), items(1))[0])
		got := rp.seen()[i]
		require.Equal(t, tc.want, got.Header.Get("Authorization"))
		require.Equal(t, "/insert/elasticsearch/_bulk", got.Path)
		require.Equal(t, "_msg_field=vigil.summary", got.Query)
	}
}

func TestPutTemplate(t *testing.T) {
	t.Parallel()
	target := elastic.Target{Index: "vigil-events"}
	rp := newReplay(t, func(r request) (int, []byte) {
		if bytes.Contains(r.Body, []byte(`"flot"`)) {
			return 400, fixture(t, "index-template-invalid.json")
		}
		return 200, fixture(t, "index-template-ok.json")
	})
	c := newClient(t, rp.URL, nil)
	require.NoError(t, c.PutTemplate(context.Background(), target.TemplateName(), target.Template()))
	got := rp.seen()[0]
	require.Equal(t, http.MethodPut, got.Method)
	require.Equal(t, "/_index_template/vigil-events", got.Path)
	require.JSONEq(t, string(target.Template()), string(got.Body))

	err := c.PutTemplate(context.Background(), "vigil-events", []byte(`{"template":{"mappings":{"properties":{"f":{"type":"flot"}}}}}`))
	require.Error(t, err)
	require.Contains(t, err.Error(), "HTTP 400: illegal_argument_exception")
	require.Contains(t, err.Error(), "No handler for type [flot]", "a template error shows its whole cause")
}

func TestConcurrentRequestsDeliverEveryItemAndStopAtAFailure(t *testing.T) {
	t.Parallel()
	ok := fixtureItems(t, "bulk-ok.json")[0]
	rejected := fixtureItems(t, "bulk-429.json")[0]
	var mu sync.Mutex
	down := false
	rp := newReplay(t, func(r request) (int, []byte) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return 503, []byte(`{"error":"unavailable"}`)
		}
		resp := make([]json.RawMessage, len(r.Docs))
		for i, d := range r.Docs {
			resp[i] = ok
			if d == `{"n":33}` {
				resp[i] = rejected
			}
		}
		return 200, bulkBody(resp...)
	})
	its := items(60)
	c := newClient(t, rp.URL, func(c *elastic.Client) { c.MaxBytes = 2 * len(its[0]); c.Concurrency = 4 })
	errs := c.Bulk(context.Background(), its)
	for i, err := range errs {
		if i == 33 {
			require.ErrorContains(t, err, "429", "still rejected: kept")
			continue
		}
		require.NoError(t, err, i)
	}
	seen := map[string]int{}
	for _, r := range rp.seen() {
		for _, d := range r.Docs {
			seen[d]++
		}
	}
	require.Len(t, seen, 60, "every document sent")
	require.Equal(t, 1, seen[`{"n":0}`], "a delivered document is sent once")

	mu.Lock()
	down = true
	mu.Unlock()
	before := len(rp.seen())
	c.HTTP, _ = httpx.New(httpx.Config{RetryMax: -1})
	errs = c.Bulk(context.Background(), its)
	for _, err := range errs {
		require.ErrorContains(t, err, "HTTP 503")
	}
	require.LessOrEqual(t, len(rp.seen())-before, 4, "no request started after the store failed, beyond those in flight")
}

func TestEnsureTemplateInstallsOncePerCluster(t *testing.T) {
	t.Parallel()
	rp := newReplay(t, func(request) (int, []byte) { return 200, fixture(t, "index-template-ok.json") })
	markers := t.TempDir()
	target := elastic.Target{Index: "vigil-events"}
	c := newClient(t, rp.URL, nil)
	require.NoError(t, c.EnsureTemplate(context.Background(), target, markers))
	require.NoError(t, c.EnsureTemplate(context.Background(), target, markers))
	puts := len(rp.seen())
	require.Equal(t, 1, puts, "the marker spares the second request")
	require.NoError(t, c.EnsureTemplate(context.Background(), elastic.Target{DataStream: "logs-vigil-default"}, markers))
	other := newClient(t, rp.URL+"/other-cluster", nil)
	require.NoError(t, other.EnsureTemplate(context.Background(), target, markers))
	puts = len(rp.seen())
	require.Equal(t, 3, puts, "another template, another cluster: installed")
}

func TestAHalfDeliveredBeforeTheOtherFailsStaysDelivered(t *testing.T) {
	t.Parallel()
	ok := fixtureItems(t, "bulk-ok.json")[0]
	rp := newReplay(t, func(r request) (int, []byte) {
		switch {
		case len(r.Docs) == 4:
			return http.StatusRequestEntityTooLarge, nil
		case r.Docs[0] == `{"n":0}`:
			return 200, bulkBody(ok, ok)
		default:
			return 401, fixture(t, "error-401.json")
		}
	})
	errs := newClient(t, rp.URL, nil).Bulk(context.Background(), items(4))
	require.NoError(t, errs[0], "delivered in the first half")
	require.NoError(t, errs[1])
	for _, err := range errs[2:] {
		require.ErrorContains(t, err, "HTTP 401")
		require.False(t, spool.IsPermanent(err))
	}
}

func TestACredentialEchoedAcrossTheCutIsNotHalfShown(t *testing.T) {
	t.Parallel()
	rp := newReplay(t, func(request) (int, []byte) {
		return 401, []byte(strings.Repeat("x", 190) + " password=s3cret-password")
	})
	c := newClient(t, rp.URL, func(c *elastic.Client) { c.Username, c.Password = "vigil", "s3cret-password" })
	err := c.Bulk(context.Background(), items(1))[0]
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret", "%v", err)
}
