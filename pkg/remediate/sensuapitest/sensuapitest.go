// Package sensuapitest is a local server implementing the Sensu backend's
// check execute endpoint contract, for tests of sensu-execute actions: no
// sensu-go backend can be built here unmodified (see ../shared/DESIGN.md),
// so the contract of POST /api/core/v2/namespaces/NS/checks/NAME/execute
// is reproduced from the Sensu API reference: API-key authentication
// ("Authorization: Key KEY", 401 otherwise), a JSON body
// {"check":NAME,"subscriptions":[…]} whose check names the check of the
// path (400 otherwise), 404 for a check the namespace does not hold, and
// 202 Accepted with {"issued":UNIX} when the request is queued.
package sensuapitest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Request is one accepted execute request.
type Request struct {
	Namespace     string
	Check         string
	Subscriptions []string
}

// Server is the execute endpoint. Checks are "NAMESPACE/NAME".
type Server struct {
	*httptest.Server
	Key    string
	Checks map[string]bool

	mu       sync.Mutex
	accepted []Request
	refused  int
}

// New starts a server accepting key for the given checks ("NS/NAME").
func New(key string, checks ...string) *Server {
	s := &Server{Key: key, Checks: map[string]bool{}}
	for _, c := range checks {
		s.Checks[c] = true
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Accepted returns the requests answered 202, in order.
func (s *Server) Accepted() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.accepted...)
}

// Refused counts the requests answered with an error.
func (s *Server) Refused() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refused
}

func (s *Server) fail(w http.ResponseWriter, status int, msg string) {
	s.mu.Lock()
	s.refused++
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"message": msg, "code": status})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// /api/core/v2/namespaces/NS/checks/NAME/execute
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 8 || parts[0] != "api" || parts[1] != "core" || parts[2] != "v2" || parts[3] != "namespaces" || parts[5] != "checks" || parts[7] != "execute" {
		s.fail(w, http.StatusNotFound, "not found")
		return
	}
	if r.Method != http.MethodPost {
		s.fail(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	if r.Header.Get("Authorization") != "Key "+s.Key {
		s.fail(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	ns, name := parts[4], parts[6]
	var body struct {
		Check         *string  `json:"check"`
		Subscriptions []string `json:"subscriptions"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil || body.Check == nil {
		s.fail(w, http.StatusBadRequest, "request body must be a JSON object with a check")
		return
	}
	if *body.Check != name {
		s.fail(w, http.StatusBadRequest, "the name of the check in the URL path doesn't match the name in the request body")
		return
	}
	for _, sub := range body.Subscriptions {
		if sub == "" {
			s.fail(w, http.StatusBadRequest, "empty subscription")
			return
		}
	}
	if !s.Checks[ns+"/"+name] {
		s.fail(w, http.StatusNotFound, "not found")
		return
	}
	s.mu.Lock()
	s.accepted = append(s.accepted, Request{Namespace: ns, Check: name, Subscriptions: body.Subscriptions})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]int64{"issued": time.Now().Unix()})
}
