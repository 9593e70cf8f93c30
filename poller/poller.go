// Package poller counts the audit events of one Vonage account, each
// exactly once, and runs its polls: by an interval ticker or by scrapes.
package poller

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// API is the part of the Audit API client that counting needs.
type API interface {
	Pages(ctx context.Context, q auditapi.Query, fn func(*auditapi.Page) error) error
	EventTypes(ctx context.Context) ([]auditapi.EventType, error)
}

// Options configures the counting of one Vonage account.
type Options struct {
	Name       string
	API        API
	EventTypes []string // server-side filter; empty: all types
	Lookback   time.Duration
	Overlap    time.Duration
	// UserLabel is one of config's UserLabel values.
	UserLabel string
	// UserHashSalt keys the HMAC of config.UserLabelHash.
	UserHashSalt string
	// MaxUsers is how many distinct users get a series of their own; 0
	// means config.DefaultMaxUsers.
	MaxUsers         int
	CountryBreakdown bool
	Logger           log.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Requests returns how many requests API has sent so far, for the
	// poll_requests gauge; nil leaves the gauge at 0.
	Requests func() uint64
}

// Poller counts the audit events of one Vonage account, each exactly once.
//
// The cursor is the pinned end of the last successful poll's window. Each
// poll reads [cursor-overlap-1s, now] and keeps the ids it has seen for as
// long as a later poll can read them again, so an event is counted once
// whatever the page order, page shifts, retries or failed polls.
type Poller struct {
	opts Options

	pollMu sync.Mutex // one poll at a time

	mu sync.Mutex // guards everything below
	s  Snapshot
	// floor: events created before it are never counted (start minus lookback).
	floor      time.Time
	seen       map[string]time.Time
	typesKnown bool
	// users admitted to a series of their own, at most opts.MaxUsers.
	userSet map[string]struct{}
	// overflowSeen remembers, by hash, up to overflowMemory users counted
	// as "__other__", so that UserOverflow counts each of them once.
	overflowSeen  map[uint64]struct{}
	overflowSeed  maphash.Seed
	lastPollStart time.Time
}

// New returns a poller whose first poll counts events created from
// lookback before now.
func New(opts Options) *Poller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.MaxUsers <= 0 {
		opts.MaxUsers = config.DefaultMaxUsers
	}
	p := &Poller{
		opts:         opts,
		floor:        opts.Now().UTC().Add(-opts.Lookback).Truncate(time.Second),
		seen:         map[string]time.Time{},
		userSet:      map[string]struct{}{},
		overflowSeen: map[uint64]struct{}{},
		overflowSeed: maphash.MakeSeed(),
		s: Snapshot{
			Account:     opts.Name,
			CountsUsers: opts.UserLabel != config.UserLabelNone,
			Events:      map[EventKey]float64{},
			Users:       map[UserKey]float64{},
			Countries:   map[CountryKey]float64{},
			LastEvent:   map[string]time.Time{},
			PollErrors:  map[string]float64{},
			Skipped:     map[string]float64{SkipOutOfWindow: 0, SkipInvalid: 0},
		},
	}
	for _, r := range pollErrorReasons {
		p.s.PollErrors[r] = 0
	}
	for _, t := range opts.EventTypes {
		p.zeroType(t)
	}
	return p
}

// Name is the account label value.
func (p *Poller) Name() string { return p.opts.Name }

// Poll reads the events created since the last successful poll and counts
// the new ones. Concurrent calls run one after the other.
func (p *Poller) Poll(ctx context.Context) error {
	p.pollMu.Lock()
	defer p.pollMu.Unlock()

	start := p.opts.Now()
	p.mu.Lock()
	p.lastPollStart = start
	p.mu.Unlock()
	requestsBefore := p.requests()

	p.loadEventTypes(ctx)
	from, to := p.window(start)
	err := p.read(ctx, from, to)

	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		// Shutdown or reload, not an API failure: what the poll counted
		// stays counted, and the cursor stays where it was.
		level.Info(p.opts.Logger).Log("msg", "Poll abandoned; the next poll reads the same window again", "account", p.opts.Name, "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339))
		return fmt.Errorf("polling account %q: %w", p.opts.Name, err)
	}
	p.s.Polls++
	p.s.PollDuration = p.opts.Now().Sub(start)
	p.s.PollRequests = float64(p.requests() - requestsBefore)
	if err != nil {
		p.s.Up = false
		p.s.PollErrors[reasonLabel(err)]++
		level.Error(p.opts.Logger).Log("msg", "Polling the Audit API failed; the next poll reads the same window again", "account", p.opts.Name, "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339), "err", err)
		return fmt.Errorf("polling account %q: %w", p.opts.Name, err)
	}
	p.s.Up = true
	p.s.Cursor = to
	p.s.LastSuccess = p.opts.Now()
	p.prune()
	level.Debug(p.opts.Logger).Log("msg", "Polled the Audit API", "account", p.opts.Name, "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339), "duration", p.s.PollDuration)
	return nil
}

// read is the poll's one exchange with the API: it reads the window
// [from, to] page by page and ingests each page. On success the caller
// moves the cursor to to.
func (p *Poller) read(ctx context.Context, from, to time.Time) error {
	q := auditapi.Query{EventTypes: p.opts.EventTypes, From: from, To: to, Size: auditapi.MaxPageSize}
	return p.opts.API.Pages(ctx, q, func(page *auditapi.Page) error {
		p.ingest(page.Events, from, to)
		return nil
	})
}

// window returns the time range the next poll reads.
func (p *Poller) window(now time.Time) (from, to time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	to = now.UTC().Truncate(time.Second)
	from = p.floor
	if !p.s.Cursor.IsZero() {
		// One second more than the overlap: created_at has one-second
		// resolution and the API may treat its bounds as exclusive.
		if f := p.s.Cursor.Add(-p.opts.Overlap - time.Second); f.After(from) {
			from = f
		}
	}
	if from.After(to) {
		from = to
	}
	return from, to
}

func (p *Poller) requests() uint64 {
	if p.opts.Requests == nil {
		return 0
	}
	return p.opts.Requests()
}

// loadEventTypes exports every type listed by OPTIONS at zero, once. The
// list is only a hint: a failure is logged and tried again next poll.
func (p *Poller) loadEventTypes(ctx context.Context) {
	p.mu.Lock()
	known := p.typesKnown
	p.mu.Unlock()
	if known {
		return
	}
	types, err := p.opts.API.EventTypes(ctx)
	if err != nil {
		level.Warn(p.opts.Logger).Log("msg", "Listing event types failed; series of types not seen yet are not exported at zero", "account", p.opts.Name, "err", err)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.typesKnown = true
	for _, t := range types {
		if t.Type != "" && p.wants(t.Type) {
			p.zeroType(t.Type)
		}
	}
}

// prune forgets the ids that no later poll can read again, keeping memory
// bounded by the overlap window. The floor follows, so that a larger
// overlap after a reload or restart never reads back past the ids kept.
// Callers hold mu.
func (p *Poller) prune() {
	from := p.s.Cursor.Add(-p.opts.Overlap - time.Second)
	if from.After(p.floor) {
		p.floor = from
	}
	for id, created := range p.seen {
		if created.Before(from) {
			delete(p.seen, id)
		}
	}
}

// pollErrorReasons are the values of the poll_errors_total reason label.
var pollErrorReasons = []string{"auth", "quota", "rate_limited", "server", "timeout", "network", "decode", "other"}

func reasonLabel(err error) string {
	r := auditapi.Reason(err)
	for _, known := range pollErrorReasons {
		if r == known {
			return r
		}
	}
	return "other"
}

// lastPollStarted is when the poll under way, or the last one, started.
func (p *Poller) lastPollStarted() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastPollStart
}

// overrun counts a scrape that stopped waiting for the poll under way.
func (p *Poller) overrun() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.s.Overruns++
}
