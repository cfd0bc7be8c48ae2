// Package benchkit is what the benchmark tools (tools/piibench,
// tools/auditbench, tools/fimbench) share: the command-line frame of a
// tool with sub-commands, the JSON files they write for the scripts, and
// the tab-separated timings the scripts hand to their report commands.
package benchkit

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// ErrUsage marks an error that the usage text should follow.
var ErrUsage = errors.New("bad usage")

// Run runs a tool's sub-command: args[0] names it, dispatch does it and
// returns the exit status. An error is printed after the tool's name
// (with the usage when it wraps ErrUsage) and exits with status 1, as
// does a missing sub-command.
func Run(name, usage string, args []string, stdout, stderr io.Writer, dispatch func(cmd string, args []string, stdout io.Writer) (int, error)) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 1
	}
	code, err := dispatch(args[0], args[1:], stdout)
	if err != nil {
		fmt.Fprintln(stderr, name+":", err)
		if errors.Is(err, ErrUsage) {
			fmt.Fprintln(stderr, usage)
		}
		return 1
	}
	return code
}

// WriteJSON writes v to path as indented JSON with a final newline.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644) //nolint:gosec // a benchmark's result, for people to read
}

// ReadTSV reads the rows of a tab-separated file that have between
// minFields and maxFields fields; other lines are skipped.
func ReadTSV(path string, minFields, maxFields int) ([][]string, error) {
	f, err := os.Open(path) //nolint:gosec // the script's own results file
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	var rows [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if p := strings.Split(sc.Text(), "\t"); len(p) >= minFields && len(p) <= maxFields {
			rows = append(rows, p)
		}
	}
	return rows, sc.Err()
}
