package collector_test

import (
	"fmt"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// benchSource is an account whose counters the benchmark changes, as a
// poll would, under the lock that Read takes.
type benchSource struct {
	mu sync.Mutex
	s  poller.Snapshot
}

func (b *benchSource) Name() string { return b.s.Account }

func (b *benchSource) Read(fn func(*poller.Snapshot)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	fn(&b.s)
}

// scrapeAccount returns an account with n user series (and the event and
// country series they imply), as if counted from the API, with exemplars.
func scrapeAccount(n int) *benchSource {
	a := &benchSource{}
	// A new poller's snapshot, which nothing else uses: the self-metrics
	// of a real account.
	poller.New(poller.Options{Name: "bench", UserLabel: config.UserLabelEmail, CountryBreakdown: true, Exemplars: true}).Read(func(s *poller.Snapshot) { a.s = *s })
	types := []string{"USER_LOGIN", "NUMBER_UPDATED", "APP_UPDATE", "NUMBER_ASSIGN", "USER_LOGOUT"}
	for i := range n {
		t, s := types[i%len(types)], poller.Sources[i/len(types)%len(poller.Sources)]
		uk, ek := poller.UserKey{EventType: t, Source: s, User: fmt.Sprintf("user%06d@example.com", i)}, poller.EventKey{EventType: t, Source: s}
		newest := poller.Exemplar{ID: fmt.Sprintf("aaaaaaaa-bbbb-cccc-dddd-%012d", i), CreatedAt: time.Unix(1773489600, 0)}
		a.s.Users[uk] = float64(i%7 + 1)
		a.s.UserExemplars[uk] = newest
		a.s.Events[ek] += float64(i%7 + 1)
		a.s.EventExemplars[ek] = newest
		a.s.Countries[poller.CountryKey{EventType: t, Country: fmt.Sprintf("%c%c", 'A'+i%26, 'A'+i/26%26)}]++
		a.s.LastEvent[t] = time.Unix(1773489600, 0)
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

// heapBytes is the heap in use once the garbage is collected.
func heapBytes() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc)
}

// BenchmarkScrape serves /metrics for n user series, from the collector's
// handler and from plain CounterVecs holding the same series through
// promhttp. Between two scrapes 100 user series change on both sides, as a
// poll would, and on the collector's their exemplars too. It reports the
// heap each side holds for the series (heap-B): the counts, against the
// CounterVecs; heap-B-statefile adds the copy of the counts that an
// exporter with a state file exports.
func BenchmarkScrape(b *testing.B) {
	const changed = 100
	for _, n := range []int{10000, 100000, 250000} {
		before := heapBytes()
		a := scrapeAccount(n)
		c := collector.New(nil)
		c.SetAccounts([]collector.Account{{Poller: a}})
		h := c.Handler(prometheus.NewRegistry(), nil)
		pollertest.Scrape(h)
		heap := heapBytes() - before
		saved := []any{maps.Clone(a.s.Events), maps.Clone(a.s.Users), maps.Clone(a.s.Countries), maps.Clone(a.s.LastEvent)}
		heapSaved := heapBytes() - before

		before = heapBytes()
		baseReg, baseUsers := baselineOf(b, c)
		baseHeap := heapBytes() - before
		var keys []poller.UserKey
		for k := range a.s.Users {
			if len(keys) == changed {
				break
			}
			keys = append(keys, k)
		}

		b.Run(fmt.Sprintf("series=%d/baseline=countervec", n), func(b *testing.B) {
			h := promhttp.HandlerFor(baseReg, promhttp.HandlerOpts{})
			pollertest.Scrape(h)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				for j := range changed {
					baseUsers[(i*changed+j)%len(baseUsers)].Inc()
				}
				pollertest.Scrape(h)
			}
			// After the loop, which deletes what is reported before it.
			b.ReportMetric(baseHeap, "heap-B")
		})
		b.Run(fmt.Sprintf("series=%d/collector", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.mu.Lock()
				for _, k := range keys {
					a.s.Users[k]++
					e := a.s.UserExemplars[k]
					e.CreatedAt = e.CreatedAt.Add(time.Second)
					a.s.UserExemplars[k] = e
				}
				a.mu.Unlock()
				pollertest.Scrape(h)
			}
			b.ReportMetric(heap, "heap-B")
			b.ReportMetric(heapSaved, "heap-B-statefile")
		})
		runtime.KeepAlive(saved)
	}
}
