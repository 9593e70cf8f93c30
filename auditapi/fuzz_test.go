package auditapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// addPageSeeds seeds a fuzz target with the checked-in API answers; the
// corpus under testdata/fuzz holds the hostile ones.
func addPageSeeds(f *testing.F, add func(body []byte)) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no seed pages: %v", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// A page decodes or fails as a whole, never panics, and every event it
// yields round-trips: decoding its Raw bytes gives the same event.
func FuzzDecodePage(f *testing.F) {
	addPageSeeds(f, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := DecodePage(body)
		if err != nil {
			return
		}
		if !isObject(body) || !json.Valid(body) {
			t.Fatalf("decoded a body that is not a JSON object: %q", body)
		}
		for i, e := range p.Events {
			if !json.Valid(e.Raw) {
				t.Fatalf("event %d: Raw is not valid JSON: %q", i, e.Raw)
			}
			var again Event
			if err := json.Unmarshal(e.Raw, &again); err != nil {
				t.Fatalf("event %d: Raw does not decode again: %v", i, err)
			}
			if !reflect.DeepEqual(again, e) {
				t.Fatalf("event %d does not round-trip:\nfirst  %+v\nagain  %+v", i, e, again)
			}
			if !e.CreatedAt.IsZero() && e.CreatedAt.Location() != time.UTC {
				t.Fatalf("event %d: created_at %v is not in UTC", i, e.CreatedAt)
			}
		}
	})
}

// staticTransport answers every request with one status and body, in
// memory: the fuzzer runs thousands of calls a second.
type staticTransport struct {
	status int
	header http.Header
	body   []byte
}

func (s staticTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: s.status,
		Header:     s.header,
		Body:       io.NopCloser(bytes.NewReader(s.body)),
		Request:    r,
	}, nil
}

// Whatever the API answers, even when it echoes the credentials back, no
// error carries the secret or the Basic token, and the reason is one of
// the documented ones.
func FuzzErrorsNeverShowTheSecret(f *testing.F) {
	addPageSeeds(f, func(b []byte) {
		f.Add(200, b, "")
		f.Add(401, b, "")
	})
	for _, seed := range []struct {
		status      int
		body, retry string
	}{
		{401, `{"status":401,"error":"Unauthorized","message":"Bad credentials for key1234:Sup3r-S3cret-Value"}`, ""},
		{500, "Authorization: Basic " + testToken, ""},
		{429, `{"message":"slow down Sup3r-S3cret-Value"}`, "1"},
		{302, "", ""},
		{200, `{"page":{"size":"Sup3r-S3cret-Value"}}`, ""},
		{200, `{"_embedded":{"events":[{"id":"Sup3r-S3cret-Value"`, ""},
		{503, strings.Repeat("Sup3r-S3cret-Value ", 40), "Wed, 21 Oct 2015 07:28:00 GMT"},
	} {
		f.Add(seed.status, []byte(seed.body), seed.retry)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		if status < 100 || status > 999 {
			t.Skip()
		}
		header := http.Header{}
		if retryAfter != "" {
			header.Set("Retry-After", retryAfter)
		}
		header.Set("Location", "https://evil.example/"+testSecret)
		c, err := New(Config{
			BaseURL:    "https://audit.test",
			APIKey:     testKey,
			APISecret:  testSecret,
			HTTPClient: &http.Client{Transport: staticTransport{status: status, header: header, body: body}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// A short deadline: a Retry-After past it fails at once.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = c.ListPage(ctx, Query{Page: 1, Size: MaxPageSize})
		if err == nil {
			return
		}
		msg := err.Error()
		for _, secret := range []string{testSecret, testToken} {
			if strings.Contains(msg, secret) {
				t.Fatalf("HTTP %d: the error shows the secret: %s", status, msg)
			}
		}
		if r := Reason(err); !slices.Contains(Reasons, r) {
			t.Fatalf("HTTP %d: undocumented reason %q", status, r)
		}
		if status >= 200 && status < 300 && Reason(err) != ReasonDecode && Reason(err) != ReasonTimeout {
			t.Fatalf("HTTP %s: a 2xx failed with reason %q: %v", strconv.Itoa(status), Reason(err), err)
		}
	})
}
