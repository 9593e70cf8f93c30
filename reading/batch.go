package reading

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// forward reads q from page 1 on, handing each page to fn, until the API's
// answers agree that there is no more or fn returns false; it tells whether
// fn stopped it. Only a walk that reads a pinned window to its end (toEnd)
// fetches pages at once, with Options.MaxConcurrency above 1: fn never
// stops it.
func (wk *walk) forward(ctx context.Context, q auditapi.Query, toEnd bool, fn func(*auditapi.Page) bool) (stopped bool, err error) {
	pg := &pager{wk: wk, q: q, fn: fn}
	err = pg.run(ctx, toEnd && wk.rd.concurrency > 1)
	wk.listed(pg.l)
	return pg.stopped, err
}

// pager is a forward walk that, once page 1 has told how many pages there
// are, fetches the others up to Options.MaxConcurrency at a time: a backfill
// then takes about pages x latency / concurrency.
//
// Pages fetched at once are served at different moments: if the result set
// changes meanwhile, an event can move from a page not yet served onto one
// served already, and be missed. A change shows as another totalElements
// than page 1's, or as a short page before the last; then the pages after
// the first are read again one at a time, which can read an event twice
// (the caller dedupes by id) but never miss one.
type pager struct {
	wk *walk
	q  auditapi.Query
	fn func(*auditapi.Page) bool
	// mu serialises fn, which runs the caller's visit, and guards the rest
	// while a batch runs.
	mu sync.Mutex
	l  auditapi.Listing
	// served is the largest page of the walk.
	served  int
	stopped bool
}

func (pg *pager) run(ctx context.Context, atOnce bool) error {
	first, err := pg.fetch(ctx, 1)
	if err != nil {
		return err
	}
	pg.take(first, 1)
	end := 0
	if atOnce {
		end = pg.batchEnd(first)
	}
	if end < 2 {
		return pg.sequential(ctx, 2, first, len(first.Events))
	}
	last, events, shifted, err := pg.batch(ctx, first, end)
	switch {
	case err != nil:
		return err
	case shifted:
		// fn may have stopped on a page past an event the batch missed.
		pg.stopped = false
		return pg.sequential(ctx, 2, first, len(first.Events))
	}
	return pg.sequential(ctx, end+1, last, events)
}

// batchEnd returns the last page to fetch at once after first, within the
// page limit; below 2 for none. It takes page 1's totals only when they
// agree with each other and with the page served.
func (pg *pager) batchEnd(first *auditapi.Page) int {
	size := len(first.Events)
	if !first.HasTotalElements || first.TotalPages < 2 || size == 0 || (first.Number > 0 && first.Number != 1) ||
		first.TotalPages != (first.TotalElements+size-1)/size {
		return 0
	}
	return min(first.TotalPages, 1+pg.wk.rd.maxPages-pg.wk.pages-pg.l.Pages)
}

// batch fetches pages 2 to end, up to Options.MaxConcurrency at a time, and
// hands each to fn as it comes. It returns page end and the events of pages
// 1 to end; shifted when a page had another total than first, or came
// short before end, or was past the end.
func (pg *pager) batch(ctx context.Context, first *auditapi.Page, end int) (last *auditapi.Page, events int, shifted bool, err error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pg.wk.rd.concurrency)
	events = len(first.Events)
	pg.l.Pages += end - 1
	for n := 2; n <= end; n++ {
		g.Go(func() error {
			q := pg.q
			q.Page = n
			p, err := pg.wk.rd.api.ListPage(gctx, q)
			notFound := errors.Is(err, auditapi.ErrNotFound)
			if err != nil && !notFound {
				return err
			}
			pg.mu.Lock()
			defer pg.mu.Unlock()
			if notFound || !p.HasTotalElements || p.TotalElements != first.TotalElements || (n < end && len(p.Events) < len(first.Events)) {
				shifted = true
			}
			if notFound {
				return nil
			}
			if n == end {
				last = p
			}
			events += len(p.Events)
			pg.take(p, n)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, 0, false, fmt.Errorf("reading pages 2 to %d of the listing at once: %w", end, err)
	}
	return last, events, shifted, nil
}

// sequential reads pages from n on, one at a time, after prev (page n-1),
// by auditapi.Pages' rules: events are the events of pages 1 to n-1.
func (pg *pager) sequential(ctx context.Context, n int, prev *auditapi.Page, events int) error {
	prevIDs := ids(prev)
	for ; !pg.stopped && !pg.last(prev, n-1, events); n++ {
		p, err := pg.fetch(ctx, n)
		if err != nil || p == nil {
			return err
		}
		pageIDs := ids(p)
		if len(pageIDs) > 0 && slices.Equal(pageIDs, prevIDs) {
			return &auditapi.Error{Endpoint: auditapi.EndpointList, Reason: auditapi.ReasonDecode,
				Message: fmt.Sprintf("the API ignored the page parameter: page %d has the same events as page %d", n, n-1)}
		}
		events += len(p.Events)
		pg.take(p, n)
		prev, prevIDs = p, pageIDs
	}
	return nil
}

// fetch gets page n within the walk's page limit; nil when n is past the
// end and the API says so with a 404.
func (pg *pager) fetch(ctx context.Context, n int) (*auditapi.Page, error) {
	if pg.wk.pages+pg.l.Pages >= pg.wk.rd.maxPages {
		return nil, pg.wk.pageLimit()
	}
	pg.l.Pages++
	q := pg.q
	q.Page = n
	p, err := pg.wk.rd.api.ListPage(ctx, q)
	if n > 1 && errors.Is(err, auditapi.ErrNotFound) {
		return nil, nil
	}
	return p, err
}

// take hands page n to fn.
func (pg *pager) take(p *auditapi.Page, n int) {
	if p.Number > 0 && p.Number != n {
		pg.l.PageNumberMismatches++
	}
	pg.served = max(pg.served, len(p.Events))
	if !pg.fn(p) {
		pg.stopped = true
	}
}

// last tells whether page n ends the walk, events being those of pages 1
// to n: it is empty, or nothing says there is more and either the page is
// short of the served size or its totals say it is the last.
func (pg *pager) last(p *auditapi.Page, n, events int) bool {
	count := len(p.Events)
	if count == 0 {
		return true
	}
	more := p.HasNext || n < p.TotalPages || (p.Number > 0 && p.Number < p.TotalPages) ||
		(p.HasTotalElements && events < p.TotalElements)
	return !more && (count < max(pg.served, pg.wk.rd.r.PageSize) || p.TotalPages > 0 || p.HasTotalElements)
}

func ids(p *auditapi.Page) []string {
	out := make([]string, len(p.Events))
	for i := range p.Events {
		out[i] = p.Events[i].ID
	}
	return out
}
