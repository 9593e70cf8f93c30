package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// TestBinaryExactUnderEachReading runs the built exporter, in both modes,
// against Audit APIs that read the docs otherwise than documented, while
// live events, late events and faults arrive, and checks that /metrics ends
// up counting exactly the events served, by type and source and by user,
// with vonage_audit_up 1 and the reading the exporter learned.
func TestBinaryExactUnderEachReading(t *testing.T) {
	for _, r := range []struct {
		name          string
		opts          simulator.Options
		wantPrecision string
	}{
		{"documented, oldest first", simulator.Options{Order: simulator.OldestFirst}, "second"},
		{"page cap 30, oldest first", simulator.Options{PageCap: 30, Order: simulator.OldestFirst}, "second"},
		{"dates only, clock 2m behind", simulator.Options{DatePrecision: simulator.DateOnlyPrecision, ClockSkew: -2 * time.Minute}, "day"},
		{"whole days, clock 2m ahead, oldest first, cap 30", simulator.Options{DatePrecision: simulator.DayPrecision, ClockSkew: 2 * time.Minute, Order: simulator.OldestFirst, PageCap: 30}, "day"},
		{"404 past the end, epoch millis, clock 1h ahead", simulator.Options{PastEndNotFound: true, CreatedAtFormat: simulator.EpochMillisCreatedAt, ClockSkew: time.Hour, PageCap: 25}, "second"},
	} {
		for _, mode := range []string{"interval", "scrape"} {
			t.Run(r.name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				o := r.opts
				o.APIKey, o.APISecret, o.Seed = apiKey, apiSecret, 3
				sim := simulator.New(o)
				srv := httptest.NewServer(sim)
				t.Cleanup(srv.Close)
				now := time.Now()
				sim.Generate(400, now.Add(-40*time.Minute), now)

				dir := t.TempDir()
				secretFile := filepath.Join(dir, "secret")
				if err := os.WriteFile(secretFile, []byte(apiSecret), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg := filepath.Join(dir, "config.yml")
				body := fmt.Sprintf(`api_url: %s
mode: %s
poll_interval: 1s
lookback: 1h
overlap: 30s
request_timeout: 5s
requests_per_second: 50
max_users: 10000
accounts:
  - name: readings
    api_key: %s
    api_secret_file: %s
`, srv.URL, mode, apiKey, secretFile)
				if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				addr := freeAddr(t)
				p := startProcess(t, "exporter", exporterBinary, "--config.file="+cfg, "--web.listen-address="+addr)
				p.waitReady(t, "http://"+addr+"/metrics", maxWait)

				ctx, stop := context.WithCancel(context.Background())
				go sim.Run(ctx, 10)
				time.Sleep(2 * time.Second)
				sim.SetFaults(simulator.Faults{Fail5xx: 2, Truncate: 1, LateBy: 2 * time.Second})
				time.Sleep(2 * time.Second)
				stop()
				sim.SetFaults(simulator.Faults{})

				var last, metrics string
				waitFor(t, "/metrics to count exactly the events served", maxWait, func() (bool, string) {
					metrics = scrape(t, addr)
					fams := parseFamilies(t, metrics)
					byType, _ := tally(sim.Visible())
					byUser := testutil.TallyByUser(sim.Visible())
					if d := diffCounts(sum(fams["vonage_audit_events_total"], "event_type", "source"), byType); d != "" {
						return false, "by type and source: " + d
					}
					if d := diffCounts(sum(fams["vonage_audit_user_events_total"], "event_type", "source", "user"), byUser); d != "" {
						return false, "by user: " + d
					}
					if up := sum(fams["vonage_audit_up"])[""]; up != 1 {
						return false, fmt.Sprintf("vonage_audit_up %v", up)
					}
					last = labelsOf(fams["vonage_audit_api_reading_info"])
					return strings.Contains(last, `date_precision="`+r.wantPrecision+`"`), "reading " + last
				})
				if strings.Contains(metrics, apiSecret) || strings.Contains(p.out.String(), apiSecret) {
					t.Error("the API secret appeared in /metrics or the log")
				}
				t.Logf("exact over %d events, %s", len(sim.Visible()), last)
			})
		}
	}
}

func parseFamilies(t *testing.T, body string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// sum adds up a family's values by the given labels, joined by "|".
func sum(mf *dto.MetricFamily, labels ...string) map[string]float64 {
	out := map[string]float64{}
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		values := map[string]string{}
		for _, lp := range m.GetLabel() {
			values[lp.GetName()] = lp.GetValue()
		}
		key := make([]string, len(labels))
		for i, l := range labels {
			key[i] = values[l]
		}
		out[strings.Join(key, "|")] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return out
}

// labelsOf prints the labels of a family's first series.
func labelsOf(mf *dto.MetricFamily) string {
	if mf == nil || len(mf.GetMetric()) == 0 {
		return "(none)"
	}
	var parts []string
	for _, lp := range mf.GetMetric()[0].GetLabel() {
		parts = append(parts, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
	}
	return strings.Join(parts, ",")
}
