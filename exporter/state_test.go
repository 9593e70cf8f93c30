package exporter

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// stateConfig is a config for accounts reading f's simulator, polled by
// Refresh (scrape mode, no least time between polls).
func stateConfig(f *pollertest.Fixture, stateFile string, names ...string) *config.Config {
	cfg := config.Default()
	cfg.APIURL = f.Srv.URL
	cfg.Mode = config.ModeScrape
	cfg.PollInterval = time.Nanosecond
	cfg.Lookback = time.Hour
	cfg.Overlap = time.Minute
	cfg.RequestTimeout = 10 * time.Second
	cfg.RequestsPerSecond = 1000
	cfg.StateFile = stateFile
	for _, n := range names {
		cfg.Accounts = append(cfg.Accounts, config.Account{Name: n, APIKey: pollertest.Key, APISecret: pollertest.Secret, APIURL: f.Srv.URL})
	}
	return &cfg
}

// realTimeFixture is a simulator on the wall clock, as exporters built from
// a config use it.
func realTimeFixture(t *testing.T) *pollertest.Fixture {
	t.Helper()
	return pollertest.New(t, pollertest.Options{Sim: simulator.Options{Now: time.Now}})
}

func startFromConfig(t *testing.T, cfg *config.Config) *Exporter {
	t.Helper()
	e, err := FromConfig(cfg, Options{})
	if err != nil {
		t.Fatalf("FromConfig: %v", err)
	}
	e.Start(context.Background())
	t.Cleanup(e.Stop)
	return e
}

func refresh(e *Exporter) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e.Refresh(ctx)
}

// saveNow saves the state as the writer does at its next turn: from then
// on the counters exported are those counted so far.
func saveNow(t *testing.T, e *Exporter) {
	t.Helper()
	if saved, err := e.save(); !saved || err != nil {
		t.Fatalf("saving the state: saved %v, err %v", saved, err)
	}
}

func accountNamed(e *Exporter, name string) *poller.Poller {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.accounts {
		if m.poller().Name() == name {
			return m.poller()
		}
	}
	return nil
}

func TestStateContinuesAcrossRestart(t *testing.T) {
	f := realTimeFixture(t)
	start := time.Now()
	f.Sim.Generate(150, start.Add(-30*time.Minute), start)
	path := filepath.Join(t.TempDir(), "state.json")

	first := startFromConfig(t, stateConfig(f, path, "a"))
	refresh(first)
	first.Stop()
	before := pollertest.Gathered(t, first.Collector(), "vonage_audit_events_total")
	if got := pollertest.Gathered(t, first.Collector(), "vonage_audit_state_last_save_success_timestamp_seconds")[""]; got == 0 {
		t.Error("no successful save reported")
	}

	// Events that show up while the exporter is down; the restart has no
	// lookback, so only the restored cursor can read them.
	f.Sim.Generate(40, start.Add(-40*time.Second), start.Add(-5*time.Second))
	cfg := stateConfig(f, path, "a")
	cfg.Lookback = 0
	second := startFromConfig(t, cfg)
	pollertest.AssertCounts(t, pollertest.Gathered(t, second.Collector(), "vonage_audit_events_total"), before)
	if got := pollertest.Gathered(t, second.Collector(), "vonage_audit_state_restored")[""]; got != 1 {
		t.Errorf("vonage_audit_state_restored = %v, want 1", got)
	}
	refresh(second)
	saveNow(t, second)
	pollertest.AssertCounts(t, pollertest.Gathered(t, second.Collector(), "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
	if got := pollertest.Gathered(t, second.Collector(), "vonage_audit_events_ingested_total")[""]; got != 190 {
		t.Errorf("events ingested over both runs = %v, want 190", got)
	}
	if got := pollertest.Gathered(t, second.Collector(), "vonage_audit_duplicate_events_total")[""]; got == 0 {
		t.Error("the restart did not re-read the overlap behind the restored cursor")
	}
}

func TestUnusableStateFileStartsFresh(t *testing.T) {
	valid, err := json.Marshal(state.File{Version: state.Version, Accounts: map[string]state.Account{
		"a": {Fingerprint: "f", Events: []state.EventSeries{{EventType: "USER_LOGIN", Source: "CD", Value: 5}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	negative := strings.Replace(string(valid), `"value":5`, `"value":-5`, 1)
	tests := []struct {
		name    string
		content string
	}{
		{"not JSON", "\x00\x01garbage"},
		{"truncated", string(valid[:len(valid)/2])},
		{"unknown version", strings.Replace(string(valid), `"version":1`, `"version":99`, 1)},
		{"unknown field", `{"version":1,"accounts":{},"cursor":"x"}`},
		{"negative counter", negative},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := realTimeFixture(t)
			f.Sim.Generate(30, time.Now().Add(-10*time.Minute), time.Now())
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			e := startFromConfig(t, stateConfig(f, path, "a"))
			if got := pollertest.Gathered(t, e.Collector(), "vonage_audit_state_restore_errors_total")[""]; got != 1 {
				t.Errorf("vonage_audit_state_restore_errors_total = %v, want 1", got)
			}
			if got := pollertest.Gathered(t, e.Collector(), "vonage_audit_state_restored")[""]; got != 0 {
				t.Errorf("vonage_audit_state_restored = %v, want 0", got)
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("the bad file was not set aside: %v", aside)
			}
			if b, _ := os.ReadFile(aside[0]); string(b) != tt.content {
				t.Errorf("the file set aside does not hold the bad content")
			}
			refresh(e)
			saveNow(t, e)
			pollertest.AssertCounts(t, pollertest.Gathered(t, e.Collector(), "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), time.Now().Add(-time.Hour)))
			e.Stop()
			if _, err := state.Read(path); err != nil {
				t.Errorf("no valid state saved after starting fresh: %v", err)
			}
		})
	}
}

// A state file that can be neither used nor set aside is never written,
// not even after a reload names it again: saving would overwrite what the
// user may still recover.
func TestUnsavableStateFileStaysUnwrittenAcrossReloads(t *testing.T) {
	f := realTimeFixture(t)
	f.Sim.Generate(30, time.Now().Add(-10*time.Minute), time.Now())
	path := filepath.Join(t.TempDir(), "state.json")
	const content = "\x00\x01garbage"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Setting aside renames the file to a name by the second: a folder
	// holding a file under each name of the next seconds makes it fail,
	// for root too.
	for i := -1; i <= 30; i++ {
		aside := path + ".corrupt-" + time.Now().Add(time.Duration(i)*time.Second).UTC().Format("20060102T150405Z")
		if err := os.MkdirAll(aside, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(aside, "keep"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := stateConfig(f, path, "a")
	e := startFromConfig(t, cfg)
	if err := e.Apply(stateConfig(f, path, "a", "b")); err != nil {
		t.Fatal(err)
	}
	refresh(e)
	if saved, err := e.save(); saved || err != nil {
		t.Errorf("save after a reload: saved %v, err %v; want nothing saved", saved, err)
	}
	e.Stop()
	if b, err := os.ReadFile(path); err != nil || string(b) != content {
		t.Errorf("the unusable state file was overwritten (%d bytes now), %v", len(b), err)
	}
}

func TestStateOfAnotherAPIURLIsNotApplied(t *testing.T) {
	f := realTimeFixture(t)
	f.Sim.Generate(30, time.Now().Add(-10*time.Minute), time.Now())
	path := filepath.Join(t.TempDir(), "state.json")
	first := startFromConfig(t, stateConfig(f, path, "a"))
	refresh(first)
	first.Stop()

	other := httptest.NewServer(f.Sim)
	defer other.Close()
	cfg := stateConfig(f, path, "a")
	cfg.Accounts[0].APIURL = other.URL
	second := startFromConfig(t, cfg)
	if got := pollertest.Gathered(t, second.Collector(), "vonage_audit_state_restored")[""]; got != 0 {
		t.Errorf("vonage_audit_state_restored = %v, want 0", got)
	}
	if got := pollertest.NonZero(pollertest.Gathered(t, second.Collector(), "vonage_audit_events_total")); len(got) != 0 {
		t.Errorf("counters of another API URL were restored: %v", got)
	}
}

func TestApplyKeepsDiffsAndRestarts(t *testing.T) {
	f := realTimeFixture(t)
	f.Sim.Generate(80, time.Now().Add(-10*time.Minute), time.Now())
	other := httptest.NewServer(f.Sim)
	defer other.Close()
	e := startFromConfig(t, stateConfig(f, "", "a", "b"))
	refresh(e)
	a := accountNamed(e, "a")
	counts := pollertest.Gathered(t, e.Collector(), "vonage_audit_events_total")
	if len(pollertest.NonZero(counts)) == 0 {
		t.Fatal("nothing counted")
	}
	apply := func(cfg *config.Config) {
		t.Helper()
		if err := e.Apply(cfg); err != nil {
			t.Fatalf("Apply: %v", err)
		}
	}

	// b removed, c added, a untouched.
	apply(stateConfig(f, "", "a", "c"))
	if accountNamed(e, "a") != a {
		t.Error("an unchanged account was rebuilt")
	}
	polls := pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_polls_total")
	if _, ok := polls["b"]; ok {
		t.Error("a removed account is still exported")
	}
	if p, ok := polls["c"]; !ok || p != 0 {
		t.Errorf("the added account: exported %v, polls %v; want exported, 0 polls", ok, p)
	}

	// A global poll_interval change keeps the same account.
	cfg := stateConfig(f, "", "a", "c")
	cfg.PollInterval = time.Millisecond
	apply(cfg)
	if accountNamed(e, "a") != a {
		t.Error("a poll_interval change rebuilt the account")
	}

	// A rotated secret and a larger overlap rebuild the account with its state.
	cfg.Overlap = 5 * time.Minute
	cfg.Accounts[0].APISecret = pollertest.Secret + "-rotated"
	apply(cfg)
	if accountNamed(e, "a") == a {
		t.Error("a changed secret and overlap kept the old client")
	}
	pollertest.AssertCounts(t, pollertest.Gathered(t, e.Collector(), "vonage_audit_events_total"), counts)
	// Nor are its poll counters and status reset: alerts watch them.
	for _, name := range []string{"vonage_audit_up", "vonage_audit_polls_total", "vonage_audit_last_success_timestamp_seconds"} {
		if got := pollertest.GatheredByAccount(t, e.Collector(), name)["a"]; got == 0 {
			t.Errorf("%s of the rebuilt account = 0, want the value before the reload", name)
		}
	}

	// A new API URL restarts the counters.
	cfg.Accounts[0].APISecret = pollertest.Secret
	cfg.Accounts[0].APIURL = other.URL
	apply(cfg)
	if got := pollertest.NonZero(pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_ingested_total")); len(got) != 0 {
		t.Errorf("counters kept across an api_url change: %v", got)
	}

	// A failed reload keeps everything.
	running := accountNamed(e, "a")
	if err := e.Reload(func() (*config.Config, error) { return nil, errors.New("broken file") }); err == nil {
		t.Fatal("Reload of a broken config succeeded")
	}
	if got := pollertest.Gathered(t, e.Collector(), "vonage_audit_config_last_reload_successful")[""]; got != 0 {
		t.Errorf("vonage_audit_config_last_reload_successful = %v after a failure", got)
	}
	if accountNamed(e, "a") != running {
		t.Error("a failed reload changed the accounts")
	}
	if err := e.Reload(func() (*config.Config, error) { return cfg, nil }); err != nil {
		t.Fatal(err)
	}
	if got := pollertest.Gathered(t, e.Collector(), "vonage_audit_config_last_reload_successful")[""]; got != 1 {
		t.Errorf("vonage_audit_config_last_reload_successful = %v after a success", got)
	}
}

// Many scrapes while pollers poll and reloads add, remove and rebuild
// accounts and switch modes; run with -race. Account a never restarts, so
// in the end it has counted every event exactly once.
func TestConcurrentScrapesPollsAndReloads(t *testing.T) {
	t.Parallel()
	f := realTimeFixture(t)
	start := time.Now()
	f.Sim.Generate(100, start.Add(-10*time.Minute), start)
	path := filepath.Join(t.TempDir(), "state.json")
	configs := []*config.Config{stateConfig(f, path, "a", "b"), stateConfig(f, path, "a"), stateConfig(f, path, "a", "c")}
	configs[1].Mode, configs[1].PollInterval = config.ModeInterval, 2*time.Millisecond
	configs[2].Overlap = 3 * time.Minute

	e := startFromConfig(t, configs[0])
	h := e.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		pollertest.GatherLabels(t, e.Collector(), "vonage_audit_events_total", true)
		pollertest.GatherLabels(t, e.Collector(), "vonage_audit_state_restored", true)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	simDone := make(chan struct{})
	go func() {
		defer close(simDone)
		f.Sim.Run(ctx, 20)
	}()

	done := make(chan struct{})
	for range 6 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 40 {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
			}
		}()
	}
	for i := range 30 {
		cfg := configs[i%len(configs)]
		if err := e.Reload(func() (*config.Config, error) { return cfg, nil }); err != nil {
			t.Error(err)
		}
	}
	for range 6 {
		<-done
	}
	cancel()
	<-simDone

	if err := e.Apply(configs[0]); err != nil {
		t.Fatal(err)
	}
	refresh(e)
	e.Stop()
	got := map[string]float64{}
	for k, v := range pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_events_total") {
		if rest, ok := strings.CutPrefix(k, "a|"); ok {
			got[rest] = v
		}
	}
	pollertest.AssertCounts(t, got, pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
	if _, err := state.Read(path); err != nil {
		t.Errorf("state file after the run: %v", err)
	}
}

// A reload that fails leaves no trace of the accounts it would have added.
func TestFailedApplyExportsNoNewAccount(t *testing.T) {
	f := realTimeFixture(t)
	e := startFromConfig(t, stateConfig(f, "", "a"))
	cfg := stateConfig(f, "", "a", "new", "bad")
	cfg.Accounts[2].APIKey = ""
	if err := e.Apply(cfg); err == nil {
		t.Fatal("Apply of an account without an API key succeeded")
	}
	for _, name := range []string{"vonage_audit_api_rate_limited_total", "vonage_audit_polls_total"} {
		for account := range pollertest.GatheredByAccount(t, e.Collector(), name) {
			if account != "a" {
				t.Errorf("%s exported for account %q after a failed Apply", name, account)
			}
		}
	}
}

// A save cut short by a crash leaves a temporary file; the next start
// removes it.
func TestStartRemovesLeftoverTemporaryFiles(t *testing.T) {
	f := realTimeFixture(t)
	path := filepath.Join(t.TempDir(), "state.json")
	leftover := filepath.Join(filepath.Dir(path), ".state.json.tmp-4242")
	if err := os.WriteFile(leftover, []byte(`{"version":1`), 0o600); err != nil {
		t.Fatal(err)
	}
	e := startFromConfig(t, stateConfig(f, path, "a"))
	if _, err := os.Stat(leftover); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the leftover temporary file is still there: %v", err)
	}
	refresh(e)
	e.Stop()
	if _, err := state.Read(path); err != nil {
		t.Errorf("no valid state saved: %v", err)
	}
}
