package exporter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// scrapeAccount returns a poller of api with n user series (and the event
// and country series they imply), as if restored from a state file.
func scrapeAccount(api poller.API, now func() time.Time, n int) *poller.Poller {
	p := poller.New(poller.Options{Name: "bench", API: api, Now: now, UserLabel: config.UserLabelEmail, CountryBreakdown: true})
	st := p.Save()
	types := []string{"USER_LOGIN", "NUMBER_UPDATED", "APP_UPDATE", "NUMBER_ASSIGN", "USER_LOGOUT"}
	events := map[[2]string]float64{}
	countries := map[[2]string]float64{}
	for i := range n {
		t, s := types[i%len(types)], poller.Sources[i/len(types)%len(poller.Sources)]
		st.Users = append(st.Users, state.UserSeries{EventType: t, Source: s, User: fmt.Sprintf("user%06d@example.com", i), Value: float64(i%7 + 1)})
		events[[2]string{t, s}] += float64(i%7 + 1)
		countries[[2]string{t, fmt.Sprintf("%c%c", 'A'+i%26, 'A'+i/26%26)}]++
		st.LastEvent[t] = time.Unix(1773489600, 0)
	}
	for k, v := range events {
		st.Events = append(st.Events, state.EventSeries{EventType: k[0], Source: k[1], Value: v})
	}
	for k, v := range countries {
		st.Countries = append(st.Countries, state.CountrySeries{EventType: k[0], Country: k[1], Value: v})
	}
	p.Restore(st)
	return p
}

// BenchmarkScrapeDuringSlowPoll scrapes in interval mode while a poll waits
// on an API that takes 30 seconds to answer, against the same scrape with
// the API idle.
func BenchmarkScrapeDuringSlowPoll(b *testing.B) {
	clock := pollertest.NewClock()
	sim := simulator.New(simulator.Options{Seed: 3, Now: clock.Now})
	sim.Generate(1000, clock.Now().Add(-time.Hour), clock.Now())
	var started atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		sim.ServeHTTP(w, r)
	}))
	b.Cleanup(srv.Close)

	newExporter := func(b *testing.B) (*Exporter, http.Handler) {
		client, err := auditapi.New(auditapi.Config{BaseURL: srv.URL, APIKey: pollertest.Key, APISecret: pollertest.Secret, Timeout: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		// A short interval, so that the first poll, at the account's offset
		// within it, comes soon; it then waits on the API for the rest of
		// the benchmark, and no other poll starts while it does.
		exp := withPollers(config.ModeInterval, 2*time.Second, 0, scrapeAccount(client, clock.Now, 10000))
		return exp, exp.Handler(exp.Collector().Handler(prometheus.NewRegistry(), nil))
	}

	b.Run("baseline=api_idle", func(b *testing.B) {
		_, h := newExporter(b)
		b.ReportAllocs()
		for b.Loop() {
			pollertest.Scrape(h)
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
			pollertest.Scrape(h)
		}
		if p := pollertest.Gathered(b, exp.Collector(), "vonage_audit_polls_total")[""]; p != 0 {
			b.Fatalf("the poll finished during the benchmark (%v polls): it did not overlap the scrapes", p)
		}
	})
}
