package collector_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// snapshotSource is an account whose snapshot the test sets.
type snapshotSource struct{ s poller.Snapshot }

func (f *snapshotSource) Name() string                   { return f.s.Account }
func (f *snapshotSource) Read(fn func(*poller.Snapshot)) { fn(&f.s) }

const (
	openMetrics = "application/openmetrics-text; version=1.0.0"
	textFormat  = "text/plain; version=0.0.4"
)

// counterLines scrapes the collector as the exporter serves it, accepting
// the given format, and returns the lines of the event and user counters.
func counterLines(t *testing.T, c *collector.Collector, accept string) string {
	t.Helper()
	h := c.Handler(prometheus.NewRegistry(), nil)
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for l := range strings.Lines(string(body)) {
		if strings.HasPrefix(l, "vonage_audit_events_total{") || strings.HasPrefix(l, "vonage_audit_user_events_total{") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// An OpenMetrics scrape carries each series' newest event as its exemplar,
// stamped with the event's created_at; the text format is the same with or
// without exemplars.
func TestExemplarsInOpenMetricsOnly(t *testing.T) {
	created := time.Date(2026, 3, 14, 11, 59, 30, 0, time.UTC) // 1773489570
	login := poller.EventKey{EventType: "USER_LOGIN", Source: "CD"}
	secret := poller.EventKey{EventType: "ACCOUNT_SECRET_CREATE", Source: "DEVAPI"}
	ana := poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: "ana@example.com"}
	bob := poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: "bob@example.com"}
	account := func(events map[poller.EventKey]poller.Exemplar, users map[poller.UserKey]poller.Exemplar) *collector.Collector {
		c := collector.New(nil)
		c.SetAccounts([]collector.Account{{Poller: &snapshotSource{poller.Snapshot{
			Account: "prod", CountsUsers: true,
			Events:         map[poller.EventKey]float64{login: 3, secret: 0},
			Users:          map[poller.UserKey]float64{ana: 2, bob: 1},
			EventExemplars: events,
			UserExemplars:  users,
		}}}})
		return c
	}
	with := account(
		map[poller.EventKey]poller.Exemplar{login: {ID: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", CreatedAt: created}},
		map[poller.UserKey]poller.Exemplar{
			ana: {ID: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", CreatedAt: created},
			// Longer than an exemplar's 128 runes with its label name.
			bob: {ID: strings.Repeat("x", 121), CreatedAt: created},
		},
	)
	without := account(nil, nil)

	wantOpenMetrics := `vonage_audit_events_total{account="prod",event_type="ACCOUNT_SECRET_CREATE",source="DEVAPI"} 0.0
vonage_audit_events_total{account="prod",event_type="USER_LOGIN",source="CD"} 3.0 # {event_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab"} 1.0 1.77348957e+09
vonage_audit_user_events_total{account="prod",event_type="USER_LOGIN",source="CD",user="ana@example.com"} 2.0 # {event_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab"} 1.0 1.77348957e+09
vonage_audit_user_events_total{account="prod",event_type="USER_LOGIN",source="CD",user="bob@example.com"} 1.0
`
	if got := counterLines(t, with, openMetrics); got != wantOpenMetrics {
		t.Errorf("OpenMetrics with exemplars:\n%s\nwant:\n%s", got, wantOpenMetrics)
	}
	wantPlain := strings.NewReplacer(
		` # {event_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab"} 1.0 1.77348957e+09`, "",
	).Replace(wantOpenMetrics)
	if got := counterLines(t, without, openMetrics); got != wantPlain {
		t.Errorf("OpenMetrics without exemplars:\n%s\nwant:\n%s", got, wantPlain)
	}
	wantText := strings.ReplaceAll(wantPlain, ".0\n", "\n")
	for name, c := range map[string]*collector.Collector{"with": with, "without": without} {
		if got := counterLines(t, c, textFormat); got != wantText {
			t.Errorf("text format %s exemplars:\n%s\nwant:\n%s", name, got, wantText)
		}
	}
}

// Concurrent scrapes, gathered and streamed, read the same snapshot: run
// with -race, this fails if writing a metric changes what it reads.
func TestExemplarsConcurrentScrapes(t *testing.T) {
	login := poller.EventKey{EventType: "USER_LOGIN", Source: "CD"}
	c := collector.New(nil)
	c.SetAccounts([]collector.Account{{Poller: &snapshotSource{poller.Snapshot{
		Account:        "prod",
		Events:         map[poller.EventKey]float64{login: 1},
		EventExemplars: map[poller.EventKey]poller.Exemplar{login: {ID: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", CreatedAt: time.Unix(1773489570, 0)}},
	}}}})
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept", openMetrics)
			c.Handler(prometheus.NewRegistry(), nil).ServeHTTP(httptest.NewRecorder(), req)
		})
	}
	wg.Wait()
	if got := counterLines(t, c, openMetrics); !strings.Contains(got, `# {event_id="aaaaaaaa-bbbb-cccc-dddd-0123456789ab"} 1.0 1.77348957e+09`) {
		t.Errorf("after concurrent scrapes, the exemplar is gone:\n%s", got)
	}
}
