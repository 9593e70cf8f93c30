package config

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// rawConfig is the file's shape. The decoder finds each key by these tags,
// and Redacted encodes it again, so the YAML keys live here and nowhere else.
type rawConfig struct {
	APIURL            string       `yaml:"api_url"`
	Mode              string       `yaml:"mode"`
	PollInterval      duration     `yaml:"poll_interval"`
	Lookback          duration     `yaml:"lookback"`
	Overlap           duration     `yaml:"overlap"`
	RequestTimeout    duration     `yaml:"request_timeout"`
	UserLabel         string       `yaml:"user_label"`
	UserHashSalt      Secret       `yaml:"user_hash_salt,omitempty"`
	MaxUsers          integer      `yaml:"max_users"`
	CountryBreakdown  bool         `yaml:"country_breakdown"`
	Exemplars         bool         `yaml:"exemplars"`
	RequestsPerSecond float64      `yaml:"requests_per_second"`
	MaxRetries        integer      `yaml:"max_retries"`
	MaxConcurrency    integer      `yaml:"max_concurrency"`
	StateFile         string       `yaml:"state_file,omitempty"`
	Accounts          []rawAccount `yaml:"accounts"`
}

type rawAccount struct {
	Name   string `yaml:"name"`
	APIKey string `yaml:"api_key"`
	// Pointers tell a key that is absent from one set to "".
	APISecret     *Secret  `yaml:"api_secret,omitempty"`
	APISecretFile *string  `yaml:"api_secret_file,omitempty"`
	APIURL        string   `yaml:"api_url,omitempty"`
	EventTypes    []string `yaml:"event_types,omitempty"`
	MaxUsers      *integer `yaml:"max_users,omitempty"`
}

// nodeDecoder is a field type that checks its own syntax. Its error names
// neither the file, the line nor the key: the decoder adds them.
type nodeDecoder interface {
	decodeNode(n *yaml.Node) error
}

// duration is a time.Duration written the Prometheus way (30s, 2m, 1h30m, 7d).
type duration time.Duration

func (d *duration) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected a duration such as 30s or 2m, got %s", describe(n))
	}
	v, err := model.ParseDuration(n.Value)
	switch {
	case err == nil:
		*d = duration(v)
		return nil
	case tooLong(n.Value):
		return fmt.Errorf("invalid duration %q: longer than any duration can be (about 292y)", n.Value)
	case strings.HasPrefix(n.Value, "-") && wellFormed(n.Value[1:]):
		return fmt.Errorf("invalid duration %q: it must not be negative", n.Value)
	}
	return fmt.Errorf("invalid duration %q: use a number with a unit, such as 30s, 2m, 1h30m or 7d", n.Value)
}

func (d duration) MarshalYAML() (any, error) { return model.Duration(d).String(), nil }

var digitsRe = regexp.MustCompile(`[0-9]+`)

// tooLong tells a duration that is well written but does not fit in a
// time.Duration: the same units with small numbers would parse.
func tooLong(s string) bool {
	if _, err := model.ParseDuration(s); err == nil {
		return false
	}
	_, err := model.ParseDuration(digitsRe.ReplaceAllString(s, "1"))
	return err == nil
}

func wellFormed(s string) bool {
	_, err := model.ParseDuration(s)
	return err == nil || tooLong(s)
}

// integer refuses a fraction, which yaml.v3 would truncate into an int.
type integer int

func (i *integer) decodeNode(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("expected an integer, got %s", describe(n))
	}
	if outOfRange(n.Value) {
		return errors.New("expected an integer, got one out of range")
	}
	switch n.ShortTag() {
	case "!!int":
		var v int
		if err := n.Decode(&v); err != nil {
			return errors.New("expected an integer, got one out of range")
		}
		*i = integer(v)
		return nil
	case "!!float":
		return errors.New("expected an integer, got a number: write a whole number in digits, such as 500")
	}
	return fmt.Errorf("expected an integer, got %s", describe(n))
}

// outOfRange tells a number too large for an int64 or a float64. yaml.v3
// resolves such a number to a float (a large integer) or a string (1e400),
// so its tag would give a misleading error.
func outOfRange(s string) bool {
	s = strings.ReplaceAll(s, "_", "")
	_, errInt := strconv.ParseInt(s, 0, 64)
	_, errFloat := strconv.ParseFloat(s, 64)
	return errors.Is(errInt, strconv.ErrRange) || errors.Is(errFloat, strconv.ErrRange)
}

func toRaw(c *Config) rawConfig {
	r := rawConfig{
		APIURL:            c.APIURL,
		Mode:              c.Mode,
		PollInterval:      duration(c.PollInterval),
		Lookback:          duration(c.Lookback),
		Overlap:           duration(c.Overlap),
		RequestTimeout:    duration(c.RequestTimeout),
		UserLabel:         c.UserLabel,
		UserHashSalt:      c.UserHashSalt,
		MaxUsers:          integer(c.MaxUsers),
		CountryBreakdown:  c.CountryBreakdown,
		Exemplars:         c.Exemplars,
		RequestsPerSecond: c.RequestsPerSecond,
		MaxRetries:        integer(c.MaxRetries),
		MaxConcurrency:    integer(c.MaxConcurrency),
		StateFile:         c.StateFile,
	}
	for _, a := range c.Accounts {
		ra := rawAccount{Name: a.Name, APIKey: a.APIKey, APIURL: a.APIURL, EventTypes: a.EventTypes}
		if a.MaxUsers != c.MaxUsers {
			n := integer(a.MaxUsers)
			ra.MaxUsers = &n
		}
		if a.APISecretFile != "" {
			ra.APISecretFile = &a.APISecretFile
		} else {
			ra.APISecret = &a.APISecret
		}
		r.Accounts = append(r.Accounts, ra)
	}
	return r
}

// config turns the decoded file into a Config, checking what only the raw
// form can tell: which of api_secret and api_secret_file were given.
func (r *rawConfig) config(loc locator) (*Config, []error) {
	c := &Config{
		APIURL:            strings.TrimRight(r.APIURL, "/"),
		Mode:              r.Mode,
		PollInterval:      time.Duration(r.PollInterval),
		Lookback:          time.Duration(r.Lookback),
		Overlap:           time.Duration(r.Overlap),
		RequestTimeout:    time.Duration(r.RequestTimeout),
		UserLabel:         r.UserLabel,
		UserHashSalt:      r.UserHashSalt,
		MaxUsers:          int(r.MaxUsers),
		CountryBreakdown:  r.CountryBreakdown,
		Exemplars:         r.Exemplars,
		RequestsPerSecond: r.RequestsPerSecond,
		MaxRetries:        int(r.MaxRetries),
		MaxConcurrency:    int(r.MaxConcurrency),
		StateFile:         r.StateFile,
	}
	var errs []error
	for i, ra := range r.Accounts {
		a := Account{
			Name:       ra.Name,
			APIKey:     ra.APIKey,
			APIURL:     strings.TrimRight(ra.APIURL, "/"),
			EventTypes: ra.EventTypes,
			MaxUsers:   c.MaxUsers,
		}
		if a.APIURL == "" {
			a.APIURL = c.APIURL
		}
		if ra.MaxUsers != nil {
			a.MaxUsers = int(*ra.MaxUsers)
		}
		switch {
		case ra.APISecret != nil && ra.APISecretFile != nil:
			errs = append(errs, loc.errorf(accountKey(i, "api_secret_file"), "%s: set api_secret or api_secret_file, not both", accountName(i, a.Name)))
		case ra.APISecret != nil:
			if *ra.APISecret == "" {
				errs = append(errs, loc.errorf(accountKey(i, "api_secret"), "%s: api_secret is empty", accountName(i, a.Name)))
			}
			a.APISecret = *ra.APISecret
		case ra.APISecretFile != nil:
			if *ra.APISecretFile == "" {
				errs = append(errs, loc.errorf(accountKey(i, "api_secret_file"), "%s: api_secret_file is empty", accountName(i, a.Name)))
			}
			a.APISecretFile = *ra.APISecretFile
		default:
			errs = append(errs, loc.errorf(accountKey(i, ""), "%s: api_secret or api_secret_file is required", accountName(i, a.Name)))
		}
		c.Accounts = append(c.Accounts, a)
	}
	return c, errs
}
