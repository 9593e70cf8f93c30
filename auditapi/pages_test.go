package auditapi

import (
	"bytes"
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
	n              int
	totalPagesLie  int  // reported instead of the true totalPages when > 0
	totalLie       int  // reported instead of the true totalElements when > 0
	noMeta         bool // no page block
	noLinks        bool // no _links.next
	ignorePage     bool // always answer page 1
	failOnPage     int  // answer 400 for this page
	prepend        int  // once page 1 has been served, this many new events come first ...
	staleFrom      int  // ... except in the first answer for a page from this one on, when > 0
	served         map[int]int
	templateEvent  []byte
	templateID     []byte
	mu             sync.Mutex
	requestedPages []int
}

func newPagingServer(t testing.TB, n int) *pagingServer {
	var p struct {
		Embedded struct {
			Events []json.RawMessage `json:"events"`
		} `json:"_embedded"`
	}
	if err := json.Unmarshal(readTestdata(t, "page_100.json"), &p); err != nil {
		t.Fatal(err)
	}
	return &pagingServer{n: n, templateEvent: p.Embedded.Events[0], templateID: []byte("5f0c2d1e-7a3b-4c5d-8e9f-000000000250")}
}

func (s *pagingServer) pages() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.requestedPages...)
}

func (s *pagingServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	s.mu.Lock()
	s.requestedPages = append(s.requestedPages, page)
	prepended := 0
	if s.served == nil {
		s.served = map[int]int{}
	}
	s.served[page]++
	stale := s.staleFrom > 0 && page >= s.staleFrom && s.served[page] == 1
	if len(s.requestedPages) > 1 && !stale {
		prepended = s.prepend
	}
	s.mu.Unlock()
	if page == s.failOnPage {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if s.ignorePage {
		page = 1
	}
	n := s.n + prepended
	totalPages := (n + size - 1) / size
	body := map[string]any{}
	var events []json.RawMessage
	for i := (page - 1) * size; i < min(page*size, n); i++ {
		id := fmt.Appendf(nil, "event-%06d", i-prepended)
		if i < prepended {
			id = fmt.Appendf(nil, "new-%06d", i)
		}
		events = append(events, bytes.Replace(s.templateEvent, s.templateID, id, 1))
	}
	if len(events) > 0 {
		body["_embedded"] = map[string]any{"events": events}
	}
	links := map[string]any{"self": map[string]string{"href": r.URL.String()}}
	if page < totalPages && !s.noLinks {
		// Pointing elsewhere: a client that followed it would leak credentials.
		links["next"] = map[string]string{"href": fmt.Sprintf("http://elsewhere.invalid/events?page=%d&size=%d", page+1, size)}
	}
	body["_links"] = links
	if !s.noMeta {
		if s.totalPagesLie > 0 {
			totalPages = s.totalPagesLie
		}
		total := n
		if s.totalLie > 0 {
			total = s.totalLie
		}
		body["page"] = map[string]int{"size": size, "totalElements": total, "totalPages": totalPages, "number": page}
	}
	// A write fails only when the client gave up, as the other requests of
	// a failed concurrent batch do.
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
		name      string
		n, size   int
		configure func(*pagingServer)
		wantPages []int
	}{
		{"several pages", 250, 0, nil, seq(3)},
		{"exact multiple of the size", 200, 0, nil, seq(2)},
		{"one full page", 100, 0, nil, seq(1)},
		{"one short page", 99, 0, nil, seq(1)},
		{"no events", 0, 0, nil, seq(1)},
		{"smaller size", 60, 30, nil, seq(2)},
		{"totalPages says 1 while next links go on", 250, 0, func(s *pagingServer) { s.totalPagesLie = 1 }, seq(3)},
		{"whole page block says 1 page while next links go on", 250, 0, func(s *pagingServer) { s.totalPagesLie, s.totalLie = 1, 100 }, seq(3)},
		{"metadata says more, no links", 250, 0, func(s *pagingServer) { s.noLinks = true }, seq(3)},
		{"metadata and no link agree on the last full page", 200, 0, func(s *pagingServer) { s.noLinks = true }, seq(2)},
		{"links only: a full last page needs one more request", 200, 0, func(s *pagingServer) { s.noMeta = true }, seq(3)},
		{"neither metadata nor links", 200, 0, func(s *pagingServer) { s.noMeta, s.noLinks = true, true }, seq(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(t, tt.n)
			if tt.configure != nil {
				tt.configure(s)
			}
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, nil)
			seen := map[string]bool{}
			err := c.Pages(context.Background(), Query{Size: tt.size}, func(p *Page) error {
				for _, e := range p.Events {
					seen[e.ID] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != tt.n {
				t.Errorf("got %d distinct events, want %d", len(seen), tt.n)
			}
			if got := s.pages(); !reflect.DeepEqual(got, tt.wantPages) {
				t.Errorf("requested pages %v, want %v", got, tt.wantPages)
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
		fn         func(*Page) error
		wantErr    string
		wantReason string
		wantPages  []int
	}{
		{"server ignores the page parameter", 250, func(s *pagingServer) { s.ignorePage = true }, 0, nil,
			"fetching events page 2: the API ignored the page parameter", ReasonDecode, seq(2)},
		{"more pages than allowed", 1000, nil, 3, nil,
			"more than 3 pages", ReasonOther, seq(3)},
		{"fn fails", 250, nil, 0, func(p *Page) error {
			if p.Number == 2 {
				return errStop
			}
			return nil
		}, "handling events page 2: stop here", ReasonOther, seq(2)},
		{"a later page fails", 250, func(s *pagingServer) { s.failOnPage = 2 }, 0, nil,
			"fetching events page 2: HTTP 400", ReasonBadRequest, seq(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(t, tt.n)
			if tt.configure != nil {
				tt.configure(s)
			}
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, func(cfg *Config) { cfg.MaxPages = tt.maxPages })
			fn := tt.fn
			if fn == nil {
				fn = func(*Page) error { return nil }
			}
			err := c.Pages(context.Background(), Query{}, fn)
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
