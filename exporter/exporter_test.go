package exporter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// withPollers returns an exporter of pollers built by the test, run by
// mode and interval.
func withPollers(mode string, interval, offset time.Duration, pollers ...*poller.Poller) *Exporter {
	e := New(Options{ScrapeTimeoutOffset: offset})
	cfg := &config.Config{Mode: mode, PollInterval: interval}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mode, e.interval = mode, interval
	for _, p := range pollers {
		e.accounts = append(e.accounts, e.manage(cfg, &savedView{p: p}, spec{}, nil))
	}
	e.publish()
	return e
}

// waitFor polls cond every few milliseconds, for at most 20 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 2000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s", what)
}

func TestScrapeModeSharesOnePollAndKeepsTheFloor(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Hour}})
	f.Sim.Generate(150, f.Clock.Now().Add(-30*time.Minute), f.Clock.Now())
	exp := withPollers(config.ModeScrape, time.Minute, 0, f.Poller)
	exp.Start(context.Background())
	defer exp.Stop()

	h := exp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "20")
			h.ServeHTTP(httptest.NewRecorder(), r)
		})
	}
	wg.Wait()
	if polls := pollertest.Gathered(t, f.Coll, "vonage_audit_polls_total")[""]; polls != 1 {
		t.Errorf("8 concurrent scrapes made %v polls, want 1", polls)
	}
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), f.Clock.Now().Add(-time.Hour)))

	// Within the poll interval a scrape serves the counters without polling.
	f.Clock.Add(30 * time.Second)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if polls := pollertest.Gathered(t, f.Coll, "vonage_audit_polls_total")[""]; polls != 1 {
		t.Errorf("a scrape within the poll interval polled: %v polls", polls)
	}
	f.Clock.Add(31 * time.Second)
	f.Sim.Generate(10, f.Clock.Now().Add(-10*time.Second), f.Clock.Now())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if polls := pollertest.Gathered(t, f.Coll, "vonage_audit_polls_total")[""]; polls != 2 {
		t.Errorf("a scrape after the poll interval did not poll: %v polls", polls)
	}
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), f.Clock.Now().Add(-2*time.Hour)))
}

func TestScrapeModeOverrunServesLastCounters(t *testing.T) {
	t.Parallel()
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Hour}})
	f.Sim.Generate(5, f.Clock.Now().Add(-time.Minute), f.Clock.Now())
	f.Sim.SetFaults(simulator.Faults{Latency: 500 * time.Millisecond})
	exp := withPollers(config.ModeScrape, time.Minute, 900*time.Millisecond, f.Poller)
	exp.Start(context.Background())
	defer exp.Stop()

	h := exp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if o := pollertest.Gathered(t, f.Coll, "vonage_audit_poll_overruns_total")[""]; o != 1 {
		t.Errorf("poll_overruns_total = %v, want 1", o)
	}
	// The poll goes on after the scrape gave up, and its counts land.
	waitFor(t, "the overrun poll to finish", func() bool {
		return pollertest.Gathered(t, f.Coll, "vonage_audit_polls_total")[""] == 1
	})
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), f.Clock.Now().Add(-time.Hour)))
}

// One slow account never delays another.
func TestIntervalModeAccountsAreIndependent(t *testing.T) {
	slow := pollertest.New(t, pollertest.Options{Poller: poller.Options{Name: "slow"}})
	slow.Sim.SetFaults(simulator.Faults{Latency: time.Hour})
	fast := pollertest.New(t, pollertest.Options{Poller: poller.Options{Name: "fast", Lookback: time.Hour}})
	fast.Sim.Generate(20, fast.Clock.Now().Add(-time.Minute), fast.Clock.Now())

	exp := withPollers(config.ModeInterval, 20*time.Millisecond, 0, slow.Poller, fast.Poller)
	c := exp.Collector()
	exp.Start(context.Background())
	waitFor(t, "the fast account to poll three times", func() bool {
		return pollertest.GatheredByAccount(t, c, "vonage_audit_polls_total")["fast"] >= 3
	})
	if p := pollertest.GatheredByAccount(t, c, "vonage_audit_polls_total")["slow"]; p != 0 {
		t.Errorf("slow account finished %v polls against an API that never answers", p)
	}
	exp.Stop()
	pollertest.AssertCounts(t, pollertest.Gathered(t, fast.Coll, "vonage_audit_events_total"), pollertest.Served(fast.Sim.Visible(), fast.Clock.Now().Add(-time.Hour)))
}
