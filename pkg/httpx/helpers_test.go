package httpx_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/httpx"
)

// hit is one request as a test server saw it.
type hit struct {
	at            time.Time
	method        string
	requestURI    string
	host          string
	userAgent     string
	contentType   string
	contentLength int64
	body          []byte
	clientCN      string
}

// recorder keeps the requests a test server received, for the test
// goroutine to assert on.
type recorder struct {
	mu   sync.Mutex
	hits []hit
}

func (r *recorder) add(h hit) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hits = append(r.hits, h)
	return len(r.hits)
}

func (r *recorder) all() []hit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hit(nil), r.hits...)
}

// responder answers the n-th request (counting from 1).
type responder func(n int, w http.ResponseWriter, r *http.Request)

func recording(rec *recorder, respond responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := hit{
			at:            time.Now(),
			method:        r.Method,
			requestURI:    r.RequestURI,
			host:          r.Host,
			userAgent:     r.UserAgent(),
			contentType:   r.Header.Get("Content-Type"),
			contentLength: r.ContentLength,
			body:          body,
		}
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			h.clientCN = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		respond(rec.add(h), w, r)
	})
}

// serve starts a plain HTTP server on 127.0.0.1 that records requests.
func serve(t *testing.T, respond responder) (*httptest.Server, *recorder) {
	t.Helper()
	rec := &recorder{}
	srv := httptest.NewServer(recording(rec, respond))
	t.Cleanup(srv.Close)
	return srv, rec
}

// serveTLS starts a TLS server on 127.0.0.1 that records requests and
// counts accepted connections, so that a failed handshake still counts as
// an attempt. A nil cfg uses httptest's own certificate.
func serveTLS(t *testing.T, cfg *tls.Config, respond responder) (*httptest.Server, *recorder, *atomic.Int64) {
	t.Helper()
	rec := &recorder{}
	conns := &atomic.Int64{}
	srv := httptest.NewUnstartedServer(recording(rec, respond))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are expected
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, rec, conns
}

// status answers every request with code and a body naming the attempt.
func status(code int) responder {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "attempt "+strconv.Itoa(n))
	}
}

// failThen answers the first len(codes) requests with those codes, then 200.
func failThen(codes ...int) responder {
	return func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= len(codes) {
			w.WriteHeader(codes[n-1])
			_, _ = io.WriteString(w, "failure "+strconv.Itoa(n))
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
}

// blockUntilGone holds the request until the client goes away (or a
// generous fallback, so that a broken test cannot hang).
func blockUntilGone(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(10 * time.Second):
	}
}

// fast is a configuration whose retries wait about a millisecond.
func fast(retryMax int) httpx.Config {
	return httpx.Config{RetryMax: retryMax, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond}
}

func newClient(t *testing.T, cfg httpx.Config) *httpx.Client {
	t.Helper()
	c, err := httpx.New(cfg)
	require.NoError(t, err)
	require.NotNil(t, c)
	return c
}

// reply is a response whose body was read and closed.
type reply struct {
	StatusCode int
	TLS        *tls.ConnectionState
	body       string
}

// do sends a request bound to the test's context, with a deadline so that
// a regression in the waits fails the test instead of hanging it, and
// reads the whole response body.
func do(t *testing.T, c *httpx.Client, method, url string, body io.Reader) (*reply, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		require.Nil(t, resp, "an error comes without a response")
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err, "the response body is readable")
	return &reply{StatusCode: resp.StatusCode, TLS: resp.TLS, body: string(b)}, nil
}

// requireNoResponse fails the test when resp is not nil, closing it first.
func requireNoResponse(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Nil(t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// closedAddr returns a 127.0.0.1 address nobody listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// debugLog returns a logger that writes JSON lines at debug level to buf.
func debugLog(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func logLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var lines []map[string]any
	dec := json.NewDecoder(buf)
	for dec.More() {
		var m map[string]any
		require.NoError(t, dec.Decode(&m))
		lines = append(lines, m)
	}
	return lines
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, pem: certPEM(der)}
}

func (ca *testCA) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// issue signs a leaf certificate for 127.0.0.1 and returns it and its key
// as PEM.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEMBytes, keyPEMBytes []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return certPEM(der), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func (ca *testCA) keyPair(t *testing.T, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	c, k := ca.issue(t, cn, usage)
	pair, err := tls.X509KeyPair(c, k)
	require.NoError(t, err)
	return pair
}
