package poller_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// TestRequestsPerPoll holds the exporter to the floor of API calls: one
// list request per poll when nothing is new, ceil(M/100) when the window
// (new events plus those within the overlap) holds M events, and, on the
// first poll only, OPTIONS and the two requests that learn what the API
// does (reading.Learn). Counts, not times: they are exact on any machine.
func TestRequestsPerPoll(t *testing.T) {
	t.Parallel()
	for _, concurrency := range []int{1, 4} {
		t.Run(fmt.Sprintf("max_concurrency %d", concurrency), func(t *testing.T) {
			t.Parallel()
			const overlap = 2 * time.Minute
			f := pollertest.New(t, pollertest.Options{
				Poller: poller.Options{Lookback: 6 * time.Hour, Overlap: overlap, MaxConcurrency: concurrency},
			})
			// A backfill: 1,000 events within the lookback, ten pages: more
			// than max_concurrency fetches at once.
			f.Sim.Generate(1000, f.Clock.Now().Add(-6*time.Hour), f.Clock.Now().Add(-10*time.Minute))
			steps := []struct {
				name      string
				newEvents int
			}{
				{"backfill", 0},
				{"nothing new", 0},
				{"nothing new again", 0},
				{"one new", 1},
				{"99 new", 99},
				{"250 new", 250},
				{"nothing new after 250", 0},
				{"1000 new", 1000},
			}
			for i, st := range steps {
				if i > 0 {
					f.Clock.Add(time.Minute)
				}
				if st.newEvents > 0 {
					f.Sim.Generate(st.newEvents, f.Clock.Now().Add(-50*time.Second), f.Clock.Now())
				}
				from, to := f.Poller.Window()
				inWindow := 0
				for _, e := range f.Sim.Visible() {
					if !e.CreatedAt.Before(from) && !e.CreatedAt.After(to) {
						inWindow++
					}
				}
				want := max(1, (inWindow+99)/100)
				if i == 0 {
					want += 3 // OPTIONS and reading.Learn, once
				}
				before := f.Sim.Stats().Requests
				f.MustPoll()
				got := f.Sim.Stats().Requests - before
				// The log lines are the API-call table of scripts/bench.sh.
				t.Logf("requests: max_concurrency=%d step=%q events_in_window=%d requests=%d floor=%d", concurrency, st.name, inWindow, got, want)
				if got != want {
					t.Errorf("%s: %d events in the window took %d requests, want %d", st.name, inWindow, got, want)
				}
				if g := pollertest.Gathered(t, f.Coll, "vonage_audit_poll_requests")[""]; g != float64(want) {
					t.Errorf("%s: vonage_audit_poll_requests = %v, want %d", st.name, g, want)
				}
			}
			stats := f.Sim.Stats()
			if stats.ByRoute["options"] != 1 {
				t.Errorf("OPTIONS sent %d times, want once", stats.ByRoute["options"])
			}
			pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), f.Clock.Now().Add(-7*time.Hour)))
		})
	}
}
