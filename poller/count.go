package poller

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// Sources are the documented values of an event's source field. Every known
// event type is exported at zero for each of them before the first poll.
var Sources = []string{"CD", "DEVAPI"}

// Label values that stand for more than one user.
const (
	userUnknown = "unknown"
	userOther   = "__other__"
)

// Reasons for not counting an event, the values of events_skipped_total's
// reason label.
const (
	SkipOutOfWindow = "out_of_window"
	SkipInvalid     = "invalid"
)

// Bounds on what the API can make the exporter hold, whatever it sends.
const (
	// overflowMemory is how many overflowing users an account remembers, to
	// count each of them once in vonage_audit_user_overflow_total.
	overflowMemory = 10000
	// maxEventTypes is how many event types an account counts apart; more
	// types than that are counted as "__other__".
	maxEventTypes = 1000
	// maxLabelBytes bounds event types and users: an email has at most 254
	// bytes, and a documented event type fewer than 40.
	maxLabelBytes = 254
	// futureSkew is how far past a poll's window end a created_at can be
	// before it is a broken timestamp rather than a clock difference.
	futureSkew = 10 * time.Minute
)

// zeroType exports every source of an event type at zero. Callers hold mu.
func (p *Poller) zeroType(eventType string) {
	for _, s := range Sources {
		k := EventKey{eventType, s}
		if _, ok := p.s.Events[k]; !ok {
			p.s.Events[k] = 0
			p.countsGen++
		}
	}
}

// wants tells whether the account's event type filter lets a type through.
func (p *Poller) wants(eventType string) bool {
	return len(p.opts.EventTypes) == 0 || slices.Contains(p.opts.EventTypes, eventType)
}

// ingest counts the events of a window that were not counted before.
// Callers hold mu.
func (p *Poller) ingest(events []auditapi.Event, from, to time.Time) {
	for i := range events {
		e := &events[i]
		if e.ID == "" || e.CreatedAt.IsZero() || e.EventType == "" || len(e.EventType) > maxLabelBytes {
			p.s.Skipped[SkipInvalid]++
			continue
		}
		created := e.CreatedAt.UTC().Truncate(time.Second)
		if created.After(to.Add(futureSkew)) {
			// Not remembered: should a later window hold it, it is counted then.
			p.s.Skipped[SkipInvalid]++
			continue
		}
		if created.Before(from) || created.After(to) {
			// Before the window: counted already, or older than the floor.
			// After it: a later poll's window holds it.
			p.s.Skipped[SkipOutOfWindow]++
			continue
		}
		if _, ok := p.seen[e.ID]; ok {
			p.s.Duplicates++
			continue
		}
		p.seen[e.ID] = created
		p.count(e, created)
	}
}

// count adds one new event to the counters. Every label value is bounded,
// so that no answer of the API can grow the series without limit. Callers
// hold mu.
func (p *Poller) count(e *auditapi.Event, created time.Time) {
	p.s.Ingested++
	p.countsGen++
	eventType, source := p.eventTypeOf(e.EventType), sourceOf(e.Source)
	ek := EventKey{eventType, source}
	p.s.Events[ek]++
	ex := Exemplar{ID: e.ID, CreatedAt: e.CreatedAt.UTC()}
	if p.s.EventExemplars != nil {
		keepNewest(p.s.EventExemplars, ek, ex)
	}
	if p.s.CountsUsers {
		uk := UserKey{eventType, source, p.userOf(e)}
		p.s.Users[uk]++
		if p.s.UserExemplars != nil {
			keepNewest(p.s.UserExemplars, uk, ex)
		}
	}
	if p.opts.CountryBreakdown {
		p.s.Countries[CountryKey{eventType, countryOf(e.SourceCountry)}]++
	}
	if created.After(p.s.LastEvent[eventType]) {
		p.s.LastEvent[eventType] = created
	}
}

// eventTypeOf counts every type apart up to maxEventTypes. Callers hold mu.
func (p *Poller) eventTypeOf(t string) string {
	if _, ok := p.s.LastEvent[t]; ok || len(p.s.LastEvent) < maxEventTypes {
		return t
	}
	return userOther
}

// sourceOf keeps the source label to the documented values, whatever the
// spelling, plus "unknown" for none and "other" for anything else.
func sourceOf(s string) string {
	switch {
	case s == "CD" || s == "DEVAPI":
		return s
	case s == "":
		return userUnknown
	case strings.EqualFold(s, "CD"):
		return "CD"
	case strings.EqualFold(s, "DEVAPI"):
		return "DEVAPI"
	}
	return "other"
}

// userOf returns the user label of an event: the first MaxUsers distinct
// users get their own; later ones are counted as "__other__". Callers hold mu.
func (p *Poller) userOf(e *auditapi.Event) string {
	first, second := e.UserEmail, e.UserID
	if p.opts.UserLabel == config.UserLabelID {
		first, second = second, first
	}
	user := first
	if user == "" {
		user = second
	}
	if user == "" || len(user) > maxLabelBytes {
		return userUnknown
	}
	if p.opts.UserLabel == config.UserLabelHash {
		user = hashUser(p.opts.UserHashSalt, user)
	}
	if _, ok := p.userSet[user]; ok {
		return user
	}
	if len(p.userSet) < p.opts.MaxUsers {
		p.userSet[user] = struct{}{}
		return user
	}
	p.overflow(user)
	return userOther
}

// admitUser gives a restored user series its place among the admitted
// users, even past MaxUsers: its series exists already. Callers hold mu.
func (p *Poller) admitUser(user string) {
	if user != userUnknown && user != userOther {
		p.userSet[user] = struct{}{}
	}
}

// overflow counts a user that did not get a series of its own: once while
// fewer than overflowMemory such users are remembered, and at each new
// event after that, so that the counter keeps rising while users overflow.
// Callers hold mu.
func (p *Poller) overflow(user string) {
	h := overflowHash(user)
	if _, ok := p.overflowSeen[h]; ok {
		return
	}
	if len(p.overflowSeen) < overflowMemory {
		p.overflowSeen[h] = struct{}{}
	}
	p.s.UserOverflow++
}

// overflowHash is the 64-bit FNV-1a hash of a user label value: stable
// across processes, so that the state file can keep the overflowing users.
func overflowHash(user string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(user))
	return h.Sum64()
}

// labels tells how the poller labels its user and country series, without
// holding the salt.
func (p *Poller) labels() string {
	userLabel := p.opts.UserLabel
	if userLabel == config.UserLabelHash {
		h := sha256.Sum256([]byte(p.opts.UserHashSalt))
		userLabel += ":" + hex.EncodeToString(h[:8])
	}
	return fmt.Sprintf("%s|%t", userLabel, p.opts.CountryBreakdown)
}

// hashUser is the user label of config.UserLabelHash: stable for a salt,
// and without the salt not reversible by hashing a list of known emails.
func hashUser(salt, user string) string {
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(user))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

// countryOf keeps the country label to the assigned ISO 3166-1 alpha-2
// codes, in upper case, and "unknown".
func countryOf(c string) string {
	if len(c) == 2 {
		c = strings.ToUpper(c)
		if _, ok := iso3166[c]; ok {
			return c
		}
	}
	return userUnknown
}
