package exporter

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// fingerprint identifies what an account's counters are counts of. A state
// entry, or a running account on reload, with another fingerprint is not
// carried over: its ids and cursor say nothing about this account's events.
func fingerprint(acc config.Account) string {
	types := slices.Clone(acc.EventTypes)
	sort.Strings(types)
	h := sha256.Sum256([]byte(strings.Join([]string{acc.Name, acc.APIKey, acc.APIURL, strings.Join(types, ",")}, "\x00")))
	return hex.EncodeToString(h[:])
}

// loadState reads the state file at start, after removing what a save cut
// short by a crash left. A file that cannot be used is set aside and the
// exporter starts fresh; canSave is false only when it could not even be
// set aside, so that a save never overwrites it.
func (e *Exporter) loadState(path string) (saved map[string]state.Account, canSave bool) {
	removed, err := state.RemoveLeftovers(path)
	if len(removed) > 0 {
		level.Info(e.logger).Log("msg", "Removed temporary state files left by an interrupted save", "files", strings.Join(removed, ","))
	}
	if err != nil {
		level.Warn(e.logger).Log("msg", "Removing temporary state files left by an interrupted save failed", "err", err)
	}

	st, err := state.Read(path)
	switch {
	case err == nil:
		level.Info(e.logger).Log("msg", "Read the state file", "state_file", path, "saved_at", st.SavedAt.Format(time.RFC3339), "accounts", len(st.Accounts))
		return st.Accounts, true
	case errors.Is(err, fs.ErrNotExist):
		level.Info(e.logger).Log("msg", "No state file yet: every account starts fresh", "state_file", path)
		return nil, true
	}
	e.mu.Lock()
	e.status.RestoreErrors++
	e.mu.Unlock()
	aside, asideErr := state.SetAside(path, time.Now())
	if asideErr != nil {
		level.Error(e.logger).Log("msg", "The state file cannot be used nor set aside: every account starts fresh, with counters from zero, and no state is saved so as not to overwrite the file", "state_file", path, "err", err, "set_aside_err", asideErr)
		return nil, false
	}
	level.Error(e.logger).Log("msg", "The state file cannot be used: every account starts fresh, with counters from zero; the file was set aside", "state_file", path, "set_aside_as", aside, "err", err)
	return nil, true
}

// restoreAccount applies the saved state of a new account at start, if it
// was saved for the same account, API key, API URL and event types, and
// tells whether it did.
func (e *Exporter) restoreAccount(m *managed, saved map[string]state.Account) bool {
	p := m.poller()
	st, ok := saved[p.Name()]
	switch {
	case !ok:
		if saved != nil {
			level.Info(e.logger).Log("msg", "No saved state for the account: it starts fresh", "account", p.Name())
		}
		return false
	case st.Fingerprint != m.spec.fingerprint:
		level.Warn(e.logger).Log("msg", "The saved state of the account was written for another api_key, api_url or event_types: not applied, the account starts fresh", "account", p.Name())
		return false
	}
	p.Restore(st)
	level.Info(e.logger).Log("msg", "Restored the account's counters and cursor", "account", p.Name(), "cursor", st.Cursor.Format(time.RFC3339), "events_ingested", st.Ingested)
	return true
}

// DefaultSaveInterval is the least time between two saves of the state
// file. Saves are batched: a successful poll marks the state as changed, and
// the one writer saves every account at most this often, and at Stop. With
// a state file, the counters exported are those of the last successful
// save, so a count shows at most this much later than without one.
const DefaultSaveInterval = 5 * time.Second

// saveLoop is the state file's one writer. It saves when a poll changed the
// state, at most once per saveInterval, until stop is closed; Stop then
// saves once more. A failed save is tried again an interval later.
func (e *Exporter) saveLoop(stop <-chan struct{}) {
	var last time.Time
	for {
		select {
		case <-stop:
			return
		case <-e.dirty:
		}
		if wait := e.saveInterval - e.now().Sub(last); !last.IsZero() && wait > 0 {
			select {
			case <-stop:
				return
			case <-e.after(wait):
			}
		}
		last = e.now()
		if _, err := e.save(); err != nil {
			e.markDirty()
		}
	}
}

// markDirty tells the writer that the state changed. It never blocks: it
// runs at the end of each successful poll.
func (e *Exporter) markDirty() {
	select {
	case e.dirty <- struct{}{}:
	default:
	}
}

// save writes the state of every account to the state file, if there is
// one, and tells whether it did. Once the file is written, the accounts
// export the counters it holds. It runs in the writer and at Stop, never on
// the poll or the scrape path.
func (e *Exporter) save() (bool, error) {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	e.mu.Lock()
	path, accounts := e.statePath, e.accounts
	e.mu.Unlock()
	if path == "" {
		return false, nil
	}
	// Each account is copied, encoded and written in turn: the save holds
	// the counts that the accounts will export, and one account's copy and
	// encoding.
	counts := make([]*poller.Counts, len(accounts))
	err := e.write(path, e.now().UTC(), func(yield func(string, state.Account) bool) {
		for i, m := range accounts {
			cp := m.poller().Checkpoint()
			counts[i] = cp.Counts()
			st := cp.State()
			st.Fingerprint = m.spec.fingerprint
			if !yield(m.poller().Name(), st) {
				return
			}
		}
	})
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.status.SaveErrors++
		level.Error(e.logger).Log("msg", "Saving the state failed; the counters saved last are exported, and a restart continues from them", "state_file", path, "err", err)
		return false, err
	}
	for i, m := range accounts {
		m.view.show(counts[i])
	}
	e.status.LastSave = e.now()
	return true, nil
}

// savedView is what the collector reads of an account when a state file is
// kept: the live report on its polls, with the counters and cursor of its
// last checkpoint saved (or restored). A counter scraped is then never more
// than a restart would restore, so that it never goes backwards, which
// rate() would read as a reset and count whole again.
type savedView struct {
	p *poller.Poller

	mu    sync.Mutex
	saved *poller.Counts
}

var _ collector.Source = (*savedView)(nil)

func (v *savedView) Name() string { return v.p.Name() }

func (v *savedView) Read(fn func(*poller.Snapshot)) {
	v.mu.Lock()
	saved := v.saved
	v.mu.Unlock()
	v.p.Read(func(live *poller.Snapshot) {
		s := saved.Export(live)
		fn(&s)
	})
}

func (v *savedView) show(c *poller.Counts) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.saved = c
}

// shown is the counts the view exports; nil when none are set.
func (v *savedView) shown() *poller.Counts {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.saved
}
