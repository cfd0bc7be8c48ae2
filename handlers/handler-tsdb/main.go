// Command handler-tsdb writes the metric points of each Sensu event it
// receives (and, with --status-metric, the check's status and findings
// per rule) to Prometheus remote write, InfluxDB or Graphite, keeping what
// it cannot deliver in a spool. See README.md and pkg/tsdb.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/deliver"
	"github.com/vigil-sec/vigil/pkg/plugin"
	"github.com/vigil-sec/vigil/pkg/tsdb"
)

func main() {
	os.Exit(plugin.RunHandler(context.Background(), handler(), os.Args[1:], plugin.StdIO()))
}

// config is handler-tsdb's configuration.
type config struct {
	deliver.Options
	Backend        string
	InfluxAPI      string
	Database       string
	Retention      string
	Org, Bucket    string
	GraphitePrefix string
	GraphiteTags   bool
	StatusMetric   bool
	Labels         map[string]string
}

var names = deliver.Names{
	Handler:   "handler-tsdb",
	EnvPrefix: "VIGIL_TSDB",
	URLUsage: "where to write: the remote-write URL (http://prometheus:9090/api/v1/write), " +
		"InfluxDB's base URL (http://influxdb:8086) or tcp://HOST:2003 for Graphite",
	AllowTCP: true,
	Token:    "token", TokenEnv: "TOKEN",
	TokenUsage: "bearer token (Prometheus) or InfluxDB token (2.x, or user:password on 1.8); wins over basic authentication",
}

func handler() plugin.Handler[config] {
	return plugin.Handler[config]{
		Plugin: plugin.Plugin[config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "handler-tsdb",
				Short:    "Write Sensu metric points, check status and findings per rule to Prometheus remote write, InfluxDB or Graphite",
				Timeout:  30,
				Keyspace: "vigil.io/handler-tsdb",
			},
			Options:  options,
			Validate: validate,
		},
		Handle: handle,
	}
}

func options(c *config) []plugin.Option {
	return append(c.Table(names),
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "backend", Shorthand: "b", Env: "VIGIL_TSDB_BACKEND", Default: "prometheus", Value: &c.Backend,
			Allow: []string{"prometheus", "influxdb", "graphite"}, Usage: "prometheus (remote write), influxdb (line protocol) or graphite (plaintext over TCP)"}, Kind: plugin.Endpoint},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "influxdb-api", Env: "VIGIL_TSDB_INFLUXDB_API", Default: "v1", Value: &c.InfluxAPI,
			Allow: []string{"v1", "v2"}, Usage: "v1 (/write, with --database) or v2 (/api/v2/write, with --org and --bucket)"}, Kind: plugin.Endpoint},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "database", Env: "VIGIL_TSDB_DATABASE", Default: "sensu", Value: &c.Database,
			Usage: "InfluxDB 1.x database"}, Kind: plugin.Target},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "retention-policy", Env: "VIGIL_TSDB_RETENTION_POLICY", Value: &c.Retention,
			Usage: "InfluxDB 1.x retention policy (default: the database's)"}, Kind: plugin.Target},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "org", Env: "VIGIL_TSDB_ORG", Value: &c.Org,
			Usage: "InfluxDB 2.x organization"}, Kind: plugin.Target},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "bucket", Env: "VIGIL_TSDB_BUCKET", Value: &c.Bucket,
			Usage: "InfluxDB 2.x bucket"}, Kind: plugin.Target},
		plugin.Option{Spec: &sensu.PluginConfigOption[string]{Argument: "graphite-prefix", Env: "VIGIL_TSDB_GRAPHITE_PREFIX", Default: "vigil", Value: &c.GraphitePrefix,
			Usage: "first node of every Graphite path (PREFIX.ENTITY.METRIC)"}, Kind: plugin.Target},
		plugin.Option{Spec: &sensu.PluginConfigOption[bool]{Argument: "graphite-tags", Env: "VIGIL_TSDB_GRAPHITE_TAGS", Value: &c.GraphiteTags,
			Usage: "add labels to Graphite paths as tags (path;check=…), for receivers with tag support"}},
		plugin.Option{Spec: &sensu.PluginConfigOption[bool]{Argument: "status-metric", Env: "VIGIL_TSDB_STATUS_METRIC", Path: "status-metric", Value: &c.StatusMetric,
			Usage: "also write vigil_check_status, vigil_findings{rule,severity}, vigil_finding_occurrences{rule} and vigil_findings_total"}, Annotations: plugin.CheckAnnotation},
		plugin.Option{Spec: &sensu.MapPluginConfigOption[string]{Argument: "label", Env: "VIGIL_TSDB_LABELS", Path: "labels", Value: &c.Labels,
			Usage: "label added to every point (repeatable, name=value); a metric's own tags win"}, Annotations: plugin.CheckAnnotation},
	)
}

func validate(c *config) error {
	key := c.Backend
	switch c.Backend {
	case "influxdb":
		key += "\x00" + c.InfluxAPI + "\x00" + c.Database + "\x00" + c.Retention + "\x00" + c.Org + "\x00" + c.Bucket
		if c.InfluxAPI == "v2" && (c.Org == "" || c.Bucket == "") {
			return errors.New("--influxdb-api v2 needs --org and --bucket (or VIGIL_TSDB_ORG, VIGIL_TSDB_BUCKET)")
		}
		if c.InfluxAPI == "v1" && c.Database == "" {
			return errors.New("--influxdb-api v1 needs --database (or VIGIL_TSDB_DATABASE)")
		}
	case "graphite":
		key += "\x00" + c.GraphitePrefix
	}
	if err := c.Validate(names, key); err != nil {
		return err
	}
	u, _ := url.Parse(c.URL) // validated above
	switch {
	case c.Backend == "graphite" && u.Scheme != "tcp":
		return errors.New("--backend graphite takes --url tcp://HOST:PORT (the plaintext listener)")
	case c.Backend != "graphite" && u.Scheme == "tcp":
		return fmt.Errorf("--backend %s takes an http:// or https:// --url; tcp:// is for graphite", c.Backend)
	}
	return nil
}

func handle(ctx context.Context, c *config, env *plugin.Env) error {
	points := tsdb.Points(env.Event, tsdb.Options{StatusMetric: c.StatusMetric, Labels: c.Labels})
	if len(points) == 0 {
		// Nothing to write; spooled events go with the next event that has
		// points.
		env.Log.Debug("event has no metric points (output_metric_format set on the check? --status-metric?)")
		return nil
	}
	backend, err := c.backend(env)
	if err != nil {
		return err
	}
	data, dropped, err := backend.Encode(points)
	if err != nil {
		return fmt.Errorf("encode points: %w", err)
	}
	if dropped > 0 {
		env.Log.Warn("points the backend cannot store were dropped", "dropped", dropped, "backend", c.Backend)
	}
	if len(data) == 0 {
		return nil
	}
	return c.Deliver(ctx, env, data, backend.Send)
}

func (c *config) backend(env *plugin.Env) (tsdb.Backend, error) {
	if c.Backend == "graphite" {
		u, _ := url.Parse(c.URL)
		return &tsdb.Graphite{Addr: u.Host, Prefix: c.GraphitePrefix, Tags: c.GraphiteTags, Timeout: deliver.AttemptTimeout}, nil
	}
	httpc, err := c.Client(env)
	if err != nil {
		return nil, err
	}
	auth := tsdb.Auth{Username: c.Username, Password: c.Password, Token: c.Token}
	if c.Backend == "influxdb" {
		return tsdb.NewInflux(httpc, c.URL, tsdb.InfluxTarget{API: c.InfluxAPI, Database: c.Database, RetentionPolicy: c.Retention, Org: c.Org, Bucket: c.Bucket}, auth)
	}
	return tsdb.NewPrometheus(httpc, c.URL, auth), nil
}
