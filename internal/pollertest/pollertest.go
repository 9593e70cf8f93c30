// Package pollertest is a simulated Audit API on loopback with one poller
// reading it and a collector exporting it, and the helpers that read the
// metrics back, for the tests of poller, collector and exporter.
package pollertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// The credentials of the simulated account.
const (
	Key    = "testkey1"
	Secret = "s3cr3t-never-printed"
)

// Clock is the settable clock a fixture's simulator, client and poller
// share.
type Clock = testutil.Clock

// NewClock returns a clock at a fixed time.
func NewClock() *Clock { return testutil.NewClock(time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)) }

// Fixture is a simulated Audit API on loopback with one poller reading it.
type Fixture struct {
	T      testing.TB
	Clock  *Clock
	Sim    *simulator.Server
	Srv    *httptest.Server
	Coll   *collector.Collector
	Poller *poller.Poller
}

// Options configures a Fixture.
type Options struct {
	Sim    simulator.Options
	Poller poller.Options
	Wrap   func(http.Handler) http.Handler
	// Retries is the client's MaxRetries.
	Retries int
	// ClientSecret is the secret the client sends; default the right one.
	ClientSecret string
}

// New starts a simulator and a poller of it, exported by Coll.
func New(t testing.TB, o Options) *Fixture {
	t.Helper()
	f := &Fixture{T: t, Clock: NewClock(), Coll: collector.New(nil)}
	o.Sim.APIKey, o.Sim.APISecret = Key, Secret
	if o.Sim.Now == nil {
		o.Sim.Now = f.Clock.Now
	}
	if o.Sim.Seed == 0 {
		o.Sim.Seed = 42
	}
	f.Sim = simulator.New(o.Sim)
	var h http.Handler = f.Sim
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	f.Srv = httptest.NewServer(h)
	t.Cleanup(f.Srv.Close)

	if o.Poller.Name == "" {
		o.Poller.Name = "test"
	}
	if o.Poller.UserLabel == "" {
		o.Poller.UserLabel = config.UserLabelEmail
	}
	if o.Poller.Now == nil {
		o.Poller.Now = f.Clock.Now
	}
	obs := f.Coll.Observer(o.Poller.Name)
	if o.Poller.API == nil {
		secret := o.ClientSecret
		if secret == "" {
			secret = Secret
		}
		o.Poller.API = f.Client(obs, secret, o.Retries)
		o.Poller.Requests = obs.Requests
	}
	f.Poller = poller.New(o.Poller)
	f.Coll.SetAccounts([]collector.Account{{Poller: f.Poller, API: obs}})
	return f
}

// Client returns a client of the fixture's simulator, on the fixture's
// clock, whose retries wait on nothing real.
func (f *Fixture) Client(obs auditapi.Observer, secret string, retries int) *auditapi.Client {
	f.T.Helper()
	c, err := auditapi.New(auditapi.Config{
		BaseURL:       f.Srv.URL,
		APIKey:        Key,
		APISecret:     secret,
		Timeout:       30 * time.Second,
		MaxRetries:    retries,
		Observer:      obs,
		Now:           f.Clock.Now,
		NewBackOff:    func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		MaxRetryAfter: time.Millisecond,
	})
	if err != nil {
		f.T.Fatalf("creating client: %v", err)
	}
	return c
}

// Poll polls once, for at most 30 seconds.
func (f *Fixture) Poll() error {
	f.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return f.Poller.Poll(ctx)
}

// MustPoll polls once and fails the test on error.
func (f *Fixture) MustPoll() {
	f.T.Helper()
	if err := f.Poll(); err != nil {
		f.T.Fatalf("poll: %v", err)
	}
}

// Served tallies what a complete reader must have counted: every visible
// event created at or after from.
func Served(events []simulator.Event, from time.Time) map[string]float64 {
	m := map[string]float64{}
	for _, e := range events {
		if e.CreatedAt.Before(from) {
			continue
		}
		m[e.EventType+"|"+e.Source]++
	}
	return m
}

// Gathered reads one metric family from a collector as label values joined
// by "|" (the account label left out), to values.
func Gathered(t testing.TB, c prometheus.Collector, name string) map[string]float64 {
	t.Helper()
	return GatherLabels(t, c, name, false)
}

// GatheredByAccount is Gathered with the account label kept.
func GatheredByAccount(t testing.TB, c prometheus.Collector, name string) map[string]float64 {
	t.Helper()
	return GatherLabels(t, c, name, true)
}

// GatherLabels is Gathered, with the account label kept if withAccount.
func GatherLabels(t testing.TB, c prometheus.Collector, name string, withAccount bool) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gathering: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var parts []string
			for _, lp := range m.GetLabel() {
				if withAccount || lp.GetName() != "account" {
					parts = append(parts, lp.GetValue())
				}
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out[strings.Join(parts, "|")] = v
		}
	}
	return out
}

// NonZero drops zero-valued series, which are exported for known types.
func NonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// AssertCounts compares the non-zero series of got and want.
func AssertCounts(t testing.TB, got, want map[string]float64) {
	t.Helper()
	got, want = NonZero(got), NonZero(want)
	var diffs []string
	for k, w := range want {
		if got[k] != w {
			diffs = append(diffs, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, k)
		}
	}
	sort.Strings(diffs)
	for _, k := range diffs {
		t.Errorf("series %s: got %v, want %v", k, got[k], want[k])
	}
}

// Sum adds the values of every series.
func Sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// discard is a ResponseWriter that keeps nothing, so that a scrape's cost is
// the exporter's, not a growing buffer's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// Scrape serves one GET /metrics from h, keeping nothing of the answer. The
// request has no deadline: benchmarks measure a scrape that runs to its end.
func Scrape(h http.Handler) {
	h.ServeHTTP(&discard{h: http.Header{}}, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/metrics", nil))
}
