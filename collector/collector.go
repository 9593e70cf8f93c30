// Package collector turns the Vonage Audit API's event log into Prometheus
// metrics, counting each event exactly once.
package collector

import (
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "vonage_audit"

var (
	eventsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "events_total"),
		"Audit events counted, by event type and source.", []string{"account", "event_type", "source"}, nil)
	userEventsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "user_events_total"),
		"Audit events counted, by event type, source and user.", []string{"account", "event_type", "source", "user"}, nil)
	countryEventsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "country_events_total"),
		"Audit events counted, by event type and source country.", []string{"account", "event_type", "country"}, nil)
	userOverflowDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "user_overflow_total"),
		"Distinct users counted as __other__ because max_users was reached.", []string{"account"}, nil)
	lastEventDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "last_event_timestamp_seconds"),
		"Creation time of the newest audit event counted, by event type.", []string{"account", "event_type"}, nil)

	upDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "up"),
		"Whether the last poll of the Audit API succeeded.", []string{"account"}, nil)
	lastSuccessDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "last_success_timestamp_seconds"),
		"Time the last successful poll of the Audit API finished.", []string{"account"}, nil)
	cursorDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "cursor_timestamp_seconds"),
		"Events created up to this time have been read.", []string{"account"}, nil)
	pollDurationDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "poll_duration_seconds"),
		"Duration of the last finished poll of the Audit API.", []string{"account"}, nil)
	pollsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "polls_total"),
		"Polls of the Audit API finished, successful or not.", []string{"account"}, nil)
	pollErrorsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "poll_errors_total"),
		"Polls of the Audit API that failed, by reason.", []string{"account", "reason"}, nil)
	pollOverrunsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "poll_overruns_total"),
		"Scrapes that served the last counters because the poll did not finish before the scrape deadline.", []string{"account"}, nil)
	ingestedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "events_ingested_total"),
		"Audit events counted for the first time.", []string{"account"}, nil)
	duplicatesDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "duplicate_events_total"),
		"Audit events read again and skipped because they were counted already.", []string{"account"}, nil)
	skippedDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "events_skipped_total"),
		"Audit events not counted, by reason.", []string{"account", "reason"}, nil)
)

// Collector exposes the counters of every configured account. Collect only
// reads the accounts' state: it never waits on the Audit API.
type Collector struct {
	mu       sync.RWMutex
	accounts []*Account
	api      *apiMetrics
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector without accounts.
func NewCollector() *Collector {
	return &Collector{api: newAPIMetrics()}
}

// SetAccounts replaces the accounts exported. API metrics of accounts no
// longer present are dropped.
func (c *Collector) SetAccounts(accounts []*Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := map[string]bool{}
	for _, a := range accounts {
		keep[a.Name()] = true
	}
	for _, a := range c.accounts {
		if !keep[a.Name()] {
			c.api.forget(a.Name())
		}
	}
	c.accounts = accounts
}

// Observer returns the sink for one account's API request metrics.
func (c *Collector) Observer(account string) *Observer {
	c.api.rateLimited.WithLabelValues(account)
	return &Observer{account: account, m: c.api}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		eventsDesc, userEventsDesc, userOverflowDesc, countryEventsDesc, lastEventDesc,
		upDesc, lastSuccessDesc, cursorDesc, pollDurationDesc, pollsDesc, pollErrorsDesc,
		pollOverrunsDesc, ingestedDesc, duplicatesDesc, skippedDesc,
	} {
		ch <- d
	}
	c.api.describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	accounts := c.accounts
	c.mu.RUnlock()
	for _, a := range accounts {
		a.collect(ch)
	}
	c.api.collect(ch)
}

func (a *Account) collect(ch chan<- prometheus.Metric) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name := a.opts.Name
	for k, v := range a.events {
		ch <- prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, v, name, k.eventType, k.source)
	}
	for k, v := range a.users {
		ch <- prometheus.MustNewConstMetric(userEventsDesc, prometheus.CounterValue, v, name, k.eventType, k.source, k.user)
	}
	if a.opts.UserLabel != UserLabelNone {
		ch <- prometheus.MustNewConstMetric(userOverflowDesc, prometheus.CounterValue, a.userOverflow, name)
	}
	for k, v := range a.countries {
		ch <- prometheus.MustNewConstMetric(countryEventsDesc, prometheus.CounterValue, v, name, k.eventType, k.country)
	}
	for t, ts := range a.lastEvent {
		ch <- prometheus.MustNewConstMetric(lastEventDesc, prometheus.GaugeValue, unixSeconds(ts), name, t)
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolValue(a.up), name)
	ch <- prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, unixSeconds(a.lastSuccess), name)
	ch <- prometheus.MustNewConstMetric(cursorDesc, prometheus.GaugeValue, unixSeconds(a.cursor), name)
	ch <- prometheus.MustNewConstMetric(pollDurationDesc, prometheus.GaugeValue, a.pollDuration.Seconds(), name)
	ch <- prometheus.MustNewConstMetric(pollsDesc, prometheus.CounterValue, a.polls, name)
	for _, r := range sortedKeys(a.pollErrors) {
		ch <- prometheus.MustNewConstMetric(pollErrorsDesc, prometheus.CounterValue, a.pollErrors[r], name, r)
	}
	ch <- prometheus.MustNewConstMetric(pollOverrunsDesc, prometheus.CounterValue, a.overruns, name)
	ch <- prometheus.MustNewConstMetric(ingestedDesc, prometheus.CounterValue, a.ingested, name)
	ch <- prometheus.MustNewConstMetric(duplicatesDesc, prometheus.CounterValue, a.duplicates, name)
	for _, r := range sortedKeys(a.skipped) {
		ch <- prometheus.MustNewConstMetric(skippedDesc, prometheus.CounterValue, a.skipped[r], name, r)
	}
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
