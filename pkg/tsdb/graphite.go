package tsdb

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Graphite writes the plaintext protocol ("path value timestamp\n") to a
// carbon receiver over TCP. Graphite stores seconds, so timestamps are
// seconds. The path is PREFIX.ENTITY.NAME; with Tags, the point's other
// labels follow as Graphite 1.1 tags (path;check=…;rule=…), which
// carbon with ENABLE_TAGS, go-carbon and VictoriaMetrics accept.
type Graphite struct {
	// Addr is host:port of the plaintext listener.
	Addr string
	// Prefix starts every path ("vigil"); empty means none.
	Prefix string
	// Tags adds the labels as tags.
	Tags bool
	// Timeout bounds connecting and writing.
	Timeout time.Duration
}

// Encode returns one line per finite point.
func (g *Graphite) Encode(points []Point) ([]byte, int, error) {
	var b []byte
	dropped := 0
	for _, pt := range points {
		if !finite(pt.Value) {
			dropped++
			continue
		}
		var entity string
		for _, l := range pt.Labels {
			if l.Name == EntityLabel {
				entity = l.Value
			}
		}
		path := make([]string, 0, 3)
		for _, part := range []string{g.Prefix, graphiteNode(entity), graphitePath(pt.Name)} {
			if part != "" {
				path = append(path, part)
			}
		}
		b = append(b, strings.Join(path, ".")...)
		if g.Tags {
			for _, l := range pt.Labels {
				if l.Name != EntityLabel {
					b = append(b, ';')
					b = append(b, graphiteTag(l.Name)...)
					b = append(b, '=')
					b = append(b, graphiteTag(l.Value)...)
				}
			}
		}
		b = append(b, ' ')
		b = strconv.AppendFloat(b, pt.Value, 'g', -1, 64)
		b = append(b, ' ')
		b = strconv.AppendInt(b, pt.Time.Unix(), 10)
		b = append(b, '\n')
	}
	return b, dropped, nil
}

// Send writes the batch on one connection. The plaintext protocol has no
// acknowledgement: a batch written and closed without error counts as
// delivered.
func (g *Graphite) Send(ctx context.Context, batch [][]byte) []error {
	errs := make([]error, len(batch))
	err := g.write(ctx, batch)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func (g *Graphite) write(ctx context.Context, batch [][]byte) error {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", g.Addr)
	if err != nil {
		return fmt.Errorf("graphite: %w", err)
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	bufs := net.Buffers(append([][]byte(nil), batch...))
	if _, err := bufs.WriteTo(conn); err != nil {
		_ = conn.Close()
		return fmt.Errorf("graphite: write: %w", err)
	}
	if err := conn.Close(); err != nil {
		return fmt.Errorf("graphite: close: %w", err)
	}
	return nil
}

// graphitePath keeps a metric name's dots (Graphite's separator) and
// replaces what the plaintext protocol cannot carry.
func graphitePath(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == ';' || r == '=' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// graphiteNode makes one path node: dots would split it.
func graphiteNode(s string) string { return strings.ReplaceAll(graphitePath(s), ".", "_") }

// graphiteTag cleans a tag name or value (no ; = ~ or space).
func graphiteTag(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == ';' || r == '=' || r == '~' || r == '!' || r == '^' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}
