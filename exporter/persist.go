package exporter

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
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

// save writes the state of every account to the state file, if there is
// one, and tells whether it did. It runs after each successful poll, in the
// poll's goroutine, never on the scrape path.
func (e *Exporter) save() bool {
	e.saveMu.Lock()
	defer e.saveMu.Unlock()
	e.mu.Lock()
	path, accounts := e.statePath, e.accounts
	e.mu.Unlock()
	if path == "" {
		return false
	}
	f := &state.File{Version: state.Version, SavedAt: time.Now().UTC(), Accounts: make(map[string]state.Account, len(accounts))}
	for _, m := range accounts {
		st := m.poller().Save()
		st.Fingerprint = m.spec.fingerprint
		f.Accounts[m.poller().Name()] = st
	}
	err := state.Write(path, f)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.status.SaveErrors++
		level.Error(e.logger).Log("msg", "Saving the state failed; after a restart, counters continue from the last state saved", "state_file", path, "err", err)
		return false
	}
	e.status.LastSave = time.Now()
	return true
}
