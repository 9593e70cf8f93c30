package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// minSaltLength is the shortest user_hash_salt accepted without a warning.
const minSaltLength = 16

var eventTypeRe = regexp.MustCompile(`^[A-Z0-9_]+$`)

// validate checks everything a Config itself can tell; which secret keys
// were written is checked while decoding.
func validate(c *Config, loc locator) []error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, loc.errorf(path, format, args...))
	}
	if err := checkURL(c.APIURL); err != nil {
		add("api_url", "api_url: %v", err)
	}
	if c.Mode != ModeInterval && c.Mode != ModeScrape {
		add("mode", "mode: %q is not valid: use %s or %s", c.Mode, ModeInterval, ModeScrape)
	}
	if c.PollInterval <= 0 {
		add("poll_interval", "poll_interval must be greater than 0")
	}
	if c.Lookback > MaxLookback {
		add("lookback", "lookback must be at most %dd, not %s", MaxLookback/(24*time.Hour), model.Duration(c.Lookback))
	}
	if c.RequestTimeout <= 0 {
		add("request_timeout", "request_timeout must be greater than 0")
	}
	switch c.UserLabel {
	case UserLabelEmail, UserLabelID, UserLabelNone:
	case UserLabelHash:
		if c.UserHashSalt == "" {
			add("user_label", "user_label: %s needs user_hash_salt: a random string of 16 characters or more, kept secret, so that the hashes cannot be matched to emails", UserLabelHash)
		}
	default:
		add("user_label", "user_label: %q is not valid: use %s, %s, %s or %s", c.UserLabel, UserLabelEmail, UserLabelID, UserLabelHash, UserLabelNone)
	}
	if err := checkMaxUsers(c.MaxUsers); err != nil {
		add("max_users", "max_users %v", err)
	}
	if !(c.RequestsPerSecond > 0) || math.IsInf(c.RequestsPerSecond, 0) {
		add("requests_per_second", "requests_per_second must be a number greater than 0 (0.5 means one request every 2s)")
	}
	if c.MaxRetries < 0 || c.MaxRetries > MaxRetriesLimit {
		add("max_retries", "max_retries must be between 0 and %d, not %d", MaxRetriesLimit, c.MaxRetries)
	}
	if c.MaxConcurrency < 1 || c.MaxConcurrency > MaxConcurrencyLimit {
		add("max_concurrency", "max_concurrency must be between 1 and %d, not %d", MaxConcurrencyLimit, c.MaxConcurrency)
	}
	if c.StateFile != "" && strings.ContainsAny(c.StateFile[len(c.StateFile)-1:], `/\`) {
		add("state_file", "state_file must name a file, not a folder: add a file name such as vonage_audit_state.json")
	}
	if len(c.Accounts) == 0 {
		add("accounts", "no accounts configured: add at least one under accounts, with name, api_key and api_secret or api_secret_file")
	}

	seen := map[string]int{}
	for i, a := range c.Accounts {
		name := accountName(i, a.Name)
		if err := checkName(a.Name); err != nil {
			add(accountKey(i, "name"), "%s: name %v", name, err)
		} else if j, dup := seen[a.Name]; dup {
			add(accountKey(i, "name"), "%s: name already used by the account at %s", name, loc.at(accountKey(j, "name")))
		} else {
			seen[a.Name] = i
		}
		if a.APIKey == "" {
			add(accountKey(i, ""), "%s: api_key is required", name)
		} else if strings.ContainsFunc(a.APIKey, func(r rune) bool { return r == ':' || unicode.IsSpace(r) || unicode.IsControl(r) }) {
			add(accountKey(i, "api_key"), "%s: api_key must not contain ':', spaces or control characters", name)
		}
		if a.MaxUsers != c.MaxUsers {
			if err := checkMaxUsers(a.MaxUsers); err != nil {
				add(accountKey(i, "max_users"), "%s: max_users %v", name, err)
			}
		}
		// An account that inherits the global api_url was checked above.
		if a.APIURL != c.APIURL {
			if err := checkURL(a.APIURL); err != nil {
				add(accountKey(i, "api_url"), "%s: api_url: %v", name, err)
			}
		}
		types := map[string]bool{}
		for _, t := range a.EventTypes {
			switch {
			case !eventTypeRe.MatchString(t):
				add(accountKey(i, "event_types"), "%s: event_types: %q is not an event type: use upper-case names such as USER_LOGIN", name, t)
			case types[t]:
				add(accountKey(i, "event_types"), "%s: event_types: %s is listed twice", name, t)
			}
			types[t] = true
		}
	}
	return errs
}

func checkMaxUsers(n int) error {
	if n < 1 || n > MaxUsersLimit {
		return fmt.Errorf("must be between 1 and %d, not %d", MaxUsersLimit, n)
	}
	return nil
}

// checkName keeps account names usable as label values that read well in
// dashboards and alerts.
func checkName(name string) error {
	switch {
	case name == "":
		return errors.New("is required")
	case !utf8.ValidString(name):
		return errors.New("is not valid UTF-8")
	case strings.ContainsFunc(name, unicode.IsControl):
		return errors.New("must not contain control characters")
	case strings.TrimSpace(name) != name:
		return errors.New("must not start or end with spaces")
	}
	return nil
}

// checkURL never echoes the URL or the parser's error about it: either may
// hold credentials.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			return fmt.Errorf("not a valid URL: %w", ue.Err)
		}
		return errors.New("not a valid URL")
	}
	switch {
	case u.User != nil:
		return errors.New("must not contain credentials: use api_key and api_secret")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("must be an absolute http or https URL such as %s", auditapi.DefaultBaseURL)
	case u.Opaque != "" || u.Host == "":
		return errors.New("has no host")
	case u.RawQuery != "" || u.ForceQuery:
		return errors.New("must not have a query string")
	case u.Fragment != "":
		return errors.New("must not have a fragment")
	}
	return nil
}

// Warnings lists settings that are valid but probably not what was meant.
func (c *Config) Warnings() []string {
	var w []string
	for _, a := range c.Accounts {
		u, err := url.Parse(a.APIURL)
		if err != nil || isLoopback(u.Hostname()) {
			continue
		}
		if c.PollInterval < 10*time.Second {
			w = append(w, fmt.Sprintf("account %q: poll_interval %s is below 10s and %s is not a loopback host: polling the real API that often may exhaust its quota",
				a.Name, c.PollInterval, u.Hostname()))
		}
		if u.Scheme == "http" {
			w = append(w, fmt.Sprintf("account %q: api_url uses plain http to %s: the API secret is sent unencrypted", a.Name, u.Hostname()))
		}
	}
	switch {
	case c.UserLabel == UserLabelHash && len(c.UserHashSalt) < minSaltLength:
		w = append(w, fmt.Sprintf("user_hash_salt is shorter than %d characters: hashes of known emails are easy to match", minSaltLength))
	case c.UserLabel != UserLabelHash && c.UserHashSalt != "":
		w = append(w, "user_hash_salt is set but user_label is not hash: the salt is not used")
	}
	if c.Overlap == 0 {
		w = append(w, "overlap is 0s: events that reach the audit log after a poll has read past their time will never be counted")
	}
	return w
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Redacted renders the effective configuration as YAML, every secret shown
// as <secret>, for --config.check and the /config page.
func (c *Config) Redacted() string {
	var b strings.Builder
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(toRaw(c)); err != nil {
		return fmt.Sprintf("# rendering the config failed: %v\n", err)
	}
	return b.String()
}
