package httpx_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/version"
)

func TestRetryAfterSecondsIsHonoured(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	// Without the header the client would wait about a millisecond.
	c := newClient(t, fast(3))

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", resp.body)
	hits := rec.all()
	require.Len(t, hits, 2)
	require.GreaterOrEqual(t, hits[1].at.Sub(hits[0].at), 900*time.Millisecond)
}

func TestRetryAfterHTTPDateIsHonoured(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			// HTTP dates have whole seconds: two seconds ahead means a
			// wait of more than one second.
			w.Header().Set("Retry-After", time.Now().Add(2*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := newClient(t, fast(3))

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	hits := rec.all()
	require.Len(t, hits, 2)
	gap := hits[1].at.Sub(hits[0].at)
	require.GreaterOrEqual(t, gap, 900*time.Millisecond)
	require.Less(t, gap, 3*time.Second)
}

func TestRetryAfterIsCappedAtMaxRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		code       int
		retryAfter func() string
	}{
		{name: "an hour in seconds on 429 waits only the cap", code: http.StatusTooManyRequests, retryAfter: func() string { return "3600" }},
		{name: "an hour in seconds on 503 waits only the cap", code: http.StatusServiceUnavailable, retryAfter: func() string { return "3600" }},
		{name: "a date an hour ahead waits only the cap", code: http.StatusTooManyRequests, retryAfter: func() string {
			return time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter())
					w.WriteHeader(tt.code)
					return
				}
				_, _ = io.WriteString(w, "ok")
			})
			cfg := fast(3)
			cfg.MaxRetryAfter = 100 * time.Millisecond
			c := newClient(t, cfg)

			resp, err := do(t, c, http.MethodGet, srv.URL, nil)

			require.NoError(t, err)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			hits := rec.all()
			require.Len(t, hits, 2)
			gap := hits[1].at.Sub(hits[0].at)
			require.GreaterOrEqual(t, gap, 90*time.Millisecond, "the capped Retry-After still applies")
			require.Less(t, gap, 2*time.Second)
		})
	}
}

func TestRetryableStatusesAreRetriedThenTheLastResponseIsReturned(t *testing.T) {
	t.Parallel()
	for _, code := range []int{500, 502, 503, 504, 429} {
		t.Run(http.StatusText(code)+" is retried and its last response returned", func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, status(code))
			c := newClient(t, fast(2))

			resp, err := do(t, c, http.MethodGet, srv.URL, nil)

			require.NoError(t, err, "a server that answered is not an error")
			require.Equal(t, code, resp.StatusCode)
			require.Equal(t, "attempt 3", resp.body, "the body of the last attempt is readable")
			require.Len(t, rec.all(), 3, "one attempt and RetryMax retries")
		})
	}
}

func TestARetriedRequestThatSucceedsReturnsTheSuccess(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, failThen(500, 502, 503))
	c := newClient(t, fast(3))

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", resp.body)
	require.Len(t, rec.all(), 4)
}

func TestFinalStatusesAreNotRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		code int
	}{
		{name: "200 is returned at once", code: http.StatusOK},
		{name: "204 is returned at once", code: http.StatusNoContent},
		{name: "400 is not retried", code: http.StatusBadRequest},
		{name: "401 is not retried", code: http.StatusUnauthorized},
		{name: "403 is not retried", code: http.StatusForbidden},
		{name: "404 is not retried", code: http.StatusNotFound},
		{name: "408 is not retried by the client (only spooled)", code: http.StatusRequestTimeout},
		{name: "501 is not retried", code: http.StatusNotImplemented},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, status(tt.code))
			c := newClient(t, fast(3))

			resp, err := do(t, c, http.MethodGet, srv.URL, nil)

			require.NoError(t, err)
			require.Equal(t, tt.code, resp.StatusCode)
			if tt.code != http.StatusNoContent {
				require.Equal(t, "attempt 1", resp.body)
			}
			require.Len(t, rec.all(), 1)
		})
	}
}

func TestZeroRetryMaxMeansTheDefaultOfFourRetries(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, status(http.StatusBadGateway))
	cfg := fast(0)
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Len(t, rec.all(), 1+httpx.DefaultRetryMax)
}

func TestNegativeRetryMaxDisablesRetries(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, status(http.StatusServiceUnavailable))
	c := newClient(t, fast(-1))

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "attempt 1", resp.body)
	require.Len(t, rec.all(), 1)
}

func TestConnectionRefusedIsRetriedThenAnError(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	var logs bytes.Buffer
	cfg := fast(2)
	cfg.Log = debugLog(&logs)
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, "http://"+addr+"/", nil)

	require.Nil(t, resp)
	require.ErrorContains(t, err, "GET http://"+addr+"/")
	require.ErrorContains(t, err, "giving up after 3 attempt(s)")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	var opErr *net.OpError
	require.ErrorAs(t, err, &opErr)
	lines := logLines(t, &logs)
	require.Len(t, lines, 2, "one debug line per retry")
}

func TestRetriesAreLoggedAtDebugWithTheAttempt(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, failThen(503, 503))
	var logs bytes.Buffer
	cfg := fast(3)
	cfg.Log = debugLog(&logs)
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodPost, srv.URL+"/hook?page=2", strings.NewReader("x"))

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lines := logLines(t, &logs)
	require.Len(t, lines, 2)
	for i, l := range lines {
		require.Equal(t, "DEBUG", l["level"])
		require.Equal(t, "retrying request", l["msg"])
		require.Equal(t, "POST", l["method"])
		require.Equal(t, srv.URL+"/hook?page=2", l["url"])
		require.InDelta(t, float64(i+1), l["attempt"], 0)
	}
}

func TestASuccessOnTheFirstAttemptLogsNothing(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, status(http.StatusOK))
	var logs bytes.Buffer
	cfg := fast(3)
	cfg.Log = debugLog(&logs)
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Empty(t, logs.String())
}

func TestRequestBodiesAreResentIdenticallyOnRetries(t *testing.T) {
	t.Parallel()
	payload := `{"index":{"_id":"1"}}` + "\n" + `{"msg":"héllo"}` + "\n"
	tests := []struct {
		name       string
		body       func() io.Reader
		wantLength int64
	}{
		{name: "a bytes.Reader over a []byte is resent", body: func() io.Reader { return bytes.NewReader([]byte(payload)) }, wantLength: int64(len(payload))},
		{name: "a strings.Reader is resent", body: func() io.Reader { return strings.NewReader(payload) }, wantLength: int64(len(payload))},
		{name: "a bytes.Buffer is resent", body: func() io.Reader { return bytes.NewBufferString(payload) }, wantLength: int64(len(payload))},
		{name: "a plain reader of unknown length is resent", body: func() io.Reader {
			return io.MultiReader(strings.NewReader(payload[:5]), strings.NewReader(payload[5:]))
		}, wantLength: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, failThen(503, 500))
			c := newClient(t, fast(3))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/_bulk", tt.body())
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/x-ndjson")

			resp, err := c.Do(req)

			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			hits := rec.all()
			require.Len(t, hits, 3)
			for i, h := range hits {
				require.Equal(t, http.MethodPost, h.method, "attempt %d", i+1)
				require.Equal(t, "/_bulk", h.requestURI, "attempt %d", i+1)
				require.Equal(t, "application/x-ndjson", h.contentType, "attempt %d", i+1)
				require.Equal(t, tt.wantLength, h.contentLength, "attempt %d", i+1)
				require.Equal(t, payload, string(h.body), "attempt %d", i+1)
			}
		})
	}
}

func TestARequestWithoutBodyIsRetriedWithoutBody(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, failThen(503))
	c := newClient(t, fast(3))

	resp, err := do(t, c, http.MethodDelete, srv.URL+"/x", nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	hits := rec.all()
	require.Len(t, hits, 2)
	for _, h := range hits {
		require.Equal(t, http.MethodDelete, h.method)
		require.Empty(t, h.body)
	}
}

func TestABodyThatCannotBeReadIsAnErrorAndNothingIsSent(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, status(http.StatusOK))
	c := newClient(t, fast(3))
	readErr := errors.New("disk on fire")

	resp, err := do(t, c, http.MethodPost, srv.URL, iotest.ErrReader(readErr))

	require.Nil(t, resp)
	require.ErrorIs(t, err, readErr)
	require.Empty(t, rec.all())
}

func TestADeadlineDuringTheBackoffStopsPromptly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		respond responder
	}{
		{name: "a long exponential backoff is cut short", respond: status(http.StatusServiceUnavailable)},
		{name: "a long Retry-After is cut short", respond: func(_ int, w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, tt.respond)
			c := newClient(t, httpx.Config{RetryMax: 3, RetryWaitMin: 20 * time.Second, RetryWaitMax: 20 * time.Second})
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			require.NoError(t, err)

			start := time.Now()
			resp, err := c.Do(req)
			elapsed := time.Since(start)

			requireNoResponse(t, resp)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			require.Less(t, elapsed, 3*time.Second)
			require.Len(t, rec.all(), 1)
		})
	}
}

func TestCancellingAnInFlightRequestStopsWithoutRetryAndKeepsTheCause(t *testing.T) {
	t.Parallel()
	started := make(chan struct{}, 1)
	srv, rec := serve(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		blockUntilGone(r)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	c := newClient(t, fast(5))
	errShutdown := errors.New("agent shutting down")
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	go func() {
		<-started
		cancel(errShutdown)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)

	start := time.Now()
	resp, err := c.Do(req)
	elapsed := time.Since(start)

	requireNoResponse(t, resp)
	require.ErrorIs(t, err, errShutdown)
	require.ErrorContains(t, err, "giving up after 1 attempt(s)")
	require.Less(t, elapsed, 3*time.Second)
	require.Len(t, rec.all(), 1)
}

func TestAnAlreadyCancelledContextSendsNothing(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, status(http.StatusOK))
	c := newClient(t, fast(3))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)

	resp, err := c.Do(req)

	requireNoResponse(t, resp)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, rec.all())
}

func TestTimeoutBoundsEachAttempt(t *testing.T) {
	t.Parallel()
	t.Run("a slow attempt times out and the retry succeeds", func(t *testing.T) {
		t.Parallel()
		srv, rec := serve(t, func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 1 {
				blockUntilGone(r)
				return
			}
			_, _ = io.WriteString(w, "ok")
		})
		cfg := fast(2)
		cfg.Timeout = 500 * time.Millisecond
		c := newClient(t, cfg)

		resp, err := do(t, c, http.MethodGet, srv.URL, nil)

		require.NoError(t, err)
		require.Equal(t, "ok", resp.body)
		require.Len(t, rec.all(), 2)
	})
	t.Run("a slow attempt without retries is a timeout error", func(t *testing.T) {
		t.Parallel()
		srv, rec := serve(t, func(_ int, _ http.ResponseWriter, r *http.Request) { blockUntilGone(r) })
		cfg := fast(-1)
		cfg.Timeout = 100 * time.Millisecond
		c := newClient(t, cfg)

		start := time.Now()
		resp, err := do(t, c, http.MethodGet, srv.URL, nil)

		require.Nil(t, resp)
		var netErr net.Error
		require.ErrorAs(t, err, &netErr)
		require.True(t, netErr.Timeout())
		require.Less(t, time.Since(start), 3*time.Second)
		require.Len(t, rec.all(), 1)
	})
}

func TestUserAgent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header string
		want   string
	}{
		{name: "a missing User-Agent is set to vigil/<version>", header: "", want: "vigil/" + version.Version},
		{name: "a caller's User-Agent is kept", header: "go-pagerduty/1.8", want: "go-pagerduty/1.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := serve(t, failThen(503))
			c := newClient(t, fast(2))
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			if tt.header != "" {
				req.Header.Set("User-Agent", tt.header)
			}

			resp, err := c.Do(req)

			require.NoError(t, err)
			defer resp.Body.Close()
			hits := rec.all()
			require.Len(t, hits, 2)
			for _, h := range hits {
				require.Equal(t, tt.want, h.userAgent, "every attempt carries it")
			}
			require.Equal(t, tt.header, req.Header.Get("User-Agent"), "the caller's request is not modified")
		})
	}
}

func TestStandardClientRetries(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, failThen(503, 502))
	c := newClient(t, fast(3))
	payload := []byte(`{"event_action":"trigger"}`)

	resp, err := c.StandardClient().Post(srv.URL+"/v2/enqueue", "application/json", bytes.NewReader(payload))

	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ok", readBody(t, resp))
	hits := rec.all()
	require.Len(t, hits, 3)
	for _, h := range hits {
		require.Equal(t, string(payload), string(h.body))
		require.Equal(t, "application/json", h.contentType)
		require.Equal(t, "vigil/"+version.Version, h.userAgent)
	}
}

func TestStandardClientReturnsTheLastResponseWhenRetriesRunOut(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, status(http.StatusInternalServerError))
	c := newClient(t, fast(1))

	resp, err := c.StandardClient().Get(srv.URL)

	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, "attempt 2", readBody(t, resp))
	require.Len(t, rec.all(), 2)
}

func TestStandardClientReturnsAnErrorWhenNothingAnswers(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	c := newClient(t, fast(1))

	resp, err := c.StandardClient().Get("http://" + addr + "/")

	requireNoResponse(t, resp)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.ErrorContains(t, err, "giving up after 2 attempt(s)")
}

func TestAnAnswerTheCallerCallsFinalIsNotRetried(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "too old sample", http.StatusInternalServerError)
	})
	c := newClient(t, fast(3))
	final := func(status int, body []byte) bool {
		return status == http.StatusInternalServerError && bytes.Contains(body, []byte("too old sample"))
	}
	req, err := http.NewRequestWithContext(httpx.WithFinal(t.Context(), final), http.MethodPost, srv.URL, strings.NewReader("x"))
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	require.Equal(t, "too old sample\n", string(body), "the body is read from its start")
	require.Len(t, rec.all(), 1, "not retried")

	// Another 500 is retried as usual.
	resp2, err := do(t, c, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusInternalServerError, resp2.StatusCode)
	require.Len(t, rec.all(), 1+4, "the first attempt and three retries")
}
