package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// TestProbeReportsEachReading runs probe against simulators of each
// reading and reads its one JSON line.
func TestProbeReportsEachReading(t *testing.T) {
	tests := []struct {
		name   string
		opts   simulator.Options
		events int
		want   probeReport
	}{
		{"documented", simulator.Options{}, 250,
			probeReport{PageSizeMax: 100, DateTimeAccepted: true, DatePrecision: "second", Order: "newest_first"}},
		{"page cap 30, oldest first, clock 2m behind", simulator.Options{PageCap: 30, Order: simulator.OldestFirst, ClockSkew: -2 * time.Minute}, 250,
			probeReport{PageSizeMax: 30, DateTimeAccepted: true, DatePrecision: "second", Order: "oldest_first", ClockSkewSeconds: -120}},
		{"whole days, clock 2m ahead", simulator.Options{DatePrecision: simulator.DayPrecision, ClockSkew: 2 * time.Minute}, 40,
			probeReport{PageSizeMax: 40, DateTimeAccepted: true, DatePrecision: "day", Order: "newest_first", ClockSkewSeconds: 120}},
		{"dates only", simulator.Options{DatePrecision: simulator.DateOnlyPrecision}, 40,
			probeReport{PageSizeMax: 40, DateTimeAccepted: false, DatePrecision: "day", Order: "newest_first"}},
		{"dates only, no events", simulator.Options{DatePrecision: simulator.DateOnlyPrecision}, 0,
			probeReport{DateTimeAccepted: false, DatePrecision: "unknown", Order: "unknown"}},
		{"no events", simulator.Options{}, 0,
			probeReport{DateTimeAccepted: true, DatePrecision: "unknown", Order: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.events, tt.opts)
			out, err := runOut(t, f.cfg, "probe", "--output", "json")
			if err != nil {
				t.Fatalf("probe: %v\n%s", err, out)
			}
			got := decodeProbe(t, out)
			if len(got) != 1 {
				t.Fatalf("got %d lines, want 1:\n%s", len(got), out)
			}
			want := tt.want
			want.Account, want.OK, want.EventTypes, want.TotalEvents = "test", true, len(simulator.DefaultEventTypes), tt.events
			// The Date header is cut to the second: the skew is known to
			// within a second.
			if d := got[0].ClockSkewSeconds - want.ClockSkewSeconds; d > -1 && d < 1 {
				got[0].ClockSkewSeconds = want.ClockSkewSeconds
			}
			if got[0] != want {
				t.Errorf("got  %+v\nwant %+v", got[0], want)
			}
			if n := len(f.listQueries()); n > 20 {
				t.Errorf("probe sent %d list requests, want at most 20", n)
			}
		})
	}
}

// TestProbeEveryAccountAndExitStatus probes two accounts, one with a wrong
// secret: one line each, in both forms, and a failing exit status.
func TestProbeEveryAccountAndExitStatus(t *testing.T) {
	f := newFixture(t, 30, simulator.Options{})
	bad := f.cfg.Accounts[0]
	bad.Name, bad.APISecret = "wrong-secret", config.Secret("not-"+testSecret)
	f.cfg.Accounts = append(f.cfg.Accounts, bad)

	out, err := runOut(t, f.cfg, "probe", "-o", "json")
	if ExitCode(err) != ExitError {
		t.Errorf("exit code %d (%v), want %d", ExitCode(err), err, ExitError)
	}
	got := decodeProbe(t, out)
	if len(got) != 2 || got[0].Account != "test" || !got[0].OK || got[1].Account != "wrong-secret" || got[1].OK {
		t.Fatalf("got %+v, want test ok and wrong-secret not ok", got)
	}
	if got[1].Error == nil || !strings.Contains(*got[1].Error, "401") {
		t.Errorf("error of the failed account: %v, want the API's 401", got[1].Error)
	}
	if got[0].Error != nil {
		t.Errorf("error of the account that works: %q, want null", *got[0].Error)
	}
	if strings.Contains(out, testSecret) {
		t.Error("the secret appeared in the output")
	}

	out, err = runOut(t, f.cfg, "probe", "--account", "test")
	if err != nil {
		t.Fatalf("probe --account test: %v", err)
	}
	table := lines(out)
	if len(table) != 2 || !strings.HasPrefix(table[0], "ACCOUNT") || !strings.HasPrefix(table[1], "test ") ||
		!strings.Contains(table[1], "second") || !strings.Contains(table[1], "newest_first") {
		t.Errorf("table:\n%s", out)
	}
}

func decodeProbe(t *testing.T, out string) []probeReport {
	t.Helper()
	var reports []probeReport
	for _, l := range lines(out) {
		var keys map[string]any
		if err := json.Unmarshal([]byte(l), &keys); err != nil {
			t.Fatalf("line %q is not one JSON object: %v", l, err)
		}
		for _, k := range []string{"account", "ok", "error", "page_size_max", "date_time_accepted", "date_precision", "order", "clock_skew_seconds", "event_types", "total_events"} {
			if _, ok := keys[k]; !ok {
				t.Errorf("line %q has no key %q", l, k)
			}
		}
		if len(keys) != 10 {
			t.Errorf("line %q has %d keys, want 10", l, len(keys))
		}
		var r probeReport
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		reports = append(reports, r)
	}
	return reports
}
