package spool_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/vigil-sec/vigil/pkg/spool"
)

func open(t *testing.T, dir string, limits spool.Limits) *spool.Spool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	s, err := spool.Open(ctx, dir, limits)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// spoolEvents adds events to the spool in dir and releases it.
func spoolEvents(t *testing.T, dir string, events ...string) {
	t.Helper()
	s := open(t, dir, spool.Limits{})
	defer s.Close()
	for _, e := range events {
		require.NoError(t, s.Add([]byte(e)))
	}
}

// pending returns the spooled events of dir, oldest first.
func pending(t *testing.T, dir string) []string {
	t.Helper()
	s := open(t, dir, spool.Limits{})
	defer s.Close()
	items, err := s.Pending()
	require.NoError(t, err)
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, string(it.Data))
	}
	return out
}

func data(items []spool.Item) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, string(it.Data))
	}
	return out
}

// dead returns the buried events of dir and their reasons.
func dead(t *testing.T, dir string) (events, reasons []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "dead", "*.event"))
	require.NoError(t, err)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		events = append(events, string(b))
		requireMode(t, f, 0o600)
		why := strings.TrimSuffix(f, ".event") + ".reason"
		b, err = os.ReadFile(why)
		require.NoError(t, err)
		reasons = append(reasons, string(b))
		requireMode(t, why, 0o600)
	}
	return events, reasons
}

func requireMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, want, fi.Mode().Perm(), "mode of %s", path)
}

// sender records the batches Deliver sends and answers with reply.
type sender struct {
	mu      sync.Mutex
	batches [][]string
	reply   func(batch [][]byte) []error
}

func (s *sender) send(_ context.Context, batch [][]byte) []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := make([]string, 0, len(batch))
	for _, e := range batch {
		b = append(b, string(e))
	}
	s.batches = append(s.batches, b)
	if s.reply == nil {
		return make([]error, len(batch))
	}
	return s.reply(batch)
}

// answer replies with errs whatever the batch.
func answer(errs ...error) func([][]byte) []error {
	return func([][]byte) []error { return errs }
}

func TestOpenCreatesAPrivateDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "spool", "es")
	open(t, dir, spool.Limits{})
	requireMode(t, dir, 0o700)
	requireMode(t, filepath.Join(dir, ".lock"), 0o600)
}

func TestOpenWaitsForAnotherHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := open(t, dir, spool.Limits{})

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := spool.Open(ctx, dir, spool.Limits{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	first.Close()
	first.Close() // a second Close is harmless
	open(t, dir, spool.Limits{})
}

func TestPendingReturnsEventsInArrivalOrder(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 3, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := open(t, dir, spool.Limits{})
			want := []string{}
			for i := range n {
				e := fmt.Sprintf(`{"n":%d}`, i)
				require.NoError(t, s.Add([]byte(e)))
				want = append(want, e)
			}
			require.Equal(t, n, s.Len())
			got, err := s.Pending()
			require.NoError(t, err)
			require.Equal(t, want, append([]string{}, data(got)...))
			s.Close()
			require.Equal(t, want, append([]string{}, pending(t, dir)...), "kept across processes")
		})
	}
}

func TestAddWritesAPrivateJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, spool.Limits{})
	event := []byte("the event, byte for byte\x00\n")
	require.NoError(t, s.Add(event))
	requireMode(t, filepath.Join(dir, "spool.log"), 0o600)
	items, err := s.Pending()
	require.NoError(t, err)
	require.Equal(t, []spool.Item{{Data: event}}, items)
}

func TestACrashDuringAddKeepsThePartialRecordInDead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "kept", "also kept")
	journal := filepath.Join(dir, "spool.log")
	whole, err := os.ReadFile(journal)
	require.NoError(t, err)
	// A record cut after its header and part of its data.
	partial := []byte{40, 0, 0, 0, 1, 2, 3, 4, 'h', 'a', 'l'}
	f, err := os.OpenFile(journal, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(partial)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	s := open(t, dir, spool.Limits{})
	require.Equal(t, 2, s.Len())
	items, err := s.Pending()
	require.NoError(t, err)
	require.Equal(t, []string{"kept", "also kept"}, data(items))
	after, err := os.ReadFile(journal)
	require.NoError(t, err)
	require.Equal(t, whole, after, "the partial record leaves the journal")
	events, reasons := dead(t, dir)
	require.Equal(t, []string{string(partial)}, events, "and is kept, not dropped")
	require.Contains(t, reasons[0], "not a whole record")
	require.NoError(t, s.Add([]byte("next")))
	s.Close()
	require.Equal(t, []string{"kept", "also kept", "next"}, pending(t, dir))
}

func TestADamagedLengthLosesNoRecordSilently(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "first", "second", "third")
	journal := filepath.Join(dir, "spool.log")
	b, err := os.ReadFile(journal)
	require.NoError(t, err)
	second := 8 + 8 + len("first") // magic, first record
	b[second+3] = 0x7f             // the length's high byte
	require.NoError(t, os.WriteFile(journal, b, 0o600))

	require.Equal(t, []string{"first"}, pending(t, dir))
	events, reasons := dead(t, dir)
	require.Len(t, events, 1)
	require.Contains(t, events[0], "second")
	require.Contains(t, events[0], "third", "the records after the damage are kept with it")
	require.Contains(t, reasons[0], "not a whole record")
}

func TestAZeroFilledTailIsNotReadAsEvents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "real")
	f, err := os.OpenFile(filepath.Join(dir, "spool.log"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(make([]byte, 64)) // the file grew, its data never reached the disk
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, []string{"real"}, pending(t, dir))
	events, _ := dead(t, dir)
	require.Len(t, events, 1)

	s := open(t, dir, spool.Limits{})
	require.Error(t, s.Add(nil), "no event is empty")
}

func TestAnEventThatCannotBeBuriedStaysInTheSpool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "poison")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dead"), []byte("a file where dead/ should be"), 0o600))
	bad := errors.New("400 mapping conflict")
	snd := &sender{reply: answer(spool.Permanent(bad), spool.Permanent(bad))}
	out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("poison too"), snd.send)
	require.Error(t, err)
	require.ErrorContains(t, err, "not moved to dead/")
	require.NotContains(t, err.Error(), "kept in", "it is not in dead/: do not say so")
	require.Equal(t, 0, out.Dead)
	require.Equal(t, []string{"poison", "poison too"}, pending(t, dir), "nothing is lost")
}

func TestManyBuriedEventsMakeOneShortLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "a", "b", "c", "d")
	bad := spool.Permanent(errors.New("400 invalid"))
	snd := &sender{reply: answer(bad, bad, bad, bad, bad)}
	_, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("e"), snd.send)
	require.ErrorContains(t, err, "5 events rejected for good")
	require.Equal(t, 1, strings.Count(err.Error(), "400 invalid"), "%v", err)
}

func TestACorruptRecordGoesToDeadWithWhatFollows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "first", "second", "third")
	journal := filepath.Join(dir, "spool.log")
	b, err := os.ReadFile(journal)
	require.NoError(t, err)
	i := strings.Index(string(b), "second")
	b[i] = 'S' // a flipped bit on disk
	require.NoError(t, os.WriteFile(journal, b, 0o600))

	require.Equal(t, []string{"first"}, pending(t, dir))
	events, reasons := dead(t, dir)
	require.Len(t, events, 1)
	require.Contains(t, events[0], "Second")
	require.Contains(t, events[0], "third", "what follows is kept with it, not lost")
	require.Contains(t, reasons[0], "checksum")
	require.Equal(t, []string{"first"}, pending(t, dir), "the journal was repaired")
}

func TestOpenRefusesAFileThatIsNotASpool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	journal := filepath.Join(dir, "spool.log")
	require.NoError(t, os.WriteFile(journal, []byte("somebody's notes\n"), 0o600))
	_, err := spool.Open(t.Context(), dir, spool.Limits{})
	require.ErrorContains(t, err, "not a Vigil spool journal")
	b, rerr := os.ReadFile(journal)
	require.NoError(t, rerr)
	require.Equal(t, "somebody's notes\n", string(b), "left as it was")
}

func TestAddRespectsTheLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limits spool.Limits
		// adds are the sizes added in turn; the last one is checked.
		adds     []int
		wantFull bool
	}{
		{name: "the last item that fits is kept", limits: spool.Limits{MaxItems: 2}, adds: []int{1, 1}},
		{name: "one item over MaxItems is refused", limits: spool.Limits{MaxItems: 2}, adds: []int{1, 1, 1}, wantFull: true},
		{name: "an event that fills MaxBytes exactly is kept", limits: spool.Limits{MaxBytes: 10}, adds: []int{6, 4}},
		{name: "an event that would pass MaxBytes is refused", limits: spool.Limits{MaxBytes: 10}, adds: []int{6, 5}, wantFull: true},
		{name: "a single event bigger than MaxBytes is refused", limits: spool.Limits{MaxBytes: 10}, adds: []int{11}, wantFull: true},
		{name: "zero limits mean the defaults, not zero", limits: spool.Limits{}, adds: []int{1, 1, 1}},
		{name: "negative limits mean the defaults", limits: spool.Limits{MaxItems: -1, MaxBytes: -1}, adds: []int{100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := open(t, dir, tt.limits)
			for _, n := range tt.adds[:len(tt.adds)-1] {
				require.NoError(t, s.Add([]byte(strings.Repeat("x", n))))
			}
			before, err := s.Pending()
			require.NoError(t, err)
			err = s.Add([]byte(strings.Repeat("y", tt.adds[len(tt.adds)-1])))
			after, perr := s.Pending()
			require.NoError(t, perr)
			if !tt.wantFull {
				require.NoError(t, err)
				require.Len(t, after, len(before)+1)
				return
			}
			require.ErrorIs(t, err, spool.ErrFull)
			require.ErrorContains(t, err, "limits")
			require.Equal(t, before, after, "nothing is written")
		})
	}
}

func TestKeepRewritesTheJournal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, spool.Limits{})
	require.NoError(t, s.AddAll([][]byte{[]byte("a"), []byte("b"), []byte("c")}))
	require.NoError(t, s.Keep([]spool.Item{{Data: []byte("b")}}))
	require.Equal(t, 1, s.Len())
	require.NoError(t, s.Add([]byte("d")), "the journal takes events after a rewrite")
	s.Close()
	require.Equal(t, []string{"b", "d"}, pending(t, dir))

	s = open(t, dir, spool.Limits{})
	require.NoError(t, s.Keep(nil))
	s.Close()
	require.Empty(t, pending(t, dir))
	fi, err := os.Stat(filepath.Join(dir, "spool.log"))
	require.NoError(t, err)
	require.Equal(t, int64(len("VIGILSP1")), fi.Size(), "an empty journal is its header")
}

func TestBuryMovesAnEventToDead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, spool.Limits{})
	event := []byte(`{"bad":true}`)
	reason := errors.New(`mapping conflict on field "bad"`)
	require.NoError(t, s.Bury(event, reason))
	events, reasons := dead(t, dir)
	require.Equal(t, []string{string(event)}, events)
	require.Equal(t, []string{reason.Error() + "\n"}, reasons)
	requireMode(t, filepath.Join(dir, "dead"), 0o700)
}

func TestPermanent(t *testing.T) {
	t.Parallel()
	base := errors.New("400 bad request")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "a plain error is worth retrying", err: base, want: false},
		{name: "a permanent error is permanent", err: spool.Permanent(base), want: true},
		{name: "a wrapped permanent error is permanent", err: fmt.Errorf("item 3: %w", spool.Permanent(base)), want: true},
		{name: "no error is not permanent", err: nil, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, spool.IsPermanent(tt.err))
		})
	}
	require.NoError(t, spool.Permanent(nil), "Permanent(nil) is nil, so a success stays a success")
	require.ErrorIs(t, spool.Permanent(base), base, "the cause is kept")
	require.EqualError(t, spool.Permanent(base), base.Error(), "the message is unchanged")
}

func TestDeliverWithoutASpoolDirectory(t *testing.T) {
	t.Parallel()
	refused := errors.New("503 unavailable")
	tests := []struct {
		name    string
		reply   []error
		want    spool.Outcome
		wantErr error
	}{
		{name: "a delivered event is counted", reply: []error{nil}, want: spool.Outcome{Delivered: 1}},
		{name: "a failure is returned", reply: []error{refused}, want: spool.Outcome{Err: refused}, wantErr: refused},
		{name: "a permanent failure is returned", reply: []error{spool.Permanent(refused)}, want: spool.Outcome{Err: spool.Permanent(refused)}, wantErr: refused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			snd := &sender{reply: answer(tt.reply...)}
			out, err := spool.Deliver(t.Context(), "", spool.Limits{}, []byte("ev"), snd.send)
			require.Equal(t, [][]string{{"ev"}}, snd.batches)
			require.Equal(t, tt.want, out)
			if tt.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
		})
	}

	t.Run("an event the sender did not answer for is not delivered", func(t *testing.T) {
		t.Parallel()
		snd := &sender{reply: answer()}
		out, err := spool.Deliver(t.Context(), "", spool.Limits{}, []byte("ev"), snd.send)
		require.ErrorContains(t, err, "not attempted")
		require.Equal(t, 0, out.Delivered)
		require.Equal(t, err, out.Err)
	})
}

func TestDeliverSendsPendingEventsFirstInOneBatch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "old-1", "old-2", "old-3")
	snd := &sender{}

	out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("new"), snd.send)
	require.NoError(t, err)
	require.Equal(t, spool.Outcome{Delivered: 4}, out)
	require.Equal(t, [][]string{{"old-1", "old-2", "old-3", "new"}}, snd.batches, "one batch, oldest first, the new event last")
	require.Empty(t, pending(t, dir), "delivered events leave the spool")
}

func TestDeliverWithAnEmptySpool(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "spool")
	snd := &sender{}
	out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("only"), snd.send)
	require.NoError(t, err)
	require.Equal(t, spool.Outcome{Delivered: 1}, out)
	require.Equal(t, [][]string{{"only"}}, snd.batches)
	require.Empty(t, pending(t, dir))
}

func TestARetryableFailureIsSpooledAndSentFirstNextTime(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	down := errors.New("connection refused")

	snd := &sender{reply: answer(down)}
	out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("first"), snd.send)
	require.NoError(t, err, "a spooled event is not an error")
	require.Equal(t, spool.Outcome{Spooled: 1, Err: down}, out)
	require.Equal(t, []string{"first"}, pending(t, dir))

	snd = &sender{}
	out, err = spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("second"), snd.send)
	require.NoError(t, err)
	require.Equal(t, spool.Outcome{Delivered: 2}, out)
	require.Equal(t, [][]string{{"first", "second"}}, snd.batches)
	require.Empty(t, pending(t, dir))
}

func TestDeliverHandlesEachItemOnItsOwn(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "a", "b", "c")
	retry := errors.New("429 too many requests")
	bad := errors.New(`400 mapping conflict on "c"`)

	snd := &sender{reply: answer(nil, retry, spool.Permanent(bad), nil)}
	out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("d"), snd.send)
	require.Equal(t, [][]string{{"a", "b", "c", "d"}}, snd.batches)
	require.Equal(t, spool.Outcome{Delivered: 2, Spooled: 1, Dead: 1, Err: retry}, out)
	require.ErrorIs(t, err, bad, "a buried event is an error")
	require.ErrorContains(t, err, "rejected for good")
	require.ErrorContains(t, err, filepath.Join(dir, "dead"))

	require.Equal(t, []string{"b"}, pending(t, dir), "only the retryable event stays")
	events, reasons := dead(t, dir)
	require.Equal(t, []string{"c"}, events)
	require.Equal(t, []string{bad.Error() + "\n"}, reasons)
}

func TestANewEventRejectedForGoodIsBuried(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := errors.New("400 invalid event")
	snd := &sender{reply: answer(spool.Permanent(bad))}
	out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("poison"), snd.send)
	require.ErrorIs(t, err, bad)
	require.ErrorContains(t, err, "kept in "+filepath.Join(dir, "dead"))
	require.Equal(t, 1, out.Dead)
	require.Equal(t, 0, out.Spooled)
	require.Empty(t, pending(t, dir), "it is not retried")

	events, gerr := filepath.Glob(filepath.Join(dir, "dead", "*.event"))
	require.NoError(t, gerr)
	require.Len(t, events, 1)
	b, rerr := os.ReadFile(events[0])
	require.NoError(t, rerr)
	require.Equal(t, "poison", string(b))
}

func TestAShortErrorSliceKeepsTheEventsNotAttempted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		reply         []error
		wantDelivered int
		wantPending   []string
	}{
		{name: "an answer for the first event only keeps the rest", reply: []error{nil}, wantDelivered: 1, wantPending: []string{"b", "c"}},
		{name: "no answer at all keeps everything", reply: nil, wantDelivered: 0, wantPending: []string{"a", "b", "c"}},
		{name: "answers for the spooled events only keep the new one", reply: []error{nil, nil}, wantDelivered: 2, wantPending: []string{"c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			spoolEvents(t, dir, "a", "b")
			snd := &sender{reply: answer(tt.reply...)}
			out, err := spool.Deliver(t.Context(), dir, spool.Limits{}, []byte("c"), snd.send)
			require.NoError(t, err)
			require.Equal(t, tt.wantDelivered, out.Delivered)
			require.Equal(t, len(tt.wantPending), out.Spooled)
			require.ErrorContains(t, out.Err, "not attempted")
			require.Equal(t, tt.wantPending, pending(t, dir), "kept in order")
		})
	}
}

func TestAFullSpoolRefusesTheEventLoudly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "a")
	down := errors.New("connection refused")
	limits := spool.Limits{MaxItems: 1}

	snd := &sender{reply: answer(down, down)}
	out, err := spool.Deliver(t.Context(), dir, limits, []byte("b"), snd.send)
	require.ErrorIs(t, err, spool.ErrFull)
	require.ErrorIs(t, err, down, "the delivery error is named too")
	require.ErrorContains(t, err, "not kept")
	require.Equal(t, spool.Outcome{Spooled: 1, Err: down}, out, "only the old event is spooled")
	require.Equal(t, []string{"a"}, pending(t, dir))
}

func TestAFullSpoolStillDeliversWhatCanBeDelivered(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spoolEvents(t, dir, "a")
	snd := &sender{}
	out, err := spool.Deliver(t.Context(), dir, spool.Limits{MaxItems: 1}, []byte("b"), snd.send)
	require.NoError(t, err)
	require.Equal(t, spool.Outcome{Delivered: 2}, out)
	require.Empty(t, pending(t, dir))
}

func TestDeliverReportsASpoolItCannotOpen(t *testing.T) {
	t.Parallel()
	blocker := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	snd := &sender{}
	_, err := spool.Deliver(t.Context(), filepath.Join(blocker, "spool"), spool.Limits{}, []byte("ev"), snd.send)
	require.ErrorContains(t, err, "create spool directory")
	require.Empty(t, snd.batches, "nothing is sent without a place to keep failures")
}

func TestConcurrentDeliveriesSendEachEventOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const spooled, workers = 20, 8
	var old []string
	for i := range spooled {
		old = append(old, fmt.Sprintf("old-%02d", i))
	}
	spoolEvents(t, dir, old...)

	// The store accepts everything but is slow, which leaves time for a
	// second handler to read the same pending events if the lock did not
	// serialise them.
	var mu sync.Mutex
	delivered := map[string]int{}
	send := func(_ context.Context, batch [][]byte) []error {
		time.Sleep(20 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		for _, e := range batch {
			delivered[string(e)]++
		}
		return make([]error, len(batch))
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			out, err := spool.Deliver(ctx, dir, spool.Limits{}, []byte(fmt.Sprintf("new-%d", w)), send)
			if err == nil && out.Err != nil {
				err = out.Err
			}
			errs <- err
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}

	want := map[string]int{}
	for _, o := range old {
		want[o] = 1
	}
	for w := range workers {
		want[fmt.Sprintf("new-%d", w)] = 1
	}
	require.Equal(t, want, delivered, "every event exactly once")
	require.Empty(t, pending(t, dir))
}

func TestConcurrentDeliveriesThroughAnOutageLoseAndRepeatNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const workers = 10
	down := errors.New("503 unavailable")

	// The store refuses every other batch; what it refuses is spooled and
	// must be delivered once by a later run, never twice.
	var mu sync.Mutex
	calls := 0
	delivered := map[string]int{}
	send := func(_ context.Context, batch [][]byte) []error {
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		calls++
		errs := make([]error, len(batch))
		for i, e := range batch {
			if calls%2 == 1 {
				errs[i] = down
				continue
			}
			delivered[string(e)]++
		}
		return errs
	}

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			_, err := spool.Deliver(ctx, dir, spool.Limits{}, []byte(fmt.Sprintf("ev-%d", w)), send)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// Drain what the last refused batch left behind.
	for len(pending(t, dir)) > 0 {
		_, err := spool.Deliver(ctx, dir, spool.Limits{}, []byte("drain"), send)
		require.NoError(t, err)
	}

	mu.Lock()
	defer mu.Unlock()
	for w := range workers {
		require.Equal(t, 1, delivered[fmt.Sprintf("ev-%d", w)], "ev-%d", w)
	}
	for name, n := range delivered {
		if name != "drain" {
			require.Equal(t, 1, n, name)
		}
	}
}
