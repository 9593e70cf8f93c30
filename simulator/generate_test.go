package simulator

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGenerateDeterministic(t *testing.T) {
	gen := func(seed int64) []byte {
		s := New(Options{Seed: seed})
		s.Generate(200, t0, t0.Add(24*time.Hour))
		b, err := json.Marshal(s.Visible())
		if err != nil {
			t.Fatalf("marshalling: %v", err)
		}
		return b
	}
	a, b, c := gen(42), gen(42), gen(43)
	if string(a) != string(b) {
		t.Errorf("two servers with seed 42 generated different events")
	}
	if string(a) == string(c) {
		t.Errorf("seeds 42 and 43 generated the same events")
	}
}

func TestGenerateRealistic(t *testing.T) {
	from, to := t0, t0.Add(6*time.Hour)
	s := New(Options{Seed: 7, AccountID: "acct1"})
	made := s.Generate(3000, from, to)
	if len(made) != 3000 || len(s.Visible()) != 3000 {
		t.Fatalf("generated %d, visible %d, want 3000", len(made), len(s.Visible()))
	}
	types := map[string]int{}
	sources := map[string]int{}
	descriptions := map[string]bool{}
	countries := map[string]bool{}
	users := map[string]bool{}
	seconds := map[time.Time]int{}
	apiWithoutUser := 0
	ids := map[string]bool{}
	var docRanges = []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	}
	for i, e := range made {
		if i > 0 && e.CreatedAt.Before(made[i-1].CreatedAt) {
			t.Fatalf("Generate did not return events oldest first")
		}
		if e.CreatedAt.Before(from) || e.CreatedAt.After(to) || e.CreatedAt.Nanosecond() != 0 {
			t.Fatalf("created_at %v outside [%v, %v] or not to the second", e.CreatedAt, from, to)
		}
		if e.AccountID != "acct1" || e.EventTypeDescription == "" || e.Context == nil {
			t.Fatalf("incomplete event %+v", e)
		}
		ip := netip.MustParseAddr(e.SourceIP)
		if !docRanges[0].Contains(ip) && !docRanges[1].Contains(ip) && !docRanges[2].Contains(ip) {
			t.Fatalf("source_ip %s outside the documentation ranges", ip)
		}
		if (e.UserEmail == "") != (e.UserID == 0) {
			t.Fatalf("user email and id not both set or both absent: %+v", e)
		}
		if e.Source == "DEVAPI" && e.UserEmail == "" {
			apiWithoutUser++
		}
		if e.Source == "CD" && e.UserEmail == "" {
			t.Fatalf("dashboard event without a user: %+v", e)
		}
		if !strings.HasSuffix(e.UserEmail, "@example.com") && e.UserEmail != "" {
			t.Fatalf("user email %q not at example.com", e.UserEmail)
		}
		ids[e.ID] = true
		types[e.EventType]++
		sources[e.Source]++
		descriptions[e.SourceDescription] = true
		countries[e.SourceCountry] = true
		users[e.UserEmail] = true
		seconds[e.CreatedAt]++
	}
	if len(ids) != len(made) {
		t.Errorf("%d distinct ids for %d events", len(ids), len(made))
	}
	if types["USER_LOGIN"] < 5*types["ACCOUNT_SECRET_CREATE"] || types["NUMBER_UPDATED"] < 2*types["APP_UPDATE"] ||
		types["APP_UPDATE"] < 2*types["IP_WHITELIST_CREATE"] {
		t.Errorf("type shares not weighted as documented: %v", types)
	}
	if len(types) < 20 {
		t.Errorf("only %d types generated: %v", len(types), types)
	}
	if sources["CD"] == 0 || sources["DEVAPI"] == 0 || apiWithoutUser == 0 {
		t.Errorf("sources %v, %d DEVAPI events without user", sources, apiWithoutUser)
	}
	for _, d := range []string{"Customer dashboard", "Developer API", "Developer Api"} {
		if !descriptions[d] {
			t.Errorf("source_description %q never generated (got %v)", d, descriptions)
		}
	}
	if len(countries) < 5 {
		t.Errorf("only countries %v", countries)
	}
	if n := len(users) - 1; n < 10 || n > 12 {
		t.Errorf("%d users, want a pool of about 12", n)
	}
	burst := 0
	for _, n := range seconds {
		burst = max(burst, n)
	}
	if burst < 3 {
		t.Errorf("at most %d events share a second, want bursts", burst)
	}
}

func TestGenerateContexts(t *testing.T) {
	s := New(Options{Seed: 9})
	made := s.Generate(2000, t0, t0.Add(time.Hour))
	keys := map[string]map[string]bool{}
	for _, e := range made {
		if keys[e.EventType] == nil {
			keys[e.EventType] = map[string]bool{}
		}
		for k := range e.Context {
			keys[e.EventType][k] = true
		}
	}
	for typ, want := range map[string][]string{
		"NUMBER_UPDATED": {"country", "msisdn", "voice-type", "moHttpUrl"},
		"APP_UPDATE":     {"application_id"},
		"NUMBER_LINKED":  {"msisdn", "application_id"},
	} {
		for _, k := range want {
			if !keys[typ][k] {
				t.Errorf("%s context lacks %q (has %v)", typ, k, keys[typ])
			}
		}
	}
}

func TestRunAddsLiveEvents(t *testing.T) {
	clk := newClock(t0)
	s, ts := start(t, Options{Seed: 5, Now: clk.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx, 2000)
	}()
	// Read the API while Run adds, so the race detector sees both sides.
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for range 20 {
				if a := do(t, http.MethodGet, ts.URL+"/events?size=100"); a.status != http.StatusOK {
					t.Errorf("status %d", a.status)
				}
				s.SetFaults(Faults{})
			}
		})
	}
	wg.Wait()
	for i := 0; len(s.Visible()) < 50; i++ {
		if i == 1000 {
			t.Fatalf("Run added only %d events", len(s.Visible()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	for _, e := range s.Visible() {
		if !e.CreatedAt.Equal(t0) {
			t.Fatalf("live event created at %v, want the clock's %v", e.CreatedAt, t0)
		}
	}
}

func TestRunZeroRateWaits(t *testing.T) {
	s := New(Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Run(ctx, 0)
	if n := len(s.Visible()); n != 0 {
		t.Errorf("rate 0 added %d events", n)
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	s := New(Options{BasePath: "/beta/audit/"})
	s.Generate(3, t0, t0)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, s) }()
	p := list(t, "http://"+ln.Addr().String()+"/beta/audit", "")
	if p.Page["totalElements"] != 3 {
		t.Errorf("page %v", p.Page)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("Serve returned %v after cancellation", err)
	}
}

func TestListenAndServeBadAddress(t *testing.T) {
	err := ListenAndServe(context.Background(), "127.0.0.1:-1", New(Options{}))
	if err == nil || !strings.Contains(err.Error(), "listening on 127.0.0.1:-1") {
		t.Errorf("error %v, want one naming the address", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, ts := start(t, Options{Seed: 1})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 20 {
			s.Generate(5, t0, t0.Add(time.Duration(i)*time.Minute))
		}
	})
	wg.Go(func() {
		for range 20 {
			s.SetFaults(Faults{Latency: time.Microsecond})
			_ = s.Stats()
		}
	})
	wg.Go(func() {
		for range 20 {
			if a := do(t, http.MethodGet, ts.URL+"/events?size=100"); a.status != http.StatusOK {
				t.Errorf("status %d", a.status)
			}
		}
	})
	wg.Wait()
	if n := len(s.Visible()); n != 100 {
		t.Errorf("%d events, want 100", n)
	}
}
