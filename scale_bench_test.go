package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// The scale run: many accounts of one simulator, polled every scaleInterval
// with a state file, while events arrive for scaleBusy, then while the API
// is quiet for at most scaleQuiet.
const (
	scaleAccounts = 1000
	scaleInterval = 2 * time.Second
	scaleBusy     = 40 * time.Second
	scaleQuiet    = 60 * time.Second
	scaleScrapes  = 10
	// scaleRate is the simulator's mean events a second while busy: with
	// the hour of history, about 80 events in all, read by every account.
	scaleRate = 0.5
	// scaleScrapeTimeout bounds a scrape, so that a stuck exporter makes
	// poor figures rather than a hung run.
	scaleScrapeTimeout = 60 * time.Second
	// scaleTermWait is how long SIGTERM is given before a kill.
	scaleTermWait = 120 * time.Second
)

// scaleScrape is what the scale run reads from one scrape.
type scaleScrape struct {
	at     time.Time // when the scrape began
	size   int
	series int // lines that are samples
	took   time.Duration
	rss    float64
	polls  map[string]float64
	cursor map[string]float64
	events map[string]dto // by account, then "event_type|source"
}

// scaleFamilies are the families the scale run reads; the rest of the
// scrape, most of it, is only measured.
var scaleFamilies = []string{"vonage_audit_polls_total{", "vonage_audit_cursor_timestamp_seconds{", "vonage_audit_events_total{", "process_resident_memory_bytes "}

func scrapeScale(client *http.Client, url string) (scaleScrape, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return scaleScrape{}, fmt.Errorf("scraping: %w", err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return scaleScrape{}, fmt.Errorf("reading the scrape: %w", err)
	}
	s := scaleScrape{at: start, size: len(body), took: time.Since(start), polls: map[string]float64{}, cursor: map[string]float64{}, events: map[string]dto{}}

	var kept bytes.Buffer
	lines := bufio.NewScanner(bytes.NewReader(body))
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		line := lines.Bytes()
		if len(line) > 0 && line[0] != '#' {
			s.series++
		}
		for _, prefix := range scaleFamilies {
			if bytes.HasPrefix(line, []byte(prefix)) {
				kept.Write(line)
				kept.WriteByte('\n')
			}
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(&kept)
	if err != nil {
		return scaleScrape{}, fmt.Errorf("parsing the scrape: %w", err)
	}
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			v, account := m.GetUntyped().GetValue(), labels["account"]
			switch name {
			case "process_resident_memory_bytes":
				s.rss = v
			case "vonage_audit_polls_total":
				s.polls[account] = v
			case "vonage_audit_cursor_timestamp_seconds":
				s.cursor[account] = v
			case "vonage_audit_events_total":
				if s.events[account] == nil {
					s.events[account] = dto{}
				}
				s.events[account][labels["event_type"]+"|"+labels["source"]] = v
			}
		}
	}
	return s, nil
}

// exactAccounts counts the accounts whose counters equal want.
func exactAccounts(s scaleScrape, names []string, want dto) int {
	n := 0
	for _, name := range names {
		if equalNonZero(s.events[name], want) {
			n++
		}
	}
	return n
}

func median(v []float64) float64 {
	v = slices.Sorted(slices.Values(v))
	return v[len(v)/2]
}

// BenchmarkScale runs the built exporter over 1,000 accounts of one
// loopback simulator, sharing its credentials, polled every 2 s with a
// state file: events arrive for 40 s, then the API is quiet. It prints the
// polls per second needed and done, the polls per account, the cursor lag,
// whether every account counted exactly what the API served, RSS after the
// first and the tenth of the scrapes made once the API is quiet and every
// series is there (and RSS while events arrive), the size and time of
// /metrics, and the time from SIGTERM to exit. scripts/bench.sh scale runs it.
func BenchmarkScale(b *testing.B) {
	for range b.N {
		runScale(b)
	}
}

func runScale(b *testing.B) {
	sim := simulator.New(simulator.Options{APIKey: e2eKey, APISecret: e2eSecret, Seed: 29})
	now := time.Now()
	sim.Generate(60, now.Add(-time.Hour), now)
	srv := httptest.NewServer(sim)
	defer srv.Close()

	dir := b.TempDir()
	secret := filepath.Join(dir, "secret")
	statePath := filepath.Join(dir, "state.json")
	names := make([]string, scaleAccounts)
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "api_url: %s\npoll_interval: %s\nlookback: 2h\noverlap: 30s\nrequests_per_second: 10\nstate_file: %s\naccounts:\n", srv.URL, scaleInterval, statePath)
	for i := range names {
		names[i] = fmt.Sprintf("account-%04d", i)
		fmt.Fprintf(&cfg, "  - name: %s\n    api_key: %s\n    api_secret_file: %s\n", names[i], e2eKey, secret)
	}
	cfgPath := filepath.Join(dir, "config.yml")
	for path, content := range map[string]string{secret: e2eSecret, cfgPath: cfg.String()} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	logPath := filepath.Join(dir, "exporter.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	addr := freeAddr(b)
	cmd := exec.Command(binary, "--config.file="+cfgPath, "--web.listen-address="+addr)
	cmd.Stderr = logFile
	exited := make(chan error, 1)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	}()
	fail := func(format string, args ...any) {
		b.Helper()
		log, _ := os.ReadFile(logPath)
		b.Fatalf(format+"\nlast of the exporter's log:\n%s", append(args, tail(string(log), 20))...)
	}
	client := &http.Client{Timeout: scaleScrapeTimeout}
	url := "http://" + addr + "/metrics"
	loadBefore := loadAverage()

	ctx, stopEvents := context.WithCancel(context.Background())
	defer stopEvents()
	go sim.Run(ctx, scaleRate)
	time.AfterFunc(scaleBusy, stopEvents)

	for {
		if resp, err := client.Get("http://" + addr + "/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			fail("the exporter did not answer within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Busy: scrapes spread over the busy time, the last at its end. A
	// scrape that fails or times out is counted, and the run goes on.
	var scrapes []scaleScrape
	failed := 0
	scrape := func() (scaleScrape, bool) {
		s, err := scrapeScale(client, url)
		if err != nil {
			failed++
			b.Logf("%v", err)
			return s, false
		}
		scrapes = append(scrapes, s)
		return s, true
	}
	var busy scaleScrape
	for i := 1; i <= scaleScrapes && time.Since(start) < scaleBusy+scaleScrapeTimeout; i++ {
		time.Sleep(time.Until(start.Add(scaleBusy * time.Duration(i) / scaleScrapes)))
		if s, ok := scrape(); ok {
			busy = s
		}
	}
	if busy.polls == nil {
		fail("no scrape succeeded while events arrived")
	}
	busyElapsed, lagAt := busy.at.Sub(start), float64(busy.at.UnixNano())/1e9
	<-ctx.Done()

	// Quiet: wait for every account to count what the API served.
	want := tally(sim.Visible())
	quietStart := time.Now()
	quiet := busy
	for exactAccounts(quiet, names, want) < len(names) && time.Since(quietStart) < scaleQuiet {
		time.Sleep(2 * time.Second)
		if s, ok := scrape(); ok {
			quiet = s
		}
	}
	quietTook := time.Since(quietStart)

	// Steady: every series is there and no event arrives; scrapes a poll
	// interval apart, as Prometheus would make them.
	var steady []scaleScrape
	for range scaleScrapes + 1 {
		if s, err := scrapeScale(client, url); err != nil {
			failed++
			b.Logf("%v", err)
		} else {
			steady = append(steady, s)
			scrapes = append(scrapes, s)
		}
		time.Sleep(scaleInterval)
	}
	if len(steady) < 2 {
		fail("%d of the %d steady scrapes succeeded", len(steady), scaleScrapes+1)
	}

	term := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	termTook := "over " + scaleTermWait.String() + " (killed)"
	select {
	case err := <-exited:
		termTook = time.Since(term).Round(10 * time.Millisecond).String()
		if err != nil {
			termTook += " (" + err.Error() + ")"
		}
	case <-time.After(scaleTermWait):
		_ = cmd.Process.Kill()
		<-exited
	}
	stateSize := "none"
	if fi, err := os.Stat(statePath); err == nil {
		stateSize = fmt.Sprintf("%.1f MB, last written %s after SIGTERM", float64(fi.Size())/1e6, fi.ModTime().Sub(term).Round(10*time.Millisecond))
	}

	var polls, lags, sizes, times []float64
	for _, name := range names {
		polls = append(polls, busy.polls[name])
		if c, ok := busy.cursor[name]; ok && c > 0 {
			lags = append(lags, lagAt-c)
		}
	}
	for _, s := range scrapes {
		sizes = append(sizes, float64(s.size))
		times = append(times, s.took.Seconds())
	}
	var sum float64
	for _, p := range polls {
		sum += p
	}
	expected := float64(busyElapsed / scaleInterval)
	// A scrape reads RSS while it runs: the second scrape's is the RSS
	// after one scrape, the eleventh's after ten.
	first, last := steady[1], steady[len(steady)-1]
	var steadyMax float64
	for _, s := range steady[1:] {
		steadyMax = max(steadyMax, s.rss)
	}
	busyFirst := scrapes[min(1, len(scrapes)-1)]

	fmt.Printf("\nScale: %d accounts of one simulator, poll_interval %s, state file, %d events served (%.1f a second for %s, then quiet); load average %s before, %s after\n\n",
		scaleAccounts, scaleInterval, len(sim.Visible()), scaleRate, scaleBusy, loadBefore, loadAverage())
	fmt.Println("| figure | value | target |")
	fmt.Println("| --- | --- | --- |")
	fmt.Printf("| polls a second: needed / done in the first %s | %.0f / %.0f | done ≈ needed |\n", busyElapsed.Round(time.Second), float64(scaleAccounts)/scaleInterval.Seconds(), sum/busyElapsed.Seconds())
	fmt.Printf("| polls per account in %s (%.0f expected): median / min | %.0f / %.0f | ≥ %.0f |\n", busyElapsed.Round(time.Second), expected, median(polls), slices.Min(polls), expected*3/4)
	if len(lags) > 0 {
		fmt.Printf("| cursor lag (now − vonage_audit_cursor_timestamp_seconds) at the end of the busy time: median / max | %.1f s / %.1f s | |\n", median(lags), slices.Max(lags))
	}
	fmt.Printf("| accounts that counted exactly what the API served: at the end of the busy time / after quiet | %d / %d of %d (quiet %s) | all |\n",
		exactAccounts(busy, names, want), exactAccounts(quiet, names, want), scaleAccounts, quietTook.Round(time.Second))
	fmt.Printf("| RSS once quiet, every series there: after 1 scrape / after %d / most in between | %.0f MB / %.0f MB (%.2fx) / %.0f MB | ≤ 1.25x |\n", len(steady)-1, first.rss/1e6, last.rss/1e6, last.rss/first.rss, steadyMax/1e6)
	fmt.Printf("| RSS while events arrive: after the scrape %s after start / after the busy time | %.0f MB / %.0f MB | |\n", busyFirst.at.Sub(start).Round(time.Second), busyFirst.rss/1e6, busy.rss/1e6)
	fmt.Printf("| /metrics size: median / max of %d scrapes | %.1f MB / %.1f MB (%d series once quiet) | |\n", len(sizes), median(sizes)/1e6, slices.Max(sizes)/1e6, last.series)
	fmt.Printf("| /metrics time: median / max of %d scrapes (%d failed or over %s) | %.2f s / %.2f s | ≈ 1 s |\n", len(times), failed, scaleScrapeTimeout, median(times), slices.Max(times))
	fmt.Printf("| SIGTERM to exit | %s | ≤ 30 s |\n", termTook)
	fmt.Printf("| state file | %s | |\n\n", stateSize)
	b.ReportMetric(sum/busyElapsed.Seconds(), "polls/s")
	b.ReportMetric(float64(exactAccounts(quiet, names, want)), "exact-accounts")
}

// loadAverage is the machine's load average over the last minute, which
// says how far the figures were measured on a busy machine.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
