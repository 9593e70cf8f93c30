package config

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// Numbers and durations out of range get an error naming the file, the line
// and the key, never a misleading type or a silently wrapped value.
func TestParseOutOfRange(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
	}{
		{"max_users exponent overflow", "max_users: 1e400\n", `config.yml:1: max_users: expected an integer, got one out of range`},
		{"max_users negative exponent overflow", "max_users: -1e400\n", `config.yml:1: max_users: expected an integer, got one out of range`},
		{"max_users float with exponent", "max_users: 1e3\n", `config.yml:1: max_users: expected an integer, got a number: write a whole number in digits`},
		{"max_users beyond int64", "max_users: 99999999999999999999\n", `config.yml:1: max_users: expected an integer, got one out of range`},
		{"max_users hex beyond int64", "max_users: 0xFFFFFFFFFFFFFFFFFF\n", `config.yml:1: max_users: expected an integer, got one out of range`},
		{"max_users infinite", "max_users: .inf\n", `config.yml:1: max_users: expected an integer, got a number`},
		{"max_users int64 but too many", "max_users: 9223372036854775807\n", `config.yml:1: max_users must be between 1 and 100000, not 9223372036854775807`},
		{"max_concurrency overflow", "max_concurrency: 1e400\n", `config.yml:1: max_concurrency: expected an integer, got one out of range`},
		{"max_retries float", "max_retries: 3.0\n", `config.yml:1: max_retries: expected an integer, got a number`},
		{"max_retries negative", "max_retries: -3\n", `config.yml:1: max_retries must be between 0 and 10, not -3`},
		{"account max_users overflow", oneAccount + "    max_users: 1e400\n", `config.yml:6: max_users: expected an integer, got one out of range`},
		{"requests_per_second overflow", "requests_per_second: 1e400\n", `config.yml:1: requests_per_second: expected a number, got one out of range`},
		{"lookback above its bound", "lookback: 100000d\n", `config.yml:1: lookback must be at most 365d, not 100000d`},
		{"lookback just above its bound", "lookback: 365d1s\n", `config.yml:1: lookback must be at most 365d, not 365d1s`},
		{"lookback overflow", "lookback: 1000000000d\n", `config.yml:1: lookback: invalid duration "1000000000d": longer than any duration can be (about 292y)`},
		{"lookback overflow in a sum", "lookback: 200y200y\n", `config.yml:1: lookback: invalid duration "200y200y": use a number with a unit`},
		{"lookback overflow of a sum", "lookback: 292y52w\n", `config.yml:1: lookback: invalid duration "292y52w": longer than any duration can be`},
		{"lookback negative", "lookback: -1d\n", `config.yml:1: lookback: invalid duration "-1d": it must not be negative`},
		{"poll_interval overflow", "poll_interval: 300000y\n", `config.yml:1: poll_interval: invalid duration "300000y": longer than any duration can be`},
		{"poll_interval digits overflow", "poll_interval: 99999999999999999999s\n", `config.yml:1: poll_interval: invalid duration "99999999999999999999s": longer than any duration can be`},
		{"poll_interval negative", "poll_interval: -30s\n", `config.yml:1: poll_interval: invalid duration "-30s": it must not be negative`},
		{"overlap overflow", "overlap: 9999999999h\n", `config.yml:1: overlap: invalid duration "9999999999h": longer than any duration can be`},
		{"overlap negative", "overlap: -2m\n", `config.yml:1: overlap: invalid duration "-2m": it must not be negative`},
		{"request_timeout overflow", "request_timeout: 100000000000m\n", `config.yml:1: request_timeout: invalid duration "100000000000m": longer than any duration can be`},
		{"request_timeout negative", "request_timeout: -1s\n", `config.yml:1: request_timeout: invalid duration "-1s": it must not be negative`},
		{"negative garbage", "request_timeout: -soon\n", `config.yml:1: request_timeout: invalid duration "-soon": use a number with a unit`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if !strings.Contains(in, "accounts:") {
				in += oneAccount
			}
			c, err := Parse([]byte(in), "config.yml")
			if err == nil {
				t.Fatalf("got no error and %+v, want %q", c, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseLookbackBound(t *testing.T) {
	c, err := Parse([]byte("lookback: 365d\n"+oneAccount), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Lookback != MaxLookback {
		t.Errorf("lookback = %s, want %s", c.Lookback, MaxLookback)
	}
}

// Anchors, aliases and merge keys decode as YAML defines them, strictly.
func TestParseAliasesAndMerges(t *testing.T) {
	in := `
max_users: &n 7
max_retries: 2
accounts:
  - &base
    name: a
    api_key: k
    api_secret: s
    event_types: &types [USER_LOGIN]
  - <<: *base
    name: b
    max_users: *n
  - <<: [{name: c, api_key: k2}, *base]
    api_secret: s2
    event_types: *types
`
	c, err := Parse([]byte(in), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(c.Accounts))
	for i, a := range c.Accounts {
		got[i] = a.Name + "/" + a.APIKey + "/" + string(a.APISecret) + "/" + strings.Join(a.EventTypes, ",") + "/" + strconv.Itoa(a.MaxUsers)
	}
	want := []string{"a/k/s/USER_LOGIN/7", "b/k/s/USER_LOGIN/7", "c/k2/s2/USER_LOGIN/7"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("got %q, want %q", got, want)
	}

	for _, tt := range []struct{ name, in, wantErr string }{
		{"merged unknown key", "accounts:\n  - <<: {name: a, api_kye: k}\n    api_secret: s\n", `config.yml:2: unknown key "api_kye"`},
		{"merge of a scalar", "accounts:\n  - <<: a\n", `config.yml:2: <<: expected a mapping or a list of mappings to merge, got a string`},
		{"merge that merges", "accounts:\n  - &a {name: a, api_key: k, api_secret: s}\n  - &b {<<: *a}\n  - <<: *b\n", `config.yml:3: <<: a merged mapping must not merge another`},
		{"alias of the wrong type", "user_label: &l [email]\n" + oneAccount, `config.yml:1: user_label: expected a string, got a list`},
		{"key that is a list", "[a]: 1\n", `config.yml:1: expected a key name, got a list`},
		{"account that is a string", "accounts: [a]\n", `config.yml:1: accounts: expected an account (a mapping of keys such as name and api_key), got a string`},
		{"account that is null", "accounts: [~]\n", `config.yml:1: accounts: expected an account (a mapping of keys such as name and api_key), got nothing`},
		{"unknown anchor", "mode: *m\n", `config.yml: invalid YAML: unknown anchor 'm' referenced`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in), "config.yml")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// Aliases cannot make a small file decode into millions of values.
func TestParseAliasBomb(t *testing.T) {
	types := strings.Repeat("T,", 2000)
	refs := strings.Repeat("*a, ", 2000)
	var keys strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&keys, "k%d: 1, ", i)
	}
	for name, in := range map[string]string{
		"aliased lists":   "accounts: [&a {name: a, api_key: k, api_secret: s, event_types: [" + types + "]}, " + refs + "]\n",
		"merged mappings": "x: &a {" + keys.String() + "}\naccounts: [{<<: [" + strings.TrimSuffix(refs, ", ") + "]}]\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(in), "config.yml")
			if want := "config.yml:1: aliases (*name) expand the file more than 10 times its size"; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got error %.300v, want it to contain %q", err, want)
			}
		})
	}
}
