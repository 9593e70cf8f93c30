package poller_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/pollertest"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// ingestAll counts events directly, as one page of a poll over [t0-1h, t0].
func ingestAll(a *poller.Poller, events []auditapi.Event) {
	a.Ingest(events, t0.Add(-time.Hour), t0)
}

func userEvent(id, email, userID string) auditapi.Event {
	return auditapi.Event{ID: id, EventType: "USER_LOGIN", CreatedAt: t0, UserEmail: email, UserID: userID, Source: "CD", SourceCountry: "GB"}
}

func newTestAccount(opts poller.Options) (*poller.Poller, *collector.Collector) {
	if opts.Name == "" {
		opts.Name = "test"
	}
	if opts.UserLabel == "" {
		opts.UserLabel = config.UserLabelEmail
	}
	opts.Now = func() time.Time { return t0 }
	a := poller.New(opts)
	c := collector.New(nil)
	c.SetAccounts([]collector.Account{{Poller: a}})
	return a, c
}

func TestMaxUsers(t *testing.T) {
	a, c := newTestAccount(poller.Options{MaxUsers: 2})
	var events []auditapi.Event
	for i, email := range []string{"a@x", "b@x", "c@x", "a@x", "d@x", "c@x", "", "b@x", "e@x"} {
		events = append(events, userEvent(fmt.Sprint("id", i), email, ""))
	}
	ingestAll(a, events)
	pollertest.AssertCounts(t, pollertest.Gathered(t, c, "vonage_audit_user_events_total"), map[string]float64{
		"USER_LOGIN|CD|a@x": 2, "USER_LOGIN|CD|b@x": 2, "USER_LOGIN|CD|__other__": 4, "USER_LOGIN|CD|unknown": 1,
	})
	// c, d and e overflowed; c twice, but it is one user.
	if got := pollertest.Gathered(t, c, "vonage_audit_user_overflow_total")[""]; got != 3 {
		t.Errorf("user_overflow_total = %v, want 3", got)
	}
	if got := pollertest.Sum(pollertest.Gathered(t, c, "vonage_audit_events_total")); got != float64(len(events)) {
		t.Errorf("events_total = %v, want every one of the %d events", got, len(events))
	}
}

// The overflowing users survive a restart with the state file: one of them
// seen again is not counted again, a new one is; a state written for
// another labelling brings back neither the count nor the users.
func TestOverflowSurvivesRestore(t *testing.T) {
	a, _ := newTestAccount(poller.Options{MaxUsers: 1})
	ingestAll(a, []auditapi.Event{userEvent("id0", "a@x", ""), userEvent("id1", "b@x", ""), userEvent("id2", "c@x", "")})
	st := a.Save()
	if len(st.OverflowSeen) != 2 {
		t.Fatalf("saved %d overflowing users, want b and c", len(st.OverflowSeen))
	}
	tests := []struct {
		name string
		opts poller.Options
		want float64
	}{
		{"same labels", poller.Options{MaxUsers: 1}, 3}, // b again: no; d: yes
		// Nothing of the users comes back: b takes the one series, d overflows.
		{"labels changed", poller.Options{MaxUsers: 1, UserLabel: config.UserLabelID}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c := newTestAccount(tt.opts)
			b.Restore(st)
			ingestAll(b, []auditapi.Event{userEvent("id3", "b@x", ""), userEvent("id4", "d@x", "")})
			if got := pollertest.Gathered(t, c, "vonage_audit_user_overflow_total")[""]; got != tt.want {
				t.Errorf("user_overflow_total = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMaxUsersDefault(t *testing.T) {
	a, c := newTestAccount(poller.Options{})
	var events []auditapi.Event
	for i := range config.DefaultMaxUsers + 10 {
		events = append(events, userEvent(fmt.Sprint("id", i), fmt.Sprintf("u%d@x", i), ""))
	}
	ingestAll(a, events)
	if n := testutil.CollectAndCount(c, "vonage_audit_user_events_total"); n != config.DefaultMaxUsers+1 {
		t.Errorf("%d user series, want %d and __other__", n, config.DefaultMaxUsers)
	}
	if got := pollertest.Gathered(t, c, "vonage_audit_user_overflow_total")[""]; got != 10 {
		t.Errorf("user_overflow_total = %v, want 10", got)
	}
}

// Memory stays bounded however many users overflow: past poller.OverflowMemory
// remembered users, each event of a user not remembered counts again.
func TestOverflowMemoryIsBounded(t *testing.T) {
	a, c := newTestAccount(poller.Options{MaxUsers: 1})
	n := poller.OverflowMemory + 100
	events := make([]auditapi.Event, 0, n+1)
	for i := 0; i <= n; i++ {
		events = append(events, userEvent(fmt.Sprint("id", i), fmt.Sprintf("u%d@x", i), ""))
	}
	ingestAll(a, events)
	_, admitted, remembered := a.Held()
	if remembered != poller.OverflowMemory {
		t.Errorf("%d overflowing users remembered, want the bound %d", remembered, poller.OverflowMemory)
	}
	if admitted != 1 {
		t.Errorf("%d users admitted, want 1", admitted)
	}
	// u0 has its series; the last remembered overflowing user comes again
	// and is not counted twice; one beyond the memory is.
	ingestAll(a, []auditapi.Event{
		userEvent("again-1", "u1@x", ""),
		userEvent("again-2", fmt.Sprintf("u%d@x", n), ""),
	})
	if got, want := pollertest.Gathered(t, c, "vonage_audit_user_overflow_total")[""], float64(n+1); got != want {
		t.Errorf("user_overflow_total = %v, want %v", got, want)
	}
	if n := testutil.CollectAndCount(c, "vonage_audit_user_events_total"); n != 2 {
		t.Errorf("%d user series, want u0 and __other__", n)
	}
}

func TestUserLabelHash(t *testing.T) {
	hex16 := regexp.MustCompile(`^[0-9a-f]{16}$`)
	events := []auditapi.Event{
		userEvent("1", "ana@example.com", "11"),
		userEvent("2", "ana@example.com", "11"),
		userEvent("3", "", "12"),
		userEvent("4", "", ""),
	}
	labels := func(salt string) map[string]float64 {
		a, c := newTestAccount(poller.Options{UserLabel: config.UserLabelHash, UserHashSalt: salt})
		ingestAll(a, events)
		return pollertest.Gathered(t, c, "vonage_audit_user_events_total")
	}
	got := labels("pepper-0123456789")
	if len(got) != 3 {
		t.Fatalf("got series %v, want ana, user 12 and unknown", got)
	}
	for k, v := range got {
		user := strings.TrimPrefix(k, "USER_LOGIN|CD|")
		switch {
		case user == poller.UserUnknown:
			if v != 1 {
				t.Errorf("unknown: %v events, want 1", v)
			}
		case !hex16.MatchString(user):
			t.Errorf("user label %q is not 16 hex digits", user)
		case strings.Contains(k, "ana") || strings.Contains(k, "12"):
			t.Errorf("user label %q shows the user", user)
		}
	}
	if want := "USER_LOGIN|CD|" + poller.HashUser("pepper-0123456789", "ana@example.com"); got[want] != 2 {
		t.Errorf("series %s = %v, want 2 (hash of the email, stable)", want, got[want])
	}
	other := labels("another-salt-0123")
	for k := range got {
		if _, same := other[k]; same && !strings.HasSuffix(k, poller.UserUnknown) {
			t.Errorf("series %s is the same under another salt", k)
		}
	}
	// A known HMAC-SHA256 value (RFC 4231 test case 2), so that the hash
	// stays the same across releases.
	if h := poller.HashUser("Jefe", "what do ya want for nothing?"); h != "5bdcc146bf60754e" {
		t.Errorf("hashUser = %s, want 5bdcc146bf60754e", h)
	}
}

func TestLabelValuesAreBounded(t *testing.T) {
	a, c := newTestAccount(poller.Options{CountryBreakdown: true})
	ev := func(id, country, source string) auditapi.Event {
		return auditapi.Event{ID: id, EventType: "APP_CREATE", CreatedAt: t0, Source: source, SourceCountry: country}
	}
	ingestAll(a, []auditapi.Event{
		ev("1", "GB", "CD"), ev("2", "gb", "cd"), ev("3", "ZZ", "DEVAPI"), ev("4", "XK", "devapi"),
		ev("5", "G", ""), ev("6", "GBR", "SMS"), ev("7", "", "CD"), ev("8", "AN", "CD"), ev("9", "SS", "CD"),
		{ID: "10", EventType: strings.Repeat("X", poller.MaxLabelBytes+1), CreatedAt: t0, Source: "CD"},
		userEvent("11", strings.Repeat("a", poller.MaxLabelBytes)+"@example.com", "7"),
	})
	pollertest.AssertCounts(t, pollertest.Gathered(t, c, "vonage_audit_country_events_total"), map[string]float64{
		"GB|APP_CREATE": 2, "SS|APP_CREATE": 1, "unknown|APP_CREATE": 6, "GB|USER_LOGIN": 1,
	})
	pollertest.AssertCounts(t, pollertest.Gathered(t, c, "vonage_audit_events_total"), map[string]float64{
		"APP_CREATE|CD": 5, "APP_CREATE|DEVAPI": 2, "APP_CREATE|unknown": 1, "APP_CREATE|other": 1, "USER_LOGIN|CD": 1,
	})
	if got := pollertest.Gathered(t, c, "vonage_audit_user_events_total")["USER_LOGIN|CD|unknown"]; got != 1 {
		t.Errorf("an over-long user is %v events of user unknown, want 1", got)
	}
	if got := pollertest.Gathered(t, c, "vonage_audit_events_skipped_total")["invalid"]; got != 1 {
		t.Errorf("skipped{invalid} = %v, want the over-long event type", got)
	}
}

func TestEventTypesAreBounded(t *testing.T) {
	a, c := newTestAccount(poller.Options{UserLabel: config.UserLabelNone})
	var events []auditapi.Event
	for i := range poller.MaxEventTypes + 5 {
		events = append(events, auditapi.Event{ID: fmt.Sprint(i), EventType: fmt.Sprintf("T%d", i), CreatedAt: t0, Source: "CD"})
	}
	ingestAll(a, events)
	ingestAll(a, []auditapi.Event{{ID: "again", EventType: "T0", CreatedAt: t0, Source: "CD"}})
	got := pollertest.Gathered(t, c, "vonage_audit_events_total")
	if len(got) != poller.MaxEventTypes+1 || got["__other__|CD"] != 5 || got["T0|CD"] != 2 {
		t.Errorf("%d series, __other__ %v, T0 %v; want %d, 5 and 2", len(got), got["__other__|CD"], got["T0|CD"], poller.MaxEventTypes+1)
	}
}

// Restored user series keep their places among the max_users, and series
// labelled another way (emails, before a switch to hash) are not restored.
func TestRestoreKeepsUserBounds(t *testing.T) {
	old, _ := newTestAccount(poller.Options{MaxUsers: 2})
	ingestAll(old, []auditapi.Event{userEvent("1", "a@x", ""), userEvent("2", "b@x", "")})
	st := old.Save()

	same, c := newTestAccount(poller.Options{MaxUsers: 2})
	same.Restore(st)
	ingestAll(same, []auditapi.Event{userEvent("3", "c@x", ""), userEvent("4", "a@x", "")})
	pollertest.AssertCounts(t, pollertest.Gathered(t, c, "vonage_audit_user_events_total"), map[string]float64{
		"USER_LOGIN|CD|a@x": 2, "USER_LOGIN|CD|b@x": 1, "USER_LOGIN|CD|__other__": 1,
	})

	hashed, c := newTestAccount(poller.Options{MaxUsers: 2, UserLabel: config.UserLabelHash, UserHashSalt: "pepper-0123456789"})
	hashed.Restore(st)
	if got := pollertest.Gathered(t, c, "vonage_audit_user_events_total"); len(got) != 0 {
		t.Errorf("email series restored into a hash-labelled account: %v", got)
	}
	if got := pollertest.Sum(pollertest.Gathered(t, c, "vonage_audit_events_total")); got != 2 {
		t.Errorf("events_total = %v after restore, want 2", got)
	}
}
