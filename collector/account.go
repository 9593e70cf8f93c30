package collector

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// API is the part of the Audit API client that counting needs.
type API interface {
	Pages(ctx context.Context, q auditapi.Query, fn func(*auditapi.Page) error) error
	EventTypes(ctx context.Context) ([]auditapi.EventType, error)
}

// Sources are the documented values of an event's source field. Every known
// event type is exported at zero for each of them before the first poll.
var Sources = []string{"CD", "DEVAPI"}

// User label choices, as in the config file.
const (
	UserLabelEmail = "email"
	UserLabelID    = "id"
	UserLabelNone  = "none"
	UserLabelHash  = "hash"
)

// Label values that stand for more than one user.
const (
	userUnknown = "unknown"
	userOther   = "__other__"
)

// DefaultMaxUsers applies when AccountOptions.MaxUsers is 0.
const DefaultMaxUsers = 500

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

// Poll error reasons, also the values of the reason label.
var pollErrorReasons = []string{"auth", "quota", "rate_limited", "server", "timeout", "network", "decode", "other"}

// Reasons for not counting an event.
const (
	skipOutOfWindow = "out_of_window"
	skipInvalid     = "invalid"
)

// AccountOptions configures the counting of one Vonage account.
type AccountOptions struct {
	Name       string
	API        API
	EventTypes []string // server-side filter; empty: all types
	Lookback   time.Duration
	Overlap    time.Duration
	UserLabel  string
	// UserHashSalt keys the HMAC of UserLabelHash.
	UserHashSalt string
	// MaxUsers is how many distinct users get a series of their own; 0
	// means DefaultMaxUsers.
	MaxUsers         int
	CountryBreakdown bool
	Logger           log.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type typeSource struct{ eventType, source string }

type typeSourceUser struct{ eventType, source, user string }

type typeCountry struct{ eventType, country string }

// Account counts the audit events of one Vonage account, each exactly once.
//
// The cursor is the pinned end of the last successful poll's window. Each
// poll reads [cursor-overlap-1s, now] and keeps the ids it has seen for as
// long as a later poll can read them again, so an event is counted once
// whatever the page order, page shifts, retries or failed polls.
type Account struct {
	opts AccountOptions

	pollMu sync.Mutex // one poll at a time

	mu sync.Mutex // guards everything below
	// floor: events created before it are never counted (start minus lookback).
	floor time.Time
	// cursor: the window end of the last successful poll; zero before the first.
	cursor     time.Time
	seen       map[string]time.Time
	typesKnown bool

	events    map[typeSource]float64
	users     map[typeSourceUser]float64
	countries map[typeCountry]float64
	lastEvent map[string]time.Time

	// users admitted to a series of their own, at most opts.MaxUsers.
	userSet map[string]struct{}
	// overflowSeen remembers, by hash, up to overflowMemory users counted
	// as "__other__", so that userOverflow counts each of them once.
	overflowSeen map[uint64]struct{}
	overflowSeed maphash.Seed
	userOverflow float64

	up            bool
	lastSuccess   time.Time
	pollDuration  time.Duration
	polls         float64
	pollErrors    map[string]float64
	ingested      float64
	duplicates    float64
	skipped       map[string]float64
	overruns      float64
	lastPollStart time.Time
}

// NewAccount returns an account whose first poll counts events created from
// lookback before now.
func NewAccount(opts AccountOptions) *Account {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	if opts.MaxUsers <= 0 {
		opts.MaxUsers = DefaultMaxUsers
	}
	a := &Account{
		userSet:      map[string]struct{}{},
		overflowSeen: map[uint64]struct{}{},
		overflowSeed: maphash.MakeSeed(),
		opts:         opts,
		floor:        opts.Now().UTC().Add(-opts.Lookback).Truncate(time.Second),
		seen:         map[string]time.Time{},
		events:       map[typeSource]float64{},
		users:        map[typeSourceUser]float64{},
		countries:    map[typeCountry]float64{},
		lastEvent:    map[string]time.Time{},
		pollErrors:   map[string]float64{},
		skipped:      map[string]float64{skipOutOfWindow: 0, skipInvalid: 0},
	}
	for _, r := range pollErrorReasons {
		a.pollErrors[r] = 0
	}
	for _, t := range opts.EventTypes {
		a.zeroType(t)
	}
	return a
}

// Name is the account label value.
func (a *Account) Name() string { return a.opts.Name }

// zeroType exports every source of an event type at zero. Callers hold mu.
func (a *Account) zeroType(eventType string) {
	for _, s := range Sources {
		k := typeSource{eventType, s}
		if _, ok := a.events[k]; !ok {
			a.events[k] = 0
		}
	}
}

// window returns the time range the next poll reads.
func (a *Account) window(now time.Time) (from, to time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	to = now.UTC().Truncate(time.Second)
	from = a.floor
	if !a.cursor.IsZero() {
		// One second more than the overlap: created_at has one-second
		// resolution and the API may treat its bounds as exclusive.
		if f := a.cursor.Add(-a.opts.Overlap - time.Second); f.After(from) {
			from = f
		}
	}
	if from.After(to) {
		from = to
	}
	return from, to
}

// Poll reads the events created since the last successful poll and counts
// the new ones. Concurrent calls run one after the other.
func (a *Account) Poll(ctx context.Context) error {
	a.pollMu.Lock()
	defer a.pollMu.Unlock()

	start := a.opts.Now()
	a.mu.Lock()
	a.lastPollStart = start
	a.mu.Unlock()

	a.loadEventTypes(ctx)

	from, to := a.window(start)
	q := auditapi.Query{EventTypes: a.opts.EventTypes, From: from, To: to, Size: auditapi.MaxPageSize}
	err := a.opts.API.Pages(ctx, q, func(p *auditapi.Page) error {
		a.ingest(p.Events, from, to)
		return nil
	})

	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil && ctx.Err() != nil {
		// Shutdown or reload, not an API failure: what the poll counted
		// stays counted, and the cursor stays where it was.
		level.Info(a.opts.Logger).Log("msg", "Poll abandoned; the next poll reads the same window again", "account", a.opts.Name, "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339))
		return fmt.Errorf("polling account %q: %w", a.opts.Name, err)
	}
	a.polls++
	a.pollDuration = a.opts.Now().Sub(start)
	if err != nil {
		a.up = false
		a.pollErrors[reasonLabel(err)]++
		level.Error(a.opts.Logger).Log("msg", "Polling the Audit API failed; the next poll reads the same window again", "account", a.opts.Name, "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339), "err", err)
		return fmt.Errorf("polling account %q: %w", a.opts.Name, err)
	}
	a.up = true
	a.cursor = to
	a.lastSuccess = a.opts.Now()
	a.prune()
	level.Debug(a.opts.Logger).Log("msg", "Polled the Audit API", "account", a.opts.Name, "from", from.Format(time.RFC3339), "to", to.Format(time.RFC3339), "duration", a.pollDuration)
	return nil
}

// loadEventTypes exports every type listed by OPTIONS at zero, once. The
// list is only a hint: a failure is logged and tried again next poll.
func (a *Account) loadEventTypes(ctx context.Context) {
	a.mu.Lock()
	known := a.typesKnown
	a.mu.Unlock()
	if known {
		return
	}
	types, err := a.opts.API.EventTypes(ctx)
	if err != nil {
		level.Warn(a.opts.Logger).Log("msg", "Listing event types failed; series of types not seen yet are not exported at zero", "account", a.opts.Name, "err", err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.typesKnown = true
	for _, t := range types {
		if t.Type != "" && a.wants(t.Type) {
			a.zeroType(t.Type)
		}
	}
}

// wants tells whether the account's event type filter lets a type through.
func (a *Account) wants(eventType string) bool {
	if len(a.opts.EventTypes) == 0 {
		return true
	}
	for _, t := range a.opts.EventTypes {
		if t == eventType {
			return true
		}
	}
	return false
}

// ingest counts the events of one page that were not counted before.
func (a *Account) ingest(events []auditapi.Event, from, to time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range events {
		e := &events[i]
		if e.ID == "" || e.CreatedAt.IsZero() || e.EventType == "" || len(e.EventType) > maxLabelBytes {
			a.skipped[skipInvalid]++
			continue
		}
		created := e.CreatedAt.UTC().Truncate(time.Second)
		if created.After(to.Add(futureSkew)) {
			// Not remembered: should a later window hold it, it is counted then.
			a.skipped[skipInvalid]++
			continue
		}
		if created.Before(from) || created.After(to) {
			// Before the window: counted already, or older than the floor.
			// After it: a later poll's window holds it.
			a.skipped[skipOutOfWindow]++
			continue
		}
		if _, ok := a.seen[e.ID]; ok {
			a.duplicates++
			continue
		}
		a.seen[e.ID] = created
		a.count(e, created)
	}
}

// count adds one new event to the counters. Every label value is bounded,
// so that no answer of the API can grow the series without limit. Callers
// hold mu.
func (a *Account) count(e *auditapi.Event, created time.Time) {
	a.ingested++
	eventType, source := a.eventTypeOf(e.EventType), sourceOf(e.Source)
	a.events[typeSource{eventType, source}]++
	if a.opts.UserLabel != UserLabelNone {
		a.users[typeSourceUser{eventType, source, a.userOf(e)}]++
	}
	if a.opts.CountryBreakdown {
		a.countries[typeCountry{eventType, countryOf(e.SourceCountry)}]++
	}
	if created.After(a.lastEvent[eventType]) {
		a.lastEvent[eventType] = created
	}
}

// eventTypeOf counts every type apart up to maxEventTypes. Callers hold mu.
func (a *Account) eventTypeOf(t string) string {
	if _, ok := a.lastEvent[t]; ok || len(a.lastEvent) < maxEventTypes {
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
func (a *Account) userOf(e *auditapi.Event) string {
	first, second := e.UserEmail, e.UserID
	if a.opts.UserLabel == UserLabelID {
		first, second = second, first
	}
	user := first
	if user == "" {
		user = second
	}
	if user == "" || len(user) > maxLabelBytes {
		return userUnknown
	}
	if a.opts.UserLabel == UserLabelHash {
		user = hashUser(a.opts.UserHashSalt, user)
	}
	if _, ok := a.userSet[user]; ok {
		return user
	}
	if len(a.userSet) < a.opts.MaxUsers {
		a.userSet[user] = struct{}{}
		return user
	}
	a.overflow(user)
	return userOther
}

// admitUser gives a restored user series its place among the admitted
// users, even past MaxUsers: its series exists already. Callers hold mu.
func (a *Account) admitUser(user string) {
	if user != userUnknown && user != userOther {
		a.userSet[user] = struct{}{}
	}
}

// labels tells how the account labels its user and country series.
func (a *Account) labels() string {
	return labelSpec(a.opts.UserLabel, a.opts.UserHashSalt, a.opts.CountryBreakdown)
}

// labelSpec identifies a labelling of the user and country series without
// holding the salt.
func labelSpec(userLabel, salt string, countries bool) string {
	if userLabel == UserLabelHash {
		h := sha256.Sum256([]byte(salt))
		userLabel += ":" + hex.EncodeToString(h[:8])
	}
	return fmt.Sprintf("%s|%t", userLabel, countries)
}

// overflow counts a user that did not get a series of its own: once while
// fewer than overflowMemory such users are remembered, and at each new
// event after that, so that the counter keeps rising while users overflow.
// Callers hold mu.
func (a *Account) overflow(user string) {
	h := maphash.String(a.overflowSeed, user)
	if _, ok := a.overflowSeen[h]; ok {
		return
	}
	if len(a.overflowSeen) < overflowMemory {
		a.overflowSeen[h] = struct{}{}
	}
	a.userOverflow++
}

// hashUser is the user label of UserLabelHash: stable for a salt, and
// without the salt not reversible by hashing a list of known emails.
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

// prune forgets the ids that no later poll can read again, keeping memory
// bounded by the overlap window. The floor follows, so that a larger
// overlap after a reload or restart never reads back past the ids kept.
// Callers hold mu.
func (a *Account) prune() {
	from := a.cursor.Add(-a.opts.Overlap - time.Second)
	if from.After(a.floor) {
		a.floor = from
	}
	for id, created := range a.seen {
		if created.Before(from) {
			delete(a.seen, id)
		}
	}
}

func reasonLabel(err error) string {
	r := auditapi.Reason(err)
	for _, known := range pollErrorReasons {
		if r == known {
			return r
		}
	}
	return "other"
}
