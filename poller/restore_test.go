package poller_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// A restored account with a larger overlap must not read back past the ids
// it kept.
func TestLargerOverlapAfterRestoreDoesNotDoubleCount(t *testing.T) {
	f := pollertest.New(t, pollertest.Options{Poller: poller.Options{Lookback: time.Hour, Overlap: time.Minute}})
	start := f.Clock.Now()
	f.Sim.Generate(200, start.Add(-30*time.Minute), start)
	f.MustPoll()
	f.Clock.Add(5 * time.Minute)

	b := poller.New(poller.Options{Name: "test", API: f.Client(f.Coll.Observer("test"), pollertest.Secret, 0), Lookback: time.Hour,
		Overlap: 30 * time.Minute, UserLabel: config.UserLabelEmail, Now: f.Clock.Now})
	b.Restore(f.Poller.Save())
	c := collector.New(nil)
	c.SetAccounts([]collector.Account{{Poller: b}})
	if err := b.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	pollertest.AssertCounts(t, pollertest.Gathered(t, c, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), start.Add(-time.Hour)))
}

// A poll cancelled after the first page of its window keeps what it
// counted, leaves the cursor where it was and is not a poll error; the next
// poll counts the rest, once.
func TestCancelledPollKeepsCursor(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var lists atomic.Int32
	f := pollertest.New(t, pollertest.Options{
		Poller: poller.Options{Lookback: time.Hour},
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				// The list requests: reading.Learn's two, the window's page 1,
				// and page 2, cancelled.
				if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/events") && lists.Add(1) == 4 {
					cancel()
					<-r.Context().Done()
					return
				}
				h.ServeHTTP(w, r)
			})
		},
	})
	f.Sim.Generate(350, f.Clock.Now().Add(-30*time.Minute), f.Clock.Now())
	if err := f.Poller.Poll(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("poll error = %v, want context.Canceled", err)
	}
	if got := pollertest.Gathered(t, f.Coll, "vonage_audit_cursor_timestamp_seconds")[""]; got != 0 {
		t.Errorf("the cancelled poll moved the cursor to %v", got)
	}
	if got := pollertest.Sum(pollertest.Gathered(t, f.Coll, "vonage_audit_poll_errors_total")); got != 0 {
		t.Errorf("the cancelled poll counted %v poll errors", got)
	}
	if got := pollertest.Gathered(t, f.Coll, "vonage_audit_events_ingested_total")[""]; got == 0 || got >= 350 {
		t.Fatalf("events ingested by the cancelled poll = %v, want the first page's", got)
	}
	f.MustPoll()
	pollertest.AssertCounts(t, pollertest.Gathered(t, f.Coll, "vonage_audit_events_total"), pollertest.Served(f.Sim.Visible(), f.Clock.Now().Add(-time.Hour)))
}
