package collector

import (
	"cmp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// accountCache keeps the metrics of one account's event series between
// scrapes. Building a const metric (label checks, label pairs) costs several
// times what sending a built one does, and between two scrapes few series
// change: only those are built again.
type accountCache struct {
	gen       uint64
	events    seriesCache[poller.EventKey]
	users     seriesCache[poller.UserKey]
	countries seriesCache[poller.CountryKey]
	lastEvent seriesCache[string]
	labels    labelPairs
}

// collect brings the cache up to date while the poller is held, and sends
// after releasing it, so that a slow reader of the scrape never holds up
// counting.
func (c *accountCache) collect(p Source, ch chan<- prometheus.Metric) {
	c.gen++
	var self []prometheus.Metric
	p.Read(func(s *poller.Snapshot) {
		name := s.Account
		update(&c.events, c.gen, s.Events, identity, compareEventKey, func(k poller.EventKey, v float64) prometheus.Metric {
			return c.labels.metric(eventsDesc, prometheus.CounterValue, v, eventsLabels, name, k.EventType, k.Source).with(s.EventExemplars[k])
		})
		update(&c.users, c.gen, s.Users, identity, compareUserKey, func(k poller.UserKey, v float64) prometheus.Metric {
			return c.labels.metric(userEventsDesc, prometheus.CounterValue, v, userEventsLabels, name, k.EventType, k.Source, k.User).with(s.UserExemplars[k])
		})
		update(&c.countries, c.gen, s.Countries, identity, compareCountryKey, func(k poller.CountryKey, v float64) prometheus.Metric {
			return c.labels.metric(countryEventsDesc, prometheus.CounterValue, v, countryEventsLabels, name, k.EventType, k.Country)
		})
		update(&c.lastEvent, c.gen, s.LastEvent, unixSeconds, strings.Compare, func(t string, v float64) prometheus.Metric {
			return c.labels.metric(lastEventDesc, prometheus.GaugeValue, v, lastEventLabels, name, t)
		})
		self = selfMetrics(s)
	})

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

func compareEventKey(a, b poller.EventKey) int {
	return cmp.Or(strings.Compare(a.EventType, b.EventType), strings.Compare(a.Source, b.Source))
}

func compareUserKey(a, b poller.UserKey) int {
	return cmp.Or(strings.Compare(a.EventType, b.EventType), strings.Compare(a.Source, b.Source), strings.Compare(a.User, b.User))
}

// compareCountryKey puts country first: the label "country" sorts before "event_type".
func compareCountryKey(a, b poller.CountryKey) int {
	return cmp.Or(strings.Compare(a.Country, b.Country), strings.Compare(a.EventType, b.EventType))
}

func (c *seriesCache[K]) send(ch chan<- prometheus.Metric) {
	for i := range c.entries {
		ch <- c.entries[i].metric
	}
}

func identity(v float64) float64 { return v }
