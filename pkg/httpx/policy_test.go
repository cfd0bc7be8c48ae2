package httpx_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/httpx"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{name: "an empty value is absent", in: "", wantOK: false},
		{name: "zero seconds is no wait", in: "0", want: 0, wantOK: true},
		{name: "one second", in: "1", want: time.Second, wantOK: true},
		{name: "two minutes in seconds", in: "120", want: 2 * time.Minute, wantOK: true},
		{name: "a negative number is invalid", in: "-1", wantOK: false},
		{name: "a fraction is invalid", in: "1.5", wantOK: false},
		{name: "a word is invalid", in: "soon", wantOK: false},
		{name: "an HTTP date ahead is the time until then", in: now.Add(90 * time.Second).Format(http.TimeFormat), want: 90 * time.Second, wantOK: true},
		{name: "an RFC 850 date is accepted", in: now.Add(30 * time.Second).Format(time.RFC850), want: 30 * time.Second, wantOK: true},
		{name: "an ANSI C date is accepted", in: now.Add(45 * time.Second).Format(time.ANSIC), want: 45 * time.Second, wantOK: true},
		{name: "the current date is no wait", in: now.Format(http.TimeFormat), want: 0, wantOK: true},
		{name: "a date in the past is no wait", in: now.Add(-time.Hour).Format(http.TimeFormat), want: 0, wantOK: true},
		{name: "a malformed date is invalid", in: "Fri, 32 Jan 2026 03:04:05 GMT", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := httpx.RetryAfter(tt.in, now)
			require.Equal(t, tt.wantOK, ok)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status int
		want   bool
	}{
		{name: "200 is final", status: http.StatusOK, want: false},
		{name: "202 is final", status: http.StatusAccepted, want: false},
		{name: "301 is final", status: http.StatusMovedPermanently, want: false},
		{name: "400 is final", status: http.StatusBadRequest, want: false},
		{name: "401 is final", status: http.StatusUnauthorized, want: false},
		{name: "403 is final", status: http.StatusForbidden, want: false},
		{name: "404 is final", status: http.StatusNotFound, want: false},
		{name: "413 is final", status: http.StatusRequestEntityTooLarge, want: false},
		{name: "408 is worth trying later", status: http.StatusRequestTimeout, want: true},
		{name: "429 is worth trying later", status: http.StatusTooManyRequests, want: true},
		{name: "500 is worth trying later", status: http.StatusInternalServerError, want: true},
		{name: "501 is final", status: http.StatusNotImplemented, want: false},
		{name: "502 is worth trying later", status: http.StatusBadGateway, want: true},
		{name: "503 is worth trying later", status: http.StatusServiceUnavailable, want: true},
		{name: "504 is worth trying later", status: http.StatusGatewayTimeout, want: true},
		{name: "599 is worth trying later", status: 599, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, httpx.Retryable(tt.status))
		})
	}
}

// header is a response header with an optional Retry-After.
func header(retryAfter string) http.Header {
	h := http.Header{}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	return h
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	const (
		minWait = 100 * time.Millisecond
		maxWait = time.Second
		capRA   = 30 * time.Second
	)
	tests := []struct {
		name     string
		min, max time.Duration
		attempt  int
		code     int // 0 means no response
		after    func() string
		low      time.Duration
		high     time.Duration
	}{
		{name: "Retry-After on 429 wins", attempt: 0, code: 429, after: func() string { return "5" }, low: 5 * time.Second, high: 5 * time.Second},
		{name: "Retry-After on 500 wins", attempt: 2, code: 500, after: func() string { return "5" }, low: 5 * time.Second, high: 5 * time.Second},
		{name: "Retry-After on 503 wins", attempt: 0, code: 503, after: func() string { return "7" }, low: 7 * time.Second, high: 7 * time.Second},
		{name: "Retry-After of zero means no wait", attempt: 3, code: 429, after: func() string { return "0" }, low: 0, high: 0},
		{name: "Retry-After beyond the cap waits the cap", attempt: 0, code: 429, after: func() string { return "120" }, low: capRA, high: capRA},
		{name: "a Retry-After date is the time until then", attempt: 0, code: 503, after: func() string {
			return time.Now().Add(10 * time.Second).UTC().Format(http.TimeFormat)
		}, low: 8 * time.Second, high: 10 * time.Second},
		{name: "a Retry-After date beyond the cap waits the cap", attempt: 0, code: 429, after: func() string {
			return time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
		}, low: capRA, high: capRA},
		{name: "Retry-After on 400 is ignored", attempt: 0, code: 400, after: func() string { return "5" }, low: 80 * time.Millisecond, high: minWait},
		{name: "an invalid Retry-After falls back to backoff", attempt: 0, code: 429, after: func() string { return "soon" }, low: 80 * time.Millisecond, high: minWait},
		{name: "no response falls back to backoff", attempt: 0, code: 0, low: 80 * time.Millisecond, high: minWait},
		{name: "the first retry waits about min", attempt: 0, code: 503, after: func() string { return "" }, low: 80 * time.Millisecond, high: minWait},
		{name: "the second retry waits about twice min", attempt: 1, code: 503, after: func() string { return "" }, low: 160 * time.Millisecond, high: 200 * time.Millisecond},
		{name: "the fourth retry waits about eight times min", attempt: 3, code: 0, low: 640 * time.Millisecond, high: 800 * time.Millisecond},
		{name: "the wait is capped at max", attempt: 4, code: 0, low: 800 * time.Millisecond, high: maxWait},
		{name: "a huge attempt number is capped at max", attempt: 1000, code: 0, low: 800 * time.Millisecond, high: maxWait},
		{name: "min above max waits max", min: 5 * time.Second, attempt: 0, code: 0, low: 800 * time.Millisecond, high: maxWait},
	}
	backoff := httpx.Backoff(capRA)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lo, hi := tt.min, tt.max
			if lo == 0 {
				lo = minWait
			}
			if hi == 0 {
				hi = maxWait
			}
			// The jitter is random: every draw must stay in bounds.
			for range 200 {
				var resp *http.Response
				if tt.code != 0 {
					resp = &http.Response{StatusCode: tt.code, Header: header(tt.after())}
				}
				got := backoff(lo, hi, tt.attempt, resp)
				require.GreaterOrEqual(t, got, tt.low)
				require.LessOrEqual(t, got, tt.high)
			}
		})
	}
}

func TestBackoffJitterSpreadsTheWaits(t *testing.T) {
	t.Parallel()
	backoff := httpx.Backoff(time.Minute)
	seen := map[time.Duration]bool{}
	for range 100 {
		seen[backoff(time.Second, 10*time.Second, 2, nil)] = true
	}
	require.Greater(t, len(seen), 10, "handlers started by one outage must not retry in lockstep")
}

func TestCheckRetry(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	errCause := errors.New("agent shutting down")
	withCause, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(errCause)
	refused := &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	untrusted := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/", Err: &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}}

	tests := []struct {
		name      string
		ctx       context.Context
		code      int // 0 means no response
		err       error
		wantRetry bool
		wantErrIs error
	}{
		{name: "429 is retried", ctx: context.Background(), code: 429, wantRetry: true},
		{name: "500 is retried", ctx: context.Background(), code: 500, wantRetry: true},
		{name: "502 is retried", ctx: context.Background(), code: 502, wantRetry: true},
		{name: "503 is retried", ctx: context.Background(), code: 503, wantRetry: true},
		{name: "501 is not retried", ctx: context.Background(), code: 501, wantRetry: false},
		{name: "200 is not retried", ctx: context.Background(), code: 200, wantRetry: false},
		{name: "400 is not retried", ctx: context.Background(), code: 400, wantRetry: false},
		{name: "404 is not retried", ctx: context.Background(), code: 404, wantRetry: false},
		{name: "408 is not retried", ctx: context.Background(), code: 408, wantRetry: false},
		{name: "a refused connection is retried", ctx: context.Background(), err: refused, wantRetry: true},
		{name: "a TLS verification failure is not retried", ctx: context.Background(), err: untrusted, wantRetry: false, wantErrIs: untrusted},
		{name: "a cancelled context stops retries even on 503", ctx: cancelled, code: 503, wantRetry: false, wantErrIs: context.Canceled},
		{name: "a cancelled context stops retries of a connection error", ctx: cancelled, err: refused, wantRetry: false, wantErrIs: context.Canceled},
		{name: "a cancellation cause is returned", ctx: withCause, code: 503, wantRetry: false, wantErrIs: errCause},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var resp *http.Response
			if tt.code != 0 {
				resp = &http.Response{StatusCode: tt.code, Header: http.Header{}}
			}
			retry, err := httpx.CheckRetry(tt.ctx, resp, tt.err)
			require.Equal(t, tt.wantRetry, retry)
			if tt.wantErrIs != nil {
				require.ErrorIs(t, err, tt.wantErrIs)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	require.Equal(t, 30*time.Second, httpx.DefaultTimeout)
	require.Equal(t, 4, httpx.DefaultRetryMax)
	require.Equal(t, 500*time.Millisecond, httpx.DefaultRetryWaitMin)
	require.Equal(t, 10*time.Second, httpx.DefaultRetryWaitMax)
	require.Equal(t, 60*time.Second, httpx.DefaultMaxRetryAfter)
}

func TestZeroConfigIsUsable(t *testing.T) {
	t.Parallel()
	srv, rec := serve(t, status(http.StatusOK))
	c, err := httpx.New(httpx.Config{})
	require.NoError(t, err)

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, rec.all(), 1)
}

func TestHugeRetryAfterWaitsTheCapNotZero(t *testing.T) {
	t.Parallel()
	d, ok := httpx.RetryAfter("10000000000", time.Now())
	require.True(t, ok)
	require.Positive(t, d, "no overflow into a negative wait")
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": []string{"99999999999999"}}}
	require.Equal(t, 42*time.Second, httpx.Backoff(42*time.Second)(time.Second, time.Minute, 0, resp))
}

func TestBackoffDoesNotOverflowOnManyAttempts(t *testing.T) {
	t.Parallel()
	for _, attempt := range []int{30, 31, 62, 63, 1000} {
		w := httpx.Backoff(time.Minute)((1<<34+1)*time.Nanosecond, time.Minute, attempt, nil)
		require.Greater(t, w, 47*time.Second, "attempt %d: the cap less 20%% jitter", attempt)
		require.LessOrEqual(t, w, time.Minute)
	}
}
