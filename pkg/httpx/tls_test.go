package httpx_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"io/fs"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/httpx"
)

func okBody(_ int, w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "secure") }

func TestTLSServerWithoutTrustedCAFailsAndIsNotRetried(t *testing.T) {
	t.Parallel()
	otherCA := newCA(t, "some other CA")
	tests := []struct {
		name   string
		caFile func(t *testing.T) string
	}{
		{name: "the system roots do not trust a test certificate", caFile: func(*testing.T) string { return "" }},
		{name: "a CA bundle of another CA does not trust it", caFile: func(t *testing.T) string { return writeFile(t, "other.pem", otherCA.pem) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec, conns := serveTLS(t, nil, okBody)
			cfg := fast(3)
			cfg.CAFile = tt.caFile(t)
			c := newClient(t, cfg)

			resp, err := do(t, c, http.MethodGet, srv.URL, nil)

			require.Nil(t, resp)
			require.ErrorContains(t, err, "x509")
			require.ErrorContains(t, err, "giving up after 1 attempt(s)")
			var verr *tls.CertificateVerificationError
			require.ErrorAs(t, err, &verr)
			var uerr x509.UnknownAuthorityError
			require.ErrorAs(t, err, &uerr)
			require.Equal(t, int64(1), conns.Load(), "a verification failure is not retried")
			require.Empty(t, rec.all())
		})
	}
}

func TestTLSServerTrustedThroughCAFile(t *testing.T) {
	t.Parallel()
	srv, rec, _ := serveTLS(t, nil, okBody)
	caFile := writeFile(t, "ca.pem", certPEM(srv.Certificate().Raw))
	cfg := fast(3)
	cfg.CAFile = caFile
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, srv.URL+"/secure", nil)

	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "secure", resp.body)
	require.NotNil(t, resp.TLS)
	require.GreaterOrEqual(t, resp.TLS.Version, uint16(tls.VersionTLS12))
	require.Len(t, rec.all(), 1)
}

func TestTLSServerWithAGeneratedCAInABundle(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "vigil test CA")
	other := newCA(t, "unrelated CA")
	srv, rec, _ := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{ca.keyPair(t, "server", x509.ExtKeyUsageServerAuth)}}, okBody)
	// A bundle holds several certificates; the signer may be any of them.
	bundle := append(append([]byte{}, other.pem...), ca.pem...)
	cfg := fast(0)
	cfg.CAFile = writeFile(t, "bundle.pem", bundle)
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, "secure", resp.body)
	require.Len(t, rec.all(), 1)
}

func TestTLSInsecureSkipVerifyAcceptsAnyCertificate(t *testing.T) {
	t.Parallel()
	srv, rec, _ := serveTLS(t, nil, okBody)
	cfg := fast(0)
	cfg.InsecureSkipVerify = true
	c := newClient(t, cfg)

	resp, err := do(t, c, http.MethodGet, srv.URL, nil)

	require.NoError(t, err)
	require.Equal(t, "secure", resp.body)
	require.Len(t, rec.all(), 1)
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "vigil test CA")
	serverCfg := &tls.Config{
		Certificates: []tls.Certificate{ca.keyPair(t, "server", x509.ExtKeyUsageServerAuth)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
	}
	caFile := writeFile(t, "ca.pem", ca.pem)

	t.Run("a client certificate signed by the CA is accepted", func(t *testing.T) {
		t.Parallel()
		srv, rec, _ := serveTLS(t, serverCfg, okBody)
		certPEMBytes, keyPEMBytes := ca.issue(t, "vigil-client", x509.ExtKeyUsageClientAuth)
		cfg := fast(0)
		cfg.CAFile = caFile
		cfg.CertFile = writeFile(t, "client.pem", certPEMBytes)
		cfg.KeyFile = writeFile(t, "client-key.pem", keyPEMBytes)
		c := newClient(t, cfg)

		resp, err := do(t, c, http.MethodGet, srv.URL, nil)

		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "secure", resp.body)
		hits := rec.all()
		require.Len(t, hits, 1)
		require.Equal(t, "vigil-client", hits[0].clientCN)
	})
	t.Run("no client certificate is refused by the server", func(t *testing.T) {
		t.Parallel()
		srv, rec, _ := serveTLS(t, serverCfg, okBody)
		cfg := fast(-1)
		cfg.CAFile = caFile
		c := newClient(t, cfg)

		resp, err := do(t, c, http.MethodGet, srv.URL, nil)

		require.Nil(t, resp)
		require.ErrorContains(t, err, "certificate")
		require.Empty(t, rec.all())
	})
	t.Run("a client certificate of another CA is refused by the server", func(t *testing.T) {
		t.Parallel()
		srv, rec, _ := serveTLS(t, serverCfg, okBody)
		certPEMBytes, keyPEMBytes := newCA(t, "rogue CA").issue(t, "rogue-client", x509.ExtKeyUsageClientAuth)
		cfg := fast(-1)
		cfg.CAFile = caFile
		cfg.CertFile = writeFile(t, "client.pem", certPEMBytes)
		cfg.KeyFile = writeFile(t, "client-key.pem", keyPEMBytes)
		c := newClient(t, cfg)

		resp, err := do(t, c, http.MethodGet, srv.URL, nil)

		require.Nil(t, resp)
		require.Error(t, err)
		require.Empty(t, rec.all())
	})
}

func TestNewRejectsBadTLSFiles(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "vigil test CA")
	certPEMBytes, keyPEMBytes := ca.issue(t, "vigil-client", x509.ExtKeyUsageClientAuth)
	_, otherKeyPEM := ca.issue(t, "other", x509.ExtKeyUsageClientAuth)
	tests := []struct {
		name      string
		cfg       func(t *testing.T) httpx.Config
		wantErr   []string
		wantErrIs error
	}{
		{
			name: "a CA file holding garbage names the file",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{CAFile: writeFile(t, "garbage.pem", []byte("this is not a certificate\n"))}
			},
			wantErr: []string{"CA bundle ", "garbage.pem", "holds no PEM certificate"},
		},
		{
			name: "an empty CA file names the file",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{CAFile: writeFile(t, "empty.pem", nil)}
			},
			wantErr: []string{"empty.pem", "holds no PEM certificate"},
		},
		{
			name: "a CA file holding only a key names the file",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{CAFile: writeFile(t, "key.pem", keyPEMBytes)}
			},
			wantErr: []string{"key.pem", "holds no PEM certificate"},
		},
		{
			name: "a missing CA file names the file",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{CAFile: t.TempDir() + "/absent-ca.pem"}
			},
			wantErr:   []string{"read CA bundle", "absent-ca.pem"},
			wantErrIs: fs.ErrNotExist,
		},
		{
			name: "a certificate file without a key file is an error",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{CertFile: writeFile(t, "client.pem", certPEMBytes)}
			},
			wantErr: []string{"needs both a certificate file and a key file"},
		},
		{
			name: "a key file without a certificate file is an error",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{KeyFile: writeFile(t, "client-key.pem", keyPEMBytes)}
			},
			wantErr: []string{"needs both a certificate file and a key file"},
		},
		{
			name: "a garbage certificate file names the file",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{
					CertFile: writeFile(t, "bad-client.pem", []byte("garbage")),
					KeyFile:  writeFile(t, "client-key.pem", keyPEMBytes),
				}
			},
			wantErr: []string{"load client certificate", "bad-client.pem"},
		},
		{
			name: "a key that does not match the certificate is an error",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{
					CertFile: writeFile(t, "client.pem", certPEMBytes),
					KeyFile:  writeFile(t, "other-key.pem", otherKeyPEM),
				}
			},
			wantErr: []string{"load client certificate", "client.pem"},
		},
		{
			name: "a missing key file is an error",
			cfg: func(t *testing.T) httpx.Config {
				return httpx.Config{
					CertFile: writeFile(t, "client.pem", certPEMBytes),
					KeyFile:  t.TempDir() + "/absent-key.pem",
				}
			},
			wantErr:   []string{"load client certificate"},
			wantErrIs: fs.ErrNotExist,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := httpx.New(tt.cfg(t))
			require.Error(t, err)
			require.Nil(t, c)
			for _, want := range tt.wantErr {
				require.ErrorContains(t, err, want)
			}
			if tt.wantErrIs != nil {
				require.ErrorIs(t, err, tt.wantErrIs)
			}
		})
	}
}

func TestTLSConfig(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "vigil test CA")
	certPEMBytes, keyPEMBytes := ca.issue(t, "vigil-client", x509.ExtKeyUsageClientAuth)
	caFile := writeFile(t, "ca.pem", ca.pem)
	certFile := writeFile(t, "client.pem", certPEMBytes)
	keyFile := writeFile(t, "client-key.pem", keyPEMBytes)

	t.Run("no files means system roots, no client certificate and TLS 1.2 at least", func(t *testing.T) {
		t.Parallel()
		cfg, err := httpx.TLSConfig("", "", "", false)
		require.NoError(t, err)
		require.Nil(t, cfg.RootCAs)
		require.Empty(t, cfg.Certificates)
		require.False(t, cfg.InsecureSkipVerify)
		require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	})
	t.Run("insecure is passed through", func(t *testing.T) {
		t.Parallel()
		cfg, err := httpx.TLSConfig("", "", "", true)
		require.NoError(t, err)
		require.True(t, cfg.InsecureSkipVerify)
	})
	t.Run("all files are loaded", func(t *testing.T) {
		t.Parallel()
		cfg, err := httpx.TLSConfig(caFile, certFile, keyFile, false)
		require.NoError(t, err)
		require.NotNil(t, cfg.RootCAs)
		require.True(t, cfg.RootCAs.Equal(ca.pool()))
		require.Len(t, cfg.Certificates, 1)
		leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
		require.NoError(t, err)
		require.Equal(t, "vigil-client", leaf.Subject.CommonName)
		require.Equal(t, uint16(tls.VersionTLS12), cfg.MinVersion)
	})
}
