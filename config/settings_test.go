package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSettingsCompare(t *testing.T) {
	base := func() *Config {
		c := Default()
		c.UserLabel, c.UserHashSalt = UserLabelHash, "0123456789abcdef"
		c.Accounts = []Account{{Name: "a", APIKey: "k", APISecret: "s3cr3t", APIURL: c.APIURL,
			EventTypes: []string{"USER_LOGIN", "APP_DELETE"}, MaxUsers: c.MaxUsers}}
		return &c
	}
	tests := []struct {
		name     string
		change   func(c *Config)
		want     Change
		wantKeys []string
	}{
		{"nothing", func(*Config) {}, Unchanged, nil},
		{"event types reordered", func(c *Config) { c.Accounts[0].EventTypes = []string{"APP_DELETE", "USER_LOGIN"} }, Unchanged, nil},
		{"name", func(c *Config) { c.Accounts[0].Name = "b" }, Unchanged, nil},
		{"secret read from a file", func(c *Config) { c.Accounts[0].APISecretFile = "/run/secret" }, Unchanged, nil},
		{"mode and poll_interval", func(c *Config) { c.Mode, c.PollInterval = ModeScrape, time.Hour }, Unchanged, nil},

		{"api_secret", func(c *Config) { c.Accounts[0].APISecret = "other" }, RebuildKeepingCounters, []string{"api_secret"}},
		{"lookback", func(c *Config) { c.Lookback = time.Hour }, RebuildKeepingCounters, []string{"lookback"}},
		{"overlap", func(c *Config) { c.Overlap = time.Hour }, RebuildKeepingCounters, []string{"overlap"}},
		{"request_timeout", func(c *Config) { c.RequestTimeout = time.Minute }, RebuildKeepingCounters, []string{"request_timeout"}},
		{"requests_per_second", func(c *Config) { c.RequestsPerSecond = 0.5 }, RebuildKeepingCounters, []string{"requests_per_second"}},
		{"max_retries", func(c *Config) { c.MaxRetries = 0 }, RebuildKeepingCounters, []string{"max_retries"}},
		{"max_users", func(c *Config) { c.Accounts[0].MaxUsers = 7 }, RebuildKeepingCounters, []string{"max_users"}},
		{"max_concurrency", func(c *Config) { c.MaxConcurrency = 1 }, RebuildKeepingCounters, []string{"max_concurrency"}},
		{"exemplars", func(c *Config) { c.Exemplars = false }, RebuildKeepingCounters, []string{"exemplars"}},

		{"api_key", func(c *Config) { c.Accounts[0].APIKey = "k2" }, RestartCounters, []string{"api_key"}},
		{"api_url", func(c *Config) { c.Accounts[0].APIURL = "https://example.com/audit" }, RestartCounters, []string{"api_url"}},
		{"event_types", func(c *Config) { c.Accounts[0].EventTypes = nil }, RestartCounters, []string{"event_types"}},
		{"user_label", func(c *Config) { c.UserLabel = UserLabelEmail }, RestartCounters, []string{"user_label"}},
		{"user_hash_salt", func(c *Config) { c.UserHashSalt = "fedcba9876543210" }, RestartCounters, []string{"user_hash_salt"}},
		{"country_breakdown", func(c *Config) { c.CountryBreakdown = false }, RestartCounters, []string{"country_breakdown"}},
		{"restart wins over rebuild", func(c *Config) { c.Accounts[0].APIKey, c.Lookback = "k2", time.Hour }, RestartCounters, []string{"api_key", "lookback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, next := base(), base()
			tt.change(next)
			got, keys := next.Settings(next.Accounts[0]).Compare(prev.Settings(prev.Accounts[0]))
			if got != tt.want || !slices.Equal(keys, tt.wantKeys) {
				t.Errorf("got %s %q, want %s %q", got, keys, tt.want, tt.wantKeys)
			}
		})
	}
}

// An unused salt changes no label: without user_label: hash it is ignored.
func TestSettingsUnusedSalt(t *testing.T) {
	prev, next := Default(), Default()
	next.UserHashSalt = "0123456789abcdef"
	acc := Account{Name: "a", APIKey: "k", APISecret: "s"}
	if got, keys := next.Settings(acc).Compare(prev.Settings(acc)); got != Unchanged {
		t.Errorf("got %s %q, want unchanged", got, keys)
	}
}

// Every setting has its key in Compare: a field added to the settings
// without one would decide a reload that the log could not explain.
func TestSettingsEveryKeyNamed(t *testing.T) {
	prev := Default()
	next := prev
	next.Lookback, next.Overlap, next.RequestTimeout = time.Hour, time.Hour, time.Hour
	next.RequestsPerSecond, next.MaxRetries, next.MaxConcurrency = 9, 9, 9
	next.CountryBreakdown, next.Exemplars = !prev.CountryBreakdown, !prev.Exemplars
	prev.UserLabel, prev.UserHashSalt = UserLabelHash, "one"
	next.UserLabel, next.UserHashSalt = UserLabelHash, "two"
	// user_label itself is checked in TestSettingsCompare: changing it with
	// the salt names only user_label.
	a := Account{APIKey: "k1", APISecret: "s1", APIURL: "https://a.example.com", MaxUsers: 1}
	b := Account{APIKey: "k2", APISecret: "s2", APIURL: "https://b.example.com", EventTypes: []string{"X"}, MaxUsers: 2}
	_, keys := next.Settings(b).Compare(prev.Settings(a))
	fields := reflect.TypeFor[countingSettings]().NumField() + reflect.TypeFor[clientSettings]().NumField()
	if len(keys)+1 != fields {
		t.Errorf("Compare names %d keys %q, want one per setting: %d, user_label aside", len(keys), keys, fields-1)
	}
}

// A printed AccountSettings shows neither the secrets nor their plain digests.
func TestSettingsHideSecrets(t *testing.T) {
	const secret, salt = "hunter2-very-secret", "salt-very-secret-too"
	c := Default()
	c.UserLabel, c.UserHashSalt = UserLabelHash, salt
	s := c.Settings(Account{Name: "a", APIKey: "k", APISecret: secret})
	for _, v := range []string{secret, salt} {
		sum := sha256.Sum256([]byte(v))
		for _, verb := range []string{"%v", "%+v", "%#v", "%x"} {
			out := fmt.Sprintf(verb, s)
			for _, shown := range []string{v, hex.EncodeToString(sum[:]), hex.EncodeToString([]byte(v)), fmt.Sprint(sum)} {
				if strings.Contains(out, shown) {
					t.Errorf("%s shows a secret or its digest: %s", verb, out)
				}
			}
		}
	}
}
