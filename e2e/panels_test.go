package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/alerts"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/dashboards"
)

// checkPanelsHaveSeries waits until every panel and variable of every
// dashboard would show something: one of its queries returns a series, zero
// or not. Run before any fault, it shows that a healthy system has no "No
// data" panel. Annotations are left out: none is the healthy answer.
func (r *run) checkPanelsHaveSeries() {
	r.t.Helper()
	queries, err := dashboards.Queries()
	if err != nil {
		r.t.Fatal(err)
	}
	type panel struct {
		dashboard, title string
		kind             dashboards.Kind
	}
	var total int
	var panels map[panel]bool
	var noSeries []string
	waitFor(r.t, "every panel and variable to have a series", maxWait, func() (bool, string) {
		end := time.Now()
		panels = map[panel]bool{}
		total, noSeries = 0, nil
		for _, q := range queries {
			if q.Kind == dashboards.KindAnnotation {
				continue
			}
			total++
			res, err := r.query(q, end, nil)
			if err != nil {
				r.t.Fatal(err)
			}
			p := panel{q.Dashboard, q.Panel, q.Kind}
			panels[p] = panels[p] || len(res) > 0
			if len(res) == 0 {
				noSeries = append(noSeries, q.Dashboard+" / "+q.Panel)
			}
		}
		var empty []string
		for p, ok := range panels {
			if !ok {
				empty = append(empty, fmt.Sprintf("%s / %s %s", p.dashboard, p.kind, p.title))
			}
		}
		slices.Sort(empty)
		return len(empty) == 0, fmt.Sprintf("no data in:\n%s", strings.Join(empty, "\n"))
	})
	r.t.Logf("healthy system: all %d panels and variables have data; %d of their %d queries return series (not: %v, whose panel has another)",
		len(panels), total-len(noSeries), total, noSeries)
}

// eventMetrics are what the Overview counts events from.
var eventMetrics = []string{
	"vonage_audit_events_total", "vonage_audit_user_events_total", "vonage_audit_country_events_total",
	"vonage_audit_last_event_timestamp_seconds", alerts.SensitiveRecord,
}

// maxReplicaRatio bounds how far the Overview over two replicas may be from
// one replica alone. Their counters are equal, but they are scraped at
// different times, so that rate() and increase() extrapolate differently; a
// sum over the replicas would make the ratio 2.
const maxReplicaRatio = 1.25

// checkReplicasCountedOnce checks that the Overview counts the events of two
// replicas of one exporter once: each query about events, for the replicas'
// account and every instance, returns about what it returns for either
// replica alone (the sum of its values, over series and steps).
func (r *run) checkReplicasCountedOnce(replicas ...string) {
	r.t.Helper()
	queries, err := dashboards.Queries()
	if err != nil {
		r.t.Fatal(err)
	}
	end := time.Now()
	checked, worst, failed := 0, 1.0, false
	for _, q := range queries {
		if q.File != "vonage-audit-overview.json" || q.Kind != dashboards.KindTarget ||
			!slices.ContainsFunc(eventMetrics, func(m string) bool { return strings.Contains(q.Expr, m) }) {
			continue
		}
		all := r.sum(q, end, map[string]string{"account": "e2e-interval"})
		for _, inst := range replicas {
			// The instance's dots match themselves among the others.
			one := r.sum(q, end, map[string]string{"account": "e2e-interval", "instance": inst})
			ratio := max(all/one, one/all)
			if one == 0 || ratio > maxReplicaRatio {
				r.t.Errorf("%s: %v over both replicas, %v on %s alone", q.Panel, all, one, inst)
				failed = true
			}
			worst = max(worst, ratio)
		}
		checked++
	}
	if checked == 0 {
		r.t.Fatal("no Overview query about events")
	}
	if !failed {
		r.t.Logf("the Overview's %d event queries count two replicas once (worst ratio to one replica %.3f)", checked, worst)
	}
}

func (r *run) sum(q dashboards.Query, end time.Time, vars map[string]string) float64 {
	r.t.Helper()
	res, err := r.query(q, end, vars)
	if err != nil {
		r.t.Fatal(err)
	}
	var total float64
	for _, s := range res {
		for _, v := range s.Values {
			total += v
		}
	}
	return total
}

// checkEventsCommand runs the command line of an alert's events annotation,
// as an operator would with the exporter's configuration, and checks that
// it lists the intruder's event.
func checkEventsCommand(t *testing.T, a notifiedAlert, configFile string) {
	t.Helper()
	line := a.Annotations["events"]
	args := strings.Fields(line)
	if len(args) < 3 || args[0] != "vonage_audit_exporter" || args[1] != "events" {
		t.Errorf("events annotation %q is not a vonage_audit_exporter events command", line)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, exporterBinary, append(args[1:], "--config.file="+configFile)...).CombinedOutput()
	if err != nil {
		t.Errorf("running the events annotation %q: %v\n%s", line, err, out)
		return
	}
	if !strings.Contains(string(out), intruder) {
		t.Errorf("the events annotation %q does not list the intruder's event:\n%s", line, out)
	}
	if strings.Contains(string(out), apiSecret) {
		t.Errorf("the API secret appeared in the output of %q", line)
	}
}
