// Package collector turns the Vonage Audit API's event log into Prometheus
// metrics, counting each event exactly once.
package collector

import (
	"cmp"
	"slices"
	"sort"
	"strings"
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
	pollRequestsDesc = prometheus.NewDesc(prometheus.BuildFQName(namespace, "", "poll_requests"),
		"Requests the last finished poll sent to the Audit API, retries and the first poll's OPTIONS included.", []string{"account"}, nil)
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
	caches   map[*Account]*accountCache
	api      *apiMetrics
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector without accounts.
func NewCollector() *Collector {
	return &Collector{api: newAPIMetrics(), caches: map[*Account]*accountCache{}}
}

// SetAccounts replaces the accounts exported. API metrics of accounts no
// longer present are dropped; those of the accounts exported start at zero
// here, not in Observer, so that a reload that fails after building its new
// accounts' clients exports none of them.
func (c *Collector) SetAccounts(accounts []*Account) {
	c.mu.Lock()
	defer c.mu.Unlock()
	keep := map[string]bool{}
	caches := make(map[*Account]*accountCache, len(accounts))
	for _, a := range accounts {
		keep[a.Name()] = true
		c.api.rateLimited.WithLabelValues(a.Name())
		caches[a] = c.caches[a]
		if caches[a] == nil {
			caches[a] = &accountCache{}
		}
	}
	for _, a := range c.accounts {
		if !keep[a.Name()] {
			c.api.forget(a.Name())
		}
	}
	c.accounts = accounts
	c.caches = caches
}

// Observer returns the sink for one account's API request metrics.
func (c *Collector) Observer(account string) *Observer {
	return &Observer{account: account, m: c.api}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		eventsDesc, userEventsDesc, userOverflowDesc, countryEventsDesc, lastEventDesc,
		upDesc, lastSuccessDesc, cursorDesc, pollDurationDesc, pollsDesc, pollRequestsDesc, pollErrorsDesc,
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
	caches := c.caches
	c.mu.RUnlock()
	for _, a := range accounts {
		caches[a].collect(a, ch)
	}
	c.api.collect(ch)
}

// accountCache keeps the metrics of one account's event series between
// scrapes. Building a const metric (label checks, label pairs) costs several
// times what sending a built one does, and between two scrapes few series
// change: only those are built again.
type accountCache struct {
	mu        sync.Mutex // one scrape at a time uses the cache
	gen       uint64
	events    seriesCache[typeSource]
	users     seriesCache[typeSourceUser]
	countries seriesCache[typeCountry]
	lastEvent seriesCache[string]
}

// collect brings the cache up to date under the account's lock, and sends
// after releasing it, so that a slow reader of the scrape never holds up
// counting.
func (c *accountCache) collect(a *Account, ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	name := a.opts.Name

	a.mu.Lock()
	update(&c.events, c.gen, a.events, identity, compareTypeSource, func(k typeSource, v float64) prometheus.Metric {
		return prometheus.MustNewConstMetric(eventsDesc, prometheus.CounterValue, v, name, k.eventType, k.source)
	})
	update(&c.users, c.gen, a.users, identity, compareTypeSourceUser, func(k typeSourceUser, v float64) prometheus.Metric {
		return prometheus.MustNewConstMetric(userEventsDesc, prometheus.CounterValue, v, name, k.eventType, k.source, k.user)
	})
	update(&c.countries, c.gen, a.countries, identity, compareTypeCountry, func(k typeCountry, v float64) prometheus.Metric {
		return prometheus.MustNewConstMetric(countryEventsDesc, prometheus.CounterValue, v, name, k.eventType, k.country)
	})
	update(&c.lastEvent, c.gen, a.lastEvent, unixSeconds, strings.Compare, func(t string, v float64) prometheus.Metric {
		return prometheus.MustNewConstMetric(lastEventDesc, prometheus.GaugeValue, v, name, t)
	})
	self := a.selfMetrics()
	a.mu.Unlock()

	for _, s := range []interface {
		send(chan<- prometheus.Metric)
	}{&c.events, &c.users, &c.countries, &c.lastEvent} {
		s.send(ch)
	}
	for _, m := range self {
		ch <- m
	}
}

// seriesCache holds the built metric of each series of one family.
type seriesCache[K comparable] struct {
	index   map[K]int
	entries []cachedSeries[K]
}

type cachedSeries[K comparable] struct {
	key    K
	value  float64
	gen    uint64 // the last scrape that found the series
	metric prometheus.Metric
}

// update makes the cache hold exactly the series of m, building again the
// metric of a series whose value changed. The entries are kept in the order
// of their label values (compare), the order the registry sorts a family
// into: its sort then finds them sorted, which makes it cheap.
func update[K comparable, V any](c *seriesCache[K], gen uint64, m map[K]V, value func(V) float64, compare func(K, K) int, build func(K, float64) prometheus.Metric) {
	if c.index == nil {
		c.index = make(map[K]int, len(m))
	}
	added := false
	for k, raw := range m {
		v := value(raw)
		i, ok := c.index[k]
		if !ok {
			c.index[k] = len(c.entries)
			c.entries = append(c.entries, cachedSeries[K]{key: k, value: v, gen: gen, metric: build(k, v)})
			added = true
			continue
		}
		e := &c.entries[i]
		e.gen = gen
		if e.value != v {
			e.value, e.metric = v, build(k, v)
		}
	}
	if len(c.entries) != len(m) {
		// Some series are gone (a cap, a restore): drop them.
		kept := c.entries[:0]
		for _, e := range c.entries {
			if e.gen == gen {
				kept = append(kept, e)
			} else {
				delete(c.index, e.key)
			}
		}
		clear(c.entries[len(kept):])
		c.entries = kept
	} else if !added {
		return
	}
	slices.SortFunc(c.entries, func(a, b cachedSeries[K]) int { return compare(a.key, b.key) })
	for i := range c.entries {
		c.index[c.entries[i].key] = i
	}
}

// Orders of the label values of each family, label names sorted.

func compareTypeSource(a, b typeSource) int {
	return cmp.Or(strings.Compare(a.eventType, b.eventType), strings.Compare(a.source, b.source))
}

func compareTypeSourceUser(a, b typeSourceUser) int {
	return cmp.Or(strings.Compare(a.eventType, b.eventType), strings.Compare(a.source, b.source), strings.Compare(a.user, b.user))
}

// compareTypeCountry puts country first: the label "country" sorts before "event_type".
func compareTypeCountry(a, b typeCountry) int {
	return cmp.Or(strings.Compare(a.country, b.country), strings.Compare(a.eventType, b.eventType))
}

func (c *seriesCache[K]) send(ch chan<- prometheus.Metric) {
	for i := range c.entries {
		ch <- c.entries[i].metric
	}
}

func identity(v float64) float64 { return v }

// selfMetrics builds the account's few self-metrics. Callers hold a.mu.
func (a *Account) selfMetrics() []prometheus.Metric {
	name := a.opts.Name
	var out []prometheus.Metric
	if a.opts.UserLabel != UserLabelNone {
		out = append(out, prometheus.MustNewConstMetric(userOverflowDesc, prometheus.CounterValue, a.userOverflow, name))
	}
	out = append(out,
		prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, boolValue(a.up), name),
		prometheus.MustNewConstMetric(lastSuccessDesc, prometheus.GaugeValue, unixSeconds(a.lastSuccess), name),
		prometheus.MustNewConstMetric(cursorDesc, prometheus.GaugeValue, unixSeconds(a.cursor), name),
		prometheus.MustNewConstMetric(pollDurationDesc, prometheus.GaugeValue, a.pollDuration.Seconds(), name),
		prometheus.MustNewConstMetric(pollsDesc, prometheus.CounterValue, a.polls, name),
		prometheus.MustNewConstMetric(pollRequestsDesc, prometheus.GaugeValue, a.pollRequests, name),
	)
	for _, r := range sortedKeys(a.pollErrors) {
		out = append(out, prometheus.MustNewConstMetric(pollErrorsDesc, prometheus.CounterValue, a.pollErrors[r], name, r))
	}
	out = append(out,
		prometheus.MustNewConstMetric(pollOverrunsDesc, prometheus.CounterValue, a.overruns, name),
		prometheus.MustNewConstMetric(ingestedDesc, prometheus.CounterValue, a.ingested, name),
		prometheus.MustNewConstMetric(duplicatesDesc, prometheus.CounterValue, a.duplicates, name),
	)
	for _, r := range sortedKeys(a.skipped) {
		out = append(out, prometheus.MustNewConstMetric(skippedDesc, prometheus.CounterValue, a.skipped[r], name, r))
	}
	return out
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
