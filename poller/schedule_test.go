package poller_test

import (
	"context"
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

// The interval trigger polls at start and at each tick, and a scrape's
// Refresh starts nothing in interval mode.
func TestRunnerIntervalPollsAtStartAndEachTick(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Hour}})
	ticks := make(chan time.Time)
	polled := make(chan struct{}, 1)
	r := poller.NewRunner(f.Poller, poller.Schedule{
		Mode: config.ModeInterval, Interval: time.Hour,
		Polled:    func() { polled <- struct{}{} },
		NewTicker: func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} },
	})
	wait := func(what string) {
		t.Helper()
		select {
		case <-polled:
		case <-time.After(20 * time.Second):
			t.Fatalf("no poll %s", what)
		}
	}
	r.Start(context.Background())
	wait("at start")
	ticks <- time.Time{}
	wait("at the tick")
	r.Refresh(context.Background())
	r.Stop()
	if got := polls(t, f); got != 2 {
		t.Errorf("%v polls, want 2: one at start, one at the tick", got)
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
