package poller_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// countMaps are the addresses of the count and exemplar maps of s.
func countMaps(s poller.Snapshot) [6]uintptr {
	var out [6]uintptr
	for i, m := range []any{s.Events, s.Users, s.Countries, s.LastEvent, s.EventExemplars, s.UserExemplars} {
		out[i] = reflect.ValueOf(m).Pointer()
	}
	return out
}

// A checkpoint of counts unchanged since the last one shares its maps
// rather than copying them again, as an idle account's does at every save;
// a change, counted or restored, gets a copy of its own and leaves the
// earlier checkpoint as it was.
func TestCheckpointCopiesOnlyChangedCounts(t *testing.T) {
	saved, _ := newTestAccount(poller.Options{Exemplars: true})
	ingestAll(saved, []auditapi.Event{loginBy("r1", "r@x", t0.Add(-3*time.Minute)), loginBy("r2", "r@x", t0.Add(-3*time.Minute))})
	for _, tc := range []struct {
		name   string
		change func(*poller.Poller)
		shared bool
		logins float64
	}{
		{"unchanged", func(*poller.Poller) {}, true, 1},
		{"a duplicate read again", func(a *poller.Poller) {
			ingestAll(a, []auditapi.Event{loginBy("a", "u@x", t0.Add(-2*time.Minute))})
		}, true, 1},
		{"an event counted", func(a *poller.Poller) {
			ingestAll(a, []auditapi.Event{loginBy("b", "u@x", t0.Add(-time.Minute))})
		}, false, 2},
		{"a state restored", func(a *poller.Poller) { a.Restore(saved.Save()) }, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAccount(poller.Options{Exemplars: true})
			ingestAll(a, []auditapi.Event{loginBy("a", "u@x", t0.Add(-2*time.Minute))})
			exported := func(c *poller.Counts) (s poller.Snapshot) {
				a.Read(func(live *poller.Snapshot) { s = c.Export(live) })
				return s
			}
			first := a.Checkpoint().Counts()
			tc.change(a)
			before, after := exported(first), exported(a.Checkpoint().Counts())
			if shared := countMaps(before) == countMaps(after); shared != tc.shared {
				t.Errorf("the checkpoints share their maps: %v, want %v", shared, tc.shared)
			}
			if before.Events[login] != 1 || after.Events[login] != tc.logins {
				t.Errorf("logins exported: %v then %v, want 1 then %v", before.Events[login], after.Events[login], tc.logins)
			}
		})
	}
}
