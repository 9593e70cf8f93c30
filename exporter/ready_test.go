package exporter

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// neverAnswers is an Audit API whose requests hang until the client gives
// up or the test ends.
func neverAnswers(t *testing.T) *httptest.Server {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(func() {
		close(done)
		srv.Close()
	})
	return srv
}

func TestReadyWithoutConfig(t *testing.T) {
	if New(Options{}).Ready() {
		t.Error("an exporter without a configuration is ready")
	}
}

// Interval mode: ready once every account has finished a first poll, a
// failed one included; then ready for good, even when a reload adds an
// account that has not polled.
func TestReadyAfterEveryFirstPollInIntervalMode(t *testing.T) {
	gate := make(chan struct{})
	f := pollertest.New(t, pollertest.Options{
		Sim: simulator.Options{Now: time.Now},
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-gate:
					h.ServeHTTP(w, r)
				case <-r.Context().Done():
				}
			})
		},
	})
	cfg := stateConfig(f, "", "good", "refused")
	// A short interval: the first poll waits for the account's offset within it.
	cfg.Mode, cfg.PollInterval = config.ModeInterval, time.Second
	cfg.Accounts[1].APISecret = "wrong-secret"
	e := startFromConfig(t, cfg)

	if e.Ready() {
		t.Fatal("ready while no account has finished a poll")
	}
	close(gate)
	waitFor(t, "ready", e.Ready)
	up := pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_up")
	if up["good"] != 1 || up["refused"] != 0 {
		t.Errorf("vonage_audit_up = %v, want good 1 and refused 0", up)
	}

	cfg.Accounts = append(cfg.Accounts, config.Account{Name: "added", APIKey: pollertest.Key, APISecret: pollertest.Secret, APIURL: neverAnswers(t).URL})
	if err := e.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if !e.Ready() {
		t.Error("a reload that added an account made the exporter not ready")
	}
	if polls := pollertest.GatheredByAccount(t, e.Collector(), "vonage_audit_polls_total")["added"]; polls != 0 {
		t.Errorf("the added account finished %v polls against an API that never answers", polls)
	}
}

// Scrape mode polls only on a scrape, which a pod that is not ready does
// not get: ready without a poll.
func TestReadyWithoutPollInScrapeMode(t *testing.T) {
	f := realTimeFixture(t)
	cfg := stateConfig(f, "", "a")
	cfg.Accounts[0].APIURL = neverAnswers(t).URL
	e := startFromConfig(t, cfg)
	if !e.Ready() {
		t.Error("not ready in scrape mode before any scrape")
	}
}
