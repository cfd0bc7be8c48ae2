package httpx_test

import (
	"bytes"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/secret"
)

// registered is the value every redaction test registers through
// Config.Redact, as a handler registers its routing key or API token.
const registered = "s3cr3t-value"

func TestDoErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		url    func(addr string) string
		leaks  []string
		redact *secret.Redactor
	}{
		{
			name:  "a URL password is redacted",
			url:   func(addr string) string { return "http://alice:hunter2pw@" + addr + "/" },
			leaks: []string{"hunter2pw"},
		},
		{
			name:  "a token query parameter is redacted",
			url:   func(addr string) string { return "http://" + addr + "/?token=tok-abc123" },
			leaks: []string{"tok-abc123"},
		},
		{
			name:  "an api_key query parameter after another one is redacted",
			url:   func(addr string) string { return "http://" + addr + "/v1?page=2&api_key=key-xyz789" },
			leaks: []string{"key-xyz789"},
		},
		{
			name:   "a registered value in the path is redacted",
			url:    func(addr string) string { return "http://" + addr + "/hooks/" + registered },
			leaks:  []string{registered},
			redact: secret.NewRedactor(registered),
		},
		{
			name:   "a registered value URL-encoded in the query is redacted",
			url:    func(addr string) string { return "http://" + addr + "/?q=" + url.QueryEscape("s3cr3t value/x") },
			leaks:  []string{"s3cr3t value/x", url.QueryEscape("s3cr3t value/x")},
			redact: secret.NewRedactor("s3cr3t value/x"),
		},
		{
			name: "all of them together are redacted",
			url: func(addr string) string {
				return "http://bob:hunter2pw@" + addr + "/hooks/" + registered + "?sig=sig-456789"
			},
			leaks:  []string{"hunter2pw", registered, "sig-456789"},
			redact: secret.NewRedactor(registered),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := closedAddr(t)
			cfg := fast(1)
			cfg.Redact = tt.redact
			c := newClient(t, cfg)

			resp, err := do(t, c, http.MethodGet, tt.url(addr), nil)

			require.Nil(t, resp)
			require.Error(t, err)
			for _, leak := range tt.leaks {
				require.NotContains(t, err.Error(), leak)
			}
			require.Contains(t, err.Error(), secret.Mask)
			require.Contains(t, err.Error(), addr, "the rest of the message is kept")
			require.ErrorIs(t, err, syscall.ECONNREFUSED, "redaction keeps the error chain")
		})
	}
}

func TestRetryLogLinesAreRedacted(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, failThen(503, 503))
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	target := "http://alice:hunter2pw@" + u.Host + "/hooks/" + registered + "?token=tok-abc123"
	var logs bytes.Buffer
	cfg := fast(3)
	cfg.Log = debugLog(&logs)
	cfg.Redact = secret.NewRedactor(registered)
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, target, nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lines := logLines(t, &logs)
	require.Len(t, lines, 2)
	for _, l := range lines {
		require.Equal(t, "http://alice:[REDACTED]@"+u.Host+"/hooks/[REDACTED]?token=[REDACTED]", l["url"])
	}
	require.NotContains(t, logs.String(), "hunter2pw")
	require.NotContains(t, logs.String(), registered)
	require.NotContains(t, logs.String(), "tok-abc123")
}

func TestStandardClientErrorsAreRedacted(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	cfg := fast(1)
	cfg.Redact = secret.NewRedactor(registered)
	c := newClient(t, cfg)

	resp, err := c.StandardClient().Get("http://alice:hunter2pw@" + addr + "/hooks/" + registered + "?token=tok-abc123")

	requireNoResponse(t, resp)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "hunter2pw", "the URL password never shows")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	// net/http wraps the transport's error in a *url.Error of its own; the
	// transport's error, which carries the retry history, is redacted.
	var uerr *url.Error
	require.ErrorAs(t, err, &uerr)
	inner := uerr.Err.Error()
	require.Contains(t, inner, "giving up after 2 attempt(s)")
	require.Contains(t, inner, secret.Mask)
	require.NotContains(t, inner, "hunter2pw")
	require.NotContains(t, inner, registered)
	require.NotContains(t, inner, "tok-abc123")
}

func TestClientRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		redact *secret.Redactor
		in     string
		want   string
	}{
		{
			name:   "registered values and URL credentials are redacted",
			redact: secret.NewRedactor(registered),
			in:     "upstream said " + registered + " is invalid for http://u:pw12@h/?token=abc",
			want:   "upstream said [REDACTED] is invalid for http://u:[REDACTED]@h/?token=[REDACTED]",
		},
		{
			name:   "without a redactor only URL credentials are redacted",
			redact: nil,
			in:     registered + " http://u:pw12@h/?api_key=abc",
			want:   registered + " http://u:[REDACTED]@h/?api_key=[REDACTED]",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := fast(0)
			cfg.Redact = tt.redact
			c := newClient(t, cfg)
			require.Equal(t, tt.want, c.Redact(tt.in))
		})
	}
}

func TestRedactionDoesNotHideTheErrorKind(t *testing.T) {
	t.Parallel()
	addr := closedAddr(t)
	cfg := fast(-1)
	cfg.Redact = secret.NewRedactor(registered)
	c := newClient(t, cfg)

	_, err := do(t, c, http.MethodGet, "http://"+addr+"/"+registered, nil)

	var uerr *url.Error
	require.ErrorAs(t, err, &uerr, "callers can still inspect the *url.Error")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.NotContains(t, err.Error(), registered)
}
