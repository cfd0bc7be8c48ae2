package deliver

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
)

var names = Names{Handler: "handler-x", EnvPrefix: "X", Token: "token", TokenEnv: "TOKEN", AllowTCP: true}

func valid() Options {
	return Options{URL: "https://store:9200", Retries: 2, SpoolMaxItems: 10, SpoolMaxBytes: 1 << 20}
}

func TestValidate(t *testing.T) {
	t.Setenv("VIGIL_STATE_DIR", "/var/lib/vigil")
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.URL = "store:9200" }, "--url (or X_URL)"},
		{func(o *Options) { o.URL = "tcp://store" }, "needs a host and a port"},
		{func(o *Options) { o.Password = "pw" }, "--password (or X_PASSWORD) needs --username"},
		{func(o *Options) { o.CertFile = "c.pem" }, "--cert-file and --key-file"},
		{func(o *Options) { o.Retries = -1 }, "--retries"},
		{func(o *Options) { o.SpoolMaxItems = 0 }, "--spool-max-events"},
	} {
		o := valid()
		tc.mod(&o)
		err := o.Validate(names, "")
		require.ErrorContains(t, err, tc.want)
	}

	a, b, c := valid(), valid(), valid()
	c.URL = "https://user:pw@store:9200"
	require.NoError(t, a.Validate(names, "db1"))
	require.NoError(t, b.Validate(names, "db2"))
	require.NoError(t, c.Validate(names, "db1"))
	require.True(t, strings.HasPrefix(a.SpoolDir, "/var/lib/vigil/spool/handler-x/"), a.SpoolDir)
	require.NotEqual(t, a.SpoolDir, b.SpoolDir, "two destinations never share a spool")
	require.Equal(t, a.SpoolDir, c.SpoolDir, "credentials in the URL do not change the destination")

	d := valid()
	d.NoSpool = true
	d.SpoolDir = "/somewhere"
	require.NoError(t, d.Validate(names, ""))
	require.Empty(t, d.SpoolDir)
}

func env(buf *bytes.Buffer) *plugin.Env {
	return &plugin.Env{Log: slog.New(slog.NewTextHandler(buf, nil)), Redact: secret.NewRedactor("tok-secret")}
}

func TestDeliverKeepsWhatTheStoreDoesNotTake(t *testing.T) {
	t.Parallel()
	o := valid()
	o.SpoolDir = t.TempDir()
	var logs bytes.Buffer
	down := func(_ context.Context, batch [][]byte) []error {
		errs := make([]error, len(batch))
		for i := range errs {
			errs[i] = errors.New("connection refused (token tok-secret)")
		}
		return errs
	}
	require.NoError(t, o.Deliver(context.Background(), env(&logs), []byte("one"), down), "kept is not lost")
	require.Contains(t, logs.String(), "kept in the spool")
	require.NotContains(t, logs.String(), "tok-secret")

	var got [][]byte
	up := func(_ context.Context, batch [][]byte) []error {
		got = append(got, batch...)
		return make([]error, len(batch))
	}
	require.NoError(t, o.Deliver(context.Background(), env(&logs), []byte("two"), up))
	require.Equal(t, [][]byte{[]byte("one"), []byte("two")}, got, "the spooled event first, in order")

	rejected := func(_ context.Context, batch [][]byte) []error {
		return []error{spool.Permanent(errors.New("mapping conflict"))}
	}
	require.ErrorContains(t, o.Deliver(context.Background(), env(&logs), []byte("three"), rejected), "mapping conflict")
	dead, err := os.ReadDir(filepath.Join(o.SpoolDir, "dead"))
	require.NoError(t, err)
	require.Len(t, dead, 2, "the event and its reason")

	o.SpoolDir = ""
	require.Error(t, o.Deliver(context.Background(), env(&logs), []byte("four"), down), "without a spool a failure is the handler's")
}

func TestDeliverLeavesTimeToSpoolBeforeTheDeadline(t *testing.T) {
	t.Parallel()
	o := valid()
	o.SpoolDir = t.TempDir()
	// A parent deadline long enough that a loaded machine's delay before
	// send starts does not eat the reserve (a fifth of what is left, up
	// to 2 s).
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	parent, _ := ctx.Deadline()
	var sendDeadline time.Time
	hang := func(ctx context.Context, batch [][]byte) []error {
		sendDeadline, _ = ctx.Deadline()
		<-ctx.Done()
		return []error{ctx.Err()}
	}
	var logs bytes.Buffer
	require.NoError(t, o.Deliver(ctx, env(&logs), []byte("event"), hang))
	require.NoError(t, ctx.Err(), "sending gave up before the handler's deadline")
	require.True(t, sendDeadline.Before(parent.Add(-250*time.Millisecond)), "send deadline %s, handler deadline %s", sendDeadline, parent)
	sp, err := spool.Open(context.Background(), o.SpoolDir, spool.Limits{})
	require.NoError(t, err)
	defer sp.Close()
	require.Equal(t, 1, sp.Len(), "the event is in the spool")
}

func TestTheClientRedactsEncodedCredentials(t *testing.T) {
	t.Parallel()
	o := valid()
	o.Username, o.Password, o.Token = "vigil", "pw-0123456789", "id:key-0123456789"
	var logs bytes.Buffer
	e := env(&logs)
	_, err := o.Client(e)
	require.NoError(t, err)
	for _, encoded := range []string{base64.StdEncoding.EncodeToString([]byte("vigil:pw-0123456789")), base64.StdEncoding.EncodeToString([]byte("id:key-0123456789"))} {
		require.NotContains(t, e.Redact.Redact("echoed header: Basic "+encoded), encoded)
	}
}
