package collector

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// The API request metrics and the exporter's status, which are kept in
// plain values and sent as const metrics, read as the client_golang
// metrics they replace did; every retry reason is exported from the start.
func TestAPIAndStatusExposition(t *testing.T) {
	o := newObserver("a")
	o.Request("list", "200", 30*time.Millisecond)
	o.Request("list", "503", 2*time.Second)
	o.Retry("list", "server")
	o.RateLimited("list")
	status := Status{Restored: map[string]bool{"a": true}, RestoreErrors: 1, SaveErrors: 2,
		LastSave: time.Unix(100, 0), ReloadOK: true, LastReload: time.Unix(200, 0)}
	c := New(func() Status { return status })
	c.SetAccounts([]Account{{Poller: poller.New(poller.Options{Name: "a"}), API: o}})

	const want = `
# HELP vonage_audit_api_rate_limited_total Answers of the Audit API that refused a request for its rate limit or quota.
# TYPE vonage_audit_api_rate_limited_total counter
vonage_audit_api_rate_limited_total{account="a"} 1
# HELP vonage_audit_api_request_duration_seconds Duration of requests to the Audit API, by endpoint.
# TYPE vonage_audit_api_request_duration_seconds histogram
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="0.05"} 1
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="0.1"} 1
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="0.25"} 1
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="0.5"} 1
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="1"} 1
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="2.5"} 2
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="5"} 2
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="10"} 2
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="30"} 2
vonage_audit_api_request_duration_seconds_bucket{account="a",endpoint="list",le="+Inf"} 2
vonage_audit_api_request_duration_seconds_sum{account="a",endpoint="list"} 2.03
vonage_audit_api_request_duration_seconds_count{account="a",endpoint="list"} 2
# HELP vonage_audit_api_requests_total Requests sent to the Audit API, by endpoint and HTTP status code or error.
# TYPE vonage_audit_api_requests_total counter
vonage_audit_api_requests_total{account="a",code="200",endpoint="list"} 1
vonage_audit_api_requests_total{account="a",code="503",endpoint="list"} 1
# HELP vonage_audit_api_retries_total Requests to the Audit API retried, by the reason of the failed attempt.
# TYPE vonage_audit_api_retries_total counter
vonage_audit_api_retries_total{account="a",reason="auth"} 0
vonage_audit_api_retries_total{account="a",reason="bad_request"} 0
vonage_audit_api_retries_total{account="a",reason="decode"} 0
vonage_audit_api_retries_total{account="a",reason="network"} 0
vonage_audit_api_retries_total{account="a",reason="not_found"} 0
vonage_audit_api_retries_total{account="a",reason="other"} 0
vonage_audit_api_retries_total{account="a",reason="page_limit"} 0
vonage_audit_api_retries_total{account="a",reason="quota"} 0
vonage_audit_api_retries_total{account="a",reason="rate_limited"} 0
vonage_audit_api_retries_total{account="a",reason="server"} 1
vonage_audit_api_retries_total{account="a",reason="timeout"} 0
# HELP vonage_audit_config_last_reload_success_timestamp_seconds Time of the last successful configuration load or reload.
# TYPE vonage_audit_config_last_reload_success_timestamp_seconds gauge
vonage_audit_config_last_reload_success_timestamp_seconds 200
# HELP vonage_audit_config_last_reload_successful Whether the last configuration reload succeeded.
# TYPE vonage_audit_config_last_reload_successful gauge
vonage_audit_config_last_reload_successful 1
# HELP vonage_audit_state_last_save_success_timestamp_seconds Time of the last successful save of the state file.
# TYPE vonage_audit_state_last_save_success_timestamp_seconds gauge
vonage_audit_state_last_save_success_timestamp_seconds 100
# HELP vonage_audit_state_restore_errors_total State files that could not be read or used at start, so that every account started fresh.
# TYPE vonage_audit_state_restore_errors_total counter
vonage_audit_state_restore_errors_total 1
# HELP vonage_audit_state_restored Whether the account's counters and cursor were restored from the state file at start.
# TYPE vonage_audit_state_restored gauge
vonage_audit_state_restored{account="a"} 1
# HELP vonage_audit_state_save_errors_total Failed saves of the state file.
# TYPE vonage_audit_state_save_errors_total counter
vonage_audit_state_save_errors_total 2
`
	names := []string{
		"vonage_audit_api_rate_limited_total", "vonage_audit_api_request_duration_seconds", "vonage_audit_api_requests_total",
		"vonage_audit_api_retries_total", "vonage_audit_config_last_reload_success_timestamp_seconds", "vonage_audit_config_last_reload_successful",
		"vonage_audit_state_last_save_success_timestamp_seconds", "vonage_audit_state_restore_errors_total", "vonage_audit_state_restored",
		"vonage_audit_state_save_errors_total",
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	// A removed account takes its API metrics with it.
	c.SetAccounts(nil)
	if n := testutil.CollectAndCount(c, "vonage_audit_api_requests_total", "vonage_audit_api_rate_limited_total"); n != 0 {
		t.Errorf("%d API series of a removed account exported", n)
	}
}
