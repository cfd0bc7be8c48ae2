package tsdb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vigil-sec/vigil/pkg/httpx"
	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
	"github.com/vigil-sec/vigil/pkg/units"
)

// Auth is how a backend authenticates over HTTP.
type Auth struct {
	Username string
	Password secret.String
	// Token is sent as "Authorization: SCHEME TOKEN" and wins over basic
	// authentication.
	Token secret.String
}

// poster sends concatenated batches over HTTP, splitting a batch the
// server rejects as a whole (400, 413) until the faulty event is alone:
// Prometheus rolls back a whole remote-write request for one out-of-order
// sample, and InfluxDB refuses a request for one bad line.
type poster struct {
	http   *httpx.Client
	url    string
	auth   Auth
	scheme string // token scheme: "Bearer", "Token"
	// header sets the content headers.
	header func(h http.Header)
	// body turns the concatenated events into the request body.
	body func(raw []byte) []byte
	// name names the store in errors.
	name string
	// refused reports whether an answer other than 400 and 413 also
	// refuses the request for what it holds (split it, then give up on
	// the faulty event) rather than says the store is unwell.
	refused func(status int, msg string) bool
}

func (p *poster) send(ctx context.Context, batch [][]byte) []error {
	errs := make([]error, len(batch))
	idx := make([]int, len(batch))
	for i := range idx {
		idx[i] = i
	}
	// decided marks the events the store answered for: a half written
	// before the other half failed stays written.
	decided := make([]bool, len(batch))
	if err := p.sendPart(ctx, batch, idx, errs, decided); err != nil {
		for i := range errs {
			if !decided[i] {
				errs[i] = err
			}
		}
	}
	return errs
}

// sendPart sends the events idx; a returned error dooms the events not
// yet decided (the store is not taking anything now).
func (p *poster) sendPart(ctx context.Context, batch [][]byte, idx []int, errs []error, decided []bool) error {
	var raw []byte
	for _, i := range idx {
		raw = append(raw, batch[i]...)
	}
	if len(raw) == 0 {
		return nil
	}
	status, msg, err := p.post(ctx, p.body(raw))
	refused := status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge ||
		(p.refused != nil && status/100 != 2 && p.refused(status, msg))
	switch {
	case err != nil:
		return err
	case status/100 == 2:
		for _, i := range idx {
			decided[i] = true
		}
		return nil
	case refused && len(idx) > 1:
		half := len(idx) / 2
		if err := p.sendPart(ctx, batch, idx[:half], errs, decided); err != nil {
			return err
		}
		return p.sendPart(ctx, batch, idx[half:], errs, decided)
	case refused:
		errs[idx[0]] = spool.Permanent(fmt.Errorf("%s rejected the points: HTTP %d: %s", p.name, status, msg))
		decided[idx[0]] = true
		return nil
	default:
		hint := ""
		switch status {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = " (check the credentials)"
		case http.StatusNotFound:
			hint = " (check --url and the database or bucket)"
		}
		return fmt.Errorf("%s: HTTP %d: %s%s", p.name, status, msg, hint)
	}
}

// post sends one request and returns the status and a short, redacted
// message from the body.
func (p *poster) post(ctx context.Context, body []byte) (int, string, error) {
	if p.refused != nil {
		ctx = httpx.WithFinal(ctx, func(status int, body []byte) bool { return p.refused(status, string(body)) })
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", p.http.RedactError(err)
	}
	p.header(req.Header)
	switch {
	case p.auth.Token.IsSet():
		req.Header.Set("Authorization", p.scheme+" "+p.auth.Token.Reveal())
	case p.auth.Username != "":
		req.SetBasicAuth(p.auth.Username, p.auth.Password.Reveal())
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("write to %s: %w", p.name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	// Masked before it is cut, so that a credential echoed across the cut
	// does not show half of itself.
	msg := units.Clip(p.http.Redact(strings.Join(strings.Fields(string(b)), " ")), 300)
	return resp.StatusCode, msg, nil
}
