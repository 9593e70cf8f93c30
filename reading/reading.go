// Package reading learns what an account's Audit API does where its docs
// leave it open (the page size it serves, how it reads date_from and
// date_to, the order of events, its clock) and reads a time window of events
// exactly under whatever it learned.
//
// The docs are read as loosely as a real server may read them: a short page
// is not the end while the API's own metadata says more; a time of day may be
// honoured, ignored or refused; the API's clock is not ours. Whatever the API
// does, a window is read in full, or the read says what went wrong.
package reading

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// Precision is how the API reads the date bounds of a query.
type Precision string

// Date precisions, as exported and printed.
const (
	// PrecisionUnknown: no event yet to tell by; windows are read as whole
	// days, which is right under every reading.
	PrecisionUnknown Precision = "unknown"
	// PrecisionSecond: a time of day is honoured to the second.
	PrecisionSecond Precision = "second"
	// PrecisionDay: a time of day is refused or ignored; windows are read
	// as whole days and cut to the second here.
	PrecisionDay Precision = "day"
)

// Order is the order of events in the API's pages.
type Order string

// Orders, as exported and printed.
const (
	OrderUnknown Order = "unknown"
	NewestFirst  Order = "newest_first"
	OldestFirst  Order = "oldest_first"
)

// Inconsistency kinds: the label values of
// vonage_audit_api_inconsistencies_total.
const (
	// KindShortRead: a walk read fewer distinct events than the API said
	// the window holds. The poll fails and the window is read again.
	KindShortRead = "short_read"
	// KindPageNumber: a page came back numbered other than asked.
	KindPageNumber = "page_number"
	// KindOutOfWindow: events outside the asked window came back, so the
	// API ignores the time of day: windows are read as whole days since.
	KindOutOfWindow = "out_of_window"
	// KindOrder: a page contradicted the order learned; pages are read to
	// the end until the order is clear again.
	KindOrder = "order"
	// KindPageLimit: a walk reached the page limit without reaching the
	// end. The poll fails.
	KindPageLimit = "page_limit"
	// KindFutureCursor: a saved cursor or floor was ahead of the API's
	// clock, so it was not trusted.
	KindFutureCursor = "future_cursor"
)

// Kinds lists every inconsistency kind, for zero-initialised counters.
var Kinds = []string{KindShortRead, KindPageNumber, KindOutOfWindow, KindOrder, KindPageLimit, KindFutureCursor}

// API is the part of the Audit API client a Reader uses.
type API interface {
	ListPage(ctx context.Context, q auditapi.Query) (*auditapi.Page, error)
}

// Reading is what the API was seen to do.
type Reading struct {
	Precision Precision
	// TimeAccepted is false once the API refused a time of day (400).
	TimeAccepted bool
	Order        Order
	// PageSize is the largest page the API served; 0 before any page.
	PageSize int
	// Skew is the API's clock minus ours, known once an answer had a Date.
	Skew      time.Duration
	SkewKnown bool
	// TotalEvents is the totalElements of the last listing without date
	// bounds; -1 before one.
	TotalEvents int
}

// Reader reads windows of one account's events. It is not safe for
// concurrent use: one poll at a time.
type Reader struct {
	api        API
	eventTypes []string
	now        func() time.Time
	logger     log.Logger
	maxPages   int
	// concurrency is Options.MaxConcurrency, at least 1.
	concurrency int

	r Reading
	// learnedAt is when Learn's first answer came, by the API's clock.
	learnedAt time.Time
	// noted are inconsistencies found outside a walk's own checks (by
	// observe, in Learn too), handed over with the next Read's result.
	noted []Inconsistency
	// timeTested: whether a time of day is refused has been asked.
	timeTested bool
	// lastPage is the last page number of the previous oldest-first walk,
	// where the newest events were: the next walk starts there.
	lastPage int
}

// Options configure a Reader.
type Options struct {
	// EventTypes is the account's event type filter; empty: all types.
	EventTypes []string
	// Now is the local clock; nil means time.Now.
	Now    func() time.Time
	Logger log.Logger
	// MaxPages bounds the pages one walk reads; 0 means DefaultMaxPages.
	MaxPages int
	// MaxConcurrency is how many pages a walk that reads a window to its
	// end fetches at once, once its first page has told how many there
	// are (a backfill); 0 or 1: one at a time.
	MaxConcurrency int
}

// DefaultMaxPages is the page limit of one walk: 500,000 events at the
// documented page size of 100. A poll holds the events it read until it
// ends, so the limit bounds its memory too.
const DefaultMaxPages = 5000

// New returns a Reader that has learned nothing yet.
func New(api API, o Options) *Reader {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	return &Reader{
		api: api, eventTypes: o.EventTypes, now: o.Now, logger: o.Logger, maxPages: o.MaxPages,
		concurrency: max(o.MaxConcurrency, 1),
		r:           Reading{Precision: PrecisionUnknown, Order: OrderUnknown, TimeAccepted: true, TotalEvents: -1},
	}
}

// Reading returns what has been learned so far.
func (rd *Reader) Reading() Reading { return rd.r }

// Now is the API's clock as far as known: ours plus the skew.
func (rd *Reader) Now() time.Time { return rd.now().Add(rd.r.Skew) }

// Learned tells whether Learn has told the date precision.
func (rd *Reader) Learned() bool { return rd.r.Precision != PrecisionUnknown }

// apiTime is when an answer came, by the API's clock.
func (rd *Reader) apiTime(p *auditapi.Page) time.Time {
	switch {
	case !p.Date.IsZero():
		return p.Date
	case p.Received.IsZero():
		return time.Time{}
	}
	return p.Received.Add(rd.r.Skew)
}

// Learn reads a page without date bounds, and then a window of three
// seconds around its newest event: the first tells the page size served,
// the order and the clock, the second whether a time of day is honoured,
// ignored or refused. When the first page cannot tell the order and there
// are more, the last page is read too. With no event to tell the
// precision by, it asks once whether a time of day is refused. It costs at
// most 3 requests.
func (rd *Reader) Learn(ctx context.Context) error {
	all := auditapi.Query{EventTypes: rd.eventTypes, Page: 1, Size: auditapi.MaxPageSize}
	p, err := rd.list(ctx, all)
	if err != nil {
		return fmt.Errorf("learning how the audit API pages: %w", err)
	}
	rd.learnedAt = rd.apiTime(p)
	if p.HasTotalElements {
		rd.r.TotalEvents = p.TotalElements
	} else {
		rd.r.TotalEvents = len(p.Events)
	}
	sample, ok := newest(p.Events)
	if !ok {
		return rd.learnTimeAccepted(ctx)
	}
	if rd.r.Order == OrderUnknown && p.TotalPages > 1 {
		all.Page = p.TotalPages
		last, err := rd.list(ctx, all)
		if err != nil {
			return fmt.Errorf("learning the order of the audit API's pages: %w", err)
		}
		if o, found := newest(last.Events); found {
			switch {
			case o.CreatedAt.Before(sample.CreatedAt):
				rd.r.Order = NewestFirst
			case o.CreatedAt.After(sample.CreatedAt):
				rd.r.Order = OldestFirst
				sample = o
			}
		}
	}
	rd.timeTested = true
	t := sample.CreatedAt.UTC().Truncate(time.Second)
	q := auditapi.Query{EventTypes: rd.eventTypes, From: t.Add(-time.Second), To: t.Add(time.Second), Page: 1, Size: auditapi.MaxPageSize}
	p, err = rd.list(ctx, q)
	switch {
	case auditapi.Reason(err) == auditapi.ReasonBadRequest:
		rd.setPrecision(PrecisionDay, "the API refused a time of day in date_from and date_to")
		rd.r.TimeAccepted = false
		return nil
	case err != nil:
		return fmt.Errorf("learning how the audit API reads dates: %w", err)
	}
	found, outside := false, false
	for i := range p.Events {
		e := &p.Events[i]
		found = found || e.ID == sample.ID
		outside = outside || (!e.CreatedAt.IsZero() && !within(e.CreatedAt, q.From, q.To))
	}
	switch {
	case outside:
		rd.setPrecision(PrecisionDay, "the API ignores the time of day in date_from and date_to")
	case !found:
		rd.setPrecision(PrecisionDay, "a window of three seconds around an event did not return it: the API reads times of day otherwise than created_at")
	default:
		rd.setPrecision(PrecisionSecond, "")
	}
	return nil
}

// learnTimeAccepted asks, once, for a window with times of day when there
// is no event to learn the precision from, to tell whether the API refuses
// them; the precision stays unknown until an event tells it.
func (rd *Reader) learnTimeAccepted(ctx context.Context) error {
	if rd.timeTested {
		return nil
	}
	now := rd.Now().UTC().Truncate(time.Second)
	_, err := rd.list(ctx, auditapi.Query{EventTypes: rd.eventTypes, From: now.Add(-time.Hour), To: now, Page: 1, Size: 1})
	switch {
	case auditapi.Reason(err) == auditapi.ReasonBadRequest:
		rd.r.TimeAccepted = false
	case err != nil:
		return fmt.Errorf("learning whether the audit API takes a time of day: %w", err)
	}
	rd.timeTested = true
	return nil
}

func (rd *Reader) setPrecision(p Precision, why string) {
	if rd.r.Precision == p {
		return
	}
	rd.r.Precision = p
	if p == PrecisionDay {
		level.Warn(rd.logger).Log("msg", "Reading windows as whole UTC days and cutting them to the second here", "reason", why)
		return
	}
	level.Info(rd.logger).Log("msg", "The Audit API honours a time of day in date_from and date_to", "date_precision", p)
}

// list fetches one page and learns from it.
func (rd *Reader) list(ctx context.Context, q auditapi.Query) (*auditapi.Page, error) {
	p, err := rd.api.ListPage(ctx, q)
	if err != nil {
		return nil, err
	}
	rd.observe(p)
	return p, nil
}

// observe learns the clock, the page size and the order from an answer.
func (rd *Reader) observe(p *auditapi.Page) {
	if !p.Date.IsZero() && !p.Received.IsZero() {
		// The Date header is cut to the second: the API's clock was in
		// [Date, Date+1s) when it answered.
		rd.r.Skew = p.Date.Add(500 * time.Millisecond).Sub(p.Received).Round(time.Millisecond)
		rd.r.SkewKnown = true
	}
	if n := len(p.Events); n > rd.r.PageSize {
		rd.r.PageSize = n
	}
	switch o := orderOf(p.Events); {
	case o == OrderUnknown:
	case rd.r.Order == OrderUnknown:
		rd.r.Order = o
		level.Debug(rd.logger).Log("msg", "Learned the order of the Audit API's pages", "order", o)
	case rd.r.Order != o:
		rd.noted = append(rd.noted, Inconsistency{Kind: KindOrder,
			Detail: fmt.Sprintf("a page was %s where the pages before were %s", o, rd.r.Order)})
		level.Warn(rd.logger).Log("msg", "A page of the Audit API contradicts the order learned; reading pages to the end until it is clear again", "learned", rd.r.Order, "page", o)
		rd.r.Order = OrderUnknown
	}
}

// orderOf tells the order of a page's events by their creation times;
// unknown when they are all equal, or when they go both ways.
func orderOf(events []auditapi.Event) Order {
	up, down := false, false
	var prev time.Time
	for i := range events {
		t := events[i].CreatedAt
		if t.IsZero() {
			continue
		}
		if !prev.IsZero() {
			up = up || t.After(prev)
			down = down || t.Before(prev)
		}
		prev = t
	}
	switch {
	case up && !down:
		return OldestFirst
	case down && !up:
		return NewestFirst
	}
	return OrderUnknown
}

// newest returns the event with the latest creation time.
func newest(events []auditapi.Event) (auditapi.Event, bool) {
	var best auditapi.Event
	for _, e := range events {
		if !e.CreatedAt.IsZero() && e.ID != "" && (best.ID == "" || e.CreatedAt.After(best.CreatedAt)) {
			best = e
		}
	}
	return best, best.ID != ""
}

func within(t, from, to time.Time) bool { return !t.Before(from) && !t.After(to) }

// Inconsistency is something the API said that does not add up.
type Inconsistency struct {
	Kind   string
	Detail string
}

// InconsistencyError fails a read whose window may not have been read in
// full; what it read is still handed over, and the window can be read again.
type InconsistencyError struct {
	Inconsistency
}

func (e *InconsistencyError) Error() string { return e.Kind + ": " + e.Detail }

// KindOf returns the inconsistency kind behind err, or "".
func KindOf(err error) string {
	if ie, ok := errors.AsType[*InconsistencyError](err); ok {
		return ie.Kind
	}
	if auditapi.Reason(err) == auditapi.ReasonPageLimit {
		return KindPageLimit
	}
	return ""
}
