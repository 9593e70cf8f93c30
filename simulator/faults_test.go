package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCountedFaults(t *testing.T) {
	tests := []struct {
		name       string
		faults     Faults
		want       []int // statuses of successive GET /events
		retryAfter string
		message    string
	}{
		{"5xx", Faults{Fail5xx: 2}, []int{503, 503, 200}, "", ""},
		{"rate limit with Retry-After", Faults{RateLimit: 1, RetryAfter: "7"}, []int{429, 200}, "7", ""},
		{"rate limit without Retry-After", Faults{RateLimit: 2}, []int{429, 429, 200}, "", ""},
		{"quota", Faults{Quota: 1}, []int{401, 200}, "", "Quota Exceeded"},
		{"in sequence", Faults{Fail5xx: 1, RateLimit: 1, Quota: 1}, []int{503, 429, 401, 200}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := start(t, Options{APIKey: "k", APISecret: "s"})
			s.SetFaults(tt.faults)
			for i, want := range tt.want {
				a := do(t, http.MethodGet, ts.URL+"/events", "k", "s")
				if a.status != want {
					t.Fatalf("request %d: status %d, want %d", i+1, a.status, want)
				}
				if want == http.StatusOK {
					continue
				}
				wantError(t, a, want, "")
				if want == http.StatusTooManyRequests && a.header.Get("Retry-After") != tt.retryAfter {
					t.Errorf("Retry-After %q, want %q", a.header.Get("Retry-After"), tt.retryAfter)
				}
				if want == http.StatusUnauthorized {
					wantError(t, a, want, "Quota Exceeded")
					if a.header.Get("WWW-Authenticate") != "" {
						t.Errorf("quota answer asks for credentials")
					}
				}
			}
			st := s.Stats()
			if st.Requests != len(tt.want) || st.ByStatus[200] != 1 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestErrorRate(t *testing.T) {
	s, ts := start(t, Options{Seed: 3})
	s.SetFaults(Faults{ErrorRate: 1})
	seen := map[int]bool{}
	for range 30 {
		a := do(t, http.MethodGet, ts.URL+"/events")
		if a.status != 500 && a.status != 502 && a.status != 503 {
			t.Fatalf("status %d at error rate 1", a.status)
		}
		seen[a.status] = true
		if a.status == 502 && !strings.HasPrefix(a.header.Get("Content-Type"), "text/html") {
			t.Errorf("502 Content-Type %q, want an HTML page as a gateway sends", a.header.Get("Content-Type"))
		}
	}
	if len(seen) != 3 {
		t.Errorf("statuses seen %v, want all of 500, 502, 503", seen)
	}
	s.SetFaults(Faults{})
	if a := do(t, http.MethodGet, ts.URL+"/events"); a.status != http.StatusOK {
		t.Errorf("after clearing faults: status %d", a.status)
	}
}

func TestTruncate(t *testing.T) {
	s, ts := start(t, Options{})
	s.Generate(10, t0, t0.Add(time.Minute))
	s.SetFaults(Faults{Truncate: 1})
	if a := do(t, http.MethodOptions, ts.URL+"/events"); a.status != http.StatusOK || !json.Valid(a.body) {
		t.Errorf("OPTIONS consumed the truncation: status %d, body %s", a.status, a.body)
	}
	if a := do(t, http.MethodGet, ts.URL+"/events?size=0"); a.status != http.StatusBadRequest || !json.Valid(a.body) {
		t.Errorf("a rejected query consumed the truncation: status %d, body %s", a.status, a.body)
	}
	a := do(t, http.MethodGet, ts.URL+"/events")
	if a.status != http.StatusOK {
		t.Fatalf("status %d", a.status)
	}
	if json.Valid(a.body) {
		t.Errorf("truncated body is valid JSON: %s", a.body)
	}
	if a := do(t, http.MethodGet, ts.URL+"/events"); !json.Valid(a.body) {
		t.Errorf("second answer truncated too")
	}
}

func TestLatencyHonoursClientContext(t *testing.T) {
	s := New(Options{})
	s.SetFaults(Faults{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/events", nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Body.Len() != 0 {
		t.Errorf("answered %s to a client that gave up", rec.Body)
	}
	st := s.Stats()
	if st.Canceled != 1 || st.Requests != 1 || len(st.ByStatus) != 0 || st.Recent[0].Status != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLatencyDelaysAnswer(t *testing.T) {
	s, ts := start(t, Options{})
	s.SetFaults(Faults{Latency: 20 * time.Millisecond})
	before := time.Now()
	if a := do(t, http.MethodGet, ts.URL+"/events"); a.status != http.StatusOK {
		t.Fatalf("status %d", a.status)
	}
	if waited := time.Since(before); waited < 20*time.Millisecond {
		t.Errorf("answered after %v, before the latency of 20ms", waited)
	}
}

func TestLateBy(t *testing.T) {
	clk := newClock(t0)
	s, ts := start(t, Options{Now: clk.Now, Seed: 1})
	s.SetFaults(Faults{LateBy: 5 * time.Minute})
	made := s.Generate(20, t0.Add(-time.Minute), t0)
	if p := list(t, ts.URL, ""); p.Page["totalElements"] != 0 {
		t.Errorf("late events listed at once: %v", p.Page)
	}
	for _, e := range made {
		if !e.VisibleAt.Equal(e.CreatedAt.Add(5 * time.Minute)) {
			t.Fatalf("event created %v visible at %v", e.CreatedAt, e.VisibleAt)
		}
	}
	clk.Set(t0.Add(5 * time.Minute))
	if got := len(s.Visible()); got != 20 {
		t.Errorf("%d events visible after the delay, want 20", got)
	}
}

func TestStats(t *testing.T) {
	s, ts := start(t, Options{})
	numbered(s, 1)
	do(t, http.MethodGet, ts.URL+"/events?size=5")
	do(t, http.MethodGet, ts.URL+"/events/e1")
	do(t, http.MethodGet, ts.URL+"/events/nope")
	do(t, http.MethodOptions, ts.URL+"/events")
	st := s.Stats()
	if st.Requests != 4 || st.ByStatus[200] != 3 || st.ByStatus[404] != 1 {
		t.Errorf("counts %+v", st)
	}
	wantRoutes := map[string]int{"list": 1, "get": 2, "options": 1}
	if !mapsEqual(st.ByRoute, wantRoutes) {
		t.Errorf("by route %v, want %v", st.ByRoute, wantRoutes)
	}
	if st.ByPath["/events"] != 2 || st.ByPath["/events/e1"] != 1 {
		t.Errorf("by path %v", st.ByPath)
	}
	if got := []string{st.Recent[0].RawQuery, st.Recent[3].Method}; !slices.Equal(got, []string{"size=5", "OPTIONS"}) {
		t.Errorf("recent %+v", st.Recent)
	}
	st.ByStatus[200] = 99
	if s.Stats().ByStatus[200] != 3 {
		t.Errorf("Stats returned the server's own map")
	}
}
