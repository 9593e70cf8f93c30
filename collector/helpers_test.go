package collector

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

const (
	testKey    = "testkey1"
	testSecret = "s3cr3t-never-printed"
)

// testClock is a settable clock shared by a simulator and an account.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fixture is a simulated Audit API on loopback with one account reading it.
type fixture struct {
	t       *testing.T
	clock   *testClock
	sim     *simulator.Server
	srv     *httptest.Server
	coll    *Collector
	account *Account
}

type fixtureOptions struct {
	sim     simulator.Options
	account AccountOptions
	wrap    func(http.Handler) http.Handler
	retries int
	// concurrency is the client's MaxConcurrency.
	concurrency int
	// clientSecret is the secret the client sends; default the right one.
	clientSecret string
}

func newFixture(t *testing.T, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, clock: newTestClock(), coll: NewCollector()}
	o.sim.APIKey, o.sim.APISecret = testKey, testSecret
	if o.sim.Now == nil {
		o.sim.Now = f.clock.Now
	}
	if o.sim.Seed == 0 {
		o.sim.Seed = 42
	}
	f.sim = simulator.New(o.sim)
	var h http.Handler = f.sim
	if o.wrap != nil {
		h = o.wrap(h)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)

	if o.account.Name == "" {
		o.account.Name = "test"
	}
	if o.account.UserLabel == "" {
		o.account.UserLabel = UserLabelEmail
	}
	if o.account.Now == nil {
		o.account.Now = f.clock.Now
	}
	if o.account.API == nil {
		secret := o.clientSecret
		if secret == "" {
			secret = testSecret
		}
		obs := f.coll.Observer(o.account.Name)
		o.account.API = f.client(obs, secret, o.retries, o.concurrency)
		o.account.Requests = obs.Requests
	}
	f.account = NewAccount(o.account)
	f.coll.SetAccounts([]*Account{f.account})
	return f
}

func (f *fixture) client(obs *Observer, secret string, retries, concurrency int) *auditapi.Client {
	f.t.Helper()
	c, err := auditapi.New(auditapi.Config{
		BaseURL:        f.srv.URL,
		APIKey:         testKey,
		APISecret:      secret,
		Timeout:        30 * time.Second,
		MaxRetries:     retries,
		MaxConcurrency: concurrency,
		Observer:       obs,
	})
	if err != nil {
		f.t.Fatalf("creating client: %v", err)
	}
	return c
}

func (f *fixture) poll() error {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return f.account.Poll(ctx)
}

func (f *fixture) mustPoll() {
	f.t.Helper()
	if err := f.poll(); err != nil {
		f.t.Fatalf("poll: %v", err)
	}
}

// served tallies what a complete reader must have counted: every visible
// event created at or after from.
func served(events []simulator.Event, from time.Time) map[string]float64 {
	m := map[string]float64{}
	for _, e := range events {
		if e.CreatedAt.Before(from) {
			continue
		}
		m[e.EventType+"|"+e.Source]++
	}
	return m
}

// gathered reads one metric family from a collector as label values joined
// by "|" (the account label left out), to values.
func gathered(t testing.TB, c prometheus.Collector, name string) map[string]float64 {
	t.Helper()
	return gatherLabels(t, c, name, false)
}

// gatheredByAccount is gathered with the account label kept.
func gatheredByAccount(t testing.TB, c prometheus.Collector, name string) map[string]float64 {
	t.Helper()
	return gatherLabels(t, c, name, true)
}

func gatherLabels(t testing.TB, c prometheus.Collector, name string, withAccount bool) map[string]float64 {
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

// nonZero drops zero-valued series, which are exported for known types.
func nonZero(m map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func assertCounts(t *testing.T, got, want map[string]float64) {
	t.Helper()
	got, want = nonZero(got), nonZero(want)
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

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}
