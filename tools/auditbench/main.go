// Command auditbench builds the deterministic corpus of the audit log
// benchmark (make bench-audit, scripts/bench/audit.sh), scores
// check-audit-log's reports against what it planted, and writes the
// benchmark's Markdown report.
//
//	auditbench gen --out DIR [--seed 42] [--k8s-mb 200] [--auth-mb 100]
//	    DIR/k8s-audit.log      Kubernetes audit events (audit.k8s.io/v1), one JSON object a line
//	    DIR/auth.log           sshd, sshd-session, sudo, cron, systemd, kernel and postfix lines of three hosts
//	    DIR/ground_truth.json  the incidents, where they are, and what check-audit-log must report
//	auditbench score --truth DIR/ground_truth.json --file k8s-audit.log REPORT.json [--json OUT]
//	    score a check-audit-log --format json --max-findings 0 report of one file;
//	    prints a one-line verdict, then the details; exit status 2 when wrong
//	auditbench report --truth DIR/ground_truth.json --results RESULTS.tsv [--score FILE=SCORE.json]...
//	                  [--nproc N] [--runs N] [--load TEXT] [--jq TEXT]
//	    the Markdown report of scripts/bench/audit.sh
//
// # The corpus
//
// Both logs cover one day from 2026-11-22T00:00:00Z, timestamps never
// going back; their sizes are --k8s-mb and --auth-mb (10^6 bytes). The
// output is byte-identical for the same seed and sizes (math/rand/v2 PCG
// streams, one per file, written in parallel, about 25 MB of memory
// whatever the size, 300 MB in under 2 s), and the incidents are the same whatever the sizes:
// only their line numbers move.
//
// The Kubernetes log is what a 12-node cluster's API servers log (see
// k8s.go): kubelets, controllers, the scheduler and the API server doing
// their work, secrets and privileged kube-system pods included;
// anonymous health probes; people and service accounts reading
// non-secret resources. Into it go 20 incidents (k8s_incidents.go), one
// actor and one source address each, that exercise every Kubernetes rule
// of check-audit-log, some logged at RequestReceived too, execs and
// watches at ResponseStarted and ResponseComplete.
//
// The auth log is a central syslog of three hosts, one with RFC 3339
// timestamps and sshd-session, two with traditional timestamps and sshd
// (see auth.go), with an ssh brute force, a few failed logins, the day's
// ssh logins and sudo commands, a failed sudo and a user not in sudoers.
//
// # The ground truth
//
// ground_truth.json holds, per file: its size and lines (benign, planted,
// and the lines a per-line filter of the rules selects), the expected
// value of check-audit-log's events metric per rule, and the incidents
// with their line numbers and the findings they must produce, each a
// rule with an actor and/or a source, and sometimes the accepted
// severities. See truth.go.
//
// # Scoring
//
// A report passes when every expected finding is in it (same rule, and
// same actor or same source), with an accepted severity where one is
// given; when every finding in it is one of those (any other is a
// finding on benign traffic); and when its events metric equals the
// truth for every rule, and is 0 for the rules with nothing planted
// (k8s.denied_burst and k8s.policy_level_low are not counted).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK     = 0
	exitError  = 1
	exitFailed = 2 // the scored report is wrong
)

const usage = `usage:
  auditbench gen --out DIR [--seed 42] [--k8s-mb 200] [--auth-mb 100]
  auditbench score --truth DIR/ground_truth.json --file k8s-audit.log|auth.log REPORT.json [--json OUT]
  auditbench report --truth DIR/ground_truth.json --results RESULTS.tsv [--score FILE=SCORE.json]...
                    [--nproc N] [--runs N] [--load TEXT] [--jq TEXT]`

// errUsage marks an error that the usage text should follow.
var errUsage = benchkit.ErrUsage

func run(args []string, stdout, stderr io.Writer) int {
	return benchkit.Run("auditbench", usage, args, stdout, stderr, dispatch)
}

func dispatch(cmd string, args []string, stdout io.Writer) (int, error) {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	bad := func(err error) (int, error) { return 0, fmt.Errorf("%s: %w (%w)", cmd, err, errUsage) }
	switch cmd {
	case "gen":
		var o genOptions
		fs.StringVar(&o.dir, "out", "", "directory to write the corpus into")
		fs.Uint64Var(&o.seed, "seed", 42, "random seed")
		fs.Float64Var(&o.k8sMB, "k8s-mb", 200, "size of k8s-audit.log in MB (10^6 bytes)")
		fs.Float64Var(&o.authMB, "auth-mb", 100, "size of auth.log in MB")
		if err := fs.Parse(args); err != nil {
			return bad(err)
		}
		if o.dir == "" || fs.NArg() > 0 {
			return bad(errors.New("--out DIR is required, and nothing else"))
		}
		begin := time.Now()
		t, err := generate(o)
		if err != nil {
			return 0, err
		}
		t.summary(stdout, o.dir)
		fmt.Fprintf(stdout, "in %.1f s\n", time.Since(begin).Seconds())
		return exitOK, nil
	case "score":
		truth := fs.String("truth", "", "ground_truth.json")
		file := fs.String("file", "", "the scanned log file, as named in the ground truth")
		jsonOut := fs.String("json", "", "also write the score as JSON to this file")
		if err := fs.Parse(args); err != nil {
			return bad(err)
		}
		if *truth == "" || *file == "" || fs.NArg() != 1 {
			return bad(errors.New("--truth, --file and one REPORT.json are required"))
		}
		return scoreCmd(*truth, *file, fs.Arg(0), *jsonOut, stdout)
	case "report":
		var o reportOptions
		fs.StringVar(&o.truth, "truth", "", "ground_truth.json")
		fs.StringVar(&o.results, "results", "", "timings TSV of scripts/bench/audit.sh")
		fs.StringArrayVar(&o.scores, "score", nil, "FILE=score --json output for the check's report of FILE")
		fs.IntVar(&o.nproc, "nproc", 0, "CPUs of the machine")
		fs.IntVar(&o.runs, "runs", 3, "runs per timed tool")
		fs.StringVar(&o.load, "load", "", "load average at the start")
		fs.StringVar(&o.jq, "jq", "", "jq's version")
		if err := fs.Parse(args); err != nil {
			return bad(err)
		}
		if o.truth == "" || o.results == "" || fs.NArg() > 0 {
			return bad(errors.New("--truth and --results are required"))
		}
		return exitOK, writeReport(o, stdout)
	default:
		return 0, fmt.Errorf("unknown command %q: %w", cmd, errUsage)
	}
}
