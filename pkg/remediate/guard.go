package remediate

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigil-sec/vigil/pkg/state"
)

// Breaker is the global circuit breaker: acting on more than Entities
// distinct entities within Window opens it for a Window.
type Breaker struct {
	Entities int
	Window   time.Duration
}

// The state file's kind and format version (pkg/state envelope).
const (
	stateKind    = "handler-remediation"
	stateVersion = 1
)

// guardState is what the guardrails remember between runs.
type guardState struct {
	// Runs are the start times of the runs of each entity+action
	// ("NAMESPACE/ENTITY action"), oldest first.
	Runs map[string][]time.Time `json:"runs"`
	// Acted is when each entity was last acted on.
	Acted map[string]time.Time `json:"acted"`
	// OpenUntil is when the open breaker closes again.
	OpenUntil time.Time `json:"open_until,omitzero"`
}

func loadState(path string) (*guardState, error) {
	var s guardState
	if err := state.Load(path, stateKind, stateVersion, &s); err != nil && !errors.Is(err, state.ErrNotExist) {
		return nil, err
	}
	if s.Runs == nil {
		s.Runs = map[string][]time.Time{}
	}
	if s.Acted == nil {
		s.Acted = map[string]time.Time{}
	}
	return &s, nil
}

func (s *guardState) save(path string) error {
	return state.Save(path, stateKind, stateVersion, s)
}

// Verdict is a guardrail's answer for one action.
type Verdict struct {
	// Decision is DecisionActed (allowed), DecisionRateLimited or
	// DecisionCircuitOpen.
	Decision string
	// Reason explains a refusal.
	Reason string
	// Tripped is true when this very check opened the breaker.
	Tripped bool
}

// admit decides whether action may run on entity at now, and records the
// run when it may and record is true. Limits are per entity and action;
// the breaker is global.
func (s *guardState) admit(entity, action string, lim Limit, br Breaker, now time.Time, record bool) Verdict {
	// Forget what no window can see any more.
	for e, t := range s.Acted {
		if now.Sub(t) >= br.Window {
			delete(s.Acted, e)
		}
	}
	if now.Before(s.OpenUntil) {
		return Verdict{Decision: DecisionCircuitOpen, Reason: fmt.Sprintf("circuit breaker open until %s (more than %d entities acted on within %s)",
			s.OpenUntil.UTC().Format(time.RFC3339), br.Entities, br.Window)}
	}
	if _, seen := s.Acted[entity]; !seen && len(s.Acted) >= br.Entities {
		v := Verdict{Decision: DecisionCircuitOpen, Tripped: record,
			Reason: fmt.Sprintf("circuit breaker opened: %s would be entity %d acted on within %s (limit %d)", entity, len(s.Acted)+1, br.Window, br.Entities)}
		if record {
			s.OpenUntil = now.Add(br.Window)
		}
		return v
	}
	key := entity + " " + action
	window := time.Duration(lim.Window)
	runs := slices.DeleteFunc(s.Runs[key], func(t time.Time) bool { return now.Sub(t) >= window })
	if len(runs) >= lim.Max {
		next := runs[len(runs)-lim.Max].Add(window)
		s.Runs[key] = runs
		return Verdict{Decision: DecisionRateLimited, Reason: fmt.Sprintf("rate limit: %d runs of %s on %s within %s (next allowed at %s)",
			len(runs), action, entity, window, next.UTC().Format(time.RFC3339))}
	}
	if record {
		s.Runs[key] = append(runs, now)
		s.Acted[entity] = now
	} else if len(runs) > 0 {
		s.Runs[key] = runs
	}
	return Verdict{Decision: DecisionActed}
}

// prune drops run lists that are empty, keeping the file small.
func (s *guardState) prune(now time.Time, longest time.Duration) {
	for _, k := range slices.Collect(maps.Keys(s.Runs)) {
		runs := slices.DeleteFunc(s.Runs[k], func(t time.Time) bool { return now.Sub(t) >= longest })
		if len(runs) == 0 {
			delete(s.Runs, k)
		} else {
			s.Runs[k] = runs
		}
	}
}
