package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// waitForScrape scrapes until cond holds, for at most 20 seconds.
func waitForScrape(t *testing.T, p *exporterProcess, what string, cond func(body string, fams map[string]*dto) bool) string {
	t.Helper()
	var body string
	for range 100 {
		var fams map[string]*dto
		body, fams = p.scrape(t)
		if fams != nil && cond(body, fams) {
			return body
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("gave up waiting for %s; last scrape:\n%s", what, body)
	return ""
}

func value(fams map[string]*dto, name, labels string) float64 {
	if m := fams[name]; m != nil {
		return (*m)[labels]
	}
	return 0
}

func stateConfig(t *testing.T, apiURL, stateFile string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`
api_url: %s
poll_interval: 100ms
lookback: 0s
overlap: 30s
request_timeout: 5s
requests_per_second: 1000
state_file: %s
accounts:
  - name: e2e
    api_key: %s
    api_secret_file: SECRET_FILE
`, apiURL, stateFile, e2eKey))
}

// terminate sends SIGTERM and fails the test unless the process exits 0
// within 15 seconds.
func (p *exporterProcess) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("no exit within 15s of SIGTERM\n%s", p.stderr.String())
	}
}

// startKillRun starts the binary with a state file on a simulator whose
// events arrive 40 a second, once the first save is made, for the tests
// that kill it; stopEvents stops the events and waits for the last.
func startKillRun(t *testing.T, seed int64) (sim *simulator.Server, cfg string, p *exporterProcess, stopEvents func()) {
	t.Helper()
	sim = simulator.New(simulator.Options{APIKey: e2eKey, APISecret: e2eSecret, Seed: seed})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	cfg = stateConfig(t, srv.URL, filepath.Join(t.TempDir(), "state.json"))

	p = startExporter(t, nil, "--config.file="+cfg)
	waitForScrape(t, p, "a first save", func(_ string, fams map[string]*dto) bool {
		return value(fams, "vonage_audit_state_last_save_success_timestamp_seconds", "") > 0
	})
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		sim.Run(ctx, 40)
	}()
	stopEvents = func() {
		cancel()
		<-simDone
	}
	t.Cleanup(stopEvents)
	return sim, cfg, p, stopEvents
}

// SIGKILL at random instants during polls, restarts from the state file:
// the counters end equal to the events served, none lost, none twice.
// Without the state file, the last process would count only the events
// created after its own start.
func TestBinarySIGKILLKeepsCountsExact(t *testing.T) {
	t.Parallel()
	sim, cfg, p, stopEvents := startKillRun(t, 11)
	for range 5 {
		time.Sleep(time.Duration(150+rand.IntN(400)) * time.Millisecond)
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		p = startExporter(t, nil, "--config.file="+cfg)
	}
	time.Sleep(300 * time.Millisecond)
	stopEvents()

	want := tally(sim.Visible())
	body := waitForScrape(t, p, fmt.Sprintf("counters equal to the %d events served", len(sim.Visible())), func(_ string, fams map[string]*dto) bool {
		return fams["vonage_audit_events_total"] != nil && equalNonZero(*fams["vonage_audit_events_total"], want)
	})
	_, fams := p.scrape(t)
	if got := value(fams, "vonage_audit_events_ingested_total", ""); got != float64(len(sim.Visible())) {
		t.Errorf("events ingested = %v, want %d\n%s", got, len(sim.Visible()), body)
	}
	if value(fams, "vonage_audit_state_restored", "") != 1 {
		t.Errorf("the last process did not restore the state\n%s", body)
	}
}

// SIGTERM during a poll that never ends: the poll is abandoned, the state
// is saved with the cursor of the last successful poll, and the exit is 0.
func TestBinarySIGTERMSavesStateAndExitsZero(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Options{APIKey: e2eKey, APISecret: e2eSecret, Seed: 12})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	statePath := filepath.Join(t.TempDir(), "state.json")
	cfg := stateConfig(t, srv.URL, statePath)

	p := startExporter(t, nil, "--config.file="+cfg)
	waitForScrape(t, p, "a successful poll", func(_ string, fams map[string]*dto) bool {
		return value(fams, "vonage_audit_up", "") == 1
	})
	now := time.Now()
	sim.Generate(50, now, now)
	waitForScrape(t, p, "the events counted", func(_ string, fams map[string]*dto) bool {
		return value(fams, "vonage_audit_events_ingested_total", "") == 50
	})
	// Polls start every 100ms: within half a second one hangs.
	sim.SetFaults(simulator.Faults{Latency: time.Hour})
	time.Sleep(500 * time.Millisecond)
	body, fams := p.scrape(t)
	cursor := value(fams, "vonage_audit_cursor_timestamp_seconds", "")

	p.terminate(t)
	if log := p.stderr.String(); !strings.Contains(log, "Poll abandoned") || !strings.Contains(log, "Stopped polling and saved the state") {
		t.Errorf("the log does not show the poll abandoned and the state saved:\n%s", log)
	}
	data, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Version  int
		Accounts map[string]struct {
			Cursor   time.Time
			Ingested float64
		}
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("state file after SIGTERM: %v", err)
	}
	// The saved cursor is where the last successful poll read to, and never
	// behind the cursor scraped. It can be ahead of it: a poll may end after
	// the last periodic save, which is what a scrape shows, and then the
	// save at SIGTERM keeps it (TestSavesAreBatched checks that Stop saves).
	var readTo time.Time
	for _, m := range polledReadTo.FindAllStringSubmatch(p.stderr.String(), -1) {
		if at, err := time.Parse(time.RFC3339, m[1]); err == nil && at.After(readTo) {
			readTo = at
		}
	}
	a := st.Accounts["e2e"]
	if st.Version != 1 || a.Ingested != 50 || !a.Cursor.Equal(readTo) || float64(a.Cursor.Unix()) < cursor {
		t.Errorf("state saved: version %d, ingested %v, cursor %v; want 1, 50, the last poll's read_to %v, not before the scraped %v (last scrape:\n%s)", st.Version, a.Ingested, a.Cursor, readTo, cursor, body)
	}
}

// polledReadTo finds where each successful poll read to, in the debug log.
var polledReadTo = regexp.MustCompile(`msg="Polled the Audit API" .*read_to=(\S+)`)

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestBinaryReload(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Options{APIKey: e2eKey, APISecret: e2eSecret, Seed: 13})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	account := func(name string) string {
		return fmt.Sprintf("  - name: %s\n    api_key: %s\n    api_secret_file: SECRET_FILE\n", name, e2eKey)
	}
	head := fmt.Sprintf("api_url: %s\npoll_interval: 200ms\nrequests_per_second: 1000\naccounts:\n", srv.URL)
	cfg := writeConfig(t, head+account("one"))
	secret := filepath.Join(filepath.Dir(cfg), "secret")
	rewrite := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfg, []byte(strings.ReplaceAll(body, "SECRET_FILE", secret)), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	p := startExporter(t, nil, "--config.file="+cfg, "--web.enable-lifecycle")
	waitForScrape(t, p, "account one up", func(body string, _ map[string]*dto) bool {
		return strings.Contains(body, `vonage_audit_up{account="one"} 1`)
	})
	reloadURL := "http://" + p.addr + "/-/reload"

	rewrite(head + account("one") + account("two"))
	if code, body := post(t, reloadURL); code != http.StatusOK {
		t.Fatalf("POST /-/reload: %d %s", code, body)
	}
	waitForScrape(t, p, "account two up", func(body string, _ map[string]*dto) bool {
		return strings.Contains(body, `vonage_audit_up{account="two"} 1`)
	})

	rewrite(head + account("one") + account("two") + "    unknown_key: 1\n")
	code, body := post(t, reloadURL)
	if code != http.StatusInternalServerError || !strings.Contains(body, "failed to reload config") || !strings.Contains(body, "unknown_key") {
		t.Errorf("POST /-/reload of a bad config: %d %q, want 500 naming the bad key", code, body)
	}
	waitForScrape(t, p, "the failed reload reported, account two kept", func(body string, fams map[string]*dto) bool {
		return value(fams, "vonage_audit_config_last_reload_successful", "") == 0 && strings.Contains(body, `vonage_audit_up{account="two"} 1`)
	})

	rewrite(head + account("one"))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitForScrape(t, p, "the SIGHUP reload to remove account two", func(body string, fams map[string]*dto) bool {
		return value(fams, "vonage_audit_config_last_reload_successful", "") == 1 &&
			!strings.Contains(body, `account="two"`) && strings.Contains(body, `vonage_audit_up{account="one"} 1`)
	})

	resp, err := http.Get(reloadURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", resp.StatusCode)
	}

	locked := startExporter(t, nil, "--config.file="+cfg)
	waitForScrape(t, locked, "the second exporter", func(string, map[string]*dto) bool { return true })
	if code, body := post(t, "http://"+locked.addr+"/-/reload"); code != http.StatusForbidden {
		t.Errorf("POST /-/reload without --web.enable-lifecycle: %d %q, want 403", code, body)
	}
}

// In demo mode the demo account is in no file: a reload keeps it.
func TestBinaryReloadInDemoModeKeepsTheDemoAccount(t *testing.T) {
	t.Parallel()
	p := startExporter(t, nil, "--demo", "--web.enable-lifecycle")
	waitForScrape(t, p, "the demo account up", func(body string, _ map[string]*dto) bool {
		return strings.Contains(body, `vonage_audit_up{account="demo"} 1`)
	})
	if code, body := post(t, "http://"+p.addr+"/-/reload"); code != http.StatusOK {
		t.Fatalf("POST /-/reload in demo mode: %d %s", code, body)
	}
	body, fams := p.scrape(t)
	if value(fams, "vonage_audit_config_last_reload_successful", "") != 1 || !strings.Contains(body, `vonage_audit_up{account="demo"} 1`) {
		t.Errorf("after a reload in demo mode:\n%s", body)
	}
}
