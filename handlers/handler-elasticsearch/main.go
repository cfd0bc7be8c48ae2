// Command handler-elasticsearch indexes each Sensu event it receives as
// one document (the whole event, @timestamp and the check's findings as
// structured fields) through the _bulk API, keeping what it cannot
// deliver in a spool. See README.md and pkg/elastic.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/deliver"
	"github.com/vigil-sec/vigil/pkg/elastic"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/state"
)

func main() {
	os.Exit(plugin.RunHandler(context.Background(), handler(), os.Args[1:], plugin.StdIO()))
}

// config is handler-elasticsearch's configuration.
type config struct {
	deliver.Options
	Index        string
	DatePattern  string
	DataStream   string
	SkipTemplate bool
	BulkMaxBytes int
	Concurrency  int

	pattern elastic.DatePattern
}

var names = deliver.Names{
	Handler:    "handler-elasticsearch",
	EnvPrefix:  "ELASTICSEARCH",
	DefaultURL: "http://127.0.0.1:9200",
	URLUsage:   "the cluster's base URL (a path prefix and query are kept: VictoriaLogs takes http://HOST:9428/insert/elasticsearch)",
	Token:      "api-key", TokenEnv: "API_KEY",
	TokenUsage: "API key (the encoded key, or id:key); wins over basic authentication",
}

func handler() plugin.Handler[config] {
	return plugin.Handler[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "handler-elasticsearch",
				Short:    "Index Sensu events, with their findings as structured fields, in Elasticsearch through the bulk API",
				Timeout:  30,
				Keyspace: "vigil.io/handler-elasticsearch",
			},
			Options:  options,
			Validate: validate,
		},
		Handle: handle,
	}
}

func options(c *config) []plugin.Option {
	return append(c.Table(names),
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "index", Shorthand: "i", Env: "ELASTICSEARCH_INDEX", Path: "index", Default: "vigil-events", Value: &c.Index,
			Usage: "index name prefix; the event's UTC date is appended (see --index-date-pattern)"}, Kind: plugin.Target, Annotations: plugin.CheckAnnotation},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "index-date-pattern", Env: "ELASTICSEARCH_INDEX_DATE_PATTERN", Path: "index-date-pattern", Default: "daily", Value: &c.DatePattern,
			Usage: "daily (YYYY.MM.DD), weekly (GGGG.WW), monthly (YYYY.MM), none, or a pattern of YYYY MM DD HH GGGG WW (or yyyy.MM.dd)"}, Kind: plugin.Target, Annotations: plugin.CheckAnnotation},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "data-stream", Env: "ELASTICSEARCH_DATA_STREAM", Path: "data-stream", Value: &c.DataStream,
			Usage: "write to this data stream instead of dated indices (e.g. logs-vigil-default)"}, Kind: plugin.Target, Annotations: plugin.CheckAnnotation},
		plugin.Option{Spec: &sensu.PluginConfigOption[bool]{Argument: "skip-template", Env: "ELASTICSEARCH_SKIP_TEMPLATE", Value: &c.SkipTemplate,
			Usage: "do not install the index template (servers without templates, such as VictoriaLogs, or templates managed elsewhere)"}},
		plugin.Option{Spec: &sensu.PluginConfigOption[int]{Argument: "bulk-max-bytes", Env: "ELASTICSEARCH_BULK_MAX_BYTES", Default: elastic.DefaultMaxBytes, Value: &c.BulkMaxBytes,
			Usage: "most bytes in one bulk request; a spool replay is cut into requests of this size"}},
		plugin.Option{Spec: &sensu.PluginConfigOption[int]{Argument: "bulk-concurrency", Env: "ELASTICSEARCH_BULK_CONCURRENCY", Default: 2, Value: &c.Concurrency,
			Usage: "bulk requests in flight at once during a spool replay (started in order)"}},
	)
}

func validate(c *config) error {
	if err := c.Validate(names, ""); err != nil {
		return err
	}
	p, err := elastic.ParseDatePattern(c.DatePattern)
	if err != nil {
		return fmt.Errorf("--index-date-pattern (or ELASTICSEARCH_INDEX_DATE_PATTERN): %w", err)
	}
	c.pattern = p
	for flag, name := range map[string]string{"index": c.Index, "data-stream": c.DataStream} {
		if err := elastic.ValidateIndexName(name); err != nil {
			return fmt.Errorf("--%s: %w", flag, err)
		}
	}
	if c.Index == "" && c.DataStream == "" {
		return errors.New("--index or --data-stream is required")
	}
	if c.Concurrency < 1 || c.Concurrency > 16 {
		return fmt.Errorf("--bulk-concurrency (or ELASTICSEARCH_BULK_CONCURRENCY) must be between 1 and 16, got %d", c.Concurrency)
	}
	if c.BulkMaxBytes < 1024 {
		return fmt.Errorf("--bulk-max-bytes (or ELASTICSEARCH_BULK_MAX_BYTES) must be at least 1024, got %d", c.BulkMaxBytes)
	}
	return nil
}

func handle(ctx context.Context, c *config, env *plugin.Env) error {
	target := elastic.Target{Index: c.Index, DatePattern: c.pattern, DataStream: c.DataStream}
	item, err := elastic.Document(env.Event, env.EventJSON, target)
	if err != nil {
		return err
	}
	httpc, err := c.Client(env)
	if err != nil {
		return err
	}
	base, err := url.Parse(c.URL)
	if err != nil {
		return errors.New("--url: not a URL")
	}
	es := &elastic.Client{HTTP: httpc, URL: base, Username: c.Username, Password: c.Password, APIKey: c.Token,
		MaxBytes: c.BulkMaxBytes, Concurrency: c.Concurrency, ItemRetries: 2, Log: env.Log}
	send := func(ctx context.Context, batch [][]byte) []error {
		if !c.SkipTemplate {
			err := es.EnsureTemplate(ctx, target, filepath.Join(state.DefaultDir(), "handler-elasticsearch"))
			var refused *elastic.StatusError
			switch {
			case errors.As(err, &refused):
				// The cluster answered (a user without the manage_index_templates
				// privilege, a clashing template): the documents can still be
				// indexed, with the cluster's own mappings. Tried again next run.
				env.Log.Warn("index template not installed; documents get the cluster's dynamic mappings (fix it, or run with --skip-template)", "reason", err.Error())
			case err != nil:
				errs := make([]error, len(batch))
				for i := range errs {
					errs[i] = err
				}
				return errs
			}
		}
		return es.Send(ctx, batch)
	}
	return c.Deliver(ctx, env, item, send)
}
