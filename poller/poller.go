// Package poller counts the audit events of one Vonage account, each
// exactly once, and runs its polls: by an interval ticker or by scrapes.
package poller

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/reading"
)

// API is the part of the Audit API client that counting needs.
type API interface {
	reading.API
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
	// Exemplars keeps the newest event counted for each event and user
	// series, which the collector exports as the series' exemplar.
	Exemplars bool
	Logger    log.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Requests returns how many requests API has sent so far, for the
	// poll_requests gauge; nil leaves the gauge at 0.
	Requests func() uint64
	// MaxPages bounds the pages one poll reads; 0 means
	// reading.DefaultMaxPages.
	MaxPages int
	// MaxConcurrency is how many pages a backfill fetches at once.
	MaxConcurrency int
}

// Poller counts the audit events of one Vonage account, each exactly once.
//
// Windows are in the API's time (reading.Reader keeps its clock). The
// cursor is how far the last successful poll read: every event created up
// to it has been counted. Each poll reads [cursor-overlap-1s, API now] and
// keeps the ids it has seen for as long as a later poll can read them
// again, so an event is counted once whatever the page order, page shifts,
// retries or failed polls.
type Poller struct {
	opts Options

	pollMu sync.Mutex // one poll at a time; guards reader and pending
	reader *reading.Reader
	// pending holds the events a poll read, counted when it ends.
	pending []auditapi.Event

	mu sync.Mutex // guards everything below
	s  Snapshot
	// floor: events created before it are never counted (the first poll's
	// API time minus lookback); zero until then.
	floor      time.Time
	seen       map[string]time.Time
	typesKnown bool
	// users admitted to a series of their own, at most opts.MaxUsers.
	userSet map[string]struct{}
	// overflowSeen remembers, by a hash that a restart keeps (overflowHash),
	// up to overflowMemory users counted as "__other__", so that
	// UserOverflow counts each of them once.
	overflowSeen  map[uint64]struct{}
	lastPollStart time.Time
	// countsGen counts the changes to the counters and their exemplars,
	// and copied holds the maps of the last checkpoint with the countsGen
	// they copy: a checkpoint of unchanged counts (an idle account, at
	// every save) shares them rather than copying them again.
	countsGen uint64
	copied    struct {
		gen    uint64
		counts *Snapshot
	}
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
		opts: opts,
		reader: reading.New(opts.API, reading.Options{
			EventTypes: opts.EventTypes, Now: opts.Now, MaxPages: opts.MaxPages, MaxConcurrency: opts.MaxConcurrency,
			Logger: log.With(opts.Logger, "account", opts.Name),
		}),
		seen:         map[string]time.Time{},
		userSet:      map[string]struct{}{},
		overflowSeen: map[uint64]struct{}{},
		s: Snapshot{
			Account:         opts.Name,
			CountsUsers:     opts.UserLabel != config.UserLabelNone,
			Events:          map[EventKey]float64{},
			Users:           map[UserKey]float64{},
			Countries:       map[CountryKey]float64{},
			LastEvent:       map[string]time.Time{},
			PollErrors:      map[string]float64{},
			Skipped:         map[string]float64{SkipOutOfWindow: 0, SkipInvalid: 0},
			Inconsistencies: map[string]float64{},
		},
	}
	if opts.Exemplars {
		p.s.EventExemplars = map[EventKey]Exemplar{}
		p.s.UserExemplars = map[UserKey]Exemplar{}
	}
	p.s.Reading = p.reader.Reading()
	for _, r := range pollErrorReasons {
		p.s.PollErrors[r] = 0
	}
	for _, k := range reading.Kinds {
		p.s.Inconsistencies[k] = 0
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
	var w reading.Window
	res, err := reading.Result{}, p.learn(ctx)
	if err == nil {
		w = p.window()
		res, err = p.reader.Read(ctx, w, p.stage)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	from, to := w.From.Format(time.RFC3339), w.To.Format(time.RFC3339)
	p.s.Reading = p.reader.Reading()
	for _, i := range res.Inconsistencies {
		p.s.Inconsistencies[i.Kind]++
	}
	kind := reading.KindOf(err)
	if kind != "" {
		p.s.Inconsistencies[kind]++
	}
	if kind != reading.KindPageLimit {
		p.ingest(p.pending, w.From, w.To)
	}
	// No buffer is kept between polls: a poller polls every few seconds,
	// and the buffer would hold the strings of the events it last read. At
	// 1,000 accounts the kept buffers held some 30 MB.
	p.pending = nil
	if err != nil && ctx.Err() != nil {
		// Shutdown or reload, not an API failure: what the poll counted
		// stays counted, and the cursor stays where it was.
		level.Info(p.opts.Logger).Log("msg", "Poll abandoned; the next poll reads the same window again", "account", p.opts.Name, "from", from, "to", to)
		return fmt.Errorf("polling account %q: %w", p.opts.Name, err)
	}
	p.s.Polls++
	p.s.PollDuration = p.opts.Now().Sub(start)
	p.s.PollRequests = float64(p.requests() - requestsBefore)
	if err != nil {
		p.s.Up = false
		p.s.PollErrors[reasonLabel(err)]++
		p.pruneBefore(w.From)
		level.Error(p.opts.Logger).Log("msg", "Polling the Audit API failed; the next poll reads the same window again", "account", p.opts.Name, "from", from, "to", to, "err", err)
		return fmt.Errorf("polling account %q: %w", p.opts.Name, err)
	}
	p.s.Up = true
	if res.ReadTo.After(p.s.Cursor) {
		p.s.Cursor = res.ReadTo
	}
	p.s.LastSuccess = p.opts.Now()
	p.prune()
	level.Debug(p.opts.Logger).Log("msg", "Polled the Audit API", "account", p.opts.Name, "from", from, "to", to, "read_to", res.ReadTo.Format(time.RFC3339), "duration", p.s.PollDuration)
	return nil
}

// learn asks the API what it does, until it has told the date precision:
// once, or at each poll while the account has no event to tell by.
func (p *Poller) learn(ctx context.Context) error {
	if p.reader.Learned() {
		return nil
	}
	return p.reader.Learn(ctx)
}

// stage keeps an event the poll read, without its bytes, to count when the
// poll ends: a poll that reaches the page limit counts nothing, so that an
// API whose pages never end cannot pile up ids poll after poll.
func (p *Poller) stage(e *auditapi.Event) {
	kept := *e
	kept.Raw, kept.Context = nil, nil
	p.pending = append(p.pending, kept)
}

// window returns the time range the next poll reads, by the API's clock. A
// cursor or floor ahead of that clock (saved by a host whose clock was
// ahead, or read back from a state file written elsewhere) is not trusted:
// the window starts again from the API's present minus the overlap.
func (p *Poller) window() reading.Window {
	to := p.reader.Now().UTC().Truncate(time.Second)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.floor.IsZero() {
		p.floor = to.Add(-p.opts.Lookback)
	}
	trusted := to.Add(maxClockError)
	if p.s.Cursor.After(trusted) || p.floor.After(trusted) {
		p.s.Inconsistencies[reading.KindFutureCursor]++
		level.Warn(p.opts.Logger).Log("msg", "The saved cursor is ahead of the Audit API's clock, so it is not trusted: reading again from the API's present minus the overlap; events between the real last read and then may be missed",
			"account", p.opts.Name, "cursor", p.s.Cursor.Format(time.RFC3339), "floor", p.floor.Format(time.RFC3339), "api_now", to.Format(time.RFC3339))
		p.s.Cursor = to
		if again := to.Add(-p.opts.Overlap - time.Second); p.floor.After(again) {
			p.floor = again
		}
	}
	from := p.floor
	// One second more than the overlap: created_at has one-second
	// resolution.
	if again := p.s.Cursor.Add(-p.opts.Overlap - time.Second); !p.s.Cursor.IsZero() && again.After(from) {
		from = again
	}
	if from.After(to) {
		from = to
	}
	return reading.Window{From: from, To: to}
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
	p.pruneBefore(from)
}

// pruneBefore forgets the ids of events created before t: after a failed
// poll, those before its window, which the next poll reads again. Callers
// hold mu.
func (p *Poller) pruneBefore(t time.Time) {
	for id, created := range p.seen {
		if created.Before(t) {
			delete(p.seen, id)
		}
	}
}

// maxClockError is how far a cursor may lie ahead of the API's clock as
// estimated from its Date header (cut to the second) and still be trusted.
const maxClockError = 2 * time.Second

// pollErrorReasons are the values of the poll_errors_total reason label:
// the client's reasons, and a read that did not add up.
var pollErrorReasons = append(slices.Clone(auditapi.Reasons), reading.KindShortRead)

func reasonLabel(err error) string {
	if k := reading.KindOf(err); k != "" {
		return k
	}
	r := auditapi.Reason(err)
	if slices.Contains(pollErrorReasons, r) {
		return r
	}
	return auditapi.ReasonOther
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
