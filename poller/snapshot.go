package poller

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/reading"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// EventKey labels a series of vonage_audit_events_total.
type EventKey struct{ EventType, Source string }

// UserKey labels a series of vonage_audit_user_events_total.
type UserKey struct{ EventType, Source, User string }

// CountryKey labels a series of vonage_audit_country_events_total.
type CountryKey struct{ EventType, Country string }

// Exemplar is the event that a series' exemplar names: the newest counted
// for the series.
type Exemplar struct {
	ID        string
	CreatedAt time.Time
}

// newer tells whether e replaces old as a series' exemplar: created later,
// or at the same second with a greater id, so that the choice does not
// depend on the order in which the API serves events, late ones included.
func (e Exemplar) newer(old Exemplar) bool {
	if c := e.CreatedAt.Compare(old.CreatedAt); c != 0 {
		return c > 0
	}
	return e.ID > old.ID
}

// keepNewest makes e the exemplar of series k unless a newer one is held.
func keepNewest[K comparable](m map[K]Exemplar, k K, e Exemplar) {
	if old, ok := m[k]; !ok || e.newer(old) {
		m[k] = e
	}
}

// restoreExemplar puts back a saved exemplar, when the poller keeps them.
func restoreExemplar[K comparable](m map[K]Exemplar, k K, e state.Exemplar) {
	if m != nil && e.ID != "" {
		keepNewest(m, k, Exemplar(e))
	}
}

// Snapshot is what an account exports: its counters and its report on its
// own polls. Read lends it; it must not be changed or kept.
type Snapshot struct {
	Account string
	// CountsUsers is false when the user label is "none": no user series,
	// and no user overflow.
	CountsUsers bool

	Events    map[EventKey]float64
	Users     map[UserKey]float64
	Countries map[CountryKey]float64
	LastEvent map[string]time.Time
	// EventExemplars and UserExemplars hold the newest event counted for
	// each event and user series; nil unless Options.Exemplars.
	EventExemplars map[EventKey]Exemplar
	UserExemplars  map[UserKey]Exemplar
	// UserOverflow counts the distinct users counted as "__other__".
	UserOverflow float64

	Up          bool
	LastSuccess time.Time
	// Cursor is the window end of the last successful poll; zero before the first.
	Cursor       time.Time
	PollDuration time.Duration
	PollRequests float64
	Polls        float64
	PollErrors   map[string]float64 // by reason
	Overruns     float64
	Ingested     float64
	Duplicates   float64
	Skipped      map[string]float64 // by reason
	// Reading is what the account's API was seen to do.
	Reading reading.Reading
	// Inconsistencies counts the API's answers that did not add up, by
	// kind (reading.Kinds).
	Inconsistencies map[string]float64
}

// Read calls fn with the poller's snapshot, holding off counting until fn
// returns: a scrape reads the maps in place rather than copying them, so fn
// must be quick and must not keep them.
func (p *Poller) Read(fn func(*Snapshot)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(&p.s)
}

// Checkpoint is a copy of an account's counting state taken at one instant:
// the counters, the cursor and the seen ids that go with them. It is what
// the state file keeps and, when there is one, what the account exports,
// so that a counter never reads more than what a restart would restore.
// It is not changed after Checkpoint returns it.
type Checkpoint struct {
	counts   Snapshot
	floor    time.Time
	seen     map[string]time.Time
	overflow []uint64 // the overflowing users remembered, sorted
	labels   string
}

// Checkpoint copies the poller's counting state. Counters, seen ids and the
// cursor are changed together under mu, so a copy taken even in the middle
// of a poll is consistent: a restored poller reads again from the cursor
// and skips the ids it counted.
func (p *Poller) Checkpoint() *Checkpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.copied.counts == nil || p.copied.gen != p.countsGen {
		p.copied.gen = p.countsGen
		p.copied.counts = &Snapshot{
			Events:    maps.Clone(p.s.Events),
			Users:     maps.Clone(p.s.Users),
			Countries: maps.Clone(p.s.Countries),
			LastEvent: maps.Clone(p.s.LastEvent),
			// Exemplars go with the counts they name the newest event of.
			EventExemplars: maps.Clone(p.s.EventExemplars),
			UserExemplars:  maps.Clone(p.s.UserExemplars),
		}
	}
	c := p.copied.counts
	return &Checkpoint{
		counts: Snapshot{
			Events:         c.Events,
			Users:          c.Users,
			Countries:      c.Countries,
			LastEvent:      c.LastEvent,
			EventExemplars: c.EventExemplars,
			UserExemplars:  c.UserExemplars,
			UserOverflow:   p.s.UserOverflow,
			Cursor:         p.s.Cursor,
			Ingested:       p.s.Ingested,
			Duplicates:     p.s.Duplicates,
		},
		floor:    p.floor,
		seen:     maps.Clone(p.seen),
		overflow: slices.Sorted(maps.Keys(p.overflowSeen)),
		labels:   p.labels(),
	}
}

// Counts are the counters and cursor of a Checkpoint: what an account
// exports from one save to the next. They leave out the seen ids, which
// only the state file needs and which are as many as the events of the
// lookback: kept with the counts exported, they held some 7 MB at 1,000
// accounts. They are not changed once made.
type Counts struct{ counts Snapshot }

// Counts returns the counters and cursor of c, sharing its maps. The
// Counts do not keep c, nor its seen ids, alive.
func (c *Checkpoint) Counts() *Counts { return &Counts{counts: c.counts} }

// Export returns live, the snapshot of the same account, with the counters
// and cursor of c: what the account exports when only saved counts may be
// shown. The maps are shared with c and live, not copied.
func (c *Counts) Export(live *Snapshot) Snapshot {
	s := *live
	s.Events, s.Users, s.Countries, s.LastEvent = c.counts.Events, c.counts.Users, c.counts.Countries, c.counts.LastEvent
	s.EventExemplars, s.UserExemplars = c.counts.EventExemplars, c.counts.UserExemplars
	s.UserOverflow, s.Cursor, s.Ingested, s.Duplicates = c.counts.UserOverflow, c.counts.Cursor, c.counts.Ingested, c.counts.Duplicates
	return s
}

// State returns c as the state file keeps it; the fingerprint is the
// caller's to set.
func (c *Checkpoint) State() state.Account {
	st := state.Account{
		Floor:        c.floor,
		Cursor:       c.counts.Cursor,
		Seen:         c.seen,
		LastEvent:    c.counts.LastEvent,
		Labels:       c.labels,
		Ingested:     c.counts.Ingested,
		Duplicates:   c.counts.Duplicates,
		UserOverflow: c.counts.UserOverflow,
		OverflowSeen: c.overflow,
		Events:       make([]state.EventSeries, 0, len(c.counts.Events)),
		Users:        make([]state.UserSeries, 0, len(c.counts.Users)),
		Countries:    make([]state.CountrySeries, 0, len(c.counts.Countries)),
	}
	for k, v := range c.counts.Events {
		st.Events = append(st.Events, state.EventSeries{EventType: k.EventType, Source: k.Source, Value: v, Newest: state.Exemplar(c.counts.EventExemplars[k])})
	}
	for k, v := range c.counts.Users {
		st.Users = append(st.Users, state.UserSeries{EventType: k.EventType, Source: k.Source, User: k.User, Value: v, Newest: state.Exemplar(c.counts.UserExemplars[k])})
	}
	for k, v := range c.counts.Countries {
		st.Countries = append(st.Countries, state.CountrySeries{EventType: k.EventType, Country: k.Country, Value: v})
	}
	// Sorted, so that the file reads well and diffs cleanly.
	slices.SortFunc(st.Events, func(x, y state.EventSeries) int {
		return cmp.Or(strings.Compare(x.EventType, y.EventType), strings.Compare(x.Source, y.Source))
	})
	slices.SortFunc(st.Users, func(x, y state.UserSeries) int {
		return cmp.Or(strings.Compare(x.EventType, y.EventType), strings.Compare(x.Source, y.Source), strings.Compare(x.User, y.User))
	})
	slices.SortFunc(st.Countries, func(x, y state.CountrySeries) int {
		return cmp.Or(strings.Compare(x.EventType, y.EventType), strings.Compare(x.Country, y.Country))
	})
	return st
}

// Save copies the poller's counting state, for the state file, as
// Checkpoint does.
func (p *Poller) Save() state.Account { return p.Checkpoint().State() }

// Restore replaces the poller's counting state with st. It is called before
// the poller's first poll, or with its polls stopped. User and country
// series labelled otherwise than the poller labels them are dropped, and
// so are the exemplars of a poller that keeps none.
func (p *Poller) Restore(st state.Account) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countsGen++
	p.floor = st.Floor
	p.s.Cursor = st.Cursor
	p.seen = make(map[string]time.Time, len(st.Seen))
	maps.Copy(p.seen, st.Seen)
	maps.Copy(p.s.LastEvent, st.LastEvent)
	for _, s := range st.Events {
		k := EventKey{s.EventType, s.Source}
		p.s.Events[k] = s.Value
		restoreExemplar(p.s.EventExemplars, k, s.Newest)
	}
	if st.Labels == p.labels() {
		for _, s := range st.Users {
			k := UserKey{s.EventType, s.Source, s.User}
			p.s.Users[k] = s.Value
			restoreExemplar(p.s.UserExemplars, k, s.Newest)
			p.admitUser(s.User)
		}
		for _, s := range st.Countries {
			p.s.Countries[CountryKey{s.EventType, s.Country}] = s.Value
		}
		p.s.UserOverflow = st.UserOverflow
		p.overflowSeen = make(map[uint64]struct{}, len(st.OverflowSeen))
		for _, h := range st.OverflowSeen[:min(len(st.OverflowSeen), overflowMemory)] {
			p.overflowSeen[h] = struct{}{}
		}
	}
	p.s.Ingested = st.Ingested
	p.s.Duplicates = st.Duplicates
}

// Inherit gives a rebuilt poller everything of the poller it replaces, not
// only what the state file keeps: a reload that changes a setting (a
// rotated secret, an overlap) must reset no counter, nor up and the last
// success time that alerts watch. Neither poller is polling.
func (p *Poller) Inherit(old *Poller) {
	p.Restore(old.Save())
	old.mu.Lock()
	defer old.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.typesKnown = old.typesKnown
	p.lastPollStart = old.lastPollStart
	p.s.Up, p.s.LastSuccess = old.s.Up, old.s.LastSuccess
	p.s.PollDuration, p.s.PollRequests, p.s.Polls = old.s.PollDuration, old.s.PollRequests, old.s.Polls
	p.s.Overruns, p.s.UserOverflow = old.s.Overruns, old.s.UserOverflow
	maps.Copy(p.s.PollErrors, old.s.PollErrors)
	maps.Copy(p.s.Skipped, old.s.Skipped)
	maps.Copy(p.s.Inconsistencies, old.s.Inconsistencies)
}
