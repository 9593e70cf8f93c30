package poller_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

func polls(t *testing.T, f *pollertest.Fixture) float64 {
	t.Helper()
	return pollertest.Gathered(t, f.Coll, "vonage_audit_polls_total")[""]
}

// Each account has its own offset within the interval: the same for the
// same name, within [0, interval), and spread over the interval, so that
// many accounts poll at a steady rate.
func TestOffsetIsStableWithinTheIntervalAndSpread(t *testing.T) {
	const names, bins = 1000, 10
	for _, interval := range []time.Duration{time.Millisecond, 2 * time.Second, time.Minute, 7 * time.Hour} {
		counts := make([]int, bins)
		for i := range names {
			name := fmt.Sprintf("account-%04d", i)
			off := poller.Offset(name, interval)
			if off < 0 || off >= interval {
				t.Fatalf("Offset(%q, %v) = %v, outside [0, %v)", name, interval, off, interval)
			}
			if again := poller.Offset(name, interval); again != off {
				t.Fatalf("Offset(%q, %v) = %v, then %v", name, interval, off, again)
			}
			counts[off*bins/interval]++
		}
		// A uniform spread puts 100 in each tenth of the interval.
		for b, n := range counts {
			if n < 70 || n > 130 {
				t.Errorf("interval %v: %d of %d accounts poll in tenth %d, want about %d: %v", interval, n, names, b, names/bins, counts)
				break
			}
		}
	}
}

// The interval trigger waits for the account's offset within the
// interval, counted from the Unix epoch, whenever it starts, then polls at
// each tick; a scrape's Refresh starts nothing in interval mode.
func TestRunnerIntervalPollsAtItsOffsetThenEachTick(t *testing.T) {
	const interval = time.Hour
	off := poller.Offset("test", interval)
	tests := []struct {
		name string
		// at is where in the interval the runner starts.
		at       time.Duration
		wantWait time.Duration
	}{
		{name: "start of the interval", at: 0, wantWait: off},
		{name: "at the offset", at: off, wantWait: 0},
		{name: "just past the offset", at: (off + time.Second) % interval, wantWait: interval - time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Hour}})
			f.Clock.Add(-time.Duration(f.Clock.Now().UnixNano()%int64(interval)) + tt.at)
			ticks, asked := make(chan time.Time), make(chan time.Duration, 2)
			polled := make(chan struct{}, 1)
			r := poller.NewRunner(f.Poller, poller.Schedule{
				Mode: config.ModeInterval, Interval: interval,
				Polled: func() { polled <- struct{}{} },
				NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
					asked <- d
					return ticks, func() {}
				},
			})
			receive := func(what string) {
				t.Helper()
				select {
				case <-polled:
				case <-time.After(20 * time.Second):
					t.Fatalf("no poll %s", what)
				}
			}
			r.Start(context.Background())
			defer r.Stop()
			if tt.wantWait > 0 {
				if d := <-asked; d != tt.wantWait {
					t.Fatalf("waited %v for the offset, want %v", d, tt.wantWait)
				}
				if got := polls(t, f); got != 0 {
					t.Fatalf("%v polls before the offset, want 0", got)
				}
				ticks <- time.Time{}
			}
			receive("at the offset")
			if d := <-asked; d != interval {
				t.Fatalf("ticker of %v after the first poll, want the interval %v", d, interval)
			}
			ticks <- time.Time{}
			receive("at the tick")
			r.Refresh(context.Background())
			r.Stop()
			if got := polls(t, f); got != 2 {
				t.Errorf("%v polls, want 2: one at the offset, one at the tick", got)
			}
		})
	}
}

// The scrape trigger polls when the last poll is at least the interval
// old, and not before Start nor after Stop.
func TestRunnerScrapePollsWhenDue(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Hour}})
	r := poller.NewRunner(f.Poller, poller.Schedule{Mode: config.ModeScrape, Interval: time.Minute})
	ctx := context.Background()
	steps := []struct {
		name      string
		advance   time.Duration
		start     bool
		stop      bool
		wantPolls float64
	}{
		{name: "before Start", wantPolls: 0},
		{name: "first scrape", start: true, wantPolls: 1},
		{name: "within the interval", advance: 59 * time.Second, wantPolls: 1},
		{name: "the interval after", advance: time.Second, wantPolls: 2},
		{name: "after Stop", advance: time.Hour, stop: true, wantPolls: 2},
	}
	for _, st := range steps {
		f.Clock.Add(st.advance)
		if st.start {
			r.Start(ctx)
		}
		if st.stop {
			r.Stop()
		}
		r.Refresh(ctx)
		if got := polls(t, f); got != st.wantPolls {
			t.Errorf("%s: %v polls, want %v", st.name, got, st.wantPolls)
		}
	}
}
