package tsdb

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/vigil-sec/vigil/pkg/httpx"
)

// Influx writes line protocol to InfluxDB 1.x (/write) or 2.x
// (/api/v2/write), or anything that speaks either (VictoriaMetrics,
// Telegraf's http listener), at nanosecond precision.
//
// Layout: the measurement is the metric name as written, the value is the
// field "value", labels are tags. (sensu-influxdb-handler splits the name
// at the first dot into measurement and field; its users asked for this
// layout instead, its issue #44.)
type Influx struct{ p poster }

// InfluxTarget says where the points go.
type InfluxTarget struct {
	// API is "v1" or "v2".
	API string
	// Database and RetentionPolicy are the 1.x destination.
	Database, RetentionPolicy string
	// Org and Bucket are the 2.x destination.
	Org, Bucket string
}

// NewInflux returns a backend writing to the server at base (its root
// URL). A token is sent as "Authorization: Token …" (2.x tokens, and
// "user:password" on 1.8); otherwise basic authentication is used.
func NewInflux(client *httpx.Client, base string, t InfluxTarget, auth Auth) (*Influx, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("InfluxDB URL: %w", err)
	}
	q := u.Query()
	switch t.API {
	case "v1":
		u.Path = strings.TrimSuffix(u.Path, "/") + "/write"
		q.Set("db", t.Database)
		if t.RetentionPolicy != "" {
			q.Set("rp", t.RetentionPolicy)
		}
	case "v2":
		u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v2/write"
		q.Set("org", t.Org)
		q.Set("bucket", t.Bucket)
	default:
		return nil, fmt.Errorf("InfluxDB API %q: want v1 or v2", t.API)
	}
	q.Set("precision", "ns")
	u.RawQuery = q.Encode()
	return &Influx{p: poster{
		http: client, url: u.String(), auth: auth, scheme: "Token", name: "influxdb",
		header: func(h http.Header) { h.Set("Content-Type", "text/plain; charset=utf-8") },
		body:   func(raw []byte) []byte { return raw },
		// InfluxDB 2.x answers 422 for points beyond the bucket's retention
		// or of a conflicting type: a refusal of what the request holds.
		refused: func(status int, _ string) bool { return status == http.StatusUnprocessableEntity },
	}}, nil
}

// Encode returns one line per point. Points line protocol cannot carry
// (NaN and infinite values, names with control characters) are dropped.
func (b *Influx) Encode(points []Point) ([]byte, int, error) {
	var enc lineprotocol.Encoder
	enc.SetPrecision(lineprotocol.Nanosecond)
	dropped := 0
	for _, pt := range points {
		v, ok := lineprotocol.FloatValue(pt.Value)
		if !ok {
			dropped++
			continue
		}
		enc.StartLine(pt.Name)
		for _, l := range pt.Labels { // sorted, as the encoder requires
			enc.AddTag(l.Name, l.Value)
		}
		enc.AddField("value", v)
		enc.EndLine(pt.Time)
		if enc.Err() != nil {
			dropped++
			enc.ClearErr()
		}
	}
	return enc.Bytes(), dropped, nil
}

// Send posts the batch's lines in one request.
func (b *Influx) Send(ctx context.Context, batch [][]byte) []error { return b.p.send(ctx, batch) }
