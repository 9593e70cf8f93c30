package reading

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// Window is what one poll reads: events created from From to To, both
// included, in the API's time, to the second.
type Window struct {
	From, To time.Time
}

// Result tells how far a read got.
type Result struct {
	// ReadTo is how far the cursor may move: every event of the window
	// created up to it has been handed over. Zero: the cursor stays.
	ReadTo time.Time
	// Inconsistencies are what the API said that did not add up, and that
	// the read overcame.
	Inconsistencies []Inconsistency
}

// Read hands every event of w to visit at least once, reading it as Learn
// found the API to read dates (Learn must have run once before): pages shift while
// they are read, so an event may come twice, and events outside w may come
// too (whole days are read when the API reads dates so). The caller keeps
// the window's events and dedupes them by id. visit runs one call at a
// time, also while pages are fetched at once (Options.MaxConcurrency).
//
// On error, what was handed over stays handed over: the caller keeps its
// counts and reads the window again.
func (rd *Reader) Read(ctx context.Context, w Window, visit func(*auditapi.Event)) (Result, error) {
	wk := &walk{rd: rd, w: w, visit: visit, ids: map[string]struct{}{}}
	err := wk.run(ctx)
	res := Result{Inconsistencies: append(rd.noted, wk.found...)}
	rd.noted = nil
	if err == nil {
		res.ReadTo = wk.clockAt()
	}
	return res, err
}

// walk is one Read.
type walk struct {
	rd    *Reader
	w     Window
	visit func(*auditapi.Event)
	// first is the walk's first answer: events created before its Date
	// existed when the walk began, so the walk reads them all.
	first *auditapi.Page
	// ids are those of the pages taken; elements counts the events of the
	// listing that were read: each event once, but for an id that came on
	// an earlier page again (a page shift), so that id-less events and an
	// id the API itself lists twice count as the API counts them.
	ids      map[string]struct{}
	elements int
	pages    int
	found    []Inconsistency
	// at is when the walk began by the API's clock, when no page of its
	// own tells.
	at time.Time
	// unstable: the walk cannot tell it read everything it began with, so
	// the cursor stays.
	unstable bool
}

func (wk *walk) run(ctx context.Context) error {
	rd := wk.rd
	switch rd.r.Precision {
	case PrecisionUnknown:
		if rd.r.TotalEvents == 0 {
			// Learn found not one event of the account's types: nothing to
			// read, up to when it asked.
			wk.at = rd.learnedAt
			return nil
		}
	case PrecisionSecond:
		err := wk.second(ctx)
		if auditapi.Reason(err) != auditapi.ReasonBadRequest {
			return err
		}
		rd.setPrecision(PrecisionDay, "the API refused a time of day in date_from and date_to")
		rd.r.TimeAccepted = false
		wk.relist()
	}
	return wk.day(ctx)
}

// relist starts the count of the listing's events again, for another
// listing of the same window (whole days instead of its seconds), so that
// the day walk's completeness is judged on its own pages.
func (wk *walk) relist() {
	wk.ids, wk.elements = map[string]struct{}{}, 0
}

// clockAt returns how far the walk read: the window's end, or, if the API's
// clock was behind it when the walk began, the last whole second before
// the first answer. Zero when a walk could not tell.
func (wk *walk) clockAt() time.Time {
	if wk.unstable {
		return time.Time{}
	}
	at := wk.at
	if wk.first != nil {
		at = wk.rd.apiTime(wk.first)
	}
	if at.IsZero() {
		at = wk.rd.Now()
	}
	at = at.UTC().Truncate(time.Second).Add(-time.Second)
	if at.After(wk.w.To) {
		return wk.w.To
	}
	return at
}

// take hands the events of a page over.
func (wk *walk) take(p *auditapi.Page) {
	if wk.first == nil {
		wk.first = p
	}
	for i := range p.Events {
		if _, again := wk.ids[p.Events[i].ID]; !again || p.Events[i].ID == "" {
			wk.elements++
		}
		wk.visit(&p.Events[i])
	}
	for i := range p.Events {
		wk.ids[p.Events[i].ID] = struct{}{}
	}
}

func (wk *walk) inconsistent(kind, format string, args ...any) {
	i := Inconsistency{Kind: kind, Detail: fmt.Sprintf(format, args...)}
	wk.found = append(wk.found, i)
	level.Warn(wk.rd.logger).Log("msg", "The Audit API's answers do not add up", "kind", kind, "detail", i.Detail,
		"window_from", wk.w.From.Format(time.RFC3339), "window_to", wk.w.To.Format(time.RFC3339))
}

// listed notes what a walk of auditapi.Pages saw.
func (wk *walk) listed(l auditapi.Listing) {
	wk.pages += l.Pages
	if l.PageNumberMismatches > 0 {
		wk.inconsistent(KindPageNumber, "%d pages came back numbered other than asked", l.PageNumberMismatches)
	}
}

// complete checks, after a walk to the end, that it read as many distinct
// events as the API said there were when it began.
func (wk *walk) complete(total int) error {
	if total < 0 || wk.elements >= total {
		return nil
	}
	return &InconsistencyError{Inconsistency{Kind: KindShortRead,
		Detail: fmt.Sprintf("read %d distinct events where the API counted %d", wk.elements, total)}}
}

// second reads the window with its times of day, one second wider on each
// side in case the API reads its bounds as exclusive.
func (wk *walk) second(ctx context.Context) error {
	q := auditapi.Query{EventTypes: wk.rd.eventTypes, From: wk.w.From.Add(-time.Second), To: wk.w.To.Add(time.Second), Size: auditapi.MaxPageSize}
	total, outside := -1, false
	_, err := wk.forward(ctx, q, true, func(p *auditapi.Page) bool {
		wk.rd.observe(p)
		if total < 0 && p.HasTotalElements {
			total = p.TotalElements
		}
		for i := range p.Events {
			if t := p.Events[i].CreatedAt; !t.IsZero() && !within(t, q.From, q.To) {
				outside = true
			}
		}
		wk.take(p)
		return !outside
	})
	switch {
	case err != nil:
		return err
	case outside:
		wk.inconsistent(KindOutOfWindow, "events created outside the asked window came back")
		wk.rd.setPrecision(PrecisionDay, "the API ignores the time of day in date_from and date_to")
		wk.relist()
		return wk.day(ctx)
	}
	return wk.complete(total)
}

// day reads the whole UTC days around the window, one more on each side so
// that neither an exclusive bound nor a day read in another time zone cuts
// the window short. Newest first, it stops at the first page that reaches
// back before the window; oldest first, it starts where the newest events
// are and walks back; in an unknown order it reads every page.
func (wk *walk) day(ctx context.Context) error {
	const day = 24 * time.Hour
	q := auditapi.Query{EventTypes: wk.rd.eventTypes, DateOnly: true, Size: auditapi.MaxPageSize,
		From: wk.w.From.UTC().Truncate(day).Add(-day), To: wk.w.To.UTC().Truncate(day).Add(day)}
	if wk.rd.r.Order == OldestFirst {
		return wk.backward(ctx, q)
	}
	total := -1
	stopped, err := wk.forward(ctx, q, wk.rd.r.Order == OrderUnknown, func(p *auditapi.Page) bool {
		wk.rd.observe(p)
		if total < 0 && p.HasTotalElements {
			total = p.TotalElements
		}
		wk.take(p)
		return wk.rd.r.Order != NewestFirst || !reachesBefore(p.Events, wk.w.From)
	})
	if err != nil || stopped {
		return err
	}
	return wk.complete(total)
}

// reachesBefore tells whether a newest-first page holds an event created
// before t after which every later page is older still: the page is newest
// first (or all of one second), and its last event is before t.
func reachesBefore(events []auditapi.Event, t time.Time) bool {
	if got := orderOf(events); got != NewestFirst && (got != OrderUnknown || mixed(events)) {
		return false
	}
	for _, e := range slices.Backward(events) {
		if !e.CreatedAt.IsZero() {
			return e.CreatedAt.Before(t)
		}
	}
	return false
}

// startsBefore tells whether an oldest-first page begins before t.
func startsBefore(events []auditapi.Event, t time.Time) bool {
	if got := orderOf(events); got == NewestFirst || mixed(events) {
		return false
	}
	for i := range events {
		if c := events[i].CreatedAt; !c.IsZero() {
			return c.Before(t)
		}
	}
	return false
}

// mixed tells whether a page's creation times go both ways.
func mixed(events []auditapi.Event) bool {
	up, down := false, false
	for i := 1; i < len(events); i++ {
		a, b := events[i-1].CreatedAt, events[i].CreatedAt
		if a.IsZero() || b.IsZero() {
			continue
		}
		up = up || b.After(a)
		down = down || b.Before(a)
	}
	return up && down
}

// page fetches page n of q within the page limit; nil when n is past the
// end and the API says so with a 404.
func (wk *walk) page(ctx context.Context, q auditapi.Query, n int) (*auditapi.Page, error) {
	if wk.pages >= wk.rd.maxPages {
		return nil, wk.pageLimit()
	}
	wk.pages++
	q.Page = n
	p, err := wk.rd.list(ctx, q)
	switch {
	case n > 1 && errors.Is(err, auditapi.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case p.Number > 0 && p.Number != n:
		wk.inconsistent(KindPageNumber, "asked for page %d, the API answered page %d", n, p.Number)
	}
	return p, nil
}

func (wk *walk) pageLimit() error {
	return &InconsistencyError{Inconsistency{Kind: KindPageLimit,
		Detail: fmt.Sprintf("the walk reached the limit of %d pages", wk.rd.maxPages)}}
}

// more tells whether the API says there are pages after page n.
func more(p *auditapi.Page, n, pageSize int) bool {
	return p.HasNext || n < p.TotalPages || (p.HasTotalElements && pageSize > 0 && n*pageSize < p.TotalElements)
}

// backward reads an oldest-first listing from the end: first forward from
// the page where the previous walk ended (the first walk: the last page
// page 1 tells of), to the last page, then back until a page begins before
// the window. Pages read going back shift if an
// event is inserted before them meanwhile (a late one), pushing one event
// onto the page above, read already: when the total grew between two
// pages, the page above is read again.
func (wk *walk) backward(ctx context.Context, q auditapi.Query) error {
	start := max(wk.rd.lastPage, 1)
	p, err := wk.page(ctx, q, start)
	if err != nil {
		return err
	}
	pastEnd := start > 1 && (p == nil || len(p.Events) == 0)
	// The first walk starts at the last page the API tells of; a later one
	// past the end finds fewer pages than last time (or a 404).
	if first := start == 1 && p != nil && p.TotalPages > 1; first || pastEnd {
		start = 1
		if p != nil && p.TotalPages > 0 {
			start = p.TotalPages
		}
		if p, err = wk.page(ctx, q, start); err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("reading page %d of the listing: the API answered 404 for a page within its own totalPages", start)
		}
	}
	wk.take(p)
	firstTotal, last := p.TotalElements, start
	for n := start; more(p, n, wk.rd.r.PageSize); n++ {
		next, err := wk.page(ctx, q, n+1)
		if err != nil {
			return err
		}
		if next == nil || len(next.Events) == 0 {
			break
		}
		p, last = next, n+1
		wk.take(p)
	}
	wk.rd.lastPage = last
	if p.HasTotalElements && wk.first.HasTotalElements && p.TotalElements < firstTotal {
		// Events went away while the walk went forward (old ones expiring),
		// shifting one it had not read onto a page it had: the cursor
		// stays, and the next poll reads again.
		wk.unstable = true
	}
	newer := wk.first
	for n := start - 1; n >= 1 && !startsBefore(newer.Events, wk.w.From); n-- {
		p, err := wk.page(ctx, q, n)
		if err != nil {
			return err
		}
		if p == nil {
			return fmt.Errorf("reading page %d of the listing: the API answered 404 for a page before one it served", n)
		}
		wk.take(p)
		if p.HasTotalElements && newer.HasTotalElements && p.TotalElements > newer.TotalElements {
			again, err := wk.page(ctx, q, n+1)
			if err != nil {
				return err
			}
			if again != nil {
				wk.take(again)
			}
		}
		newer = p
	}
	return nil
}
