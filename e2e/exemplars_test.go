package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

const (
	openMetricsAccept = "application/openmetrics-text; version=1.0.0"
	// exemplarUser makes the injected event's user series its own.
	exemplarUser = "e2e-exemplar@example.com"
)

// exemplarSim is a simulated Audit API with half an hour of history, none
// of it in the last minute, so that an event injected now is the newest of
// its series.
func exemplarSim(t *testing.T) (*simulator.Server, string) {
	t.Helper()
	sim := simulator.New(simulator.Options{APIKey: apiKey, APISecret: apiSecret, Seed: 14})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	now := time.Now()
	sim.Generate(200, now.Add(-30*time.Minute), now.Add(-time.Minute))
	return sim, srv.URL
}

// startExemplarExporter runs the built exporter in interval mode against
// apiURL, with extra config keys, and returns its address and config file.
func startExemplarExporter(t *testing.T, apiURL, account, extra string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	body := fmt.Sprintf(`api_url: %s
poll_interval: 1s
lookback: 1h
overlap: 30s
request_timeout: 5s
requests_per_second: 50
%saccounts:
  - name: %s
    api_key: %s
    api_secret: %s
`, apiURL, extra, account, apiKey, apiSecret)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	p := startProcess(t, "exporter ("+account+")", exporterBinary, "--config.file="+cfg, "--web.listen-address="+addr)
	p.waitReady(t, "http://"+addr+"/metrics", maxWait)
	return addr, cfg
}

// scrapeAs reads an exporter's /metrics, asking for the given format, and
// returns the body and its content type.
func scrapeAs(t *testing.T, addr, accept string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scraping %s: %v", addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading /metrics of %s: %v", addr, err)
	}
	return string(body), resp.Header.Get("Content-Type")
}

// exemplarLines returns the lines of the event counters that carry an
// exemplar.
func exemplarLines(body string) []string {
	var out []string
	for l := range strings.Lines(body) {
		if strings.Contains(l, " # {") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// Exemplars are served to OpenMetrics scrapes only, on the event and user
// counters, and `exemplars: false` turns them off; the text format passes
// promtool either way. (promtool 2.42 reads only the text format.)
func TestExemplarsOnlyInOpenMetrics(t *testing.T) {
	promtool := lookTool(t, "promtool")
	sim, apiURL := exemplarSim(t)
	on, _ := startExemplarExporter(t, apiURL, "on", "")
	off, _ := startExemplarExporter(t, apiURL, "off", "exemplars: false\n")
	counted := fmt.Sprintf("vonage_audit_events_ingested_total{account=%q} %d\n", "off", len(sim.Visible()))
	waitFor(t, "the exporter without exemplars to count every event", maxWait, func() (bool, string) {
		body, _ := scrapeAs(t, off, "")
		return strings.Contains(body, counted), "not yet: " + strings.TrimSpace(counted)
	})
	waitFor(t, "exemplars on every event series with events", maxWait, func() (bool, string) {
		body, _ := scrapeAs(t, on, openMetricsAccept)
		lines := exemplarLines(body)
		return len(lines) > 0 && strings.Contains(body, fmt.Sprintf("vonage_audit_events_ingested_total{account=%q} %d.0\n", "on", len(sim.Visible()))),
			fmt.Sprintf("%d lines with exemplars", len(lines))
	})

	body, contentType := scrapeAs(t, on, openMetricsAccept)
	if !strings.HasPrefix(contentType, "application/openmetrics-text") {
		t.Errorf("asked for OpenMetrics, got %q", contentType)
	}
	for _, l := range exemplarLines(body) {
		if !strings.HasPrefix(l, "vonage_audit_events_total{") && !strings.HasPrefix(l, "vonage_audit_user_events_total{") {
			t.Errorf("an exemplar on another metric: %s", l)
		}
		if !strings.Contains(l, ` # {event_id="`) || !strings.Contains(l, `"} 1.0 `) {
			t.Errorf("an exemplar other than {event_id} 1 <created_at>: %s", l)
		}
	}
	for l := range strings.Lines(body) {
		if (strings.HasPrefix(l, "vonage_audit_events_total{") || strings.HasPrefix(l, "vonage_audit_user_events_total{")) &&
			!strings.HasSuffix(strings.TrimSpace(l), " 0.0") && !strings.Contains(l, " # {") {
			t.Errorf("a counted series without an exemplar: %s", strings.TrimSpace(l))
		}
	}
	if got, _ := scrapeAs(t, off, openMetricsAccept); len(exemplarLines(got)) > 0 {
		t.Errorf("exemplars: false still serves exemplars: %s", exemplarLines(got)[0])
	}
	for _, addr := range []string{on, off} {
		text, contentType := scrapeAs(t, addr, "")
		if !strings.HasPrefix(contentType, "text/plain") {
			t.Errorf("a scrape without Accept got %q, want the text format", contentType)
		}
		if strings.Contains(text, "# {") || strings.Contains(text, "# EOF") {
			t.Errorf("the text format of %s carries OpenMetrics", addr)
		}
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("promtool check metrics on %s: %v\n%s", addr, err, out)
		}
	}
}

// exemplarAnswer is Prometheus's answer to /api/v1/query_exemplars.
type exemplarAnswer struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   []struct {
		SeriesLabels map[string]string `json:"seriesLabels"`
		Exemplars    []struct {
			Labels    map[string]string `json:"labels"`
			Value     string            `json:"value"`
			Timestamp float64           `json:"timestamp"`
		} `json:"exemplars"`
	} `json:"data"`
}

// newestExemplar asks Prometheus for the exemplars of query's series over
// the last ten minutes and returns the newest one's event_id, value and
// timestamp, by series name.
func newestExemplar(p promAPI, query string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	now := time.Now()
	params := url.Values{"query": {query}, "start": {unix(now.Add(-10 * time.Minute))}, "end": {unix(now.Add(time.Minute))}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/query_exemplars?"+params.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the exemplar query: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying exemplars: %w", err)
	}
	defer resp.Body.Close()
	var a exemplarAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return nil, fmt.Errorf("decoding the exemplars (status %d): %w", resp.StatusCode, err)
	}
	if a.Status != "success" {
		return nil, fmt.Errorf("prometheus answered %s: %s", a.Status, a.Error)
	}
	out := map[string]string{}
	for _, s := range a.Data {
		var newest float64
		for _, e := range s.Exemplars {
			if e.Timestamp >= newest {
				newest = e.Timestamp
				out[s.SeriesLabels["__name__"]] = fmt.Sprintf("%s %s %.0f", e.Labels["event_id"], e.Value, e.Timestamp)
			}
		}
	}
	return out, nil
}

// An injected event's id comes back from Prometheus, with exemplar storage
// on and the example stack's scrape configuration, as the exemplar of its
// series, stamped with its created_at; `events get` with that id reads the
// event.
func TestExemplarsReachPrometheus(t *testing.T) {
	prometheusBin := lookTool(t, "prometheus")
	began := time.Now()
	sim, apiURL := exemplarSim(t)
	const account = "e2e-exemplars"
	addr, cfgFile := startExemplarExporter(t, apiURL, account, "")

	dir := t.TempDir()
	// Alertmanager is not under test: its address is left unanswered.
	promCfg, job := prometheusConfig(t, dir, []string{addr}, freeAddr(t), scaledRules(t, dir))
	promAddr := freeAddr(t)
	prom := startProcess(t, "prometheus", prometheusBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr,
		"--enable-feature=exemplar-storage")
	r := &run{t: t, prom: promAPI{base: "http://" + promAddr}, job: job, started: time.Now()}
	prom.waitReady(t, r.prom.base+"/-/ready", maxWait)
	r.waitValue(`up{job="`+job+`"}`, 1, "the exporter scraped and up")

	injected := simulator.Event{
		ID: "0e2e0e2e-1414-4141-8141-000000000014", EventType: sensitiveType, CreatedAt: time.Now().UTC().Truncate(time.Second),
		UserEmail: exemplarUser, UserID: 1414, Source: "CD", SourceIP: "203.0.113.14", SourceCountry: "NL",
	}
	sim.Add(injected)
	want := fmt.Sprintf("%s 1 %d", injected.ID, injected.CreatedAt.Unix())
	series := fmt.Sprintf(`{account=%q,event_type=%q,source="CD"}`, account, sensitiveType)
	userSeries := strings.TrimSuffix(series, "}") + fmt.Sprintf(",user=%q}", exemplarUser)
	waitFor(t, "Prometheus to hold the injected event as the newest exemplar of its series", maxWait, func() (bool, string) {
		got, err := newestExemplar(r.prom, `vonage_audit_events_total`+series+` or vonage_audit_user_events_total`+userSeries)
		if err != nil {
			return false, err.Error()
		}
		return got["vonage_audit_events_total"] == want && got["vonage_audit_user_events_total"] == want,
			fmt.Sprintf("newest exemplars %v, want %q on both", got, want)
	})
	t.Logf("Prometheus held the injected event's id as its series' exemplar %s after the event was injected", time.Since(injected.CreatedAt).Round(100*time.Millisecond))

	cmd := exec.Command(exporterBinary, "events", "get", injected.ID, "--config.file="+cfgFile)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("events get %s: %v\n%s", injected.ID, err, out)
	}
	var got struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
		CreatedAt string `json:"created_at"`
		UserEmail string `json:"user_email"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decoding the output of events get: %v\n%s", err, out)
	}
	wantEvent := injected.CreatedAt.Format("2006-01-02T15:04:05")
	if got.ID != injected.ID || got.EventType != sensitiveType || got.CreatedAt != wantEvent || got.UserEmail != exemplarUser {
		t.Errorf("events get %s returned %+v, want the injected event created at %s", injected.ID, got, wantEvent)
	}
	if strings.Contains(string(out), apiSecret) {
		t.Error("events get printed the API secret")
	}
	t.Logf("exemplar end-to-end run took %s", time.Since(began).Round(time.Second))
}
