package poller_test

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

func TestCountsMatchServedEventsInEitherOrder(t *testing.T) {
	t.Parallel()
	for _, order := range []simulator.Order{simulator.NewestFirst, simulator.OldestFirst} {
		t.Run(map[simulator.Order]string{simulator.NewestFirst: "newest first", simulator.OldestFirst: "oldest first"}[order], func(t *testing.T) {
			f := pollertest.New(t, pollertest.Options{
				Sim:    simulator.Options{Order: order},
				Poller: poller.Options{Lookback: time.Hour, Overlap: 2 * time.Minute, CountryBreakdown: true},
			})
			start := f.Clock.Now()
			// Many pages, many events per second, some before the lookback.
			f.Sim.Generate(30, start.Add(-3*time.Hour), start.Add(-61*time.Minute))
			f.Sim.Generate(347, start.Add(-time.Hour), start)
			f.MustPoll()
			pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))

			for range 3 {
				f.Clock.Add(time.Minute)
				f.Sim.Generate(123, f.Clock.Now().Add(-59*time.Second), f.Clock.Now())
				f.MustPoll()
			}
			pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
			if d := pollertest.Gathered(t, f.Coll, "vonage_audit_duplicate_events_total")[""]; d == 0 {
				t.Errorf("re-reading the overlap found no duplicates; the overlap window was not read again")
			}
			want := float64(347 + 3*123)
			if got := pollertest.Gathered(t, f.Coll, "vonage_audit_events_ingested_total")[""]; got != want {
				t.Errorf("events ingested = %v, want %v", got, want)
			}
		})
	}
}

func TestExposition(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{
		Sim: simulator.Options{EventTypes: []simulator.EventType{
			{Type: "USER_LOGIN", Description: "User login"},
			{Type: "ACCOUNT_SECRET_CREATE", Description: "Secret created"},
		}},
		Poller: poller.Options{Lookback: time.Minute, Overlap: time.Minute, CountryBreakdown: true},
	})
	now := f.Clock.Now()
	f.Sim.Add(
		simulator.Event{ID: "e1", EventType: "USER_LOGIN", CreatedAt: now.Add(-2 * time.Second), UserEmail: "ana@example.com", UserID: 11, Source: "CD", SourceCountry: "GB"},
		simulator.Event{ID: "e2", EventType: "USER_LOGIN", CreatedAt: now.Add(-2 * time.Second), UserEmail: "ana@example.com", UserID: 11, Source: "CD", SourceCountry: "GB"},
		simulator.Event{ID: "e3", EventType: "NUMBER_UPDATED", CreatedAt: now.Add(-time.Second), Source: "DEVAPI", SourceCountry: "zz"},
		simulator.Event{ID: "e4", EventType: "USER_LOGIN", CreatedAt: now, UserID: 12, Source: "CD", SourceCountry: "DE"},
	)
	f.MustPoll()
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
vonage_audit_poll_errors_total{account="test",reason="bad_request"} 0
vonage_audit_poll_errors_total{account="test",reason="decode"} 0
vonage_audit_poll_errors_total{account="test",reason="network"} 0
vonage_audit_poll_errors_total{account="test",reason="not_found"} 0
vonage_audit_poll_errors_total{account="test",reason="other"} 0
vonage_audit_poll_errors_total{account="test",reason="page_limit"} 0
vonage_audit_poll_errors_total{account="test",reason="quota"} 0
vonage_audit_poll_errors_total{account="test",reason="rate_limited"} 0
vonage_audit_poll_errors_total{account="test",reason="server"} 0
vonage_audit_poll_errors_total{account="test",reason="short_read"} 0
vonage_audit_poll_errors_total{account="test",reason="timeout"} 0
# HELP vonage_audit_api_requests_total Requests sent to the Audit API, by endpoint and HTTP status code or error.
# TYPE vonage_audit_api_requests_total counter
vonage_audit_api_requests_total{account="test",code="200",endpoint="list"} 3
vonage_audit_api_requests_total{account="test",code="200",endpoint="options"} 1
# HELP vonage_audit_api_clock_skew_seconds The Audit API's clock, read from its Date header, minus the exporter's.
# TYPE vonage_audit_api_clock_skew_seconds gauge
vonage_audit_api_clock_skew_seconds{account="test"} 0.5
# HELP vonage_audit_api_inconsistencies_total Answers of the Audit API that did not add up, by kind.
# TYPE vonage_audit_api_inconsistencies_total counter
vonage_audit_api_inconsistencies_total{account="test",kind="future_cursor"} 0
vonage_audit_api_inconsistencies_total{account="test",kind="order"} 0
vonage_audit_api_inconsistencies_total{account="test",kind="out_of_window"} 0
vonage_audit_api_inconsistencies_total{account="test",kind="page_limit"} 0
vonage_audit_api_inconsistencies_total{account="test",kind="page_number"} 0
vonage_audit_api_inconsistencies_total{account="test",kind="short_read"} 0
# HELP vonage_audit_api_reading_info How the Audit API reads date bounds and orders events, as learned from its answers.
# TYPE vonage_audit_api_reading_info gauge
vonage_audit_api_reading_info{account="test",date_precision="second",order="newest_first"} 1
# HELP vonage_audit_api_page_size The largest page of events the Audit API served.
# TYPE vonage_audit_api_page_size gauge
vonage_audit_api_page_size{account="test"} 4
`
	// Three list requests: reading.Learn's two, then the window.
	if err := testutil.CollectAndCompare(f.Coll, strings.NewReader(expected),
		"vonage_audit_events_total", "vonage_audit_user_events_total", "vonage_audit_country_events_total",
		"vonage_audit_last_event_timestamp_seconds", "vonage_audit_up", "vonage_audit_poll_errors_total",
		"vonage_audit_events_skipped_total", "vonage_audit_api_requests_total", "vonage_audit_api_clock_skew_seconds",
		"vonage_audit_api_inconsistencies_total", "vonage_audit_api_reading_info", "vonage_audit_api_page_size"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(f.Coll); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", err, problems)
	}
}

func TestUserLabel(t *testing.T) {
	for _, tc := range []struct {
		label string
		want  map[string]float64
	}{
		{config.UserLabelEmail, map[string]float64{"USER_LOGIN|CD|ana@example.com": 1, "USER_LOGIN|CD|12": 1, "USER_LOGIN|DEVAPI|unknown": 1}},
		{config.UserLabelID, map[string]float64{"USER_LOGIN|CD|11": 1, "USER_LOGIN|CD|12": 1, "USER_LOGIN|DEVAPI|unknown": 1}},
		{config.UserLabelNone, map[string]float64{}},
	} {
		t.Run(tc.label, func(t *testing.T) {
			f := pollertest.New(t, pollertest.Options{Poller: poller.Options{UserLabel: tc.label}})
			now := f.Clock.Now()
			f.Sim.Add(
				simulator.Event{EventType: "USER_LOGIN", CreatedAt: now, UserEmail: "ana@example.com", UserID: 11, Source: "CD"},
				simulator.Event{EventType: "USER_LOGIN", CreatedAt: now, UserID: 12, Source: "CD"},
				simulator.Event{EventType: "USER_LOGIN", CreatedAt: now, Source: "DEVAPI"},
			)
			f.MustPoll()
			pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_user_events_total"), tc.want)
			if tc.label == config.UserLabelNone {
				if n := testutil.CollectAndCount(f.Coll, "vonage_audit_user_events_total"); n != 0 {
					t.Errorf("user_label none still exports %d user series", n)
				}
			}
		})
	}
}

func TestLateEventsWithinOverlapAreCountedOnce(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Minute, Overlap: 2 * time.Minute}})
	now := f.Clock.Now()
	f.Sim.Add(
		simulator.Event{ID: "on-time", EventType: "USER_LOGIN", CreatedAt: now.Add(-5 * time.Second), Source: "CD"},
		// Created before the first poll, visible only after it.
		simulator.Event{ID: "late", EventType: "APP_CREATE", CreatedAt: now.Add(-3 * time.Second), Source: "CD", VisibleAt: now.Add(70 * time.Second)},
		// Later than the overlap: the documented limit, never counted.
		simulator.Event{ID: "too-late", EventType: "APP_DELETE", CreatedAt: now.Add(-2 * time.Second), Source: "CD", VisibleAt: now.Add(10 * time.Minute)},
	)
	f.MustPoll()
	for range 12 {
		f.Clock.Add(time.Minute)
		f.MustPoll()
	}
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), map[string]float64{"USER_LOGIN|CD": 1, "APP_CREATE|CD": 1})
}

func TestEventsBeforeStartAreNotCounted(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: 10 * time.Minute, Overlap: time.Hour}})
	now := f.Clock.Now()
	f.Sim.Add(
		simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-11 * time.Minute), Source: "CD"},
		simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-10 * time.Minute), Source: "CD"},
		simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-9 * time.Minute), Source: "CD"},
	)
	f.MustPoll()
	f.Clock.Add(time.Minute)
	f.MustPoll()
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), map[string]float64{"USER_LOGIN|CD": 2})
}

// A page must not shift under a poll: events that arrive while a poll is
// paging are neither lost nor counted twice.
func TestEventsArrivingWhilePaging(t *testing.T) {
	t.Parallel()
	for _, order := range []simulator.Order{simulator.NewestFirst, simulator.OldestFirst} {
		var sim *simulator.Server
		var clock *pollertest.Clock
		var injected atomic.Bool
		f := pollertest.New(t, pollertest.Options{
			Sim:    simulator.Options{Order: order},
			Poller: poller.Options{Overlap: 2 * time.Minute, Lookback: time.Hour},
			Wrap: func(next http.Handler) http.Handler {
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
		sim, clock = f.Sim, f.Clock
		start := f.Clock.Now()
		f.Sim.Generate(450, start.Add(-50*time.Minute), start)
		f.MustPoll()
		if !injected.Load() {
			t.Fatal("no second page was requested")
		}
		f.Clock.Add(time.Minute)
		f.MustPoll()
		pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
	}
}

// A poll that fails halfway counts what it read; the next poll reads the
// same window again and counts nothing twice.
func TestFailedPollLosesAndDoublesNothing(t *testing.T) {
	t.Parallel()
	var failPage3 atomic.Bool
	failPage3.Store(true)
	f := pollertest.New(t, pollertest.Options{
		Poller: poller.Options{Overlap: time.Minute, Lookback: time.Hour},
		Wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if failPage3.Load() && r.URL.Query().Get("page") == "3" {
					http.Error(w, `{"status":503,"error":"Service Unavailable"}`, http.StatusServiceUnavailable)
					return
				}
				next.ServeHTTP(w, r)
			})
		},
		Retries: 1,
	})
	start := f.Clock.Now()
	f.Sim.Generate(480, start.Add(-50*time.Minute), start)
	if err := f.Poll(); err == nil {
		t.Fatal("poll succeeded while page 3 failed")
	}
	partial := pollertest.Sum(pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"))
	if partial != 200 {
		t.Errorf("after the failed poll %v events counted, want the 200 of pages 1 and 2", partial)
	}
	if up := pollertest.Gathered(t, f.Coll, "vonage_audit_up")[""]; up != 0 {
		t.Errorf("up = %v after a failed poll", up)
	}
	if e := pollertest.Gathered(t, f.Coll, "vonage_audit_poll_errors_total")["server"]; e != 1 {
		t.Errorf("poll_errors_total{reason=server} = %v, want 1", e)
	}
	failPage3.Store(false)
	f.Clock.Add(5 * time.Minute) // longer than the overlap: the cursor must not have moved
	f.Sim.Generate(20, f.Clock.Now().Add(-time.Minute), f.Clock.Now())
	f.MustPoll()
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
	if up := pollertest.Gathered(t, f.Coll, "vonage_audit_up")[""]; up != 1 {
		t.Errorf("up = %v after a successful poll", up)
	}
}

func TestRetriedFailuresCountExactlyOnce(t *testing.T) {
	t.Parallel()
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
			t.Parallel()
			f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Overlap: time.Minute, Lookback: time.Hour}, Retries: 3})
			start := f.Clock.Now()
			f.Sim.Generate(250, start.Add(-30*time.Minute), start)
			f.Sim.SetFaults(tc.faults)
			f.MustPoll()
			pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
			if r := pollertest.Sum(pollertest.Gathered(t, f.Coll, "vonage_audit_api_retries_total")); r == 0 {
				t.Error("no retry recorded")
			}
		})
	}
}

func TestRejectedCredentialsAndQuotaAreReportedApart(t *testing.T) {
	t.Parallel()
	bad := pollertest.New(t, pollertest.Options{ClientSecret: "wrong-secret"})
	if err := bad.Poll(); err == nil {
		t.Fatal("poll with a wrong secret succeeded")
	}
	if e := pollertest.Gathered(t, bad.Coll, "vonage_audit_poll_errors_total")["auth"]; e != 1 {
		t.Errorf("poll_errors_total{reason=auth} = %v, want 1", e)
	}

	quota := pollertest.New(t, pollertest.Options{Retries: 1})
	quota.Sim.SetFaults(simulator.Faults{Quota: 10})
	if err := quota.Poll(); err == nil {
		t.Fatal("poll succeeded while the quota was exceeded")
	}
	if e := pollertest.Gathered(t, quota.Coll, "vonage_audit_poll_errors_total")["quota"]; e != 1 {
		t.Errorf("poll_errors_total{reason=quota} = %v, want 1", e)
	}
	if e := pollertest.Gathered(t, quota.Coll, "vonage_audit_api_rate_limited_total")[""]; e == 0 {
		t.Error("api_rate_limited_total did not count the quota answers")
	}
}
