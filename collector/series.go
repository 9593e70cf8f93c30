package collector

import (
	"cmp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// family is one of the count families: the series an account has one of
// for each event type, source, user or country it counted. They are nearly
// all of a scrape at scale, so they are streamed (stream.go) rather than
// gathered; Collect builds the same series for a registry.
type family struct {
	name, help string
	// labels are the label names, sorted, as the exposition writes them;
	// a sample's values come in this order.
	labels  []string
	counter bool // else a gauge
	desc    *prometheus.Desc
	// each calls yield with every series of s in the family, in the order
	// of their label values, which is the order a registry sorts them in.
	// keys is scratch space that each may reuse from one call to the next;
	// the sample yielded is valid until yield returns.
	each func(s *poller.Snapshot, keys *scratch, yield func(*sample))
}

// sample is one series of a family.
type sample struct {
	values   [4]string // label values, in the order of family.labels
	value    float64
	exemplar poller.Exemplar // zero: none
}

// scratch holds the keys of one account's family while they are sorted,
// and the sample yielded, reused from account to account and from scrape to
// scrape so that a scrape does not allocate them.
type scratch struct {
	events    []poller.EventKey
	users     []poller.UserKey
	countries []poller.CountryKey
	types     []string
	sample    sample
}

// set fills the scratch sample, which each yields.
func (sc *scratch) set(s sample) *sample {
	sc.sample = s
	return &sc.sample
}

func newFamily(name, help string, counter bool, labels []string, each func(*poller.Snapshot, *scratch, func(*sample))) *family {
	if !slices.IsSorted(labels) {
		panic("collector: the labels of " + name + " are not sorted")
	}
	return &family{name: prometheus.BuildFQName(namespace, "", name), help: help, labels: labels, counter: counter, desc: newDesc(name, help, labels...), each: each}
}

// The count families, sorted by name.
var (
	countryEventsFamily = newFamily("country_events_total", "Audit events counted, by event type and source country.", true,
		[]string{"account", "country", "event_type"},
		func(s *poller.Snapshot, sc *scratch, yield func(*sample)) {
			sc.countries = sortKeys(sc.countries, s.Countries, func(a, b poller.CountryKey) int {
				return cmp.Or(strings.Compare(a.Country, b.Country), strings.Compare(a.EventType, b.EventType))
			})
			for _, k := range sc.countries {
				yield(sc.set(sample{values: [4]string{s.Account, k.Country, k.EventType}, value: s.Countries[k]}))
			}
		})
	eventsFamily = newFamily("events_total", "Audit events counted, by event type and source.", true,
		[]string{"account", "event_type", "source"},
		func(s *poller.Snapshot, sc *scratch, yield func(*sample)) {
			sc.events = sortKeys(sc.events, s.Events, func(a, b poller.EventKey) int {
				return cmp.Or(strings.Compare(a.EventType, b.EventType), strings.Compare(a.Source, b.Source))
			})
			for _, k := range sc.events {
				yield(sc.set(sample{values: [4]string{s.Account, k.EventType, k.Source}, value: s.Events[k], exemplar: s.EventExemplars[k]}))
			}
		})
	lastEventFamily = newFamily("last_event_timestamp_seconds", "Creation time of the newest audit event counted, by event type.", false,
		[]string{"account", "event_type"},
		func(s *poller.Snapshot, sc *scratch, yield func(*sample)) {
			sc.types = sortKeys(sc.types, s.LastEvent, strings.Compare)
			for _, t := range sc.types {
				yield(sc.set(sample{values: [4]string{s.Account, t}, value: unixSeconds(s.LastEvent[t])}))
			}
		})
	userEventsFamily = newFamily("user_events_total", "Audit events counted, by event type, source and user.", true,
		[]string{"account", "event_type", "source", "user"},
		func(s *poller.Snapshot, sc *scratch, yield func(*sample)) {
			sc.users = sortKeys(sc.users, s.Users, func(a, b poller.UserKey) int {
				return cmp.Or(strings.Compare(a.EventType, b.EventType), strings.Compare(a.Source, b.Source), strings.Compare(a.User, b.User))
			})
			for _, k := range sc.users {
				yield(sc.set(sample{values: [4]string{s.Account, k.EventType, k.Source, k.User}, value: s.Users[k], exemplar: s.UserExemplars[k]}))
			}
		})

	families = []*family{countryEventsFamily, eventsFamily, lastEventFamily, userEventsFamily}
)

// sortedKeys returns the keys of m in buf, sorted by compare.
func sortKeys[K comparable, V any](buf []K, m map[K]V, compare func(K, K) int) []K {
	buf = buf[:0]
	for k := range m {
		buf = append(buf, k)
	}
	slices.SortFunc(buf, compare)
	return buf
}

// exemplarLabel names the event in an exemplar: the Audit API's id, which
// `vonage_audit_exporter events get` reads. Nothing else of the event goes
// in, so that an exemplar shows no more of the users than the series' labels.
const exemplarLabel = "event_id"

// hasExemplar tells whether s carries an exemplar: a series with a newest
// event, dated, whose id an exemplar can hold (at most 128 runes with the label
// name, and UTF-8). A series without one is written without, rather than
// failing the scrape.
func (s *sample) hasExemplar() bool {
	id := s.exemplar.ID
	return id != "" && !s.exemplar.CreatedAt.IsZero() && utf8.ValidString(id) && utf8.RuneCountInString(exemplarLabel+id) <= prometheus.ExemplarMaxRunes
}

// metric builds s as a const metric of f, for a registry.
func (f *family) metric(s *sample) prometheus.Metric {
	t := prometheus.GaugeValue
	if f.counter {
		t = prometheus.CounterValue
	}
	m := prometheus.MustNewConstMetric(f.desc, t, s.value, s.values[:len(f.labels)]...)
	if !f.counter || !s.hasExemplar() {
		return m
	}
	return prometheus.MustNewMetricWithExemplars(m, prometheus.Exemplar{
		Value:     1,
		Labels:    prometheus.Labels{exemplarLabel: s.exemplar.ID},
		Timestamp: s.exemplar.CreatedAt,
	})
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}
