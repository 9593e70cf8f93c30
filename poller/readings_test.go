package poller_test

import (
	"context"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// TestExactUnderEachReadingInBothModes polls simulated APIs that read the
// docs each their own way, through both triggers of a Runner (the interval
// ticker and the scrape), while events arrive, some late, and faults come and
// go: a poll that fails outright among them. In the end the counters equal
// the events served, by type and source and by user.
func TestExactUnderEachReadingInBothModes(t *testing.T) {
	readings := []struct {
		name          string
		opts          simulator.Options
		wantPrecision string
	}{
		{"page cap 30, oldest first", simulator.Options{PageCap: 30, Order: simulator.OldestFirst}, "second"},
		{"whole days, page cap 7, oldest first", simulator.Options{DatePrecision: simulator.DayPrecision, PageCap: 7, Order: simulator.OldestFirst}, "day"},
		{"dates only, clock 2m behind", simulator.Options{DatePrecision: simulator.DateOnlyPrecision, ClockSkew: -2 * time.Minute}, "day"},
		{"clock 2m ahead, exclusive bounds, oldest first", simulator.Options{ClockSkew: 2 * time.Minute, ExclusiveDateBounds: true, Order: simulator.OldestFirst}, "second"},
		{"whole days, 404 past the end, cap 25, epoch millis", simulator.Options{DatePrecision: simulator.DayPrecision, PastEndNotFound: true, PageCap: 25, CreatedAtFormat: simulator.EpochMillisCreatedAt}, "day"},
	}
	for _, r := range readings {
		for _, mode := range []string{config.ModeInterval, config.ModeScrape} {
			t.Run(r.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				f := pollertest.New(t, pollertest.Options{
					Sim:     r.opts,
					Poller:  poller.Options{Lookback: 2 * time.Hour, Overlap: 30 * time.Second, CountryBreakdown: true},
					Retries: 3,
				})
				f.Sim.Generate(150, f.Clock.Now().Add(-90*time.Minute), f.Clock.Now())
				run := startRunner(t, f, mode)

				for round := range 6 {
					f.Clock.Add(15 * time.Second)
					f.Sim.Generate(30, f.Clock.Now().Add(-15*time.Second), f.Clock.Now())
					// Late: created inside the overlap, listed only now.
					f.Sim.Add(simulator.Event{EventType: "APP_UPDATE", Source: "DEVAPI", UserEmail: "late@example.com", CreatedAt: f.Sim.Now().Add(-20 * time.Second)})
					switch round {
					case 2:
						f.Sim.SetFaults(simulator.Faults{Fail5xx: 1, Truncate: 1}) // retried within the poll
					case 4:
						f.Sim.SetFaults(simulator.Faults{Fail5xx: 4}) // more than the retries: the poll fails
					default:
						f.Sim.SetFaults(simulator.Faults{})
					}
					run()
				}
				f.Sim.SetFaults(simulator.Faults{})
				f.Clock.Add(15 * time.Second)
				run()

				visible := f.Sim.Visible()
				pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(visible, time.Time{}))
				pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_user_events_total"), testutil.TallyByUser(visible))
				if up := pollertest.Gathered(t, f.Coll, "vonage_audit_up")[""]; up != 1 {
					t.Errorf("vonage_audit_up = %v", up)
				}
				if failed := pollertest.Sum(pollertest.Gathered(t, f.Coll, "vonage_audit_poll_errors_total")); failed != 1 {
					t.Errorf("%v polls failed, want the one of round 4", failed)
				}
				info := pollertest.Gathered(t, f.Coll, "vonage_audit_api_reading_info")
				found := false
				for k := range info {
					found = found || k == r.wantPrecision+"|"+orderName(r.opts.Order)
				}
				if !found {
					t.Errorf("vonage_audit_api_reading_info = %v, want date_precision %s, order %s", info, r.wantPrecision, orderName(r.opts.Order))
				}
			})
		}
	}
}

// startRunner runs f's poller by mode, and returns what makes it poll once
// and waits for that poll to end: a tick of the interval ticker, or a
// scrape's Refresh.
func startRunner(t *testing.T, f *pollertest.Fixture, mode string) func() {
	t.Helper()
	const interval = 10 * time.Second
	ticks := make(chan time.Time)
	r := poller.NewRunner(f.Poller, poller.Schedule{
		Mode: mode, Interval: interval,
		NewTicker: func(d time.Duration) (<-chan time.Time, func()) {
			if d == interval {
				return ticks, func() {}
			}
			// The wait for the account's offset ends at once.
			offset := make(chan time.Time, 1)
			offset <- f.Clock.Now()
			return offset, func() {}
		},
	})
	r.Start(context.Background())
	t.Cleanup(r.Stop)
	polls := func() float64 { return pollertest.Gathered(t, f.Coll, "vonage_audit_polls_total")[""] }
	waitPolls := func(n float64) {
		t.Helper()
		for i := 0; polls() < n; i++ {
			if i == 5000 {
				t.Fatalf("the runner made %v polls in 5s, want %v", polls(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if mode == config.ModeScrape {
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			before := polls()
			r.Refresh(ctx)
			waitPolls(before + 1)
		}
	}
	// Interval mode polls once at the account's offset; each tick is taken once the poll
	// before it has ended.
	waitPolls(1)
	return func() {
		before := polls()
		ticks <- f.Clock.Now()
		waitPolls(before + 1)
	}
}

func orderName(o simulator.Order) string {
	if o == simulator.OldestFirst {
		return "oldest_first"
	}
	return "newest_first"
}

// TestFutureCursorIsNotTrusted restores a cursor an hour ahead of the API's
// clock, as a host whose clock ran ahead would have saved it: the poll says
// so, reads again from the API's present minus the overlap, and counts on.
func TestFutureCursorIsNotTrusted(t *testing.T) {
	t.Parallel()
	f := pollertest.New(t, pollertest.Options{
		Sim:    simulator.Options{ClockSkew: -2 * time.Minute},
		Poller: poller.Options{Lookback: time.Hour, Overlap: time.Minute},
	})
	ahead := f.Sim.Now().Add(time.Hour)
	f.Poller.Restore(state.Account{Floor: ahead.Add(-time.Minute), Cursor: ahead})
	f.Sim.Add(simulator.Event{EventType: "USER_LOGIN", Source: "CD", CreatedAt: f.Sim.Now().Add(-30 * time.Second)})
	f.MustPoll()
	if got := pollertest.Gathered(t, f.Coll, "vonage_audit_api_inconsistencies_total")["future_cursor"]; got != 1 {
		t.Errorf("api_inconsistencies_total{kind=\"future_cursor\"} = %v, want 1", got)
	}
	if got := pollertest.Gathered(t, f.Coll, "vonage_audit_events_total")["USER_LOGIN|CD"]; got != 1 {
		t.Errorf("the event within the overlap of the API's present counted %v times, want 1", got)
	}
	cursor := pollertest.Gathered(t, f.Coll, "vonage_audit_cursor_timestamp_seconds")[""]
	if at := time.Unix(int64(cursor), 0); at.After(f.Sim.Now()) {
		t.Errorf("the cursor is at %v, ahead of the API's clock %v", at, f.Sim.Now())
	}
	// Counting goes on: the next event is counted by the next poll.
	f.Clock.Add(time.Minute)
	f.Sim.Add(simulator.Event{EventType: "USER_LOGIN", Source: "CD", CreatedAt: f.Sim.Now().Add(-10 * time.Second)})
	f.MustPoll()
	if got := pollertest.Gathered(t, f.Coll, "vonage_audit_events_total")["USER_LOGIN|CD"]; got != 2 {
		t.Errorf("USER_LOGIN counted %v times after the second poll, want 2", got)
	}
}
