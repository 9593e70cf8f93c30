package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// waitFor polls cond every few milliseconds, for at most 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestScrapeModeSharesOnePollAndKeepsTheFloor(t *testing.T) {
	f := newFixture(t, fixtureOptions{account: AccountOptions{Lookback: time.Hour}})
	f.sim.Generate(150, f.clock.Now().Add(-30*time.Minute), f.clock.Now())
	exp := New(Options{Mode: ModeScrape, PollInterval: time.Minute}, f.coll, []*Account{f.account})
	exp.Start(context.Background())
	defer exp.Stop()

	h := exp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "20")
			h.ServeHTTP(httptest.NewRecorder(), r)
		}()
	}
	wg.Wait()
	if polls := gathered(t, f.coll, "vonage_audit_polls_total")[""]; polls != 1 {
		t.Errorf("8 concurrent scrapes made %v polls, want 1", polls)
	}
	assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), f.clock.Now().Add(-time.Hour)))

	// Within the poll interval a scrape serves the counters without polling.
	f.clock.Add(30 * time.Second)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if polls := gathered(t, f.coll, "vonage_audit_polls_total")[""]; polls != 1 {
		t.Errorf("a scrape within the poll interval polled: %v polls", polls)
	}
	f.clock.Add(31 * time.Second)
	f.sim.Generate(10, f.clock.Now().Add(-10*time.Second), f.clock.Now())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if polls := gathered(t, f.coll, "vonage_audit_polls_total")[""]; polls != 2 {
		t.Errorf("a scrape after the poll interval did not poll: %v polls", polls)
	}
	assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), f.clock.Now().Add(-2*time.Hour)))
}

func TestScrapeModeOverrunServesLastCounters(t *testing.T) {
	f := newFixture(t, fixtureOptions{account: AccountOptions{Lookback: time.Hour}})
	f.sim.Generate(5, f.clock.Now().Add(-time.Minute), f.clock.Now())
	f.sim.SetFaults(simulator.Faults{Latency: 2 * time.Second})
	exp := New(Options{Mode: ModeScrape, PollInterval: time.Minute, ScrapeTimeoutOffset: 900 * time.Millisecond}, f.coll, []*Account{f.account})
	exp.Start(context.Background())
	defer exp.Stop()

	h := exp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if o := gathered(t, f.coll, "vonage_audit_poll_overruns_total")[""]; o != 1 {
		t.Errorf("poll_overruns_total = %v, want 1", o)
	}
	// The poll goes on after the scrape gave up, and its counts land.
	waitFor(t, "the overrun poll to finish", func() bool {
		return gathered(t, f.coll, "vonage_audit_polls_total")[""] == 1
	})
	assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), f.clock.Now().Add(-time.Hour)))
}

// One slow account never delays another.
func TestIntervalModeAccountsAreIndependent(t *testing.T) {
	slow := newFixture(t, fixtureOptions{account: AccountOptions{Name: "slow"}})
	slow.sim.SetFaults(simulator.Faults{Latency: time.Hour})
	fast := newFixture(t, fixtureOptions{account: AccountOptions{Name: "fast", Lookback: time.Hour}})
	fast.sim.Generate(20, fast.clock.Now().Add(-time.Minute), fast.clock.Now())

	c := NewCollector()
	exp := New(Options{Mode: ModeInterval, PollInterval: 20 * time.Millisecond}, c, []*Account{slow.account, fast.account})
	exp.Start(context.Background())
	waitFor(t, "the fast account to poll three times", func() bool {
		return gatheredByAccount(t, c, "vonage_audit_polls_total")["fast"] >= 3
	})
	if p := gatheredByAccount(t, c, "vonage_audit_polls_total")["slow"]; p != 0 {
		t.Errorf("slow account finished %v polls against an API that never answers", p)
	}
	exp.Stop()
	assertCounts(t, gathered(t, fast.coll, "vonage_audit_events_total"), served(fast.sim.Visible(), fast.clock.Now().Add(-time.Hour)))
}
