package simulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func start(t *testing.T, o Options) (*Server, *httptest.Server) {
	t.Helper()
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request; it reports failures with t.Errorf, so that it can
// run in other goroutines, and then returns status 0.
func do(t *testing.T, method, url string, auth ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Errorf("building request: %v", err)
		return answer{}
	}
	if len(auth) == 2 {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return answer{}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("reading body of %s %s: %v", method, url, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: body}
}

type wirePage struct {
	Embedded *struct {
		Events []map[string]any `json:"events"`
	} `json:"_embedded"`
	Links map[string]struct {
		Href string `json:"href"`
	} `json:"_links"`
	Page map[string]int `json:"page"`
}

// list fetches GET /events and decodes the page, failing on anything but 200.
func list(t *testing.T, base, query string) wirePage {
	t.Helper()
	a := do(t, http.MethodGet, base+"/events?"+query)
	if a.status != http.StatusOK {
		t.Fatalf("GET /events?%s: status %d, body %s", query, a.status, a.body)
	}
	var p wirePage
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("decoding page of %q: %v\n%s", query, err, a.body)
	}
	return p
}

func (p wirePage) ids() []string {
	if p.Embedded == nil {
		return nil
	}
	ids := make([]string, len(p.Embedded.Events))
	for i, e := range p.Embedded.Events {
		ids[i], _ = e["id"].(string)
	}
	return ids
}

func wantError(t *testing.T, a answer, status int, message string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d; body %s", a.status, status, a.body)
	}
	var e struct {
		Status  int    `json:"status"`
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("decoding error body %s: %v", a.body, err)
	}
	if e.Status != status || e.Error != http.StatusText(status) || e.Message == "" {
		t.Errorf("error body %s does not have the documented shape for %d", a.body, status)
	}
	if message != "" && e.Message != message {
		t.Errorf("message %q, want %q", e.Message, message)
	}
}

// numbered adds n events a minute apart from t0, with ids e1..en.
func numbered(s *Server, n int) {
	for i := 1; i <= n; i++ {
		s.Add(Event{
			ID:        "e" + strconv.Itoa(i),
			EventType: "USER_LOGIN",
			CreatedAt: t0.Add(time.Duration(i) * time.Minute),
			Source:    "CD",
		})
	}
}
