package auditapi

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"golang.org/x/time/rate"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultUserAgent        = "vonage_audit_exporter"
	DefaultMaxResponseBytes = 32 << 20
	DefaultMaxPages         = 10000
	DefaultMaxRetryAfter    = 5 * time.Minute
)

// Endpoints as passed to the Observer.
const (
	EndpointList    = "list"
	EndpointGet     = "get"
	EndpointOptions = "options"
)

// maxErrorBodyBytes bounds what is read of an error answer: only its
// message is wanted.
const maxErrorBodyBytes = 64 << 10

// Config configures a Client. Zero values select the defaults.
type Config struct {
	BaseURL           string        // default DefaultBaseURL
	APIKey            string        // HTTP Basic user
	APISecret         string        // HTTP Basic password; never in an error, log line or URL
	Timeout           time.Duration // per attempt; default 30s
	MaxRetries        int           // attempts after the first
	RequestsPerSecond float64       // client-side rate limit, values < 1 allowed; 0 = no limit
	HTTPClient        *http.Client  // optional; redirects are never followed
	Observer          Observer      // optional
	Logger            log.Logger    // optional; debug line per request, never the secret
	UserAgent         string        // default DefaultUserAgent
	MaxResponseBytes  int64         // default 32 MiB; a larger body is an error (reason "decode")
	MaxPages          int           // Pages stops with an error (reason "page_limit") past this many pages; default 10000
	// NewBackOff gives the waits between the attempts of a call; nil is
	// exponential from 500ms to 30s with jitter.
	NewBackOff func() backoff.BackOff
	// MaxRetryAfter cuts a longer Retry-After to it; default 5m. A wait
	// past the context's deadline fails the call at once instead.
	MaxRetryAfter time.Duration
	Now           func() time.Time // for Retry-After dates, durations and receipt times; nil: time.Now
}

// Observer is told about every request, so that the exporter can count them.
type Observer interface {
	// Request is called once per attempt, with an Endpoint* value and the
	// HTTP status as text, or "error" when no response came.
	Request(endpoint, code string, d time.Duration)
	// Retry is called before each retry, with the reason as Reason().
	Retry(endpoint, reason string)
	// RateLimited is called on each 429 and each 401 "Quota Exceeded".
	RateLimited(endpoint string)
}

type nopObserver struct{}

func (nopObserver) Request(string, string, time.Duration) {}
func (nopObserver) Retry(string, string)                  {}
func (nopObserver) RateLimited(string)                    {}

// Client calls the Audit API. It is safe for concurrent use.
type Client struct {
	cfg       Config // with the defaults applied
	base      *url.URL
	authToken string // the Basic credentials as sent, to scrub from messages
	hc        *http.Client
	limiter   *rate.Limiter // nil: no limit
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	fail := func(msg string) (*Client, error) { return nil, errors.New("creating audit API client: " + msg) }
	if cfg.APIKey == "" || cfg.APISecret == "" {
		return fail("API key and secret are required")
	}
	base, err := url.Parse(cmp.Or(cfg.BaseURL, DefaultBaseURL))
	switch {
	case err != nil:
		// url.Parse errors quote the whole URL, which may hold credentials.
		return fail("base URL is not a valid URL")
	case base.Scheme != "http" && base.Scheme != "https", base.Host == "":
		return fail("base URL must be an absolute http or https URL")
	case base.User != nil:
		return fail("base URL must not contain credentials; set the API key and secret instead")
	case base.RawQuery != "" || base.Fragment != "":
		return fail("base URL must not have a query or fragment")
	case cfg.Timeout < 0:
		return fail("timeout must not be negative")
	case cfg.MaxRetries < 0:
		return fail("max retries must not be negative")
	case cfg.RequestsPerSecond < 0:
		return fail("requests per second must not be negative")
	case cfg.MaxResponseBytes < 0:
		return fail("max response bytes must not be negative")
	case cfg.MaxPages < 0:
		return fail("max pages must not be negative")
	case cfg.MaxRetryAfter < 0:
		return fail("max Retry-After wait must not be negative")
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	base.RawPath = strings.TrimSuffix(base.RawPath, "/")
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, DefaultUserAgent)
	cfg.MaxResponseBytes = cmp.Or(cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	cfg.MaxPages = cmp.Or(cfg.MaxPages, DefaultMaxPages)
	cfg.MaxRetryAfter = cmp.Or(cfg.MaxRetryAfter, DefaultMaxRetryAfter)
	cfg.Observer = cmp.Or[Observer](cfg.Observer, nopObserver{})
	cfg.Logger = cmp.Or[log.Logger](cfg.Logger, log.NewNopLogger())
	if cfg.NewBackOff == nil {
		cfg.NewBackOff = defaultBackOff
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Client{cfg: cfg, base: base, authToken: base64.StdEncoding.EncodeToString([]byte(cfg.APIKey + ":" + cfg.APISecret))}
	if cfg.RequestsPerSecond > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), 1)
	}
	// A copy, so that the caller's client keeps its own redirect policy.
	c.hc = &http.Client{}
	if cfg.HTTPClient != nil {
		*c.hc = *cfg.HTTPClient
	}
	// Following a redirect could send the credentials to another host.
	c.hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c, nil
}

// endpointURL builds a URL under the base URL; it never carries userinfo.
func (c *Client) endpointURL(query url.Values, segments ...string) string {
	u := *c.base
	var path, escaped strings.Builder
	path.WriteString(c.base.Path)
	escaped.WriteString(c.base.EscapedPath())
	for _, s := range segments {
		path.WriteString("/" + s)
		escaped.WriteString("/" + url.PathEscape(s))
	}
	u.Path, u.RawPath = path.String(), escaped.String()
	u.RawQuery = query.Encode()
	return u.String()
}

// defaultBackOff waits from 500ms, with jitter, up to 30s.
func defaultBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.MaxInterval = 30 * time.Second
	return b
}

// response is a 2xx answer.
type response struct {
	status int
	body   []byte
	// date is the Date header, zero when missing or unreadable; received
	// the local time the answer came.
	date, received time.Time
}

// call runs attempts with retries until one succeeds, a failure cannot be
// retried, MaxRetries is spent or ctx ends. decode turns a 2xx answer into
// the result; its error is a decoding failure.
func (c *Client) call(ctx context.Context, endpoint, op, method, target string, decode func(*response) error) error {
	var last *Error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		err := c.attempt(ctx, endpoint, op, method, target, decode)
		if e, ok := errors.AsType[*Error](err); ok {
			last = e
		}
		return struct{}{}, err
	},
		backoff.WithBackOff(c.cfg.NewBackOff()),
		backoff.WithMaxTries(uint(c.cfg.MaxRetries)+1),
		backoff.WithMaxElapsedTime(0), // bounded by ctx and MaxRetries instead
		backoff.WithNotify(func(err error, _ time.Duration) { c.cfg.Observer.Retry(endpoint, Reason(err)) }),
	)
	var e *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e):
		return e
	case last != nil:
		// ctx ended between attempts: report the failure being retried.
		return fmt.Errorf("%w; stopped retrying: %w", last, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// attempt sends one request. It returns nil, a retryable error, a
// *retryAfterError or a backoff.Permanent error.
func (c *Client) attempt(ctx context.Context, endpoint, op, method, target string, decode func(*response) error) error {
	fail := func(status int, reason, msg string, err error) *Error {
		e := &Error{Endpoint: endpoint, StatusCode: status, Reason: reason, Message: c.scrub(msg), op: op, err: err}
		if err != nil {
			e.errText = c.scrub(err.Error())
		}
		return e
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return backoff.Permanent(fail(0, ReasonTimeout, "waiting for the client-side rate limit", err))
		}
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, method, target, nil)
	if err != nil {
		return backoff.Permanent(fail(0, ReasonOther, "building the request", err))
	}
	req.SetBasicAuth(c.cfg.APIKey, c.cfg.APISecret)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	start := c.cfg.Now()
	resp, err := c.hc.Do(req)
	received := c.cfg.Now()
	if err != nil {
		c.record(endpoint, method, target, "error", received.Sub(start), err)
		return fail(0, transportReason(err), "", err)
	}
	// date stays zero when the header is missing or unreadable.
	date, _ := http.ParseTime(resp.Header.Get("Date"))
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(maxErrorBodyBytes)
	if ok {
		limit = c.cfg.MaxResponseBytes
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	resp.Body.Close()
	code := strconv.Itoa(resp.StatusCode)
	c.record(endpoint, method, target, code, c.cfg.Now().Sub(start), err)
	if err != nil {
		return fail(resp.StatusCode, transportReason(err), "reading the response", err)
	}

	if ok {
		if int64(len(body)) > c.cfg.MaxResponseBytes {
			// The same answer would come again: no retry.
			return backoff.Permanent(fail(resp.StatusCode, ReasonDecode,
				fmt.Sprintf("response body larger than %d bytes", c.cfg.MaxResponseBytes), nil))
		}
		if err := decode(&response{status: resp.StatusCode, body: body, date: date, received: received}); err != nil {
			// Invalid JSON on a 200 is how a cut connection looks: retry.
			return fail(resp.StatusCode, ReasonDecode, "decoding the response", err)
		}
		return nil
	}

	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		host := "an unknown location"
		if loc, err := resp.Location(); err == nil {
			host = loc.Host
		}
		return backoff.Permanent(fail(resp.StatusCode, ReasonOther,
			fmt.Sprintf("the API redirected to %s; not followed, so credentials were not sent there", host), nil))
	}

	msg := apiMessage(body)
	reason, retry := classifyStatus(resp.StatusCode, msg)
	e := fail(resp.StatusCode, reason, msg, nil)
	if reason == ReasonQuota || reason == ReasonRateLimited {
		c.cfg.Observer.RateLimited(endpoint)
	}
	if !retry {
		return backoff.Permanent(e)
	}
	asked, hasWait := parseRetryAfter(resp.Header.Get("Retry-After"), c.cfg.Now())
	if !hasWait {
		return e
	}
	e.RetryAfter = asked
	wait := min(asked, c.cfg.MaxRetryAfter)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
		// Sleeping into the deadline would only hide why the call failed.
		if e.Reason != ReasonQuota {
			e.Reason = ReasonRateLimited
		}
		e.Message = fmt.Sprintf("%s (the API asked to retry after %s, past the deadline)", e.Message, asked)
		return backoff.Permanent(e)
	}
	return &retryAfterError{err: e, ra: &backoff.RetryAfterError{Duration: wait}}
}

func (c *Client) record(endpoint, method, target, code string, d time.Duration, err error) {
	c.cfg.Observer.Request(endpoint, code, d)
	keyvals := []any{"msg", "Audit API request", "endpoint", endpoint, "method", method, "url", target, "code", code, "duration", d}
	if err != nil {
		keyvals = append(keyvals, "err", c.scrub(err.Error()))
	}
	level.Debug(c.cfg.Logger).Log(keyvals...)
}

// scrub removes the secret from text that came from elsewhere, in case a
// server echoes the request back.
func (c *Client) scrub(s string) string {
	for _, secret := range []string{c.authToken, c.cfg.APISecret} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "<secret>")
		}
	}
	return s
}
