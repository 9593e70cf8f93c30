package auditapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
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
	layout := queryTimeLayout
	if q.DateOnly {
		layout = time.DateOnly
	}
	v := url.Values{}
	set := func(key, value string, ok bool) {
		if ok {
			v.Set(key, value)
		}
	}
	set("event_type", strings.Join(q.EventTypes, ","), len(q.EventTypes) > 0)
	set("date_from", q.From.UTC().Format(layout), !q.From.IsZero())
	set("date_to", q.To.UTC().Format(layout), !q.To.IsZero())
	set("search_text", q.SearchText, q.SearchText != "")
	set("page", strconv.Itoa(q.Page), q.Page > 0)
	set("size", strconv.Itoa(q.Size), q.Size > 0)
	return v, nil
}

// ListPage fetches one page of GET /events, with retries. Zero Page and
// Size are left out of the request (the API then uses 1 and 30). An answer
// that is not a JSON object, or a page that its own page block says should
// hold events but holds none, fails with reason "decode" (and is retried,
// as a cut answer would be).
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
	err = c.call(ctx, EndpointList, op, http.MethodGet, c.endpointURL(v, "events"), func(r *response) (err error) {
		page = &Page{}
		if r.status != http.StatusNoContent {
			if page, err = DecodePage(r.body); err != nil {
				return err
			}
			// A broken answer, not the end of the list: by its own page block,
			// events reach this page.
			if n := max(q.Page, 1); len(page.Events) == 0 && n <= page.TotalPages && (n-1)*page.Size < page.TotalElements {
				return fmt.Errorf("page %d of %d holds no events while the page block counts %d", n, page.TotalPages, page.TotalElements)
			}
		}
		page.Date, page.Received = r.date, r.received
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
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
	err := c.call(ctx, EndpointOptions, "listing event types", http.MethodOptions, c.endpointURL(nil, "events"), func(r *response) (err error) {
		types, err = decodeEventTypes(r.body)
		return err
	})
	if err != nil {
		return nil, err
	}
	return types, nil
}
