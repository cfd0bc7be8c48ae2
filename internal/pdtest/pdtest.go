// Package pdtest is a local PagerDuty Events API v2 server: the one
// simulated peer of the project, because PagerDuty is a SaaS. It holds
// handler-pagerduty to the contract of https://events.pagerduty.com/v2/enqueue
// as PagerDuty documents it (developer.pagerduty.com, "Send an Alert
// Event"), and records what it accepted.
//
// Contract checked: POST with a JSON body; routing_key of 32 characters;
// event_action trigger, acknowledge or resolve; dedup_key at most 255
// characters, required for acknowledge and resolve; a trigger's payload
// with summary (1 to 1024 characters), source and severity (critical,
// error, warning or info), an ISO 8601 timestamp if any, custom_details an
// object if any; links with href, images with src. Accepted events get 202
// {"status":"success","message":"Event processed","dedup_key":…}; invalid
// ones 400 {"status":"invalid event","message":"Event object is invalid",
// "errors":[…]}, both as application/json. Throttle makes the next
// answers 429 with Retry-After, as PagerDuty does past its rate limit.
package pdtest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Event is an event the server accepted, as it was sent.
type Event struct {
	RoutingKey string            `json:"routing_key"`
	Action     string            `json:"event_action"`
	DedupKey   string            `json:"dedup_key"`
	Client     string            `json:"client"`
	ClientURL  string            `json:"client_url"`
	Links      []Link            `json:"links"`
	Images     []json.RawMessage `json:"images"`
	Payload    *Payload          `json:"payload"`
}

// Link is a link of an event.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Payload is a trigger's payload.
type Payload struct {
	Summary   string         `json:"summary"`
	Source    string         `json:"source"`
	Severity  string         `json:"severity"`
	Timestamp string         `json:"timestamp"`
	Component string         `json:"component"`
	Group     string         `json:"group"`
	Class     string         `json:"class"`
	Details   map[string]any `json:"custom_details"`
}

// Server is an Events API v2 endpoint. Use it as an http.Handler; the
// client's endpoint is the server's base URL (the client adds
// /v2/enqueue).
type Server struct {
	mu        sync.Mutex
	accepted  []Event
	requests  int
	throttle  int
	retryWait int
}

// Throttle answers the next n requests with 429 and Retry-After: seconds.
func (s *Server) Throttle(n, seconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.retryWait = n, seconds
}

// Accepted returns the events accepted so far, in order.
func (s *Server) Accepted() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.accepted...)
}

// Requests returns how many requests reached the server.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	if s.throttle > 0 {
		s.throttle--
		wait := s.retryWait
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		reply(w, http.StatusTooManyRequests, map[string]any{"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."})
		return
	}
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		reply(w, http.StatusNotFound, map[string]any{"status": "not found", "message": "Not found"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		reply(w, http.StatusBadRequest, invalid("could not read the body"))
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil {
		reply(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{"Could not parse the JSON body: " + err.Error()}})
		return
	}
	if errs := validate(&ev, body); len(errs) > 0 {
		reply(w, http.StatusBadRequest, map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": errs})
		return
	}
	if ev.DedupKey == "" {
		sum := sha256.Sum256(body)
		ev.DedupKey = hex.EncodeToString(sum[:16])
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, ev)
	s.mu.Unlock()
	reply(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func invalid(msg string) map[string]any {
	return map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{msg}}
}

// validate returns what is wrong with an event, in PagerDuty's words
// where it has them.
func validate(ev *Event, body []byte) []string {
	var errs []string
	if utf8.RuneCountInString(ev.RoutingKey) != 32 {
		errs = append(errs, "'routing_key' must be 32 characters")
	}
	switch ev.Action {
	case "trigger", "acknowledge", "resolve":
	default:
		errs = append(errs, fmt.Sprintf("'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve'), got %q", ev.Action))
	}
	if utf8.RuneCountInString(ev.DedupKey) > 255 {
		errs = append(errs, "'dedup_key' must be at most 255 characters")
	}
	if ev.Action != "trigger" && ev.DedupKey == "" {
		errs = append(errs, "'dedup_key' is required for "+ev.Action)
	}
	for _, l := range ev.Links {
		if l.Href == "" {
			errs = append(errs, "'links' must have an 'href'")
		}
	}
	// custom_details must be an object: a string or list decodes into the
	// map as an error above, so check the raw form.
	var raw struct {
		Payload *struct {
			Details json.RawMessage `json:"custom_details"`
		} `json:"payload"`
	}
	_ = json.Unmarshal(body, &raw)
	if raw.Payload != nil && len(raw.Payload.Details) > 0 && raw.Payload.Details[0] != '{' && string(raw.Payload.Details) != "null" {
		errs = append(errs, "'payload.custom_details' must be an object")
	}
	if ev.Action != "trigger" {
		return errs
	}
	p := ev.Payload
	if p == nil {
		return append(errs, "'payload' is missing or invalid")
	}
	if n := utf8.RuneCountInString(p.Summary); n == 0 || n > 1024 {
		errs = append(errs, fmt.Sprintf("'payload.summary' must be between 1 and 1024 characters, got %d", n))
	}
	if !utf8.ValidString(p.Summary) {
		errs = append(errs, "'payload.summary' is not valid UTF-8")
	}
	if p.Source == "" {
		errs = append(errs, "'payload.source' is missing or blank")
	}
	switch p.Severity {
	case "critical", "error", "warning", "info":
	default:
		errs = append(errs, fmt.Sprintf("'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info'), got %q", p.Severity))
	}
	if p.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339Nano, p.Timestamp); err != nil {
			errs = append(errs, "'payload.timestamp' is not an ISO 8601 date-time")
		}
	}
	return errs
}
