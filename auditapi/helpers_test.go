package auditapi

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v5"
)

const (
	testKey    = "key1234"
	testSecret = "Sup3r-S3cret-Value"
)

// testToken is the Basic credentials as they go over the wire.
var testToken = base64.StdEncoding.EncodeToString([]byte(testKey + ":" + testSecret))

// recorder is an Observer that keeps the calls in order.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Request(endpoint, code string, _ time.Duration) {
	r.add("request " + endpoint + " " + code)
}
func (r *recorder) Retry(endpoint, reason string) { r.add("retry " + endpoint + " " + reason) }
func (r *recorder) RateLimited(endpoint string)   { r.add("rate_limited " + endpoint) }
func (r *recorder) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestServer serves h under the documented base path.
func newTestServer(t testing.TB, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/beta/audit"
}

// zeroBackOff retries at once; hourBackOff never within a test.
func zeroBackOff() backoff.BackOff { return &backoff.ZeroBackOff{} }
func hourBackOff() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }

// newTestClient returns a client that retries without waiting, so that
// tests stay fast.
func newTestClient(t testing.TB, baseURL string, obs Observer, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
		BaseURL:    baseURL,
		APIKey:     testKey,
		APISecret:  testSecret,
		Timeout:    10 * time.Second,
		MaxRetries: 3,
		Observer:   obs,
		NewBackOff: zeroBackOff,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// assertNoSecret fails if err's text carries the secret in any form.
func assertNoSecret(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	s := err.Error()
	if strings.Contains(s, testSecret) || strings.Contains(s, testToken) {
		t.Errorf("error contains the secret: %q", s)
	}
}

func serveFile(t testing.TB, name string) http.HandlerFunc {
	body := readTestdata(t, name)
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}
