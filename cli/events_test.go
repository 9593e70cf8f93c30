package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Every format prints exactly the event objects the API served, in its
// order, paging past several pages.
func TestListMatchesServedEvents(t *testing.T) {
	f := newFixture(t, 350, simulator.Options{})
	want := f.served(t, url.Values{})
	if len(want) != 350 {
		t.Fatalf("the simulator served %d events, want 350", len(want))
	}
	before := f.listRequests()

	out, err := runOut(t, f.cfg, "events", "list", "--output", "ndjson")
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(out); !slices.Equal(got, want) {
		t.Errorf("ndjson output (%d lines) differs from the %d events served", len(got), len(want))
	}
	if n := f.listRequests() - before; n != 4 {
		t.Errorf("made %d list requests for 350 events, want 4 pages of 100", n)
	}

	out, err = runOut(t, f.cfg, "events", "list", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var arr []json.RawMessage
	if err := json.Unmarshal([]byte(out), &arr); err != nil {
		t.Fatalf("json output is not a JSON array: %v", err)
	}
	got := make([]string, len(arr))
	for i, raw := range arr {
		got[i] = compact(t, raw)
	}
	if !slices.Equal(got, want) {
		t.Errorf("json output (%d events) differs from the %d events served", len(got), len(want))
	}

	out, err = runOut(t, f.cfg, "events", "list")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(lines(out)); n != 351 {
		t.Errorf("table output has %d lines, want a header and 350 events", n)
	}
}

func TestListTableGolden(t *testing.T) {
	f := newFixture(t, 12, simulator.Options{})
	f.sim.Add(simulator.Event{
		ID: "11111111-2222-4333-8444-555555555555", EventType: "ACCOUNT_SECRET_CREATE", CreatedAt: now.Add(-time.Minute),
		UserEmail: "mallory@example.com", UserID: 1234567, Source: "DEVAPI", SourceIP: "192.0.2.66", SourceCountry: "RU",
		Context: map[string]any{"note": "evil\x1b[31m\nline"},
	})
	out, err := runOut(t, f.cfg, "events", "list")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "list.txt")
	if *update {
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("table output differs from %s (go test ./cli/ -update rewrites it):\n%s", golden, out)
	}
}

func TestListFilters(t *testing.T) {
	f := newFixture(t, 400, simulator.Options{})
	all := f.sim.Visible()
	frank := all[slices.IndexFunc(all, func(e simulator.Event) bool { return e.UserEmail == "frank@example.com" })]
	from, to := now.Add(-50*time.Minute), now.Add(-20*time.Minute)

	for _, tc := range []struct {
		name      string
		args      []string
		want      func(simulator.Event) bool // nil: as the API answers served
		served    url.Values
		wantQuery string // in the first list request
	}{
		{
			name:      "types repeated",
			args:      []string{"--type", "USER_LOGIN", "--type", "APP_DELETE"},
			want:      func(e simulator.Event) bool { return e.EventType == "USER_LOGIN" || e.EventType == "APP_DELETE" },
			wantQuery: "event_type=USER_LOGIN%2CAPP_DELETE",
		},
		{
			name:      "types as a comma list",
			args:      []string{"--type", "USER_LOGIN,APP_DELETE"},
			want:      func(e simulator.Event) bool { return e.EventType == "USER_LOGIN" || e.EventType == "APP_DELETE" },
			wantQuery: "event_type=USER_LOGIN%2CAPP_DELETE",
		},
		{
			name: "user by email, any case",
			args: []string{"--user", "FRANK@example.com"},
			want: func(e simulator.Event) bool { return e.UserEmail == "frank@example.com" },
		},
		{
			name: "user by id",
			args: []string{"--user", fmt.Sprint(frank.UserID)},
			want: func(e simulator.Event) bool { return e.UserID == frank.UserID },
		},
		{
			name: "window of RFC 3339 times",
			args: []string{"--from", from.Format(time.RFC3339), "--to", to.Format(time.RFC3339)},
			want: func(e simulator.Event) bool {
				return !e.CreatedAt.Before(from) && !e.CreatedAt.After(to)
			},
			wantQuery: "date_from=2024-05-01T11%3A10%3A00&date_to=2024-05-01T11%3A40%3A00",
		},
		{
			name: "relative from",
			args: []string{"--from", "30m"},
			want: func(e simulator.Event) bool { return !e.CreatedAt.Before(now.Add(-30 * time.Minute)) },
		},
		{
			name:      "dates",
			args:      []string{"--from", "2024-04-30", "--to", "2024-05-01"},
			want:      func(simulator.Event) bool { return false },
			wantQuery: "date_from=2024-04-30T00%3A00%3A00&date_to=2024-05-01T00%3A00%3A00",
		},
		{
			name:      "search text",
			args:      []string{"--search", "voice-type"},
			served:    url.Values{"search_text": {"voice-type"}},
			wantQuery: "search_text=voice-type",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			if tc.want != nil {
				for _, e := range all {
					if tc.want(e) {
						want = append(want, e.ID)
					}
				}
				slices.Sort(want)
			} else {
				want = ids(t, strings.Join(f.served(t, tc.served), "\n"))
				if len(want) == 0 || len(want) == len(all) {
					t.Fatalf("the API served %d of %d events: not a test of the filter", len(want), len(all))
				}
			}
			first := f.listRequests()
			out, err := runOut(t, f.cfg, append([]string{"events", "list", "-o", "ndjson"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := ids(t, out); !slices.Equal(got, want) {
				t.Errorf("got %d events, want %d", len(got), len(want))
			}
			if tc.wantQuery != "" {
				q := f.listQueries()[first]
				if !strings.Contains(q, tc.wantQuery) {
					t.Errorf("query %q does not contain %q", q, tc.wantQuery)
				}
			}
		})
	}
}

func TestListLimit(t *testing.T) {
	f := newFixture(t, 350, simulator.Options{})
	served := f.served(t, url.Values{})
	for _, tc := range []struct {
		args         []string
		want         int
		wantRequests int
	}{
		{[]string{"--limit", "5"}, 5, 1},
		{[]string{"--limit", "100"}, 100, 1},
		{[]string{"--limit", "150"}, 150, 2},
		{[]string{"--limit", "1000"}, 350, 4},
		{[]string{"--limit", "5", "-o", "json"}, 5, 1},
		{[]string{"--limit", "5", "-o", "table"}, 5, 1},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			before := f.listRequests()
			args := append([]string{"events", "list"}, tc.args...)
			if !slices.Contains(args, "-o") {
				args = append(args, "-o", "ndjson")
			}
			out, err := runOut(t, f.cfg, args...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			switch {
			case strings.HasPrefix(out, "["):
				var arr []json.RawMessage
				if err := json.Unmarshal([]byte(out), &arr); err != nil {
					t.Fatal(err)
				}
				for _, raw := range arr {
					got = append(got, compact(t, raw))
				}
			case strings.HasPrefix(out, "TIME"):
				got = lines(out)[1:]
			default:
				got = lines(out)
				if !slices.Equal(got, served[:len(got)]) {
					t.Error("the events printed are not the first ones served")
				}
			}
			if len(got) != tc.want {
				t.Errorf("printed %d events, want %d", len(got), tc.want)
			}
			if n := f.listRequests() - before; n != tc.wantRequests {
				t.Errorf("made %d list requests, want %d", n, tc.wantRequests)
			}
		})
	}

	t.Run("with a user filter", func(t *testing.T) {
		out, err := runOut(t, f.cfg, "events", "list", "-o", "ndjson", "--limit", "3", "--user", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		got := lines(out)
		if len(got) != 3 {
			t.Fatalf("printed %d events, want 3", len(got))
		}
		for _, l := range got {
			if !strings.Contains(l, `"user_email":"alice@example.com"`) {
				t.Errorf("not alice's event: %s", l)
			}
		}
	})
}

// Each page is printed before the next one is asked for.
func TestListStreamsPages(t *testing.T) {
	f := newFixture(t, 250, simulator.Options{})
	var out testutil.SyncBuffer
	printedBefore := map[string]int{}
	f.mu.Lock()
	f.onList = func(r *http.Request) {
		printedBefore[r.URL.Query().Get("page")] = len(lines(out.String()))
	}
	f.mu.Unlock()
	if err := run(t, f.cfg, &out, "events", "list", "-o", "ndjson"); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"1": 0, "2": 100, "3": 200}
	f.mu.Lock()
	defer f.mu.Unlock()
	if fmt.Sprint(printedBefore) != fmt.Sprint(want) {
		t.Errorf("lines printed before each page request = %v, want %v", printedBefore, want)
	}
}

// New events arriving while the list is paged shift the pages, so that
// events come again on the next page: each is printed once.
func TestListPrintsEachEventOnce(t *testing.T) {
	f := newFixture(t, 250, simulator.Options{})
	f.mu.Lock()
	f.onList = func(r *http.Request) {
		if r.URL.Query().Get("page") == "2" {
			for i := range 30 {
				f.sim.Add(simulator.Event{EventType: "USER_LOGIN", CreatedAt: now.Add(-time.Duration(i) * time.Second)})
			}
		}
	}
	f.mu.Unlock()
	out, err := runOut(t, f.cfg, "events", "list", "-o", "ndjson")
	if err != nil {
		t.Fatal(err)
	}
	got := lines(out)
	ids := map[string]bool{}
	for _, l := range got {
		var ev struct{ ID string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		ids[ev.ID] = true
	}
	if len(got) != 250 || len(ids) != 250 {
		t.Errorf("printed %d lines of %d distinct events, want 250 of 250", len(got), len(ids))
	}
}

func TestGet(t *testing.T) {
	f := newFixture(t, 20, simulator.Options{})
	ev := f.sim.Visible()[7]
	var raw json.RawMessage
	f.fetch(t, "/events/"+ev.ID, &raw)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		t.Fatal(err)
	}

	out, err := runOut(t, f.cfg, "events", "get", ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := pretty.String() + "\n"; out != want {
		t.Errorf("events get printed\n%s\nwant the event as served, indented:\n%s", out, want)
	}

	out, err = runOut(t, f.cfg, "events", "get", "-o", "ndjson", ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := compact(t, raw) + "\n"; out != want {
		t.Errorf("events get -o ndjson printed %s, want %s", out, want)
	}

	out, err = runOut(t, f.cfg, "events", "get", "-o", "table", ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l := lines(out); len(l) != 2 || !strings.Contains(l[1], ev.EventType) || !strings.Contains(l[1], ev.SourceIP) {
		t.Errorf("events get -o table printed:\n%s", out)
	}
}

func TestGetNotFound(t *testing.T) {
	f := newFixture(t, 5, simulator.Options{})
	out, err := runOut(t, f.cfg, "events", "get", "no-such-id")
	if !errors.Is(err, auditapi.ErrNotFound) {
		t.Fatalf("events get of an unknown id: got %v, want a not-found error", err)
	}
	if ExitCode(err) != ExitError {
		t.Errorf("exit code %d, want %d", ExitCode(err), ExitError)
	}
	for _, want := range []string{`"no-such-id"`, "404"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %s", err, want)
		}
	}
	if out != "" {
		t.Errorf("printed %q on a 404", out)
	}
}

// A wrong secret fails every command with the API's reason, exit code 1,
// and the secret nowhere.
func TestAuthFailure(t *testing.T) {
	f := newFixture(t, 5, simulator.Options{})
	const wrong = "wrong-secret-must-not-leak"
	f.cfg.Accounts[0].APISecret = wrong
	for _, args := range [][]string{
		{"events", "list"},
		{"events", "list", "-o", "json"},
		{"events", "get", f.sim.Visible()[0].ID},
		{"event-types"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			out, err := runOut(t, f.cfg, args...)
			if err == nil {
				t.Fatal("succeeded with a wrong secret")
			}
			if ExitCode(err) != ExitError {
				t.Errorf("exit code %d, want %d", ExitCode(err), ExitError)
			}
			if auditapi.Reason(err) != auditapi.ReasonAuth || !strings.Contains(err.Error(), "401") {
				t.Errorf("error %q is not an auth failure", err)
			}
			if strings.Contains(err.Error()+out, wrong) {
				t.Errorf("the secret appeared in %q or the output", err)
			}
			if strings.HasPrefix(out, "[") && out != "[]\n" {
				t.Errorf("json output after a failure is %q, want an empty array", out)
			}
		})
	}
}

// On an API that refuses a time of day, events list asks for whole days
// and prints exactly the events between --from and --to, each once.
func TestListOnAnAPIThatRefusesATimeOfDay(t *testing.T) {
	f := newFixture(t, 300, simulator.Options{DatePrecision: simulator.DateOnlyPrecision, PageCap: 30})
	out, err := runOut(t, f.cfg, "events", "list", "--from", "30m", "--to", "10m", "-o", "ndjson")
	if err != nil {
		t.Fatalf("events list: %v", err)
	}
	var want []string
	for _, e := range f.sim.Visible() {
		if !e.CreatedAt.Before(now.Add(-30*time.Minute)) && !e.CreatedAt.After(now.Add(-10*time.Minute)) {
			want = append(want, e.ID)
		}
	}
	slices.Sort(want)
	if got := ids(t, out); !slices.Equal(got, want) || len(want) == 0 {
		t.Errorf("printed %d events, want the %d created between --from and --to", len(got), len(want))
	}
}
