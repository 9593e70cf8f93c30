package auditapi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-kit/log/level"
)

// Pages calls fn with every page of q in turn, from page 1 (q.Page is
// ignored; a zero q.Size means MaxPageSize), until the API's answers agree
// that there is no more or fn returns more=false. It returns what it read,
// even with an error.
//
// Page numbers are computed here, never taken from the next links, which
// could send the credentials to another host or loop. Every page is asked
// for with q.Size: a server serving fewer events pages by its own size.
// Paging goes on while the next link, page.totalPages or totalElements says
// there is more; a page for which none does is the last if it is short of
// the served size or its page block has totals (without them, a full page
// takes one more request to tell). An empty page or a 404 after page 1 ends
// the walk: a page past the end may be either. Comparing Listing.Events
// with Listing.TotalElements tells whether the API served all it counted.
func (c *Client) Pages(ctx context.Context, q Query, fn func(*Page) (more bool, err error)) (Listing, error) {
	q.Size = cmp.Or(q.Size, MaxPageSize)
	w := walk{asked: q.Size, l: Listing{TotalElements: -1}}
	var prevIDs []string
	for n := 1; ; n++ {
		if n > c.cfg.MaxPages {
			return w.l, &Error{Endpoint: EndpointList, Reason: ReasonPageLimit, op: fmt.Sprintf("fetching events page %d", n),
				Message: fmt.Sprintf("more than %d pages; narrow the query or raise the page limit", c.cfg.MaxPages)}
		}
		q.Page = n
		p, err := c.ListPage(ctx, q)
		switch {
		case n > 1 && errors.Is(err, ErrNotFound):
			return w.l, nil
		case err != nil:
			return w.l, err
		}
		w.l.Pages++
		if p.numbered && p.Number != n {
			w.l.PageNumberMismatches++
			level.Debug(c.cfg.Logger).Log("msg", "Audit API page number differs from the one asked for", "asked", n, "got", p.Number)
		}
		ids := make([]string, len(p.Events))
		for i := range p.Events {
			ids[i] = p.Events[i].ID
		}
		if len(ids) > 0 && slices.Equal(ids, prevIDs) {
			return w.l, &Error{Endpoint: EndpointList, Reason: ReasonDecode, op: fmt.Sprintf("fetching events page %d", n),
				Message: fmt.Sprintf("the API ignored the page parameter: page %d has the same events as page %d", n, n-1)}
		}
		w.l.Events += len(p.Events)
		if p.HasTotalElements {
			w.l.TotalElements = p.TotalElements
		}
		more, err := fn(p)
		if err != nil {
			return w.l, fmt.Errorf("handling events page %d: %w", n, err)
		}
		// The page teaches the served size even when fn has had enough.
		if last := w.last(p, n); last || !more {
			w.l.Stopped = !last
			return w.l, nil
		}
		prevIDs = ids
	}
}

// walk is the state of one Pages walk.
type walk struct {
	l     Listing
	asked int // the page size asked for
	// pageSize is page.size while every page said the same; -1 after.
	pageSize int
}

// last reports whether page n, already counted, ends the walk, and learns
// the page size the API serves from it.
func (w *walk) last(p *Page, n int) bool {
	switch {
	case w.pageSize == 0:
		w.pageSize = p.Size
	case w.pageSize != p.Size:
		w.pageSize = -1
	}
	count := len(p.Events)
	if count == 0 {
		return true
	}
	more := p.HasNext ||
		(p.TotalPages > 0 && (n < p.TotalPages || (p.numbered && p.Number < p.TotalPages))) ||
		(p.HasTotalElements && w.l.Events < p.TotalElements)
	expect := w.l.PageSize
	if expect == 0 {
		expect = w.asked
		if w.pageSize > 0 && w.pageSize < w.asked {
			expect = w.pageSize
		}
	}
	if !more && (count < expect || p.TotalPages > 0 || p.HasTotalElements) {
		return true
	}
	w.l.PageSize = max(w.l.PageSize, w.served(count))
	return false
}

// served is the page size a page of count events shows, taking page.size
// when every page has said the same and it is below the size asked (at or
// above it, page.size may only echo the request).
func (w *walk) served(count int) int {
	if w.pageSize > 0 && w.pageSize < w.asked && w.pageSize >= count {
		return w.pageSize
	}
	return count
}
