package units

import (
	"testing"
	"time"

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

func TestEpochDetectsTheUnitAndKeepsThePrecision(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 12, 1, 10, 13, 20, 123456789, time.UTC)
	cases := []struct {
		ts   int64
		want time.Time
	}{
		{at.Unix(), at.Truncate(time.Second)},
		{at.UnixMilli(), at.Truncate(time.Millisecond)},
		{at.UnixMicro(), at.Truncate(time.Microsecond)},
		{at.UnixNano(), at},
		{0, time.Unix(0, 0)},
		{-at.Unix(), time.Unix(-at.Unix(), 0)},
	}
	for _, c := range cases {
		got := Epoch(c.ts)
		if !got.Equal(c.want) {
			t.Errorf("Epoch(%d) = %s, want %s", c.ts, got.UTC(), c.want.UTC())
		}
	}
}

func TestClipCutsOnACharacterBoundary(t *testing.T) {
	t.Parallel()
	require.Equal(t, "short", Clip("short", 10))
	require.Equal(t, "abc…", Clip("abcdef", 3))
	require.Equal(t, "é…", Clip("ééé", 3), "the second é would be cut in half")
	require.Equal(t, "…", Clip("abc", 0))
}
