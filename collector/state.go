package collector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// stateVersion is the version of the state file's format. A file of any
// other version is set aside, never guessed at.
const stateVersion = 1

// stateFile is the content of the state file.
type stateFile struct {
	Version  int                     `json:"version"`
	SavedAt  time.Time               `json:"saved_at"`
	Accounts map[string]accountState `json:"accounts"`
}

// accountState is what an account needs to go on counting after a restart
// without counting an event twice: the ids it has seen and the counters
// that include them are saved together, from one snapshot.
type accountState struct {
	// Fingerprint says which account, API key, API URL and event type
	// filter the state was counted for; the secret is not part of it.
	Fingerprint string               `json:"fingerprint"`
	Floor       time.Time            `json:"floor"`
	Cursor      time.Time            `json:"cursor"`
	Seen        map[string]time.Time `json:"seen"`
	Events      []eventSeries        `json:"events"`
	Users       []userSeries         `json:"users"`
	Countries   []countrySeries      `json:"countries"`
	LastEvent   map[string]time.Time `json:"last_event"`
	// Labels says how the user and country series were labelled (the
	// salt hashed); series labelled otherwise are not restored, so that a
	// switch to user_label hash drops the emails.
	Labels     string  `json:"labels,omitempty"`
	Ingested   float64 `json:"ingested"`
	Duplicates float64 `json:"duplicates"`
}

type eventSeries struct {
	EventType string  `json:"event_type"`
	Source    string  `json:"source"`
	Value     float64 `json:"value"`
}

type userSeries struct {
	EventType string  `json:"event_type"`
	Source    string  `json:"source"`
	User      string  `json:"user"`
	Value     float64 `json:"value"`
}

type countrySeries struct {
	EventType string  `json:"event_type"`
	Country   string  `json:"country"`
	Value     float64 `json:"value"`
}

// fingerprint identifies what an account's counters are counts of. A state
// entry, or a running account on reload, with another fingerprint is not
// carried over: its ids and cursor say nothing about this account's events.
func fingerprint(acc config.Account) string {
	types := slices.Clone(acc.EventTypes)
	sort.Strings(types)
	h := sha256.Sum256([]byte(strings.Join([]string{acc.Name, acc.APIKey, acc.APIURL, strings.Join(types, ",")}, "\x00")))
	return hex.EncodeToString(h[:])
}

// snapshot copies the account's counting state. Counters and seen ids are
// changed together under mu, so a snapshot taken even in the middle of a
// poll is consistent: a restored account skips the ids it counted.
func (a *Account) snapshot() accountState {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := accountState{
		Floor:      a.floor,
		Cursor:     a.cursor,
		Seen:       make(map[string]time.Time, len(a.seen)),
		LastEvent:  make(map[string]time.Time, len(a.lastEvent)),
		Labels:     a.labels(),
		Ingested:   a.ingested,
		Duplicates: a.duplicates,
		Events:     make([]eventSeries, 0, len(a.events)),
		Users:      make([]userSeries, 0, len(a.users)),
		Countries:  make([]countrySeries, 0, len(a.countries)),
	}
	for id, t := range a.seen {
		st.Seen[id] = t
	}
	for t, ts := range a.lastEvent {
		st.LastEvent[t] = ts
	}
	for k, v := range a.events {
		st.Events = append(st.Events, eventSeries{k.eventType, k.source, v})
	}
	for k, v := range a.users {
		st.Users = append(st.Users, userSeries{k.eventType, k.source, k.user, v})
	}
	for k, v := range a.countries {
		st.Countries = append(st.Countries, countrySeries{k.eventType, k.country, v})
	}
	// Sorted, so that the file reads well and diffs cleanly.
	slices.SortFunc(st.Events, func(x, y eventSeries) int {
		return strings.Compare(x.EventType+"\x00"+x.Source, y.EventType+"\x00"+y.Source)
	})
	slices.SortFunc(st.Users, func(x, y userSeries) int {
		return strings.Compare(x.EventType+"\x00"+x.Source+"\x00"+x.User, y.EventType+"\x00"+y.Source+"\x00"+y.User)
	})
	slices.SortFunc(st.Countries, func(x, y countrySeries) int {
		return strings.Compare(x.EventType+"\x00"+x.Country, y.EventType+"\x00"+y.Country)
	})
	return st
}

// restore replaces the account's counting state with st. It is called
// before the account's first poll, or with its poller stopped.
func (a *Account) restore(st accountState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.floor = st.Floor
	a.cursor = st.Cursor
	a.seen = make(map[string]time.Time, len(st.Seen))
	for id, t := range st.Seen {
		a.seen[id] = t
	}
	for t, ts := range st.LastEvent {
		a.lastEvent[t] = ts
	}
	for _, s := range st.Events {
		a.events[typeSource{s.EventType, s.Source}] = s.Value
	}
	if st.Labels == a.labels() {
		for _, s := range st.Users {
			a.users[typeSourceUser{s.EventType, s.Source, s.User}] = s.Value
			a.admitUser(s.User)
		}
		for _, s := range st.Countries {
			a.countries[typeCountry{s.EventType, s.Country}] = s.Value
		}
	}
	a.ingested = st.Ingested
	a.duplicates = st.Duplicates
}

// inherit gives a rebuilt account everything of the account it replaces,
// not only what the state file keeps: a reload that changes a setting (a
// rotated secret, an overlap) must reset no counter, nor up and the last
// success time that alerts watch. Neither account is being polled.
func (a *Account) inherit(old *Account) {
	a.restore(old.snapshot())
	old.mu.Lock()
	defer old.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.typesKnown = old.typesKnown
	a.up, a.lastSuccess, a.lastPollStart = old.up, old.lastSuccess, old.lastPollStart
	a.pollDuration, a.pollRequests, a.polls = old.pollDuration, old.pollRequests, old.polls
	a.overruns, a.userOverflow = old.overruns, old.userOverflow
	a.overflowSeed, a.overflowSeen = old.overflowSeed, maps.Clone(old.overflowSeen)
	maps.Copy(a.pollErrors, old.pollErrors)
	maps.Copy(a.skipped, old.skipped)
}

// validate refuses a state that cannot have been written by this exporter:
// applying it could only give wrong counters.
func (st *stateFile) validate() error {
	if st.Version != stateVersion {
		return fmt.Errorf("unknown version %d: this exporter reads version %d", st.Version, stateVersion)
	}
	for name, a := range st.Accounts {
		if a.Fingerprint == "" {
			return fmt.Errorf("account %q: no fingerprint", name)
		}
		values := []float64{a.Ingested, a.Duplicates}
		for _, s := range a.Events {
			values = append(values, s.Value)
		}
		for _, s := range a.Users {
			values = append(values, s.Value)
		}
		for _, s := range a.Countries {
			values = append(values, s.Value)
		}
		for _, v := range values {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("account %q: counter value %v is not a count", name, v)
			}
		}
	}
	return nil
}

// readStateFile reads and checks the state file. A missing file is
// reported as an error wrapping os.ErrNotExist.
func readStateFile(path string) (*stateFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	var st stateFile
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("decoding state file %s: %w", path, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decoding state file %s: data after the state", path)
	}
	if err := st.validate(); err != nil {
		return nil, fmt.Errorf("checking state file %s: %w", path, err)
	}
	return &st, nil
}

// writeStateFile replaces the state file atomically: a crash at any instant
// leaves either the old file or the new one, whole.
func writeStateFile(path string, st *stateFile) (err error) {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating temporary state file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("writing temporary state file: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("syncing temporary state file: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("closing temporary state file: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("renaming temporary state file: %w", err)
	}
	// The rename is durable only once the folder is synced.
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening state file folder: %w", err)
	}
	defer d.Close()
	if err = d.Sync(); err != nil {
		return fmt.Errorf("syncing state file folder: %w", err)
	}
	return nil
}

// setAside renames a state file that cannot be used, so that it is kept for
// a look and the next save does not overwrite it.
func setAside(path string, now time.Time) (string, error) {
	aside := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("setting the state file aside: %w", err)
	}
	return aside, nil
}

// stateMetrics report on the state file and on reloads.
type stateMetrics struct {
	restored      *prometheus.GaugeVec
	restoreErrors prometheus.Counter
	saveErrors    prometheus.Counter
	lastSave      prometheus.Gauge
	reloadOK      prometheus.Gauge
	lastReload    prometheus.Gauge
}

func newStateMetrics() *stateMetrics {
	m := &stateMetrics{
		restored: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "state_restored",
			Help: "Whether the account's counters and cursor were restored from the state file at start.",
		}, []string{"account"}),
		restoreErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_restore_errors_total",
			Help: "State files that could not be read or used at start, so that every account started fresh.",
		}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "state_save_errors_total",
			Help: "Failed saves of the state file.",
		}),
		lastSave: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "state_last_save_success_timestamp_seconds",
			Help: "Time of the last successful save of the state file.",
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded.",
		}),
		lastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_last_reload_success_timestamp_seconds",
			Help: "Time of the last successful configuration load or reload.",
		}),
	}
	m.reloadOK.Set(1)
	return m
}

func (m *stateMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.restored, m.restoreErrors, m.saveErrors, m.lastSave, m.reloadOK, m.lastReload}
}
