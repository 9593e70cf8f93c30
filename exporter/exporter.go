// Package exporter runs the exporter: it builds a poller per configured
// account, applies reloaded configurations, keeps the state file up to date,
// and in scrape mode polls within each scrape's deadline.
package exporter

import (
	"context"
	"iter"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// DefaultScrapeTimeout is assumed when a scrape does not say its timeout.
const DefaultScrapeTimeout = 10 * time.Second

// Options configures the exporter beyond its config file.
type Options struct {
	// ScrapeTimeoutOffset is taken off the scrape timeout that Prometheus
	// sends, to leave time for writing the answer.
	ScrapeTimeoutOffset time.Duration
	// SaveInterval is the least time between two saves of the state file;
	// 0 means DefaultSaveInterval.
	SaveInterval time.Duration
	Logger       log.Logger
}

// Exporter runs the polls of its accounts, exports their counters, saves
// and restores their state, and applies new configurations.
type Exporter struct {
	collector *collector.Collector
	logger    log.Logger
	offset    time.Duration

	// applyMu serialises Reload, Apply, Start and Stop, which start and
	// stop runners.
	applyMu sync.Mutex
	applied bool // a config has been applied: the state file was read then

	saveMu       sync.Mutex // one save at a time; taken before mu
	saveInterval time.Duration
	dirty        chan struct{} // a poll changed the state since the last save
	stopSaving   chan struct{} // closed by Stop; nil before Start
	savingDone   chan struct{} // closed when the writer has returned
	// The writer's clock, timer and file write; tests replace them.
	now   func() time.Time
	after func(time.Duration) <-chan time.Time
	write func(path string, savedAt time.Time, accounts iter.Seq2[string, state.Account]) error

	mu        sync.Mutex // guards below; never held while waiting on a poll or a file
	mode      string
	interval  time.Duration
	ctx       context.Context // from Start; nil before Start
	stopped   bool
	accounts  []*managed
	statePath string // "" when no state is saved
	// unsavable is a state file that could be neither used nor set aside
	// at start: never written, so as not to overwrite it, even when a
	// reload names it again.
	unsavable string
	status    collector.Status
	ready     bool // see Ready
}

// managed is one account with its runner, its API metrics, what it exports
// when a state file is kept, and the settings it was built from.
type managed struct {
	spec   spec
	runner *poller.Runner
	api    *collector.Observer
	view   *savedView
}

func (m *managed) poller() *poller.Poller { return m.runner.Poller() }

// New returns an exporter without accounts; Apply gives it some.
func New(opts Options) *Exporter {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.SaveInterval <= 0 {
		opts.SaveInterval = DefaultSaveInterval
	}
	e := &Exporter{
		logger: opts.Logger, offset: opts.ScrapeTimeoutOffset, mode: config.ModeInterval,
		saveInterval: opts.SaveInterval, dirty: make(chan struct{}, 1),
		now: time.Now, after: time.After, write: state.WriteAccounts,
	}
	e.status.ReloadOK = true
	e.status.Restored = map[string]bool{}
	e.collector = collector.New(e.currentStatus)
	return e
}

// FromConfig returns an exporter of cfg's accounts, their state restored
// from the config's state file when there is one; Start begins polling.
func FromConfig(cfg *config.Config, opts Options) (*Exporter, error) {
	e := New(opts)
	if err := e.Apply(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Collector is the prometheus.Collector of every metric of the exporter.
func (e *Exporter) Collector() *collector.Collector { return e.collector }

func (e *Exporter) currentStatus() collector.Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.status
	s.Restored = maps.Clone(s.Restored)
	return s
}

// manage wraps the poller of view into an account polled by cfg's
// schedule, each successful poll marking the state for the writer to save.
func (e *Exporter) manage(cfg *config.Config, view *savedView, s spec, api *collector.Observer) *managed {
	r := poller.NewRunner(view.p, poller.Schedule{Mode: cfg.Mode, Interval: cfg.PollInterval, Polled: e.markDirty})
	return &managed{spec: s, runner: r, api: api, view: view}
}

// publish makes the collector export the running accounts: their saved
// counters when a state file is kept, their live ones otherwise. Callers
// hold mu.
func (e *Exporter) publish() {
	accounts := make([]collector.Account, len(e.accounts))
	for i, m := range e.accounts {
		var src collector.Source = m.poller()
		if e.statePath != "" {
			src = m.view
		}
		accounts[i] = collector.Account{Poller: src, API: m.api}
	}
	e.collector.SetAccounts(accounts)
}

// Start begins polling. In interval mode every account polls on its own, so
// that a slow or failing account never delays another; in scrape mode
// polls start from Refresh. Polls end when ctx is done or on Stop.
func (e *Exporter) Start(ctx context.Context) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.mu.Lock()
	e.ctx = ctx
	accounts := e.accounts
	e.mu.Unlock()
	if e.stopSaving == nil {
		e.stopSaving, e.savingDone = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(e.savingDone)
			e.saveLoop(e.stopSaving)
		}()
	}
	for _, m := range accounts {
		m.runner.Start(ctx)
	}
}

// Stop cancels polling, waits for the polls under way to end, stops the
// writer, and saves the state once. A poll cancelled midway keeps what it
// counted and leaves the cursor where it was, so the state saved is
// consistent.
func (e *Exporter) Stop() {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.mu.Lock()
	e.stopped = true
	accounts := e.accounts
	e.mu.Unlock()
	// Every runner is cancelled at once: a thousand accounts stop in the
	// time of the slowest, not of all of them in turn.
	var wg sync.WaitGroup
	for _, m := range accounts {
		wg.Go(m.runner.Stop)
	}
	wg.Wait()
	if e.stopSaving != nil {
		select {
		case <-e.stopSaving:
		default:
			close(e.stopSaving)
		}
		<-e.savingDone
	}
	if saved, _ := e.save(); saved {
		level.Info(e.logger).Log("msg", "Stopped polling and saved the state")
	}
}

func (e *Exporter) running() (mode string, runners []*poller.Runner) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.accounts {
		runners = append(runners, m.runner)
	}
	return e.mode, runners
}

// Refresh polls, in scrape mode, every account whose last poll is at least
// the poll interval old, and waits for the polls under way until ctx is
// done. A poll still running then goes on; the scrape serves the last
// counters and the account's overrun counter says so.
func (e *Exporter) Refresh(ctx context.Context) {
	mode, runners := e.running()
	if mode != config.ModeScrape {
		return
	}
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() { r.Refresh(ctx) })
	}
	wg.Wait()
}

// Handler wraps the metrics handler so that in scrape mode each scrape
// first refreshes the counters, within the scrape's own timeout. The mode
// is read at each scrape, as a reload may change it.
func (e *Exporter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mode, _ := e.running(); mode == config.ModeScrape {
			ctx, cancel := context.WithTimeout(r.Context(), e.scrapeBudget(r))
			e.Refresh(ctx)
			cancel()
		}
		next.ServeHTTP(w, r)
	})
}

func (e *Exporter) scrapeBudget(r *http.Request) time.Duration {
	timeout := DefaultScrapeTimeout
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			timeout = time.Duration(s * float64(time.Second))
		} else {
			level.Warn(e.logger).Log("msg", "Ignoring a malformed X-Prometheus-Scrape-Timeout-Seconds header", "value", v)
		}
	}
	if budget := timeout - e.offset; budget > 0 {
		return budget
	}
	return timeout / 2
}
