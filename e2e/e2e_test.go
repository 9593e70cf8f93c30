// Package e2e tests vonage_audit_exporter end to end on real components, all
// on loopback: the Audit API simulator, the exporter binary (built the way
// the Dockerfile builds it), Debian's prometheus and prometheus-alertmanager
// run with the example stack's configuration (examples/), the repository's
// alert rules and a webhook receiver. It checks what the example stack ships:
// the /metrics exposition, every dashboard query, the alerts, and that
// Prometheus counts exactly the events the API served.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/alerts"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/dashboards"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

const (
	apiKey    = "e2ekey01"
	apiSecret = "e2e-secret-must-not-leak"

	versionPkg   = "github.com/prometheus/common/version"
	buildVersion = "0.0.0-e2e"

	// The security event the test injects, by a user of its own, from a
	// source the simulator never makes up ("E2E", counted as "other"), so
	// that its series and its alert are its own.
	intruder       = "e2e-intruder@example.com"
	intruderSource = "E2E"
	sensitiveType  = "ACCOUNT_SECRET_CREATE"
	sensitiveRule  = "VonageAuditAPICredentialsChanged"
	healthRule     = "VonageAuditPollsFailing"
	downRule       = "VonageAuditExporterDown"

	// Each wait is bounded by this; together they keep the test within
	// a few minutes even when every wait runs out.
	maxWait = 60 * time.Second
)

var exporterBinary string

// TestMain builds the exporter as the Dockerfile does: static, with the
// version set by ldflags.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vonage-audit-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	exporterBinary = filepath.Join(dir, "vonage_audit_exporter")
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X "+versionPkg+".Version="+buildVersion+" -X "+versionPkg+".Revision=e2e",
		"-o", exporterBinary, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the exporter: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// faultSteps are applied one after the other, a few seconds each, while
// live events arrive, so that the retry, rate-limit, error, overrun and
// latency panels have something to show. Latency above the scrape budget
// (1s scrape timeout minus the exporter's 0.5s offset) makes the scrape-mode
// exporter overrun.
var faultSteps = []simulator.Faults{
	{Fail5xx: 8},
	{RateLimit: 2, RetryAfter: "1"},
	{Quota: 2},
	{Truncate: 2},
	{Latency: 1500 * time.Millisecond},
	{LateBy: 3 * time.Second},
	{ErrorRate: 0.5},
}

// run is the Prometheus of the test and what its queries need.
type run struct {
	t       *testing.T
	prom    promAPI
	job     string
	started time.Time // when Prometheus started
}

// exporterRun is one exporter of the test. Two of them are replicas: the
// same configuration, the same account, polling the same Audit API.
type exporterRun struct {
	name, mode string
}

var exporterRuns = []exporterRun{
	{"exporter (interval mode)", "interval"},
	{"exporter (scrape mode)", "scrape"},
	{"exporter (interval mode, second replica)", "interval"},
}

// The two replicas' indices in exporterRuns, and the scrape-mode exporter's.
const (
	replica, otherReplica, scrapeExporter = 0, 2, 1
)

func TestEndToEnd(t *testing.T) {
	prometheusBin := lookTool(t, "prometheus")
	alertmanagerBin := lookTool(t, "prometheus-alertmanager", "alertmanager")
	promtool := lookTool(t, "promtool")
	began := time.Now()
	dir := t.TempDir()

	// The simulated Audit API: 50 minutes of history, inside the
	// exporters' 1h lookback, with one earlier secret creation by the
	// intruder, so that the series of the injected event already exists.
	sim := simulator.New(simulator.Options{APIKey: apiKey, APISecret: apiSecret, Seed: 42})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	now := time.Now()
	sim.Generate(600, now.Add(-50*time.Minute), now)
	sim.Add(intruderEvent(now.Add(-20 * time.Minute)))

	liveCtx, stopLive := context.WithCancel(context.Background())
	var live sync.WaitGroup
	t.Cleanup(func() { stopLive(); live.Wait() })
	live.Go(func() { sim.Run(liveCtx, 4) })

	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(apiSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	configs := map[string]string{} // by account
	for _, mode := range []string{"interval", "scrape"} {
		cfg := filepath.Join(dir, mode+".yml")
		body := fmt.Sprintf(`api_url: %s
mode: %s
poll_interval: 1s
lookback: 1h
overlap: 30s
request_timeout: 5s
requests_per_second: 50
max_retries: 2
accounts:
  - name: e2e-%s
    api_key: %s
    api_secret_file: %s
`, simSrv.URL, mode, mode, apiKey, secretFile)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		configs["e2e-"+mode] = cfg
	}
	var exporters []*process
	var exporterAddrs []string
	for _, e := range exporterRuns {
		addr := freeAddr(t)
		p := startProcess(t, e.name, exporterBinary, "--config.file="+configs["e2e-"+e.mode], "--web.listen-address="+addr)
		exporters = append(exporters, p)
		exporterAddrs = append(exporterAddrs, addr)
	}
	for i, p := range exporters {
		p.waitReady(t, "http://"+exporterAddrs[i]+"/metrics", maxWait)
	}

	hook := &webhook{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)
	amAddr := freeAddr(t)
	am := startProcess(t, "alertmanager", alertmanagerBin,
		"--config.file="+alertmanagerConfig(t, dir, hookSrv.URL+"/alerts"),
		"--storage.path="+filepath.Join(dir, "alertmanager"),
		"--web.listen-address="+amAddr,
		"--cluster.listen-address=")
	am.waitReady(t, "http://"+amAddr+"/-/ready", maxWait)

	promAddr := freeAddr(t)
	promCfg, job := prometheusConfig(t, dir, exporterAddrs, amAddr, scaledRules(t, dir))
	if out, err := exec.Command(promtool, "check", "config", promCfg).CombinedOutput(); err != nil {
		t.Fatalf("promtool check config on the rewritten example config: %v\n%s", err, out)
	}
	r := &run{t: t, prom: promAPI{base: "http://" + promAddr}, job: job, started: time.Now()}
	prom := startProcess(t, "prometheus", prometheusBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus"),
		"--web.listen-address="+promAddr)
	prom.waitReady(t, r.prom.base+"/-/ready", maxWait)

	n := float64(len(exporterRuns))
	r.waitValue(`count(up{job="`+job+`"} == 1)`, n, "every exporter scraped and up")
	r.checkRulesLoaded()
	r.waitValue(`count(count_over_time(vonage_audit_user_events_total{user="`+intruder+`"}[1m]) >= 2)`, n,
		"two scrapes of the intruder's series from every exporter")

	// A healthy system, before any fault: no panel shows "No data".
	r.checkPanelsHaveSeries()

	// A sensitive event raises its alert, for each exporter's account, from
	// vonage_audit_events_total alone; the alert's events annotation is a
	// command line that lists the event, with its user.
	intruderAlert := map[string]string{"alertname": sensitiveRule, "source": "other"}
	if got := hook.firing(began, intruderAlert); len(got) > 0 {
		t.Fatalf("an alert on the intruder's series fired before the event was injected: %v", got[0].Labels)
	}
	injected := time.Now()
	sim.Add(intruderEvent(injected))
	for account, cfg := range configs {
		a := r.waitAlert(hook, injected, map[string]string{
			"alertname": sensitiveRule, "account": account, "source": "other", "event_type": sensitiveType,
			"category": "credentials", "severity": "critical",
		})
		t.Logf("%s fired for account %s %s after the event was injected", sensitiveRule, account, a.Received.Sub(injected).Round(100*time.Millisecond))
		checkEventsCommand(t, a, cfg)
	}

	// Every dashboard query returns data, while faults and live events go on.
	live.Go(func() { injectFaults(liveCtx, sim) })
	r.checkDashboards()

	// Prometheus's counters equal the events served, once the live events
	// and faults have stopped and the late events have become visible.
	stopLive()
	live.Wait()
	sim.SetFaults(simulator.Faults{})
	r.checkCounters(sim, exporterAddrs)
	r.checkReplicasCountedOnce(exporterAddrs[replica], exporterAddrs[otherReplica])

	for i, addr := range exporterAddrs {
		checkMetrics(t, promtool, addr, exporters[i].name)
	}

	// Stopping the Audit API fails every poll: the exporter-health alert
	// fires (its "for:" scaled down, see forScale).
	simSrv.Close()
	stopped := time.Now()
	for _, account := range []string{"e2e-interval", "e2e-scrape"} {
		a := r.waitAlert(hook, stopped, map[string]string{"alertname": healthRule, "account": account})
		t.Logf("%s fired for account %s %s after the simulator stopped", healthRule, account, a.Received.Sub(stopped).Round(100*time.Millisecond))
	}

	// Stopping an exporter makes its target down.
	exporters[scrapeExporter].stop(t)
	stopped = time.Now()
	a := r.waitAlert(hook, stopped, map[string]string{"alertname": downRule, "instance": exporterAddrs[scrapeExporter]})
	t.Logf("%s fired %s after the scrape-mode exporter stopped", downRule, a.Received.Sub(stopped).Round(100*time.Millisecond))

	for _, p := range exporters {
		if strings.Contains(p.out.String(), apiSecret) {
			t.Errorf("the API secret appeared in the log of the %s", p.name)
		}
	}
	t.Logf("alerts received: %v", hook.names())
	t.Logf("end-to-end run took %s", time.Since(began).Round(time.Second))
}

func intruderEvent(at time.Time) simulator.Event {
	return simulator.Event{
		EventType:         sensitiveType,
		CreatedAt:         at,
		UserEmail:         intruder,
		UserID:            4242424,
		Source:            intruderSource,
		SourceIP:          "203.0.113.66",
		SourceDescription: "Customer dashboard",
		SourceCountry:     "NL",
	}
}

// injectFaults cycles through faultSteps until ctx is done. Each step also
// adds an event without a type, which the exporter must skip as invalid.
func injectFaults(ctx context.Context, sim *simulator.Server) {
	t := time.NewTicker(3 * time.Second)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			sim.SetFaults(simulator.Faults{})
			return
		case <-t.C:
		}
		sim.SetFaults(faultSteps[i%len(faultSteps)])
		sim.Add(simulator.Event{CreatedAt: time.Now(), Source: "DEVAPI", SourceCountry: "GB"})
	}
}

// waitValue waits until query returns the single value want.
func (r *run) waitValue(query string, want float64, what string) {
	r.t.Helper()
	waitFor(r.t, what, maxWait, func() (bool, string) {
		res, err := r.prom.instant(context.Background(), query, time.Now())
		if err != nil {
			return false, err.Error()
		}
		if len(res) != 1 {
			return false, fmt.Sprintf("%s returned %d series", query, len(res))
		}
		return res[0].Values[0] == want, fmt.Sprintf("%s = %v", query, res[0].Values[0])
	})
}

// checkRulesLoaded checks that Prometheus loaded every alerting rule of
// the repository, healthy.
func (r *run) checkRulesLoaded() {
	r.t.Helper()
	want, err := alerts.Rules()
	if err != nil {
		r.t.Fatal(err)
	}
	var answer struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name   string `json:"name"`
					Health string `json:"health"`
					Type   string `json:"type"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	resp, err := http.Get(r.prom.base + "/api/v1/rules")
	if err != nil {
		r.t.Fatalf("listing prometheus's rules: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		r.t.Fatalf("decoding prometheus's rules: %v", err)
	}
	var got []string
	for _, g := range answer.Data.Groups {
		for _, rule := range g.Rules {
			if rule.Type == "alerting" && rule.Health != "err" {
				got = append(got, rule.Name)
			}
		}
	}
	var names []string
	for _, w := range want {
		if w.Alert != "" {
			names = append(names, w.Alert)
		}
	}
	slices.Sort(got)
	slices.Sort(names)
	if !slices.Equal(got, names) {
		r.t.Fatalf("prometheus loaded the alerting rules %v, want %v", got, names)
	}
}

// waitAlert waits for Alertmanager to send a firing alert with the labels
// of match, received at or after since.
func (r *run) waitAlert(hook *webhook, since time.Time, match map[string]string) notifiedAlert {
	r.t.Helper()
	var got notifiedAlert
	waitFor(r.t, fmt.Sprintf("alert %v", match), maxWait, func() (bool, string) {
		as := hook.firing(since, match)
		if len(as) == 0 {
			return false, fmt.Sprintf("received so far: %v", hook.names())
		}
		got = as[0]
		return true, ""
	})
	return got
}

// query runs a dashboard query as Grafana would at end, with vars and the
// dashboards' defaults in place of its variables. Panels that Grafana runs as
// instant queries are instant queries over the run so far ($__range); the
// others are range queries over the run with a 5s step, their intervals left
// at the dashboards' 2m minimum interval and 4m rate window (Substitute's
// defaults).
func (r *run) query(q dashboards.Query, end time.Time, vars map[string]string) ([]series, error) {
	all := map[string]string{"__range": fmt.Sprintf("%ds", int(math.Ceil(end.Sub(r.started).Seconds())))}
	maps.Copy(all, vars)
	expr := dashboards.Substitute(q.Expr, all)
	var res []series
	var err error
	if q.Instant {
		res, err = r.prom.instant(context.Background(), expr, end)
	} else {
		res, err = r.prom.rangeQuery(context.Background(), expr, r.started, end, 5*time.Second)
	}
	if err != nil {
		return nil, fmt.Errorf("%s / %s %s %q: %w", q.Dashboard, q.Kind, q.Panel, expr, err)
	}
	return res, nil
}

// checkDashboards runs every panel, variable and annotation query of every
// dashboard until each returns data other than zero.
func (r *run) checkDashboards() {
	r.t.Helper()
	queries, err := dashboards.Queries()
	if err != nil {
		r.t.Fatal(err)
	}
	if len(queries) == 0 {
		r.t.Fatal("no dashboard queries")
	}
	var rangeQueries, instantQueries int
	waitFor(r.t, "every dashboard query to return data", maxWait, func() (bool, string) {
		end := time.Now()
		var empty []string
		rangeQueries, instantQueries = 0, 0
		for _, q := range queries {
			if q.Instant {
				instantQueries++
			} else {
				rangeQueries++
			}
			res, err := r.query(q, end, nil)
			if err != nil {
				r.t.Fatal(err)
			}
			if !hasData(res) {
				empty = append(empty, fmt.Sprintf("%s / %s %q: %s", q.Dashboard, q.Kind, q.Panel, q.Expr))
			}
		}
		return len(empty) == 0, fmt.Sprintf("%d queries without data:\n%s", len(empty), strings.Join(empty, "\n"))
	})
	r.t.Logf("all %d dashboard queries returned data (%d range, %d instant)", len(queries), rangeQueries, instantQueries)
}

// checkCounters waits until Prometheus's view of vonage_audit_events_total,
// for each exporter, equals the events the simulator served, and checks
// that the user and country breakdowns add up to the same total.
func (r *run) checkCounters(sim *simulator.Server, instances []string) {
	r.t.Helper()
	var want map[string]float64
	var total float64
	waitFor(r.t, "Prometheus's counters to equal the events served", maxWait, func() (bool, string) {
		want, total = tally(sim.Visible())
		res, err := r.prom.instant(context.Background(), `sum by (instance, event_type, source) (vonage_audit_events_total{job="`+r.job+`"})`, time.Now())
		if err != nil {
			return false, err.Error()
		}
		got := map[string]map[string]float64{}
		for _, s := range res {
			inst := string(s.Metric["instance"])
			if got[inst] == nil {
				got[inst] = map[string]float64{}
			}
			got[inst][string(s.Metric["event_type"])+"|"+string(s.Metric["source"])] = s.Values[0]
		}
		for _, inst := range instances {
			if diff := diffCounts(got[inst], want); diff != "" {
				return false, fmt.Sprintf("instance %s: %s", inst, diff)
			}
		}
		return true, ""
	})
	for _, metric := range []string{"vonage_audit_user_events_total", "vonage_audit_country_events_total", "vonage_audit_events_ingested_total"} {
		res, err := r.prom.instant(context.Background(), `sum by (instance, account) (`+metric+`{job="`+r.job+`"})`, time.Now())
		if err != nil {
			r.t.Fatal(err)
		}
		if len(res) != len(instances) {
			r.t.Errorf("sum by (instance, account) (%s) returned %d series, want %d", metric, len(res), len(instances))
		}
		for _, s := range res {
			if s.Values[0] != total {
				r.t.Errorf("%s of account %s on %s adds up to %v, want the %v events served", metric, s.Metric["account"], s.Metric["instance"], s.Values[0], total)
			}
		}
	}
	r.t.Logf("Prometheus's counters equal the %v events the simulator served, in %d event_type/source series, on all %d exporters", total, len(want), len(instances))
}

// tally counts the events the exporter must count by "event_type|source":
// all but those without a type, which it skips as invalid. The intruder's
// undocumented source is counted as "other".
func tally(events []simulator.Event) (map[string]float64, float64) {
	m := map[string]float64{}
	var total float64
	for _, e := range events {
		if e.EventType == "" {
			continue
		}
		source := e.Source
		if source == intruderSource {
			source = "other"
		}
		m[e.EventType+"|"+source]++
		total++
	}
	return m, total
}

// diffCounts describes how got differs from want; series at 0 in got are
// the exporter's zero-initialised types and may be missing from want.
func diffCounts(got, want map[string]float64) string {
	var diffs []string
	for k, v := range want {
		if got[k] != v {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok && v != 0 {
			diffs = append(diffs, fmt.Sprintf("%s: got %v, want 0", k, v))
		}
	}
	sort.Strings(diffs)
	return strings.Join(diffs, "; ")
}

// checkMetrics runs promtool check metrics on an exporter's live /metrics,
// which must print nothing, and checks the build version set by ldflags.
func checkMetrics(t *testing.T, promtool, addr, name string) {
	t.Helper()
	body := scrape(t, addr)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics on the %s: %v\n%s", name, err, out)
	}
	if !strings.Contains(body, `version="`+buildVersion+`"`) {
		t.Errorf("the %s's build_info does not carry the version set by ldflags", name)
	}
	if strings.Contains(body, apiSecret) {
		t.Errorf("the API secret appeared in the %s's /metrics", name)
	}
}

// scrape reads an exporter's /metrics in the text format.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	body, _ := scrapeAs(t, addr, "")
	return body
}
