package poller_test

import (
	"maps"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

var login = poller.EventKey{EventType: "USER_LOGIN", Source: "CD"}

func loginBy(id, email string, at time.Time) auditapi.Event {
	return auditapi.Event{ID: id, EventType: "USER_LOGIN", CreatedAt: at, UserEmail: email, Source: "CD"}
}

func ex(id string, at time.Time) poller.Exemplar { return poller.Exemplar{ID: id, CreatedAt: at} }

// exemplarsOf copies what the account's exemplars are, and its count of
// USER_LOGIN from CD.
func exemplarsOf(a *poller.Poller) (events map[poller.EventKey]poller.Exemplar, users map[poller.UserKey]poller.Exemplar, logins float64) {
	a.Read(func(s *poller.Snapshot) {
		events, users, logins = maps.Clone(s.EventExemplars), maps.Clone(s.UserExemplars), s.Events[login]
	})
	return events, users, logins
}

// The exemplar is the event with the latest created_at, then the greatest
// id, whatever the order in which polls and pages bring the events.
func TestExemplarIsTheNewestEventCounted(t *testing.T) {
	t1, t2, t3 := t0.Add(-3*time.Minute), t0.Add(-2*time.Minute), t0.Add(-time.Minute)
	tests := []struct {
		name  string
		polls [][]auditapi.Event
		want  poller.Exemplar
	}{
		{"oldest first", [][]auditapi.Event{{loginBy("a", "u@x", t1), loginBy("b", "u@x", t2), loginBy("c", "u@x", t3)}}, ex("c", t3)},
		{"newest first", [][]auditapi.Event{{loginBy("c", "u@x", t3), loginBy("b", "u@x", t2), loginBy("a", "u@x", t1)}}, ex("c", t3)},
		{"a late event older than the exemplar", [][]auditapi.Event{{loginBy("b", "u@x", t2)}, {loginBy("a", "u@x", t1)}}, ex("b", t2)},
		{"a late event newer than the exemplar", [][]auditapi.Event{{loginBy("a", "u@x", t1)}, {loginBy("c", "u@x", t3)}}, ex("c", t3)},
		{"same second, greatest id last", [][]auditapi.Event{{loginBy("x", "u@x", t2), loginBy("y", "u@x", t2), loginBy("z", "u@x", t2)}}, ex("z", t2)},
		{"same second, greatest id first", [][]auditapi.Event{{loginBy("z", "u@x", t2), loginBy("y", "u@x", t2)}, {loginBy("x", "u@x", t2)}}, ex("z", t2)},
		{"a duplicate of an older event", [][]auditapi.Event{{loginBy("a", "u@x", t1), loginBy("b", "u@x", t2)}, {loginBy("a", "u@x", t3)}}, ex("b", t2)},
		{"an invalid event is not counted", [][]auditapi.Event{{loginBy("a", "u@x", t1), {ID: "b", CreatedAt: t3, Source: "CD"}}}, ex("a", t1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestAccount(poller.Options{Exemplars: true})
			for _, events := range tt.polls {
				ingestAll(a, events)
			}
			events, users, _ := exemplarsOf(a)
			if got := events[login]; got != tt.want {
				t.Errorf("exemplar of %v = %v, want %v", login, got, tt.want)
			}
			if got := users[poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: "u@x"}]; got != tt.want {
				t.Errorf("exemplar of u@x's series = %v, want %v", got, tt.want)
			}
		})
	}
}

// Each user series has the newest event of its own user; the users counted
// as __other__ share theirs, and an event series has the newest of all.
func TestExemplarOfEachUserSeries(t *testing.T) {
	a, _ := newTestAccount(poller.Options{Exemplars: true, MaxUsers: 1})
	ingestAll(a, []auditapi.Event{
		loginBy("a1", "a@x", t0.Add(-4*time.Minute)),
		loginBy("b1", "b@x", t0.Add(-3*time.Minute)),
		loginBy("a2", "a@x", t0.Add(-2*time.Minute)),
		loginBy("c1", "c@x", t0.Add(-5*time.Minute)),
		{ID: "d1", EventType: "APP_DELETE", CreatedAt: t0, UserEmail: "a@x", Source: "DEVAPI"},
	})
	events, users, _ := exemplarsOf(a)
	wantEvents := map[poller.EventKey]poller.Exemplar{
		login: ex("a2", t0.Add(-2*time.Minute)),
		{EventType: "APP_DELETE", Source: "DEVAPI"}: ex("d1", t0),
	}
	wantUsers := map[poller.UserKey]poller.Exemplar{
		{EventType: "USER_LOGIN", Source: "CD", User: "a@x"}:       ex("a2", t0.Add(-2*time.Minute)),
		{EventType: "USER_LOGIN", Source: "CD", User: "__other__"}: ex("b1", t0.Add(-3*time.Minute)),
		{EventType: "APP_DELETE", Source: "DEVAPI", User: "a@x"}:   ex("d1", t0),
	}
	if !maps.Equal(events, wantEvents) {
		t.Errorf("event series exemplars = %v, want %v", events, wantEvents)
	}
	if !maps.Equal(users, wantUsers) {
		t.Errorf("user series exemplars = %v, want %v", users, wantUsers)
	}
}

// Without Options.Exemplars nothing is kept, nor saved.
func TestNoExemplarsWhenOff(t *testing.T) {
	a, _ := newTestAccount(poller.Options{})
	ingestAll(a, []auditapi.Event{loginBy("a", "u@x", t0)})
	if events, users, _ := exemplarsOf(a); events != nil || users != nil {
		t.Errorf("exemplars kept while off: %v %v", events, users)
	}
	st := a.Save()
	for _, s := range st.Events {
		if s.Newest.ID != "" {
			t.Errorf("saved an exemplar while off: %+v", s)
		}
	}
}

// Exemplars come back from a saved state with their series, and a late
// event after the restore does not replace a newer restored one.
func TestExemplarsSurviveRestore(t *testing.T) {
	a, _ := newTestAccount(poller.Options{Exemplars: true})
	ingestAll(a, []auditapi.Event{loginBy("b", "u@x", t0.Add(-2*time.Minute)), loginBy("a", "u@x", t0.Add(-3*time.Minute))})
	st := a.Save()
	wantEvents, wantUsers, _ := exemplarsOf(a)

	hashed := poller.Options{Exemplars: true, UserLabel: config.UserLabelHash, UserHashSalt: "0123456789abcdef"}
	tests := []struct {
		name              string
		opts              poller.Options
		wantRestoredUsers map[poller.UserKey]poller.Exemplar
		late              auditapi.Event
		wantEvent         poller.Exemplar
	}{
		{"a late older event", poller.Options{Exemplars: true}, wantUsers, loginBy("c", "u@x", t0.Add(-4*time.Minute)), ex("b", t0.Add(-2*time.Minute))},
		{"a newer event", poller.Options{Exemplars: true}, wantUsers, loginBy("c", "u@x", t0.Add(-time.Minute)), ex("c", t0.Add(-time.Minute))},
		{"user series relabelled, so dropped", hashed, nil, loginBy("c", "u@x", t0.Add(-4*time.Minute)), ex("b", t0.Add(-2*time.Minute))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := newTestAccount(tt.opts)
			b.Restore(st)
			events, users, _ := exemplarsOf(b)
			if !maps.Equal(events, wantEvents) {
				t.Errorf("restored event exemplars = %v, want %v", events, wantEvents)
			}
			if !maps.Equal(users, tt.wantRestoredUsers) {
				t.Errorf("restored user exemplars = %v, want %v", users, tt.wantRestoredUsers)
			}
			ingestAll(b, []auditapi.Event{tt.late})
			events, users, logins := exemplarsOf(b)
			if events[login] != tt.wantEvent || logins != 3 {
				t.Errorf("after the event, exemplar = %v with %v logins, want %v with 3", events[login], logins, tt.wantEvent)
			}
			if len(users) != 1 {
				t.Errorf("after the event, user exemplars = %v, want one for u@x's series", users)
			}
		})
	}

	off, _ := newTestAccount(poller.Options{})
	off.Restore(st)
	if events, users, _ := exemplarsOf(off); events != nil || users != nil {
		t.Errorf("a poller without exemplars restored some: %v %v", events, users)
	}
}

// With a state file an account exports its last checkpoint: the exemplars
// exported are the checkpoint's, which name events its counts include.
func TestCheckpointExportsItsExemplars(t *testing.T) {
	a, _ := newTestAccount(poller.Options{Exemplars: true})
	ingestAll(a, []auditapi.Event{loginBy("a", "u@x", t0.Add(-2*time.Minute))})
	cp := a.Checkpoint().Counts()
	ingestAll(a, []auditapi.Event{loginBy("b", "u@x", t0.Add(-time.Minute))})
	var exported poller.Snapshot
	a.Read(func(live *poller.Snapshot) { exported = cp.Export(live) })
	if got, want := exported.EventExemplars[login], ex("a", t0.Add(-2*time.Minute)); got != want || exported.Events[login] != 1 {
		t.Errorf("checkpoint exports %v logins with exemplar %v, want 1 with %v", exported.Events[login], got, want)
	}
	if got := exported.UserExemplars[poller.UserKey{EventType: "USER_LOGIN", Source: "CD", User: "u@x"}]; got.ID != "a" {
		t.Errorf("checkpoint exports user exemplar %v, want event a's", got)
	}
}
