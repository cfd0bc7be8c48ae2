// Package deliver is what the network handlers (handler-elasticsearch,
// handler-tsdb) share: the options for an endpoint, its credentials, TLS
// and the spool; the retrying client built from them (pkg/httpx); and the
// delivery of one event through the spool (pkg/spool), so that an event
// the store cannot take now is kept and sent first, in order, next time.
//
// Environment variables are named from a prefix: with "ELASTICSEARCH",
// --url is also ELASTICSEARCH_URL, --password ELASTICSEARCH_PASSWORD and so
// on. None of these options may be overridden by an entity annotation: a
// host must not be able to redirect its own events or read credentials.
//
// Exit status: a delivered event is success; an event kept in the spool
// is success too, with one warning line on stderr saying why it was kept
// (the next run delivers it; the backend's handler log shows the line); an
// event that cannot be kept (spool full or unwritable) or that the store
// rejected for good (moved to the spool's dead/ folder) is a failure, and
// the handler exits 1 with one line.
package deliver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/state"
)

// Options are the shared options of a network handler.
type Options struct {
	URL      string
	Username string
	Password secret.String
	// Token is an API key or bearer token (Elasticsearch API key, InfluxDB
	// 2.x token).
	Token              secret.String
	CAFile             string
	CertFile, KeyFile  string
	InsecureSkipVerify bool
	Retries            int
	SpoolDir           string
	NoSpool            bool
	SpoolMaxItems      int
	SpoolMaxBytes      int64
}

// Names says how a handler names the shared options.
type Names struct {
	// Handler is the binary's name, for the default spool directory.
	Handler string
	// EnvPrefix prefixes the environment variables (ELASTICSEARCH_URL).
	EnvPrefix string
	// DefaultURL is --url's default; empty makes --url required.
	DefaultURL string
	// URLUsage describes --url.
	URLUsage string
	// AllowTCP accepts tcp://HOST:PORT URLs besides http and https.
	AllowTCP bool
	// NoBasicAuth leaves out --username and --password (a store that
	// takes only a token).
	NoBasicAuth bool
	// Token is the flag name of the token option ("api-key", "token"),
	// TokenEnv its environment variable suffix, TokenUsage its help.
	Token, TokenEnv, TokenUsage string
}

func (n Names) env(suffix string) string { return n.EnvPrefix + "_" + suffix }

// Table returns the options, bound to o.
func (o *Options) Table(n Names) []plugin.Option {
	opts := []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "url", Shorthand: "u", Env: n.env("URL"), Default: n.DefaultURL, Value: &o.URL,
			Usage: n.URLUsage}, Kind: plugin.Endpoint, Required: n.DefaultURL == ""},
	}
	if !n.NoBasicAuth {
		opts = append(opts,
			plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "username", Env: n.env("USERNAME"), Value: &o.Username,
				Usage: "user name for basic authentication"}, Kind: plugin.Credential},
			plugin.Option{Spec: &sensu.PluginConfigOption[secret.String]{Argument: "password", Env: n.env("PASSWORD"), Secret: true, Value: &o.Password,
				Usage: "password for basic authentication (prefer the environment variable or --password-file)"}, Kind: plugin.Credential})
	}
	return append(opts, []plugin.Option{
		{Spec: &sensu.PluginConfigOption[secret.String]{Argument: n.Token, Env: n.env(n.TokenEnv), Secret: true, Value: &o.Token,
			Usage: n.TokenUsage}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "ca-file", Env: n.env("CA_FILE"), Value: &o.CAFile,
			Usage: "PEM bundle of the CAs to trust instead of the system's"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "cert-file", Env: n.env("CERT_FILE"), Value: &o.CertFile,
			Usage: "PEM client certificate (mutual TLS; needs --key-file)"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "key-file", Env: n.env("KEY_FILE"), Value: &o.KeyFile,
			Usage: "PEM key of the client certificate"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "insecure-skip-verify", Env: n.env("INSECURE_SKIP_VERIFY"), Value: &o.InsecureSkipVerify,
			Usage: "do not verify the server's certificate (warned on every run; for tests only)"}, Kind: plugin.Credential},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "retries", Env: n.env("RETRIES"), Default: httpx.DefaultRetryMax, Value: &o.Retries,
			Usage: "retries of a failed request (connection errors, 429, 5xx; Retry-After honoured) before the event is spooled"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "spool-dir", Env: n.env("SPOOL_DIR"), Value: &o.SpoolDir,
			Usage: "keep events that cannot be delivered here and send them first next time (default: $VIGIL_STATE_DIR/spool/" + n.Handler + "/HASH of the destination)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "no-spool", Env: n.env("NO_SPOOL"), Value: &o.NoSpool,
			Usage: "do not spool: an event that cannot be delivered fails the handler (exit 1)"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "spool-max-events", Env: n.env("SPOOL_MAX_EVENTS"), Default: spool.DefaultMaxItems, Value: &o.SpoolMaxItems,
			Usage: "most events the spool keeps; beyond it new events fail the handler"}},
		{Spec: &sensu.PluginConfigOption[int64]{Argument: "spool-max-bytes", Env: n.env("SPOOL_MAX_BYTES"), Default: spool.DefaultMaxBytes, Value: &o.SpoolMaxBytes,
			Usage: "most bytes the spool keeps"}},
	}...)
}

// Validate checks the shared options and fills the default spool
// directory: one per handler, URL and key (what else decides where the
// spooled bytes go, such as a database name), so that two handler
// definitions never replay each other's events. It does no I/O.
func (o *Options) Validate(n Names, key string) error {
	if u, err := url.Parse(o.URL); n.AllowTCP && err == nil && u.Scheme == "tcp" {
		if u.Hostname() == "" || u.Port() == "" {
			return fmt.Errorf("--url (or %s): a tcp:// URL needs a host and a port", n.env("URL"))
		}
	} else if err := plugin.ValidateURL("url", n.env("URL"), o.URL); err != nil {
		return err
	}
	if o.Password.IsSet() && o.Username == "" {
		return fmt.Errorf("--password (or %s) needs --username (or %s)", n.env("PASSWORD"), n.env("USERNAME"))
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("--cert-file and --key-file (or %s, %s) go together", n.env("CERT_FILE"), n.env("KEY_FILE"))
	}
	if o.Retries < 0 {
		return fmt.Errorf("--retries (or %s) must be 0 or more, got %d", n.env("RETRIES"), o.Retries)
	}
	if o.SpoolMaxItems < 1 || o.SpoolMaxBytes < 1024 {
		return fmt.Errorf("--spool-max-events must be at least 1 and --spool-max-bytes at least 1024 (got %d, %d)", o.SpoolMaxItems, o.SpoolMaxBytes)
	}
	if o.SpoolDir == "" && !o.NoSpool {
		u, _ := url.Parse(o.URL)
		u.User = nil
		sum := sha256.Sum256([]byte(u.String() + "\x00" + key))
		o.SpoolDir = filepath.Join(state.DefaultDir(), "spool", n.Handler, hex.EncodeToString(sum[:6]))
	}
	if o.NoSpool {
		o.SpoolDir = ""
	}
	return nil
}

// AttemptTimeout bounds one HTTP attempt; the handler's --timeout bounds
// the whole delivery.
const AttemptTimeout = 10 * time.Second

// Client builds the retrying HTTP client, warning when certificate
// verification is off.
func (o *Options) Client(env *plugin.Env) (*httpx.Client, error) {
	// A server or proxy that echoes request headers would show these
	// encoded forms: redact them too.
	if o.Username != "" && o.Password.IsSet() {
		env.Redact.Add(base64.StdEncoding.EncodeToString([]byte(o.Username + ":" + o.Password.Reveal())))
	}
	if o.Token.IsSet() {
		env.Redact.Add(base64.StdEncoding.EncodeToString([]byte(o.Token.Reveal())))
	}
	if o.InsecureSkipVerify {
		env.Log.Warn("TLS certificate verification is disabled (--insecure-skip-verify): anyone on the path can read and change what is sent")
	}
	retries := o.Retries
	if retries == 0 {
		retries = -1 // httpx: 0 means the default
	}
	return httpx.New(httpx.Config{
		Timeout: AttemptTimeout, RetryMax: retries,
		CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile, InsecureSkipVerify: o.InsecureSkipVerify,
		Redact: env.Redact, Log: env.Log,
	})
}

// Limits returns the spool limits.
func (o *Options) Limits() spool.Limits {
	return spool.Limits{MaxItems: o.SpoolMaxItems, MaxBytes: o.SpoolMaxBytes}
}

// Deliver sends item (the event as the store takes it) after the spooled
// ones, through send. It returns nil when the event was delivered or
// kept, logging why it was kept; an error when it was lost or rejected
// for good.
func (o *Options) Deliver(ctx context.Context, env *plugin.Env, item []byte, send spool.SendFunc) error {
	out, err := spool.Deliver(ctx, o.SpoolDir, o.Limits(), item, reserveTime(send))
	if err != nil {
		return err
	}
	if out.Spooled > 0 {
		env.Log.Warn("not delivered yet, kept in the spool for the next run",
			"pending", out.Spooled, "delivered", out.Delivered, "spool", o.SpoolDir, "reason", env.Redact.Redact(out.Err.Error()))
	} else {
		env.Log.Debug("delivered", "events", out.Delivered)
	}
	return nil
}

// reserveTime stops sending before the handler's deadline, leaving time
// to write the spool: without it a store that hangs until the timeout
// would leave no time to keep the event, and Sensu kills the handler at
// its own timeout.
func reserveTime(send spool.SendFunc) spool.SendFunc {
	return func(ctx context.Context, batch [][]byte) []error {
		if deadline, ok := ctx.Deadline(); ok {
			reserve := min(2*time.Second, time.Until(deadline)/5)
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
			defer cancel()
		}
		return send(ctx, batch)
	}
}
