package units

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.00 GiB"} {
		require.Equal(t, want, Bytes(n), "%d", n)
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	require.Equal(t, "0 files", Count(0, "file"))
	require.Equal(t, "1 file", Count(1, "file"))
	require.Equal(t, "2 files", Count(2, "file"))
}
