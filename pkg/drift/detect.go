package drift

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
)

// recapLine is one host's line of Ansible's PLAY RECAP.
var recapLine = regexp.MustCompile(`(?m)^\S.*?\s+:\s+ok=\d+\s+changed=\d+\s+unreachable=\d+\s+failed=\d+`)

// detect tells the format from the first bytes of a report, within the
// source when one is given.
func detect(src Source, head []byte) (string, error) {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	var format string
	switch {
	case len(trimmed) > 0 && trimmed[0] == '{':
		format = detectJSON(trimmed)
	case bytes.Contains(head, []byte("!ruby/object:Puppet::Transaction::Report")):
		format = FormatPuppetReport
	case bytes.Contains(head, []byte("PLAY RECAP")) || recapLine.Match(head):
		format = FormatAnsibleRecap
	case yamlKey(head, "version") && (yamlKey(head, "resources") || yamlKey(head, "time") || yamlKey(head, "events")):
		format = FormatPuppetSummary
	case yamlKey(head, "resource_statuses") || yamlKey(head, "transaction_uuid"):
		// A report written without its Ruby tag (puppet report --format yaml).
		format = FormatPuppetReport
	}
	want := map[string]Source{
		FormatPuppetSummary: Puppet, FormatPuppetReport: Puppet, FormatChefHandler: Chef, FormatChefConverge: Chef,
		FormatAnsibleRecap: Ansible, FormatAnsibleJSON: Ansible, FormatTerraformPlan: Terraform,
		FormatTerraformStream: Terraform, FormatDriftctl: Driftctl,
	}
	if format == "" {
		if src == Auto {
			return "", errors.New("cannot tell which tool wrote it (not a Puppet, Chef, Ansible, Terraform or driftctl report); set --source")
		}
		return "", fmt.Errorf("is not a %s report this check reads (%s)", src, expected[src])
	}
	if src != Auto && want[format] != src {
		return "", fmt.Errorf("looks like a %s, not a %s report", format, src)
	}
	return format, nil
}

var expected = map[Source]string{
	Puppet:    "last_run_summary.yaml or last_run_report.yaml",
	Chef:      "a JSON file handler report or a data-collector run_converge message",
	Ansible:   "PLAY RECAP output or the ansible.posix.json callback's JSON",
	Terraform: "terraform show -json PLANFILE, or terraform plan -json output",
	Driftctl:  "driftctl scan --output json://FILE",
}

// yamlKey reports whether a top-level key starts a line of head.
func yamlKey(head []byte, key string) bool {
	k := []byte(key + ":")
	return bytes.HasPrefix(head, k) || bytes.Contains(head, append([]byte("\n"), k...))
}

// detectJSON tells the JSON formats apart by their top-level keys, read
// from the head of the file (which may be cut anywhere).
func detectJSON(head []byte) string {
	has := func(key string) bool { return bytes.Contains(head, []byte(`"`+key+`"`)) }
	firstLine, _, _ := bytes.Cut(head, []byte("\n"))
	switch {
	case bytes.Contains(firstLine, []byte(`"@level"`)) || bytes.Contains(firstLine, []byte(`"@message"`)):
		return FormatTerraformStream
	case has("format_version") && (has("resource_changes") || has("planned_values") || has("terraform_version") || has("resource_drift")):
		return FormatTerraformPlan
	case has("summary") && (has("unmanaged") || has("differences") || has("coverage") || has("total_drifted") || has("total_changed")):
		return FormatDriftctl
	case has("run_converge") || has("total_resource_count") || has("updated_resource_count"):
		return FormatChefConverge
	case has("plays") && has("stats"):
		return FormatAnsibleJSON
	case has("all_resources") || has("updated_resources") || has("elapsed_time"):
		return FormatChefHandler
	case has("plays") || (has("stats") && has("custom_stats")):
		return FormatAnsibleJSON
	}
	return ""
}
