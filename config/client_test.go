package config

import (
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/common/version"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

func TestClientConfig(t *testing.T) {
	c, err := Parse([]byte("request_timeout: 5s\nmax_retries: 2\nrequests_per_second: 0.5\nmax_concurrency: 3\n"+oneAccount+
		"  - name: b\n    api_key: k2\n    api_secret: s2\n    api_url: http://127.0.0.1:9000/audit/\n"), "config.yml")
	if err != nil {
		t.Fatal(err)
	}
	defer func(v string) { version.Version = v }(version.Version)
	for _, tt := range []struct {
		version, wantAgent string
	}{
		{"", "vonage_audit_exporter"},
		{"1.2.3", "vonage_audit_exporter/1.2.3"},
	} {
		version.Version = tt.version
		want := auditapi.Config{BaseURL: "http://127.0.0.1:9000/audit", APIKey: "k2", APISecret: "s2", Timeout: 5 * time.Second,
			MaxRetries: 2, RequestsPerSecond: 0.5, UserAgent: tt.wantAgent}
		if got := c.ClientConfig(c.Accounts[1]); !reflect.DeepEqual(got, want) {
			t.Errorf("version %q: got %+v, want %+v", tt.version, got, want)
		}
	}
	if got := c.ClientConfig(c.Accounts[0]); got.BaseURL != auditapi.DefaultBaseURL || got.APISecret != "s3cr3t" {
		t.Errorf("first account: got base URL %q, want %q and its own secret", got.BaseURL, auditapi.DefaultBaseURL)
	}
	if _, err := auditapi.New(c.ClientConfig(c.Accounts[0])); err != nil {
		t.Errorf("the client settings are refused: %v", err)
	}
}
