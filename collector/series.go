package collector

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// The label names of the count families, in the order of their label
// values.
var (
	eventsLabels        = []string{"account", "event_type", "source"}
	userEventsLabels    = []string{"account", "event_type", "source", "user"}
	countryEventsLabels = []string{"account", "event_type", "country"}
	lastEventLabels     = []string{"account", "event_type"}
)

// labelPairs hands out one label pair per label name and value, shared by
// every series of an account that has it. A const metric holds label pairs
// of its own, which at a quarter-million series weigh more than the rest of
// the exporter; but an account's series repeat the same few event types,
// sources and countries, and each user is in a few series only.
type labelPairs struct {
	pairs map[labelPair]*dto.LabelPair
}

type labelPair struct{ name, value string }

// internedPair keeps a label pair and the strings it points to in one
// allocation.
type internedPair struct {
	pair dto.LabelPair
	labelPair
}

func (l *labelPairs) get(name, value string) *dto.LabelPair {
	k := labelPair{name, value}
	if p, ok := l.pairs[k]; ok {
		return p
	}
	if l.pairs == nil {
		l.pairs = map[labelPair]*dto.LabelPair{}
	}
	p := &internedPair{labelPair: k}
	p.pair.Name, p.pair.Value = &p.name, &p.value
	l.pairs[k] = &p.pair
	return &p.pair
}

// metric is prometheus.MustNewConstMetric with shared label pairs: names
// are the label names of desc, values their values, both in desc's order.
// Label values are valid UTF-8 already: the poller counts only decoded
// strings.
func (l *labelPairs) metric(desc *prometheus.Desc, t prometheus.ValueType, v float64, names []string, values ...string) *series {
	s := &series{desc: desc, valueType: t, value: v, labels: make([]*dto.LabelPair, len(names))}
	for i, n := range names {
		s.labels[i] = l.get(n, values[i])
	}
	slices.SortFunc(s.labels, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) })
	return s
}

// series is one series of a count family. It is never changed once built:
// a new value is a new series.
type series struct {
	desc      *prometheus.Desc
	labels    []*dto.LabelPair // sorted by name
	value     float64
	valueType prometheus.ValueType
	exemplar  *dto.Exemplar // counters only; nil for none
}

// with adds to a counter the exemplar of its newest event, and returns it.
// The cache builds a series again whenever its value changes, which
// counting an event always does, so a built exemplar is never stale. An id
// that an exemplar cannot hold (over 128 runes with the label name, or not
// UTF-8) leaves the series without one rather than failing the scrape.
func (s *series) with(e poller.Exemplar) *series {
	if e.ID == "" || !utf8.ValidString(e.ID) || utf8.RuneCountInString(exemplarLabel+e.ID) > prometheus.ExemplarMaxRunes {
		return s
	}
	s.exemplar = &dto.Exemplar{
		Label:     []*dto.LabelPair{{Name: new(exemplarLabel), Value: new(e.ID)}},
		Value:     new(1.0),
		Timestamp: timestamppb.New(e.CreatedAt),
	}
	return s
}

func (s *series) Desc() *prometheus.Desc { return s.desc }

func (s *series) Write(out *dto.Metric) error {
	out.Label = s.labels
	if s.valueType == prometheus.GaugeValue {
		out.Gauge = &dto.Gauge{Value: &s.value}
	} else {
		out.Counter = &dto.Counter{Value: &s.value, Exemplar: s.exemplar}
	}
	return nil
}
