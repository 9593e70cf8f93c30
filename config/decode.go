package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// rawConfig is the file's shape. It is decoded strictly, and encoded again
// by Redacted, so the YAML keys live here and nowhere else.
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
	RequestsPerSecond float64      `yaml:"requests_per_second"`
	MaxRetries        integer      `yaml:"max_retries"`
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

// duration is a time.Duration written the Prometheus way (30s, 2m, 1h30m, 7d).
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeError(n.Line, "expected a duration such as 30s or 2m, got %s", describe(n))
	}
	v, err := model.ParseDuration(n.Value)
	if err != nil {
		return typeError(n.Line, "invalid duration %q: use a number with a unit, such as 30s, 2m, 1h30m or 7d", n.Value)
	}
	*d = duration(v)
	return nil
}

func (d duration) MarshalYAML() (any, error) { return model.Duration(d).String(), nil }

// integer refuses a fraction, which yaml.v3 would truncate into an int.
type integer int

func (i *integer) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return typeError(n.Line, "expected an integer, got %s", describe(n))
	}
	var v int
	if err := n.Decode(&v); err != nil {
		return typeError(n.Line, "expected an integer that fits in an int")
	}
	*i = integer(v)
	return nil
}

// typeError lets yaml.v3 collect the error with its own, so that one run
// reports every bad value instead of stopping at the first.
func typeError(line int, format string, args ...any) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: ", line) + fmt.Sprintf(format, args...)}}
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
		RequestsPerSecond: c.RequestsPerSecond,
		MaxRetries:        integer(c.MaxRetries),
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
		RequestsPerSecond: r.RequestsPerSecond,
		MaxRetries:        int(r.MaxRetries),
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

// locator turns a key path ("mode", "accounts[1].api_url") into "file:line".
type locator struct {
	source string
	lines  map[string]int
	// keys maps a line back to the key written on it, to name the key in
	// yaml.v3's errors, which only carry a line.
	keys map[int]string
}

// at falls back from an account's missing key to the account itself.
func (l locator) at(path string) string {
	n, ok := l.lines[path]
	if !ok {
		if account, _, found := strings.Cut(path, "."); found {
			n, ok = l.lines[account]
		}
	}
	if ok {
		return l.source + ":" + strconv.Itoa(n)
	}
	return l.source
}

func (l locator) errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{l.at(path)}, args...)...)
}

func accountKey(i int, key string) string {
	if key == "" {
		return fmt.Sprintf("accounts[%d]", i)
	}
	return fmt.Sprintf("accounts[%d].%s", i, key)
}

func accountName(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("account #%d", i+1)
	}
	return fmt.Sprintf("account %q", name)
}

func decode(data []byte, source string) (*rawConfig, locator, error) {
	loc := locator{source: source, lines: map[string]int{}, keys: map[int]string{}}
	raw := toRaw(func() *Config { c := Default(); return &c }())

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return &raw, loc, nil
	case err != nil:
		return nil, loc, loc.yamlError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, loc, loc.yamlError(err)
	default:
		return nil, loc, fmt.Errorf("%s:%d: found a second YAML document: a config file holds exactly one", source, next.Line)
	}

	errs := loc.index(&doc)
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&raw); err != nil {
		errs = append(errs, loc.yamlError(err))
	}
	if len(errs) > 0 {
		return nil, loc, errors.Join(errs...)
	}
	return &raw, loc, nil
}

// index records the line of every key and refuses keys without a value:
// yaml.v3 would decode them as zero, silently replacing the default.
func (l locator) index(doc *yaml.Node) []error {
	if len(doc.Content) == 0 {
		return nil
	}
	var errs []error
	visit := func(prefix string, m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			path := prefix + k.Value
			l.lines[path] = k.Line
			if _, ok := l.keys[k.Line]; !ok {
				l.keys[k.Line] = k.Value
			}
			if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
				errs = append(errs, fmt.Errorf("%s:%d: %s has no value: give one, or remove the key to use the default", l.source, k.Line, k.Value))
			}
		}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil
	}
	visit("", root)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "accounts" || root.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for j, item := range root.Content[i+1].Content {
			l.lines[accountKey(j, "")] = item.Line
			if item.Kind == yaml.MappingNode {
				visit(accountKey(j, "")+".", item)
			}
		}
	}
	return errs
}

var (
	yamlLineRe   = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	unknownKeyRe = regexp.MustCompile(`^field (.+) not found in type \S+$`)
	// The value between the tag and "into" is dropped: it may be a secret
	// written under the wrong key.
	duplicateRe = regexp.MustCompile(`^mapping key (".*") already defined at line (\d+)$`)
	mismatchRe  = regexp.MustCompile(`^cannot unmarshal (!!\w+)(?: .*)? into (\S+)$`)
)

// yamlError rewrites yaml.v3's errors as "file:line: message".
func (l locator) yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
			return fmt.Errorf("%s:%s: invalid YAML: %s", l.source, m[1], m[2])
		}
		return fmt.Errorf("%s: parsing YAML: %w", l.source, err)
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		m := yamlLineRe.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", l.source, msg))
			continue
		}
		line, text := m[1], m[2]
		n, _ := strconv.Atoi(line)
		switch u, v, d := unknownKeyRe.FindStringSubmatch(text), mismatchRe.FindStringSubmatch(text), duplicateRe.FindStringSubmatch(text); {
		case u != nil:
			text = fmt.Sprintf("unknown key %q", u[1])
		case d != nil:
			text = fmt.Sprintf("key %s is set twice, first at line %s", d[1], d[2])
		case v != nil:
			text = fmt.Sprintf("expected %s, got %s", goTypeName(v[2]), tagName(v[1]))
			fallthrough
		default:
			if key := l.keys[n]; key != "" {
				text = key + ": " + text
			}
		}
		errs = append(errs, fmt.Errorf("%s:%s: %s", l.source, line, text))
	}
	return errors.Join(errs...)
}

func goTypeName(t string) string {
	switch {
	case t == "float64":
		return "a number"
	case t == "int":
		return "an integer"
	case t == "bool":
		return "true or false"
	case t == "string", strings.HasSuffix(t, ".Secret"):
		return "a string"
	case t == "[]string":
		return "a list of strings"
	case strings.HasSuffix(t, "[]config.rawAccount"):
		return "a list of accounts"
	case strings.HasSuffix(t, "config.rawAccount"):
		return "an account (a mapping of keys such as name and api_key)"
	case strings.HasSuffix(t, "config.rawConfig"):
		return "a mapping of settings"
	default:
		return t
	}
}

func tagName(tag string) string {
	switch tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	default:
		return tag
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	default:
		return tagName(n.ShortTag())
	}
}
