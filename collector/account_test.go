package collector

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

func TestCountsMatchServedEventsInEitherOrder(t *testing.T) {
	for _, order := range []simulator.Order{simulator.NewestFirst, simulator.OldestFirst} {
		t.Run(map[simulator.Order]string{simulator.NewestFirst: "newest first", simulator.OldestFirst: "oldest first"}[order], func(t *testing.T) {
			f := newFixture(t, fixtureOptions{
				sim:     simulator.Options{Order: order},
				account: AccountOptions{Lookback: time.Hour, Overlap: 2 * time.Minute, CountryBreakdown: true},
			})
			start := f.clock.Now()
			// Many pages, many events per second, some before the lookback.
			f.sim.Generate(30, start.Add(-3*time.Hour), start.Add(-61*time.Minute))
			f.sim.Generate(347, start.Add(-time.Hour), start)
			f.mustPoll()
			assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), start.Add(-time.Hour)))

			for i := 0; i < 3; i++ {
				f.clock.Add(time.Minute)
				f.sim.Generate(123, f.clock.Now().Add(-59*time.Second), f.clock.Now())
				f.mustPoll()
			}
			assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), start.Add(-time.Hour)))
			if d := gathered(t, f.coll, "vonage_audit_duplicate_events_total")[""]; d == 0 {
				t.Errorf("re-reading the overlap found no duplicates; the overlap window was not read again")
			}
			want := float64(347 + 3*123)
			if got := gathered(t, f.coll, "vonage_audit_events_ingested_total")[""]; got != want {
				t.Errorf("events ingested = %v, want %v", got, want)
			}
		})
	}
}

func TestExposition(t *testing.T) {
	f := newFixture(t, fixtureOptions{
		sim: simulator.Options{EventTypes: []simulator.EventType{
			{Type: "USER_LOGIN", Description: "User login"},
			{Type: "ACCOUNT_SECRET_CREATE", Description: "Secret created"},
		}},
		account: AccountOptions{Lookback: time.Minute, Overlap: time.Minute, CountryBreakdown: true},
	})
	now := f.clock.Now()
	f.sim.Add(
		simulator.Event{ID: "e1", EventType: "USER_LOGIN", CreatedAt: now.Add(-2 * time.Second), UserEmail: "ana@example.com", UserID: 11, Source: "CD", SourceCountry: "GB"},
		simulator.Event{ID: "e2", EventType: "USER_LOGIN", CreatedAt: now.Add(-2 * time.Second), UserEmail: "ana@example.com", UserID: 11, Source: "CD", SourceCountry: "GB"},
		simulator.Event{ID: "e3", EventType: "NUMBER_UPDATED", CreatedAt: now.Add(-time.Second), Source: "DEVAPI", SourceCountry: "zz"},
		simulator.Event{ID: "e4", EventType: "USER_LOGIN", CreatedAt: now, UserID: 12, Source: "CD", SourceCountry: "DE"},
	)
	f.mustPoll()
	expected := `
# HELP vonage_audit_country_events_total Audit events counted, by event type and source country.
# TYPE vonage_audit_country_events_total counter
vonage_audit_country_events_total{account="test",country="DE",event_type="USER_LOGIN"} 1
vonage_audit_country_events_total{account="test",country="GB",event_type="USER_LOGIN"} 2
vonage_audit_country_events_total{account="test",country="unknown",event_type="NUMBER_UPDATED"} 1
# HELP vonage_audit_events_total Audit events counted, by event type and source.
# TYPE vonage_audit_events_total counter
vonage_audit_events_total{account="test",event_type="ACCOUNT_SECRET_CREATE",source="CD"} 0
vonage_audit_events_total{account="test",event_type="ACCOUNT_SECRET_CREATE",source="DEVAPI"} 0
vonage_audit_events_total{account="test",event_type="NUMBER_UPDATED",source="DEVAPI"} 1
vonage_audit_events_total{account="test",event_type="USER_LOGIN",source="CD"} 3
vonage_audit_events_total{account="test",event_type="USER_LOGIN",source="DEVAPI"} 0
# HELP vonage_audit_last_event_timestamp_seconds Creation time of the newest audit event counted, by event type.
# TYPE vonage_audit_last_event_timestamp_seconds gauge
vonage_audit_last_event_timestamp_seconds{account="test",event_type="NUMBER_UPDATED"} 1.773489599e+09
vonage_audit_last_event_timestamp_seconds{account="test",event_type="USER_LOGIN"} 1.7734896e+09
# HELP vonage_audit_user_events_total Audit events counted, by event type, source and user.
# TYPE vonage_audit_user_events_total counter
vonage_audit_user_events_total{account="test",event_type="NUMBER_UPDATED",source="DEVAPI",user="unknown"} 1
vonage_audit_user_events_total{account="test",event_type="USER_LOGIN",source="CD",user="12"} 1
vonage_audit_user_events_total{account="test",event_type="USER_LOGIN",source="CD",user="ana@example.com"} 2
# HELP vonage_audit_up Whether the last poll of the Audit API succeeded.
# TYPE vonage_audit_up gauge
vonage_audit_up{account="test"} 1
# HELP vonage_audit_events_skipped_total Audit events not counted, by reason.
# TYPE vonage_audit_events_skipped_total counter
vonage_audit_events_skipped_total{account="test",reason="invalid"} 0
vonage_audit_events_skipped_total{account="test",reason="out_of_window"} 0
# HELP vonage_audit_poll_errors_total Polls of the Audit API that failed, by reason.
# TYPE vonage_audit_poll_errors_total counter
vonage_audit_poll_errors_total{account="test",reason="auth"} 0
vonage_audit_poll_errors_total{account="test",reason="decode"} 0
vonage_audit_poll_errors_total{account="test",reason="network"} 0
vonage_audit_poll_errors_total{account="test",reason="other"} 0
vonage_audit_poll_errors_total{account="test",reason="quota"} 0
vonage_audit_poll_errors_total{account="test",reason="rate_limited"} 0
vonage_audit_poll_errors_total{account="test",reason="server"} 0
vonage_audit_poll_errors_total{account="test",reason="timeout"} 0
# HELP vonage_audit_api_requests_total Requests sent to the Audit API, by endpoint and HTTP status code or error.
# TYPE vonage_audit_api_requests_total counter
vonage_audit_api_requests_total{account="test",code="200",endpoint="list"} 1
vonage_audit_api_requests_total{account="test",code="200",endpoint="options"} 1
`
	if err := testutil.CollectAndCompare(f.coll, strings.NewReader(expected),
		"vonage_audit_events_total", "vonage_audit_user_events_total", "vonage_audit_country_events_total",
		"vonage_audit_last_event_timestamp_seconds", "vonage_audit_up", "vonage_audit_poll_errors_total",
		"vonage_audit_events_skipped_total", "vonage_audit_api_requests_total"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(f.coll); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestUserLabel(t *testing.T) {
	for _, tc := range []struct {
		label string
		want  map[string]float64
	}{
		{UserLabelEmail, map[string]float64{"USER_LOGIN|CD|ana@example.com": 1, "USER_LOGIN|CD|12": 1, "USER_LOGIN|DEVAPI|unknown": 1}},
		{UserLabelID, map[string]float64{"USER_LOGIN|CD|11": 1, "USER_LOGIN|CD|12": 1, "USER_LOGIN|DEVAPI|unknown": 1}},
		{UserLabelNone, map[string]float64{}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{account: AccountOptions{UserLabel: tc.label}})
			now := f.clock.Now()
			f.sim.Add(
				simulator.Event{EventType: "USER_LOGIN", CreatedAt: now, UserEmail: "ana@example.com", UserID: 11, Source: "CD"},
				simulator.Event{EventType: "USER_LOGIN", CreatedAt: now, UserID: 12, Source: "CD"},
				simulator.Event{EventType: "USER_LOGIN", CreatedAt: now, Source: "DEVAPI"},
			)
			f.mustPoll()
			assertCounts(t, gathered(t, f.coll, "vonage_audit_user_events_total"), tc.want)
			if tc.label == UserLabelNone {
				if n := testutil.CollectAndCount(f.coll, "vonage_audit_user_events_total"); n != 0 {
					t.Errorf("user_label none still exports %d user series", n)
				}
			}
		})
	}
}

func TestLateEventsWithinOverlapAreCountedOnce(t *testing.T) {
	f := newFixture(t, fixtureOptions{account: AccountOptions{Lookback: time.Minute, Overlap: 2 * time.Minute}})
	now := f.clock.Now()
	f.sim.Add(
		simulator.Event{ID: "on-time", EventType: "USER_LOGIN", CreatedAt: now.Add(-5 * time.Second), Source: "CD"},
		// Created before the first poll, visible only after it.
		simulator.Event{ID: "late", EventType: "APP_CREATE", CreatedAt: now.Add(-3 * time.Second), Source: "CD", VisibleAt: now.Add(70 * time.Second)},
		// Later than the overlap: the documented limit, never counted.
		simulator.Event{ID: "too-late", EventType: "APP_DELETE", CreatedAt: now.Add(-2 * time.Second), Source: "CD", VisibleAt: now.Add(10 * time.Minute)},
	)
	f.mustPoll()
	for i := 0; i < 12; i++ {
		f.clock.Add(time.Minute)
		f.mustPoll()
	}
	assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), map[string]float64{"USER_LOGIN|CD": 1, "APP_CREATE|CD": 1})
}

func TestEventsBeforeStartAreNotCounted(t *testing.T) {
	f := newFixture(t, fixtureOptions{account: AccountOptions{Lookback: 10 * time.Minute, Overlap: time.Hour}})
	now := f.clock.Now()
	f.sim.Add(
		simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-11 * time.Minute), Source: "CD"},
		simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-10 * time.Minute), Source: "CD"},
		simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-9 * time.Minute), Source: "CD"},
	)
	f.mustPoll()
	f.clock.Add(time.Minute)
	f.mustPoll()
	assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), map[string]float64{"USER_LOGIN|CD": 2})
}

// A page must not shift under a poll: events that arrive while a poll is
// paging are neither lost nor counted twice.
func TestEventsArrivingWhilePaging(t *testing.T) {
	for _, order := range []simulator.Order{simulator.NewestFirst, simulator.OldestFirst} {
		var sim *simulator.Server
		var clock *testClock
		var injected atomic.Bool
		f := newFixture(t, fixtureOptions{
			sim:     simulator.Options{Order: order},
			account: AccountOptions{Overlap: 2 * time.Minute, Lookback: time.Hour},
			wrap: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Query().Get("page") == "2" && injected.CompareAndSwap(false, true) {
						// Late arrivals inside the pinned window, and new ones after it.
						sim.Generate(40, clock.Now().Add(-30*time.Second), clock.Now())
						sim.Generate(40, clock.Now().Add(time.Second), clock.Now().Add(20*time.Second))
					}
					next.ServeHTTP(w, r)
				})
			},
		})
		sim, clock = f.sim, f.clock
		start := f.clock.Now()
		f.sim.Generate(450, start.Add(-50*time.Minute), start)
		f.mustPoll()
		if !injected.Load() {
			t.Fatal("no second page was requested")
		}
		f.clock.Add(time.Minute)
		f.mustPoll()
		assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), start.Add(-time.Hour)))
	}
}

// A poll that fails halfway counts what it read; the next poll reads the
// same window again and counts nothing twice.
func TestFailedPollLosesAndDoublesNothing(t *testing.T) {
	var failPage3 atomic.Bool
	failPage3.Store(true)
	f := newFixture(t, fixtureOptions{
		account: AccountOptions{Overlap: time.Minute, Lookback: time.Hour},
		wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failPage3.Load() && r.URL.Query().Get("page") == "3" {
					http.Error(w, `{"status":503,"error":"Service Unavailable"}`, http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, r)
			})
		},
		retries: 1,
	})
	start := f.clock.Now()
	f.sim.Generate(480, start.Add(-50*time.Minute), start)
	if err := f.poll(); err == nil {
		t.Fatal("poll succeeded while page 3 failed")
	}
	partial := sum(gathered(t, f.coll, "vonage_audit_events_total"))
	if partial != 200 {
		t.Errorf("after the failed poll %v events counted, want the 200 of pages 1 and 2", partial)
	}
	if up := gathered(t, f.coll, "vonage_audit_up")[""]; up != 0 {
		t.Errorf("up = %v after a failed poll", up)
	}
	if e := gathered(t, f.coll, "vonage_audit_poll_errors_total")["server"]; e != 1 {
		t.Errorf("poll_errors_total{reason=server} = %v, want 1", e)
	}
	failPage3.Store(false)
	f.clock.Add(5 * time.Minute) // longer than the overlap: the cursor must not have moved
	f.sim.Generate(20, f.clock.Now().Add(-time.Minute), f.clock.Now())
	f.mustPoll()
	assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), start.Add(-time.Hour)))
	if up := gathered(t, f.coll, "vonage_audit_up")[""]; up != 1 {
		t.Errorf("up = %v after a successful poll", up)
	}
}

func TestRetriedFailuresCountExactlyOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults simulator.Faults
	}{
		{"5xx", simulator.Faults{Fail5xx: 2}},
		{"429 with Retry-After", simulator.Faults{RateLimit: 1, RetryAfter: "1"}},
		{"401 quota exceeded", simulator.Faults{Quota: 1}},
		{"truncated body", simulator.Faults{Truncate: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOptions{account: AccountOptions{Overlap: time.Minute, Lookback: time.Hour}, retries: 3})
			start := f.clock.Now()
			f.sim.Generate(250, start.Add(-30*time.Minute), start)
			f.sim.SetFaults(tc.faults)
			f.mustPoll()
			assertCounts(t, gathered(t, f.coll, "vonage_audit_events_total"), served(f.sim.Visible(), start.Add(-time.Hour)))
			if r := sum(gathered(t, f.coll, "vonage_audit_api_retries_total")); r == 0 {
				t.Error("no retry recorded")
			}
		})
	}
}

func TestRejectedCredentialsAndQuotaAreReportedApart(t *testing.T) {
	bad := newFixture(t, fixtureOptions{clientSecret: "wrong-secret"})
	if err := bad.poll(); err == nil {
		t.Fatal("poll with a wrong secret succeeded")
	}
	if e := gathered(t, bad.coll, "vonage_audit_poll_errors_total")["auth"]; e != 1 {
		t.Errorf("poll_errors_total{reason=auth} = %v, want 1", e)
	}

	quota := newFixture(t, fixtureOptions{retries: 1})
	quota.sim.SetFaults(simulator.Faults{Quota: 10})
	if err := quota.poll(); err == nil {
		t.Fatal("poll succeeded while the quota was exceeded")
	}
	if e := gathered(t, quota.coll, "vonage_audit_poll_errors_total")["quota"]; e != 1 {
		t.Errorf("poll_errors_total{reason=quota} = %v, want 1", e)
	}
	if e := gathered(t, quota.coll, "vonage_audit_api_rate_limited_total")[""]; e == 0 {
		t.Error("api_rate_limited_total did not count the quota answers")
	}
}
