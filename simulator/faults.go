package simulator

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Faults are the failures the server injects. The counters count down by
// one for each request they answer; when several are set they apply one
// after the other, in the order Fail5xx, RateLimit, Quota, and a request
// they leave alone may still fail at ErrorRate.
type Faults struct {
	// Latency is added to every answer; a client that gives up first gets
	// no answer at all.
	Latency time.Duration
	// ErrorRate is the share of requests answered 500, 502 or 503, drawn
	// from a generator seeded by Options.Seed.
	ErrorRate float64
	// Fail5xx makes the next N requests answer 503.
	Fail5xx int
	// RateLimit makes the next N requests answer 429 ...
	RateLimit int
	// RetryAfter ... with this Retry-After header value ("" for none).
	RetryAfter string
	// Quota makes the next N requests answer 401 "Quota Exceeded", the way
	// the gateway reports a rate limit.
	Quota int
	// Truncate makes the next N GET /events answer 200 with half a body.
	Truncate int
	// LateBy makes the events of Generate and Run visible only this long
	// after their created_at.
	LateBy time.Duration
}

// faultState is the live fault configuration, guarded by Server.mu.
type faultState struct {
	Faults
	rng *rand.Rand
}

// fault is what one request gets: a delay, and an answer instead of the
// real one when status is set.
type fault struct {
	latency    time.Duration
	status     int
	message    string
	retryAfter string
}

// SetFaults replaces the injected faults; the zero Faults turns them off.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Faults = f
}

// nextFault draws the fault of one request and counts it down.
func (s *Server) nextFault() fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := &s.faults
	f := fault{latency: fs.Latency}
	switch {
	case fs.Fail5xx > 0:
		fs.Fail5xx--
		f.status, f.message = http.StatusServiceUnavailable, "Service Unavailable"
	case fs.RateLimit > 0:
		fs.RateLimit--
		f.status, f.message = http.StatusTooManyRequests, "Too Many Requests"
		f.retryAfter = fs.RetryAfter
	case fs.Quota > 0:
		fs.Quota--
		// The gateway reports an exhausted quota as a 401, not a 429.
		f.status, f.message = http.StatusUnauthorized, "Quota Exceeded"
	case fs.ErrorRate > 0 && fs.rng.Float64() < fs.ErrorRate:
		f.status = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[fs.rng.IntN(3)]
		f.message = http.StatusText(f.status)
	}
	return f
}

// takeTruncate reports whether this GET /events answer is to be cut short.
func (s *Server) takeTruncate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.faults.Truncate > 0 {
		s.faults.Truncate--
		return true
	}
	return false
}

// write answers the injected failure the way a gateway would: the
// documented JSON error shape, except for a bad gateway's HTML page.
func (f fault) write(w http.ResponseWriter) {
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	if f.status == http.StatusBadGateway {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte("<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"))
		return
	}
	writeError(w, f.status, f.message)
}
