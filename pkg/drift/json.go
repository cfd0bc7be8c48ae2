package drift

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// jsonErr turns a decoding error into one with the line and, for a file
// that ends early, says it is truncated.
func jsonErr(data []byte, err error) error {
	lineAt := func(off int64) int { return bytes.Count(data[:min(int(off), len(data))], []byte("\n")) + 1 }
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case strings.Contains(err.Error(), "unexpected end of JSON input"):
		return &Error{Line: lineAt(int64(len(data))), Reason: "truncated: the JSON ends before it is complete", Err: err}
	case errors.As(err, &syn):
		return &Error{Line: lineAt(syn.Offset), Reason: "not valid JSON: " + syn.Error(), Err: err}
	case errors.As(err, &typ):
		return &Error{Line: lineAt(typ.Offset), Reason: fmt.Sprintf("field %s is a JSON %s, expected %s", typ.Field, typ.Value, typ.Type), Err: err}
	}
	return &Error{Reason: "not valid JSON: " + err.Error(), Err: err}
}

func decodeJSON(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return jsonErr(data, err)
	}
	return nil
}

// --- Chef ---

// chefResource is a resource in a JSON file handler report: Chef's
// Resource#as_json ({"json_class", "instance_vars"}), or a plain hash.
type chefResource struct {
	JSONClass    string         `json:"json_class"`
	InstanceVars map[string]any `json:"instance_vars"`
	Name         any            `json:"name"`
	ResourceName string         `json:"resource_name"`
}

func (c chefResource) id() (id, typ string) {
	vars := c.InstanceVars
	if vars == nil {
		vars = map[string]any{"name": c.Name, "resource_name": c.ResourceName}
	}
	name := fmt.Sprint(vars["name"])
	typ, _ = vars["resource_name"].(string)
	if typ == "" {
		typ, _ = vars["declared_type"].(string)
	}
	if typ == "" && strings.HasPrefix(c.JSONClass, "Chef::Resource::") {
		typ = strings.ToLower(strings.TrimPrefix(c.JSONClass, "Chef::Resource::"))
	}
	return typ + "[" + name + "]", typ
}

// chefFailed is the resource named at the start of a Chef exception
// ("Mixlib::ShellOut::ShellCommandFailed: service[nginx] (nginx::default
// line 12) had an error: …").
var chefFailed = regexp.MustCompile(`^[\w:]+: (?:[\w:]+: )?([a-z_][\w:]*\[[^\]]+\])`)

func parseChefHandler(data []byte, r *Result) error {
	var rep struct {
		Node             json.RawMessage `json:"node"`
		Success          *bool           `json:"success"`
		StartTime        string          `json:"start_time"`
		EndTime          string          `json:"end_time"`
		ElapsedTime      float64         `json:"elapsed_time"`
		AllResources     []chefResource  `json:"all_resources"`
		UpdatedResources []chefResource  `json:"updated_resources"`
		Exception        *string         `json:"exception"`
		RunID            string          `json:"run_id"`
	}
	if err := decodeJSON(data, &rep); err != nil {
		return err
	}
	if rep.Success == nil {
		return &Error{Reason: "not a Chef JSON report: no success field"}
	}
	r.Host = chefNode(rep.Node)
	r.RunID = rep.RunID
	r.Duration = seconds(rep.ElapsedTime)
	for _, t := range []string{rep.EndTime, rep.StartTime} {
		if t == "" {
			continue
		}
		if tm, err := parseRubyTime(t); err == nil {
			r.Time = tm
			break
		}
	}
	updated := map[string]bool{}
	for _, u := range rep.UpdatedResources {
		id, _ := u.id()
		updated[id] = true
	}
	for _, a := range rep.AllResources {
		id, typ := a.id()
		r.add(Resource{ID: id, Type: typ, Changed: updated[id]})
		delete(updated, id)
	}
	for id := range updated { // updated but not in all_resources
		r.add(Resource{ID: id, Changed: true})
	}
	if !*rep.Success {
		r.RunFailed = true
		if rep.Exception != nil {
			r.RunError = *rep.Exception
			if m := chefFailed.FindStringSubmatch(*rep.Exception); m != nil {
				r.Failed++
				r.keep(Resource{ID: m[1], Failed: true, Detail: *rep.Exception})
			}
		}
	}
	return nil
}

func chefNode(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(raw, &n)
	return n.Name
}

func parseChefConverge(data []byte, r *Result) error {
	var m struct {
		MessageType  string `json:"message_type"`
		NodeName     string `json:"node_name"`
		RunID        string `json:"run_id"`
		ID           string `json:"id"`
		StartTime    string `json:"start_time"`
		EndTime      string `json:"end_time"`
		Status       string `json:"status"`
		TotalCount   *int   `json:"total_resource_count"`
		UpdatedCount int    `json:"updated_resource_count"`
		Resources    []struct {
			Type   string `json:"type"`
			Name   string `json:"name"`
			ID     string `json:"id"`
			Status string `json:"status"`
			Result string `json:"result"`
			Error  *struct {
				Class   string `json:"class"`
				Message string `json:"message"`
			} `json:"error"`
		} `json:"resources"`
		Error *struct {
			Class   string `json:"class"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := decodeJSON(data, &m); err != nil {
		return err
	}
	if m.MessageType != "" && m.MessageType != "run_converge" {
		return &Error{Reason: fmt.Sprintf("a Chef %s message, not run_converge", m.MessageType)}
	}
	r.Host, r.RunID = m.NodeName, m.RunID
	if r.RunID == "" {
		r.RunID = m.ID
	}
	start, _ := time.Parse(time.RFC3339, m.StartTime)
	end, err := time.Parse(time.RFC3339, m.EndTime)
	if err == nil {
		r.Time = end
		if !start.IsZero() && end.After(start) {
			r.Duration = end.Sub(start)
		}
	}
	for _, res := range m.Resources {
		name := res.Name
		if name == "" {
			name = res.ID
		}
		x := Resource{ID: res.Type + "[" + name + "]", Type: res.Type}
		switch res.Status {
		case "updated":
			x.Changed, x.Detail = true, res.Result
		case "failed":
			x.Failed = true
			if res.Error != nil {
				x.Detail = res.Error.Class + ": " + res.Error.Message
			}
		case "skipped", "unprocessed":
			x.Skipped = true
		}
		r.add(x)
	}
	// The message lists every resource; where it does not, its counts win.
	if m.TotalCount != nil && *m.TotalCount > r.Total {
		r.Total = *m.TotalCount
	}
	if m.UpdatedCount > r.Changed {
		r.Changed = m.UpdatedCount
	}
	if m.Status == "failure" {
		r.RunFailed = true
		if m.Error != nil {
			r.RunError = m.Error.Class + ": " + m.Error.Message
		}
	}
	return nil
}

// --- Ansible ---

var recapStats = regexp.MustCompile(`(\w+)=(\d+)`)

// stripANSI removes the colour codes ansible-playbook writes to a
// terminal (and to a log when forced).
var stripANSI = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// ansibleLogPrefix is what Ansible's log_path file puts before each line:
// "2025-11-23 10:00:31,802 p=4242 u=deploy n=ansible | " (ansible-core
// 2.17 and later add the level: "n=ansible INFO| ").
var ansibleLogPrefix = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ p=\d+ u=\S* n=\S+(?: [A-Z]+)? ?\| ?`)

type recapHost struct {
	name                                      string
	ok, changed, failed, unreachable, skipped int
}

// parseAnsibleRecap reads the PLAY RECAP of ansible-playbook's output, or
// of its log_path file, which Ansible appends to on every run: only the
// last PLAY RECAP counts.
func parseAnsibleRecap(data []byte, r *Result) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var hosts []recapHost
	n := 0
	for sc.Scan() {
		n++
		line := stripANSI.ReplaceAllString(sc.Text(), "")
		line = ansibleLogPrefix.ReplaceAllString(line, "")
		if strings.HasPrefix(line, "PLAY RECAP") {
			hosts = hosts[:0] // a later run's recap replaces an earlier one's
			continue
		}
		if !recapLine.MatchString(line) {
			continue
		}
		host, stats, _ := strings.Cut(line, " : ")
		st := map[string]int{}
		for _, m := range recapStats.FindAllStringSubmatch(stats, -1) {
			v, _ := strconv.Atoi(m[2])
			st[m[1]] = v
		}
		hosts = append(hosts, recapHost{strings.TrimSpace(host), st["ok"], st["changed"], st["failed"], st["unreachable"], st["skipped"]})
	}
	if err := sc.Err(); err != nil {
		return &Error{Line: n + 1, Reason: err.Error()}
	}
	if len(hosts) == 0 {
		return &Error{Reason: "no PLAY RECAP host lines (host : ok=N changed=N unreachable=N failed=N …)"}
	}
	for _, h := range hosts {
		ansibleHost(r, h)
	}
	return nil
}

// ansibleHost adds one host's recap: tasks are the resources. The recap
// counts tasks without naming them, so none is listed: the counts are the
// recap's, and the check reports them as unnamed.
func ansibleHost(r *Result, h recapHost) {
	r.Total += h.ok + h.failed + h.unreachable + h.skipped
	r.Changed += h.changed
	r.Failed += h.failed
	r.Skipped += h.skipped
	if h.unreachable > 0 {
		r.RunFailed = true
		msg := h.name + " unreachable"
		if r.RunError != "" {
			msg = r.RunError + "; " + msg
		}
		r.RunError = msg
	}
}

func parseAnsibleJSON(data []byte, r *Result) error {
	var out struct {
		Plays []struct {
			Play struct {
				Name     string `json:"name"`
				Duration struct {
					Start string `json:"start"`
					End   string `json:"end"`
				} `json:"duration"`
			} `json:"play"`
			Tasks []struct {
				Task struct {
					Name string `json:"name"`
				} `json:"task"`
				Hosts map[string]struct {
					Action      string `json:"action"`
					Changed     bool   `json:"changed"`
					Failed      bool   `json:"failed"`
					Skipped     bool   `json:"skipped"`
					Unreachable bool   `json:"unreachable"`
					Msg         any    `json:"msg"`
				} `json:"hosts"`
			} `json:"tasks"`
		} `json:"plays"`
		Stats map[string]map[string]int `json:"stats"`
	}
	if err := decodeJSON(data, &out); err != nil {
		return err
	}
	if out.Stats == nil {
		return &Error{Reason: "not ansible.posix.json output: no stats"}
	}
	var start, end time.Time
	listed := map[string]bool{}
	for _, p := range out.Plays {
		if t, err := time.Parse(time.RFC3339Nano, p.Play.Duration.Start); err == nil && (start.IsZero() || t.Before(start)) {
			start = t
		}
		if t, err := time.Parse(time.RFC3339Nano, p.Play.Duration.End); err == nil && t.After(end) {
			end = t
		}
		for _, t := range p.Tasks {
			for _, host := range slices.Sorted(mapKeys(t.Hosts)) {
				h := t.Hosts[host]
				if !h.Changed && !h.Failed {
					continue
				}
				x := Resource{ID: host + ": " + t.Task.Name, Type: h.Action, Changed: h.Changed && !h.Failed, Failed: h.Failed}
				if h.Failed {
					if s, ok := h.Msg.(string); ok {
						x.Detail = s
					}
				}
				listed[host] = true
				r.keep(x)
			}
		}
	}
	if !end.IsZero() {
		r.Time = end
		if !start.IsZero() {
			r.Duration = end.Sub(start)
		}
	}
	for _, host := range slices.Sorted(mapKeys(out.Stats)) {
		st := out.Stats[host]
		// The callback says "failures", the recap "failed".
		failed := st["failures"] + st["failed"]
		if listed[host] {
			r.Total += st["ok"] + failed + st["unreachable"] + st["skipped"]
			r.Changed += st["changed"]
			r.Failed += failed
			r.Skipped += st["skipped"]
			if st["unreachable"] > 0 {
				ansibleHost(r, recapHost{name: host, unreachable: st["unreachable"]})
				r.Total -= st["unreachable"]
			}
			continue
		}
		ansibleHost(r, recapHost{host, st["ok"], st["changed"], failed, st["unreachable"], st["skipped"]})
	}
	return nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// --- Terraform ---

// tfActions describes a change's actions ("update", "replace").
func tfActions(a tfjson.Actions) string {
	switch {
	case a.Replace():
		return "replace"
	case a.Create():
		return "create"
	case a.Delete():
		return "delete"
	case a.Update():
		return "update"
	case a.Read():
		return "read"
	case a.NoOp():
		return "no-op"
	}
	parts := make([]string, len(a))
	for i, x := range a {
		parts[i] = string(x)
	}
	return strings.Join(parts, ",")
}

func parseTerraformPlan(data []byte, r *Result) error {
	var p tfjson.Plan
	if err := json.Unmarshal(data, &p); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) || strings.Contains(err.Error(), "unexpected end of JSON input") {
			return jsonErr(data, err)
		}
		return &Error{Reason: "not a terraform show -json plan: " + err.Error(), Err: err}
	}
	if t, err := time.Parse(time.RFC3339, p.Timestamp); err == nil {
		r.Time = t
	}
	drifted := map[string]string{}
	for _, d := range p.ResourceDrift {
		if d == nil || d.Change == nil {
			continue
		}
		drifted[d.Address] = tfActions(d.Change.Actions)
	}
	seen := map[string]bool{}
	for _, rc := range p.ResourceChanges {
		if rc == nil || rc.Change == nil || rc.Mode == tfjson.DataResourceMode {
			continue
		}
		seen[rc.Address] = true
		act := tfActions(rc.Change.Actions)
		x := Resource{ID: rc.Address, Type: rc.Type}
		if !rc.Change.Actions.NoOp() && !rc.Change.Actions.Read() {
			x.OutOfSync = true
			x.Detail = "planned: " + act
			x.Properties = tfPaths(rc.Change.ReplacePaths)
		}
		if d, ok := drifted[rc.Address]; ok {
			x.Corrective = true
			x.Detail = strings.TrimPrefix(x.Detail+"; ", "; ") + "changed outside Terraform (" + d + ")"
		}
		r.add(x)
	}
	for _, d := range p.ResourceDrift {
		if d == nil || d.Change == nil || seen[d.Address] {
			continue
		}
		r.add(Resource{ID: d.Address, Type: d.Type, Corrective: true, Detail: "changed outside Terraform (" + drifted[d.Address] + ")"})
	}
	r.Noop = true
	return nil
}

// tfPaths turns replace_paths ([["ami"], ["tags","Env"]]) into dotted
// attribute names.
func tfPaths(paths []any) []string {
	var out []string
	for _, p := range paths {
		steps, ok := p.([]any)
		if !ok {
			continue
		}
		parts := make([]string, len(steps))
		for i, s := range steps {
			parts[i] = fmt.Sprint(s)
		}
		out = append(out, strings.Join(parts, "."))
	}
	return out
}

// parseTerraformStream reads the machine-readable UI (terraform plan
// -json, apply -json): one JSON message per line.
func parseTerraformStream(data []byte, r *Result) error {
	type hook struct {
		Resource struct {
			Addr         string `json:"addr"`
			ResourceType string `json:"resource_type"`
		} `json:"resource"`
		Action string `json:"action"`
		Reason string `json:"reason"`
	}
	var msg struct {
		Level     string `json:"@level"`
		Message   string `json:"@message"`
		Timestamp string `json:"@timestamp"`
		Type      string `json:"type"`
		Change    hook   `json:"change"`
		Hook      hook   `json:"hook"`
		Changes   *struct {
			Add, Change, Import, Remove int
			Operation                   string
		} `json:"changes"`
		Diagnostic *struct {
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
			Address  string `json:"address"`
		} `json:"diagnostic"`
	}
	type state struct {
		res       Resource
		planned   bool
		applied   bool
		corrected bool
	}
	byAddr := map[string]*state{}
	var order []string
	get := func(addr, typ string) *state {
		s, ok := byAddr[addr]
		if !ok {
			s = &state{res: Resource{ID: addr, Type: typ}}
			byAddr[addr] = s
			order = append(order, addr)
		}
		return s
	}
	var summary *struct {
		Add, Change, Import, Remove int
		Operation                   string
	}
	lines := bytes.Split(data, []byte("\n"))
	n := 0
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		msg.Changes, msg.Diagnostic = nil, nil
		msg.Change, msg.Hook = hook{}, hook{}
		msg.Type, msg.Level, msg.Message, msg.Timestamp = "", "", "", ""
		if err := json.Unmarshal(line, &msg); err != nil {
			if i == len(lines)-1 {
				return &Error{Line: i + 1, Reason: "truncated: the last message is cut"}
			}
			return &Error{Line: i + 1, Reason: "not a terraform -json message: " + err.Error()}
		}
		n++
		if t, err := time.Parse(time.RFC3339Nano, msg.Timestamp); err == nil && t.After(r.Time) {
			r.Time = t
		}
		switch msg.Type {
		case "planned_change":
			s := get(msg.Change.Resource.Addr, msg.Change.Resource.ResourceType)
			if msg.Change.Action != "noop" && msg.Change.Action != "read" {
				s.planned = true
				s.res.Detail = "planned: " + msg.Change.Action
				if msg.Change.Reason != "" {
					s.res.Detail += " (" + msg.Change.Reason + ")"
				}
			}
		case "resource_drift":
			s := get(msg.Change.Resource.Addr, msg.Change.Resource.ResourceType)
			s.corrected = true
		case "apply_complete":
			get(msg.Hook.Resource.Addr, msg.Hook.Resource.ResourceType).applied = true
		case "apply_errored":
			s := get(msg.Hook.Resource.Addr, msg.Hook.Resource.ResourceType)
			s.res.Failed = true
		case "change_summary":
			summary = msg.Changes
		case "diagnostic":
			if msg.Level == "error" && msg.Diagnostic != nil {
				r.RunFailed = true
				if r.RunError == "" {
					r.RunError = msg.Diagnostic.Summary
					if msg.Diagnostic.Address != "" {
						r.RunError = msg.Diagnostic.Address + ": " + r.RunError
					}
				}
			}
		}
	}
	if n == 0 {
		return &Error{Reason: "no terraform -json messages"}
	}
	apply := summary != nil && summary.Operation == "apply"
	for _, addr := range order {
		s := byAddr[addr]
		x := s.res
		switch {
		case x.Failed:
		case s.applied || (apply && s.planned):
			x.Changed = true
		case s.planned:
			x.OutOfSync = true
		}
		if s.corrected {
			x.Corrective = true
			x.Detail = strings.TrimPrefix(x.Detail+"; ", "; ") + "changed outside Terraform"
		}
		r.add(x)
	}
	r.Noop = !apply
	if summary == nil && !r.RunFailed {
		// plan -json always ends with change_summary (or an error).
		return &Error{Line: len(lines), Reason: "truncated: no change_summary message"}
	}
	return nil
}

// --- driftctl ---

func parseDriftctl(data []byte, r *Result) error {
	type res struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	var out struct {
		Summary *struct {
			TotalResources int  `json:"total_resources"`
			TotalChanged   *int `json:"total_changed"`
			TotalDrifted   *int `json:"total_drifted"`
			TotalUnmanaged int  `json:"total_unmanaged"`
			TotalMissing   int  `json:"total_missing"`
			TotalManaged   int  `json:"total_managed"`
		} `json:"summary"`
		Managed     []res `json:"managed"`
		Unmanaged   []res `json:"unmanaged"`
		Missing     []res `json:"missing"`
		Differences []struct {
			Res       res `json:"res"`
			Changelog []struct {
				Type string `json:"type"`
				Path []any  `json:"path"`
			} `json:"changelog"`
		} `json:"differences"`
		Coverage  *int   `json:"coverage"`
		ScanDate  string `json:"date"`
		ScanDur   int    `json:"scan_duration"`
		ProviderN string `json:"provider_name"`
	}
	if err := decodeJSON(data, &out); err != nil {
		return err
	}
	if out.Summary == nil {
		return &Error{Reason: "not driftctl JSON: no summary"}
	}
	if t, err := time.Parse(time.RFC3339Nano, out.ScanDate); err == nil {
		r.Time = t
	}
	r.Duration = time.Duration(out.ScanDur) * time.Second
	for _, d := range out.Differences {
		var props []string
		for _, c := range d.Changelog {
			parts := make([]string, len(c.Path))
			for i, p := range c.Path {
				parts[i] = fmt.Sprint(p)
			}
			if p := strings.Join(parts, "."); p != "" && !slices.Contains(props, p) {
				props = append(props, p)
			}
		}
		r.add(Resource{ID: d.Res.Type + "." + d.Res.ID, Type: d.Res.Type, OutOfSync: true, Properties: props, Detail: "changed outside IaC"})
	}
	for _, m := range out.Missing {
		r.add(Resource{ID: m.Type + "." + m.ID, Type: m.Type, OutOfSync: true, Detail: "missing: in the IaC state, not in the cloud"})
	}
	for _, u := range out.Unmanaged {
		r.add(Resource{ID: u.Type + "." + u.ID, Type: u.Type, OutOfSync: true, Detail: "unmanaged: in the cloud, not in any IaC state"})
	}
	// The listing may be partial (--output with filters); the summary counts.
	if out.Summary.TotalResources > r.Total {
		r.Total = out.Summary.TotalResources
	}
	drifted := out.Summary.TotalUnmanaged + out.Summary.TotalMissing
	if out.Summary.TotalChanged != nil {
		drifted += *out.Summary.TotalChanged
	} else if out.Summary.TotalDrifted != nil {
		drifted += *out.Summary.TotalDrifted
	}
	if drifted > r.OutOfSync {
		r.OutOfSync = drifted
	}
	r.Noop = true
	return nil
}
