package collector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// discard is a ResponseWriter that keeps nothing, so that a scrape's cost is
// the exporter's, not a growing buffer's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

func scrape(b *testing.B, h http.Handler) {
	h.ServeHTTP(&discard{h: http.Header{}}, httptest.NewRequest(http.MethodGet, "/metrics", nil))
}

// scrapeAccount returns an account with n user series (and the event and
// country series they imply), as if counted from the API.
func scrapeAccount(n int) *Account {
	a := NewAccount(AccountOptions{Name: "bench", UserLabel: UserLabelEmail, CountryBreakdown: true})
	types := []string{"USER_LOGIN", "NUMBER_UPDATED", "APP_UPDATE", "NUMBER_ASSIGN", "USER_LOGOUT"}
	for i := 0; i < n; i++ {
		t, s := types[i%len(types)], Sources[i/len(types)%len(Sources)]
		a.users[typeSourceUser{t, s, fmt.Sprintf("user%06d@example.com", i)}] = float64(i%7 + 1)
		a.events[typeSource{t, s}] += float64(i%7 + 1)
		a.countries[typeCountry{t, fmt.Sprintf("%c%c", 'A'+i%26, 'A'+i/26%26)}]++
		a.lastEvent[t] = time.Unix(1773489600, 0)
	}
	return a
}

// baselineOf exposes every series that c exposes from plain CounterVecs and
// GaugeVecs: the cost of client_golang's own metrics for the same output.
func baselineOf(b *testing.B, c prometheus.Collector) (*prometheus.Registry, []prometheus.Counter) {
	b.Helper()
	src := prometheus.NewRegistry()
	src.MustRegister(c)
	mfs, err := src.Gather()
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	var users []prometheus.Counter
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			continue
		}
		var labels []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels = append(labels, lp.GetName())
		}
		switch {
		case mf.GetMetric()[0].GetCounter() != nil:
			v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: mf.GetName(), Help: mf.GetHelp()}, labels)
			reg.MustRegister(v)
			for _, m := range mf.GetMetric() {
				cnt := v.WithLabelValues(labelValues(m.GetLabel())...)
				cnt.Add(m.GetCounter().GetValue())
				if mf.GetName() == "vonage_audit_user_events_total" {
					users = append(users, cnt)
				}
			}
		case mf.GetMetric()[0].GetGauge() != nil:
			v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: mf.GetName(), Help: mf.GetHelp()}, labels)
			reg.MustRegister(v)
			for _, m := range mf.GetMetric() {
				v.WithLabelValues(labelValues(m.GetLabel())...).Set(m.GetGauge().GetValue())
			}
		default:
			// Histograms of API requests: none before any request.
			b.Fatalf("unexpected metric family %s", mf.GetName())
		}
	}
	return reg, users
}

func labelValues[T interface{ GetValue() string }](pairs []T) []string {
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.GetValue()
	}
	return out
}

// BenchmarkScrape serves /metrics through promhttp for n user series, from
// the collector and from plain CounterVecs holding the same series. Between
// two scrapes 100 user series change on both sides, as a poll would.
func BenchmarkScrape(b *testing.B) {
	const changed = 100
	for _, n := range []int{10000, 100000} {
		a := scrapeAccount(n)
		c := NewCollector()
		c.SetAccounts([]*Account{a})
		baseReg, baseUsers := baselineOf(b, c)
		var keys []typeSourceUser
		for k := range a.users {
			if len(keys) == changed {
				break
			}
			keys = append(keys, k)
		}

		b.Run(fmt.Sprintf("series=%d/baseline=countervec", n), func(b *testing.B) {
			h := promhttp.HandlerFor(baseReg, promhttp.HandlerOpts{})
			scrape(b, h)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for j := 0; j < changed; j++ {
					baseUsers[(i*changed+j)%len(baseUsers)].Inc()
				}
				scrape(b, h)
			}
		})
		b.Run(fmt.Sprintf("series=%d/collector", n), func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			// The first scrape builds every series; the loop measures the
			// steady state.
			scrape(b, h)
			b.ReportAllocs()
			for b.Loop() {
				a.mu.Lock()
				for _, k := range keys {
					a.users[k]++
				}
				a.mu.Unlock()
				scrape(b, h)
			}
		})
	}
}

// BenchmarkScrapeDuringSlowPoll scrapes in interval mode while a poll waits
// on an API that takes 30 seconds to answer, against the same scrape with
// the API idle.
func BenchmarkScrapeDuringSlowPoll(b *testing.B) {
	clock := newTestClock()
	sim := simulator.New(simulator.Options{Seed: 3, Now: clock.Now})
	sim.Generate(1000, clock.Now().Add(-time.Hour), clock.Now())
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		sim.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)

	newExporter := func(b *testing.B) (*Exporter, http.Handler) {
		c := NewCollector()
		a := scrapeAccount(10000)
		a.opts.API = newBenchClient(b, srv.URL, c.Observer("bench"), 1)
		a.opts.Now = clock.Now
		exp := New(Options{Mode: ModeInterval, PollInterval: time.Hour}, c, []*Account{a})
		reg := prometheus.NewRegistry()
		reg.MustRegister(c)
		return exp, exp.Handler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	}

	b.Run("baseline=api_idle", func(b *testing.B) {
		_, h := newExporter(b)
		b.ReportAllocs()
		for b.Loop() {
			scrape(b, h)
		}
	})
	b.Run("poll_waiting_30s", func(b *testing.B) {
		sim.SetFaults(simulator.Faults{Latency: 30 * time.Second})
		defer sim.SetFaults(simulator.Faults{})
		exp, h := newExporter(b)
		before := started.Load()
		exp.Start(context.Background())
		defer exp.Stop()
		for i := 0; started.Load() == before; i++ {
			if i == 1000 {
				b.Fatal("the poll never reached the API")
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.ReportAllocs()
		for b.Loop() {
			scrape(b, h)
		}
		if p := gathered(b, exp.Collector(), "vonage_audit_polls_total")[""]; p != 0 {
			b.Fatalf("the poll finished during the benchmark (%v polls): it did not overlap the scrapes", p)
		}
	})
}
