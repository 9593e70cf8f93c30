// Package config loads, decodes strictly, defaults and validates the
// configuration of vonage_audit_exporter: a YAML file with one or more Vonage
// accounts, or, when there is no file, one account taken from the environment.
//
// Every error names the file, the key and the line where it can, and never
// contains an API secret.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// Values of mode: when the Audit API is polled. This is their one home; the
// exporter and the command-line tool use these names.
const (
	// ModeInterval polls the Audit API in the background, every poll_interval.
	ModeInterval = "interval"
	// ModeScrape polls during each scrape, at most once per poll_interval.
	ModeScrape = "scrape"
)

// Values of user_label: what the user label of vonage_audit_user_events_total
// holds. This is their one home; the counting side uses these names.
const (
	// UserLabelEmail exports the user's email, else the user id.
	UserLabelEmail = "email"
	// UserLabelID exports the user id, else the email.
	UserLabelID = "id"
	// UserLabelHash exports a salted hash of the email (else the id), for
	// teams that may not store personal data in Prometheus.
	UserLabelHash = "hash"
	// UserLabelNone exports no user label: vonage_audit_user_events_total is
	// not exported.
	UserLabelNone = "none"
)

// DefaultMaxUsers is the default of max_users: how many users an account
// counts apart before counting the others together as "__other__".
const DefaultMaxUsers = 500

// MaxUsersLimit is the largest accepted max_users: each user costs a series
// per event type and source.
const MaxUsersLimit = 100000

// MaxLookback is the longest accepted lookback. Lookback is read once, on
// first start, page by page at requests_per_second: a year covers
// year-over-year dashboards, while a longer backfill of a busy account
// delays the first counts by hours, reaches back further than the Audit API
// documents keeping events, and is far more often a typo (100000d for 100d).
const MaxLookback = 365 * 24 * time.Hour

// MaxRetriesLimit is the largest accepted max_retries: with exponential
// backoff, more retries than this only hide an outage behind a stuck poll.
const MaxRetriesLimit = 10

// MaxConcurrencyLimit is the largest accepted max_concurrency: more pages at
// once than this only moves the wait into the rate limiter.
const MaxConcurrencyLimit = 32

// Config is the validated configuration of the exporter.
type Config struct {
	APIURL         string
	Mode           string
	PollInterval   time.Duration
	Lookback       time.Duration
	Overlap        time.Duration
	RequestTimeout time.Duration
	UserLabel      string
	// UserHashSalt keys the hash of user_label: hash.
	UserHashSalt Secret
	// MaxUsers is the default of the accounts' MaxUsers.
	MaxUsers         int
	CountryBreakdown bool
	// Exemplars puts on each series of the event and user counters the id
	// of the newest event it counted, for OpenMetrics scrapes.
	Exemplars         bool
	RequestsPerSecond float64
	MaxRetries        int
	MaxConcurrency    int
	// StateFile is where counters and cursors are saved across restarts;
	// empty: nowhere. Load makes a relative path relative to the config
	// file's folder.
	StateFile string
	Accounts  []Account
	// Shard is the part of Accounts this exporter polls and exports. It
	// comes from the command line, not the file; the zero value owns every
	// account.
	Shard Shard
}

// Account is one Vonage account to read audit events from.
type Account struct {
	// Name is the value of the account label.
	Name   string
	APIKey string
	// APISecret is resolved: from api_secret, or read from api_secret_file by
	// Load (trailing newline trimmed). Parse leaves it empty for an account
	// that uses api_secret_file.
	APISecret Secret
	// APISecretFile is the path as written; Load makes a relative path
	// relative to the config file's folder.
	APISecretFile string
	// APIURL is resolved: the account's own api_url or the global one,
	// without a trailing slash.
	APIURL     string
	EventTypes []string
	// MaxUsers is resolved: the account's own max_users or the global one.
	MaxUsers int
}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		APIURL:            auditapi.DefaultBaseURL,
		Mode:              ModeInterval,
		PollInterval:      60 * time.Second,
		Lookback:          0,
		Overlap:           2 * time.Minute,
		RequestTimeout:    30 * time.Second,
		UserLabel:         UserLabelEmail,
		MaxUsers:          DefaultMaxUsers,
		CountryBreakdown:  true,
		Exemplars:         true,
		RequestsPerSecond: 2,
		MaxRetries:        4,
		MaxConcurrency:    4,
	}
}

// Load reads the config file at path, parses it and reads the accounts'
// api_secret_file, relative to the config file's folder unless absolute.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	c, loc, err := parse(data, path)
	if err != nil {
		return nil, err
	}
	if err := c.readSecretFiles(filepath.Dir(path), loc); err != nil {
		return nil, err
	}
	if err := c.resolveStateFile(filepath.Dir(path), loc); err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes and validates a config file's content. source names the
// file in error messages. Parse does not read api_secret_file: Load does.
func Parse(data []byte, source string) (*Config, error) {
	c, _, err := parse(data, source)
	return c, err
}

func parse(data []byte, source string) (*Config, locator, error) {
	raw, loc, err := decode(data, source)
	if err != nil {
		return nil, loc, err
	}
	c, errs := raw.config(loc)
	errs = append(errs, validate(c, loc)...)
	if len(errs) > 0 {
		return nil, loc, errors.Join(errs...)
	}
	return c, loc, nil
}

func (c *Config) readSecretFiles(dir string, loc locator) error {
	var errs []error
	for i := range c.Accounts {
		a := &c.Accounts[i]
		if a.APISecretFile == "" {
			continue
		}
		if !filepath.IsAbs(a.APISecretFile) {
			a.APISecretFile = filepath.Join(dir, a.APISecretFile)
		}
		at := loc.at(accountKey(i, "api_secret_file"))
		b, err := os.ReadFile(a.APISecretFile)
		if err != nil {
			// The *PathError names the path and the failure, never the content.
			errs = append(errs, fmt.Errorf("%s: account %q: reading api_secret_file: %w", at, a.Name, err))
			continue
		}
		secret := strings.TrimRight(string(b), "\r\n")
		if secret == "" {
			errs = append(errs, fmt.Errorf("%s: account %q: api_secret_file %q is empty", at, a.Name, a.APISecretFile))
			continue
		}
		a.APISecret = Secret(secret)
	}
	return errors.Join(errs...)
}

// resolveStateFile checks that the state file's folder exists, so that a
// typo shows at start rather than as failed saves.
func (c *Config) resolveStateFile(dir string, loc locator) error {
	if c.StateFile == "" {
		return nil
	}
	if !filepath.IsAbs(c.StateFile) {
		c.StateFile = filepath.Join(dir, c.StateFile)
	}
	folder := filepath.Dir(c.StateFile)
	fi, err := os.Stat(folder)
	switch {
	case err != nil:
		return loc.errorf("state_file", "state_file: checking its folder: %w", err)
	case !fi.IsDir():
		return loc.errorf("state_file", "state_file: %s is not a folder", folder)
	}
	return nil
}

// ErrNoCredentials is returned by FromEnv when the environment holds no credentials.
var ErrNoCredentials = errors.New("no vonage credentials: set VONAGE_API_KEY and VONAGE_API_SECRET " +
	"(or NEXMO_API_KEY and NEXMO_API_SECRET), or pass --config.file with one or more accounts; " +
	"--demo runs without an account")

// FromEnv builds the configuration used when there is no config file: the
// defaults plus one account named "default" whose credentials come from
// VONAGE_API_KEY and VONAGE_API_SECRET, else NEXMO_API_KEY and NEXMO_API_SECRET.
func FromEnv(getenv func(string) string) (*Config, error) {
	for _, pair := range [][2]string{
		{"VONAGE_API_KEY", "VONAGE_API_SECRET"},
		{"NEXMO_API_KEY", "NEXMO_API_SECRET"},
	} {
		keyVar, secretVar := pair[0], pair[1]
		key, secret := strings.TrimSpace(getenv(keyVar)), strings.TrimSpace(getenv(secretVar))
		switch {
		case key == "" && secret == "":
			continue
		case key == "":
			return nil, fmt.Errorf("reading credentials from the environment: %s is set but %s is not", secretVar, keyVar)
		case secret == "":
			return nil, fmt.Errorf("reading credentials from the environment: %s is set but %s is not", keyVar, secretVar)
		}
		c := Default()
		c.Accounts = []Account{{Name: "default", APIKey: key, APISecret: Secret(secret), APIURL: c.APIURL, MaxUsers: c.MaxUsers}}
		if errs := validate(&c, locator{source: "environment"}); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		return &c, nil
	}
	return nil, ErrNoCredentials
}
