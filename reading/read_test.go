package reading

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/go-kit/log"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// reading names one combination of the API's undocumented readings.
type apiReading struct {
	name string
	opts simulator.Options
}

// readings are the readings the exporter must survive, each alone and a few
// together; dates only (a time of day refused) is one of the combinations,
// since once learned it is read as whole days are.
func readings() []apiReading {
	var out []apiReading
	for _, order := range []simulator.Order{simulator.NewestFirst, simulator.OldestFirst} {
		for _, r := range []apiReading{
			{"documented", simulator.Options{}},
			{"page cap 30", simulator.Options{PageCap: 30}},
			{"whole days", simulator.Options{DatePrecision: simulator.DayPrecision}},
			{"exclusive bounds", simulator.Options{ExclusiveDateBounds: true}},
			{"clock 2m behind", simulator.Options{ClockSkew: -2 * time.Minute}},
			{"clock 2m ahead", simulator.Options{ClockSkew: 2 * time.Minute}},
			{"404 past the end, cap 7, dates only", simulator.Options{PastEndNotFound: true, PageCap: 7, DatePrecision: simulator.DateOnlyPrecision}},
			{"cap 30, whole days, clock 3h ahead, epoch millis", simulator.Options{PageCap: 30, DatePrecision: simulator.DayPrecision, ClockSkew: 3 * time.Hour, CreatedAtFormat: simulator.EpochMillisCreatedAt}},
		} {
			r.opts.Order = order
			r.name = fmt.Sprintf("%s, %s", r.name, order)
			out = append(out, r)
		}
	}
	return out
}

// testAPI serves a simulator on loopback, adding an event before every list
// request when shift is set, so that pages shift while a walk reads them:
// a new one or up to 25 seconds late, at their end; or, every third, one a
// minute late, beyond the overlap (type tooLate), in their middle.
type testAPI struct {
	sim    *simulator.Server
	client *auditapi.Client
	shift  bool
	mu     sync.Mutex
	rng    *rand.Rand
}

func newTestAPI(t *testing.T, o simulator.Options, clk *testutil.Clock) *testAPI {
	t.Helper()
	o.APIKey, o.APISecret, o.Seed, o.Now = "key", "secret", 7, clk.Now
	api := &testAPI{sim: simulator.New(o), rng: rand.New(rand.NewPCG(1, 2))}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e, ok := api.shiftEvent(r); ok {
			api.sim.Add(e)
		}
		api.sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := auditapi.New(auditapi.Config{
		BaseURL: srv.URL, APIKey: "key", APISecret: "secret", MaxRetries: 3, Now: clk.Now,
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} },
	})
	if err != nil {
		t.Fatal(err)
	}
	api.client = c
	return api
}

// shiftEvent returns the event to add before answering r, if any. It
// locks, since a walk may send requests at once.
func (a *testAPI) shiftEvent(r *http.Request) (simulator.Event, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.shift || r.Method != http.MethodGet || r.URL.Path != "/events" {
		return simulator.Event{}, false
	}
	e := simulator.Event{EventType: "USER_LOGIN", Source: "CD", CreatedAt: a.sim.Now().Add(-time.Duration(a.rng.IntN(26)) * time.Second)}
	if a.rng.IntN(3) == 0 {
		e.EventType, e.CreatedAt = tooLate, a.sim.Now().Add(-time.Minute)
	}
	return e, true
}

func (a *testAPI) setShift(on bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.shift = on
}

// counter counts a window's events once each, as the poller does.
type counter struct {
	seen   map[string]bool
	floor  time.Time
	cursor time.Time
}

const overlap = 30 * time.Second

// tooLate is the type of events that show up later than the overlap: no
// poll need count them, but they must not make a poll miss another.
const tooLate = "NUMBER_LINKED"

func (c *counter) poll(t *testing.T, rd *Reader) Result {
	t.Helper()
	ctx := context.Background()
	if !rd.Learned() {
		if err := rd.Learn(ctx); err != nil {
			t.Fatalf("learn: %v", err)
		}
	}
	w := Window{From: c.floor, To: rd.Now().UTC().Truncate(time.Second)}
	if !c.cursor.IsZero() && c.cursor.Add(-overlap).After(w.From) {
		w.From = c.cursor.Add(-overlap)
	}
	res, err := rd.Read(ctx, w, func(e *auditapi.Event) {
		if !e.CreatedAt.Before(w.From) && !e.CreatedAt.After(w.To) {
			c.seen[e.ID] = true
		}
	})
	if err != nil {
		t.Fatalf("read %v: %v", w, err)
	}
	if !res.ReadTo.IsZero() {
		if res.ReadTo.After(w.To) {
			t.Fatalf("ReadTo %v past the window's end %v", res.ReadTo, w.To)
		}
		c.cursor = res.ReadTo
	}
	return res
}

// TestReadExactUnderEachReading polls a simulator whose events keep coming,
// some late and some while pages are read, and checks that every event is
// read, and that at rest a poll costs at most 2 requests.
func TestReadExactUnderEachReading(t *testing.T) {
	for _, r := range readings() {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			clk := testutil.NewClock(time.Date(2026, 12, 5, 0, 0, 20, 0, time.UTC))
			api := newTestAPI(t, r.opts, clk)
			// Generate takes local times; Add and created_at are the API's.
			// 200 events put two pages in the first poll's window even at
			// the most a page holds.
			api.sim.Generate(200, clk.Now().Add(-2*time.Hour), clk.Now())
			apiNow := api.sim.Now()
			rd := New(api.client, Options{Now: clk.Now})
			c := &counter{seen: map[string]bool{}, floor: apiNow.Add(-90 * time.Minute)}

			api.setShift(true)
			// Polls further apart than the overlap, as with poll_interval 5m
			// and the default overlap of 2m: a page boundary the walk
			// crosses can lie before the next poll's window.
			for range 12 {
				clk.Add(45 * time.Second)
				api.sim.Generate(30, clk.Now().Add(-45*time.Second), clk.Now())
				// Late: shows up with a creation time inside the overlap.
				api.sim.Add(simulator.Event{EventType: "APP_CREATE", Source: "DEVAPI", CreatedAt: api.sim.Now().Add(-20 * time.Second)})
				c.poll(t, rd)
			}
			api.setShift(false)
			clk.Add(10 * time.Second)
			c.poll(t, rd)

			var missing []string
			want := 0
			for _, e := range api.sim.Visible() {
				if e.CreatedAt.Before(c.floor) || e.EventType == tooLate {
					continue
				}
				want++
				if !c.seen[e.ID] {
					missing = append(missing, e.ID+" "+e.CreatedAt.Format(time.RFC3339))
				}
			}
			if len(missing) > 0 {
				t.Errorf("%d of %d events never read (reading %+v), first: %v", len(missing), want, rd.Reading(), missing[:min(len(missing), 5)])
			}

			// At rest: once the overlap holds no event, a poll reads one
			// page, or two when oldest first on whole days.
			clk.Add(time.Minute)
			c.poll(t, rd)
			before := api.sim.Stats().ByRoute["list"]
			clk.Add(10 * time.Second)
			c.poll(t, rd)
			if n := api.sim.Stats().ByRoute["list"] - before; n > 2 {
				t.Errorf("a poll at rest sent %d requests, want at most 2 (reading %+v)", n, rd.Reading())
			}
		})
	}
}

// TestLearn checks what Learn tells of each reading: what probe prints.
func TestLearn(t *testing.T) {
	tests := []struct {
		opts          simulator.Options
		events        int
		wantPrecision Precision
		wantTime      bool
		wantOrder     Order
		wantPageSize  int
		wantSkew      time.Duration
	}{
		{simulator.Options{}, 250, PrecisionSecond, true, NewestFirst, 100, 0},
		{simulator.Options{Order: simulator.OldestFirst, PageCap: 30}, 250, PrecisionSecond, true, OldestFirst, 30, 0},
		{simulator.Options{DatePrecision: simulator.DayPrecision, ClockSkew: -2 * time.Minute}, 50, PrecisionDay, true, NewestFirst, 50, -2 * time.Minute},
		{simulator.Options{DatePrecision: simulator.DateOnlyPrecision, ClockSkew: 2 * time.Minute}, 50, PrecisionDay, false, NewestFirst, 50, 2 * time.Minute},
		{simulator.Options{DatePrecision: simulator.DateOnlyPrecision}, 0, PrecisionUnknown, false, OrderUnknown, 0, 0},
		{simulator.Options{}, 0, PrecisionUnknown, true, OrderUnknown, 0, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%+v/%d", tt.opts, tt.events), func(t *testing.T) {
			t.Parallel()
			clk := testutil.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
			api := newTestAPI(t, tt.opts, clk)
			api.sim.Generate(tt.events, clk.Now().Add(-time.Hour), clk.Now())
			rd := New(api.client, Options{Now: clk.Now})
			if err := rd.Learn(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := rd.Reading()
			if got.Precision != tt.wantPrecision || got.TimeAccepted != tt.wantTime || got.Order != tt.wantOrder || got.PageSize != tt.wantPageSize || got.TotalEvents != tt.events {
				t.Errorf("got %+v, want precision %s, time accepted %t, order %s, page size %d, %d events", got, tt.wantPrecision, tt.wantTime, tt.wantOrder, tt.wantPageSize, tt.events)
			}
			// The Date header is cut to the second, and the clock stands
			// still: the estimate is within half a second.
			if d := got.Skew - tt.wantSkew; d < -time.Second || d > time.Second || !got.SkewKnown {
				t.Errorf("skew %v (known %t), want %v", got.Skew, got.SkewKnown, tt.wantSkew)
			}
			if n := api.sim.Stats().Requests; n > 3 {
				t.Errorf("Learn sent %d requests, want at most 3", n)
			}
		})
	}
}

// TestChangedReadingIsReportedAndReadExactly learns one API, then reads a
// window from another that lists the same events otherwise: in the other
// order, or with the time of day ignored. The read still hands over every
// event of the window, and reports the change as an inconsistency, with a
// warning that names the window.
func TestChangedReadingIsReportedAndReadExactly(t *testing.T) {
	for _, tt := range []struct {
		name string
		then simulator.Options
		kind string
	}{
		{"order", simulator.Options{Order: simulator.OldestFirst}, KindOrder},
		{"time of day ignored", simulator.Options{DatePrecision: simulator.DayPrecision}, KindOutOfWindow},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clk := testutil.NewClock(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
			first := newTestAPI(t, simulator.Options{}, clk)
			first.sim.Generate(400, clk.Now().Add(-2*time.Hour), clk.Now())
			then := newTestAPI(t, tt.then, clk)
			then.sim.Add(first.sim.Visible()...)

			var logs testutil.SyncBuffer
			rd := New(first.client, Options{Now: clk.Now, Logger: log.NewLogfmtLogger(&logs)})
			if err := rd.Learn(context.Background()); err != nil {
				t.Fatal(err)
			}
			rd.api = then.client
			w := Window{From: clk.Now().Add(-time.Hour), To: clk.Now()}
			got := map[string]bool{}
			res, err := rd.Read(context.Background(), w, func(e *auditapi.Event) {
				if within(e.CreatedAt, w.From, w.To) {
					got[e.ID] = true
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, e := range then.sim.Visible() {
				if within(e.CreatedAt, w.From, w.To) {
					want++
					if !got[e.ID] {
						t.Errorf("event %s of %v not read", e.ID, e.CreatedAt)
					}
				}
			}
			kinds := map[string]int{}
			for _, i := range res.Inconsistencies {
				kinds[i.Kind]++
			}
			if kinds[tt.kind] == 0 {
				t.Errorf("inconsistencies %v, want one of kind %s", res.Inconsistencies, tt.kind)
			}
			if tt.kind == KindOutOfWindow && !strings.Contains(logs.String(), "window_from="+w.From.Format(time.RFC3339)) {
				t.Errorf("the warning does not name the window:\n%s", logs.String())
			}
			t.Logf("%d events in the window, reading now %+v", want, rd.Reading())
		})
	}
}
