package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// Polling modes, as in the config file.
const (
	ModeInterval = "interval"
	ModeScrape   = "scrape"
)

// DefaultScrapeTimeout is assumed when a scrape does not say its timeout.
const DefaultScrapeTimeout = 10 * time.Second

// Options configures when accounts are polled.
type Options struct {
	Mode string
	// PollInterval is the time between polls in interval mode, and the
	// least time between two polls of an account in scrape mode.
	PollInterval time.Duration
	// ScrapeTimeoutOffset is taken off the scrape timeout that Prometheus
	// sends, to leave time for writing the answer.
	ScrapeTimeoutOffset time.Duration
	Logger              log.Logger
}

// Exporter schedules the polls of its accounts, exports their counters,
// saves and restores their state, and applies new configurations.
type Exporter struct {
	collector *Collector
	metrics   *stateMetrics
	logger    log.Logger
	offset    time.Duration

	reloadMu sync.Mutex // one Reload at a time
	// applyMu serialises Apply, Start and Stop, which start and stop pollers.
	applyMu sync.Mutex
	applied bool // a config has been applied: the state file was read then

	mu       sync.Mutex // guards below; never held while waiting on a poll
	opts     Options
	ctx      context.Context // from Start; nil before Start
	stopped  bool
	accounts []*managed

	saveMu    sync.Mutex // one save at a time; guards below
	statePath string
	saving    []*managed
}

// managed is one account with its poller and the settings it was built from.
type managed struct {
	spec  accountSpec
	sched *scheduler
}

// accountSpec tells what an account's state depends on, to decide on reload
// whether a running account is kept, rebuilt with its state, or restarted.
type accountSpec struct {
	// fingerprint and labels decide what the counters count: a change of
	// either restarts them.
	fingerprint string
	labels      string
	// settings need a new client or account, but keep the counters.
	settings string
}

func specOf(cfg *config.Config, acc config.Account) accountSpec {
	secret := sha256.Sum256([]byte(acc.APISecret))
	return accountSpec{
		fingerprint: fingerprint(acc),
		labels:      labelSpec(cfg.UserLabel, string(cfg.UserHashSalt), cfg.CountryBreakdown),
		settings: fmt.Sprintf("%s|%s|%s|%s|%g|%d|%d|%d", hex.EncodeToString(secret[:]),
			cfg.Lookback, cfg.Overlap, cfg.RequestTimeout, cfg.RequestsPerSecond, cfg.MaxRetries, acc.MaxUsers, cfg.MaxConcurrency),
	}
}

var _ prometheus.Collector = (*Exporter)(nil)

// New returns an exporter for the given accounts; Start begins polling.
func New(opts Options, c *Collector, accounts []*Account) *Exporter {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	e := &Exporter{opts: opts, collector: c, metrics: newStateMetrics(), logger: opts.Logger, offset: opts.ScrapeTimeoutOffset}
	for _, a := range accounts {
		e.accounts = append(e.accounts, e.manage(a, accountSpec{}, opts.PollInterval))
	}
	e.saving = e.accounts
	c.SetAccounts(accounts)
	return e
}

func (e *Exporter) manage(a *Account, spec accountSpec, interval time.Duration) *managed {
	return &managed{spec: spec, sched: &scheduler{account: a, interval: interval, saved: e.save}}
}

// Collector is the prometheus.Collector of the exporter's accounts.
func (e *Exporter) Collector() *Collector { return e.collector }

// Describe implements prometheus.Collector for the exporter's own metrics:
// state file and configuration reloads.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range e.metrics.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	for _, c := range e.metrics.collectors() {
		c.Collect(ch)
	}
}

// Start begins polling. In interval mode every account gets a poller of its
// own, so that a slow or failing account never delays another; in scrape
// mode polls start from Refresh. Polls end when ctx is done or on Stop.
func (e *Exporter) Start(ctx context.Context) {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.mu.Lock()
	e.ctx = ctx
	mode, accounts := e.opts.Mode, e.accounts
	e.mu.Unlock()
	for _, m := range accounts {
		m.sched.start(ctx, mode)
	}
}

// Stop cancels polling, waits for the polls under way to end, and saves the
// state. A poll cancelled midway keeps what it counted and leaves the cursor
// where it was, so the state saved is consistent.
func (e *Exporter) Stop() {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	e.mu.Lock()
	e.stopped = true
	accounts := e.accounts
	e.mu.Unlock()
	for _, m := range accounts {
		m.sched.stop()
	}
	if e.save() {
		level.Info(e.logger).Log("msg", "Stopped polling and saved the state")
	}
}

// FromConfig builds an exporter with one account per configured account,
// each with its own client reporting to c, restoring their state from the
// config's state file when there is one.
func FromConfig(cfg *config.Config, c *Collector, opts Options) (*Exporter, error) {
	e := New(opts, c, nil)
	if err := e.Apply(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Reload loads a configuration and applies it. When either fails, the
// running configuration is kept, and the error is logged and returned.
func (e *Exporter) Reload(load func() (*config.Config, error)) error {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	cfg, err := load()
	if err == nil {
		err = e.Apply(cfg)
	}
	if err != nil {
		e.metrics.reloadOK.Set(0)
		level.Error(e.logger).Log("msg", "Reloading the configuration failed; the running configuration is kept", "err", err)
		return err
	}
	level.Info(e.logger).Log("msg", "Reloaded the configuration")
	return nil
}

// Apply makes cfg the running configuration. Accounts are matched by name:
//   - an account whose settings did not change keeps its counters, cursor and
//     poller (the same *Account);
//   - a changed API secret, lookback, overlap, request_timeout,
//     requests_per_second, max_retries, max_users or max_concurrency
//     rebuilds the account with all its counters, cursor and seen ids;
//   - a changed api_key, api_url or event_types (the fingerprint), or a
//     changed user_label, user_hash_salt or country_breakdown (the
//     counters' labels), restarts the account's counters from zero, from
//     lookback before now;
//   - a removed account stops being polled and exported;
//   - a changed mode or poll_interval restarts every poller, keeping state.
//
// The first Apply reads the state file, if any. On error nothing changes.
func (e *Exporter) Apply(cfg *config.Config) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()

	e.mu.Lock()
	old := make(map[string]*managed, len(e.accounts))
	for _, m := range e.accounts {
		old[m.sched.account.Name()] = m
	}
	restartAll := e.opts.Mode != cfg.Mode || e.opts.PollInterval != cfg.PollInterval
	ctx, stopped := e.ctx, e.stopped
	e.mu.Unlock()

	var saved map[string]accountState
	canSave := true
	if !e.applied && cfg.StateFile != "" {
		saved, canSave = e.loadState(cfg.StateFile)
	}

	// Build everything that can fail before touching what runs.
	next := make([]*managed, 0, len(cfg.Accounts))
	transfers := map[*Account]*Account{}
	var added, rebuilt, restarted []string
	for _, acc := range cfg.Accounts {
		spec := specOf(cfg, acc)
		prev := old[acc.Name]
		if prev != nil && prev.spec == spec {
			m := prev
			if restartAll {
				m = e.manage(prev.sched.account, spec, cfg.PollInterval)
			}
			next = append(next, m)
			continue
		}
		a, err := e.newAccount(cfg, acc)
		if err != nil {
			return err
		}
		switch {
		case prev == nil:
			added = append(added, acc.Name)
		case prev.spec.fingerprint == spec.fingerprint && prev.spec.labels == spec.labels:
			transfers[a] = prev.sched.account
			rebuilt = append(rebuilt, acc.Name)
		default:
			restarted = append(restarted, acc.Name)
		}
		next = append(next, e.manage(a, spec, cfg.PollInterval))
	}

	keep := map[*scheduler]bool{}
	for _, m := range next {
		keep[m.sched] = true
	}
	var removed []string
	for name, m := range old {
		if !keep[m.sched] {
			m.sched.stop()
		}
		if !hasAccount(cfg.Accounts, name) {
			removed = append(removed, name)
			e.metrics.restored.DeleteLabelValues(name)
		}
	}
	// The old pollers have stopped: their state is final.
	for a, from := range transfers {
		a.inherit(from)
	}
	for _, name := range restarted {
		e.metrics.restored.WithLabelValues(name).Set(0)
		level.Warn(e.logger).Log("msg", "The account's api_key, api_url, event_types, user_label, user_hash_salt or country_breakdown changed: its counters restart from zero", "account", name)
	}
	for _, m := range next {
		name := m.sched.account.Name()
		switch _, running := old[name]; {
		case running:
		case e.applied:
			e.metrics.restored.WithLabelValues(name).Set(0)
		default:
			e.restoreAccount(m, saved)
		}
	}

	accounts := make([]*Account, len(next))
	for i, m := range next {
		accounts[i] = m.sched.account
	}
	e.saveMu.Lock()
	if cfg.StateFile != e.statePath && e.applied {
		level.Info(e.logger).Log("msg", "The state file changed: state is saved there from now on", "state_file", cfg.StateFile)
	}
	e.statePath = cfg.StateFile
	if !canSave {
		e.statePath = ""
	}
	e.saving = next
	e.saveMu.Unlock()

	e.mu.Lock()
	e.opts.Mode, e.opts.PollInterval = cfg.Mode, cfg.PollInterval
	e.accounts = next
	e.mu.Unlock()
	e.collector.SetAccounts(accounts)

	if ctx != nil && !stopped {
		for _, m := range next {
			if m.sched.notStarted() {
				m.sched.start(ctx, cfg.Mode)
			}
		}
	}
	if e.applied {
		level.Info(e.logger).Log("msg", "Applied the configuration", "accounts", len(next), "added", fmt.Sprint(added), "removed", fmt.Sprint(removed),
			"rebuilt_keeping_state", fmt.Sprint(rebuilt), "restarted_from_zero", fmt.Sprint(restarted), "pollers_restarted", restartAll)
	}
	e.applied = true
	e.metrics.reloadOK.Set(1)
	e.metrics.lastReload.SetToCurrentTime()
	return nil
}

func hasAccount(accounts []config.Account, name string) bool {
	for _, a := range accounts {
		if a.Name == name {
			return true
		}
	}
	return false
}

// newAccount builds a fresh account, not yet polled, with its own client.
func (e *Exporter) newAccount(cfg *config.Config, acc config.Account) (*Account, error) {
	obs := e.collector.Observer(acc.Name)
	client, err := NewClient(cfg, acc, obs, e.logger)
	if err != nil {
		return nil, err
	}
	return NewAccount(AccountOptions{
		Name:             acc.Name,
		API:              client,
		EventTypes:       acc.EventTypes,
		Lookback:         cfg.Lookback,
		Overlap:          cfg.Overlap,
		UserLabel:        cfg.UserLabel,
		UserHashSalt:     string(cfg.UserHashSalt),
		MaxUsers:         acc.MaxUsers,
		CountryBreakdown: cfg.CountryBreakdown,
		Logger:           e.logger,
		Requests:         obs.Requests,
	}), nil
}

// loadState reads the state file at start. A file that cannot be used is
// set aside and the exporter starts fresh; canSave is false only when it
// could not even be set aside, so that a save never overwrites it.
func (e *Exporter) loadState(path string) (saved map[string]accountState, canSave bool) {
	st, err := readStateFile(path)
	switch {
	case err == nil:
		level.Info(e.logger).Log("msg", "Read the state file", "state_file", path, "saved_at", st.SavedAt.Format(time.RFC3339), "accounts", len(st.Accounts))
		return st.Accounts, true
	case errors.Is(err, fs.ErrNotExist):
		level.Info(e.logger).Log("msg", "No state file yet: every account starts fresh", "state_file", path)
		return nil, true
	}
	e.metrics.restoreErrors.Inc()
	aside, asideErr := setAside(path, time.Now())
	if asideErr != nil {
		level.Error(e.logger).Log("msg", "The state file cannot be used nor set aside: every account starts fresh, with counters from zero, and no state is saved so as not to overwrite the file", "state_file", path, "err", err, "set_aside_err", asideErr)
		return nil, false
	}
	level.Error(e.logger).Log("msg", "The state file cannot be used: every account starts fresh, with counters from zero; the file was set aside", "state_file", path, "set_aside_as", aside, "err", err)
	return nil, true
}

// restoreAccount applies the saved state of a new account at start, if it
// was saved for the same account, API key, API URL and event types.
func (e *Exporter) restoreAccount(m *managed, saved map[string]accountState) {
	a := m.sched.account
	st, ok := saved[a.Name()]
	switch {
	case !ok:
		if saved != nil {
			level.Info(e.logger).Log("msg", "No saved state for the account: it starts fresh", "account", a.Name())
		}
		e.metrics.restored.WithLabelValues(a.Name()).Set(0)
	case st.Fingerprint != m.spec.fingerprint:
		level.Warn(e.logger).Log("msg", "The saved state of the account was written for another api_key, api_url or event_types: not applied, the account starts fresh", "account", a.Name())
		e.metrics.restored.WithLabelValues(a.Name()).Set(0)
	default:
		a.restore(st)
		e.metrics.restored.WithLabelValues(a.Name()).Set(1)
		level.Info(e.logger).Log("msg", "Restored the account's counters and cursor", "account", a.Name(), "cursor", st.Cursor.Format(time.RFC3339), "events_ingested", st.Ingested)
	}
}

// save writes the state of every account to the state file, if there is
// one, and tells whether it did. It runs after each successful poll, in the
// poller, never on the scrape path.
func (e *Exporter) save() bool {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	if e.statePath == "" {
		return false
	}
	st := &stateFile{Version: stateVersion, SavedAt: time.Now().UTC(), Accounts: make(map[string]accountState, len(e.saving))}
	for _, m := range e.saving {
		as := m.sched.account.snapshot()
		as.Fingerprint = m.spec.fingerprint
		st.Accounts[m.sched.account.Name()] = as
	}
	if err := writeStateFile(e.statePath, st); err != nil {
		e.metrics.saveErrors.Inc()
		level.Error(e.logger).Log("msg", "Saving the state failed; after a restart, counters continue from the last state saved", "state_file", e.statePath, "err", err)
		return false
	}
	e.metrics.lastSave.SetToCurrentTime()
	return true
}

func (e *Exporter) running() (mode string, scheds []*scheduler) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.accounts {
		scheds = append(scheds, m.sched)
	}
	return e.opts.Mode, scheds
}

// Refresh polls, in scrape mode, every account whose last poll is at least
// the poll interval old, and waits for the polls under way until ctx is
// done. A poll still running then goes on; the scrape serves the last
// counters and the account's overrun counter says so.
func (e *Exporter) Refresh(ctx context.Context) {
	mode, scheds := e.running()
	if mode != ModeScrape {
		return
	}
	var wg sync.WaitGroup
	for _, s := range scheds {
		wg.Add(1)
		go func(s *scheduler) {
			defer wg.Done()
			s.refresh(ctx)
		}(s)
	}
	wg.Wait()
}

// Handler wraps the metrics handler so that in scrape mode each scrape
// first refreshes the counters, within the scrape's own timeout. The mode
// is read at each scrape, as a reload may change it.
func (e *Exporter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if mode, _ := e.running(); mode == ModeScrape {
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

// scheduler runs the polls of one account.
type scheduler struct {
	account  *Account
	interval time.Duration
	saved    func() bool // after each successful poll

	mu       sync.Mutex
	ctx      context.Context // nil until start; cancelled by stop
	cancel   context.CancelFunc
	loopDone chan struct{}  // closed when the interval loop ends
	inflight chan struct{}  // closed when the scrape-mode poll under way ends
	pending  sync.WaitGroup // scrape-mode polls and their saves
}

func (s *scheduler) notStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ctx == nil
}

func (s *scheduler) start(parent context.Context, mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ctx, s.cancel = context.WithCancel(parent)
	if mode == ModeInterval {
		done, ctx := make(chan struct{}), s.ctx
		s.loopDone = done
		go func() {
			defer close(done)
			s.loop(ctx)
		}()
	}
}

// stop cancels the poll under way and waits for the poller to end.
func (s *scheduler) stop() {
	s.mu.Lock()
	if s.cancel != nil {
		// Under mu, so that refresh starts no poll after it.
		s.cancel()
	}
	loopDone := s.loopDone
	s.mu.Unlock()
	if loopDone != nil {
		<-loopDone
	}
	s.pending.Wait()
}

func (s *scheduler) loop(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		if s.account.Poll(ctx) == nil {
			s.saved()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// refresh starts a poll if one is due and none is under way, then waits for
// the poll under way, if any, until ctx is done.
func (s *scheduler) refresh(ctx context.Context) {
	s.mu.Lock()
	done := s.inflight
	if done == nil && s.due() && s.ctx != nil && s.ctx.Err() == nil {
		done = make(chan struct{})
		s.inflight = done
		pollCtx := s.ctx
		s.pending.Add(1)
		go func() {
			defer s.pending.Done()
			err := s.account.Poll(pollCtx)
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			close(done)
			// After close: the scrape does not wait for the save.
			if err == nil {
				s.saved()
			}
		}()
	}
	s.mu.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
		s.account.overrun()
	}
}

func (s *scheduler) due() bool {
	last := s.account.lastPollStarted()
	return last.IsZero() || s.account.opts.Now().Sub(last) >= s.interval
}

func (a *Account) lastPollStarted() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastPollStart
}

func (a *Account) overrun() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.overruns++
}
