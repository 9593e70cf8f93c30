package simulator

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const (
	defaultPageSize = 30
	maxPageSize     = 100
)

// listQuery is a parsed GET /events query.
type listQuery struct {
	types      []string
	from, to   time.Time
	searchText []byte
	page, size int
}

// parseListQuery reads q as a server with the given date precision and
// page cap would.
func parseListQuery(q url.Values, precision DatePrecision, pageCap int) (listQuery, error) {
	lq := listQuery{page: 1, size: defaultPageSize}
	for _, v := range q["event_type"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				lq.types = append(lq.types, t)
			}
		}
	}
	var err error
	if v := q.Get("date_from"); v != "" {
		if lq.from, err = parseDate(v, precision, false); err != nil {
			return lq, fmt.Errorf("invalid date_from %q: %w", v, err)
		}
	}
	if v := q.Get("date_to"); v != "" {
		if lq.to, err = parseDate(v, precision, true); err != nil {
			return lq, fmt.Errorf("invalid date_to %q: %w", v, err)
		}
	}
	if v := q.Get("search_text"); v != "" {
		lq.searchText = bytes.ToLower([]byte(v))
	}
	if v := q.Get("page"); v != "" {
		if lq.page, err = strconv.Atoi(v); err != nil || lq.page < 1 {
			return lq, fmt.Errorf("invalid page %q: must be a number from 1", v)
		}
	}
	if v := q.Get("size"); v != "" {
		if lq.size, err = strconv.Atoi(v); err != nil || lq.size < 1 || lq.size > maxPageSize {
			return lq, fmt.Errorf("invalid size %q: must be a number from 1 to %d", v, maxPageSize)
		}
	}
	if pageCap > 0 {
		lq.size = min(lq.size, pageCap)
	}
	return lq, nil
}

// dateLayouts are the spellings of date_from and date_to that the docs and
// the Node SDK use; a value without a zone is UTC, and a date alone is its
// midnight.
var dateLayouts = []string{time.RFC3339Nano, createdAtLayout, time.DateOnly}

// parseDate reads a date bound at the given precision. Read by the day, a
// bound is its UTC date, and date_to (end) takes in its last second, since
// created_at has one-second resolution.
func parseDate(v string, precision DatePrecision, end bool) (time.Time, error) {
	if precision == DateOnlyPrecision && !isDateOnly(v) {
		return time.Time{}, errors.New("must be a date (yyyy-MM-dd) without a time of day")
	}
	for _, layout := range dateLayouts {
		t, err := time.Parse(layout, v)
		if err != nil {
			continue
		}
		t = t.UTC().Truncate(time.Second)
		if precision == SecondPrecision {
			return t, nil
		}
		day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		if end {
			return day.AddDate(0, 0, 1).Add(-time.Second), nil
		}
		return day, nil
	}
	return time.Time{}, errors.New("not an ISO-8601 date or date-time")
}

func isDateOnly(v string) bool {
	_, err := time.Parse(time.DateOnly, v)
	return err == nil
}

func (lq listQuery) match(st *stored, exclusive bool) bool {
	if len(lq.types) > 0 && !slices.Contains(lq.types, st.EventType) {
		return false
	}
	if !lq.from.IsZero() {
		if c := st.CreatedAt.Compare(lq.from); c < 0 || (exclusive && c == 0) {
			return false
		}
	}
	if !lq.to.IsZero() {
		if c := st.CreatedAt.Compare(lq.to); c > 0 || (exclusive && c == 0) {
			return false
		}
	}
	// The real API's matching is undocumented: a case-insensitive substring
	// of the event's JSON is the most lenient reading.
	return lq.searchText == nil || bytes.Contains(st.text(), lq.searchText)
}

type link struct {
	Href string `json:"href"`
}

type pageLinks struct {
	Self  link  `json:"self"`
	First link  `json:"first"`
	Prev  *link `json:"prev,omitempty"`
	Next  *link `json:"next,omitempty"`
	Last  link  `json:"last"`
}

type embedded struct {
	Events []wireEvent `json:"events"`
}

type pageAnswer struct {
	Embedded *embedded `json:"_embedded,omitempty"`
	Links    pageLinks `json:"_links"`
	Page     ordered   `json:"page"`
}

// ordered is a JSON object that keeps its keys in the order given, so that
// the page block reads like the API's whatever the page number is called.
type ordered []keyValue

type keyValue struct {
	key   string
	value int
}

func (o ordered) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", kv.key, kv.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// serveList answers GET /events at the API's time now. The page is cut from
// the filtered, visible and ordered set as it is at request time, so events
// added between two requests shift the pages as they would on the real API.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, now time.Time) {
	q := r.URL.Query()
	lq, err := parseListQuery(q, s.opts.DatePrecision, s.opts.PageCap)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	exclusive := s.opts.ExclusiveDateBounds && s.opts.DatePrecision == SecondPrecision
	// Only the page's events are copied: copying every match, thousands of
	// events per request, cost more than all else a test does.
	s.mu.Lock()
	var matched []int
	for i := range s.events {
		if st := &s.events[i]; visible(&st.Event, now) && lq.match(st, exclusive) {
			matched = append(matched, i)
		}
	}
	if s.opts.Order == NewestFirst {
		slices.Reverse(matched)
	}
	total := len(matched)
	totalPages := (total + lq.size - 1) / lq.size
	var page []Event
	if lq.page <= totalPages {
		start := (lq.page - 1) * lq.size
		for _, i := range matched[start:min(start+lq.size, total)] {
			page = append(page, s.events[i].Event)
		}
	}
	s.mu.Unlock()

	if last := max(totalPages, 1); s.opts.PastEndNotFound && lq.page > last {
		writeError(w, http.StatusNotFound, fmt.Sprintf("Page %d not found: the last page is %d", lq.page, last))
		return
	}
	base := s.baseURL(r)
	ans := pageAnswer{
		Links: s.pageLinks(base, q, lq, totalPages),
		Page: ordered{
			{"size", lq.size},
			{"totalElements", total},
			{"totalPages", totalPages},
			{s.opts.PageNumberKey, lq.page},
		},
	}
	if lq.page <= totalPages {
		ans.Embedded = &embedded{Events: make([]wireEvent, len(page))}
		for i, e := range page {
			ans.Embedded.Events[i] = e.withSelf(base+"/events/"+e.ID, s.opts.CreatedAtFormat)
		}
	}
	body, err := marshal(ans)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding page: "+err.Error())
		return
	}
	if s.takeTruncate() {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/hal+json;charset=UTF-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// pageLinks builds the HAL links, keeping the request's filters in them.
func (s *Server) pageLinks(base string, q url.Values, lq listQuery, totalPages int) pageLinks {
	href := func(page int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" && k != "size" {
				v[k] = vs
			}
		}
		v.Set("page", strconv.Itoa(page))
		v.Set("size", strconv.Itoa(lq.size))
		return base + "/events?" + v.Encode()
	}
	last := max(totalPages, 1)
	l := pageLinks{
		Self:  link{href(lq.page)},
		First: link{href(1)},
		Last:  link{href(last)},
	}
	if lq.page > 1 {
		l.Prev = &link{href(min(lq.page-1, last))}
	}
	if lq.page < totalPages {
		l.Next = &link{href(lq.page + 1)}
	}
	return l
}
