package poller_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// fakeAPI serves, without HTTP, a steady stream of events over a fixed set
// of series: each poll window holds the events created in it, each id new.
type fakeAPI struct {
	now       func() time.Time
	perSecond int // events per second of simulated time
	types     []string
	users     int
}

func (f *fakeAPI) EventTypes(context.Context) ([]auditapi.EventType, error) { return nil, nil }

// ListPage serves page q.Page of q, a query without bounds being the last
// ten seconds before now: what the poller's first look at the API asks.
func (f *fakeAPI) ListPage(_ context.Context, q auditapi.Query) (*auditapi.Page, error) {
	if q.From.IsZero() {
		q.From, q.To = f.now().Add(-10*time.Second), f.now()
	}
	// Events of every second of the window, the overlap included: the ids
	// are derived from the second, so re-read events are the same.
	from := q.From.Truncate(time.Second)
	seconds := int(q.To.Sub(from)/time.Second) + 1
	total := seconds * f.perSecond
	page := &auditapi.Page{Number: max(q.Page, 1), TotalElements: total, HasTotalElements: true,
		TotalPages: (total + auditapi.MaxPageSize - 1) / auditapi.MaxPageSize}
	for k := (page.Number - 1) * auditapi.MaxPageSize; k < min(page.Number*auditapi.MaxPageSize, total); k++ {
		t := from.Add(time.Duration(k/f.perSecond) * time.Second)
		n := int(t.Unix())*f.perSecond + k%f.perSecond
		page.Events = append(page.Events, auditapi.Event{
			ID: fmt.Sprintf("ev-%d", n), EventType: f.types[n%len(f.types)], CreatedAt: t,
			UserEmail: fmt.Sprintf("user%d@example.com", n/10%f.users), Source: poller.Sources[n%2], SourceCountry: "GB",
		})
	}
	page.HasNext = page.Number < page.TotalPages
	return page, nil
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
		api := &fakeAPI{now: clock.Now, perSecond: 2, types: []string{"USER_LOGIN", "NUMBER_UPDATED", "APP_UPDATE", "NUMBER_ASSIGN", "USER_LOGOUT"}, users: 100}
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
