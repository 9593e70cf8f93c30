package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// oneAccount is the smallest valid accounts section.
const oneAccount = `
accounts:
  - name: production
    api_key: abcd1234
    api_secret: s3cr3t
`

func TestParseDefaults(t *testing.T) {
	got, err := Parse([]byte(oneAccount), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Accounts = []Account{{Name: "production", APIKey: "abcd1234", APISecret: "s3cr3t", APIURL: auditapi.DefaultBaseURL, MaxUsers: DefaultMaxUsers}}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v, want %+v", *got, want)
	}
}

func TestParseAllKeys(t *testing.T) {
	in := `
api_url: http://127.0.0.1:8080/beta/audit/
mode: scrape
poll_interval: 1s
lookback: 7d
overlap: 1h30m
request_timeout: 90s
user_label: none
max_users: 20
country_breakdown: false
exemplars: false
requests_per_second: 0.5
max_retries: 0
max_concurrency: 8
accounts:
  - name: a
    api_key: k1
    api_secret_file: secret
  - name: b
    api_key: k2
    api_secret: s
    api_url: https://example.com/audit
    event_types: [USER_LOGIN, APP_DELETE]
    max_users: 3
`
	got, err := Parse([]byte(in), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		APIURL:            "http://127.0.0.1:8080/beta/audit",
		Mode:              ModeScrape,
		PollInterval:      time.Second,
		Lookback:          7 * 24 * time.Hour,
		Overlap:           90 * time.Minute,
		RequestTimeout:    90 * time.Second,
		UserLabel:         UserLabelNone,
		MaxUsers:          20,
		CountryBreakdown:  false,
		RequestsPerSecond: 0.5,
		MaxRetries:        0,
		MaxConcurrency:    8,
		Accounts: []Account{
			{Name: "a", APIKey: "k1", APISecretFile: "secret", APIURL: "http://127.0.0.1:8080/beta/audit", MaxUsers: 20},
			{Name: "b", APIKey: "k2", APISecret: "s", APIURL: "https://example.com/audit", EventTypes: []string{"USER_LOGIN", "APP_DELETE"}, MaxUsers: 3},
		},
	}
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("got %+v\nwant %+v", *got, want)
	}
}

// The example documents every key with its default, so it must parse and,
// accounts aside, equal Default(). Parse does not read api_secret_file, so
// the example's absolute secret path need not exist here.
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../config.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(data, "config.example.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Accounts) != 2 {
		t.Fatalf("got %d accounts, want 2", len(got.Accounts))
	}
	if got.Accounts[0].APISecretFile == "" {
		t.Error("first account: want an api_secret_file")
	}
	if len(got.Accounts[1].EventTypes) == 0 {
		t.Error("second account: want an event_types filter")
	}
	got.Accounts = nil
	if want := Default(); !reflect.DeepEqual(*got, want) {
		t.Errorf("example settings differ from the defaults:\ngot  %+v\nwant %+v", *got, want)
	}
	for _, key := range []string{"api_url", "mode", "poll_interval", "lookback", "overlap", "request_timeout", "user_label",
		"max_users", "country_breakdown", "exemplars", "requests_per_second", "max_retries", "max_concurrency", "accounts", "name", "api_key", "api_secret", "api_secret_file", "event_types"} {
		if !strings.Contains(string(data), "\n"+key+":") && !strings.Contains(string(data), " "+key+":") {
			t.Errorf("example does not show key %s", key)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"empty file", "", `config.yml: no accounts configured`},
		{"only comments", "# nothing\n", `no accounts configured`},
		{"empty accounts", "accounts: []\n", `config.yml:1: no accounts configured`},
		{"unknown top-level key", "mode: interval\npolll_interval: 60s\n" + oneAccount, `config.yml:2: unknown key "polll_interval"`},
		{"unknown account key", oneAccount + "    api_secrett: x\n", `config.yml:6: unknown key "api_secrett"`},
		{"two documents", oneAccount + "---\nmode: scrape\n", `second YAML document`},
		{"syntax error", "mode: [interval\n", `config.yml:1: invalid YAML: did not find expected ',' or ']'`},
		{"not a mapping", "- a\n- b\n", `config.yml:1: expected a mapping of settings, got a list`},
		{"duplicate key", "mode: interval\nmode: scrape\n" + oneAccount, `config.yml:2: key "mode" is set twice, first at line 1`},
		{"duplicate account key", oneAccount + "    api_key: other\n", `config.yml:6: key "api_key" is set twice, first at line 4`},
		{"key without value", "mode:\n" + oneAccount, `config.yml:1: mode has no value`},
		{"bad duration", "poll_interval: 60\n" + oneAccount, `config.yml:1: poll_interval: invalid duration "60"`},
		{"negative duration", "overlap: -1m\n" + oneAccount, `config.yml:1: overlap: invalid duration "-1m"`},
		{"duration as list", "lookback: [1s]\n" + oneAccount, `config.yml:1: lookback: expected a duration`},
		{"zero poll_interval", "poll_interval: 0s\n" + oneAccount, `config.yml:1: poll_interval must be greater than 0`},
		{"zero request_timeout", "request_timeout: 0\n" + oneAccount, `config.yml:1: request_timeout must be greater than 0`},
		{"bad mode", "mode: cron\n" + oneAccount, `config.yml:1: mode: "cron" is not valid: use interval or scrape`},
		{"bad user_label", "user_label: name\n" + oneAccount, `config.yml:1: user_label: "name" is not valid`},
		{"rps not a number", "requests_per_second: fast\n" + oneAccount, `config.yml:1: requests_per_second: expected a number, got a string`},
		{"rps zero", "requests_per_second: 0\n" + oneAccount, `config.yml:1: requests_per_second must be a number greater than 0`},
		{"rps negative", "requests_per_second: -1\n" + oneAccount, `requests_per_second must be a number greater than 0`},
		{"rps infinite", "requests_per_second: .inf\n" + oneAccount, `requests_per_second must be a number greater than 0`},
		{"rps nan", "requests_per_second: .nan\n" + oneAccount, `requests_per_second must be a number greater than 0`},
		{"max_retries negative", "max_retries: -1\n" + oneAccount, `config.yml:1: max_retries must be between 0 and 10, not -1`},
		{"max_retries too high", "max_retries: 1000\n" + oneAccount, `max_retries must be between 0 and 10`},
		{"max_retries float", "max_retries: 2.5\n" + oneAccount, `config.yml:1: max_retries: expected an integer, got a number`},
		{"max_concurrency zero", "max_concurrency: 0\n" + oneAccount, `config.yml:1: max_concurrency must be between 1 and 32, not 0`},
		{"max_concurrency too high", "max_concurrency: 100\n" + oneAccount, `max_concurrency must be between 1 and 32`},
		{"max_retries string", "max_retries: many\n" + oneAccount, `config.yml:1: max_retries: expected an integer, got a string`},
		{"max_retries overflow", "max_retries: 99999999999999999999\n" + oneAccount, `config.yml:1: max_retries: expected an integer`},
		{"country_breakdown not bool", "country_breakdown: maybe\n" + oneAccount, `country_breakdown: expected true or false`},
		{"exemplars not bool", "exemplars: 1\n" + oneAccount, `config.yml:1: exemplars: expected true or false`},
		{"exemplars misspelt", "exemplar: true\n" + oneAccount, `config.yml:1: unknown key "exemplar"`},
		{"accounts not a list", "accounts: {name: a}\n", `config.yml:1: accounts: expected a list of accounts, got a mapping`},
		{"bad api_url scheme", "api_url: ftp://example.com/audit\n" + oneAccount, `config.yml:1: api_url: must be an absolute http or https URL`},
		{"relative api_url", "api_url: /beta/audit\n" + oneAccount, `api_url: must be an absolute http or https URL`},
		{"api_url with query", "api_url: https://example.com/audit?x=1\n" + oneAccount, `api_url: must not have a query string`},
		{"api_url with fragment", "api_url: https://example.com/audit#x\n" + oneAccount, `api_url: must not have a fragment`},
		{"api_url without host", "api_url: 'https:///audit'\n" + oneAccount, `api_url: has no host`},
		{"api_url with credentials", "api_url: https://user:hunter2@example.com/audit\n" + oneAccount, `api_url: must not contain credentials`},
		{"account api_url invalid", oneAccount + "    api_url: example.com\n", `config.yml:6: account "production": api_url: must be an absolute`},
		{"name missing", "accounts:\n  - api_key: k\n    api_secret: s\n", `config.yml:2: account #1: name is required`},
		{"name with control character", "accounts:\n  - name: \"a\\tb\"\n    api_key: k\n    api_secret: s\n", `config.yml:2: account "a\tb": name must not contain control characters`},
		{"name with spaces around", "accounts:\n  - name: ' a'\n    api_key: k\n    api_secret: s\n", `name must not start or end with spaces`},
		{"duplicate name", oneAccount + "  - name: production\n    api_key: k\n    api_secret: s\n",
			`config.yml:6: account "production": name already used by the account at config.yml:3`},
		{"api_key missing", "accounts:\n  - name: a\n    api_secret: s\n", `config.yml:2: account "a": api_key is required`},
		{"api_key with colon", "accounts:\n  - name: a\n    api_key: 'k:x'\n    api_secret: s\n", `config.yml:3: account "a": api_key must not contain ':'`},
		{"no secret", "accounts:\n  - name: a\n    api_key: k\n", `config.yml:2: account "a": api_secret or api_secret_file is required`},
		{"both secrets", oneAccount + "    api_secret_file: /x\n", `config.yml:6: account "production": set api_secret or api_secret_file, not both`},
		{"empty secret", "accounts:\n  - name: a\n    api_key: k\n    api_secret: ''\n", `config.yml:4: account "a": api_secret is empty`},
		{"empty secret file", "accounts:\n  - name: a\n    api_key: k\n    api_secret_file: ''\n", `config.yml:4: account "a": api_secret_file is empty`},
		{"lower-case event type", oneAccount + "    event_types: [user_login]\n", `config.yml:6: account "production": event_types: "user_login" is not an event type`},
		{"empty event type", oneAccount + "    event_types: ['']\n", `event_types: "" is not an event type`},
		{"duplicate event type", oneAccount + "    event_types: [USER_LOGIN, USER_LOGIN]\n", `event_types: USER_LOGIN is listed twice`},
		{"event_types not a list", oneAccount + "    event_types: USER_LOGIN\n", `config.yml:6: event_types: expected a list of strings, got a string`},
		{"hash without salt", "user_label: hash\n" + oneAccount, `config.yml:1: user_label: hash needs user_hash_salt`},
		{"hash with empty salt", "user_label: hash\nuser_hash_salt: ''\n" + oneAccount, `user_label: hash needs user_hash_salt`},
		{"salt not a string", "user_hash_salt: [hunter2]\n" + oneAccount, `config.yml:1: user_hash_salt: expected a string, got a list`},
		{"max_users zero", "max_users: 0\n" + oneAccount, `config.yml:1: max_users must be between 1 and 100000, not 0`},
		{"max_users too high", "max_users: 1000000\n" + oneAccount, `max_users must be between 1 and 100000`},
		{"max_users float", "max_users: 1.5\n" + oneAccount, `config.yml:1: max_users: expected an integer, got a number`},
		{"account max_users negative", oneAccount + "    max_users: -1\n", `config.yml:6: account "production": max_users must be between 1 and 100000, not -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "config.yml")
			if err == nil {
				t.Fatalf("got no error and %+v, want %q", c, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
			if msg := err.Error(); strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cr3t") {
				t.Errorf("error shows a secret: %q", msg)
			}
		})
	}
}

// A config with several mistakes reports all of them in one run.
func TestParseReportsEveryError(t *testing.T) {
	_, err := Parse([]byte("mode: cron\npoll_interval: soon\nfoo: 1\n"), "c.yml")
	if err == nil {
		t.Fatal("got no error")
	}
	for _, want := range []string{`c.yml:2: poll_interval: invalid duration "soon"`, `c.yml:3: unknown key "foo"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
	_, err = Parse([]byte("mode: cron\n"), "c.yml")
	for _, want := range []string{`c.yml:1: mode: "cron" is not valid`, `no accounts configured`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want it to contain %q", err, want)
		}
	}
}

func TestLoad(t *testing.T) {
	c, err := Load("testdata/load.yml")
	if err != nil {
		t.Fatal(err)
	}
	a := c.Accounts[0]
	if string(a.APISecret) != "s3cr3t-from-file" {
		t.Errorf("secret not read from the file, or its newline not trimmed")
	}
	if want := filepath.Join("testdata", "vonage_secret"); a.APISecretFile != want {
		t.Errorf("APISecretFile = %q, want %q", a.APISecretFile, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string { return writeFile(t, dir, name, content) }
	write("empty_secret", "\n")
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"missing config file", filepath.Join(dir, "nope.yml"), "reading config file: open " + filepath.Join(dir, "nope.yml")},
		{"missing secret file", write("missing.yml", "accounts:\n  - name: a\n    api_key: k\n    api_secret_file: gone\n"),
			`missing.yml:4: account "a": reading api_secret_file: open ` + filepath.Join(dir, "gone")},
		{"empty secret file", write("empty.yml", "accounts:\n  - name: a\n    api_key: k\n    api_secret_file: empty_secret\n"),
			`empty.yml:4: account "a": api_secret_file "` + filepath.Join(dir, "empty_secret") + `" is empty`},
		{"invalid config", write("bad.yml", "mode: x\n"+oneAccount), `bad.yml:1: mode: "x" is not valid`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantKey    string
		wantSecret string
		wantErr    string
	}{
		{"vonage pair", map[string]string{"VONAGE_API_KEY": "vk", "VONAGE_API_SECRET": "vs"}, "vk", "vs", ""},
		{"nexmo pair", map[string]string{"NEXMO_API_KEY": "nk", "NEXMO_API_SECRET": "ns"}, "nk", "ns", ""},
		{"vonage wins", map[string]string{"VONAGE_API_KEY": "vk", "VONAGE_API_SECRET": "vs", "NEXMO_API_KEY": "nk", "NEXMO_API_SECRET": "ns"}, "vk", "vs", ""},
		{"trailing newline trimmed", map[string]string{"VONAGE_API_KEY": "vk", "VONAGE_API_SECRET": "vs\n"}, "vk", "vs", ""},
		{"nothing set", map[string]string{}, "", "", "no vonage credentials"},
		{"key without secret", map[string]string{"VONAGE_API_KEY": "vk"}, "", "", "VONAGE_API_KEY is set but VONAGE_API_SECRET is not"},
		{"secret without key", map[string]string{"NEXMO_API_SECRET": "hunter2"}, "", "", "NEXMO_API_SECRET is set but NEXMO_API_KEY is not"},
		{"invalid key", map[string]string{"VONAGE_API_KEY": "a:b", "VONAGE_API_SECRET": "hunter2"}, "", "", `environment: account "default": api_key must not contain ':'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the secret: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := Default()
			want.Accounts = []Account{{Name: "default", APIKey: tt.wantKey, APISecret: Secret(tt.wantSecret), APIURL: auditapi.DefaultBaseURL, MaxUsers: DefaultMaxUsers}}
			if !reflect.DeepEqual(*c, want) {
				t.Errorf("got %+v, want %+v", *c, want)
			}
		})
	}
	if _, err := FromEnv(func(string) string { return "" }); !errors.Is(err, ErrNoCredentials) {
		t.Errorf("got %v, want ErrNoCredentials", err)
	}
	for _, want := range []string{"VONAGE_API_KEY", "NEXMO_API_KEY", "--config.file", "--demo"} {
		if !strings.Contains(ErrNoCredentials.Error(), want) {
			t.Errorf("ErrNoCredentials does not mention %s", want)
		}
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"defaults", oneAccount, nil},
		{"fast poll of the real API", "poll_interval: 5s\n" + oneAccount,
			[]string{`account "production": poll_interval 5s is below 10s and api.nexmo.com is not a loopback host: polling the real API that often may exhaust its quota`}},
		{"fast poll of loopback", "poll_interval: 1s\napi_url: http://127.0.0.1:9000\n" + oneAccount, nil},
		{"fast poll of localhost", "poll_interval: 1s\napi_url: http://localhost:9000\n" + oneAccount, nil},
		{"fast poll of ipv6 loopback", "poll_interval: 1s\napi_url: 'http://[::1]:9000'\n" + oneAccount, nil},
		{"plain http", "api_url: http://audit.example.com\n" + oneAccount,
			[]string{`account "production": api_url uses plain http to audit.example.com: the API secret is sent unencrypted`}},
		{"no overlap", "overlap: 0s\n" + oneAccount,
			[]string{"overlap is 0s: events that reach the audit log after a poll has read past their time will never be counted"}},
		{"overlap shorter than poll_interval", "overlap: 10s\npoll_interval: 5m\n" + oneAccount, nil},
		{"long salt", "user_label: hash\nuser_hash_salt: 0123456789abcdef\n" + oneAccount, nil},
		{"short salt", "user_label: hash\nuser_hash_salt: hunter2\n" + oneAccount,
			[]string{"user_hash_salt is shorter than 16 characters: hashes of known emails are easy to match"}},
		{"unused salt", "user_hash_salt: 0123456789abcdef\n" + oneAccount,
			[]string{"user_hash_salt is set but user_label is not hash: the salt is not used"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.in), "config.yml")
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Warnings(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// Redacted output parses back into the same config, secrets aside.
func TestRedactedRoundTrip(t *testing.T) {
	in := "mode: scrape\npoll_interval: 90s\nrequests_per_second: 0.5\nuser_label: hash\nuser_hash_salt: 0123456789abcdef\nmax_users: 7\n" + oneAccount +
		"  - name: b\n    api_key: k\n    api_secret_file: /run/secrets/b\n    event_types: [USER_LOGIN]\n    max_users: 9\n"
	c, err := Parse([]byte(in), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	out := c.Redacted()
	if strings.Contains(out, "0123456789abcdef") {
		t.Errorf("Redacted shows user_hash_salt:\n%s", out)
	}
	back, err := Parse([]byte(out), "redacted")
	if err != nil {
		t.Fatalf("redacted config does not parse: %v\n%s", err, out)
	}
	c.Accounts[0].APISecret = redactedSecret
	c.UserHashSalt = redactedSecret
	if !reflect.DeepEqual(back, c) {
		t.Errorf("round trip changed the config:\ngot  %+v\nwant %+v\n%s", back, c, out)
	}
}

// The secret must not show in any error, printout or rendering of a config.
func TestSecretNeverShown(t *testing.T) {
	const secret = "hunter2-very-secret"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "s"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := "accounts:\n  - name: a\n    api_key: k\n    api_secret: " + secret + "\n" +
		"  - name: b\n    api_key: k\n    api_secret_file: s\n"
	if err := os.WriteFile(filepath.Join(dir, "c.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(filepath.Join(dir, "c.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Accounts[0].APISecret) != secret || string(c.Accounts[1].APISecret) != secret {
		t.Fatal("secrets not loaded")
	}
	var js strings.Builder
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		t.Fatal(err)
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "config", c, "secret", c.Accounts[0].APISecret)
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "secret", c.Accounts[1].APISecret)
	shown := map[string]string{
		"Redacted": c.Redacted(),
		"json":     js.String(),
		"slog":     logged.String(),
		"%v":       fmt.Sprintf("%v", c),
		"%+v":      fmt.Sprintf("%+v", *c),
		"%#v":      fmt.Sprintf("%#v", *c),
		"%s":       fmt.Sprintf("%s", c.Accounts[0].APISecret),
		"%q":       fmt.Sprintf("%q", c.Accounts[0].APISecret),
		"%x":       fmt.Sprintf("%x", c.Accounts[0].APISecret),
		"String":   c.Accounts[0].APISecret.String(),
	}
	for how, s := range shown {
		if strings.Contains(s, secret) || strings.Contains(s, fmt.Sprintf("%x", []byte(secret))) {
			t.Errorf("%s shows the secret: %s", how, s)
		}
		if !strings.Contains(s, redactedSecret) {
			t.Errorf("%s does not show %s: %s", how, redactedSecret, s)
		}
	}

	// Secrets written where they do not belong still stay out of errors.
	for _, in := range []string{
		"api_url: https://user:" + secret + "@example.com\n" + oneAccount,
		"api_url: 'https://example.com/audit?api_secret=" + secret + "'\n" + oneAccount,
		"api_url: 'http://u:" + secret + "@[::1'\n" + oneAccount,
		"max_retries: " + secret + "\n" + oneAccount,
		"requests_per_second: " + secret + "\n" + oneAccount,
		"country_breakdown: " + secret + "\n" + oneAccount,
		"accounts:\n  - name: a\n    api_key: k\n    api_secret: " + secret + "\n    api_secret_file: x\n",
		"accounts:\n  - name: a\n    api_secret: " + secret + "\n",
	} {
		_, err := Parse([]byte(in), "c.yml")
		if err == nil {
			t.Errorf("no error for %q", in)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows the secret: %q", err)
		}
	}
}

// writeFile writes a test file into dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
