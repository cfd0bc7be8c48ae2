// Package remediate is handler-remediation's engine: it decides, from
// rules, which actions a Sensu event calls for, applies the guardrails that
// keep an automated response from making things worse, runs the actions
// (after a forensic capture when asked) and records every decision in an
// audit log.
//
// # Rules and actions
//
// A configuration file (YAML, see Config) defines named actions and an
// ordered list of rules. A rule matches on the check name (globs), the
// rule ids of the event's findings (globs, via finding.FromEvent), a
// minimum finding severity, the check status, occurrence ranges (">=3",
// "1-5", "3") and the entity's subscriptions; all given conditions must
// hold. The first matching rule wins and its actions run in order: rules
// read like a firewall's, and an operator can put a narrow rule (or one
// with no actions, which stops the search) before a broad one.
//
// A check annotation, vigil.io/handler-remediation/rules, may add rules
// for its own check (a JSON list of the same rule objects). Those rules are
// tried before the file's and may only select actions the file defines and
// marks "selectable: true": an annotation names actions, it never defines a
// command, URL or check to run. Entity annotations are never read, because
// a compromised host controls its own entity.
//
// # Guardrails
//
// Before any action runs the engine takes an exclusive lock on its state
// directory (Sensu runs handlers concurrently), then checks:
//
//   - the circuit breaker: when more than Breaker.Entities distinct
//     entities were acted on within Breaker.Window, the breaker opens and
//     nothing is acted on, for any entity, until a whole window has passed
//     (a restart loop across a fleet must not turn into a self-inflicted
//     denial of service);
//   - the rate limit: at most Limit.Max runs of one action on one entity
//     within a sliding Limit.Window (per action overrides in the file).
//
// An action skipped by a guardrail is an escalation: it is reported on the
// stdout line and in the audit log, and it is not a failure. A run that
// passes the guardrails is recorded in the state before the lock is
// released, so that concurrent handlers never exceed the limit; the
// actions themselves run outside the lock. The state is written
// atomically (pkg/state).
//
// # Actions
//
// sensu-execute asks the Sensu backend to run a check on the affected
// entity (POST /api/core/v2/namespaces/NS/checks/NAME/execute with
// subscriptions ["entity:ENTITY"], Authorization: Key APIKEY; 202
// expected). command runs a local program (argv, no shell) with the event
// on stdin and VIGIL_EVENT_* variables in a minimal environment (never the
// handler's own, which holds the API key), kills its process group at the
// timeout and keeps a bounded, redacted copy of its output for the audit
// log. webhook POSTs the event JSON to a URL. HTTP goes through pkg/httpx
// (retries on 429 and 5xx, PEM CA bundles, redacted errors).
//
// An action may ask for a forensic capture first (Capture): the process
// list and sockets from /proc, the metadata and SHA-256 of the files the
// findings name, the tail of the authentication logs, and the event, into
// a tar.gz with a manifest.json of every member's SHA-256. When the
// capture fails the action is not run.
//
// # Audit log
//
// Every decision (one per action, or one when no rule matched) is one
// JSON object per line (Record), appended with a single write and an
// fsync to a 0600 file under the same lock as the state.
package remediate
