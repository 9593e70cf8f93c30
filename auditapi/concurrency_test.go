package auditapi

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPagesConcurrentBackfill(t *testing.T) {
	pinned := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		n         int
		to        time.Time
		configure func(*pagingServer)
		wantIDs   int
		wantPages []int // sorted: the batch comes in any order
	}{
		{"every page once", 1000, pinned, nil, 1000, seq(10)},
		{"exact multiple of the size", 300, pinned, nil, 300, seq(3)},
		{"one page", 100, pinned, nil, 100, seq(1)},
		{"window not pinned: one at a time", 300, time.Time{}, nil, 300, seq(3)},
		{"totalPages says 1 while next links go on", 300, pinned, func(s *pagingServer) { s.totalPagesLie = 1 }, 300, seq(3)},
		{"totals disagree with each other", 300, pinned, func(s *pagingServer) { s.totalLie = 1000 }, 300, seq(4)},
		{"metadata short: full last page of the batch goes on", 1000, pinned, func(s *pagingServer) { s.totalPagesLie, s.totalLie = 5, 500 }, 1000, seq(10)},
		// Pages 6 to 10 answered before 30 events appeared in front, 2 to 5
		// after: trusting the batch would miss 30 events between pages 5 and 6.
		{"result set grows under the batch: pages after the first read again", 1000, pinned, func(s *pagingServer) { s.prepend, s.staleFrom = 30, 6 },
			1000, slices.Sorted(slices.Values(append(seq(11), []int{2, 3, 4, 5, 6, 7, 8, 9, 10}...)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(t, tt.n)
			if tt.configure != nil {
				tt.configure(s)
			}
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, func(cfg *Config) { cfg.MaxConcurrency = 4 })
			seen := map[string]bool{}
			calls := 0
			err := c.Pages(context.Background(), Query{To: tt.to}, func(p *Page) error {
				calls++ // unsynchronised on purpose: -race proves fn never runs twice at once
				for _, e := range p.Events {
					seen[e.ID] = true
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(seen) != tt.wantIDs {
				t.Errorf("got %d distinct events, want %d", len(seen), tt.wantIDs)
			}
			got := slices.Sorted(slices.Values(s.pages()))
			if !reflect.DeepEqual(got, tt.wantPages) {
				t.Errorf("requested pages %v, want %v", got, tt.wantPages)
			}
			if calls != len(got) {
				t.Errorf("fn called %d times for %d pages", calls, len(got))
			}
		})
	}
}

func TestPagesConcurrentFailures(t *testing.T) {
	pinned := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		configure  func(*pagingServer)
		wantErr    string
		wantReason string
	}{
		{"a page of the batch fails", func(s *pagingServer) { s.failOnPage = 5 }, "fetching events page 5: HTTP 400", ReasonBadRequest},
		{"server ignores the page parameter", func(s *pagingServer) { s.ignorePage = true }, "the API ignored the page parameter", ReasonDecode},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newPagingServer(t, 1000)
			tt.configure(s)
			c := newTestClient(t, newTestServer(t, s.ServeHTTP), nil, func(cfg *Config) { cfg.MaxConcurrency = 4 })
			err := c.Pages(context.Background(), Query{To: pinned}, func(*Page) error { return nil })
			assertNoSecret(t, err)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || Reason(err) != tt.wantReason {
				t.Errorf("got %v (reason %q), want an error containing %q with reason %q", err, Reason(err), tt.wantErr, tt.wantReason)
			}
			if n := len(s.pages()); n > 10 {
				t.Errorf("requested %d pages of 10 after a failure", n)
			}
		})
	}
}
