package collector

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
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

// Exporter schedules the polls of its accounts and exports their counters.
type Exporter struct {
	opts      Options
	collector *Collector

	mu         sync.Mutex
	schedulers []*scheduler
	cancel     context.CancelFunc
	wg         sync.WaitGroup
}

// New returns an exporter for the given accounts; Start begins polling.
func New(opts Options, c *Collector, accounts []*Account) *Exporter {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	e := &Exporter{opts: opts, collector: c}
	for _, a := range accounts {
		e.schedulers = append(e.schedulers, &scheduler{account: a, interval: opts.PollInterval})
	}
	c.SetAccounts(accounts)
	return e
}

// Collector is the prometheus.Collector of the exporter's accounts.
func (e *Exporter) Collector() *Collector { return e.collector }

// Start begins polling. In interval mode every account gets a poller of its
// own, so that a slow or failing account never delays another; in scrape
// mode polls start from Refresh. Polls end when ctx is done or on Stop.
func (e *Exporter) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ctx, e.cancel = context.WithCancel(ctx)
	for _, s := range e.schedulers {
		s.ctx = ctx
		if e.opts.Mode == ModeInterval {
			e.wg.Add(1)
			go func(s *scheduler) {
				defer e.wg.Done()
				s.loop(ctx)
			}(s)
		}
	}
}

// Stop cancels polling and waits for the polls under way to end.
func (e *Exporter) Stop() {
	e.mu.Lock()
	cancel := e.cancel
	e.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	e.wg.Wait()
	for _, s := range e.schedulers {
		s.wait()
	}
}

// Refresh polls, in scrape mode, every account whose last poll is at least
// the poll interval old, and waits for the polls under way until ctx is
// done. A poll still running then goes on; the scrape serves the last
// counters and the account's overrun counter says so.
func (e *Exporter) Refresh(ctx context.Context) {
	if e.opts.Mode != ModeScrape {
		return
	}
	var wg sync.WaitGroup
	for _, s := range e.schedulers {
		wg.Add(1)
		go func(s *scheduler) {
			defer wg.Done()
			s.refresh(ctx)
		}(s)
	}
	wg.Wait()
}

// Handler wraps the metrics handler so that in scrape mode each scrape
// first refreshes the counters, within the scrape's own timeout.
func (e *Exporter) Handler(next http.Handler) http.Handler {
	if e.opts.Mode != ModeScrape {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), e.scrapeBudget(r))
		e.Refresh(ctx)
		cancel()
		next.ServeHTTP(w, r)
	})
}

func (e *Exporter) scrapeBudget(r *http.Request) time.Duration {
	timeout := DefaultScrapeTimeout
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
			timeout = time.Duration(s * float64(time.Second))
		} else {
			level.Warn(e.opts.Logger).Log("msg", "Ignoring a malformed X-Prometheus-Scrape-Timeout-Seconds header", "value", v)
		}
	}
	if budget := timeout - e.opts.ScrapeTimeoutOffset; budget > 0 {
		return budget
	}
	return timeout / 2
}

// scheduler runs the polls of one account.
type scheduler struct {
	account  *Account
	interval time.Duration
	ctx      context.Context

	mu       sync.Mutex
	inflight chan struct{} // closed when the poll under way ends
}

func (s *scheduler) loop(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		_ = s.account.Poll(ctx)
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
		go func() {
			_ = s.account.Poll(pollCtx)
			s.mu.Lock()
			s.inflight = nil
			s.mu.Unlock()
			close(done)
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

// wait blocks until the poll under way, if any, has ended.
func (s *scheduler) wait() {
	s.mu.Lock()
	done := s.inflight
	s.mu.Unlock()
	if done != nil {
		<-done
	}
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
