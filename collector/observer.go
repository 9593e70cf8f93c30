package collector

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// apiMetrics are the Audit API client's request metrics, for every account.
type apiMetrics struct {
	requests    *prometheus.CounterVec
	durations   *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
}

func newAPIMetrics() *apiMetrics {
	return &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "api_requests_total",
			Help: "Requests sent to the Audit API, by endpoint and HTTP status code or error.",
		}, []string{"account", "endpoint", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "api_request_duration_seconds",
			Help:    "Duration of requests to the Audit API, by endpoint.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"account", "endpoint"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "api_retries_total",
			Help: "Requests to the Audit API retried, by the reason of the failed attempt.",
		}, []string{"account", "reason"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "api_rate_limited_total",
			Help: "Answers of the Audit API that refused a request for its rate limit or quota.",
		}, []string{"account"}),
	}
}

func (m *apiMetrics) describe(ch chan<- *prometheus.Desc) {
	m.requests.Describe(ch)
	m.durations.Describe(ch)
	m.retries.Describe(ch)
	m.rateLimited.Describe(ch)
}

func (m *apiMetrics) collect(ch chan<- prometheus.Metric) {
	m.requests.Collect(ch)
	m.durations.Collect(ch)
	m.retries.Collect(ch)
	m.rateLimited.Collect(ch)
}

func (m *apiMetrics) forget(account string) {
	l := prometheus.Labels{"account": account}
	m.requests.DeletePartialMatch(l)
	m.durations.DeletePartialMatch(l)
	m.retries.DeletePartialMatch(l)
	m.rateLimited.DeletePartialMatch(l)
}

// Observer records one account's Audit API requests.
type Observer struct {
	account  string
	m        *apiMetrics
	requests atomic.Uint64
}

var _ auditapi.Observer = (*Observer)(nil)

// Request implements auditapi.Observer.
func (o *Observer) Request(endpoint, code string, d time.Duration) {
	o.requests.Add(1)
	o.m.requests.WithLabelValues(o.account, endpoint, code).Inc()
	o.m.durations.WithLabelValues(o.account, endpoint).Observe(d.Seconds())
}

// Requests returns how many requests the Observer has recorded.
func (o *Observer) Requests() uint64 { return o.requests.Load() }

// Retry implements auditapi.Observer.
func (o *Observer) Retry(_, reason string) {
	o.m.retries.WithLabelValues(o.account, reason).Inc()
}

// RateLimited implements auditapi.Observer.
func (o *Observer) RateLimited(string) {
	o.m.rateLimited.WithLabelValues(o.account).Inc()
}
