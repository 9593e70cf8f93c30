package poller

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// Schedule says when a Runner polls.
type Schedule struct {
	// Mode is config.ModeInterval (a ticker triggers the polls) or
	// config.ModeScrape (Refresh does).
	Mode string
	// Interval is the time between polls in interval mode, and the least
	// time between two polls in scrape mode.
	Interval time.Duration
	// Polled is called after each successful poll; in scrape mode, after
	// the scrape stopped waiting for it.
	Polled func()
	// NewTicker makes the interval mode's ticker, and the wait for the
	// account's offset before it; nil means time.NewTicker.
	NewTicker func(time.Duration) (ticks <-chan time.Time, stop func())
}

// Offset is where, within each interval counted from the Unix epoch, the
// account named name polls in interval mode: the FNV-1a 64-bit hash of the
// name modulo the interval. Accounts are spread over the interval, so that
// the API sees a steady rate rather than every account at once, and an
// account keeps its place across restarts and reloads.
func Offset(name string, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(interval))
}

// Runner runs the polls of one Poller. Both triggers, the interval ticker
// and a scrape's Refresh, start a poll the same way, and at most one poll is
// under way at a time.
type Runner struct {
	poller *Poller
	sched  Schedule

	mu       sync.Mutex
	ctx      context.Context // nil until Start; cancelled by Stop
	cancel   context.CancelFunc
	inflight chan struct{}  // closed when the poll under way ends
	pending  sync.WaitGroup // the ticker loop, polls, and their Polled calls
}

// NewRunner returns a runner of p's polls; Start begins them.
func NewRunner(p *Poller, s Schedule) *Runner {
	if s.NewTicker == nil {
		s.NewTicker = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTicker(d)
			return t.C, t.Stop
		}
	}
	if s.Polled == nil {
		s.Polled = func() {}
	}
	return &Runner{poller: p, sched: s}
}

// Poller is the poller the runner polls.
func (r *Runner) Poller() *Poller { return r.poller }

// Started tells whether Start was called.
func (r *Runner) Started() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ctx != nil
}

// Start lets polls begin: in interval mode at the account's next Offset,
// which is at most one interval away, then at each tick; in scrape mode at
// each Refresh. They end when parent is done or on Stop.
func (r *Runner) Start(parent context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ctx, r.cancel = context.WithCancel(parent)
	if r.sched.Mode == config.ModeInterval {
		r.pending.Add(1)
		go r.tick(r.ctx)
	}
}

// Stop cancels the poll under way and waits for it and the ticker to end.
func (r *Runner) Stop() {
	r.mu.Lock()
	if r.cancel != nil {
		// Under mu, so that no poll begins after it.
		r.cancel()
	}
	r.mu.Unlock()
	r.pending.Wait()
}

// Refresh starts a poll, in scrape mode, if one is due and none is under
// way, then waits for the poll under way, if any, until ctx is done. A poll
// still running then goes on; the scrape serves the last counters and the
// overrun counter says so.
func (r *Runner) Refresh(ctx context.Context) {
	if r.sched.Mode != config.ModeScrape {
		return
	}
	done := r.begin(false)
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
		r.poller.overrun()
	}
}

// tick is the interval trigger: a poll at the account's offset, then one
// per tick, each after the last has ended.
func (r *Runner) tick(ctx context.Context) {
	defer r.pending.Done()
	if !r.waitForOffset(ctx) {
		return
	}
	ticks, stop := r.sched.NewTicker(r.sched.Interval)
	defer stop()
	for {
		if done := r.begin(true); done != nil {
			<-done
		}
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

// waitForOffset waits until the clock is at the account's offset within the
// interval, and tells whether ctx is still live. The wait is a one-tick
// ticker so that tests drive it as they drive the interval's ticks.
func (r *Runner) waitForOffset(ctx context.Context) bool {
	wait := r.untilOffset()
	if wait == 0 {
		return ctx.Err() == nil
	}
	ticks, stop := r.sched.NewTicker(wait)
	defer stop()
	select {
	case <-ctx.Done():
		return false
	case <-ticks:
		return true
	}
}

// untilOffset is how long from now until the account's next offset, in
// [0, interval).
func (r *Runner) untilOffset() time.Duration {
	interval := r.sched.Interval
	if interval <= 0 {
		return 0
	}
	phase := time.Duration(r.poller.opts.Now().UnixNano() % int64(interval))
	return (Offset(r.poller.Name(), interval) - phase + interval) % interval
}

// begin starts a poll unless one is under way, or, unless force, it is not
// due yet; it returns the channel closed at the end of the poll under way,
// or nil when there is none.
func (r *Runner) begin(force bool) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight != nil {
		return r.inflight
	}
	if r.ctx == nil || r.ctx.Err() != nil || (!force && !r.due()) {
		return nil
	}
	done, ctx := make(chan struct{}), r.ctx
	r.inflight = done
	r.pending.Go(func() {
		err := r.poller.Poll(ctx)
		r.mu.Lock()
		r.inflight = nil
		r.mu.Unlock()
		close(done)
		// After close: a scrape does not wait for the save.
		if err == nil {
			r.sched.Polled()
		}
	})
	return done
}

func (r *Runner) due() bool {
	last := r.poller.lastPollStarted()
	return last.IsZero() || r.poller.opts.Now().Sub(last) >= r.sched.Interval
}
