package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// linkPage returns the page and size that a page's link asks for.
func linkPage(t *testing.T, p wirePage, name string) (page, size string) {
	t.Helper()
	l, ok := p.Links[name]
	if !ok {
		return "", ""
	}
	u, err := url.Parse(l.Href)
	if err != nil {
		t.Fatalf("parsing %s link %q: %v", name, l.Href, err)
	}
	return u.Query().Get("page"), u.Query().Get("size")
}

func TestPageCap(t *testing.T) {
	tests := []struct {
		name     string
		order    Order
		query    string
		want     []string
		block    map[string]int
		next     string // page of the next link, "" for none
		last     string
		linkSize string
	}{
		{"asks more than the cap, newest first", NewestFirst, "size=100", []string{"e7", "e6", "e5"},
			map[string]int{"size": 3, "totalElements": 7, "totalPages": 3, "number": 1}, "2", "3", "3"},
		{"asks more than the cap, oldest first", OldestFirst, "size=100", []string{"e1", "e2", "e3"},
			map[string]int{"size": 3, "totalElements": 7, "totalPages": 3, "number": 1}, "2", "3", "3"},
		{"middle page, newest first", NewestFirst, "size=50&page=2", []string{"e4", "e3", "e2"},
			map[string]int{"size": 3, "totalElements": 7, "totalPages": 3, "number": 2}, "3", "3", "3"},
		{"last page, oldest first", OldestFirst, "size=50&page=3", []string{"e7"},
			map[string]int{"size": 3, "totalElements": 7, "totalPages": 3, "number": 3}, "", "3", "3"},
		{"default size is capped", OldestFirst, "", []string{"e1", "e2", "e3"},
			map[string]int{"size": 3, "totalElements": 7, "totalPages": 3, "number": 1}, "2", "3", "3"},
		{"asks less than the cap", NewestFirst, "size=2&page=4", []string{"e1"},
			map[string]int{"size": 2, "totalElements": 7, "totalPages": 4, "number": 4}, "", "4", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := start(t, Options{PageCap: 3, Order: tt.order})
			numbered(s, 7)
			p := list(t, ts.URL, tt.query)
			if got := p.ids(); !slices.Equal(got, tt.want) {
				t.Errorf("ids %v, want %v", got, tt.want)
			}
			if !mapsEqual(p.Page, tt.block) {
				t.Errorf("page block %v, want %v", p.Page, tt.block)
			}
			if page, _ := linkPage(t, p, "next"); page != tt.next {
				t.Errorf("next link to page %q, want %q", page, tt.next)
			}
			for _, name := range []string{"self", "first", "last"} {
				if _, size := linkPage(t, p, name); size != tt.linkSize {
					t.Errorf("%s link size %q, want %s", name, size, tt.linkSize)
				}
			}
			if page, _ := linkPage(t, p, "last"); page != tt.last {
				t.Errorf("last link to page %q, want %s", page, tt.last)
			}
		})
	}
	t.Run("size above the documented maximum is still refused", func(t *testing.T) {
		_, ts := start(t, Options{PageCap: 3})
		wantError(t, do(t, http.MethodGet, ts.URL+"/events?size=101"), http.StatusBadRequest, "")
	})
}

func TestDatePrecision(t *testing.T) {
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	events := []Event{
		{ID: "feb29-last", CreatedAt: day.Add(-time.Second)},
		{ID: "mar1-first", CreatedAt: day},
		{ID: "mar1-noon", CreatedAt: day.Add(12 * time.Hour)},
		{ID: "mar1-1300", CreatedAt: day.Add(13 * time.Hour)},
		{ID: "mar1-last", CreatedAt: day.Add(24*time.Hour - time.Second)},
		{ID: "mar2-first", CreatedAt: day.Add(24 * time.Hour)},
	}
	allMar1 := []string{"mar1-first", "mar1-noon", "mar1-1300", "mar1-last"}
	tests := []struct {
		name      string
		precision DatePrecision
		exclusive bool
		query     string
		want      []string
		// badRequest is the parameter a 400's message names; "" for 200.
		badRequest string
	}{
		{"second honours the time", SecondPrecision, false,
			"date_from=2024-03-01T12:00:00&date_to=2024-03-01T13:00:00", []string{"mar1-noon", "mar1-1300"}, ""},
		{"second, exclusive", SecondPrecision, true,
			"date_from=2024-03-01T12:00:00&date_to=2024-03-01T13:00:00", nil, ""},
		{"second reads a date as its midnight", SecondPrecision, false,
			"date_from=2024-03-01&date_to=2024-03-02", append(slices.Clone(allMar1), "mar2-first"), ""},
		{"day ignores the time", DayPrecision, false,
			"date_from=2024-03-01T12:00:00&date_to=2024-03-01T13:00:00", allMar1, ""},
		{"day ignores exclusive bounds", DayPrecision, true,
			"date_from=2024-03-01T12:00:00&date_to=2024-03-01T13:00:00", allMar1, ""},
		{"day takes the UTC date", DayPrecision, false,
			"date_from=2024-03-02T01:00:00%2B02:00&date_to=2024-03-02T00:30:00%2B01:00", allMar1, ""},
		{"day, dates, date_to inclusive", DayPrecision, false,
			"date_from=2024-02-29&date_to=2024-03-01", append([]string{"feb29-last"}, allMar1...), ""},
		{"day, date_to only", DayPrecision, false, "date_to=2024-02-29T00:00:01Z", []string{"feb29-last"}, ""},
		{"date_only reads dates as whole days", DateOnlyPrecision, false,
			"date_from=2024-03-01&date_to=2024-03-01", allMar1, ""},
		{"date_only refuses a time in date_from", DateOnlyPrecision, false,
			"date_from=2024-03-01T12:00:00&date_to=2024-03-01", nil, "date_from"},
		{"date_only refuses a time in date_to", DateOnlyPrecision, false,
			"date_from=2024-03-01&date_to=2024-03-01T13:00:00Z", nil, "date_to"},
		{"date_only still refuses a bad date", DateOnlyPrecision, false, "date_from=2024-13-01", nil, "date_from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := start(t, Options{Order: OldestFirst, DatePrecision: tt.precision, ExclusiveDateBounds: tt.exclusive})
			s.Add(events...)
			if tt.badRequest == "" {
				if got := list(t, ts.URL, tt.query).ids(); !slices.Equal(got, tt.want) {
					t.Errorf("ids %v, want %v", got, tt.want)
				}
				return
			}
			a := do(t, http.MethodGet, ts.URL+"/events?"+tt.query)
			wantError(t, a, http.StatusBadRequest, "")
			if !strings.Contains(string(a.body), `"message":"invalid `+tt.badRequest) {
				t.Errorf("400 body %s does not name %s", a.body, tt.badRequest)
			}
		})
	}
}

func TestDateHeaderFollowsTheAPIClock(t *testing.T) {
	requests := []struct {
		name   string
		method string
		path   string
		auth   bool
		opts   Options
		faults Faults
		status int
	}{
		{"list", http.MethodGet, "/events", true, Options{}, Faults{}, http.StatusOK},
		{"get unknown", http.MethodGet, "/events/nope", true, Options{}, Faults{}, http.StatusNotFound},
		{"options", http.MethodOptions, "/events", true, Options{}, Faults{}, http.StatusOK},
		{"options no content", http.MethodOptions, "/events", true, Options{OptionsNoContent: true}, Faults{}, http.StatusNoContent},
		{"bad credentials", http.MethodGet, "/events", false, Options{}, Faults{}, http.StatusUnauthorized},
		{"bad request", http.MethodGet, "/events?size=0", true, Options{}, Faults{}, http.StatusBadRequest},
		{"past the end", http.MethodGet, "/events?page=2", true, Options{PastEndNotFound: true}, Faults{}, http.StatusNotFound},
		{"method not allowed", http.MethodDelete, "/events", true, Options{}, Faults{}, http.StatusMethodNotAllowed},
		{"injected 503", http.MethodGet, "/events", true, Options{}, Faults{Fail5xx: 1}, http.StatusServiceUnavailable},
		{"injected 429", http.MethodOptions, "/events", true, Options{}, Faults{RateLimit: 1}, http.StatusTooManyRequests},
	}
	for _, skew := range []time.Duration{0, -2 * time.Minute, 90 * time.Second} {
		for _, rq := range requests {
			t.Run(skew.String()+"/"+rq.name, func(t *testing.T) {
				clk := newClock(t0.Add(400 * time.Millisecond))
				o := rq.opts
				o.Now, o.ClockSkew, o.APIKey, o.APISecret = clk.Now, skew, "key", "secret"
				s, ts := start(t, o)
				s.SetFaults(rq.faults)
				auth := []string{"key", "wrong"}
				if rq.auth {
					auth[1] = "secret"
				}
				a := do(t, rq.method, ts.URL+rq.path, auth...)
				if a.status != rq.status {
					t.Fatalf("status %d, want %d; body %s", a.status, rq.status, a.body)
				}
				want := t0.Add(skew).Format(http.TimeFormat)
				if got := a.header.Get("Date"); got != want {
					t.Errorf("Date %q, want %q", got, want)
				}
			})
		}
	}
}

func TestClockSkewStampsAndHidesEvents(t *testing.T) {
	const skew = 2 * time.Minute
	tests := []struct {
		name    string
		skew    time.Duration
		created time.Duration // after t0, the base clock's now
		visible bool
	}{
		{"no skew, past", 0, -time.Second, true},
		{"no skew, now", 0, 0, true},
		{"no skew, future", 0, time.Second, false},
		{"API ahead, ahead of the base clock", skew, time.Minute, true},
		{"API ahead, at its now", skew, skew, true},
		{"API ahead, after its now", skew, skew + time.Second, false},
		{"API behind, before its now", -skew, -skew - time.Second, true},
		{"API behind, after its now", -skew, -time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ts := start(t, Options{Now: newClock(t0).Now, ClockSkew: tt.skew})
			s.Add(Event{ID: "x", EventType: "USER_LOGIN", CreatedAt: t0.Add(tt.created)})
			listed := slices.Equal(list(t, ts.URL, "").ids(), []string{"x"})
			got := do(t, http.MethodGet, ts.URL+"/events/x").status == http.StatusOK
			if listed != tt.visible || got != tt.visible || (len(s.Visible()) == 1) != tt.visible {
				t.Errorf("listed %v, got %v, Visible %d; want visible %v", listed, got, len(s.Visible()), tt.visible)
			}
		})
	}

	t.Run("Now, Generate and Run use the API's clock", func(t *testing.T) {
		s := New(Options{Now: newClock(t0).Now, ClockSkew: -skew, Seed: 3})
		if got := s.Now(); !got.Equal(t0.Add(-skew)) {
			t.Errorf("Now %v, want %v", got, t0.Add(-skew))
		}
		made := s.Generate(50, t0.Add(-time.Hour), t0)
		if lo, hi := made[0].CreatedAt, made[len(made)-1].CreatedAt; lo.Before(t0.Add(-time.Hour-skew)) || hi.After(t0.Add(-skew)) {
			t.Errorf("generated from %v to %v, want within the hour before the API's now %v", lo, hi, t0.Add(-skew))
		}
		if got := len(s.Visible()); got != 50 {
			t.Errorf("%d generated events visible, want 50", got)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(ctx, 1000)
		}()
		// Run adds its first events at once; wait for them without a timer.
		for i := 0; len(s.Visible()) == 50; i++ {
			if i == 10_000 {
				t.Fatal("Run added nothing")
			}
			time.Sleep(100 * time.Microsecond)
		}
		cancel()
		<-done
		for _, e := range s.Visible()[50:] {
			if !e.CreatedAt.Equal(t0.Add(-skew)) {
				t.Fatalf("Run stamped %v, want the API's now %v", e.CreatedAt, t0.Add(-skew))
			}
		}
	})
}

func TestPastEndNotFound(t *testing.T) {
	tests := []struct {
		name    string
		opt     bool
		events  int
		query   string
		status  int
		wantIDs []string
	}{
		{"last page", true, 5, "size=2&page=3", http.StatusOK, []string{"e1"}},
		{"past the last", true, 5, "size=2&page=4", http.StatusNotFound, nil},
		{"far past the last", true, 5, "size=2&page=9223372036854775807", http.StatusNotFound, nil},
		{"first page of nothing", true, 0, "page=1", http.StatusOK, nil},
		{"second page of nothing", true, 0, "page=2", http.StatusNotFound, nil},
		{"past the last with a cap", true, 5, "size=100&page=2", http.StatusNotFound, nil},
		{"empty page without the option", false, 5, "size=2&page=4", http.StatusOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Options{PastEndNotFound: tt.opt}
			if strings.Contains(tt.name, "cap") {
				o.PageCap = 5
			}
			s, ts := start(t, o)
			numbered(s, tt.events)
			if tt.status == http.StatusNotFound {
				wantError(t, do(t, http.MethodGet, ts.URL+"/events?"+tt.query), http.StatusNotFound, "")
				return
			}
			if got := list(t, ts.URL, tt.query).ids(); !slices.Equal(got, tt.wantIDs) {
				t.Errorf("ids %v, want %v", got, tt.wantIDs)
			}
		})
	}
}

func TestCreatedAtFormat(t *testing.T) {
	at := time.Date(2018, 5, 16, 16, 34, 22, 0, time.UTC)
	tests := []struct {
		format CreatedAtFormat
		want   string
	}{
		{DefaultCreatedAt, `"2018-05-16T16:34:22"`},
		{RFC3339CreatedAt, `"2018-05-16T16:34:22Z"`},
		{FractionCreatedAt, `"2018-05-16T16:34:22.000"`},
		{SpaceCreatedAt, `"2018-05-16 16:34:22"`},
		{EpochSecondsCreatedAt, `1526488462`},
		{EpochMillisCreatedAt, `1526488462000`},
	}
	for _, tt := range tests {
		t.Run(tt.format.String(), func(t *testing.T) {
			s, ts := start(t, Options{CreatedAtFormat: tt.format})
			s.Add(Event{ID: "x", EventType: "USER_LOGIN", CreatedAt: at})
			for _, path := range []string{"/events", "/events/x"} {
				a := do(t, http.MethodGet, ts.URL+path)
				if !strings.Contains(string(a.body), `"created_at":`+tt.want+`,`) {
					t.Errorf("%s: body %s does not spell created_at %s", path, a.body, tt.want)
				}
			}
			if got := list(t, ts.URL, "search_text=2018-05-16T16:34").ids(); !slices.Equal(got, []string{"x"}) {
				t.Errorf("search_text on the documented spelling found %v", got)
			}
		})
	}
}

func TestSettingNames(t *testing.T) {
	tests := []struct {
		name  string
		value interface {
			UnmarshalText([]byte) error
			String() string
		}
		names []string
	}{
		{"order", new(Order), Names[Order]()},
		{"date precision", new(DatePrecision), Names[DatePrecision]()},
		{"created_at format", new(CreatedAtFormat), Names[CreatedAtFormat]()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.names) < 2 {
				t.Fatalf("names %v", tt.names)
			}
			for _, name := range tt.names {
				if err := tt.value.UnmarshalText([]byte(name)); err != nil || tt.value.String() != name {
					t.Errorf("UnmarshalText(%q): %v, then String %q", name, err, tt.value.String())
				}
			}
			err := tt.value.UnmarshalText([]byte("Newest"))
			if want := "unknown " + tt.name + ` "Newest": want one of ` + strings.Join(tt.names, ", "); err == nil || err.Error() != want {
				t.Errorf("error %v, want %q", err, want)
			}
		})
	}
	if got := []string{Order(7).String(), DatePrecision(-1).String(), CreatedAtFormat(9).String()}; !slices.Equal(got,
		[]string{"Order(7)", "DatePrecision(-1)", "CreatedAtFormat(9)"}) {
		t.Errorf("out-of-range names %v", got)
	}
	if got := Names[Order](); !slices.Equal(got, []string{"newest", "oldest"}) || Order(0) != NewestFirst {
		t.Errorf("order names %v", got)
	}
}

func TestStatsByDateBounds(t *testing.T) {
	s, ts := start(t, Options{DatePrecision: DateOnlyPrecision})
	for _, q := range []string{
		"", "page=2",
		"date_from=2024-03-01", "date_from=2024-03-01&date_to=2024-03-02",
		"date_from=2024-03-01T00:00:00", "date_to=2024-03-01T00:00:00Z",
		"date_from=2024-03-01&date_to=2024-03-01T10:00:00",
	} {
		do(t, http.MethodGet, ts.URL+"/events?"+q)
	}
	do(t, http.MethodGet, ts.URL+"/events/x?date_from=2024-03-01")
	st := s.Stats()
	want := map[string]int{"none": 2, "date": 2, "time": 2, "mixed": 1}
	if !mapsEqual(st.ByDateBounds, want) {
		t.Errorf("by date bounds %v, want %v", st.ByDateBounds, want)
	}
	if st.ByStatus[http.StatusBadRequest] != 3 {
		t.Errorf("by status %v, want 3 refused for their time of day", st.ByStatus)
	}
	st.ByDateBounds["none"] = 99
	if s.Stats().ByDateBounds["none"] != 2 {
		t.Errorf("Stats returned the server's own map")
	}
}

// The events a poll with a cap reads, page after page, are every event once
// in the given order, however small the cap.
func TestPagingWithCapCoversAll(t *testing.T) {
	for _, order := range []Order{NewestFirst, OldestFirst} {
		for _, pageCap := range []int{1, 7, 30} {
			t.Run(order.String()+"/"+strconv.Itoa(pageCap), func(t *testing.T) {
				s, ts := start(t, Options{Order: order, PageCap: pageCap, Seed: 2})
				made := s.Generate(100, t0, t0.Add(time.Hour))
				var got []string
				next := ts.URL + "/events?size=100"
				for i := 0; next != ""; i++ {
					if i > 100 {
						t.Fatal("more pages than events")
					}
					a := do(t, http.MethodGet, next)
					var p wirePage
					if err := json.Unmarshal(a.body, &p); err != nil {
						t.Fatalf("decoding %s: %v", a.body, err)
					}
					got = append(got, p.ids()...)
					next = p.Links["next"].Href
				}
				want := ids(made)
				if order == NewestFirst {
					slices.Reverse(want)
				}
				if !slices.Equal(got, want) {
					t.Errorf("read %d events, want all %d in order", len(got), len(want))
				}
			})
		}
	}
}
