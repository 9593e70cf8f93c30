package config

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"slices"
	"strings"
	"time"
)

// Change is what a reload must do to a running account, from the least to
// the most disruptive.
type Change int

const (
	// Unchanged keeps the account, its client and its poller.
	Unchanged Change = iota
	// RebuildKeepingCounters builds a new client and account that take over
	// the old one's counters, cursor and seen ids: the change alters how the
	// API is read, not what is counted.
	RebuildKeepingCounters
	// RestartCounters starts the account's counters from zero, from lookback
	// before now: the change alters what the counters count (another key,
	// URL or event type filter) or how their series are labelled.
	RestartCounters
)

func (ch Change) String() string {
	switch ch {
	case Unchanged:
		return "unchanged"
	case RebuildKeepingCounters:
		return "rebuild keeping counters"
	case RestartCounters:
		return "restart counters"
	}
	return "unknown change"
}

// AccountSettings are the settings that decide one account's client and
// counting, as comparable values: a reload compares those of the running
// account with the new config's, by Compare. The account's name is not
// among them: it is how the two are paired.
//
// Secrets are kept only as digests keyed by a random key of this process,
// so that even a printed AccountSettings gives nothing to test guesses of
// a secret against.
type AccountSettings struct {
	counting countingSettings
	client   clientSettings
}

// countingSettings change what is counted or how it is labelled.
type countingSettings struct {
	apiKey     string
	apiURL     string
	eventTypes string // sorted, comma-separated: the order does not matter
	userLabel  string
	// userHashSalt is zero unless userLabel is hash: an unused salt changes
	// no label.
	userHashSalt     digest
	countryBreakdown bool
}

// clientSettings change how the API is read, or what is kept beside the
// counters without changing them.
type clientSettings struct {
	apiSecret         digest
	lookback          time.Duration
	overlap           time.Duration
	requestTimeout    time.Duration
	requestsPerSecond float64
	maxRetries        int
	maxUsers          int
	maxConcurrency    int
	exemplars         bool
}

type digest [sha256.Size]byte

var digestKey = func() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // Read never fails: it crashes the program instead.
	return k
}()

func digestOf(s Secret) digest {
	m := hmac.New(sha256.New, digestKey)
	m.Write([]byte(s))
	return digest(m.Sum(nil))
}

// Settings returns the settings of acc, one of c's accounts, for Compare.
func (c *Config) Settings(acc Account) AccountSettings {
	types := slices.Clone(acc.EventTypes)
	slices.Sort(types)
	s := AccountSettings{
		counting: countingSettings{
			apiKey:           acc.APIKey,
			apiURL:           acc.APIURL,
			eventTypes:       strings.Join(types, ","),
			userLabel:        c.UserLabel,
			countryBreakdown: c.CountryBreakdown,
		},
		client: clientSettings{
			apiSecret:         digestOf(acc.APISecret),
			lookback:          c.Lookback,
			overlap:           c.Overlap,
			requestTimeout:    c.RequestTimeout,
			requestsPerSecond: c.RequestsPerSecond,
			maxRetries:        c.MaxRetries,
			maxUsers:          acc.MaxUsers,
			maxConcurrency:    c.MaxConcurrency,
			exemplars:         c.Exemplars,
		},
	}
	if c.UserLabel == UserLabelHash {
		s.counting.userHashSalt = digestOf(c.UserHashSalt)
	}
	return s
}

// Compare tells what a reload from the running account's settings, prev,
// to s must do, and which keys changed, as the config file names them, for
// the log: the keys that restart counters first.
//
// api_key, api_url, event_types, user_label, user_hash_salt (with
// user_label: hash) and country_breakdown restart the counters; api_secret
// (or the content of api_secret_file), lookback, overlap, request_timeout,
// requests_per_second, max_retries, max_users, max_concurrency and
// exemplars rebuild the account keeping them.
func (s AccountSettings) Compare(prev AccountSettings) (Change, []string) {
	var keys []string
	note := func(key string, changed bool) {
		if changed {
			keys = append(keys, key)
		}
	}
	a, b := s.counting, prev.counting
	note("api_key", a.apiKey != b.apiKey)
	note("api_url", a.apiURL != b.apiURL)
	note("event_types", a.eventTypes != b.eventTypes)
	note("user_label", a.userLabel != b.userLabel)
	// A salt that comes or goes with user_label: hash is the label's change.
	note("user_hash_salt", a.userLabel == b.userLabel && a.userHashSalt != b.userHashSalt)
	note("country_breakdown", a.countryBreakdown != b.countryBreakdown)
	x, y := s.client, prev.client
	note("api_secret", x.apiSecret != y.apiSecret)
	note("lookback", x.lookback != y.lookback)
	note("overlap", x.overlap != y.overlap)
	note("request_timeout", x.requestTimeout != y.requestTimeout)
	note("requests_per_second", x.requestsPerSecond != y.requestsPerSecond)
	note("max_retries", x.maxRetries != y.maxRetries)
	note("max_users", x.maxUsers != y.maxUsers)
	note("max_concurrency", x.maxConcurrency != y.maxConcurrency)
	note("exemplars", x.exemplars != y.exemplars)
	switch {
	case a != b:
		return RestartCounters, keys
	case x != y:
		return RebuildKeepingCounters, keys
	}
	return Unchanged, nil
}
