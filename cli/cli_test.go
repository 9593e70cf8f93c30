package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

func TestUsageErrors(t *testing.T) {
	f := newFixture(t, 5, simulator.Options{})
	two := *f.cfg
	two.Accounts = append(slices.Clone(f.cfg.Accounts), config.Account{Name: "other", APIKey: "k", APISecret: "s", APIURL: f.srv.URL})
	none := *f.cfg
	none.Accounts = nil
	noSecret := *f.cfg
	noSecret.Accounts = []config.Account{{Name: "test", APIKey: testKey, APIURL: f.srv.URL}}

	for _, tc := range []struct {
		name    string
		cfg     *config.Config
		args    []string
		wantErr string
	}{
		{"bad from", f.cfg, []string{"events", "list", "--from", "yesterday"}, `invalid --from "yesterday"`},
		{"bad to", f.cfg, []string{"events", "list", "--to", "2024-13-01"}, `invalid --to "2024-13-01"`},
		{"from after to", f.cfg, []string{"events", "list", "--from", "1h", "--to", "2h"}, "--from (2024-05-01 11:00:00) is after --to (2024-05-01 10:00:00)"},
		{"negative limit", f.cfg, []string{"events", "list", "--limit=-1"}, "--limit -1 is negative"},
		{"unknown account", f.cfg, []string{"events", "list", "--account", "prod"}, `no account "prod" in the configuration; accounts: test`},
		{"unknown account for get", f.cfg, []string{"events", "get", "--account", "prod", "x"}, `no account "prod"`},
		{"unknown account for event types", f.cfg, []string{"event-types", "--account", "prod"}, `no account "prod"`},
		{"two accounts", &two, []string{"event-types"}, "the configuration has 2 accounts (test, other): pick one with --account"},
		{"no account", &none, []string{"events", "get", "x"}, "the configuration has no account"},
		{"no config", nil, []string{"events", "list"}, "the configuration has no account"},
		{"no secret", &noSecret, []string{"events", "list"}, "API key and secret are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.listRequests()
			out, err := runOut(t, tc.cfg, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want %q", err, tc.wantErr)
			}
			if code := ExitCode(err); code != ExitUsage {
				t.Errorf("exit code %d, want %d", code, ExitUsage)
			}
			if out != "" || f.listRequests() != before {
				t.Errorf("a usage error printed %q or called the API", out)
			}
		})
	}
}

func TestAccountFlagPicksAccount(t *testing.T) {
	f := newFixture(t, 5, simulator.Options{})
	other := newFixture(t, 8, simulator.Options{Seed: 9})
	cfg := *f.cfg
	cfg.Accounts = append(slices.Clone(f.cfg.Accounts), config.Account{Name: "other", APIKey: testKey, APISecret: testSecret, APIURL: other.srv.URL})
	for name, want := range map[string]int{"test": 5, "other": 8} {
		out, err := runOut(t, &cfg, "events", "list", "-o", "ndjson", "--account", name)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(lines(out)); n != want {
			t.Errorf("--account %s printed %d events, want %d", name, n, want)
		}
	}
}

func TestEventTypes(t *testing.T) {
	f := newFixture(t, 0, simulator.Options{})
	var want []auditapi.EventType
	for _, et := range simulator.DefaultEventTypes {
		want = append(want, auditapi.EventType(et))
	}

	out, err := runOut(t, f.cfg, "event-types", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got []auditapi.EventType
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if !slices.Equal(got, want) {
		t.Errorf("json output = %v, want %v", got, want)
	}

	out, err = runOut(t, f.cfg, "event-types", "-o", "ndjson")
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, l := range lines(out) {
		var et auditapi.EventType
		if err := json.Unmarshal([]byte(l), &et); err != nil {
			t.Fatalf("ndjson line %q: %v", l, err)
		}
		got = append(got, et)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ndjson output = %v, want %v", got, want)
	}

	out, err = runOut(t, f.cfg, "event-types")
	if err != nil {
		t.Fatal(err)
	}
	table := lines(out)
	if len(table) != len(want)+1 || strings.Fields(table[0])[0] != "TYPE" {
		t.Fatalf("table output:\n%s", out)
	}
	for i, et := range want {
		if l := table[i+1]; !strings.HasPrefix(l, et.Type+" ") || !strings.HasSuffix(l, "  "+et.Description) {
			t.Errorf("table line %q, want %s and %s", l, et.Type, et.Description)
		}
	}
}

// The docs say OPTIONS may answer 204: an empty list, not an error.
func TestEventTypesNoContent(t *testing.T) {
	f := newFixture(t, 0, simulator.Options{OptionsNoContent: true})
	for format, want := range map[string]string{"json": "[]\n", "ndjson": "", "table": "TYPE  DESCRIPTION\n"} {
		out, err := runOut(t, f.cfg, "event-types", "-o", format)
		if err != nil {
			t.Fatal(err)
		}
		if out != want {
			t.Errorf("-o %s printed %q, want %q", format, out, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{in: "2024-04-30T08:15:00Z", want: time.Date(2024, 4, 30, 8, 15, 0, 0, time.UTC)},
		{in: "2024-04-30T10:15:00+02:00", want: time.Date(2024, 4, 30, 8, 15, 0, 0, time.UTC)},
		{in: "2024-04-30T08:15:00", want: time.Date(2024, 4, 30, 8, 15, 0, 0, time.UTC)},
		{in: "2024-04-30", want: time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)},
		{in: "90m", want: now.Add(-90 * time.Minute)},
		{in: "24h", want: now.Add(-24 * time.Hour)},
		{in: "7d", want: now.Add(-7 * 24 * time.Hour)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: "", wantErr: true},
		{in: "-1h", wantErr: true},
		{in: "yesterday", wantErr: true},
		{in: "2024-04-31", wantErr: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseTime("from", tc.in, now)
			if tc.wantErr {
				if ExitCode(err) != ExitUsage {
					t.Fatalf("got %v, %v; want a usage error", got, err)
				}
				return
			}
			if err != nil || !got.Equal(tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{errors.New("api down"), ExitError},
		{Usage(errors.New("bad flag")), ExitUsage},
		{fmt.Errorf("wrapped: %w", Usage(errors.New("bad flag"))), ExitUsage},
		{Usage(nil), ExitOK},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

// On a terminal, a line is cut to its width (down to a least context),
// and nothing a value holds can reach the terminal as a control character.
func TestTableLineFitsTerminal(t *testing.T) {
	long := []string{"2024-05-01 11:59:00", "ACCOUNT_UPDATE_SETTINGS_API", "DEVAPI", "a.very.long.user.name@subdomain.example.com",
		"GB", "203.0.113.255", strings.Repeat("key=value\x1b[2J ", 20)}
	for _, width := range []int{0, 80, 120, 160} {
		line := (&tableWriter{width: width}).line(slices.Clone(long))
		n := utf8.RuneCountInString(line)
		switch {
		case width == 0 && !strings.Contains(line, long[3]):
			t.Errorf("width 0 cut the line: %q", line)
		case width >= 120 && n > width:
			t.Errorf("width %d: line is %d runes: %q", width, n, line)
		case width > 0 && width < 120 && !strings.HasSuffix(line, "…"):
			t.Errorf("width %d: the context was not cut: %q", width, line)
		}
		if strings.ContainsRune(line, '\x1b') {
			t.Errorf("width %d: a control character reached the output: %q", width, line)
		}
	}
}
