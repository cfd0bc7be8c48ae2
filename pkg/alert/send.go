package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/PagerDuty/go-pagerduty"

	"github.com/vigil-sec/vigil/pkg/secret"
	"github.com/vigil-sec/vigil/pkg/spool"
)

// Doer is an HTTP client (pkg/httpx's).
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Sender sends Items to the Events API.
type Sender struct {
	client *pagerduty.Client
	answer *lastAnswer
	// Key returns the routing key of a team ("" for the default).
	Key func(team string) (secret.String, error)
	// Redact scrubs keys from messages.
	Redact func(string) string
}

// NewSender returns a sender to endpoint (https://events.pagerduty.com,
// or a test server; the client adds /v2/enqueue) through httpc.
func NewSender(endpoint string, httpc Doer, key func(team string) (secret.String, error), redact func(string) string) *Sender {
	ans := &lastAnswer{next: httpc}
	c := pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(strings.TrimSuffix(endpoint, "/")))
	c.HTTPClient = ans
	return &Sender{client: c, answer: ans, Key: key, Redact: redact}
}

// Send sends the batch in order, one event a request (the Events API has
// no batch), and stops at the first event that fails in a way worth
// retrying: PagerDuty must see a trigger before its resolve, so the rest
// waits in the spool behind it. A 400 is final: the event is invalid, or
// its routing key refused (the event then goes to dead/, to be replayed
// once the key is fixed, rather than block every other team's pages).
func (s *Sender) Send(ctx context.Context, batch [][]byte) []error {
	errs := make([]error, len(batch))
	for i, raw := range batch {
		err := s.sendOne(ctx, raw)
		errs[i] = err
		if err != nil && !spool.IsPermanent(err) {
			for j := i + 1; j < len(batch); j++ {
				errs[j] = fmt.Errorf("not sent after an earlier event failed: %w", err)
			}
			break
		}
	}
	return errs
}

func (s *Sender) sendOne(ctx context.Context, raw []byte) error {
	var it Item
	if err := json.Unmarshal(raw, &it); err != nil {
		return spool.Permanent(fmt.Errorf("spooled PagerDuty event is not JSON: %w", err))
	}
	key, err := s.Key(it.Team)
	if err != nil {
		return err
	}
	ev := it.Event
	ev.RoutingKey = key.Reveal()
	_, err = s.client.ManageEventWithContext(ctx, &ev)
	if err == nil {
		return nil
	}
	var apiErr pagerduty.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("send to PagerDuty: %s", s.Redact(err.Error()))
	}
	msg := s.describe(apiErr.StatusCode)
	switch {
	case apiErr.StatusCode == http.StatusBadRequest && strings.Contains(strings.ToLower(msg), "routing"):
		// Final for this event, which goes to dead/ (replay it from there
		// once the key is fixed) and fails the handler loudly; held in the
		// spool it would block every other team's pages behind it.
		whose := "the default routing key"
		if it.Team != "" {
			whose = "the routing key of team " + it.Team
		}
		return spool.Permanent(fmt.Errorf("PagerDuty refused %s: %s", whose, msg))
	case apiErr.StatusCode == http.StatusBadRequest:
		return spool.Permanent(fmt.Errorf("PagerDuty refused the event: %s", msg))
	default:
		return fmt.Errorf("PagerDuty did not take the event: %s", msg)
	}
}

// describe says what PagerDuty answered, from the body the client kept.
func (s *Sender) describe(status int) string {
	body := s.answer.take()
	var doc struct {
		Status  string   `json:"status"`
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	msg := fmt.Sprintf("HTTP %d", status)
	if json.Unmarshal(body, &doc) == nil && (doc.Status != "" || doc.Message != "") {
		msg += ": " + strings.TrimSpace(doc.Status+": "+doc.Message)
		if len(doc.Errors) > 0 {
			msg += " (" + strings.Join(doc.Errors, "; ") + ")"
		}
	} else if t := strings.TrimSpace(string(body)); t != "" {
		msg += ": " + t
	}
	// Masked before it is cut: a key echoed across the cut must not show
	// half of itself.
	return Truncate(s.Redact(msg), 600)
}

// lastAnswer keeps the body of the last unsuccessful answer: go-pagerduty
// reads Events API errors as REST API errors and drops their message.
type lastAnswer struct {
	next Doer
	mu   sync.Mutex
	body []byte
}

func (l *lastAnswer) Do(req *http.Request) (*http.Response, error) {
	resp, err := l.next.Do(req)
	if err != nil || resp.StatusCode/100 == 2 {
		return resp, err
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	l.mu.Lock()
	l.body = b
	l.mu.Unlock()
	return resp, nil
}

func (l *lastAnswer) take() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.body
	l.body = nil
	return b
}
