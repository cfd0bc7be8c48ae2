// Command piibench builds the deterministic corpus of the PII and secrets
// benchmark (make bench-pii, scripts/bench/pii.sh) and scores check-pii's
// and gitleaks' reports against what it planted.
//
//	piibench gen DIR [--size-mb 500] [--seed 42]
//	    DIR/logs/access.log  nginx combined format (45% of the size)
//	    DIR/logs/app.jsonl   JSON app logs, every line with "ts_ns" (40%)
//	    DIR/logs/syslog      RFC 3164: sshd, sudo, cron, kernel, postfix, snmpd (15%)
//	    DIR/ground-truth.jsonl  one {"file","line","col","rule","variant","value"} per planted item
//	    DIR/decoys.jsonl        the same with "kind": look-alikes nothing may report
//	piibench score DIR REPORT.json [--json OUT]
//	    score a check-pii --format json --max-findings 0 report
//	piibench score-gitleaks DIR REPORT.json [--json OUT]
//	    score a gitleaks --report-format json report on the secret rules
//	piibench event
//	    print a typical Sensu event (4 KB of check output with three
//	    email addresses and a card number) for timing mutator-redact
//
// # The corpus
//
// The logs are scanned from DIR/logs, so that the ground truth is not
// scanned with them; "file" is relative to DIR/logs and "col" is the
// 1-based byte column where the value starts. Output is byte-identical
// for the same seed and size (math/rand/v2 PCG streams, one per file,
// written in parallel).
//
// For 500 MB it plants 1,000 of each PII type (card, email, phone, SSN,
// IBAN), 200 of each credential (AWS key id, GitHub token, Slack token,
// Stripe key, JWT) and 100 private keys, every one valid by its type's
// definition, in the forms the research notes list; and 3,025 decoys
// (Luhn-valid timestamps, masked and non-Luhn card numbers, IBANs with a
// wrong check, invalid SSNs, ghp_ tokens with a wrong checksum, JWTs
// without "alg", documentation keys, public keys and certificates, OIDs,
// versions, '@' strings that are not addresses). Counts scale with
// --size-mb, at least one of each. At most one item is on a line, and
// items are on under 1% of the lines, so that a finding is matched to an
// item by file and line alone; a raw PEM block is one item over all its
// lines.
//
// # Scoring
//
// Per rule: planted, found, recall, false positives, precision. A finding
// is a true positive when an item of its rule is on its line; otherwise
// it is a false positive, counted as a decoy hit, a finding on a line
// planted with another rule, or a background false positive (a line with
// nothing planted). The exit status is 2 when a rule is below recall 0.99
// or precision 0.99, or a decoy is hit.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// Exit statuses.
const (
	exitOK     = 0
	exitError  = 1
	exitFailed = 2 // a scored tool missed a target
)

const usage = `usage:
  piibench gen DIR [--size-mb 500] [--seed 42]
  piibench score DIR REPORT.json [--json OUT]
  piibench score-gitleaks DIR REPORT.json [--json OUT]
  piibench event`

func run(args []string, stdout, stderr io.Writer) int {
	return benchkit.Run("piibench", usage, args, stdout, stderr, dispatch)
}

// errUsage marks an error that the usage text should follow.
var errUsage = benchkit.ErrUsage

func dispatch(cmd string, args []string, stdout io.Writer) (int, error) {
	fs := pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sizeMB := fs.Int("size-mb", baseSizeMB, "corpus size in MB (10^6 bytes)")
	seed := fs.Uint64("seed", 42, "random seed")
	jsonOut := fs.String("json", "", "also write the score as JSON to this file")
	if err := fs.Parse(args); err != nil {
		return 0, fmt.Errorf("%s: %w (%w)", cmd, err, errUsage)
	}
	pos := fs.Args()
	need := func(n int) error {
		if len(pos) != n {
			return fmt.Errorf("%s takes %d arguments, not %d: %w", cmd, n, len(pos), errUsage)
		}
		return nil
	}
	switch cmd {
	case "gen":
		if err := need(1); err != nil {
			return 0, err
		}
		start := time.Now()
		st, err := generate(pos[0], *sizeMB, *seed)
		if err != nil {
			return 0, err
		}
		st.summary(stdout, pos[0])
		fmt.Fprintf(stdout, "in %.1f s\n", time.Since(start).Seconds())
		return exitOK, nil
	case "score", "score-gitleaks":
		if err := need(2); err != nil {
			return 0, err
		}
		return scoreCmd(cmd, pos[0], pos[1], *jsonOut, stdout)
	case "event":
		if err := need(0); err != nil {
			return 0, err
		}
		b, err := typicalEvent()
		if err != nil {
			return 0, err
		}
		_, err = stdout.Write(append(b, '\n'))
		return exitOK, err
	default:
		return 0, fmt.Errorf("unknown command %q: %w", cmd, errUsage)
	}
}

func scoreCmd(cmd, dir, report, jsonOut string, stdout io.Writer) (int, error) {
	t, err := loadTruth(dir)
	if err != nil {
		return 0, err
	}
	logs, err := filepath.Abs(filepath.Join(dir, logsDir))
	if err != nil {
		return 0, err
	}
	var s *Score
	if cmd == "score" {
		fs, total, err := readCheckPII(report, logs)
		if err != nil {
			return 0, err
		}
		s = t.score("check-pii", fs, plantedRules)
		if total > len(fs) {
			s.Total = total
			s.Failures = append(s.Failures, fmt.Sprintf("the report holds %d of %d findings (run check-pii with --max-findings 0)", len(fs), total))
			s.Pass = false
		}
	} else {
		fs, err := readGitleaks(report, logs)
		if err != nil {
			return 0, err
		}
		s = t.score("gitleaks", fs, secretRules())
	}
	s.print(stdout)
	if jsonOut != "" {
		if err := benchkit.WriteJSON(jsonOut, s); err != nil {
			return 0, err
		}
	}
	if !s.Pass {
		return exitFailed, nil
	}
	return exitOK, nil
}

// secretRules are the planted rules gitleaks is scored on.
func secretRules() []string {
	var out []string
	for _, r := range plantedRules {
		if strings.HasPrefix(r, "secret.") {
			out = append(out, r)
		}
	}
	return out
}
