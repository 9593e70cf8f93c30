package auditapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// queryTimeLayout is what the official SDK sends: no zone, read as UTC.
const queryTimeLayout = "2006-01-02T15:04:05"

func (q Query) values() (url.Values, error) {
	if q.Size < 0 || q.Size > MaxPageSize {
		return nil, fmt.Errorf("page size %d is out of range 1 to %d", q.Size, MaxPageSize)
	}
	if q.Page < 0 {
		return nil, fmt.Errorf("page %d is out of range: pages start at 1", q.Page)
	}
	v := url.Values{}
	if len(q.EventTypes) > 0 {
		v.Set("event_type", strings.Join(q.EventTypes, ","))
	}
	layout := queryTimeLayout
	if q.DateOnly {
		layout = time.DateOnly
	}
	if !q.From.IsZero() {
		v.Set("date_from", q.From.UTC().Format(layout))
	}
	if !q.To.IsZero() {
		v.Set("date_to", q.To.UTC().Format(layout))
	}
	if q.SearchText != "" {
		v.Set("search_text", q.SearchText)
	}
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.Size > 0 {
		v.Set("size", strconv.Itoa(q.Size))
	}
	return v, nil
}

// ListPage fetches one page of GET /events, with retries. Zero Page and
// Size are left out of the request (the API then uses 1 and 30).
func (c *Client) ListPage(ctx context.Context, q Query) (*Page, error) {
	op := "fetching events"
	if q.Page > 0 {
		op = fmt.Sprintf("fetching events page %d", q.Page)
	}
	v, err := q.values()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var page *Page
	err = c.call(ctx, EndpointList, op, http.MethodGet, c.endpointURL(v, "events"), func(r *response) error {
		if r.status == http.StatusNoContent {
			page = &Page{Date: r.date, Received: r.received}
			return nil
		}
		p, err := DecodePage(r.body)
		if p != nil {
			p.Date, p.Received = r.date, r.received
		}
		page = p
		return err
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// Pages calls fn with every page of q in turn, from page 1 (q.Page is
// ignored; a zero q.Size means MaxPageSize).
//
// The page numbers are computed here, never taken from the next links, so
// that the credentials cannot be sent to another host and a link pointing
// back cannot loop. Paging stops at a short page, or at a full one that both
// the page block and the missing next link call the last: the API's page
// metadata is not documented well enough to trust one signal alone.
//
// With Config.MaxConcurrency above 1 and a pinned window (q.To set), a
// backfill goes faster: once page 1 has told how many pages there are,
// pages 2 to the last are fetched that many at a time, and fn may see them
// out of order (never two at once). Pages go on one by one after that batch
// while they are full, in case the metadata was short. If a page of the
// batch reports another total than page 1 did, the result set changed under
// the batch and the pages may have shifted, so that an event could fall
// between two of them: the pages after the first are then read again, one
// by one, which can only read an event twice, never miss one. Callers
// dedupe by id in any case.
func (c *Client) Pages(ctx context.Context, q Query, fn func(*Page) error) error {
	if q.Size == 0 {
		q.Size = MaxPageSize
	}
	first, err := c.page(ctx, q, 1, fn)
	if err != nil || first.lastOf(q.Size) {
		return err
	}
	next, prev := 2, first
	if n := c.batchEnd(q, first); n >= 2 {
		last, err := c.batch(ctx, q, first, n, fn)
		if err != nil {
			return err
		}
		if last != nil {
			if last.lastOf(q.Size) {
				return nil
			}
			next, prev = n+1, last
		}
	}
	prevIDs := pageIDs(prev)
	for n := next; ; n++ {
		p, err := c.page(ctx, q, n, nil)
		if err != nil {
			return err
		}
		ids := pageIDs(p)
		if ids != nil && slices.Equal(ids, prevIDs) {
			return ignoredPageError(n)
		}
		if err := fn(p); err != nil {
			return fmt.Errorf("handling events page %d: %w", n, err)
		}
		if p.lastOf(q.Size) {
			return nil
		}
		prevIDs = ids
	}
}

// page fetches page n within the page limit, and hands it to fn if fn is
// not nil.
func (c *Client) page(ctx context.Context, q Query, n int, fn func(*Page) error) (*Page, error) {
	if n > c.maxPages {
		return nil, &Error{Endpoint: EndpointList, Reason: ReasonOther, op: "fetching events",
			Message: fmt.Sprintf("more than %d pages; narrow the query or raise the page limit", c.maxPages)}
	}
	q.Page = n
	p, err := c.ListPage(ctx, q)
	if err != nil {
		return nil, err
	}
	p.full = len(p.Events) >= q.Size
	if fn != nil {
		if err := fn(p); err != nil {
			return nil, fmt.Errorf("handling events page %d: %w", n, err)
		}
	}
	return p, nil
}

// lastOf reports whether paging stops after p.
func (p *Page) lastOf(size int) bool {
	return !p.full || (p.lastByMetadata(size) && !p.HasNext)
}

func ignoredPageError(n int) error {
	return &Error{Endpoint: EndpointList, Reason: ReasonDecode, op: fmt.Sprintf("fetching events page %d", n),
		Message: fmt.Sprintf("the API ignored the page parameter: page %d has the same events as page %d", n, n-1)}
}

// pageIDs lists the ids of a full page, to tell whether the API ignored the
// page parameter; nil for a short page, which ends paging anyway.
func pageIDs(p *Page) []string {
	if !p.full {
		return nil
	}
	ids := make([]string, len(p.Events))
	for i := range p.Events {
		ids[i] = p.Events[i].ID
	}
	return ids
}

// batchEnd returns the last page to fetch concurrently after first, or 0
// for none: only with concurrency, a pinned window and a page block whose
// totals agree with each other and with the page.
func (c *Client) batchEnd(q Query, first *Page) int {
	if c.maxConcurrency < 2 || q.To.IsZero() || !first.HasTotalElements || first.Number != 1 ||
		first.TotalPages < 2 || first.TotalPages != (first.TotalElements+q.Size-1)/q.Size {
		return 0
	}
	return min(first.TotalPages, c.maxPages)
}

// batch fetches pages 2 to n, up to MaxConcurrency at a time, and returns
// page n; or nil when a page reported another total than first, or came
// short before n, so that the batch cannot be trusted to have missed
// nothing.
func (c *Client) batch(ctx context.Context, q Query, first *Page, n int, fn func(*Page) error) (*Page, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.maxConcurrency)
	var (
		mu      sync.Mutex // serialises fn and guards the rest
		shifted bool
		last    *Page
	)
	// One hash of the ids per page, to find a page equal to the one
	// before it without keeping every page.
	hashes := make([]uint64, n+1)
	hashes[1] = idsHash(first)
	for k := 2; k <= n; k++ {
		g.Go(func() error {
			p, err := c.page(gctx, q, k, nil)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if p.TotalElements != first.TotalElements || !p.HasTotalElements || (k < n && !p.full) {
				shifted = true
			}
			hashes[k] = idsHash(p)
			if k == n {
				last = p
			}
			if err := fn(p); err != nil {
				return fmt.Errorf("handling events page %d: %w", k, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for k := 2; k <= n; k++ {
		if hashes[k] != 0 && hashes[k] == hashes[k-1] {
			return nil, ignoredPageError(k)
		}
	}
	if shifted {
		return nil, nil
	}
	return last, nil
}

// idsHash hashes the ids of a full page; 0 for a short one.
func idsHash(p *Page) uint64 {
	if !p.full {
		return 0
	}
	h := fnv.New64a()
	for i := range p.Events {
		h.Write([]byte(p.Events[i].ID))
		h.Write([]byte{0})
	}
	return h.Sum64() | 1
}

// lastByMetadata reports whether the page block calls this the last page.
// Missing metadata never does.
func (p *Page) lastByMetadata(size int) bool {
	if p.Number <= 0 || p.TotalPages <= 0 || p.Number < p.TotalPages {
		return false
	}
	return !p.HasTotalElements || p.TotalElements <= p.Number*size
}

// GetEvent fetches one event. An unknown id gives an error matching
// errors.Is(err, ErrNotFound).
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	op := fmt.Sprintf("fetching event %q", id)
	if id == "" {
		return nil, errors.New("fetching event: empty id")
	}
	var ev Event
	err := c.call(ctx, EndpointGet, op, http.MethodGet, c.endpointURL(nil, "events", id), func(r *response) error {
		if !isObject(r.body) {
			return errNotObject
		}
		return json.Unmarshal(r.body, &ev)
	})
	if err != nil {
		return nil, err
	}
	return &ev, nil
}

// EventTypes lists the event types the API knows (OPTIONS /events). The
// list is a hint: events of other types exist. A 204 or an empty answer
// gives nil and no error.
func (c *Client) EventTypes(ctx context.Context) ([]EventType, error) {
	var types []EventType
	err := c.call(ctx, EndpointOptions, "listing event types", http.MethodOptions, c.endpointURL(nil, "events"), func(r *response) error {
		t, err := decodeEventTypes(r.body)
		types = t
		return err
	})
	if err != nil {
		return nil, err
	}
	return types, nil
}
