package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

const (
	testKey    = "clikey01"
	testSecret = "cli-secret-must-not-leak"
)

// now is the clock of the simulator and of the commands.
var now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

type fixture struct {
	sim *simulator.Server
	srv *httptest.Server
	cfg *config.Config

	mu      sync.Mutex
	queries []string            // of the list requests, recorded before they are answered
	onList  func(*http.Request) // called with mu held before a list request is answered
}

// newFixture serves n events of the last two hours from a simulator.
func newFixture(t *testing.T, n int, opts simulator.Options) *fixture {
	t.Helper()
	opts.APIKey, opts.APISecret, opts.Now = testKey, testSecret, func() time.Time { return now }
	if opts.Seed == 0 {
		opts.Seed = 3
	}
	sim := simulator.New(opts)
	sim.Generate(n, now.Add(-2*time.Hour), now)
	f := &fixture{sim: sim}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/events" {
			f.mu.Lock()
			f.queries = append(f.queries, r.URL.RawQuery)
			if f.onList != nil {
				f.onList(r)
			}
			f.mu.Unlock()
		}
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	cfg := config.Default()
	cfg.RequestsPerSecond = 0
	cfg.MaxRetries = 0
	cfg.RequestTimeout = 5 * time.Second
	cfg.Accounts = []config.Account{{Name: "test", APIKey: testKey, APISecret: testSecret, APIURL: f.srv.URL}}
	f.cfg = &cfg
	return f
}

// run parses args as the binary would and runs the command in-process.
func run(t *testing.T, cfg *config.Config, stdout interface{ Write([]byte) (int, error) }, args ...string) error {
	t.Helper()
	app := kingpin.New("test", "")
	cmds := Register(app)
	command, err := app.Parse(args)
	if err != nil {
		t.Fatalf("parsing %q: %v", args, err)
	}
	return cmds.Run(context.Background(), command, Env{Config: cfg, Stdout: stdout, Now: func() time.Time { return now }})
}

func runOut(t *testing.T, cfg *config.Config, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(t, cfg, &out, args...)
	return out.String(), err
}

// served fetches, straight from the simulator, the event objects of every
// page of the query, compacted: what the commands must print.
func (f *fixture) served(t *testing.T, q url.Values) []string {
	t.Helper()
	var events []string
	for page := 1; page <= 100; page++ {
		q.Set("page", fmt.Sprint(page))
		q.Set("size", "100")
		var p struct {
			Embedded struct {
				Events []json.RawMessage `json:"events"`
			} `json:"_embedded"`
		}
		f.fetch(t, "/events?"+q.Encode(), &p)
		for _, raw := range p.Embedded.Events {
			events = append(events, compact(t, raw))
		}
		if len(p.Embedded.Events) < 100 {
			return events
		}
	}
	t.Fatal("the simulator served more than 100 pages")
	return nil
}

func (f *fixture) fetch(t *testing.T, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	req.SetBasicAuth(testKey, testSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

// listQueries returns the queries of the list requests so far.
func (f *fixture) listQueries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.queries)
}

func (f *fixture) listRequests() int { return len(f.listQueries()) }

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatalf("compacting %s: %v", raw, err)
	}
	return buf.String()
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// ids reads the ids of ndjson output, sorted.
func ids(t *testing.T, ndjson string) []string {
	t.Helper()
	var out []string
	for _, l := range lines(ndjson) {
		var ev struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		out = append(out, ev.ID)
	}
	slices.Sort(out)
	return out
}
