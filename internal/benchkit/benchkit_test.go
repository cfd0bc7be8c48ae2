package benchkit_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/internal/benchkit"
)

func TestReadTSVKeepsTheRowsOfTheRightWidth(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "results.tsv")
	require.NoError(t, os.WriteFile(path, []byte("a\t1\t2\nshort\t1\nb\t3\t4\t5\nnoise line\nc\t5\t6\t7\t8\n"), 0o600))
	rows, err := benchkit.ReadTSV(path, 3, 4)
	require.NoError(t, err)
	require.Equal(t, [][]string{{"a", "1", "2"}, {"b", "3", "4", "5"}}, rows)
	_, err = benchkit.ReadTSV(filepath.Join(t.TempDir(), "missing.tsv"), 1, 1)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestRun(t *testing.T) {
	t.Parallel()
	dispatch := func(cmd string, args []string, stdout io.Writer) (int, error) {
		switch cmd {
		case "ok":
			fmt.Fprint(stdout, "done")
			return 2, nil
		case "usage":
			return 0, fmt.Errorf("usage: %w", benchkit.ErrUsage)
		}
		return 0, errors.New("broken")
	}
	for _, tt := range []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{nil, 1, "", "USAGE\n"},
		{[]string{"ok"}, 2, "done", ""},
		{[]string{"usage"}, 1, "", "tool: usage: bad usage\nUSAGE\n"},
		{[]string{"other"}, 1, "", "tool: broken\n"},
	} {
		var stdout, stderr bytes.Buffer
		require.Equal(t, tt.code, benchkit.Run("tool", "USAGE", tt.args, &stdout, &stderr, dispatch), tt.args)
		require.Equal(t, tt.stdout, stdout.String())
		require.Equal(t, tt.stderr, stderr.String())
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, benchkit.WriteJSON(path, map[string]int{"a": 1}))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "{\n  \"a\": 1\n}\n", string(b))
}
