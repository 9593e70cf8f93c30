package auditapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
)

func TestRequestEncoding(t *testing.T) {
	type seen struct {
		method, path, rawPath, user, pass, accept, agent string
		query                                            url.Values
	}
	var got seen
	base := newTestServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = seen{method: r.Method, path: r.URL.Path, rawPath: r.URL.EscapedPath(), accept: r.Header.Get("Accept"),
			agent: r.Header.Get("User-Agent"), query: r.URL.Query()}
		got.user, got.pass, _ = r.BasicAuth()
		switch r.Method {
		case http.MethodOptions:
			w.WriteHeader(http.StatusNoContent)
		case http.MethodGet:
			if strings.HasPrefix(r.URL.Path, "/beta/audit/events/") {
				w.Write(readTestdata(t, "event.json"))
				return
			}
			w.Write(readTestdata(t, "page_empty.json"))
		}
	})
	c := newTestClient(t, base+"/", nil, nil)
	ctx := context.Background()
	cest := time.FixedZone("CEST", 2*3600)

	tests := []struct {
		name string
		call func() error
		want seen
	}{
		{"all filters", func() error {
			_, err := c.ListPage(ctx, Query{
				EventTypes: []string{"USER_LOGIN", "APP_CREATE"},
				From:       time.Date(2024, 3, 1, 14, 0, 0, 999, cest),
				To:         time.Date(2024, 3, 2, 0, 0, 5, 0, time.UTC),
				SearchText: "a b&c=d",
				Page:       3,
				Size:       50,
			})
			return err
		}, seen{method: "GET", path: "/beta/audit/events", rawPath: "/beta/audit/events", query: url.Values{
			"event_type":  {"USER_LOGIN,APP_CREATE"},
			"date_from":   {"2024-03-01T12:00:00"},
			"date_to":     {"2024-03-02T00:00:05"},
			"search_text": {"a b&c=d"},
			"page":        {"3"},
			"size":        {"50"},
		}}},
		{"no filters", func() error {
			_, err := c.ListPage(ctx, Query{})
			return err
		}, seen{method: "GET", path: "/beta/audit/events", rawPath: "/beta/audit/events", query: url.Values{}}},
		{"pages defaults to the largest size", func() error {
			_, err := c.Pages(ctx, Query{Page: 7}, func(*Page) (bool, error) { return true, nil })
			return err
		}, seen{method: "GET", path: "/beta/audit/events", rawPath: "/beta/audit/events", query: url.Values{"page": {"1"}, "size": {"100"}}}},
		{"get escapes the id", func() error {
			_, err := c.GetEvent(ctx, "a/b?c")
			return err
		}, seen{method: "GET", path: "/beta/audit/events/a/b?c", rawPath: "/beta/audit/events/a%2Fb%3Fc", query: url.Values{}}},
		{"options", func() error {
			_, err := c.EventTypes(ctx)
			return err
		}, seen{method: "OPTIONS", path: "/beta/audit/events", rawPath: "/beta/audit/events", query: url.Values{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err != nil {
				t.Fatal(err)
			}
			tt.want.user, tt.want.pass, tt.want.accept, tt.want.agent = testKey, testSecret, "application/json", DefaultUserAgent
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("request:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestQueryValidation(t *testing.T) {
	c := newTestClient(t, "http://127.0.0.1:1", nil, nil)
	for _, q := range []Query{{Size: MaxPageSize + 1}, {Size: -1}, {Page: -1}} {
		if _, err := c.ListPage(context.Background(), q); err == nil {
			t.Errorf("ListPage(%+v): got no error", q)
		}
	}
}

// step is one scripted answer of a flaky server.
type step func(w http.ResponseWriter, r *http.Request)

func status(code int, header map[string]string, body string) step {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(code)
		w.Write([]byte(body))
	}
}

// scripted serves the steps in order, then repeats the last one.
func scripted(steps ...step) (http.HandlerFunc, *atomic.Int32) {
	var n atomic.Int32
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		steps[min(i, len(steps)-1)](w, r)
	}, &n
}

func TestRetryThenSuccess(t *testing.T) {
	page := readTestdata(t, "page_newest_first.json")
	ok := status(200, nil, string(page))
	tests := []struct {
		name       string
		first      step
		timeout    time.Duration
		retryAfter bool // the backoff is set far too long: only Retry-After lets it pass
		want       []string
	}{
		{"server error", status(503, nil, `{"status":503,"error":"Service Unavailable"}`), 0, false,
			[]string{"request list 503", "retry list server", "request list 200"}},
		// An hour, cut to MaxRetryAfter: it would fail past the deadline otherwise.
		{"429 with Retry-After seconds", status(429, map[string]string{"Retry-After": "3600"}, `{"status":429,"error":"Too Many Requests"}`), 0, true,
			[]string{"request list 429", "rate_limited list", "retry list rate_limited", "request list 200"}},
		{"429 with Retry-After date", status(429, map[string]string{"Retry-After": time.Now().Add(-time.Minute).UTC().Format(http.TimeFormat)}, ""), 0, true,
			[]string{"request list 429", "rate_limited list", "retry list rate_limited", "request list 200"}},
		{"401 quota exceeded", status(401, nil, string(readTestdata(t, "error_401_quota.json"))), 0, false,
			[]string{"request list 401", "rate_limited list", "retry list quota", "request list 200"}},
		{"truncated JSON", status(200, nil, string(page[:len(page)/3])), 0, false,
			[]string{"request list 200", "retry list decode", "request list 200"}},
		{"connection cut mid-body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(page)))
			w.Write(page[:len(page)/3])
		}, 0, false, []string{"request list 200", "retry list network", "request list 200"}},
		{"attempt timeout", func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, 200 * time.Millisecond, false,
			[]string{"request list error", "retry list timeout", "request list 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n := scripted(tt.first, ok)
			rec := &recorder{}
			c := newTestClient(t, newTestServer(t, h), rec, func(cfg *Config) {
				if tt.timeout > 0 {
					cfg.Timeout = tt.timeout
				}
				if tt.retryAfter {
					cfg.NewBackOff, cfg.MaxRetryAfter = hourBackOff, time.Millisecond
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p, err := c.ListPage(ctx, Query{})
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Events) != 3 || n.Load() != 2 {
				t.Errorf("got %d events after %d requests, want 3 after 2", len(p.Events), n.Load())
			}
			if got := rec.get(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("observer calls:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNoRetry(t *testing.T) {
	tests := []struct {
		name       string
		answer     step
		call       func(*Client) error
		wantReason string
		wantText   string
		want       []string
	}{
		{"400", status(400, nil, string(readTestdata(t, "error_400.json"))), listPage, ReasonBadRequest,
			"fetching events: HTTP 400 Bad Request: Bad Request: Invalid date_from", []string{"request list 400"}},
		{"401 bad credentials", status(401, nil, string(readTestdata(t, "error_401_auth.json"))), listPage, ReasonAuth,
			"HTTP 401 Unauthorized: Unauthorized: Bad credentials", []string{"request list 401"}},
		{"403", status(403, nil, "Forbidden"), listPage, ReasonAuth, "HTTP 403 Forbidden: Forbidden", []string{"request list 403"}},
		{"404 on get", status(404, nil, string(readTestdata(t, "error_404.json"))), getEvent, ReasonNotFound,
			`fetching event "x": HTTP 404 Not Found: Not Found: Event not found`, []string{"request get 404"}},
		{"418 other", status(418, nil, "<html>\n<b>teapot</b>\n</html>"), eventTypes, ReasonOther,
			"listing event types: HTTP 418 I'm a teapot: <html> <b>teapot</b> </html>", []string{"request options 418"}},
		{"body over the limit", status(200, nil, strings.Repeat(" ", 2048)), listPage, ReasonDecode,
			"response body larger than 1024 bytes", []string{"request list 200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, n := scripted(tt.answer, status(200, nil, "{}"))
			rec := &recorder{}
			c := newTestClient(t, newTestServer(t, h), rec, func(cfg *Config) { cfg.MaxResponseBytes = 1024 })
			err := tt.call(c)
			assertNoSecret(t, err)
			if Reason(err) != tt.wantReason || err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("got error %v (reason %q), want one containing %q with reason %q", err, Reason(err), tt.wantText, tt.wantReason)
			}
			if n.Load() != 1 {
				t.Errorf("got %d requests, want 1", n.Load())
			}
			if got := rec.get(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("observer calls: got %q, want %q", got, tt.want)
			}
			if got, want := errors.Is(err, ErrNotFound), tt.wantReason == ReasonNotFound; got != want {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, want)
			}
		})
	}
}

func listPage(c *Client) error {
	_, err := c.ListPage(context.Background(), Query{})
	return err
}

func getEvent(c *Client) error {
	_, err := c.GetEvent(context.Background(), "x")
	return err
}

func eventTypes(c *Client) error {
	_, err := c.EventTypes(context.Background())
	return err
}

func TestRetriesSpent(t *testing.T) {
	h, n := scripted(status(502, nil, `{"status":502,"error":"Bad Gateway","message":"upstream down"}`))
	rec := &recorder{}
	c := newTestClient(t, newTestServer(t, h), rec, func(cfg *Config) { cfg.MaxRetries = 2 })
	err := listPage(c)
	assertNoSecret(t, err)
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusBadGateway || e.Reason != ReasonServer || e.Endpoint != EndpointList ||
		e.Error() != "fetching events: HTTP 502 Bad Gateway: Bad Gateway: upstream down" {
		t.Errorf("got %#v (%v)", e, err)
	}
	want := []string{"request list 502", "retry list server", "request list 502", "retry list server", "request list 502"}
	if got := rec.get(); n.Load() != 3 || !reflect.DeepEqual(got, want) {
		t.Errorf("got %d requests and observer calls %q, want 3 and %q", n.Load(), got, want)
	}
}

func TestContextEndsWhileWaiting(t *testing.T) {
	h, _ := scripted(status(500, nil, "boom"))
	c := newTestClient(t, newTestServer(t, h), nil, func(cfg *Config) { cfg.NewBackOff = hourBackOff })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := c.ListPage(ctx, Query{})
	assertNoSecret(t, err)
	if Reason(err) != ReasonServer || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("got %v (reason %q), want the server error and the deadline", err, Reason(err))
	}
}

func TestRetryAfterPastDeadline(t *testing.T) {
	for _, tt := range []struct {
		name, body, wantReason string
		code                   int
	}{
		{"429", "", ReasonRateLimited, 429},
		{"503", "", ReasonRateLimited, 503},
		{"401 quota", `{"message":"Quota Exceeded"}`, ReasonQuota, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, n := scripted(status(tt.code, map[string]string{"Retry-After": "3600"}, tt.body))
			c := newTestClient(t, newTestServer(t, h), nil, nil)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			_, err := c.ListPage(ctx, Query{})
			var e *Error
			if !errors.As(err, &e) || e.Reason != tt.wantReason || e.RetryAfter != time.Hour || n.Load() != 1 {
				t.Errorf("got %v after %d requests, want reason %q, RetryAfter 1h after 1 request", err, n.Load(), tt.wantReason)
			}
			if !strings.Contains(err.Error(), "past the deadline") {
				t.Errorf("error %q does not say why it gave up", err)
			}
		})
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		leaked.Add(1)
		w.Write(readTestdata(t, "page_empty.json"))
	}))
	defer other.Close()
	otherURL, _ := url.Parse(other.URL)
	h, _ := scripted(status(302, map[string]string{"Location": other.URL + "/beta/audit/events"}, ""))

	// A caller's client that would follow redirects must not change that.
	following := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
	for name, hc := range map[string]*http.Client{"default client": nil, "caller's client": following} {
		t.Run(name, func(t *testing.T) {
			c := newTestClient(t, newTestServer(t, h), nil, func(cfg *Config) { cfg.HTTPClient = hc })
			err := listPage(c)
			assertNoSecret(t, err)
			if Reason(err) != ReasonOther || !strings.Contains(err.Error(), "redirected to "+otherURL.Host) ||
				!strings.Contains(err.Error(), "credentials were not sent") {
				t.Errorf("got %v (reason %q)", err, Reason(err))
			}
		})
	}
	if leaked.Load() != 0 {
		t.Errorf("%d requests reached the other host", leaked.Load())
	}
	if following.CheckRedirect == nil {
		t.Error("the caller's client was changed")
	}
}

func TestSecretIsScrubbed(t *testing.T) {
	// A hostile or buggy server echoes the credentials into its message.
	h := func(w http.ResponseWriter, r *http.Request) {
		_, pass, _ := r.BasicAuth()
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"error":"Bad Request","message":"got ` + r.Header.Get("Authorization") + ` and ` + pass + `"}`))
	}
	var logs testutil.SyncBuffer
	c := newTestClient(t, newTestServer(t, h), nil, func(cfg *Config) { cfg.Logger = log.NewLogfmtLogger(&logs) })
	err := listPage(c)
	if err == nil || !strings.Contains(err.Error(), "got Basic <secret> and <secret>") {
		t.Errorf("got %v", err)
	}
	assertNoSecret(t, err)
	if !strings.Contains(logs.String(), "Audit API request") || strings.Contains(logs.String(), testSecret) {
		t.Errorf("log output: %s", logs.String())
	}
}

func TestRateLimiterWaitRespectsContext(t *testing.T) {
	h, n := scripted(step(serveFile(t, "page_empty.json")))
	rec := &recorder{}
	c := newTestClient(t, newTestServer(t, h), rec, func(cfg *Config) { cfg.RequestsPerSecond = 0.001 })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.ListPage(ctx, Query{}); err != nil {
		t.Fatal(err)
	}
	// The next token is 1000s away, past the deadline: fail now, do not wait.
	_, err := c.ListPage(ctx, Query{})
	assertNoSecret(t, err)
	if Reason(err) != ReasonTimeout || n.Load() != 1 {
		t.Errorf("got %v (reason %q) after %d requests, want a timeout after 1", err, Reason(err), n.Load())
	}
	if got := rec.get(); !reflect.DeepEqual(got, []string{"request list 200"}) {
		t.Errorf("observer calls: %q", got)
	}
}

func TestGetEvent(t *testing.T) {
	c := newTestClient(t, newTestServer(t, serveFile(t, "event.json")), nil, nil)
	ev, err := c.GetEvent(context.Background(), "aaaaaaaa-bbbb-cccc-dddd-0123456789ab")
	if err != nil {
		t.Fatal(err)
	}
	if ev.ID != "aaaaaaaa-bbbb-cccc-dddd-0123456789ab" || ev.UserID != "1234567" || !ev.CreatedAt.Equal(utc("2018-05-16T16:34:22Z")) ||
		string(ev.Raw) != strings.TrimSpace(string(readTestdata(t, "event.json"))) {
		t.Errorf("got %+v", ev)
	}
	if _, err := c.GetEvent(context.Background(), ""); err == nil {
		t.Error("empty id: got no error")
	}
}

func TestEventTypes(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		want []EventType
	}{
		{"documented", serveFile(t, "event_types.json"), []EventType{
			{"USER_STATUS", "User status updated"},
			{"USER_API_KEYS_UPDATE", "User API keys updated"},
			{"NUMBER_USER_CANCELED", "User cancelled number"},
		}},
		{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, nil},
		{"empty 200", func(http.ResponseWriter, *http.Request) {}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newTestClient(t, newTestServer(t, tt.h), nil, nil).EventTypes(context.Background())
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no key", Config{APISecret: testSecret}, "API key and secret are required"},
		{"no secret", Config{APIKey: testKey}, "API key and secret are required"},
		{"credentials in URL", Config{APIKey: testKey, APISecret: testSecret, BaseURL: "https://" + testKey + ":" + testSecret + "@example.com/"}, "must not contain credentials"},
		{"bad URL", Config{APIKey: testKey, APISecret: testSecret, BaseURL: "https://" + testKey + ":" + testSecret + "@exa mple.com:x/"}, "not a valid URL"},
		{"relative URL", Config{APIKey: testKey, APISecret: testSecret, BaseURL: "/beta/audit"}, "absolute http or https"},
		{"query in URL", Config{APIKey: testKey, APISecret: testSecret, BaseURL: "https://example.com/?a=b"}, "query or fragment"},
		{"negative timeout", Config{APIKey: testKey, APISecret: testSecret, Timeout: -1}, "timeout must not be negative"},
		{"negative retries", Config{APIKey: testKey, APISecret: testSecret, MaxRetries: -1}, "max retries"},
		{"negative rate", Config{APIKey: testKey, APISecret: testSecret, RequestsPerSecond: -1}, "requests per second"},
		{"negative body limit", Config{APIKey: testKey, APISecret: testSecret, MaxResponseBytes: -1}, "max response bytes"},
		{"negative page limit", Config{APIKey: testKey, APISecret: testSecret, MaxPages: -1}, "max pages"},
		{"negative Retry-After cap", Config{APIKey: testKey, APISecret: testSecret, MaxRetryAfter: -1}, "max Retry-After wait"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error containing %q", err, tt.wantErr)
			}
			assertNoSecret(t, err)
		})
	}
	c, err := New(Config{APIKey: testKey, APISecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	if c.base.String() != DefaultBaseURL || c.cfg.Timeout != DefaultTimeout || c.cfg.MaxResponseBytes != DefaultMaxResponseBytes ||
		c.cfg.MaxPages != DefaultMaxPages || c.cfg.UserAgent != DefaultUserAgent || c.limiter != nil ||
		c.cfg.MaxRetryAfter != DefaultMaxRetryAfter || c.cfg.Now == nil || c.cfg.NewBackOff == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestReason(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{errors.New("x"), ReasonOther},
		{context.DeadlineExceeded, ReasonTimeout},
		{&Error{Reason: ReasonQuota}, ReasonQuota},
		{&retryAfterError{err: &Error{Reason: ReasonRateLimited}}, ReasonRateLimited},
	}
	for _, tt := range tests {
		if got := Reason(tt.err); got != tt.want {
			t.Errorf("Reason(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// A decoding error quotes what the server sent; a server that echoes an
// all-digit secret as a number must not get it into the error.
func TestDecodeErrorsAreScrubbed(t *testing.T) {
	const digits = "8675309123"
	url := newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"page":{"size":%s.5}}`, digits)
	})
	c := newTestClient(t, url, nil, func(cfg *Config) { cfg.APISecret = digits })
	_, err := c.ListPage(context.Background(), Query{})
	if err == nil {
		t.Fatal("a page block with a fractional size decoded")
	}
	if strings.Contains(err.Error(), digits) {
		t.Errorf("error contains the secret: %q", err)
	}
}

// A page carries its answer's Date header and the local time it came, by
// the injected clock; no Date, or an unreadable one, leaves Date zero.
func TestPageCarriesTheAnswersDate(t *testing.T) {
	apiTime := utc("2026-03-14T12:00:00Z")
	local := utc("2026-03-14T12:00:07Z") // seven seconds ahead of the API
	empty := readTestdata(t, "page_empty.json")
	for _, tt := range []struct {
		header string
		want   time.Time
	}{
		{"Sat, 14 Mar 2026 12:00:00 GMT", apiTime},
		{"", time.Time{}},
		{"yesterday", time.Time{}},
	} {
		c := newTestClient(t, newTestServer(t, func(w http.ResponseWriter, _ *http.Request) {
			if tt.header == "" {
				w.Header()["Date"] = nil // not even the server's own
			} else {
				w.Header().Set("Date", tt.header)
			}
			w.Write(empty)
		}), nil, func(cfg *Config) { cfg.Now = func() time.Time { return local } })
		p, err := c.ListPage(context.Background(), Query{})
		if err != nil || !p.Date.Equal(tt.want) || !p.Received.Equal(local) {
			t.Errorf("Date header %q: page Date %v, Received %v (%v); want %v, %v", tt.header, p.Date, p.Received, err, tt.want, local)
		}
	}
}

// A Retry-After date is read against the injected clock.
func TestRetryAfterDateUsesTheClock(t *testing.T) {
	now := utc("2026-03-14T12:00:00Z")
	h, n := scripted(status(429, map[string]string{"Retry-After": now.Add(time.Hour).Format(http.TimeFormat)}, ""))
	c := newTestClient(t, newTestServer(t, h), nil, func(cfg *Config) { cfg.Now = func() time.Time { return now } })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := c.ListPage(ctx, Query{})
	var e *Error
	if !errors.As(err, &e) || e.RetryAfter != time.Hour || n.Load() != 1 {
		t.Errorf("got %v after %d requests, want RetryAfter 1h after 1", err, n.Load())
	}
}

func TestReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons {
		if seen[r] || r == "" {
			t.Errorf("reason %q listed twice or empty", r)
		}
		seen[r] = true
	}
	check := func(r string) {
		if !seen[r] {
			t.Errorf("reason %q is not in Reasons", r)
		}
	}
	for code := 300; code < 600; code++ {
		r, _ := classifyStatus(code, "quota exceeded")
		check(r)
		r, _ = classifyStatus(code, "")
		check(r)
	}
	for _, err := range []error{context.DeadlineExceeded, context.Canceled, errors.New("reset")} {
		check(transportReason(err))
		check(Reason(err))
	}
	check(ReasonPageLimit)
}
