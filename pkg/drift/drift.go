// Package drift reads the run reports of configuration management and
// infrastructure-as-code tools (Puppet, Chef, Ansible, Terraform,
// driftctl) into one normalised Result: how many resources the run
// managed, changed, failed to change, left out of sync (no-op runs,
// plans), changed correctively (reverting a change someone made by
// hand) and skipped, when the run ended and how long it took, and the
// resources behind those counts. check-config-drift (pkg/driftcheck)
// turns a Result into findings and metrics; this package has no flags and
// prints nothing.
//
// Formats are read as the tools write them (see the testdata folder for
// one real-looking file of each): Puppet's last_run_summary.yaml and its
// Ruby-tagged last_run_report.yaml (read by a streaming scanner of the
// block YAML Psych writes, yamlscan.go, because yaml.v3 needs seconds
// and a gigabyte for a 50 MB report), Chef's JSON file handler report
// and data-collector run_converge message, Ansible's PLAY RECAP text and
// ansible.posix.json callback output, Terraform's `show -json` plan
// (github.com/hashicorp/terraform-json v0.23.0, HashiCorp's own
// types for the format, pinned) and `plan -json` message stream, and
// driftctl's JSON output. A file that cannot be read as its format is an
// error that names the file, the line where that is known, and the
// reason; a file that ends early is reported as truncated. Only regular
// files are opened (a FIFO is refused, not waited on), and the formats
// read whole are bounded (MaxWholeReport).
//
// Messages taken from a report (Result.RunError, Resource.Detail) are
// reduced to their first line, cut before a command's output, bounded and
// with credentials masked (message.go): a failed command's message holds
// its command line, and findings are shipped and stored.
package drift

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Source is the tool that wrote a report.
type Source int

// The sources. Auto tells the source from the file's content.
const (
	Auto Source = iota
	Puppet
	Chef
	Ansible
	Terraform
	Driftctl
)

var sourceNames = []string{"auto", "puppet", "chef", "ansible", "terraform", "driftctl"}

// String is the source's name as --source spells it.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// ParseSource reads a --source value.
func ParseSource(s string) (Source, error) {
	for i, n := range sourceNames {
		if strings.EqualFold(s, n) {
			return Source(i), nil
		}
	}
	return Auto, fmt.Errorf("must be one of %s", strings.Join(sourceNames, ", "))
}

// The formats a Result can come from.
const (
	FormatPuppetSummary   = "puppet last_run_summary"
	FormatPuppetReport    = "puppet last_run_report"
	FormatChefHandler     = "chef json report"
	FormatChefConverge    = "chef run_converge"
	FormatAnsibleRecap    = "ansible recap"
	FormatAnsibleJSON     = "ansible json callback"
	FormatTerraformPlan   = "terraform show -json"
	FormatTerraformStream = "terraform -json stream"
	FormatDriftctl        = "driftctl json"
	defaultMaxResources   = 1000
)

// Resource is one resource the run did something about (or failed to).
// Unchanged resources are only counted.
type Resource struct {
	// ID is the resource's address or title as the tool names it:
	// File[/etc/motd], template[/etc/nginx/nginx.conf],
	// aws_security_group.web, web-01: restart nginx.
	ID string
	// Type is the resource type where the tool has one (File, template,
	// aws_security_group).
	Type string
	// Changed: the run changed it. Failed: the run failed to. OutOfSync:
	// it differs from its desired state and was not changed (a no-op
	// run, a plan, a drift scan). Corrective: the change reverted one made
	// outside the tool (Puppet's corrective_change; Terraform's
	// resource_drift). Skipped: not evaluated.
	Changed, Failed, OutOfSync, Corrective, Skipped bool
	// Properties are the attributes involved (content, mode, tags.Env),
	// never their values.
	Properties []string
	// Detail is a short description: the planned actions, the failure
	// message, the drift kind. It never holds attribute values.
	Detail string
}

// Result is a run, normalised.
type Result struct {
	Source Source
	Format string
	// File is the report read.
	File string
	// Host is the node the run was for, when the report names it.
	Host string
	// RunID identifies the run (Puppet's transaction_uuid or configuration
	// version and time, Chef's run_id). Empty when the format has none.
	RunID string
	// Time is when the run ended (or, failing that, started); the file's
	// modification time when the report has no time.
	Time time.Time
	// TimeFromFile says Time is the file's modification time.
	TimeFromFile bool
	// Duration is how long the run took; zero when unknown.
	Duration time.Duration
	// Noop: a dry run (Puppet --noop, a plan): nothing was changed.
	Noop bool

	Total, Changed, Failed, OutOfSync, Corrective, Skipped int

	// RunFailed: the run as a whole failed (no catalog, an exception, an
	// unreachable host, an error diagnostic); RunError says why, briefly.
	RunFailed bool
	RunError  string

	// Resources are the changed, failed, out-of-sync and corrective
	// resources, at most Options.MaxResources of them; Dropped counts the
	// rest.
	Resources []Resource
	Dropped   int

	// AgentDisabled: Puppet's agent_disabled.lock exists;
	// DisabledMessage is its disabled_message.
	AgentDisabled   bool
	DisabledMessage string

	maxResources int
}

// Options tune parsing.
type Options struct {
	// MaxResources bounds Result.Resources (default 1000); every resource
	// is still counted.
	MaxResources int
}

// add counts a resource and keeps it when it is worth listing.
func (r *Result) add(res Resource) {
	r.Total++
	if res.Changed {
		r.Changed++
	}
	if res.Failed {
		r.Failed++
	}
	if res.OutOfSync {
		r.OutOfSync++
	}
	if res.Corrective {
		r.Corrective++
	}
	if res.Skipped {
		r.Skipped++
	}
	if !res.Changed && !res.Failed && !res.OutOfSync && !res.Corrective {
		return
	}
	r.keep(res)
}

// keep lists a resource without counting it.
func (r *Result) keep(res Resource) {
	limit := r.maxResources
	if limit <= 0 {
		limit = defaultMaxResources
	}
	if len(r.Resources) >= limit {
		r.Dropped++
		return
	}
	res.ID = maskSecrets(res.ID)
	res.Detail = shortMessage(res.Detail)
	r.Resources = append(r.Resources, res)
}

// Error is a report that cannot be read.
type Error struct {
	File string
	// Line is where the problem is, 0 when not known.
	Line   int
	Reason string
	Err    error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

func (e *Error) Unwrap() error { return e.Err }

func errAt(file string, line int, format string, args ...any) error {
	return &Error{File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
}

// MaxWholeReport bounds the reports read whole (every format but
// Puppet's last_run_report.yaml, which is streamed): a larger file is an
// error that says so.
const MaxWholeReport = 256 << 20

// openReport opens path for reading without blocking on a FIFO or a
// device, and refuses anything but a regular file.
func openReport(path string) (*os.File, os.FileInfo, error) {
	// O_NONBLOCK: opening a FIFO for reading otherwise waits for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0) //nolint:gosec // the operator's report path
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	switch {
	case st.IsDir():
		_ = f.Close()
		return nil, nil, errAt(path, 0, "is a directory, not a report")
	case !st.Mode().IsRegular():
		_ = f.Close()
		return nil, nil, errAt(path, 0, "is not a regular file (%s), not a report", fileKind(st.Mode()))
	}
	return f, st, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

// ParseFile reads the report at path. src Auto tells the format from the
// content.
func ParseFile(src Source, path string, opt Options) (*Result, error) {
	f, st, err := openReport(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	head := make([]byte, 64<<10)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, errAt(path, 0, "is empty")
	}
	format, err := detect(src, head)
	if err != nil {
		return nil, &Error{File: path, Reason: err.Error()}
	}
	r := &Result{File: path, Format: format, maxResources: opt.MaxResources}
	switch format {
	case FormatPuppetReport:
		r.Source = Puppet
		err = parsePuppetReport(f, r)
	default:
		if st.Size() > MaxWholeReport {
			return nil, errAt(path, 0, "is %s, larger than the %s this check reads of a %s", mib(st.Size()), mib(MaxWholeReport), format)
		}
		// Read from the file opened (not the path again), and no more
		// than the bound should it grow meanwhile.
		data, rerr := io.ReadAll(io.LimitReader(f, MaxWholeReport+1))
		if rerr != nil {
			return nil, &Error{File: path, Reason: rerr.Error(), Err: rerr}
		}
		if len(data) > MaxWholeReport {
			return nil, errAt(path, 0, "is larger than the %s this check reads of a %s", mib(MaxWholeReport), format)
		}
		err = parseBytes(format, data, r)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File = path
			return nil, e
		}
		return nil, &Error{File: path, Reason: err.Error(), Err: err}
	}
	r.finish()
	if r.Time.IsZero() {
		r.Time, r.TimeFromFile = st.ModTime(), true
	}
	return r, nil
}

func mib(n int64) string {
	return fmt.Sprintf("%d MiB", (n+(1<<20)-1)>>20)
}

// finish reduces what the report says about the run's failure to what
// may be shown.
func (r *Result) finish() {
	r.RunError = shortMessage(r.RunError)
}

// Parse reads a report held in memory; name is used in errors.
func Parse(src Source, name string, data []byte, opt Options) (*Result, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errAt(name, 0, "is empty")
	}
	format, err := detect(src, data[:min(len(data), 64<<10)])
	if err != nil {
		return nil, &Error{File: name, Reason: err.Error()}
	}
	r := &Result{File: name, Format: format, maxResources: opt.MaxResources}
	if format == FormatPuppetReport {
		r.Source = Puppet
		err = parsePuppetReport(bytes.NewReader(data), r)
	} else {
		err = parseBytes(format, data, r)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.File = name
			return nil, e
		}
		return nil, &Error{File: name, Reason: err.Error(), Err: err}
	}
	r.finish()
	return r, nil
}

func parseBytes(format string, data []byte, r *Result) error {
	switch format {
	case FormatPuppetSummary:
		r.Source = Puppet
		return parsePuppetSummary(data, r)
	case FormatChefHandler:
		r.Source = Chef
		return parseChefHandler(data, r)
	case FormatChefConverge:
		r.Source = Chef
		return parseChefConverge(data, r)
	case FormatAnsibleRecap:
		r.Source = Ansible
		return parseAnsibleRecap(data, r)
	case FormatAnsibleJSON:
		r.Source = Ansible
		return parseAnsibleJSON(data, r)
	case FormatTerraformPlan:
		r.Source = Terraform
		return parseTerraformPlan(data, r)
	case FormatTerraformStream:
		r.Source = Terraform
		return parseTerraformStream(data, r)
	case FormatDriftctl:
		r.Source = Driftctl
		return parseDriftctl(data, r)
	}
	return fmt.Errorf("unknown format %q", format)
}
