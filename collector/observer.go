package collector

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// durationBuckets are the upper bounds of api_request_duration_seconds.
var durationBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

type endpointCode struct{ endpoint, code string }

type histogram struct {
	count   uint64
	sum     float64
	buckets []uint64 // by durationBuckets; not cumulative
}

// Observer records one account's Audit API requests.
type Observer struct {
	account  string
	requests atomic.Uint64

	mu          sync.Mutex // guards below
	codes       map[endpointCode]float64
	durations   map[string]*histogram
	retries     map[string]float64
	rateLimited float64
}

var _ auditapi.Observer = (*Observer)(nil)

// newObserver starts every retry reason at 0, so that a dashboard shows a
// flat line rather than "No data" on an account that never needed a retry.
func newObserver(account string) *Observer {
	retries := make(map[string]float64, len(auditapi.Reasons))
	for _, r := range auditapi.Reasons {
		retries[r] = 0
	}
	return &Observer{account: account, codes: map[endpointCode]float64{}, durations: map[string]*histogram{}, retries: retries}
}

// Request implements auditapi.Observer.
func (o *Observer) Request(endpoint, code string, d time.Duration) {
	o.requests.Add(1)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.codes[endpointCode{endpoint, code}]++
	h := o.durations[endpoint]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(durationBuckets))}
		o.durations[endpoint] = h
	}
	s := d.Seconds()
	h.count++
	h.sum += s
	for i, le := range durationBuckets {
		if s <= le {
			h.buckets[i]++
			break
		}
	}
}

// Requests returns how many requests the Observer has recorded.
func (o *Observer) Requests() uint64 { return o.requests.Load() }

// Retry implements auditapi.Observer.
func (o *Observer) Retry(_, reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries[reason]++
}

// RateLimited implements auditapi.Observer.
func (o *Observer) RateLimited(string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rateLimited++
}

// metrics builds the account's API metrics; they are sent after the lock
// is released, so that a slow scrape never holds up a request.
func (o *Observer) metrics() []prometheus.Metric {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]prometheus.Metric, 0, len(o.codes)+len(o.durations)+len(o.retries)+1)
	for k, v := range o.codes {
		out = append(out, prometheus.MustNewConstMetric(apiRequestsDesc, prometheus.CounterValue, v, o.account, k.endpoint, k.code))
	}
	for endpoint, h := range o.durations {
		cumulative := make(map[float64]uint64, len(durationBuckets))
		var n uint64
		for i, le := range durationBuckets {
			n += h.buckets[i]
			cumulative[le] = n
		}
		out = append(out, prometheus.MustNewConstHistogram(apiDurationDesc, h.count, h.sum, cumulative, o.account, endpoint))
	}
	for reason, v := range o.retries {
		out = append(out, prometheus.MustNewConstMetric(apiRetriesDesc, prometheus.CounterValue, v, o.account, reason))
	}
	out = append(out, prometheus.MustNewConstMetric(apiRateLimitedDesc, prometheus.CounterValue, o.rateLimited, o.account))
	return out
}
