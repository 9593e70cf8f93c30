package collector_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// streamAccounts are accounts whose series cover what the stream writes:
// label values to escape, values integral and not, large and infinite,
// exemplars kept, too long and absent, an account without user series, an
// account with no series at all, and names out of order.
func streamAccounts() []collector.Account {
	created := time.Date(2026, 3, 14, 11, 59, 30, 123456789, time.UTC)
	odd := poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: "quote\" back\\slash new\nline ü"}
	plain := poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: "ana@example.com"}
	login := poller.EventKey{EventType: "USER_LOGIN", Source: "CD"}
	secret := poller.EventKey{EventType: "ACCOUNT_SECRET_CREATE", Source: "DEVAPI"}
	full := poller.Snapshot{
		Account: "prod", CountsUsers: true,
		Events: map[poller.EventKey]float64{login: 3, secret: 0, {EventType: "APP_UPDATE", Source: "API"}: 1e21},
		Users: map[poller.UserKey]float64{odd: 1, plain: 2, {EventType: "APP_UPDATE", Source: "API", User: "z"}: math.Inf(1),
			{EventType: "USER_LOGIN", Source: "API", User: "zed"}: 4},
		Countries: map[poller.CountryKey]float64{{EventType: "USER_LOGIN", Country: "GB"}: 2, {EventType: "USER_LOGIN", Country: "FR"}: 1,
			{EventType: "APP_UPDATE", Country: "GB"}: 1},
		LastEvent: map[string]time.Time{"USER_LOGIN": created, "APP_UPDATE": time.Unix(1773489600, 0)},
		EventExemplars: map[poller.EventKey]poller.Exemplar{
			login: {ID: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", CreatedAt: created},
			// Longer than an exemplar's 128 runes with its label name.
			secret: {ID: strings.Repeat("x", 121), CreatedAt: created},
		},
		UserExemplars: map[poller.UserKey]poller.Exemplar{odd: {ID: `id"with\quotes`, CreatedAt: created}},
	}
	noUsers := poller.Snapshot{
		Account:   "dev",
		Events:    map[poller.EventKey]float64{login: 0.5},
		LastEvent: map[string]time.Time{"USER_LOGIN": created},
	}
	return []collector.Account{
		{Poller: &snapshotSource{full}},
		{Poller: poller.New(poller.Options{Name: "empty", UserLabel: config.UserLabelEmail, CountryBreakdown: true})},
		{Poller: &snapshotSource{noUsers}},
	}
}

// others are the Go, process and build metrics, as the exporter has them.
func others() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewBuildInfoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func get(t *testing.T, h http.Handler, accept, encoding string) (http.Header, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("Accept", accept)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result().Header, rec.Body.Bytes()
}

// The handler writes, in every format and encoding, what promhttp writes
// for a registry of the collector and the others: the same headers and the
// same bytes, but for the process metrics, which change between two reads.
func TestHandlerWritesWhatARegistryWrites(t *testing.T) {
	c := collector.New(func() collector.Status { return collector.Status{ReloadOK: true, LastReload: time.Unix(200, 0)} })
	c.SetAccounts(streamAccounts())
	reg := others()
	all := prometheus.NewPedanticRegistry()
	all.MustRegister(c)
	want := promhttp.HandlerFor(prometheus.Gatherers{reg, all}, promhttp.HandlerOpts{EnableOpenMetrics: true})
	got := c.Handler(reg, nil)

	stable := func(body []byte) string {
		var out []string
		for l := range strings.Lines(string(body)) {
			if !strings.Contains(l, "process_") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "")
	}
	for _, accept := range []string{
		"",
		"text/plain; version=0.0.4",
		"application/openmetrics-text; version=1.0.0",
		"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
		"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3",
	} {
		for _, encoding := range []string{"", "gzip", "br, gzip;q=0.5", "gzip;q=0"} {
			wantResp, wantBody := get(t, want, accept, encoding)
			gotResp, gotBody := get(t, got, accept, encoding)
			for _, h := range []string{"Content-Type", "Content-Encoding"} {
				if g, w := gotResp.Get(h), wantResp.Get(h); g != w {
					t.Errorf("Accept %q, Accept-Encoding %q: %s %q, want %q", accept, encoding, h, g, w)
				}
			}
			if gotResp.Get("Content-Encoding") == "gzip" {
				gotBody, wantBody = gunzip(t, gotBody), gunzip(t, wantBody)
			}
			if g, w := stable(asText(t, gotResp, gotBody)), stable(asText(t, wantResp, wantBody)); g != w {
				t.Errorf("Accept %q, Accept-Encoding %q: body\n%s\nwant\n%s", accept, encoding, g, w)
			}
		}
	}
	// The families streamed are all there, exemplars and escapes too.
	_, body := get(t, got, "application/openmetrics-text; version=1.0.0", "")
	for _, line := range []string{
		"# TYPE vonage_audit_events counter\n",
		`vonage_audit_user_events_total{account="prod",event_type="USER_LOGIN",source="CD",user="quote\" back\\slash new\nline ü"} 1.0 # {event_id="id\"with\\quotes"} 1.0 1.7734895701234567e+09` + "\n",
		`vonage_audit_events_total{account="prod",event_type="APP_UPDATE",source="API"} 1e+21` + "\n",
		`vonage_audit_country_events_total{account="prod",country="FR",event_type="USER_LOGIN"} 1.0` + "\n",
		`vonage_audit_last_event_timestamp_seconds{account="dev",event_type="USER_LOGIN"} 1.7734895701234567e+09` + "\n",
		"# EOF\n",
	} {
		if !bytes.Contains(body, []byte(line)) {
			t.Errorf("OpenMetrics scrape lacks %q:\n%s", line, body)
		}
	}
}

// asText decodes a protobuf scrape into the text format, for reading;
// other scrapes are returned as they are.
func asText(t *testing.T, h http.Header, body []byte) []byte {
	t.Helper()
	format := expfmt.ResponseFormat(h)
	if format.FormatType() != expfmt.TypeProtoDelim {
		return body
	}
	dec := expfmt.NewDecoder(bytes.NewReader(body), format)
	var out bytes.Buffer
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			return out.Bytes()
		} else if err != nil {
			t.Fatal(err)
		}
		if _, err := expfmt.MetricFamilyToText(&out, &mf); err != nil {
			t.Fatal(err)
		}
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With no account, or none with a count, no count family is written, and
// what is left is still what a registry writes.
func TestHandlerWithoutCounts(t *testing.T) {
	c := collector.New(nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewBuildInfoCollector())
	all := prometheus.NewRegistry()
	all.MustRegister(c)
	want := promhttp.HandlerFor(prometheus.Gatherers{reg, all}, promhttp.HandlerOpts{EnableOpenMetrics: true})
	for _, accept := range []string{"text/plain; version=0.0.4", "application/openmetrics-text; version=1.0.0"} {
		_, w := get(t, want, accept, "")
		_, g := get(t, c.Handler(reg, nil), accept, "")
		if string(g) != string(w) {
			t.Errorf("Accept %q: body\n%s\nwant\n%s", accept, g, w)
		}
	}
	// And promtool's parser reads a streamed scrape.
	c.SetAccounts(streamAccounts())
	_, body := get(t, c.Handler(reg, nil), "text/plain; version=0.0.4", "")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := parser.TextToMetricFamilies(bytes.NewReader(body)); err != nil {
		t.Errorf("parsing the streamed scrape: %v", err)
	}
}

// heldWriter is a scraper that reads slowly: each write checks that no
// account is held while it waits.
type heldWriter struct {
	httptest.ResponseRecorder
	sources []*benchSource
	held    int // writes made while an account was held
}

func (w *heldWriter) Write(b []byte) (int, error) {
	for _, s := range w.sources {
		if !s.mu.TryLock() {
			w.held++
			continue
		}
		s.mu.Unlock()
	}
	return w.ResponseRecorder.Write(b)
}

// A scrape writes to its client only while no account is held, so that a
// slow client never holds up counting. The accounts are large enough that
// the stream writes while going through them, not only at the end.
func TestHandlerWritesWithNoAccountHeld(t *testing.T) {
	var sources []*benchSource
	var accounts []collector.Account
	for a := range 3 {
		s := &benchSource{s: poller.Snapshot{Account: fmt.Sprintf("acct%d", a), CountsUsers: true, Users: map[poller.UserKey]float64{}}}
		for u := range 2000 {
			s.s.Users[poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: fmt.Sprintf("user%04d@example.com", u)}] = 1
		}
		sources = append(sources, s)
		accounts = append(accounts, collector.Account{Poller: s})
	}
	c := collector.New(nil)
	c.SetAccounts(accounts)
	w := &heldWriter{ResponseRecorder: *httptest.NewRecorder(), sources: sources}
	c.Handler(prometheus.NewRegistry(), nil).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if n := strings.Count(w.Body.String(), "\nvonage_audit_user_events_total{"); n != 6000 {
		t.Fatalf("scraped %d user series, want 6000", n)
	}
	if w.held != 0 {
		t.Errorf("%d writes to the client were made while an account was held", w.held)
	}
}
