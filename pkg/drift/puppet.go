package drift

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Puppet's default locations: $publicdir since Puppet 7 (summary), the
// state directory before (and still the report's home).
const (
	PuppetSummaryPath    = "/opt/puppetlabs/puppet/public/last_run_summary.yaml"
	PuppetOldSummaryPath = "/opt/puppetlabs/puppet/cache/state/last_run_summary.yaml"
	PuppetReportPath     = "/opt/puppetlabs/puppet/cache/state/last_run_report.yaml"
	PuppetDisabledLock   = "/opt/puppetlabs/puppet/cache/state/agent_disabled.lock"
)

// puppetSummary is last_run_summary.yaml (Puppet::Transaction::Report#raw_summary).
type puppetSummary struct {
	Version   map[string]any     `yaml:"version"`
	Resources map[string]float64 `yaml:"resources"`
	Time      map[string]float64 `yaml:"time"`
	Changes   map[string]float64 `yaml:"changes"`
	Events    map[string]float64 `yaml:"events"`
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlErr turns a yaml.v3 error into one with the line.
func yamlErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &Error{Line: n, Reason: "not valid YAML: " + m[2], Err: err}
	}
	return &Error{Reason: "not valid YAML: " + msg, Err: err}
}

func parsePuppetSummary(data []byte, r *Result) error {
	var s puppetSummary
	if err := yaml.Unmarshal(data, &s); err != nil {
		return yamlErr(err)
	}
	if data[len(data)-1] != '\n' {
		return &Error{Line: strings.Count(string(data), "\n") + 1, Reason: "truncated: the last line is cut"}
	}
	if s.Version == nil {
		return &Error{Reason: "not a Puppet last_run_summary: no version section"}
	}
	lastRun, ok := s.Time["last_run"]
	if !ok {
		return &Error{Reason: "truncated or not a Puppet last_run_summary: no time.last_run"}
	}
	r.Time = time.Unix(int64(lastRun), 0)
	if total, ok := s.Time["total"]; ok && total > 0 {
		r.Duration = seconds(total)
	}
	r.RunID = fmt.Sprintf("%v@%d", s.Version["config"], int64(lastRun))
	if s.Resources == nil {
		// raw_summary writes only version and time.last_run when no
		// catalog was applied.
		r.RunFailed, r.RunError = true, "no catalog was applied (catalog retrieval or compilation failed; see last_run_report.yaml)"
		return nil
	}
	n := func(k string) int { return int(s.Resources[k]) }
	r.Total, r.Changed, r.Skipped, r.Corrective = n("total"), n("changed"), n("skipped"), n("corrective_change")
	r.Failed = n("failed") + n("failed_to_restart")
	r.OutOfSync = max(0, n("out_of_sync")-n("changed")-n("failed"))
	if s.Events["failure"] > 0 && r.Failed == 0 {
		r.RunFailed, r.RunError = true, fmt.Sprintf("%d events failed", int(s.Events["failure"]))
	}
	return nil
}

func seconds(f float64) time.Duration {
	if math.IsNaN(f) || f < 0 || f > 1e9 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// puppetReport reads last_run_report.yaml from the scanner's scalars.
type puppetReport struct {
	r        *Result
	top      map[string]string
	curKey   string
	cur      Resource
	curOOS   bool
	events   map[string]bool
	evMsg    string
	errLog   bool
	firstErr string
	metric   string
	total    float64
	hasTotal bool
}

func parsePuppetReport(in io.Reader, r *Result) error {
	p := &puppetReport{r: r, top: map[string]string{}, events: map[string]bool{}}
	s := newYAMLScanner(in, p.scalar)
	err := s.run()
	p.finish()
	var ye *yamlError
	switch {
	case errors.As(err, &ye):
		return &Error{Line: ye.Line, Reason: "not valid YAML: " + ye.Reason, Err: err}
	case errors.Is(err, errTruncated):
		return &Error{Line: s.lineNo, Reason: "truncated: the last line is cut"}
	case err != nil:
		return err
	}
	for _, k := range []string{"host", "status", "time"} {
		if _, ok := p.top[k]; !ok {
			if len(p.top) == 0 && s.rootTag == "" {
				return &Error{Reason: "not a Puppet report: no top-level keys"}
			}
			return &Error{Line: s.lineNo, Reason: fmt.Sprintf("truncated or not a Puppet report: the file ends without a %q key", k)}
		}
	}
	r.Host = p.top["host"]
	r.RunID = p.top["transaction_uuid"]
	if r.RunID == "" {
		r.RunID = p.top["configuration_version"] + "@" + p.top["time"]
	}
	r.Noop = p.top["noop"] == "true"
	start, err := parseRubyTime(p.top["time"])
	if err != nil {
		return &Error{Reason: fmt.Sprintf("time %q: %v", p.top["time"], err)}
	}
	r.Time = start
	if p.hasTotal {
		r.Duration = seconds(p.total)
		r.Time = start.Add(r.Duration)
	}
	status := p.top["status"]
	if (status == "failed" && r.Failed == 0) || p.top["transaction_completed"] == "false" {
		r.RunFailed = true
		r.RunError = p.firstErr
		if r.RunError == "" {
			r.RunError = "the run's status is " + status
		}
	}
	return nil
}

func (p *puppetReport) scalar(path []pathElem, _ string, v []byte) {
	switch len(path) {
	case 0:
		return // a document that is one scalar: no keys, reported below
	case 1:
		p.top[path[0].Key] = string(v)
		return
	}
	switch path[0].Key {
	case "resource_statuses":
		if len(path) < 3 || path[1].Index >= 0 {
			return
		}
		if path[1].Key != p.curKey {
			p.finish()
			p.curKey = path[1].Key
			p.cur = Resource{ID: path[1].Key}
		}
		if len(path) == 3 {
			p.field(path[2].Key, v)
			return
		}
		if len(path) == 5 && path[2].Key == "events" && path[3].Index >= 0 {
			switch path[4].Key {
			case "property":
				if prop := string(v); prop != "" && !p.events[prop] {
					p.events[prop] = true
					p.cur.Properties = append(p.cur.Properties, prop)
				}
			case "message":
				p.evMsg = string(v)
			case "status":
				if string(v) == "failure" && p.cur.Detail == "" {
					msg := p.evMsg
					if _, after, ok := strings.Cut(msg, " failed: "); ok {
						msg = after
					}
					p.cur.Detail = msg
				}
			}
		}
	case "metrics":
		if len(path) == 5 && path[1].Key == "time" && path[2].Key == "values" && path[4].Index >= 0 {
			switch path[4].Index {
			case 0:
				p.metric = string(v)
			case 2:
				if p.metric == "total" {
					if f, err := strconv.ParseFloat(string(v), 64); err == nil {
						p.total, p.hasTotal = f, true
					}
				}
			}
		}
	case "logs":
		if len(path) == 3 && path[1].Index >= 0 {
			switch path[2].Key {
			case "level":
				lvl := strings.TrimPrefix(string(v), ":")
				p.errLog = lvl == "err" || lvl == "crit" || lvl == "alert" || lvl == "emerg"
			case "message":
				if p.errLog && p.firstErr == "" {
					p.firstErr = string(v)
				}
			}
		}
	}
}

func (p *puppetReport) field(k string, v []byte) {
	b := string(v) == "true"
	switch k {
	case "resource":
		if len(v) > 0 {
			p.cur.ID = string(v)
		}
	case "resource_type":
		p.cur.Type = string(v)
	case "changed":
		p.cur.Changed = b
	case "out_of_sync":
		p.curOOS = b
	case "failed", "failed_to_restart":
		p.cur.Failed = p.cur.Failed || b
	case "skipped":
		p.cur.Skipped = b
	case "corrective_change":
		p.cur.Corrective = b
	}
}

func (p *puppetReport) finish() {
	if p.curKey == "" {
		return
	}
	res := p.cur
	res.OutOfSync = p.curOOS && !res.Changed && !res.Failed
	if res.OutOfSync {
		res.Detail = "noop: would change " + strings.Join(res.Properties, ", ")
		if len(res.Properties) == 0 {
			res.Detail = "out of sync, not changed"
		}
	}
	p.r.add(res)
	p.curKey, p.curOOS, p.evMsg = "", false, ""
	clear(p.events)
}

// parseRubyTime reads the times Psych and Puppet write:
// "2025-11-23 10:00:00.123456789 +00:00" and ISO 8601.
func parseRubyTime(s string) (time.Time, error) {
	s = strings.Trim(s, `'"`)
	for _, layout := range []string{
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999 -07:00",
		"2006-01-02 15:04:05.999999999 -0700",
		"2006-01-02 15:04:05 -0700",
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999-0700",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("not a time")
}

// AgentDisabled reads Puppet's agent_disabled.lock ({"disabled_message":
// "…"}): whether it exists and its message. A lock that is not JSON
// still disables the agent.
func AgentDisabled(path string) (disabled bool, message string, err error) {
	f, _, err := openReport(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, "", nil
	}
	var de *Error
	if errors.As(err, &de) {
		return false, "", fmt.Errorf("read %w", err)
	}
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	// Puppet writes a line of JSON; a lock is never this large.
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return false, "", fmt.Errorf("read %s: %w", path, err)
	}
	var lock struct {
		Message string `json:"disabled_message"`
	}
	if json.Unmarshal(b, &lock) == nil {
		message = shortMessage(lock.Message)
	}
	return true, message, nil
}

// PuppetLockNear is where Puppet keeps the disable lock for a report at
// path: next to it when the report is in the state directory, else the
// default state directory under root.
func PuppetLockNear(root, path string) []string {
	return []string{
		filepath.Join(filepath.Dir(path), "agent_disabled.lock"),
		filepath.Join(root, PuppetDisabledLock),
	}
}
