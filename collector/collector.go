// Package collector is the exporter's prometheus.Collector: it turns the
// pollers' snapshots, the API request counts and the exporter's report on
// itself into metrics. It reads what others count and keeps nothing else.
package collector

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

const namespace = "vonage_audit"

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// Every metric of the exporter, besides the Go, process and build ones.
var (
	userOverflowDesc = newDesc("user_overflow_total", "Distinct users counted as __other__ because max_users was reached.", "account")

	upDesc           = newDesc("up", "Whether the last poll of the Audit API succeeded.", "account")
	lastSuccessDesc  = newDesc("last_success_timestamp_seconds", "Time the last successful poll of the Audit API finished.", "account")
	cursorDesc       = newDesc("cursor_timestamp_seconds", "Events created up to this time have been read.", "account")
	pollDurationDesc = newDesc("poll_duration_seconds", "Duration of the last finished poll of the Audit API.", "account")
	pollsDesc        = newDesc("polls_total", "Polls of the Audit API finished, successful or not.", "account")
	pollRequestsDesc = newDesc("poll_requests", "Requests the last finished poll sent to the Audit API, retries and the first poll's OPTIONS included.", "account")
	pollErrorsDesc   = newDesc("poll_errors_total", "Polls of the Audit API that failed, by reason.", "account", "reason")
	pollOverrunsDesc = newDesc("poll_overruns_total", "Scrapes that served the last counters because the poll did not finish before the scrape deadline.", "account")
	ingestedDesc     = newDesc("events_ingested_total", "Audit events counted for the first time.", "account")
	duplicatesDesc   = newDesc("duplicate_events_total", "Audit events read again and skipped because they were counted already.", "account")
	skippedDesc      = newDesc("events_skipped_total", "Audit events not counted, by reason.", "account", "reason")

	clockSkewDesc       = newDesc("api_clock_skew_seconds", "The Audit API's clock, read from its Date header, minus the exporter's.", "account")
	inconsistenciesDesc = newDesc("api_inconsistencies_total", "Answers of the Audit API that did not add up, by kind.", "account", "kind")
	readingDesc         = newDesc("api_reading_info", "How the Audit API reads date bounds and orders events, as learned from its answers.", "account", "date_precision", "order")
	pageSizeDesc        = newDesc("api_page_size", "The largest page of events the Audit API served.", "account")

	apiRequestsDesc    = newDesc("api_requests_total", "Requests sent to the Audit API, by endpoint and HTTP status code or error.", "account", "endpoint", "code")
	apiDurationDesc    = newDesc("api_request_duration_seconds", "Duration of requests to the Audit API, by endpoint.", "account", "endpoint")
	apiRetriesDesc     = newDesc("api_retries_total", "Requests to the Audit API retried, by the reason of the failed attempt.", "account", "reason")
	apiRateLimitedDesc = newDesc("api_rate_limited_total", "Answers of the Audit API that refused a request for its rate limit or quota.", "account")

	restoredDesc      = newDesc("state_restored", "Whether the account's counters and cursor were restored from the state file at start.", "account")
	restoreErrorsDesc = newDesc("state_restore_errors_total", "State files that could not be read or used at start, so that every account started fresh.")
	saveErrorsDesc    = newDesc("state_save_errors_total", "Failed saves of the state file.")
	lastSaveDesc      = newDesc("state_last_save_success_timestamp_seconds", "Time of the last successful save of the state file.")
	reloadOKDesc      = newDesc("config_last_reload_successful", "Whether the last configuration reload succeeded.")
	lastReloadDesc    = newDesc("config_last_reload_success_timestamp_seconds", "Time of the last successful configuration load or reload.")
)

// Status is the exporter's report on its state file and its reloads.
type Status struct {
	// Restored tells, by account, whether the account's state was restored
	// from the state file at start.
	Restored      map[string]bool
	RestoreErrors float64
	SaveErrors    float64
	LastSave      time.Time
	ReloadOK      bool
	LastReload    time.Time
}

// Source is what the collector reads of an account: a *poller.Poller.
type Source interface {
	Name() string
	Read(fn func(*poller.Snapshot))
}

var _ Source = (*poller.Poller)(nil)

// Account is one exported account: its counters and its API requests.
type Account struct {
	Poller Source
	API    *Observer // nil: no API metrics
}

// Collector exposes the counters of every account. Collect only reads
// snapshots: it never waits on the Audit API.
type Collector struct {
	status func() Status

	mu       sync.Mutex // guards accounts, which SetAccounts replaces whole
	accounts []Account  // sorted by name
}

var _ prometheus.Collector = (*Collector)(nil)

// New returns a collector without accounts; status, when not nil, is asked
// for the exporter's report at each scrape.
func New(status func() Status) *Collector {
	return &Collector{status: status}
}

// Observer returns the sink for one account's API request metrics: the
// exported account's own, so that its counts go on across a rebuild of its
// client, or else a new one, exported once SetAccounts is given it.
func (c *Collector) Observer(account string) *Observer {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.accounts {
		if a.Poller.Name() == account {
			return a.API
		}
	}
	return newObserver(account)
}

// SetAccounts replaces the accounts exported.
func (c *Collector) SetAccounts(accounts []Account) {
	sorted := slices.SortedFunc(slices.Values(accounts), func(a, b Account) int { return strings.Compare(a.Poller.Name(), b.Poller.Name()) })
	c.mu.Lock()
	defer c.mu.Unlock()
	c.accounts = sorted
}

// snapshot returns the accounts exported.
func (c *Collector) snapshot() []Account {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.accounts
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range families {
		ch <- f.desc
	}
	for _, d := range []*prometheus.Desc{
		userOverflowDesc, upDesc, lastSuccessDesc, cursorDesc, pollDurationDesc, pollsDesc, pollRequestsDesc, pollErrorsDesc,
		pollOverrunsDesc, ingestedDesc, duplicatesDesc, skippedDesc,
		clockSkewDesc, inconsistenciesDesc, readingDesc, pageSizeDesc,
		apiRequestsDesc, apiDurationDesc, apiRetriesDesc, apiRateLimitedDesc,
		restoredDesc, restoreErrorsDesc, saveErrorsDesc, lastSaveDesc, reloadOKDesc, lastReloadDesc,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.collect(ch, true)
}

// collect sends the metrics of every account, and the count families when
// counts is set.
func (c *Collector) collect(ch chan<- prometheus.Metric, counts bool) {
	if c.status != nil {
		collectStatus(c.status(), ch)
	}
	var keys scratch
	for _, a := range c.snapshot() {
		var out []prometheus.Metric
		a.Poller.Read(func(s *poller.Snapshot) {
			if counts {
				for _, f := range families {
					f.each(s, &keys, func(sm *sample) { out = append(out, f.metric(sm)) })
				}
			}
			out = append(out, selfMetrics(s)...)
		})
		// Sent once the account is released, so that a slow reader of
		// the scrape never holds up counting.
		for _, m := range out {
			ch <- m
		}
		if a.API != nil {
			for _, m := range a.API.metrics() {
				ch <- m
			}
		}
	}
}

// uncounted is the collector without its count families, which a scrape in
// the text formats streams instead (see Handler).
type uncounted struct{ *Collector }

func (u uncounted) Collect(ch chan<- prometheus.Metric) { u.collect(ch, false) }

// selfMetrics builds an account's few self-metrics.
func selfMetrics(s *poller.Snapshot) []prometheus.Metric {
	name := s.Account
	var out []prometheus.Metric
	if s.CountsUsers {
		out = append(out, prometheus.MustNewConstMetric(userOverflowDesc, prometheus.CounterValue, s.UserOverflow, name))
	}
	out = append(out,
		prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolValue(s.Up), name),
		prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, unixSeconds(s.LastSuccess), name),
		prometheus.MustNewConstMetric(cursorDesc, prometheus.GaugeValue, unixSeconds(s.Cursor), name),
		prometheus.MustNewConstMetric(pollDurationDesc, prometheus.GaugeValue, s.PollDuration.Seconds(), name),
		prometheus.MustNewConstMetric(pollsDesc, prometheus.CounterValue, s.Polls, name),
		prometheus.MustNewConstMetric(pollRequestsDesc, prometheus.GaugeValue, s.PollRequests, name),
	)
	for _, r := range sortedKeys(s.PollErrors) {
		out = append(out, prometheus.MustNewConstMetric(pollErrorsDesc, prometheus.CounterValue, s.PollErrors[r], name, r))
	}
	out = append(out,
		prometheus.MustNewConstMetric(pollOverrunsDesc, prometheus.CounterValue, s.Overruns, name),
		prometheus.MustNewConstMetric(ingestedDesc, prometheus.CounterValue, s.Ingested, name),
		prometheus.MustNewConstMetric(duplicatesDesc, prometheus.CounterValue, s.Duplicates, name),
	)
	for _, r := range sortedKeys(s.Skipped) {
		out = append(out, prometheus.MustNewConstMetric(skippedDesc, prometheus.CounterValue, s.Skipped[r], name, r))
	}
	r := s.Reading
	if r.SkewKnown {
		out = append(out, prometheus.MustNewConstMetric(clockSkewDesc, prometheus.GaugeValue, r.Skew.Seconds(), name))
	}
	for _, k := range sortedKeys(s.Inconsistencies) {
		out = append(out, prometheus.MustNewConstMetric(inconsistenciesDesc, prometheus.CounterValue, s.Inconsistencies[k], name, k))
	}
	return append(out,
		prometheus.MustNewConstMetric(readingDesc, prometheus.GaugeValue, 1, name, string(r.Precision), string(r.Order)),
		prometheus.MustNewConstMetric(pageSizeDesc, prometheus.GaugeValue, float64(r.PageSize), name),
	)
}

func collectStatus(s Status, ch chan<- prometheus.Metric) {
	for account, restored := range s.Restored {
		ch <- prometheus.MustNewConstMetric(restoredDesc, prometheus.GaugeValue, boolValue(restored), account)
	}
	ch <- prometheus.MustNewConstMetric(restoreErrorsDesc, prometheus.CounterValue, s.RestoreErrors)
	ch <- prometheus.MustNewConstMetric(saveErrorsDesc, prometheus.CounterValue, s.SaveErrors)
	ch <- prometheus.MustNewConstMetric(lastSaveDesc, prometheus.GaugeValue, unixSeconds(s.LastSave))
	ch <- prometheus.MustNewConstMetric(reloadOKDesc, prometheus.GaugeValue, boolValue(s.ReloadOK))
	ch <- prometheus.MustNewConstMetric(lastReloadDesc, prometheus.GaugeValue, unixSeconds(s.LastReload))
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
