package config

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// secretValues returns the values written under api_secret and
// user_hash_salt anywhere in a YAML document.
func secretValues(data []byte) []string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return nil
	}
	var out []string
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if (k.Value == "api_secret" || k.Value == "user_hash_salt") && v.Kind == yaml.ScalarNode {
					out = append(out, v.Value)
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return out
}

// Whatever the file holds: Parse never panics; a secret never shows in an
// error or in the redacted rendering; and a config that parses renders to
// YAML that parses back to the same config, secrets aside.
func FuzzParse(f *testing.F) {
	for _, path := range []string{"../config.example.yml", "testdata/load.yml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(oneAccount))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		for _, secret := range secretValues(data) {
			// A secret too short or written more than once could be in a
			// message for another reason: the account name, a key, a word.
			if len(secret) < 8 || bytes.Count(data, []byte(secret)) != 1 {
				continue
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows the secret %q: %v", secret, err)
			}
			if err == nil && strings.Contains(c.Redacted(), secret) {
				t.Fatalf("Redacted shows the secret %q:\n%s", secret, c.Redacted())
			}
		}
		if err != nil {
			return
		}
		out := c.Redacted()
		back, err := Parse([]byte(out), "redacted")
		if err != nil {
			t.Fatalf("the redacted config does not parse: %v\n%s", err, out)
		}
		want := *c
		if want.UserHashSalt != "" {
			want.UserHashSalt = redactedSecret
		}
		want.Accounts = append([]Account(nil), c.Accounts...)
		for i := range want.Accounts {
			a := &want.Accounts[i]
			if a.APISecretFile == "" {
				a.APISecret = redactedSecret
			}
			// An empty list and no list mean the same: every event type.
			if len(a.EventTypes) == 0 {
				a.EventTypes = nil
			}
		}
		for i := range back.Accounts {
			if len(back.Accounts[i].EventTypes) == 0 {
				back.Accounts[i].EventTypes = nil
			}
		}
		if !reflect.DeepEqual(*back, want) {
			t.Fatalf("round trip changed the config:\ngot  %+v\nwant %+v\n%s", *back, want, out)
		}
	})
}
