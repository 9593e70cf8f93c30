package simulator

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestListOrderAndPaging(t *testing.T) {
	tests := []struct {
		name  string
		order Order
		pages [][]string
	}{
		{"newest first", NewestFirst, [][]string{{"e5", "e4"}, {"e3", "e2"}, {"e1"}}},
		{"oldest first", OldestFirst, [][]string{{"e1", "e2"}, {"e3", "e4"}, {"e5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := start(t, Options{Order: tt.order})
			numbered(s, 5)
			for i, want := range tt.pages {
				p := list(t, ts.URL, "size=2&page="+strconv.Itoa(i+1))
				if got := p.ids(); !slices.Equal(got, want) {
					t.Errorf("page %d: ids %v, want %v", i+1, got, want)
				}
				wantPage := map[string]int{"size": 2, "totalElements": 5, "totalPages": 3, "number": i + 1}
				if !mapsEqual(p.Page, wantPage) {
					t.Errorf("page %d: page block %v, want %v", i+1, p.Page, wantPage)
				}
				_, hasNext := p.Links["next"]
				if hasNext != (i < 2) {
					t.Errorf("page %d: next link present %v", i+1, hasNext)
				}
				_, hasPrev := p.Links["prev"]
				if hasPrev != (i > 0) {
					t.Errorf("page %d: prev link present %v", i+1, hasPrev)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestListDefaults(t *testing.T) {
	s, ts := start(t, Options{})
	s.Generate(75, t0, t0.Add(time.Hour))
	a := do(t, http.MethodGet, ts.URL+"/events")
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/hal+json") {
		t.Errorf("Content-Type %q, want application/hal+json", ct)
	}
	p := list(t, ts.URL, "")
	if got := len(p.ids()); got != 30 {
		t.Errorf("default page holds %d events, want 30", got)
	}
	want := map[string]int{"size": 30, "totalElements": 75, "totalPages": 3, "number": 1}
	if !mapsEqual(p.Page, want) {
		t.Errorf("page block %v, want %v", p.Page, want)
	}
}

func TestPageNumberKey(t *testing.T) {
	s, ts := start(t, Options{PageNumberKey: "page"})
	numbered(s, 3)
	a := do(t, http.MethodGet, ts.URL+"/events?size=2&page=2")
	const want = `"page":{"size":2,"totalElements":3,"totalPages":2,"page":2}`
	if !strings.Contains(string(a.body), want) {
		t.Errorf("body %s does not contain %s", a.body, want)
	}
}

func TestEmbeddedLeftOutWhenEmpty(t *testing.T) {
	s, ts := start(t, Options{})
	numbered(s, 3)
	for _, q := range []string{"page=2", "page=99&size=5", "page=9223372036854775807&size=100", "event_type=APP_DELETE"} {
		t.Run(q, func(t *testing.T) {
			a := do(t, http.MethodGet, ts.URL+"/events?"+q)
			if a.status != http.StatusOK {
				t.Fatalf("status %d", a.status)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(a.body, &raw); err != nil {
				t.Fatalf("decoding %s: %v", a.body, err)
			}
			if _, ok := raw["_embedded"]; ok {
				t.Errorf("_embedded present in an empty page: %s", a.body)
			}
			if _, ok := raw["_links"]; !ok {
				t.Errorf("_links missing: %s", a.body)
			}
		})
	}
}

func TestQueryValidation(t *testing.T) {
	_, ts := start(t, Options{})
	tests := []struct {
		query string
		want  int
	}{
		{"size=1", http.StatusOK},
		{"size=100", http.StatusOK},
		{"size=0", http.StatusBadRequest},
		{"size=101", http.StatusBadRequest},
		{"size=ten", http.StatusBadRequest},
		{"size=-1", http.StatusBadRequest},
		{"page=1", http.StatusOK},
		{"page=0", http.StatusBadRequest},
		{"page=x", http.StatusBadRequest},
		{"date_from=2018-08-01", http.StatusOK},
		{"date_from=2018-08-01T10:00:00", http.StatusOK},
		{"date_from=2018-08-01T10:00:00Z", http.StatusOK},
		{"date_to=2018-08-01T10:00:00%2B02:00", http.StatusOK},
		{"date_from=yesterday", http.StatusBadRequest},
		{"date_to=2018-13-01", http.StatusBadRequest},
		{"date_to=2018-08-01+10:00", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := do(t, http.MethodGet, ts.URL+"/events?"+tt.query)
			if tt.want == http.StatusOK {
				if a.status != http.StatusOK {
					t.Errorf("status %d, want 200; body %s", a.status, a.body)
				}
				return
			}
			wantError(t, a, tt.want, "")
		})
	}
}

func TestDateFilters(t *testing.T) {
	// Events at 12:01 .. 12:05 on t0's day.
	tests := []struct {
		name      string
		exclusive bool
		query     string
		want      []string
	}{
		{"inclusive both", false, "date_from=2024-03-01T12:02:00&date_to=2024-03-01T12:04:00", []string{"e2", "e3", "e4"}},
		{"exclusive both", true, "date_from=2024-03-01T12:02:00&date_to=2024-03-01T12:04:00", []string{"e3"}},
		{"rfc3339 with offset", false, "date_from=2024-03-01T14:03:00%2B02:00", []string{"e3", "e4", "e5"}},
		{"rfc3339 utc", false, "date_to=2024-03-01T12:01:00Z", []string{"e1"}},
		{"date only is midnight", false, "date_from=2024-03-02", nil},
		{"date only from", true, "date_from=2024-03-01", []string{"e1", "e2", "e3", "e4", "e5"}},
		{"fraction kept to the second", false, "date_from=2024-03-01T12:05:00.900Z", []string{"e5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := start(t, Options{Order: OldestFirst, ExclusiveDateBounds: tt.exclusive})
			numbered(s, 5)
			if got := list(t, ts.URL, tt.query).ids(); !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEventTypeAndSearchText(t *testing.T) {
	s, ts := start(t, Options{Order: OldestFirst})
	s.Add(
		Event{ID: "a", EventType: "USER_LOGIN", CreatedAt: t0, UserEmail: "alice@example.com"},
		Event{ID: "b", EventType: "APP_DELETE", CreatedAt: t0, Context: map[string]any{"application_id": "f00d"}},
		Event{ID: "c", EventType: "NUMBER_UPDATED", CreatedAt: t0, Context: map[string]any{"msisdn": "447700900123", "voice-type": "app"}},
		Event{ID: "d", EventType: "USER_LOGIN", CreatedAt: t0, UserEmail: "bob@example.com", SourceCountry: "DE"},
	)
	tests := []struct {
		query string
		want  []string
	}{
		{"event_type=USER_LOGIN", []string{"a", "d"}},
		{"event_type=USER_LOGIN,APP_DELETE", []string{"a", "b", "d"}},
		{"event_type=APP_DELETE&event_type=NUMBER_UPDATED", []string{"b", "c"}},
		{"event_type=UNKNOWN", nil},
		{"search_text=447700900123", []string{"c"}},
		{"search_text=F00D", []string{"b"}},
		{"search_text=bob%40example.com", []string{"d"}},
		{"search_text=%22DE%22", []string{"d"}},
		{"search_text=voice-type&event_type=USER_LOGIN", nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if got := list(t, ts.URL, tt.query).ids(); !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLinksAreAbsoluteAndKeepFilters(t *testing.T) {
	s, ts := start(t, Options{BasePath: "/beta/audit"})
	numbered(s, 5)
	p := list(t, ts.URL+"/beta/audit", "event_type=USER_LOGIN&date_from=2024-03-01&size=2&page=2")
	u, err := url.Parse(p.Links["next"].Href)
	if err != nil {
		t.Fatalf("parsing next link: %v", err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != ts.URL+"/beta/audit/events" {
		t.Errorf("next link points at %s", got)
	}
	want := url.Values{"event_type": {"USER_LOGIN"}, "date_from": {"2024-03-01"}, "size": {"2"}, "page": {"3"}}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Errorf("next link query %v, want %v", got, want)
	}
	for name, page := range map[string]string{"self": "2", "first": "1", "prev": "1", "last": "3"} {
		l, err := url.Parse(p.Links[name].Href)
		if err != nil {
			t.Fatalf("parsing %s link: %v", name, err)
		}
		if got := l.Query().Get("page"); got != page {
			t.Errorf("%s link page %q, want %s", name, got, page)
		}
	}
	if a := do(t, http.MethodGet, ts.URL+"/beta/audit/events?event_type=USER_LOGIN&size=2"); !strings.Contains(string(a.body), "&size=2") {
		t.Errorf("links not written as the API writes them (plain &): %s", a.body)
	}
	self := p.Embedded.Events[0]["_links"].(map[string]any)["self"].(map[string]any)["href"]
	if self != ts.URL+"/beta/audit/events/e3" {
		t.Errorf("event self link %v", self)
	}
	if a := do(t, http.MethodGet, ts.URL+"/events"); a.status != http.StatusNotFound {
		t.Errorf("route without the base path: status %d, want 404", a.status)
	}
}

func TestGetEvent(t *testing.T) {
	clk := newClock(t0)
	s, ts := start(t, Options{Now: clk.Now})
	s.Add(Event{ID: "known", EventType: "APP_CREATE", CreatedAt: t0, Source: "DEVAPI"},
		Event{ID: "late", EventType: "APP_CREATE", CreatedAt: t0, VisibleAt: t0.Add(time.Minute)})

	a := do(t, http.MethodGet, ts.URL+"/events/known")
	if a.status != http.StatusOK {
		t.Fatalf("status %d, body %s", a.status, a.body)
	}
	var e map[string]any
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
	if e["id"] != "known" || e["event_type_description"] != "Application created" || e["account_id"] != "abcd1234" {
		t.Errorf("event %s", a.body)
	}
	wantError(t, do(t, http.MethodGet, ts.URL+"/events/unknown"), http.StatusNotFound, "")
	wantError(t, do(t, http.MethodGet, ts.URL+"/events/late"), http.StatusNotFound, "")
	clk.Set(t0.Add(time.Minute))
	if a := do(t, http.MethodGet, ts.URL+"/events/late"); a.status != http.StatusOK {
		t.Errorf("late event once visible: status %d", a.status)
	}
}

func TestOptions(t *testing.T) {
	_, ts := start(t, Options{})
	a := do(t, http.MethodOptions, ts.URL+"/events")
	if a.status != http.StatusOK {
		t.Fatalf("status %d", a.status)
	}
	var got struct {
		EventTypes []EventType `json:"eventTypes"`
	}
	if err := json.Unmarshal(a.body, &got); err != nil {
		t.Fatalf("decoding %s: %v", a.body, err)
	}
	if len(got.EventTypes) != 29 || !slices.Equal(got.EventTypes, DefaultEventTypes) {
		t.Errorf("event types %v, want the 29 defaults", got.EventTypes)
	}

	_, ts = start(t, Options{OptionsNoContent: true})
	if a := do(t, http.MethodOptions, ts.URL+"/events"); a.status != http.StatusNoContent || len(a.body) != 0 {
		t.Errorf("OptionsNoContent: status %d, body %q", a.status, a.body)
	}
}

func TestRoutes(t *testing.T) {
	s, ts := start(t, Options{})
	numbered(s, 1)
	tests := []struct {
		method, path string
		want         int
		allow        string
	}{
		{http.MethodPost, "/events", http.StatusMethodNotAllowed, "GET, OPTIONS"},
		{http.MethodDelete, "/events/e1", http.StatusMethodNotAllowed, "GET"},
		{http.MethodGet, "/events/", http.StatusNotFound, ""},
		{http.MethodGet, "/events/e1/x", http.StatusNotFound, ""},
		{http.MethodGet, "/other", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a := do(t, tt.method, ts.URL+tt.path)
			wantError(t, a, tt.want, "")
			if got := a.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	s, ts := start(t, Options{APIKey: "key1", APISecret: "s3cret"})
	numbered(s, 1)
	for _, route := range []struct{ method, path string }{
		{http.MethodGet, "/events"}, {http.MethodGet, "/events/e1"}, {http.MethodOptions, "/events"},
	} {
		for _, tt := range []struct {
			name string
			auth []string
			want int
		}{
			{"missing", nil, http.StatusUnauthorized},
			{"wrong secret", []string{"key1", "nope"}, http.StatusUnauthorized},
			{"wrong key", []string{"key2", "s3cret"}, http.StatusUnauthorized},
			{"right", []string{"key1", "s3cret"}, http.StatusOK},
		} {
			t.Run(route.method+" "+route.path+" "+tt.name, func(t *testing.T) {
				a := do(t, route.method, ts.URL+route.path, tt.auth...)
				if tt.want == http.StatusOK {
					if a.status != http.StatusOK {
						t.Errorf("status %d, body %s", a.status, a.body)
					}
					return
				}
				wantError(t, a, tt.want, "Bad credentials")
				if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Basic") {
					t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
				}
				if strings.Contains(string(a.body), "s3cret") {
					t.Errorf("the secret leaked into the answer")
				}
			})
		}
	}
	if got := s.Visible()[0].AccountID; got != "key1" {
		t.Errorf("account id %q, want the API key", got)
	}
}

// TestPagingShifts checks that pages are cut at request time, so a reader
// that pages while events arrive sees the shift a real API would give.
func TestPagingShifts(t *testing.T) {
	t.Run("newest first, newer event added", func(t *testing.T) {
		s, ts := start(t, Options{})
		numbered(s, 4)
		if got := list(t, ts.URL, "size=2&page=1").ids(); !slices.Equal(got, []string{"e4", "e3"}) {
			t.Fatalf("page 1 %v", got)
		}
		s.Add(Event{ID: "new", EventType: "USER_LOGIN", CreatedAt: t0.Add(time.Hour)})
		p := list(t, ts.URL, "size=2&page=2")
		if got := p.ids(); !slices.Equal(got, []string{"e3", "e2"}) {
			t.Errorf("page 2 after an addition %v, want [e3 e2] (e3 again)", got)
		}
		if p.Page["totalElements"] != 5 || p.Page["totalPages"] != 3 {
			t.Errorf("page block %v", p.Page)
		}
	})
	t.Run("oldest first, late older event appears", func(t *testing.T) {
		clk := newClock(t0.Add(time.Hour))
		s, ts := start(t, Options{Order: OldestFirst, Now: clk.Now})
		numbered(s, 4)
		s.Add(Event{ID: "late", EventType: "USER_LOGIN", CreatedAt: t0, VisibleAt: t0.Add(2 * time.Hour)})
		if got := list(t, ts.URL, "size=2&page=1").ids(); !slices.Equal(got, []string{"e1", "e2"}) {
			t.Fatalf("page 1 %v", got)
		}
		clk.Set(t0.Add(2 * time.Hour))
		if got := list(t, ts.URL, "size=2&page=2").ids(); !slices.Equal(got, []string{"e2", "e3"}) {
			t.Errorf("page 2 after the late event %v, want [e2 e3]", got)
		}
	})
}

func TestLateVisibility(t *testing.T) {
	clk := newClock(t0)
	s, ts := start(t, Options{Now: clk.Now, Order: OldestFirst})
	s.Add(Event{ID: "now", EventType: "USER_LOGIN", CreatedAt: t0},
		Event{ID: "later", EventType: "USER_LOGIN", CreatedAt: t0.Add(-time.Minute), VisibleAt: t0.Add(30 * time.Second)})
	if got := list(t, ts.URL, "").ids(); !slices.Equal(got, []string{"now"}) {
		t.Errorf("before: listed %v", got)
	}
	if got := ids(s.Visible()); !slices.Equal(got, []string{"now"}) {
		t.Errorf("before: Visible %v", got)
	}
	clk.Set(t0.Add(30 * time.Second))
	if got := list(t, ts.URL, "").ids(); !slices.Equal(got, []string{"later", "now"}) {
		t.Errorf("after: listed %v", got)
	}
	if got := ids(s.Visible()); !slices.Equal(got, []string{"later", "now"}) {
		t.Errorf("after: Visible %v", got)
	}
}

func ids(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.ID
	}
	return out
}

func TestAddReplacesSameID(t *testing.T) {
	s := New(Options{})
	s.Add(Event{ID: "x", EventType: "USER_LOGIN", CreatedAt: t0})
	s.Add(Event{ID: "x", EventType: "APP_DELETE", CreatedAt: t0.Add(time.Second)}, Event{EventType: "APP_CREATE", CreatedAt: t0})
	got := s.Visible()
	if len(got) != 2 || got[1].ID != "x" || got[1].EventType != "APP_DELETE" {
		t.Errorf("events %+v", got)
	}
	if len(got[0].ID) != 36 {
		t.Errorf("generated id %q does not look like a UUID", got[0].ID)
	}
}

func TestEventJSON(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{
			name: "dashboard event",
			e: Event{ID: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", EventType: "NUMBER_UPDATED", EventTypeDescription: "Number updated",
				CreatedAt: time.Date(2018, 5, 16, 17, 34, 22, 500, time.FixedZone("BST", 3600)), UserEmail: "yourname@example.com",
				UserID: 1234567, AccountID: "abcd1234", Source: "CD", SourceIP: "192.0.2.4", SourceDescription: "Customer dashboard",
				SourceCountry: "GB", Context: map[string]any{"country": "GB", "msisdn": "447700900000", "voice-type": "app"}},
			want: `{"id":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","event_type":"NUMBER_UPDATED","event_type_description":"Number updated",` +
				`"created_at":"2018-05-16T16:34:22","user_email":"yourname@example.com","user_id":1234567,"account_id":"abcd1234",` +
				`"source":"CD","source_ip":"192.0.2.4","source_description":"Customer dashboard","source_country":"GB",` +
				`"context":{"country":"GB","msisdn":"447700900000","voice-type":"app"},` +
				`"_links":{"self":{"href":"/events/aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}}}`,
		},
		{
			name: "api event without user",
			e: Event{ID: "x", EventType: "APP_CREATE", EventTypeDescription: "Application created", CreatedAt: t0,
				AccountID: "abcd1234", Source: "DEVAPI", SourceIP: "203.0.113.9", SourceDescription: "Developer Api", SourceCountry: "US",
				Context: map[string]any{"application_id": "f00d"}},
			want: `{"id":"x","event_type":"APP_CREATE","event_type_description":"Application created","created_at":"2024-03-01T12:00:00",` +
				`"account_id":"abcd1234","source":"DEVAPI","source_ip":"203.0.113.9","source_description":"Developer Api",` +
				`"source_country":"US","context":{"application_id":"f00d"},"_links":{"self":{"href":"/events/x"}}}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(tt.e)
			if err != nil {
				t.Fatalf("marshalling: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
