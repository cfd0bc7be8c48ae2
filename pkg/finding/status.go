package finding

import (
	"fmt"
	"strconv"
	"strings"
)

// Status is a check result as Nagios and Sensu read it from the exit code.
type Status int

// The statuses, with their exit codes.
const (
	StatusOK       Status = 0
	StatusWarning  Status = 1
	StatusCritical Status = 2
	StatusUnknown  Status = 3
)

// String returns the Nagios name ("CRITICAL").
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusWarning:
		return "WARNING"
	case StatusCritical:
		return "CRITICAL"
	default:
		return "UNKNOWN"
	}
}

// Worse returns the more severe of two statuses. UNKNOWN counts as worse
// than OK and WARNING but not than CRITICAL, as Nagios ranks them for
// aggregation: a known problem outranks not knowing.
func Worse(a, b Status) Status {
	rank := func(s Status) int {
		switch s {
		case StatusOK:
			return 0
		case StatusWarning:
			return 1
		case StatusUnknown:
			return 2
		default:
			return 3
		}
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// StatusMap maps each severity to the status it raises.
type StatusMap map[Severity]Status

// DefaultStatusMap is critical/high → CRITICAL, medium/low → WARNING and
// info → OK.
func DefaultStatusMap() StatusMap {
	return StatusMap{Critical: 2, High: 2, Medium: 1, Low: 1, Info: 0}
}

// Status returns the status a finding of severity s raises.
func (m StatusMap) Status(s Severity) Status {
	if st, ok := m[s]; ok {
		return st
	}
	return DefaultStatusMap()[s]
}

// Of returns the worst status raised by the findings.
func (m StatusMap) Of(fs []Finding) Status {
	st := StatusOK
	for _, f := range fs {
		st = Worse(st, m.Status(f.Severity))
	}
	return st
}

// ParseStatusMap reads overrides such as {"high": 1, "info": 0} on top of
// the default map. Statuses must be 0, 1 or 2: a finding cannot make the
// check UNKNOWN.
func ParseStatusMap(overrides map[string]int) (StatusMap, error) {
	m := DefaultStatusMap()
	for name, st := range overrides {
		sev, err := ParseSeverity(name)
		if err != nil {
			return nil, err
		}
		if st < 0 || st > 2 {
			return nil, fmt.Errorf("severity %s: status %d is not 0, 1 or 2", sev, st)
		}
		m[sev] = Status(st)
	}
	return m, nil
}

// String renders the map as "critical=2,high=2,…", most severe first.
func (m StatusMap) String() string {
	var b strings.Builder
	for i := Critical; i >= Info; i-- {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(i.String() + "=" + strconv.Itoa(int(m.Status(i))))
	}
	return b.String()
}
