package reading

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// gatedAPI counts the requests for each page, and can hold the first
// request for one page until another page has been served, so that a
// concurrent walk sees pages served out of order.
type gatedAPI struct {
	API
	hold, until int // page hold waits for page until; 0: no gate
	served      chan struct{}
	serve       sync.Once
	mu          sync.Mutex
	asked       map[int]int
}

func (g *gatedAPI) ListPage(ctx context.Context, q auditapi.Query) (*auditapi.Page, error) {
	g.mu.Lock()
	g.asked[q.Page]++
	wait := g.hold > 0 && q.Page == g.hold && g.asked[q.Page] == 1
	g.mu.Unlock()
	if wait {
		select {
		case <-g.served:
		case <-ctx.Done():
			return nil, fmt.Errorf("page %d waited for page %d, never fetched at the same time: %w", g.hold, g.until, ctx.Err())
		}
	}
	p, err := g.API.ListPage(ctx, q)
	if g.hold > 0 && q.Page == g.until {
		g.serve.Do(func() { close(g.served) })
	}
	return p, err
}

func (g *gatedAPI) times(page int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.asked[page]
}

// oneAtATime wraps visit, failing t if it ever runs while it runs already.
func oneAtATime(t *testing.T, visit func(*auditapi.Event)) func(*auditapi.Event) {
	var inFlight atomic.Int32
	return func(e *auditapi.Event) {
		if inFlight.Add(1) > 1 {
			t.Error("visit ran twice at once")
		}
		// Yields, so that visits run at once would overlap here.
		runtime.Gosched()
		visit(e)
		inFlight.Add(-1)
	}
}

// backfill reads, at concurrency 4, a window of the last 30 hours holding
// 800 events, while an event is added before every request; setup, if not
// nil, runs between Learn and Read. 800 events are 8 pages at the most a
// page holds, twice the concurrency, and 115 at page cap 7: more only take
// longer. It returns the ids of the window's
// events at the start, those read, and the precision the read ended with.
func backfill(t *testing.T, opts simulator.Options, setup func(*gatedAPI, *Reader)) (want, got map[string]bool, api *gatedAPI, p Precision) {
	t.Helper()
	clk := testutil.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
	ta := newTestAPI(t, opts, clk)
	ta.sim.Generate(800, clk.Now().Add(-30*time.Hour), clk.Now())
	api = &gatedAPI{API: ta.client, asked: map[int]int{}, served: make(chan struct{})}
	rd := New(api, Options{Now: clk.Now, MaxConcurrency: 4})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rd.Learn(ctx); err != nil {
		t.Fatalf("learn: %v", err)
	}
	if setup != nil {
		setup(api, rd)
	}
	w := Window{From: ta.sim.Now().Add(-31 * time.Hour).UTC().Truncate(time.Second), To: rd.Now().UTC().Truncate(time.Second)}
	want, got = map[string]bool{}, map[string]bool{}
	for _, e := range ta.sim.Visible() {
		if within(e.CreatedAt, w.From, w.To) {
			want[e.ID] = true
		}
	}
	ta.setShift(true)
	_, err := rd.Read(ctx, w, oneAtATime(t, func(e *auditapi.Event) {
		if within(e.CreatedAt, w.From, w.To) {
			got[e.ID] = true
		}
	}))
	if err != nil {
		t.Fatalf("read %v (reading %+v): %v", w, rd.Reading(), err)
	}
	ta.setShift(false)
	// What the shift added during the read may have been read too.
	for _, e := range ta.sim.Visible() {
		if got[e.ID] && !want[e.ID] {
			delete(got, e.ID)
		}
	}
	return want, got, api, rd.Reading().Precision
}

func sameSet(t *testing.T, want, got map[string]bool) {
	t.Helper()
	var missing, extra []string
	for id := range want {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("of %d events, %d never read (first %v), %d read that never were (first %v)",
			len(want), len(missing), missing[:min(len(missing), 3)], len(extra), extra[:min(len(extra), 3)])
	}
}

// TestBackfillExactUnderEachReading reads a window of many pages at
// concurrency 4 under every reading that honours a time of day, while pages
// shift, and checks that it reads each event of the window, and visits one
// event at a time. The window is read at once after page 1, and, since every
// page has another total than page 1, again one page at a time: page 2
// twice.
func TestBackfillExactUnderEachReading(t *testing.T) {
	for _, r := range readings() {
		if r.opts.DatePrecision != simulator.SecondPrecision {
			// Whole days in a known order are read from the newest page
			// on, one page at a time: TestReadExactUnderEachReading's, and
			// TestBackfillWholeDaysInAnyOrder's for an order not known.
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			want, got, api, p := backfill(t, r.opts, nil)
			sameSet(t, want, got)
			if n := api.times(2); p == PrecisionSecond && n != 2 {
				t.Errorf("page 2 was read %d times, want 2: once at once with others, once again after them", n)
			}
		})
	}
}

// TestBackfillRereadsShiftedPages holds page 2 of a backfill until page 3
// has been served, while an event is added before every request: page 2
// then reaches less far than page 3 begins. The walk must read the pages
// after page 1 again, one by one.
func TestBackfillRereadsShiftedPages(t *testing.T) {
	want, got, api, _ := backfill(t, simulator.Options{}, func(g *gatedAPI, _ *Reader) { g.hold, g.until = 2, 3 })
	sameSet(t, want, got)
	if n := api.times(2); n != 2 {
		t.Errorf("page 2 was read %d times, want 2: once in the batch, once again after it", n)
	}
}

// TestBackfillWholeDaysInAnyOrder reads whole days in an order not known
// when the walk begins (a page contradicted the one learned): the walk
// reads every page, at once after page 1.
func TestBackfillWholeDaysInAnyOrder(t *testing.T) {
	for _, order := range []simulator.Order{simulator.NewestFirst, simulator.OldestFirst} {
		t.Run(order.String(), func(t *testing.T) {
			t.Parallel()
			opts := simulator.Options{Order: order, DatePrecision: simulator.DayPrecision}
			want, got, api, _ := backfill(t, opts, func(_ *gatedAPI, rd *Reader) { rd.r.Order = OrderUnknown })
			sameSet(t, want, got)
			if n := api.times(2); n != 2 {
				t.Errorf("page 2 was read %d times, want 2: once at once with others, once again after them", n)
			}
		})
	}
}

// renumbered answers page 3 numbered 4.
type renumbered struct{ API }

func (r renumbered) ListPage(ctx context.Context, q auditapi.Query) (*auditapi.Page, error) {
	p, err := r.API.ListPage(ctx, q)
	if err == nil && q.Page == 3 {
		p.Number = 4
	}
	return p, err
}

// TestBackfillLimitsAndNumbers checks that pages fetched at once count for
// the page limit, and that one numbered other than asked is told.
func TestBackfillLimitsAndNumbers(t *testing.T) {
	tests := []struct {
		name     string
		maxPages int
		wantKind string // of the error, or of the one inconsistency
		wantSent int    // list requests of the read, at most
	}{
		{"page limit", 5, KindPageLimit, 5},
		{"page numbered otherwise", 0, KindPageNumber, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := testutil.NewClock(time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC))
			ta := newTestAPI(t, simulator.Options{}, clk)
			ta.sim.Generate(800, clk.Now().Add(-30*time.Hour), clk.Now())
			rd := New(renumbered{ta.client}, Options{Now: clk.Now, MaxConcurrency: 4, MaxPages: tt.maxPages})
			if err := rd.Learn(context.Background()); err != nil {
				t.Fatalf("learn: %v", err)
			}
			before := ta.sim.Stats().ByRoute["list"]
			w := Window{From: clk.Now().Add(-31 * time.Hour), To: clk.Now()}
			res, err := rd.Read(context.Background(), w, func(*auditapi.Event) {})
			kind := KindOf(err)
			if err == nil && len(res.Inconsistencies) == 1 {
				kind = res.Inconsistencies[0].Kind
			}
			if kind != tt.wantKind {
				t.Errorf("got error %v and inconsistencies %+v, want one of kind %s", err, res.Inconsistencies, tt.wantKind)
			}
			if n := ta.sim.Stats().ByRoute["list"] - before; n > tt.wantSent {
				t.Errorf("the read sent %d requests, want at most %d", n, tt.wantSent)
			}
		})
	}
}

// pageServer answers GET /events from events rendered once, newest first,
// honouring date_from and date_to to the second, after a fixed latency: the
// API as a backfill sees it, at no CPU cost of its own. (The simulator
// filters the whole event set per request, which at 100,000 events costs
// more than the latency being measured.)
type pageServer struct {
	events   [][]byte    // oldest first
	times    []time.Time // created_at of events
	latency  time.Duration
	requests atomic.Int64
}

func (s *pageServer) bound(v string, end bool) (int, error) {
	if v == "" {
		if end {
			return len(s.times), nil
		}
		return 0, nil
	}
	t, err := time.Parse("2006-01-02T15:04:05", v)
	if err != nil {
		return 0, err
	}
	if end {
		t = t.Add(time.Second)
	}
	return sort.Search(len(s.times), func(i int) bool { return !s.times[i].Before(t) }), nil
}

func (s *pageServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	select {
	case <-time.After(s.latency):
	case <-r.Context().Done():
		return
	}
	q := r.URL.Query()
	lo, err1 := s.bound(q.Get("date_from"), false)
	hi, err2 := s.bound(q.Get("date_to"), true)
	page, err3 := strconv.Atoi(q.Get("page"))
	size, err4 := strconv.Atoi(q.Get("size"))
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || page < 1 || size < 1 {
		http.Error(w, `{"title":"Bad Request"}`, http.StatusBadRequest)
		return
	}
	total := max(hi-lo, 0)
	pages := (total + size - 1) / size
	var b bytes.Buffer
	b.WriteString(`{"_embedded":{"events":[`)
	for i := (page - 1) * size; i < min(page*size, total); i++ {
		if i > (page-1)*size {
			b.WriteByte(',')
		}
		b.Write(s.events[hi-1-i])
	}
	b.WriteString(`]},"_links":{`)
	if page < pages {
		fmt.Fprintf(&b, `"next":{"href":"/events?page=%d&size=%d"}`, page+1, size)
	}
	fmt.Fprintf(&b, `},"page":{"size":%d,"totalElements":%d,"totalPages":%d,"number":%d}}`, size, total, pages, page)
	w.Header().Set("Content-Type", "application/hal+json")
	_, _ = w.Write(b.Bytes())
}

// BenchmarkBackfill learns an account and reads its 100,000 events of the
// last week, as a first poll with a long lookback does, from an API that
// takes 50 ms per answer, at max_concurrency 4 and requests_per_second
// 100. It reports the time taken beside the bound pages x latency /
// concurrency, and the sequential floor pages x latency that concurrency
// avoids.
func BenchmarkBackfill(b *testing.B) {
	const (
		events      = 100000
		latency     = 50 * time.Millisecond
		concurrency = 4
	)
	sim := simulator.New(simulator.Options{Seed: 11})
	ps := &pageServer{latency: latency}
	for _, e := range sim.Generate(events, time.Now().Add(-7*24*time.Hour), time.Now().Add(-time.Minute)) {
		raw, err := json.Marshal(e)
		if err != nil {
			b.Fatal(err)
		}
		ps.events = append(ps.events, raw)
		ps.times = append(ps.times, e.CreatedAt.UTC())
	}
	srv := httptest.NewServer(ps)
	b.Cleanup(srv.Close)

	pages := (events + auditapi.MaxPageSize - 1) / auditapi.MaxPageSize
	for b.Loop() {
		c, err := auditapi.New(auditapi.Config{BaseURL: srv.URL, APIKey: "key", APISecret: "secret", Timeout: time.Minute, RequestsPerSecond: 100})
		if err != nil {
			b.Fatal(err)
		}
		ps.requests.Store(0)
		rd := New(c, Options{MaxConcurrency: concurrency})
		if err := rd.Learn(context.Background()); err != nil {
			b.Fatal(err)
		}
		to := rd.Now().UTC().Truncate(time.Second)
		seen := make(map[string]struct{}, events)
		_, err = rd.Read(context.Background(), Window{From: to.Add(-8 * 24 * time.Hour), To: to}, func(e *auditapi.Event) { seen[e.ID] = struct{}{} })
		if err != nil {
			b.Fatal(err)
		}
		if len(seen) != events {
			b.Fatalf("read %d events, want %d", len(seen), events)
		}
		// Learn asks for page 1 and a window of three seconds.
		if n := ps.requests.Load(); n != int64(pages+2) {
			b.Fatalf("the backfill sent %d requests, want %d pages and 2 to learn", n, pages)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/backfill")
	b.ReportMetric(float64(pages)*latency.Seconds()/concurrency, "s-bound")
	b.ReportMetric(float64(pages)*latency.Seconds(), "s-sequential")
}
