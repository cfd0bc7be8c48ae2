// Command check-audit-log turns audit logs into monitoring signals: who
// read secrets, exec'd into pods or changed RBAC in Kubernetes, who failed
// to log in over ssh or sudo and from where, what auditd saw run. See
// README.md.
package main

import (
	"context"
	"os"
	"time"

	"github.com/sensu/sensu-plugin-sdk/sensu"

	"github.com/vigil-sec/vigil/pkg/audit"
	"github.com/vigil-sec/vigil/pkg/auditcheck"
	"github.com/vigil-sec/vigil/pkg/plugin"
)

func main() {
	os.Exit(plugin.RunCheck(context.Background(), check(), os.Args[1:], plugin.StdIO()))
}

func check() plugin.Check[auditcheck.Config] {
	return plugin.Check[auditcheck.Config]{
		Plugin: plugin.Plugin[auditcheck.Config]{
			PluginConfig: sensu.PluginConfig{
				Name:     "check-audit-log",
				Short:    "Who did what, when and from where: Kubernetes audit, sshd, sudo and auditd logs as monitoring signals",
				Keyspace: "vigil.io/check-audit-log",
			},
			Options:  options,
			Validate: auditcheck.Validate,
		},
		StdinIsData: func(c *auditcheck.Config) bool { return c.Stdin },
		Run:         auditcheck.Run,
	}
}

func options(c *auditcheck.Config) []plugin.Option {
	d := audit.DefaultOptions()
	return []plugin.Option{
		{Spec: &sensu.PluginConfigOption[string]{Argument: "source", Env: "VIGIL_AUDIT_SOURCE", Path: "source", Default: "auto", Value: &c.Source,
			Allow: []string{"auto", "k8s", "auth", "auditd"},
			Usage: "log format: k8s (API-server audit JSON), auth (sshd, sudo), auditd, or auto (from each file's first line)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "path", Shorthand: "p", Env: "VIGIL_AUDIT_PATHS", Path: "paths", UseCobraStringArray: true, Value: &c.Paths,
			Usage: "log file, glob (quoted: '/var/log/kube-apiserver/audit*.log') or directory, repeatable"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "stdin", Value: &c.Stdin,
			Usage: "read standard input instead of files"}},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "state", Env: "VIGIL_AUDIT_STATE", Value: &c.State,
			Usage: "directory remembering how far each file was read (rotation-safe) and the failures still inside the window; without it every run reads whole files"}, Kind: plugin.Target},
		{Spec: &sensu.PluginConfigOption[bool]{Argument: "from-end", Value: &c.FromEnd,
			Usage: "with --state, start files seen for the first time at their end (read only what is appended later)"}},
		{Spec: &sensu.PluginConfigOption[time.Duration]{Argument: "window", Path: "window", Default: d.Window, Value: &c.Window,
			Usage: "span within which failures are counted per source (fail2ban's findtime)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "failed-login-warning", Path: "failed-login-warning", Default: d.FailedWarning, Value: &c.FailedWarning,
			Usage: "failed logins (ssh, auditd) from one source within --window that make its findings medium"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "failed-login-critical", Path: "failed-login-critical", Default: d.FailedCritical, Value: &c.FailedCritical,
			Usage: "failed logins from one source within --window that make its findings critical"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "denied-warning", Path: "denied-warning", Default: d.DeniedWarning, Value: &c.DeniedWarning,
			Usage: "401/403 responses to one Kubernetes user or address within --window that make a k8s.denied_burst finding"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "denied-critical", Path: "denied-critical", Default: d.DeniedCritical, Value: &c.DeniedCritical,
			Usage: "401/403 responses within --window that make the k8s.denied_burst finding high"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "auditd-keys", Env: "VIGIL_AUDITD_KEYS", Path: "auditd-keys", Value: &c.AuditdKeys,
			Usage: "audit rule keys (-k) whose program executions are auditd.exec findings, comma-separated"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.PluginConfigOption[string]{Argument: "rules", Env: "VIGIL_AUDIT_RULES", Value: &c.Rules,
			Usage: "YAML file of custom rules (field matches, CEL for Kubernetes) and built-in rule settings"}},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "disable", Path: "disable", Value: &c.Disable,
			Usage: "rules that report nothing, comma-separated"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.MapPluginConfigOption[string]{Argument: "severity", Path: "severity", Value: &c.Severity,
			Usage: "per rule, the severity of its findings (rule=high,…)"}, Annotations: plugin.CheckAnnotation},
		{Spec: &sensu.SlicePluginConfigOption[string]{Argument: "trusted-users", Env: "VIGIL_AUDIT_TRUSTED_USERS", Default: d.Trusted, Value: &c.Trusted,
			Usage: "globs of Kubernetes users the built-in rules leave out (the control plane's own identities); custom rules see everyone"}},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "top", Path: "top", Default: 5, Value: &c.Top,
			Usage: "failed-login sources named in the output"}, Annotations: plugin.AnyAnnotation},
		{Spec: &sensu.PluginConfigOption[int]{Argument: "max-event-size", Default: 8 << 20, Value: &c.MaxEventSize,
			Usage: "longest log line (a Kubernetes event with its request body) read, in bytes; longer ones are counted as parse errors"}},
	}
}
