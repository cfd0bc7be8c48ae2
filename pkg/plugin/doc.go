// Package plugin is the runtime every Vigil binary is built on: it
// declares options, parses them, validates them before any I/O, reads the
// Sensu event, runs the plugin under a timeout, prints the result and
// exits with the code Sensu and Nagios expect.
//
// # The Sensu SDK, and where this runtime departs from it
//
// Options are declared with the Sensu plugin SDK's own types
// (github.com/sensu/sensu-plugin-sdk/sensu v0.16.0): a table of
// sensu.PluginConfigOption[T], SlicePluginConfigOption and
// MapPluginConfigOption values, and sensu.PluginConfig for the name,
// default timeout and annotation keyspace. A Sensu plugin author reads the
// table as they always have: Argument is the flag, Env the environment
// variable, Path the annotation key under the keyspace, Default, Usage,
// Secret, Allow and Restrict mean what they mean in the SDK. The value
// semantics are the SDK's too: flag beats environment beats default, an
// annotation beats all of them, annotation values are JSON or a raw
// string, the lowercased annotation key is consulted first.
//
// The runner is this package's own, because the SDK's runner has defects
// that a security suite cannot ship (each one has a test in
// runtime_test.go, run on real binaries the way Sensu runs them):
//
//   - An unknown or misspelt flag exits 0 in the SDK (cobra fails before
//     the exit status is set), so a typo in a check definition turns the
//     check green. Here it exits 3 (UNKNOWN) for a check and 1 for a
//     handler or mutator, with one line naming the flag and the closest
//     real one.
//   - The SDK logs annotation overrides with their values, secrets
//     included. Here secrets are a type (secret.String) that prints as
//     [REDACTED] under every fmt verb, JSON and slog, and every secret value
//     seen from any source is also scrubbed from log lines and errors.
//   - The SDK logs to stderr in mutators; Sensu merges a mutator's stderr
//     into the next handler's input and corrupts the event. Here checks
//     and mutators log nowhere unless --log-file or --log-level ask, and a
//     mutator writes exactly one JSON event to stdout.
//   - The SDK exits 1 (WARNING for a check) on bad stdin and can panic on
//     input. Here invalid event JSON is one line with the byte offset and
//     the documented exit code, and a panic anywhere in a plugin becomes
//     one UNKNOWN/1 line.
//   - The SDK ignores PluginConfig.Timeout and gives plugins no context.
//     Here --timeout (default PluginConfig.Timeout) cancels the context
//     handed to the plugin, and the runtime stops waiting shortly after if
//     the plugin ignores it.
//   - The SDK lets any annotation, the entity's included, override any
//     option. Entity annotations come from the agent's configuration, which
//     a compromised host controls. Here overrides are allow-listed per
//     option (Option.Annotations: none by default, check annotations, or
//     check and entity), and the options table is rejected at start-up if
//     an Endpoint, Credential, Target or Command option (Option.Kind) or a
//     secret allows entity annotations.
//   - The SDK keeps configuration in global cobra/viper state. Here each
//     run builds its own pflag.FlagSet and configuration value, so tests run
//     in parallel in one process.
//
// The SDK's other parts are not used: its HTTP client has no timeout or
// retry (see pkg/httpx) and its CA helper reads only DER certificates.
//
// # Writing a plugin
//
// A binary declares a Check, Mutator or Handler value (Plugin plus the
// function that does the work) and its main is one line:
//
//	func main() { os.Exit(plugin.RunCheck(context.Background(), check(), os.Args[1:], plugin.StdIO())) }
//
// Every binary also answers "NAME version" and "NAME options" (the
// options table as Markdown or JSON, from which READMEs are generated),
// and --validate-only, --timeout, --log-level, --log-file and --help.
// Checks add --format, --max-findings, --severity-status and the
// --events-api options. See CONTRIBUTING.md.
//
// # Check output
//
// A check returns a Result: findings, metrics and an optional status
// floor. The status is the worst of the floor and the findings'
// severities mapped through --severity-status (default critical/high → 2,
// medium/low → 1, info → 0). The default output is Nagios plugin output,
// "NAME STATUS - summary | perfdata" then at most --max-findings findings
// and "… and N more"; --format json prints one document (see Report).
package plugin
