package collector

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// The cache follows the counters through new, changed and removed series.
func TestSeriesCacheFollowsCounters(t *testing.T) {
	desc := prometheus.NewDesc("x_total", "X.", []string{"k"}, nil)
	builds := 0
	built := map[string]prometheus.Metric{} // the last metric built per series
	build := func(k string, v float64) prometheus.Metric {
		builds++
		built[k] = prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, k)
		return built[k]
	}
	var c seriesCache[string]
	steps := []struct {
		counters   map[string]float64
		wantBuilds int
	}{
		{map[string]float64{"a": 1, "b": 2, "c": 3}, 3},
		{map[string]float64{"a": 1, "b": 2, "c": 3}, 0},
		{map[string]float64{"a": 1, "b": 5, "c": 3, "d": 1}, 2},
		{map[string]float64{"b": 5, "d": 1}, 0},
		{map[string]float64{"a": 7, "d": 1}, 1},
		{map[string]float64{}, 0},
	}
	for i, st := range steps {
		builds = 0
		update(&c, uint64(i+1), st.counters, identity, strings.Compare, build)
		if builds != st.wantBuilds {
			t.Errorf("step %d: built %d metrics, want %d", i, builds, st.wantBuilds)
		}
		got := map[string]float64{}
		for _, e := range c.entries {
			got[e.key] = e.value
			if e.metric != built[e.key] {
				t.Errorf("step %d: series %q holds a metric built for another value", i, e.key)
			}
		}
		if !reflect.DeepEqual(got, st.counters) {
			t.Errorf("step %d: cache holds %v, want %v", i, got, st.counters)
		}
		var keys []string
		for k, idx := range c.index {
			if c.entries[idx].key != k {
				t.Errorf("step %d: index of %q points at %q", i, k, c.entries[idx].key)
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) != len(st.counters) {
			t.Errorf("step %d: index holds %v", i, keys)
		}
		if !slices.IsSortedFunc(c.entries, func(a, b cachedSeries[string]) int { return strings.Compare(a.key, b.key) }) {
			t.Errorf("step %d: entries out of order", i)
		}
	}
}
