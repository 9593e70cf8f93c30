package auditapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// pagingServer pages through n events built from a recorded one, with
// switches for the ways the undocumented metadata might behave.
type pagingServer struct {
	n                 int
	pageCap           int  // serves at most this many events a page when > 0, paging by it
	sizeEcho          bool // page.size repeats the size asked for, not the one served
	totalPagesByAsked bool // totalPages counts pages of the size asked for
	totalPagesLie     int  // reported instead of the true totalPages when > 0
	totalLie          int  // reported instead of the true totalElements when > 0
	noMeta            bool // no page block
	noTotals          bool // a page block with only size and number
	noLinks           bool // no _links.next
	ignorePage        bool // always answer page 1
	numberOffset      int  // reported page.number is the page asked for minus this
	failOnPage        int  // answer 400 for this page
	emptyPage         int  // this page has no events, its page block unchanged
	notFoundPastEnd   bool // a page past the last answers 404
	notFoundFrom      int  // pages from this one on answer 404, when > 0
	prepend           int  // once page 1 has been served, this many new events come first
	mu                sync.Mutex
	requestedPages    []int
}

func newPagingServer(n int) *pagingServer { return &pagingServer{n: n} }

func (s *pagingServer) pages() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.requestedPages...)
}

func (s *pagingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	asked, _ := strconv.Atoi(r.URL.Query().Get("size"))
	s.mu.Lock()
	s.requestedPages = append(s.requestedPages, page)
	prepended := 0
	if len(s.requestedPages) > 1 {
		prepended = s.prepend
	}
	s.mu.Unlock()
	size := asked
	if s.pageCap > 0 {
		size = min(size, s.pageCap)
	}
	n := s.n + prepended
	totalPages := (n + size - 1) / size
	if page == s.failOnPage {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if (s.notFoundPastEnd && page > max(totalPages, 1)) || (s.notFoundFrom > 0 && page >= s.notFoundFrom) {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if s.ignorePage {
		page = 1
	}
	body := map[string]any{}
	var events []json.RawMessage
	for i := (page - 1) * size; i < min(page*size, n) && page != s.emptyPage; i++ {
		id := fmt.Sprintf("event-%06d", i-prepended)
		if i < prepended {
			id = fmt.Sprintf("new-%06d", i)
		}
		// Small events: the walk, not the decoder, is under test here.
		events = append(events, json.RawMessage(`{"id":"`+id+`","event_type":"USER_LOGIN","created_at":"2026-03-14T12:00:00"}`))
	}
	if len(events) > 0 {
		body["_embedded"] = map[string]any{"events": events}
	}
	links := map[string]any{"self": map[string]string{"href": r.URL.String()}}
	if page < totalPages && !s.noLinks {
		// Pointing elsewhere: a client that followed it would leak credentials.
		links["next"] = map[string]string{"href": fmt.Sprintf("http://elsewhere.invalid/events?page=%d&size=%d", page+1, asked)}
	}
	body["_links"] = links
	if !s.noMeta {
		reportedSize, reportedPages, total := size, totalPages, n
		if s.sizeEcho {
			reportedSize = asked
		}
		if s.totalPagesByAsked {
			reportedPages = (n + asked - 1) / asked
		}
		if s.totalPagesLie > 0 {
			reportedPages = s.totalPagesLie
		}
		if s.totalLie > 0 {
			total = s.totalLie
		}
		block := map[string]int{"size": reportedSize, "totalElements": total, "totalPages": reportedPages, "number": page - s.numberOffset}
		if s.noTotals {
			delete(block, "totalElements")
			delete(block, "totalPages")
		}
		body["page"] = block
	}
	_ = json.NewEncoder(w).Encode(body)
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestPages(t *testing.T) {
	tests := []struct {
		name         string
		n, size      int
		configure    func(*pagingServer)
		wantDistinct int
		wantPages    []int
		want         Listing
	}{
		{"several pages", 250, 0, nil, 250, seq(3), Listing{Pages: 3, Events: 250, TotalElements: 250, PageSize: 100}},
		{"exact multiple of the size", 200, 0, nil, 200, seq(2), Listing{Pages: 2, Events: 200, TotalElements: 200, PageSize: 100}},
		{"one full page", 100, 0, nil, 100, seq(1), Listing{Pages: 1, Events: 100, TotalElements: 100}},
		{"one short page", 99, 0, nil, 99, seq(1), Listing{Pages: 1, Events: 99, TotalElements: 99}},
		{"no events", 0, 0, nil, 0, seq(1), Listing{Pages: 1, TotalElements: 0}},
		{"smaller size", 60, 30, nil, 60, seq(2), Listing{Pages: 2, Events: 60, TotalElements: 60, PageSize: 30}},
		{"totalPages says 1 while next links go on", 250, 0, func(s *pagingServer) { s.totalPagesLie = 1 }, 250, seq(3),
			Listing{Pages: 3, Events: 250, TotalElements: 250, PageSize: 100}},
		{"whole page block says 1 page while next links go on", 250, 0, func(s *pagingServer) { s.totalPagesLie, s.totalLie = 1, 100 }, 250, seq(3),
			Listing{Pages: 3, Events: 250, TotalElements: 100, PageSize: 100}},
		{"totalPages says 1000: the empty page after the last ends it", 250, 0, func(s *pagingServer) { s.totalPagesLie = 1000 }, 250, seq(4),
			Listing{Pages: 4, Events: 250, TotalElements: 250, PageSize: 100}},
		{"metadata says more, no links", 250, 0, func(s *pagingServer) { s.noLinks = true }, 250, seq(3),
			Listing{Pages: 3, Events: 250, TotalElements: 250, PageSize: 100}},
		{"metadata and no link agree on the last full page", 200, 0, func(s *pagingServer) { s.noLinks = true }, 200, seq(2),
			Listing{Pages: 2, Events: 200, TotalElements: 200, PageSize: 100}},
		{"links only: a full last page needs one more request", 200, 0, func(s *pagingServer) { s.noMeta = true }, 200, seq(3),
			Listing{Pages: 3, Events: 200, TotalElements: -1, PageSize: 100}},
		{"neither metadata nor links", 200, 0, func(s *pagingServer) { s.noMeta, s.noLinks = true, true }, 200, seq(3),
			Listing{Pages: 3, Events: 200, TotalElements: -1, PageSize: 100}},
		{"a page past the end is a 404", 200, 0, func(s *pagingServer) { s.noMeta, s.noLinks, s.notFoundPastEnd = true, true, true }, 200, seq(3),
			Listing{Pages: 2, Events: 200, TotalElements: -1, PageSize: 100}},
		{"page cap: 30 served for 100 asked", 250, 0, func(s *pagingServer) { s.pageCap = 30 }, 250, seq(9),
			Listing{Pages: 9, Events: 250, TotalElements: 250, PageSize: 30}},
		{"page cap, page block echoes the size asked, no links", 250, 0, func(s *pagingServer) {
			s.pageCap, s.sizeEcho, s.totalPagesByAsked, s.noLinks = 30, true, true, true
		}, 250, seq(9), Listing{Pages: 9, Events: 250, TotalElements: 250, PageSize: 30}},
		{"page cap, size told only by page.size", 90, 0, func(s *pagingServer) { s.pageCap, s.noLinks, s.noTotals = 30, true, true }, 90, seq(4),
			Listing{Pages: 4, Events: 90, TotalElements: -1, PageSize: 30}},
		// Nothing tells a cap from the end here: the caller sees PageSize 0.
		{"page cap with neither metadata nor links", 250, 0, func(s *pagingServer) { s.pageCap, s.noMeta, s.noLinks = 30, true, true }, 30, seq(1),
			Listing{Pages: 1, Events: 30, TotalElements: -1}},
		{"new events arrive after page 1: repeats, nothing missed", 250, 0, func(s *pagingServer) { s.prepend = 30 }, 250, seq(3),
			Listing{Pages: 3, Events: 280, TotalElements: 280, PageSize: 100}},
		{"page numbers off by one", 250, 0, func(s *pagingServer) { s.numberOffset = 1 }, 250, seq(4),
			Listing{Pages: 4, Events: 250, TotalElements: 250, PageSize: 100, PageNumberMismatches: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(tt.n)
			if tt.configure != nil {
				tt.configure(s)
			}
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, nil)
			seen := map[string]bool{}
			got, err := c.Pages(context.Background(), Query{Size: tt.size}, func(p *Page) (bool, error) {
				for _, e := range p.Events {
					if strings.HasPrefix(e.ID, "event-") {
						seen[e.ID] = true
					}
				}
				return true, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != tt.wantDistinct {
				t.Errorf("got %d distinct events, want %d", len(seen), tt.wantDistinct)
			}
			if got != tt.want {
				t.Errorf("listing:\n got %+v\nwant %+v", got, tt.want)
			}
			if got := s.pages(); !reflect.DeepEqual(got, tt.wantPages) {
				t.Errorf("requested pages %v, want %v", got, tt.wantPages)
			}
		})
	}
}

// A size learned from one walk is a valid size for the next.
func TestPagesAcceptsTheLearnedSize(t *testing.T) {
	s := newPagingServer(250)
	s.pageCap = 30
	c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, nil)
	keep := func(*Page) (bool, error) { return true, nil }
	first, err := c.Pages(context.Background(), Query{}, keep)
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.Pages(context.Background(), Query{Size: first.PageSize}, keep)
	if err != nil || second != first {
		t.Errorf("second walk: %+v, %v; want %+v", second, err, first)
	}
}

func TestPagesStopsWhenTold(t *testing.T) {
	tests := []struct {
		name      string
		n, stopAt int
		want      Listing
	}{
		{"on page 1", 1000, 1, Listing{Pages: 1, Events: 100, TotalElements: 1000, PageSize: 100, Stopped: true}},
		{"on page 2", 1000, 2, Listing{Pages: 2, Events: 200, TotalElements: 1000, PageSize: 100, Stopped: true}},
		{"on the last page: the walk ended anyway", 250, 3, Listing{Pages: 3, Events: 250, TotalElements: 250, PageSize: 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(tt.n)
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, nil)
			got, err := c.Pages(context.Background(), Query{}, func(p *Page) (bool, error) { return p.Number < tt.stopAt, nil })
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
			if !reflect.DeepEqual(s.pages(), seq(tt.stopAt)) {
				t.Errorf("requested pages %v, want %v", s.pages(), seq(tt.stopAt))
			}
		})
	}
}

func TestPagesFailures(t *testing.T) {
	errStop := errors.New("stop here")
	tests := []struct {
		name       string
		n          int
		configure  func(*pagingServer)
		maxPages   int
		fn         func(*Page) (bool, error)
		wantErr    string
		wantReason string
		wantPages  []int
	}{
		{"server ignores the page parameter", 250, func(s *pagingServer) { s.ignorePage = true }, 0, nil,
			"fetching events page 2: the API ignored the page parameter", ReasonDecode, seq(2)},
		{"more pages than allowed", 1000, nil, 3, nil,
			"fetching events page 4: more than 3 pages", ReasonPageLimit, seq(3)},
		{"fn fails", 250, nil, 0, func(p *Page) (bool, error) {
			if p.Number == 2 {
				return true, errStop
			}
			return true, nil
		}, "handling events page 2: stop here", ReasonOther, seq(2)},
		{"a later page fails", 250, func(s *pagingServer) { s.failOnPage = 2 }, 0, nil,
			"fetching events page 2: HTTP 400", ReasonBadRequest, seq(2)},
		{"a page within totalPages is empty", 250, func(s *pagingServer) { s.emptyPage = 2 }, 0, nil,
			"fetching events page 2: HTTP 200 OK: decoding the response: page 2 of 3 holds no events while the page block counts 250",
			ReasonDecode, []int{1, 2, 2, 2, 2}},
		{"page 1 is a 404", 250, func(s *pagingServer) { s.notFoundFrom = 1 }, 0, nil,
			"fetching events page 1: HTTP 404", ReasonNotFound, seq(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(tt.n)
			if tt.configure != nil {
				tt.configure(s)
			}
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, func(cfg *Config) { cfg.MaxPages = tt.maxPages })
			fn := tt.fn
			if fn == nil {
				fn = func(*Page) (bool, error) { return true, nil }
			}
			_, err := c.Pages(context.Background(), Query{}, fn)
			assertNoSecret(t, err)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || Reason(err) != tt.wantReason {
				t.Errorf("got %v (reason %q), want an error containing %q with reason %q", err, Reason(err), tt.wantErr, tt.wantReason)
			}
			if tt.fn != nil && !errors.Is(err, errStop) {
				t.Errorf("error %v does not wrap the callback's", err)
			}
			if got := s.pages(); !reflect.DeepEqual(got, tt.wantPages) {
				t.Errorf("requested pages %v, want %v", got, tt.wantPages)
			}
		})
	}
}
