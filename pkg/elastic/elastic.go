// Package elastic delivers Sensu events to Elasticsearch (or any server
// that speaks its _bulk API: OpenSearch, VictoriaLogs) as one document per
// event: the whole event, plus "@timestamp" and the check's findings as
// structured fields (Document), into an index named from the event's own
// time or a data stream (Target), through the _bulk API (Client.Bulk),
// after installing a composable index template with mappings that keep
// ids, paths and rule ids as keywords and labels and annotations as
// flattened fields (Template).
//
// # Why not the official client
//
// github.com/elastic/go-elasticsearch/v8 (v8.17.1 downloads here) was
// weighed and left out, for three reasons:
//
//   - Its product check refuses every server that does not answer with the
//     X-Elastic-Product: Elasticsearch header: OpenSearch, and VictoriaLogs,
//     the real _bulk server the tests run against.
//   - Its BulkIndexer flushes from background workers and reports items
//     through callbacks, while the spool needs the opposite: one ordered
//     batch in, one error per event out, to know which events to keep.
//   - The bulk API is two lines of NDJSON per document and a response with
//     one status per item; writing it directly on the shared retrying
//     client (pkg/httpx) keeps one retry policy (429 and 5xx with
//     Retry-After, capped backoff), one TLS setup and one redaction of
//     credentials for every Vigil handler.
//
// # Delivery semantics
//
// Each document is sent with the "create" action and a deterministic id
// (DocumentID), so a retry after a lost response is answered 409 and
// counted as delivered: no duplicates. Per item, 2xx and 409 are
// delivered; 429, 5xx, 408 and the other 4xx that an operator can fix (an
// index that is read-only or missing, a 403) are retried in the same run
// and then kept in the spool; 400 (a mapping conflict) and 413 are
// permanent: the event is moved to the spool's dead/ folder with the
// reason. A whole request answered 400 or 413 is split in halves until the
// faulty document is isolated. Reasons are cut before "Preview of field's
// value", where Elasticsearch would echo document content (possibly
// personal data) into our logs.
package elastic

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/units"
)

// DefaultMaxBytes bounds one bulk request (Elastic recommends 5 to 15 MB;
// the server's default http.max_content_length is 100 MB).
const DefaultMaxBytes = 8 << 20

// Client talks to one cluster.
type Client struct {
	// HTTP is the retrying client (pkg/httpx).
	HTTP *httpx.Client
	// URL is the cluster's base URL. A path is kept (a proxy prefix, or
	// VictoriaLogs' /insert/elasticsearch), and so is a query, which is
	// added to every request.
	URL *url.URL
	// Username and Password are basic authentication; APIKey, when set,
	// wins (an encoded key, or "id:key" which is encoded here).
	Username string
	Password secret.String
	APIKey   secret.String
	// MaxBytes bounds one bulk request (DefaultMaxBytes when 0).
	MaxBytes int
	// Concurrency is how many bulk requests are in flight at once
	// (1 when 0). They are started in order; each item's outcome is its
	// own, so the order they finish in does not matter.
	Concurrency int
	// ItemRetries is how many times items rejected with a retryable
	// status are sent again in the same run, waiting RetryWait, then twice
	// as long, and so on.
	ItemRetries int
	RetryWait   time.Duration
	// Log gets one debug line per bulk request.
	Log *slog.Logger
}

// endpoint returns the URL of path under the base URL.
func (c *Client) endpoint(path string) string {
	u := *c.URL
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawPath = ""
	return u.String()
}

// do sends one request and reads the response.
func (c *Client) do(ctx context.Context, method, path, contentType string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint(path), bytes.NewReader(body))
	if err != nil {
		return 0, nil, c.HTTP.RedactError(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	switch {
	case c.APIKey.IsSet():
		key := c.APIKey.Reveal()
		if strings.Contains(key, ":") {
			key = base64.StdEncoding.EncodeToString([]byte(key))
		}
		req.Header.Set("Authorization", "ApiKey "+key)
	case c.Username != "":
		req.SetBasicAuth(c.Username, c.Password.Reveal())
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return resp.StatusCode, nil, c.HTTP.RedactError(fmt.Errorf("read response of %s %s: %w", method, path, err))
	}
	// An error body is masked before anything cuts it for a message: a
	// credential echoed across a cut would otherwise show half of itself.
	if resp.StatusCode/100 != 2 || bytes.Contains(b, []byte(`"errors":true`)) {
		b = []byte(c.HTTP.Redact(string(b)))
	}
	return resp.StatusCode, b, nil
}

// esError is Elasticsearch's error object.
type esError struct {
	Type     string   `json:"type"`
	Reason   string   `json:"reason"`
	CausedBy *esError `json:"caused_by"`
}

// String is the error with its whole chain of causes, for errors about
// requests (a template, authentication), which carry no document content.
func (e *esError) String() string {
	if e == nil {
		return ""
	}
	s := e.Type
	if r := cleanReason(e.Reason); r != "" {
		s += ": " + r
	}
	if e.CausedBy != nil {
		s += " (caused by " + e.CausedBy.String() + ")"
	}
	return s
}

// itemString is the error of one document: its causes are named by type
// only, because their reasons quote the document's values ("For input
// string: ..."), which may be personal data.
func (e *esError) itemString() string {
	if e == nil {
		return "no error details"
	}
	s := e.Type
	if r := cleanReason(e.Reason); r != "" {
		s += ": " + r
	}
	for c := e.CausedBy; c != nil; c = c.CausedBy {
		s += " (caused by " + c.Type + ")"
	}
	return s
}

// cleanReason drops what Elasticsearch appends from the document itself.
// Reasons are also cut to 300 bytes: a rejected execution's reason dumps
// the thread pool's internals.
func cleanReason(r string) string {
	if i := strings.Index(r, "Preview of field's value"); i >= 0 {
		r = strings.TrimRight(r[:i], " .") + "."
	}
	return units.Clip(r, 300)
}

// requestError describes a whole request that failed with an HTTP status.
func (c *Client) requestError(what string, status int, body []byte) error {
	var doc struct {
		Error json.RawMessage `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &doc) == nil && len(doc.Error) > 0 {
		var e esError
		if json.Unmarshal(doc.Error, &e) == nil && e.Type != "" {
			msg = e.String()
		} else {
			var s string
			if json.Unmarshal(doc.Error, &s) == nil {
				msg = s
			}
		}
	}
	if msg == "" {
		msg = units.Clip(strings.TrimSpace(string(body)), 200)
	}
	hint := ""
	switch status {
	case http.StatusUnauthorized:
		hint = " (check --username/--password or --api-key)"
	case http.StatusForbidden:
		hint = " (the user lacks a privilege on the index)"
	case http.StatusNotFound:
		hint = " (check --url: is it the cluster's base URL?)"
	}
	if msg != "" {
		msg = ": " + msg
	}
	return &StatusError{Status: status, msg: fmt.Sprintf("%s: HTTP %d%s%s", what, status, c.HTTP.Redact(msg), hint)}
}

// StatusError is a request the cluster answered with an error status (as
// opposed to one it never answered).
type StatusError struct {
	Status int
	msg    string
}

func (e *StatusError) Error() string { return e.msg }

// PutTemplate installs (or replaces) the composable index template name.
func (c *Client) PutTemplate(ctx context.Context, name string, body []byte) error {
	status, resp, err := c.do(ctx, http.MethodPut, "/_index_template/"+url.PathEscape(name), "application/json", body)
	if err != nil {
		return fmt.Errorf("install index template %s: %w", name, err)
	}
	if status/100 != 2 {
		err := c.requestError("install index template "+name, status, resp)
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed || status == http.StatusNotImplemented {
			err = fmt.Errorf("%w; a server without index templates? run with --skip-template", err)
		}
		return err
	}
	return nil
}

// Send is Bulk in the spool's terms.
func (c *Client) Send(ctx context.Context, batch [][]byte) []error {
	items := make([]Item, len(batch))
	for i, b := range batch {
		items[i] = b
	}
	return c.Bulk(ctx, items)
}

var _ spool.SendFunc = (&Client{}).Send

// Bulk sends the items in order, in as few _bulk requests as MaxBytes
// allows, and returns one error per item (see the package doc for which
// are spool.Permanent).
func (c *Client) Bulk(ctx context.Context, items []Item) []error {
	errs := make([]error, len(items))
	// decided marks the items the store answered for, so that a request
	// failing as a whole after its first half was delivered does not mark
	// that half as failed.
	decided := make([]bool, len(items))
	pending := make([]int, len(items))
	for i := range pending {
		pending[i] = i
	}
	wait := c.RetryWait
	if wait <= 0 {
		wait = 500 * time.Millisecond
	}
	for round := 0; ; round++ {
		retry := c.round(ctx, items, pending, errs, decided)
		if len(retry) == 0 || round >= c.ItemRetries {
			return errs
		}
		select {
		case <-ctx.Done():
			return errs
		case <-time.After(wait):
		}
		wait *= 2
		for _, j := range retry {
			errs[j], decided[j] = nil, false
		}
		pending = retry
	}
}

// round sends the pending items once, Concurrency requests at a time, and
// returns those worth sending again now, in order. Once a request fails
// as a whole (the store is not answering), the requests not yet started
// are not sent: their items get that error.
func (c *Client) round(ctx context.Context, items []Item, pending []int, errs []error, decided []bool) []int {
	var (
		mu    sync.Mutex
		fatal error
		retry []int
		wg    sync.WaitGroup
	)
	sem := make(chan struct{}, max(1, c.Concurrency))
	for _, chunk := range c.chunks(items, pending) {
		sem <- struct{}{}
		mu.Lock()
		failed := fatal
		mu.Unlock()
		if failed != nil {
			<-sem
			for _, j := range chunk {
				errs[j] = failed
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			// Each request writes the errors of its own items only.
			r, err := c.sendChunk(ctx, items, chunk, errs, decided)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if fatal == nil {
					fatal = err
				}
				for _, j := range chunk {
					if !decided[j] {
						errs[j] = err
					}
				}
				return
			}
			retry = append(retry, r...)
		}()
	}
	wg.Wait()
	slices.Sort(retry)
	return retry
}

// chunks cuts the pending items into requests of at most MaxBytes (one
// item larger than that goes alone).
func (c *Client) chunks(items []Item, pending []int) [][]int {
	limit := c.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBytes
	}
	var out [][]int
	var cur []int
	size := 0
	for _, i := range pending {
		if len(cur) > 0 && size+len(items[i]) > limit {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, i)
		size += len(items[i])
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// sendChunk sends one bulk request, records each item's fate in errs and
// returns the items worth retrying now. A non-nil error means the request
// as a whole failed in a way that also dooms the requests after it.
func (c *Client) sendChunk(ctx context.Context, items []Item, chunk []int, errs []error, decided []bool) ([]int, error) {
	size := 0
	for _, i := range chunk {
		size += len(items[i])
	}
	body := make([]byte, 0, size)
	for _, i := range chunk {
		body = append(body, items[i]...)
	}
	start := time.Now()
	status, resp, err := c.do(ctx, http.MethodPost, "/_bulk", "application/x-ndjson", body)
	if c.Log != nil {
		c.Log.Debug("bulk request", "documents", len(chunk), "bytes", len(body), "status", status, "took", time.Since(start))
	}
	if err != nil {
		return nil, fmt.Errorf("bulk request: %w", err)
	}
	switch {
	case status/100 == 2:
		return c.readItems(chunk, resp, errs, decided)
	case (status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge) && len(chunk) > 1:
		// One document spoils the request: split until it is alone.
		half := len(chunk) / 2
		r1, err := c.sendChunk(ctx, items, chunk[:half], errs, decided)
		if err != nil {
			return r1, err
		}
		r2, err := c.sendChunk(ctx, items, chunk[half:], errs, decided)
		return append(r1, r2...), err
	case status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge:
		errs[chunk[0]] = spool.Permanent(c.requestError("elasticsearch rejected the event", status, resp))
		decided[chunk[0]] = true
		return nil, nil
	default:
		return nil, c.requestError("bulk request", status, resp)
	}
}

// bulkResponse is the _bulk answer: one object per action, in order,
// keyed by the action name.
type bulkResponse struct {
	Errors bool                    `json:"errors"`
	Items  []map[string]bulkResult `json:"items"`
}

type bulkResult struct {
	Status int      `json:"status"`
	Error  *esError `json:"error"`
}

func (c *Client) readItems(chunk []int, resp []byte, errs []error, decided []bool) ([]int, error) {
	var br bulkResponse
	if err := json.Unmarshal(resp, &br); err != nil {
		return nil, fmt.Errorf("bulk response is not JSON: %w", err)
	}
	if len(br.Items) != len(chunk) {
		return nil, fmt.Errorf("bulk response has %d items for %d documents", len(br.Items), len(chunk))
	}
	var retry []int
	for k, i := range chunk {
		var r bulkResult
		for _, v := range br.Items[k] {
			r = v
		}
		decided[i] = true
		switch {
		case r.Status/100 == 2, r.Status == http.StatusConflict:
			errs[i] = nil // created, or created by an earlier attempt
		case r.Status == http.StatusBadRequest || r.Status == http.StatusRequestEntityTooLarge:
			errs[i] = spool.Permanent(fmt.Errorf("elasticsearch rejected the event: %d %s", r.Status, c.HTTP.Redact(r.Error.itemString())))
		default:
			errs[i] = fmt.Errorf("elasticsearch did not store the event: %d %s", r.Status, c.HTTP.Redact(r.Error.itemString()))
			if httpx.Retryable(r.Status) {
				retry = append(retry, i)
			}
		}
	}
	return retry, nil
}
