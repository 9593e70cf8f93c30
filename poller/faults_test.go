package poller_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/cenkalti/backoff/v5"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// faultFunc answers a request instead of the simulator and reports true,
// or leaves it to the simulator by reporting false.
type faultFunc func(w http.ResponseWriter, r *http.Request) bool

// faultServer is the simulator behind a switchable fault, on loopback, read
// by one account through the real client.
type faultServer struct {
	t      *testing.T
	Clock  *pollertest.Clock
	Sim    *simulator.Server
	Srv    *httptest.Server
	fault  atomic.Pointer[faultFunc]
	Coll   *collector.Collector
	Poller *poller.Poller
	start  time.Time
	hc     *http.Client
}

type faultOptions struct {
	Sim      simulator.Options
	Retries  int
	maxBody  int64
	maxUsers int
	// maxRetryAfter is the client's MaxRetryAfter; default its own.
	maxRetryAfter time.Duration
}

// clientTimeout is long enough for any loopback answer on a loaded machine;
// only the stalling faults wait for it.
const clientTimeout = 2 * time.Second

func newFaultServer(t *testing.T, o faultOptions) *faultServer {
	t.Helper()
	fs := &faultServer{t: t, Clock: pollertest.NewClock(), Coll: collector.New(nil)}
	o.Sim.APIKey, o.Sim.APISecret, o.Sim.Now, o.Sim.Seed = pollertest.Key, pollertest.Secret, fs.Clock.Now, 11
	o.Sim.Order = simulator.OldestFirst
	fs.Sim = simulator.New(o.Sim)
	fs.Srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Answers made up here carry the API's clock too, not the host's.
		w.Header().Set("Date", fs.Clock.Now().UTC().Format(http.TimeFormat))
		if f := fs.fault.Load(); f != nil && (*f)(w, r) {
			return
		}
		fs.Sim.ServeHTTP(w, r)
	}))
	t.Cleanup(fs.Srv.Close)
	fs.hc = &http.Client{Transport: &http.Transport{}}
	t.Cleanup(fs.hc.CloseIdleConnections)
	obs := fs.Coll.Observer("test")
	client, err := auditapi.New(auditapi.Config{
		BaseURL:          fs.Srv.URL,
		APIKey:           pollertest.Key,
		APISecret:        pollertest.Secret,
		Timeout:          clientTimeout,
		MaxRetries:       o.Retries,
		MaxResponseBytes: o.maxBody,
		MaxRetryAfter:    o.maxRetryAfter,
		HTTPClient:       fs.hc,
		Observer:         obs,
		Now:              fs.Clock.Now,
		NewBackOff:       func() backoff.BackOff { return &backoff.ZeroBackOff{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	fs.start = fs.Clock.Now()
	fs.Poller = poller.New(poller.Options{
		Name: "test", API: client, Lookback: time.Hour, Overlap: time.Minute,
		UserLabel: config.UserLabelEmail, CountryBreakdown: true, MaxUsers: o.maxUsers, Now: fs.Clock.Now,
	})
	fs.Coll.SetAccounts([]collector.Account{{Poller: fs.Poller, API: obs}})
	return fs
}

func (fs *faultServer) set(f faultFunc) {
	if f == nil {
		fs.fault.Store(nil)
		return
	}
	fs.fault.Store(&f)
}

func (fs *faultServer) poll(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return fs.Poller.Poll(ctx)
}

func (fs *faultServer) metric(name, labels string) float64 {
	fs.t.Helper()
	return pollertest.Gathered(fs.t, fs.Coll, name)[labels]
}

// assertServed checks that the counters equal the events the API served.
func (fs *faultServer) assertServed() {
	fs.t.Helper()
	pollertest.AssertCounts(fs.t, pollertest.Gathered(fs.t, fs.Coll, "vonage_audit_events_total"), pollertest.Served(fs.Sim.Visible(), fs.start.Add(-time.Hour)))
}

func status(code int, body string, header ...string) faultFunc {
	return func(w http.ResponseWriter, _ *http.Request) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// stall answers nothing, or only the first half of a page, until the
// client gives up.
func stall(midBody bool) faultFunc {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if midBody {
			w.Header().Set("Content-Type", "application/hal+json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"_embedded":{"events":[{"id":"a","event_type":"USER_LOGIN",`))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-time.After(4 * clientTimeout):
		}
		return true
	}
}

// pageAt serves GET /events through the simulator and lets edit rewrite the
// decoded page, to make its metadata and links lie.
func (fs *faultServer) pageAt(edit func(page int, body map[string]any)) faultFunc {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		rec := httptest.NewRecorder()
		fs.Sim.ServeHTTP(rec, r)
		var body map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			return false
		}
		page := 1
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		edit(page, body)
		// The simulator's headers, its Date (the API's clock) among them.
		maps.Copy(w.Header(), rec.Header())
		w.Header().Del("Content-Length")
		_ = json.NewEncoder(w).Encode(body)
		return true
	}
}

// Every persistent fault: the poll fails, the failure shows in the
// self-metrics, the counters keep their last good values, and once the API
// behaves they equal the events served.
func TestFaultsKeepLastGoodCounters(t *testing.T) {
	t.Parallel()
	other := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached another host: %s %s (Authorization set: %v)", r.Method, r.URL, r.Header.Get("Authorization") != "")
	}))
	defer other.Close()

	tests := []struct {
		name    string
		fault   func(fs *faultServer) faultFunc
		reason  string
		retries int
		maxBody int64
		// noRetry: the client must not retry (checked on api_retries_total).
		noRetry bool
		// partial: the fault hits after page 1, which is counted.
		partial bool
	}{
		{name: "5xx burst", reason: "server", retries: 2, fault: func(fs *faultServer) faultFunc {
			fs.Sim.SetFaults(simulator.Faults{Fail5xx: 1000})
			return nil
		}},
		{name: "502 HTML page", reason: "server", fault: func(*faultServer) faultFunc {
			return status(http.StatusBadGateway, "<html><body><h1>502 Bad Gateway</h1></body></html>")
		}},
		{name: "429 without Retry-After", reason: "rate_limited", fault: func(*faultServer) faultFunc {
			return status(http.StatusTooManyRequests, `{"status":429,"error":"Too Many Requests"}`)
		}},
		{name: "429 Retry-After seconds past the deadline", reason: "rate_limited", retries: 3, noRetry: true, fault: func(*faultServer) faultFunc {
			return status(http.StatusTooManyRequests, `{"status":429}`, "Retry-After", "3600")
		}},
		{name: "429 Retry-After HTTP-date past the deadline", reason: "rate_limited", retries: 3, noRetry: true, fault: func(fs *faultServer) faultFunc {
			return status(http.StatusTooManyRequests, `{"status":429}`, "Retry-After", fs.Clock.Now().Add(time.Hour).Format(http.TimeFormat))
		}},
		{name: "401 quota exceeded", reason: "quota", fault: func(*faultServer) faultFunc {
			return status(http.StatusUnauthorized, `{"status":401,"error":"Unauthorized","message":"Quota Exceeded"}`)
		}},
		{name: "401 bad credentials", reason: "auth", retries: 3, noRetry: true, fault: func(*faultServer) faultFunc {
			return status(http.StatusUnauthorized, `{"status":401,"error":"Unauthorized","message":"Bad credentials"}`)
		}},
		{name: "no answer before the timeout", reason: "timeout", fault: func(*faultServer) faultFunc { return stall(false) }},
		{name: "stall mid-body", reason: "timeout", fault: func(*faultServer) faultFunc { return stall(true) }},
		{name: "truncated JSON", reason: "decode", fault: func(fs *faultServer) faultFunc {
			fs.Sim.SetFaults(simulator.Faults{Truncate: 1000})
			return nil
		}},
		{name: "invalid JSON", reason: "decode", fault: func(*faultServer) faultFunc {
			return status(http.StatusOK, `{"_embedded":{"events":[}`)
		}},
		{name: "not an object", reason: "decode", fault: func(*faultServer) faultFunc { return status(http.StatusOK, `[1,2,3]`) }},
		{name: "empty 200", reason: "decode", fault: func(*faultServer) faultFunc { return status(http.StatusOK, ``) }},
		{name: "answer larger than the limit", reason: "decode", maxBody: 256 << 10, retries: 2, noRetry: true, fault: func(*faultServer) faultFunc {
			return status(http.StatusOK, `{"_embedded":{"events":[]},"padding":"`+strings.Repeat("x", 300<<10)+`"}`)
		}},
		{name: "redirect to another host", reason: "other", fault: func(*faultServer) faultFunc {
			return status(http.StatusFound, "", "Location", other.URL+"/events")
		}},
		{name: "redirect to the same host", reason: "other", fault: func(fs *faultServer) faultFunc {
			return status(http.StatusTemporaryRedirect, "", "Location", fs.Srv.URL+"/v2/events")
		}},
		{name: "page parameter ignored", reason: "decode", partial: true, fault: func(*faultServer) faultFunc {
			return func(_ http.ResponseWriter, r *http.Request) bool {
				q := r.URL.Query()
				q.Set("page", "1")
				r.URL.RawQuery = q.Encode()
				return false
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, faultOptions{Retries: tc.retries, maxBody: tc.maxBody})
			fs.Sim.Generate(150, fs.start.Add(-30*time.Minute), fs.start)
			if err := fs.poll(30 * time.Second); err != nil {
				t.Fatalf("first poll: %v", err)
			}
			good := pollertest.Gathered(t, fs.Coll, "vonage_audit_events_total")
			cursor := fs.metric("vonage_audit_cursor_timestamp_seconds", "")

			fs.Clock.Add(time.Minute)
			fs.Sim.Generate(120, fs.Clock.Now().Add(-50*time.Second), fs.Clock.Now())
			fs.set(tc.fault(fs))
			if err := fs.poll(10 * time.Second); err == nil {
				t.Fatal("the poll succeeded through the fault")
			}
			if got := fs.metric("vonage_audit_poll_errors_total", tc.reason); got != 1 {
				t.Errorf("poll_errors_total{reason=%q} = %v, want 1; all: %v", tc.reason, got, pollertest.Gathered(t, fs.Coll, "vonage_audit_poll_errors_total"))
			}
			if up := fs.metric("vonage_audit_up", ""); up != 0 {
				t.Errorf("up = %v during the fault", up)
			}
			if c := fs.metric("vonage_audit_cursor_timestamp_seconds", ""); c != cursor {
				t.Errorf("the cursor moved during the fault: %v, was %v", c, cursor)
			}
			if tc.noRetry {
				if r := pollertest.Sum(pollertest.Gathered(t, fs.Coll, "vonage_audit_api_retries_total")); r != 0 {
					t.Errorf("retried %v times, want none", r)
				}
			}
			if tc.reason == "quota" || tc.reason == "rate_limited" {
				if n := fs.metric("vonage_audit_api_rate_limited_total", ""); n == 0 {
					t.Error("api_rate_limited_total did not count the answer")
				}
			}
			if !tc.partial {
				pollertest.AssertCounts(t, pollertest.Gathered(t, fs.Coll, "vonage_audit_events_total"), good)
			}

			fs.set(nil)
			fs.Sim.SetFaults(simulator.Faults{})
			fs.Clock.Add(time.Minute)
			if err := fs.poll(30 * time.Second); err != nil {
				t.Fatalf("poll after the fault: %v", err)
			}
			fs.assertServed()
			if up := fs.metric("vonage_audit_up", ""); up != 1 {
				t.Errorf("up = %v after the fault", up)
			}
		})
	}
}

// Faults the client rides out within one poll: it retries, honouring
// Retry-After in both forms, and counts every event once. The client cuts
// the waits asked for to a millisecond, so that they cost no real time.
func TestTransientFaultsAreRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header func(now time.Time) string
		faults simulator.Faults
		reason string
	}{
		{name: "5xx burst", faults: simulator.Faults{Fail5xx: 2}, reason: "server"},
		{name: "429 Retry-After seconds", faults: simulator.Faults{RateLimit: 1, RetryAfter: "1"}, reason: "rate_limited"},
		{name: "429 Retry-After HTTP-date", header: func(now time.Time) string { return now.Add(time.Second).Format(http.TimeFormat) }, reason: "rate_limited"},
		{name: "401 quota exceeded", faults: simulator.Faults{Quota: 1}, reason: "quota"},
		{name: "truncated body", faults: simulator.Faults{Truncate: 1}, reason: "decode"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, faultOptions{Retries: 3, maxRetryAfter: time.Millisecond})
			fs.Sim.Generate(250, fs.start.Add(-30*time.Minute), fs.start)
			fs.Sim.SetFaults(tc.faults)
			if tc.header != nil {
				var once atomic.Bool
				fs.set(func(w http.ResponseWriter, r *http.Request) bool {
					if r.Method != http.MethodGet || !once.CompareAndSwap(false, true) {
						return false
					}
					return status(http.StatusTooManyRequests, `{"status":429}`, "Retry-After", tc.header(fs.Clock.Now()))(w, r)
				})
			}
			if err := fs.poll(30 * time.Second); err != nil {
				t.Fatalf("poll: %v", err)
			}
			fs.assertServed()
			if r := fs.metric("vonage_audit_api_retries_total", tc.reason); r == 0 {
				t.Errorf("api_retries_total{reason=%q} = 0; all: %v", tc.reason, pollertest.Gathered(t, fs.Coll, "vonage_audit_api_retries_total"))
			}
			if e := pollertest.Sum(pollertest.Gathered(t, fs.Coll, "vonage_audit_poll_errors_total")); e != 0 {
				t.Errorf("poll_errors_total = %v, want 0", e)
			}
		})
	}
}

// Lying page metadata and links neither lose events nor send a request to
// another host: page numbers are the client's own.
func TestLyingPagesCountEveryEvent(t *testing.T) {
	t.Parallel()
	evil := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		t.Errorf("a request followed a next link to another host (Authorization set: %v)", r.Header.Get("Authorization") != "")
	}))
	defer evil.Close()
	tests := []struct {
		name string
		edit func(fs *faultServer) func(page int, body map[string]any)
	}{
		{"totalPages says 1", func(*faultServer) func(int, map[string]any) {
			return func(_ int, b map[string]any) { b["page"].(map[string]any)["totalPages"] = 1 }
		}},
		{"totalPages says 1 and next is missing", func(*faultServer) func(int, map[string]any) {
			return func(_ int, b map[string]any) {
				b["page"].(map[string]any)["totalPages"] = 1
				delete(b["_links"].(map[string]any), "next")
			}
		}},
		{"totalPages says 1000", func(*faultServer) func(int, map[string]any) {
			return func(_ int, b map[string]any) { b["page"].(map[string]any)["totalPages"] = 1000 }
		}},
		{"next points back to page 1", func(fs *faultServer) func(int, map[string]any) {
			return func(_ int, b map[string]any) {
				b["_links"].(map[string]any)["next"] = map[string]any{"href": fs.Srv.URL + "/events?page=1&size=100"}
			}
		}},
		{"next points to another host", func(*faultServer) func(int, map[string]any) {
			return func(_ int, b map[string]any) {
				b["_links"].(map[string]any)["next"] = map[string]any{"href": evil.URL + "/events?page=2&size=100"}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fs := newFaultServer(t, faultOptions{})
			fs.Sim.Generate(350, fs.start.Add(-30*time.Minute), fs.start)
			fs.set(fs.pageAt(tc.edit(fs)))
			if err := fs.poll(30 * time.Second); err != nil {
				t.Fatalf("poll: %v", err)
			}
			fs.assertServed()
			fs.Clock.Add(time.Minute)
			fs.Sim.Generate(150, fs.Clock.Now().Add(-50*time.Second), fs.Clock.Now())
			if err := fs.poll(30 * time.Second); err != nil {
				t.Fatalf("second poll: %v", err)
			}
			fs.assertServed()
		})
	}
}

// Events the API should never send are skipped and reported, and never
// stop the rest of the page from being counted.
func TestHostileEvents(t *testing.T) {
	fs := newFaultServer(t, faultOptions{})
	now := fs.Clock.Now()
	ts := func(d time.Duration) string { return now.Add(d).Format("2006-01-02T15:04:05") }
	page := func(events ...string) faultFunc {
		body := `{"_embedded":{"events":[` + strings.Join(events, ",") + `]},"page":{"size":100,"totalElements":` +
			fmt.Sprint(len(events)) + `,"totalPages":1,"number":1}}`
		return func(w http.ResponseWriter, r *http.Request) bool {
			if r.Method != http.MethodGet {
				return false
			}
			return status(http.StatusOK, body)(w, r)
		}
	}
	ev := func(id, eventType, created string) string {
		return fmt.Sprintf(`{"id":%q,"event_type":%q,"created_at":%q,"source":"CD","user_email":"u@example.com","source_country":"GB"}`, id, eventType, created)
	}
	fs.set(page(
		ev("ok-1", "USER_LOGIN", ts(-10*time.Second)),
		ev("", "USER_LOGIN", ts(-9*time.Second)),                            // missing id
		`{"event_type":"USER_LOGIN","created_at":"`+ts(-9*time.Second)+`"}`, // no id key at all
		ev("bad-time", "USER_LOGIN", "yesterday"),                           // unparseable created_at
		ev("no-type", "", ts(-8*time.Second)),                               // missing event_type
		ev("dup", "APP_CREATE", ts(-7*time.Second)),                         // duplicated id ...
		ev("dup", "APP_DELETE", ts(-6*time.Second)),                         // ... with other contents
		ev("soon", "NUMBER_ASSIGN", ts(2*time.Minute)),                      // a little in the future
		ev("far", "NUMBER_RELEASE", ts(24*time.Hour)),                       // far in the future
		`{"id":"odd-types","event_type":"USER_LOGIN","created_at":"`+ts(-5*time.Second)+`","user_id":{"x":1},"source":42,"context":"x"}`,
	))
	if err := fs.poll(30 * time.Second); err != nil {
		t.Fatalf("poll: %v", err)
	}
	pollertest.AssertCounts(t, pollertest.Gathered(t, fs.Coll, "vonage_audit_events_total"), map[string]float64{
		"USER_LOGIN|CD": 1, "USER_LOGIN|unknown": 1, "APP_CREATE|CD": 1,
	})
	want := map[string]float64{"invalid": 5, "out_of_window": 1}
	pollertest.AssertCounts(t, pollertest.Gathered(t, fs.Coll, "vonage_audit_events_skipped_total"), want)
	if d := fs.metric("vonage_audit_duplicate_events_total", ""); d != 1 {
		t.Errorf("duplicate_events_total = %v, want 1 (first contents win)", d)
	}
	if up := fs.metric("vonage_audit_up", ""); up != 1 {
		t.Errorf("up = %v: odd events must not fail the poll", up)
	}

	// Once the window reaches it, the near-future event is counted; the
	// far-future one is skipped again, and never remembered meanwhile.
	fs.Clock.Add(3 * time.Minute)
	if err := fs.poll(30 * time.Second); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if got := fs.metric("vonage_audit_events_total", "NUMBER_ASSIGN|CD"); got != 1 {
		t.Errorf("the near-future event counted %v times once its time came, want 1", got)
	}
	if fs.Poller.HasSeen("far") {
		t.Error("the far-future event is remembered")
	}
	if got := fs.metric("vonage_audit_events_total", "NUMBER_RELEASE|CD"); got != 0 {
		t.Errorf("the far-future event was counted %v times", got)
	}
}

// A long run against a faulty API leaks no goroutine and keeps its memory
// bounded: the seen ids, the series and the users. 400 polls bring 1,200
// events, six times the bound on remembered ids, so that ids kept past the
// overlap show; more polls would only take longer.
func TestSoakAgainstFaultyAPI(t *testing.T) {
	const polls = 400
	before := runtime.NumGoroutine()
	func() {
		fs := newFaultServer(t, faultOptions{maxUsers: 3, Sim: simulator.Options{}})
		var n atomic.Int64
		faults := []faultFunc{
			status(http.StatusServiceUnavailable, `{"status":503}`),
			status(http.StatusTooManyRequests, `{"status":429}`),
			status(http.StatusUnauthorized, `{"message":"Quota Exceeded"}`),
			status(http.StatusOK, `{"_embedded":{"events":[{"id":`),
			status(http.StatusFound, "", "Location", "http://127.0.0.1:1/"),
		}
		fs.set(func(w http.ResponseWriter, r *http.Request) bool {
			i := n.Add(1)
			if i%3 != 0 {
				return false
			}
			return faults[int(i/3)%len(faults)](w, r)
		})
		ok := 0
		for range polls {
			fs.Clock.Add(10 * time.Second)
			fs.Sim.Generate(3, fs.Clock.Now().Add(-9*time.Second), fs.Clock.Now())
			if fs.poll(30*time.Second) == nil {
				ok++
			}
		}
		fs.set(nil)
		fs.Clock.Add(10 * time.Second)
		if err := fs.poll(30 * time.Second); err != nil {
			t.Fatalf("last poll: %v", err)
		}
		if ok == 0 || ok == polls {
			t.Fatalf("%d of %d polls succeeded: the faults did not mix with successes", ok, polls)
		}
		fs.assertServed()

		seen, users, _ := fs.Poller.Held()
		// Events of the last overlap (1m) plus one second, at 3 per 10s,
		// and those of the polls that failed just before.
		if seen > 200 {
			t.Errorf("%d ids remembered after %d polls; want only those of the overlap window", seen, polls)
		}
		if users > 3 {
			t.Errorf("%d users admitted, want at most max_users 3", users)
		}
		series := testutil.CollectAndCount(fs.Coll)
		// Types x sources x (3 users + __other__ + unknown), countries, and
		// the self-metrics: bounded by the label values, not by the polls.
		if limit := 40 * 2 * 5 * 3; series > limit {
			t.Errorf("%d series after %d polls, more than %d", series, polls, limit)
		}
		fs.Srv.Close()
		fs.hc.CloseIdleConnections()
	}()
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after <= before {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	t.Errorf("%d goroutines before the soak, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
}
