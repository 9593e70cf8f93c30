package poller_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

func newBenchClient(b *testing.B, url string, obs *collector.Observer, concurrency int) *auditapi.Client {
	b.Helper()
	c, err := auditapi.New(auditapi.Config{
		BaseURL: url, APIKey: pollertest.Key, APISecret: pollertest.Secret,
		Timeout: time.Minute, MaxConcurrency: concurrency, RequestsPerSecond: 100, Observer: obs,
	})
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// pageServer answers GET /events from events rendered once, after a fixed
// latency: the API as a backfill sees it, at no CPU cost of its own. (The
// simulator cuts each page from the whole event set per request, which at
// 100,000 events costs more than the latency being measured.)
type pageServer struct {
	events  [][]byte
	latency time.Duration
}

func (s *pageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case <-time.After(s.latency):
	case <-r.Context().Done():
		return
	}
	if r.Method == http.MethodOptions {
		_, _ = io.WriteString(w, `{"eventTypes":[]}`)
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	total := len(s.events)
	pages := (total + size - 1) / size
	var b bytes.Buffer
	b.WriteString(`{"_embedded":{"events":[`)
	for i := (page - 1) * size; i < min(page*size, total); i++ {
		if i > (page-1)*size {
			b.WriteByte(',')
		}
		b.Write(s.events[i])
	}
	b.WriteString(`]},"_links":{`)
	if page < pages {
		fmt.Fprintf(&b, `"next":{"href":"/events?page=%d&size=%d"}`, page+1, size)
	}
	fmt.Fprintf(&b, `},"page":{"size":%d,"totalElements":%d,"totalPages":%d,"number":%d}}`, size, total, pages, page)
	_, _ = w.Write(b.Bytes())
}

// BenchmarkBackfill reads 100,000 simulated events from an API that takes
// 50 ms per answer, on the first poll of an account with a long lookback, at
// max_concurrency 4 and requests_per_second 100. It reports the bound
// pages x latency / concurrency beside the time taken, and the sequential
// floor pages x latency that concurrency avoids.
func BenchmarkBackfill(b *testing.B) {
	const (
		events      = 100000
		latency     = 50 * time.Millisecond
		concurrency = 4
	)
	clock := pollertest.NewClock()
	sim := simulator.New(simulator.Options{Seed: 11, Now: clock.Now})
	ps := &pageServer{latency: latency}
	for _, e := range sim.Generate(events, clock.Now().Add(-7*24*time.Hour), clock.Now()) {
		raw, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		ps.events = append(ps.events, raw)
	}
	srv := httptest.NewServer(ps)
	b.Cleanup(srv.Close)

	pages := (events + auditapi.MaxPageSize - 1) / auditapi.MaxPageSize
	for b.Loop() {
		c := collector.New(nil)
		obs := c.Observer("bench")
		a := poller.New(poller.Options{
			Name: "bench", API: newBenchClient(b, srv.URL, obs, concurrency), Lookback: 8 * 24 * time.Hour,
			Overlap: 2 * time.Minute, UserLabel: config.UserLabelEmail, Now: clock.Now, Requests: obs.Requests,
		})
		if err := a.Poll(context.Background()); err != nil {
			b.Fatal(err)
		}
		if a.Ingested() != events {
			b.Fatalf("counted %v events, want %d", a.Ingested(), events)
		}
		var requests float64
		a.Read(func(s *poller.Snapshot) { requests = s.PollRequests })
		if requests != float64(pages+1) {
			b.Fatalf("the backfill sent %v requests, want %d pages and one OPTIONS", requests, pages)
		}
	}
	perPoll := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(perPoll, "s/backfill")
	b.ReportMetric(float64(pages)*latency.Seconds()/concurrency, "s-bound")
	b.ReportMetric(float64(pages)*latency.Seconds(), "s-sequential")
}

// fakeAPI serves, without HTTP, a steady stream of events over a fixed set
// of series: each poll window holds the events created in it, each id new.
type fakeAPI struct {
	perSecond int // events per second of simulated time
	types     []string
	users     int
}

func (f *fakeAPI) EventTypes(context.Context) ([]auditapi.EventType, error) { return nil, nil }

func (f *fakeAPI) Pages(_ context.Context, q auditapi.Query, fn func(*auditapi.Page) error) error {
	page := &auditapi.Page{}
	// Events of every second of the window, the overlap included: the
	// ids are derived from the second, so re-read events are the same.
	for t := q.From; !t.After(q.To); t = t.Add(time.Second) {
		for i := 0; i < f.perSecond; i++ {
			n := int(t.Unix())*f.perSecond + i
			page.Events = append(page.Events, auditapi.Event{
				ID: fmt.Sprintf("ev-%d", n), EventType: f.types[n%len(f.types)], CreatedAt: t,
				UserEmail: fmt.Sprintf("user%d@example.com", n/10%f.users), Source: poller.Sources[n%2], SourceCountry: "GB",
			})
			if len(page.Events) == auditapi.MaxPageSize {
				if err := fn(page); err != nil {
					return err
				}
				page = &auditapi.Page{}
			}
		}
	}
	return fn(page)
}

func heapInUse() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse)
}

// BenchmarkMemory polls every minute of simulated time for days, 2 events
// per second over 1,000 series, and reports the heap in use after 100,000
// and after 1,000,000 events: it must depend on the series and the overlap,
// not on the events counted.
func BenchmarkMemory(b *testing.B) {
	for b.Loop() {
		clock := pollertest.NewClock()
		api := &fakeAPI{perSecond: 2, types: []string{"USER_LOGIN", "NUMBER_UPDATED", "APP_UPDATE", "NUMBER_ASSIGN", "USER_LOGOUT"}, users: 100}
		a := poller.New(poller.Options{Name: "bench", API: api, Overlap: 2 * time.Minute, UserLabel: config.UserLabelEmail, Now: clock.Now})
		c := collector.New(nil)
		c.SetAccounts([]collector.Account{{Poller: a}})
		var at100k, at1M float64
		for a.Ingested() < 1000000 {
			clock.Add(time.Minute)
			if err := a.Poll(context.Background()); err != nil {
				b.Fatal(err)
			}
			if at100k == 0 && a.Ingested() >= 100000 {
				at100k = heapInUse()
			}
		}
		at1M = heapInUse()
		series := a.UserSeries()
		if series != 1000 {
			b.Fatalf("got %d user series, want 1000", series)
		}
		seen, _, _ := a.Held()
		b.ReportMetric(at100k, "heap-B@100k")
		b.ReportMetric(at1M, "heap-B@1M")
		b.ReportMetric(at1M/at100k, "heap-ratio")
		b.ReportMetric(float64(seen), "seen-ids")
		runtime.KeepAlive(c)
	}
}
