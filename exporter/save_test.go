package exporter

import (
	"context"
	"errors"
	"io/fs"
	"iter"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// fakeTimers is the writer's clock: time moves only on Advance, which fires
// the timers it passes.
type fakeTimers struct {
	clock *testutil.Clock

	mu     sync.Mutex
	timers []fakeTimer
}

type fakeTimer struct {
	at time.Time
	c  chan time.Time
}

func (f *fakeTimers) After(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan time.Time, 1)
	f.timers = append(f.timers, fakeTimer{at: f.clock.Now().Add(d), c: c})
	return c
}

// pending tells how many timers wait: the writer waits on at most one.
func (f *fakeTimers) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

func (f *fakeTimers) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock.Add(d)
	now := f.clock.Now()
	kept := f.timers[:0]
	for _, t := range f.timers {
		if t.at.After(now) {
			kept = append(kept, t)
			continue
		}
		t.c <- now
	}
	f.timers = kept
}

// countingWrites writes the state file as the exporter does, counts the
// writes that succeeded, and fails while failing is set.
type countingWrites struct {
	ok      atomic.Int64
	failing atomic.Bool
}

func (w *countingWrites) write(path string, savedAt time.Time, accounts iter.Seq2[string, state.Account]) error {
	if w.failing.Load() {
		return errors.New("disk full")
	}
	err := state.WriteAccounts(path, savedAt, accounts)
	if err == nil {
		w.ok.Add(1)
	}
	return err
}

// startWithFakeWriter starts an exporter of cfg whose writer runs on a
// fake clock and counts its writes.
func startWithFakeWriter(t *testing.T, opts Options, accounts ...string) (*Exporter, *pollertest.Fixture, string, *fakeTimers, *countingWrites) {
	t.Helper()
	f := realTimeFixture(t)
	path := filepath.Join(t.TempDir(), "state.json")
	e, err := FromConfig(stateConfig(f, path, accounts...), opts)
	if err != nil {
		t.Fatal(err)
	}
	timers := &fakeTimers{clock: testutil.NewClock(time.Now())}
	writes := &countingWrites{}
	e.now, e.after, e.write = timers.clock.Now, timers.After, writes.write
	e.Start(context.Background())
	t.Cleanup(e.Stop)
	return e, f, path, timers, writes
}

// savedCounts reads vonage_audit_events_total from the state file, as
// GatheredByAccount names the series; none before the first save.
func savedCounts(t *testing.T, path string) map[string]float64 {
	t.Helper()
	st, err := state.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]float64{}
	}
	if err != nil {
		t.Fatalf("reading the state file: %v", err)
	}
	out := map[string]float64{}
	for name, a := range st.Accounts {
		for _, s := range a.Events {
			out[name+"|"+s.EventType+"|"+s.Source] = s.Value
		}
	}
	return out
}

// servedTo is what each named account must count of f's simulator.
func servedTo(f *pollertest.Fixture, from time.Time, names ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range pollertest.Served(f.Sim.Visible(), from) {
		for _, n := range names {
			out[n+"|"+k] = v
		}
	}
	return out
}

func sameNonZero(a, b map[string]float64) bool {
	a, b = pollertest.NonZero(a), pollertest.NonZero(b)
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Polls in quick succession make one save per interval, not one each; what
// is exported is never ahead of the file, and equals it once saved; Stop
// saves what was counted since.
func TestSavesAreBatched(t *testing.T) {
	const interval = 5 * time.Second
	e, f, path, timers, writes := startWithFakeWriter(t, Options{SaveInterval: interval}, "a", "b")
	start := time.Now()
	f.Sim.Generate(50, start.Add(-10*time.Minute), start)

	const polls, step = 40, interval / 4
	for range polls {
		// Created a second or more ago: the next poll reads them.
		now := time.Now()
		f.Sim.Generate(3, now.Add(-2*time.Second), now.Add(-time.Second))
		refresh(e)
		timers.Advance(step)
		// Exported first, then the file, which can only have moved on.
		exported := pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total")
		saved := savedCounts(t, path)
		for k, v := range exported {
			if v > saved[k] {
				t.Fatalf("series %s exported at %v, ahead of the %v saved", k, v, saved[k])
			}
		}
	}
	bound := int64(math.Ceil(float64(polls*step)/float64(interval))) + 1
	if w := writes.ok.Load(); w > bound || w < 2 {
		t.Errorf("%d polls over %v made %d writes, want 2 to %d", polls*2, polls*step, w, bound)
	}

	waitFor(t, "the last counts saved and exported", func() bool {
		if sameNonZero(savedCounts(t, path), servedTo(f, start.Add(-time.Hour), "a", "b")) {
			return true
		}
		refresh(e)
		timers.Advance(interval)
		return false
	})
	// The writer shows what it saved once the file is written.
	waitFor(t, "the counts saved to be exported", func() bool {
		return sameNonZero(pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total"), savedCounts(t, path))
	})

	// Once the writer waits on its timer, which no longer moves, only Stop
	// can save the events counted next.
	waitFor(t, "the writer to wait for its next turn", func() bool {
		refresh(e)
		return timers.pending() == 1
	})
	// Seconds old, so that the poll's window, which ends at a whole second
	// before the API's clock, holds them however soon it runs; the overlap
	// reads them again behind the cursor.
	f.Sim.Generate(7, time.Now().Add(-4*time.Second), time.Now().Add(-3*time.Second))
	refresh(e)
	before := writes.ok.Load()
	e.Stop()
	if w := writes.ok.Load(); w != before+1 {
		t.Errorf("Stop made %d writes, want 1", w-before)
	}
	want := servedTo(f, start.Add(-time.Hour), "a", "b")
	pollertest.AssertCounts(t, savedCounts(t, path), want)
	pollertest.AssertCounts(t, pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total"), want)
}

// A failed save keeps the counters of the last save exported and counts
// the failure; the next save that succeeds exports the counts since.
func TestFailedSaveKeepsTheLastSavedExported(t *testing.T) {
	e, f, path, _, writes := startWithFakeWriter(t, Options{}, "a")
	start := time.Now()
	f.Sim.Generate(30, start.Add(-10*time.Minute), start)
	refresh(e)
	// The writer's first save, then it waits on a clock that never moves.
	waitFor(t, "the writer's first save", func() bool { return writes.ok.Load() > 0 })
	saveNow(t, e)
	counts := func() map[string]float64 {
		return pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total")
	}
	before := counts()
	pollertest.AssertCounts(t, before, servedTo(f, start.Add(-time.Hour), "a"))

	writes.failing.Store(true)
	f.Sim.Generate(10, time.Now().Add(-4*time.Second), time.Now().Add(-3*time.Second)) // seconds old, as above
	refresh(e)
	if saved, err := e.save(); saved || err == nil {
		t.Fatalf("save with the disk full: saved %v, err %v", saved, err)
	}
	if got := pollertest.Gathered(t, e.Collector(), "vonage_audit_state_save_errors_total")[""]; got != 1 {
		t.Errorf("vonage_audit_state_save_errors_total = %v, want 1", got)
	}
	pollertest.AssertCounts(t, counts(), before)
	pollertest.AssertCounts(t, savedCounts(t, path), before)

	writes.failing.Store(false)
	saveNow(t, e)
	pollertest.AssertCounts(t, counts(), servedTo(f, start.Add(-time.Hour), "a"))
}

// Accounts added by a reload export zero until saved, and a removed one
// leaves the file at the next save.
func TestReloadWithStateFile(t *testing.T) {
	e, f, path, _, _ := startWithFakeWriter(t, Options{}, "a", "b")
	start := time.Now()
	f.Sim.Generate(30, start.Add(-10*time.Minute), start)
	refresh(e)
	saveNow(t, e)

	if err := e.Apply(stateConfig(f, path, "a", "c")); err != nil {
		t.Fatal(err)
	}
	refresh(e)
	exported := pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_ingested_total")
	if exported["a"] == 0 || exported["c"] != 0 {
		t.Errorf("events ingested exported after the reload: %v; want a's saved, c at 0 until saved", exported)
	}
	saveNow(t, e)
	want := servedTo(f, start.Add(-time.Hour), "a", "c")
	pollertest.AssertCounts(t, savedCounts(t, path), want)
	pollertest.AssertCounts(t, pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total"), want)
}
