package auditapi

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Reasons reported by Reason and carried in Error.Reason.
const (
	ReasonAuth        = "auth"
	ReasonQuota       = "quota"
	ReasonRateLimited = "rate_limited"
	ReasonServer      = "server"
	ReasonTimeout     = "timeout"
	ReasonNetwork     = "network"
	ReasonDecode      = "decode"
	ReasonNotFound    = "not_found"
	ReasonBadRequest  = "bad_request"
	ReasonPageLimit   = "page_limit"
	ReasonOther       = "other"
)

// Reasons lists every reason, in a stable order, for metrics to
// zero-initialise their series from.
var Reasons = []string{
	ReasonAuth, ReasonQuota, ReasonRateLimited, ReasonServer, ReasonTimeout, ReasonNetwork,
	ReasonDecode, ReasonNotFound, ReasonBadRequest, ReasonPageLimit, ReasonOther,
}

// ErrNotFound matches, through errors.Is, an Error for a 404 answer.
var ErrNotFound = errors.New("not found")

// maxMessageBytes bounds how much of an error body ends up in an error
// string: gateways answer with whole HTML pages.
const maxMessageBytes = 256

// Error is a failed Audit API call.
type Error struct {
	Endpoint   string // "list", "get" or "options"
	StatusCode int    // 0 when no response came
	Reason     string // as returned by Reason
	Message    string // the API's message, or what went wrong locally
	RetryAfter time.Duration

	op  string // what was being done, e.g. "fetching events page 3"
	err error  // the transport or decoding error behind it, if any
	// errText is err's text with the secret scrubbed: a decoding error can
	// quote what the server sent, and a server may echo the credentials.
	errText string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(cmp.Or(e.op, "calling the audit API ("+e.Endpoint+")"))
	if e.StatusCode != 0 {
		b.WriteString(strings.TrimSpace(fmt.Sprintf(": HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))))
	}
	for _, part := range []string{e.Message, e.errText} {
		if part != "" {
			b.WriteString(": " + part)
		}
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrNotFound) true for a 404.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.Reason == ReasonNotFound
}

// Reason classifies err for metrics: one of Reasons, or "" for nil.
func Reason(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e) && e.Reason != "":
		return e.Reason
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	}
	return ReasonOther
}

// statusReasons maps the statuses with a reason of their own to it, and
// whether a retry can help. Any other 5xx is "server", retried.
var statusReasons = map[int]struct {
	reason string
	retry  bool
}{
	http.StatusBadRequest:      {ReasonBadRequest, false},
	http.StatusUnauthorized:    {ReasonAuth, false},
	http.StatusForbidden:       {ReasonAuth, false},
	http.StatusNotFound:        {ReasonNotFound, false},
	http.StatusRequestTimeout:  {ReasonTimeout, true},
	http.StatusTooManyRequests: {ReasonRateLimited, true},
}

// classifyStatus maps a non-2xx status to a reason and whether a retry can help.
func classifyStatus(status int, message string) (reason string, retry bool) {
	// The gateway reports "Quota Exceeded" as a 401: that is a rate limit,
	// not bad credentials.
	if status == http.StatusUnauthorized && strings.Contains(strings.ToLower(message), "quota") {
		return ReasonQuota, true
	}
	if r, ok := statusReasons[status]; ok {
		return r.reason, r.retry
	}
	if status >= 500 {
		return ReasonServer, true
	}
	return ReasonOther, false
}

// transportReason classifies an error that came instead of a response.
func transportReason(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonOther
	}
	return ReasonNetwork
}

// apiMessage extracts the message of an error body. Documented errors are
// {"status":401,"error":"Unauthorized","message":"..."}; other Vonage APIs
// answer RFC 7807 problems, and gateways plain text or HTML.
func apiMessage(body []byte) string {
	var p struct {
		Error                  any
		Title, Message, Detail string
		ErrorTitle             string `json:"error_title"`
	}
	if json.Unmarshal(body, &p) == nil {
		title, _ := p.Error.(string)
		title = cmp.Or(title, p.Title, p.ErrorTitle)
		detail := cmp.Or(p.Message, p.Detail)
		if detail == title && p.Message != "" {
			detail = p.Detail
		}
		switch {
		case title != "" && detail != "" && detail != title:
			return truncate(title + ": " + detail)
		case title != "" || detail != "":
			return truncate(cmp.Or(title, detail))
		}
	}
	return truncate(strings.Join(strings.Fields(string(body)), " "))
}

// truncate cuts s to maxMessageBytes, dropping a rune the cut splits.
func truncate(s string) string {
	if len(s) <= maxMessageBytes {
		return s
	}
	return strings.ToValidUTF8(s[:maxMessageBytes], "") + "..."
}

// maxRetryAfterSeconds is a year: longer than any wait the client accepts.
const maxRetryAfterSeconds = 365 * 24 * 3600

// retryAfterError tells backoff.Retry to wait as long as the API asked,
// while keeping the Error for the caller.
type retryAfterError struct {
	err *Error
	ra  error
}

func (r *retryAfterError) Error() string   { return r.err.Error() }
func (r *retryAfterError) Unwrap() []error { return []error{r.err, r.ra} }

// parseRetryAfter reads a Retry-After header: delta seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Cap before multiplying, so that a silly value cannot overflow.
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
