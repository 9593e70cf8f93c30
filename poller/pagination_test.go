package poller_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// TestEndlessPaginationIsBoundedAndLoud polls an API whose pages never end,
// each of new events inside the window: every poll stops at the page limit,
// fails with reason page_limit, counts the inconsistency, and keeps none of
// what it read, so that poll after poll nothing piles up.
func TestEndlessPaginationIsBoundedAndLoud(t *testing.T) {
	t.Parallel()
	const maxPages = 20
	f := pollertest.New(t, pollertest.Options{
		Poller: poller.Options{Lookback: time.Hour, MaxPages: maxPages},
		Wrap: func(h http.Handler) http.Handler {
			var served int
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/events" {
					h.ServeHTTP(w, r)
					return
				}
				// Page n of every query holds events of its own, all created
				// a second ago, and always says there are more.
				served++
				page, _ := strconv.Atoi(r.URL.Query().Get("page"))
				page = max(page, 1)
				events := make([]map[string]any, 100)
				for i := range events {
					events[i] = map[string]any{
						"id": fmt.Sprintf("endless-%d-%d", served, i), "event_type": "USER_LOGIN", "source": "CD",
						"created_at": time.Date(2026, 3, 14, 11, 59, 59, 0, time.UTC).Format("2006-01-02T15:04:05"),
					}
				}
				w.Header().Set("Date", "Sat, 14 Mar 2026 12:00:00 GMT")
				_ = json.NewEncoder(w).Encode(map[string]any{
					"_embedded": map[string]any{"events": events},
					"_links":    map[string]any{"next": map[string]any{"href": "/events?page=" + strconv.Itoa(page+1)}},
					"page":      map[string]any{"size": 100, "number": page, "totalPages": page + 1, "totalElements": 100 * (page + 1)},
				})
			})
		},
	})
	for poll := 1; poll <= 3; poll++ {
		err := f.Poll()
		if err == nil {
			t.Fatalf("poll %d succeeded against pages that never end", poll)
		}
		got := pollertest.Gathered(t, f.Coll, "vonage_audit_poll_errors_total")["page_limit"]
		if got != float64(poll) {
			t.Errorf("poll %d: poll_errors_total{reason=\"page_limit\"} = %v, want %d (err %v)", poll, got, poll, err)
		}
		if got := pollertest.Gathered(t, f.Coll, "vonage_audit_api_inconsistencies_total")["page_limit"]; got != float64(poll) {
			t.Errorf("poll %d: api_inconsistencies_total{kind=\"page_limit\"} = %v, want %d", poll, got, poll)
		}
		if seen, _, _ := f.Poller.Held(); seen != 0 {
			t.Errorf("poll %d: %d ids held after polls that reached the page limit, want 0", poll, seen)
		}
		if n := f.Poller.Ingested(); n != 0 {
			t.Errorf("poll %d: counted %v events of pages that never end", poll, n)
		}
		if up := pollertest.Gathered(t, f.Coll, "vonage_audit_up")[""]; up != 0 {
			t.Errorf("poll %d: vonage_audit_up = %v", poll, up)
		}
		f.Clock.Add(time.Minute)
	}
}
