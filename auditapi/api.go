package auditapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
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
	if !q.From.IsZero() {
		v.Set("date_from", q.From.UTC().Format(queryTimeLayout))
	}
	if !q.To.IsZero() {
		v.Set("date_to", q.To.UTC().Format(queryTimeLayout))
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
			page = &Page{}
			return nil
		}
		p, err := decodePage(r.body)
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
func (c *Client) Pages(ctx context.Context, q Query, fn func(*Page) error) error {
	if q.Size == 0 {
		q.Size = MaxPageSize
	}
	var prevIDs []string
	for n := 1; ; n++ {
		if n > c.maxPages {
			return &Error{Endpoint: EndpointList, Reason: ReasonOther, op: "fetching events",
				Message: fmt.Sprintf("more than %d pages; narrow the query or raise the page limit", c.maxPages)}
		}
		q.Page = n
		p, err := c.ListPage(ctx, q)
		if err != nil {
			return err
		}
		full := len(p.Events) >= q.Size
		var ids []string
		if full {
			ids = make([]string, len(p.Events))
			for i := range p.Events {
				ids[i] = p.Events[i].ID
			}
			if prevIDs != nil && slices.Equal(ids, prevIDs) {
				return &Error{Endpoint: EndpointList, Reason: ReasonDecode, op: fmt.Sprintf("fetching events page %d", n),
					Message: fmt.Sprintf("the API ignored the page parameter: page %d has the same events as page %d", n, n-1)}
			}
		}
		if err := fn(p); err != nil {
			return fmt.Errorf("handling events page %d: %w", n, err)
		}
		if !full || (p.lastByMetadata(q.Size) && !p.HasNext) {
			return nil
		}
		prevIDs = ids
	}
}

// lastByMetadata reports whether the page block calls this the last page.
// Missing metadata never does.
func (p *Page) lastByMetadata(size int) bool {
	if p.Number <= 0 || p.TotalPages <= 0 || p.Number < p.TotalPages {
		return false
	}
	return !p.hasTotalElements || p.TotalElements <= p.Number*size
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
