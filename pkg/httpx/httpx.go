// Package httpx builds the HTTP client every Vigil handler uses: retries
// with backoff on go-retryablehttp, TLS from PEM files, the proxy from the
// environment, and errors that never carry a credential.
//
// Retry policy: connection errors, 429 and 5xx (except 501) are retried
// with capped exponential backoff; a Retry-After header (seconds or an
// HTTP date) on 429 or any 5xx replaces the computed wait, up to
// MaxRetryAfter. Nothing is retried once the request's context is done,
// and TLS verification failures are not retried at all. When the retries
// are used up and the server did answer, the last response is returned
// (not an error), so that callers can read an Elasticsearch bulk body or a
// PagerDuty error message and decide what to spool.
//
// The Sensu SDK's CA helper reads only DER certificates (sensu.GetCACertificate
// calls x509.ParseCertificate on the raw file); here a CA file is a PEM
// bundle, as every other tool ships them.
package httpx

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/version"
)

// Config describes a client. The zero value is usable: 4 retries, 30 s
// per attempt, system CAs.
type Config struct {
	// Timeout bounds each attempt (connect to last byte). The caller's
	// context bounds the whole exchange, retries included.
	Timeout time.Duration
	// RetryMax is the number of retries after the first attempt; a
	// negative value disables retries.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the exponential backoff.
	RetryWaitMin, RetryWaitMax time.Duration
	// MaxRetryAfter caps how long a server's Retry-After may make us wait.
	MaxRetryAfter time.Duration
	// CAFile is a PEM bundle of CAs to trust instead of the system's.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and key (mTLS).
	CertFile, KeyFile string
	// InsecureSkipVerify disables server certificate verification.
	InsecureSkipVerify bool
	// Redact scrubs secrets from errors and logs; nil redacts only URL
	// credentials.
	Redact *secret.Redactor
	// Log receives one debug line per retry.
	Log *slog.Logger
}

// Defaults for Config's zero fields.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultRetryMax      = 4
	DefaultRetryWaitMin  = 500 * time.Millisecond
	DefaultRetryWaitMax  = 10 * time.Second
	DefaultMaxRetryAfter = 60 * time.Second
)

// Client is a retrying HTTP client.
type Client struct {
	rc     *retryablehttp.Client
	redact *secret.Redactor
}

// New builds a client. Reading the CA and certificate files is the only
// I/O; it fails with a message naming the file.
func New(cfg Config) (*Client, error) {
	tlsCfg, err := TLSConfig(cfg.CAFile, cfg.CertFile, cfg.KeyFile, cfg.InsecureSkipVerify)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RetryMax == 0 {
		cfg.RetryMax = DefaultRetryMax
	} else if cfg.RetryMax < 0 {
		cfg.RetryMax = 0
	}
	if cfg.RetryWaitMin <= 0 {
		cfg.RetryWaitMin = DefaultRetryWaitMin
	}
	if cfg.RetryWaitMax <= 0 {
		cfg.RetryWaitMax = DefaultRetryWaitMax
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	redact := cfg.Redact
	if redact == nil {
		redact = secret.NewRedactor()
	}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
		TLSClientConfig:       tlsCfg,
	}
	rc := &retryablehttp.Client{
		HTTPClient:   &http.Client{Transport: &userAgent{next: transport}, Timeout: cfg.Timeout},
		Logger:       nil, // retryablehttp would log URLs; we log redacted ones below
		RetryWaitMin: cfg.RetryWaitMin,
		RetryWaitMax: cfg.RetryWaitMax,
		RetryMax:     cfg.RetryMax,
		CheckRetry:   CheckRetry,
		Backoff:      Backoff(cfg.MaxRetryAfter),
		ErrorHandler: lastResponse,
		RequestLogHook: func(_ retryablehttp.Logger, r *http.Request, attempt int) {
			if attempt > 0 {
				log.Debug("retrying request", "method", r.Method, "url", redact.Redact(r.URL.String()), "attempt", attempt)
			}
		},
	}
	return &Client{rc: rc, redact: redact}, nil
}

// TLSConfig builds a TLS configuration from PEM files.
func TLSConfig(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // opt-in, and warned about by the plugins
	if caFile != "" {
		pem, err := os.ReadFile(caFile) //nolint:gosec // the operator's path
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("a client certificate needs both a certificate file and a key file")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate %s: %w", certFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Do sends the request with retries. The body must be rewindable (a
// []byte, *bytes.Reader or strings.Reader) for retries to resend it. The
// error, if any, is redacted.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, c.redact.Error(err)
	}
	resp, err := c.rc.Do(rreq)
	if err != nil {
		return nil, c.redact.Error(fmt.Errorf("%s %s: %w", req.Method, req.URL.Redacted(), err))
	}
	return resp, nil
}

// StandardClient returns an *http.Client that retries, for libraries that
// take one (go-pagerduty, go-elasticsearch). The transport's errors are
// redacted, but http.Client wraps them in a *url.Error that repeats the
// request URL (password masked, path and query not): pass errors that
// reach a user through RedactError.
func (c *Client) StandardClient() *http.Client {
	return &http.Client{Transport: &redactingTransport{rt: &retryablehttp.RoundTripper{Client: c.rc}, redact: c.redact}}
}

// Redact exposes the client's redactor for callers that build their own
// messages from responses.
func (c *Client) Redact(s string) string { return c.redact.Redact(s) }

// RedactError returns err with every credential masked, keeping
// errors.Is and errors.As working.
func (c *Client) RedactError(err error) error { return c.redact.Error(err) }

type redactingTransport struct {
	rt     http.RoundTripper
	redact *secret.Redactor
}

func (t *redactingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	return resp, t.redact.Error(err)
}

type userAgent struct{ next http.RoundTripper }

func (u *userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("User-Agent") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("User-Agent", "vigil/"+version.Version)
	}
	return u.next.RoundTrip(r)
}

// CheckRetry is the retry policy: no retry once the context is done;
// retry connection errors (except TLS verification), 429 and 5xx but 501,
// unless the request's context says the answer is final (WithFinal).
func CheckRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, context.Cause(ctx)
	}
	retry, err := retryablehttp.ErrorPropagatedRetryPolicy(ctx, resp, err)
	if final, ok := ctx.Value(finalKey{}).(func(int, []byte) bool); ok && retry && resp != nil && final(resp.StatusCode, peek(resp)) {
		return false, nil
	}
	return retry, err
}

type finalKey struct{}

// WithFinal returns a context whose requests are not retried when final
// says, from the status and the first 4 KiB of the body, that the answer
// will not change: a server that answers 500 to a request it will never
// take (Prometheus' "too old sample") would otherwise be asked again and
// again. The response then goes to the caller as it is.
func WithFinal(ctx context.Context, final func(status int, body []byte) bool) context.Context {
	return context.WithValue(ctx, finalKey{}, final)
}

// peek returns the start of the body and leaves the body readable from
// its beginning.
func peek(resp *http.Response) []byte {
	if resp.Body == nil {
		return nil
	}
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
	return head
}

// Retryable reports whether a final HTTP status is worth trying again
// later (spooling): 408, 429 and 5xx but 501.
func Retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests ||
		(status >= 500 && status != http.StatusNotImplemented)
}

// Backoff returns the backoff policy: a Retry-After header on 429 or 5xx
// wins (capped at maxRetryAfter); otherwise exponential from min, capped
// at max, with up to 20 % jitter so that many handlers started by one
// outage do not retry in lockstep.
func Backoff(maxRetryAfter time.Duration) retryablehttp.Backoff {
	return func(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
		if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500) {
			if d, ok := RetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				return max(min(d, maxRetryAfter), 0)
			}
		}
		// minWait·2^attempt, without overflowing: stop doubling at maxWait.
		wait := minWait
		for range min(attempt, 62) {
			if wait >= maxWait/2 {
				wait = maxWait
				break
			}
			wait *= 2
		}
		if wait <= 0 || wait > maxWait {
			wait = maxWait
		}
		return wait - time.Duration(rand.Int64N(int64(wait)/5+1)) //nolint:gosec // jitter, not security
	}
}

// RetryAfter parses a Retry-After value: delta seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		// A value past what a Duration holds would overflow into a
		// negative wait; it means "much later", which the caller caps.
		if s > int64(math.MaxInt64/time.Second) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// lastResponse hands the last response to the caller when retries are
// used up, instead of an error that hides the body.
func lastResponse(resp *http.Response, err error, attempts int) (*http.Response, error) {
	if resp != nil {
		return resp, nil
	}
	if err == nil {
		err = errors.New("no response")
	}
	return nil, fmt.Errorf("giving up after %d attempt(s): %w", attempts, err)
}
