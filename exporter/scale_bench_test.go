package exporter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// rssBytes is the process's resident set size, from /proc.
func rssBytes(b *testing.B) float64 {
	b.Helper()
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skipf("no /proc/self/statm: %v", err)
	}
	pages, err := strconv.ParseFloat(strings.Fields(string(data))[1], 64)
	if err != nil {
		b.Fatal(err)
	}
	return pages * float64(os.Getpagesize())
}

// scaleConfig is n accounts of one simulator, each polled every interval,
// their state saved in dir.
func scaleConfig(url, dir string, n int, interval time.Duration) *config.Config {
	cfg := config.Default()
	cfg.APIURL = url
	cfg.Mode = config.ModeInterval
	cfg.PollInterval = interval
	cfg.Lookback = 2 * time.Hour
	cfg.Overlap = time.Minute
	cfg.RequestTimeout = 30 * time.Second
	cfg.RequestsPerSecond = 1000
	cfg.StateFile = filepath.Join(dir, "state.json")
	for i := range n {
		cfg.Accounts = append(cfg.Accounts, config.Account{Name: fmt.Sprintf("acct%04d", i), APIKey: pollertest.Key, APISecret: pollertest.Secret, APIURL: url})
	}
	return &cfg
}

// BenchmarkThousandAccounts runs an exporter of 1,000 accounts of one
// loopback simulator, polled every 2 seconds with a state file, for 40
// seconds while the simulator makes events, then checks that every account
// counted exactly what the API served, and stops it. It reports the polls
// per account (20 expected), the state file's size and write time, and how
// long Stop took. Real time: run with -benchtime=1x.
func BenchmarkThousandAccounts(b *testing.B) {
	const accounts, interval, run = 1000, 2 * time.Second, 40 * time.Second
	for b.Loop() {
		sim := simulator.New(simulator.Options{APIKey: pollertest.Key, APISecret: pollertest.Secret, Seed: 5})
		srv := httptest.NewServer(sim)
		start := time.Now()
		sim.Generate(40, start.Add(-30*time.Minute), start)
		cfg := scaleConfig(srv.URL, b.TempDir(), accounts, interval)
		e, err := FromConfig(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		e.Start(context.Background())
		simCtx, stopSim := context.WithTimeout(context.Background(), run)
		sim.Run(simCtx, 1)
		stopSim()

		polls := pollertest.GatheredByAccount(b, e.Collector(), "vonage_audit_polls_total")
		perAccount := make([]float64, 0, len(polls))
		for _, p := range polls {
			perAccount = append(perAccount, p)
		}
		slices.Sort(perAccount)
		b.ReportMetric(perAccount[len(perAccount)/2], "polls-median")
		b.ReportMetric(perAccount[0], "polls-min")

		// The API is quiet: within a poll interval and a save interval,
		// every account exports what it served.
		want := pollertest.Served(sim.Visible(), start.Add(-time.Hour))
		var wrong int
		for range 60 {
			time.Sleep(time.Second)
			wrong = 0
			got := map[string]map[string]float64{}
			for k, v := range pollertest.GatheredByAccount(b, e.Collector(), "vonage_audit_events_total") {
				name, series, _ := strings.Cut(k, "|")
				if got[name] == nil {
					got[name] = map[string]float64{}
				}
				got[name][series] = v
			}
			for _, a := range cfg.Accounts {
				if !sameNonZero(got[a.Name], want) {
					wrong++
				}
			}
			if wrong == 0 {
				break
			}
		}
		if wrong > 0 {
			b.Errorf("%d of %d accounts do not export what the API served", wrong, accounts)
		}

		begin := time.Now()
		e.Stop()
		b.ReportMetric(time.Since(begin).Seconds(), "s-stop")
		info, err := os.Stat(cfg.StateFile)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(info.Size()), "state-B")
		st, err := state.Read(cfg.StateFile)
		if err != nil {
			b.Fatal(err)
		}
		begin = time.Now()
		if err := state.Write(cfg.StateFile, st); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(begin).Seconds(), "s-write")
		srv.Close()
	}
}

// restoredState is a state file of cfg's accounts, each with users*types
// user series (and the event and country series they imply), read up to
// cursor.
func restoredState(cfg *config.Config, users, types int, cursor time.Time) *state.File {
	f := &state.File{Version: state.Version, SavedAt: cursor, Accounts: map[string]state.Account{}}
	for _, acc := range cfg.Accounts {
		p := poller.New(poller.Options{Name: acc.Name, UserLabel: cfg.UserLabel, CountryBreakdown: cfg.CountryBreakdown})
		st := p.Save()
		st.Fingerprint, st.Floor, st.Cursor = fingerprint(acc), cursor.Add(-cfg.Lookback), cursor
		for t := range types {
			eventType := fmt.Sprintf("TYPE_%03d", t)
			st.LastEvent[eventType] = cursor
			for i, source := range poller.Sources {
				st.Events = append(st.Events, state.EventSeries{EventType: eventType, Source: source, Value: float64(users)})
				st.Countries = append(st.Countries, state.CountrySeries{EventType: eventType, Country: []string{"GB", "US"}[i], Value: float64(users)})
			}
			for u := range users {
				st.Users = append(st.Users, state.UserSeries{EventType: eventType, Source: poller.Sources[u%2], User: fmt.Sprintf("user%03d@example.com", u), Value: 1})
			}
		}
		f.Accounts[acc.Name] = st
	}
	return f
}

// BenchmarkScrapeMemory restores 300 accounts of 700 user series each (270k
// series in all), polls them every 2 seconds while the API makes
// events, and scrapes /metrics ten times, 2 seconds apart, reporting the
// resident set size after the first scrape and after the tenth, and the
// first scrape's size and time.
func BenchmarkScrapeMemory(b *testing.B) {
	const accounts = 300
	for b.Loop() {
		sim := simulator.New(simulator.Options{APIKey: pollertest.Key, APISecret: pollertest.Secret, Seed: 6})
		srv := httptest.NewServer(sim)
		start := time.Now()
		sim.Generate(100, start.Add(-10*time.Minute), start)
		cfg := scaleConfig(srv.URL, b.TempDir(), accounts, 2*time.Second)
		cfg.CountryBreakdown = true
		if err := state.Write(cfg.StateFile, restoredState(cfg, 20, 35, start.Add(-30*time.Minute))); err != nil {
			b.Fatal(err)
		}
		e, err := FromConfig(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector())
		h := e.Collector().Handler(reg, nil)
		simCtx, stopSim := context.WithCancel(context.Background())
		go sim.Run(simCtx, 5)
		e.Start(context.Background())
		time.Sleep(5 * time.Second)

		rec := httptest.NewRecorder()
		begin := time.Now()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		b.ReportMetric(time.Since(begin).Seconds(), "s-scrape")
		b.ReportMetric(float64(rec.Body.Len()), "metrics-B")
		b.ReportMetric(float64(strings.Count(rec.Body.String(), "\nvonage_audit_")), "series")
		rec = nil
		b.ReportMetric(rssBytes(b), "rss-B@1")
		for range 9 {
			time.Sleep(2 * time.Second)
			pollertest.Scrape(h)
		}
		b.ReportMetric(rssBytes(b), "rss-B@10")
		// What the process holds once its garbage is collected, the
		// simulator's events included: the GC lets the heap grow to
		// twice that before it collects (GOGC=100).
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapAlloc), "live-heap-B")
		stopSim()
		e.Stop()
		srv.Close()
	}
}
