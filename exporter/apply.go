package exporter

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/state"
)

// spec is what an account's poller was built from: its settings, which a
// reload compares, and the fingerprint its saved state is kept under.
type spec struct {
	settings    config.AccountSettings
	fingerprint string
}

func specOf(cfg *config.Config, acc config.Account) spec {
	return spec{settings: cfg.Settings(acc), fingerprint: fingerprint(acc)}
}

// Reload loads a configuration and applies it. When either fails, the
// running configuration is kept, and the error is logged and returned.
func (e *Exporter) Reload(load func() (*config.Config, error)) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	cfg, err := load()
	if err == nil {
		err = e.apply(cfg)
	}
	if err != nil {
		e.mu.Lock()
		e.status.ReloadOK = false
		e.mu.Unlock()
		level.Error(e.logger).Log("msg", "Reloading the configuration failed; the running configuration is kept", "err", err)
		return err
	}
	level.Info(e.logger).Log("msg", "Reloaded the configuration")
	return nil
}

// Apply makes cfg the running configuration. Accounts are matched by name:
//   - an account whose settings did not change keeps its counters, cursor and
//     poller;
//   - a changed API secret, lookback, overlap, request_timeout,
//     requests_per_second, max_retries, max_users, max_concurrency or
//     exemplars rebuilds the account with all its counters, cursor and seen
//     ids (exemplars turned on come back with each series' next event);
//   - a changed api_key, api_url or event_types (the fingerprint), or a
//     changed user_label, user_hash_salt or country_breakdown (the
//     counters' labels), restarts the account's counters from zero, from
//     lookback before now;
//   - a removed account stops being polled and exported;
//   - a changed mode or poll_interval restarts every runner, keeping state.
//
// Only the accounts of cfg.Shard are polled and exported, and its state is
// kept in the shard's own state file. The first Apply reads the state file,
// if any. On error nothing changes.
func (e *Exporter) Apply(cfg *config.Config) error {
	e.applyMu.Lock()
	defer e.applyMu.Unlock()
	return e.apply(cfg)
}

// apply is Apply; callers hold applyMu.
func (e *Exporter) apply(cfg *config.Config) error {
	e.mu.Lock()
	old := make(map[string]*managed, len(e.accounts))
	for _, m := range e.accounts {
		old[m.poller().Name()] = m
	}
	restartAll := e.mode != cfg.Mode || e.interval != cfg.PollInterval
	ctx, stopped := e.ctx, e.stopped
	wasRestored := e.status.Restored
	unsavable := e.unsavable
	e.mu.Unlock()

	owned, statePath := cfg.Shard.Accounts(cfg.Accounts), cfg.Shard.StateFile(cfg.StateFile)
	var saved map[string]state.Account
	canSave := true
	switch {
	case !e.applied && statePath != "":
		saved, canSave = e.loadState(statePath)
	case statePath != "" && statePath == unsavable:
		canSave = false
	}

	// Build everything that can fail before touching what runs.
	next := make([]*managed, 0, len(owned))
	transfers := map[*managed]*managed{}
	var added, rebuilt, restarted []string
	restartedBy := map[string][]string{}
	for _, acc := range owned {
		s := specOf(cfg, acc)
		prev := old[acc.Name]
		change, keys := config.RestartCounters, []string(nil)
		if prev != nil {
			change, keys = s.settings.Compare(prev.spec.settings)
		}
		if prev != nil && change == config.Unchanged {
			m := prev
			if restartAll {
				m = e.manage(cfg, prev.view, s, prev.api)
			}
			next = append(next, m)
			continue
		}
		p, api, err := e.newPoller(cfg, acc)
		if err != nil {
			return err
		}
		m := e.manage(cfg, &savedView{p: p}, s, api)
		switch {
		case prev == nil:
			added = append(added, acc.Name)
		case change == config.RebuildKeepingCounters:
			transfers[m] = prev
			rebuilt = append(rebuilt, acc.Name)
		default:
			restarted = append(restarted, acc.Name)
			restartedBy[acc.Name] = keys
		}
		next = append(next, m)
	}

	keep := map[*poller.Runner]bool{}
	for _, m := range next {
		keep[m.runner] = true
	}
	var removed []string
	for name, m := range old {
		if !keep[m.runner] {
			m.runner.Stop()
		}
		if !hasAccount(owned, name) {
			removed = append(removed, name)
		}
	}
	// The old runners have stopped: their pollers' state is final. The
	// rebuilt account goes on exporting what the old one had saved.
	for m, from := range transfers {
		m.poller().Inherit(from.poller())
		m.view.show(from.view.shown())
	}
	for _, name := range restarted {
		level.Warn(e.logger).Log("msg", "What the account's counters count changed: they restart from zero", "account", name, "changed", strings.Join(restartedBy[name], ","))
	}
	restored := map[string]bool{}
	for _, m := range next {
		name := m.poller().Name()
		switch _, running := old[name]; {
		case running && !slices.Contains(restarted, name):
			restored[name] = wasRestored[name]
		case running, e.applied:
			restored[name] = false
		default:
			restored[name] = e.restoreAccount(m, saved)
		}
		// Until its first save, an account exports what it starts from:
		// the state restored, or zero. Without a state file, the live
		// counters, and a state file turned on later starts from them.
		switch {
		case cfg.StateFile == "" || !canSave:
			m.view.show(nil)
		case m.view.shown() == nil:
			m.view.show(m.poller().Checkpoint().Counts())
		}
	}

	e.mu.Lock()
	if statePath != e.statePath && e.applied {
		level.Info(e.logger).Log("msg", "The state file changed: state is saved there from now on", "state_file", statePath)
	}
	e.mode, e.interval = cfg.Mode, cfg.PollInterval
	e.statePath = statePath
	if !canSave {
		e.statePath, e.unsavable = "", statePath
	}
	e.accounts = next
	e.status.Restored = restored
	e.status.ReloadOK = true
	e.status.LastReload = time.Now()
	e.publish()
	e.mu.Unlock()

	logShard(e.logger, cfg, len(owned), statePath)
	if ctx != nil && !stopped {
		for _, m := range next {
			if !m.runner.Started() {
				m.runner.Start(ctx)
			}
		}
	}
	if e.applied {
		level.Info(e.logger).Log("msg", "Applied the configuration", "accounts", len(next), "added", fmt.Sprint(added), "removed", fmt.Sprint(removed),
			"rebuilt_keeping_state", fmt.Sprint(rebuilt), "restarted_from_zero", fmt.Sprint(restarted), "pollers_restarted", restartAll)
	}
	e.applied = true
	return nil
}

// logShard says, when the accounts are split between exporters, which of
// them this exporter polls.
func logShard(logger log.Logger, cfg *config.Config, owned int, statePath string) {
	if !cfg.Shard.Sharded() {
		return
	}
	keys := []any{"shard", cfg.Shard.Index, "total_shards", cfg.Shard.Total, "accounts", owned, "configured_accounts", len(cfg.Accounts)}
	if statePath != "" {
		keys = append(keys, "state_file", statePath)
	}
	if owned == 0 {
		level.Warn(logger).Log(append([]any{"msg", "No configured account falls in this shard: it exports only its own metrics"}, keys...)...)
		return
	}
	level.Info(logger).Log(append([]any{"msg", "Polling the accounts of this shard"}, keys...)...)
}

func hasAccount(accounts []config.Account, name string) bool {
	return slices.ContainsFunc(accounts, func(a config.Account) bool { return a.Name == name })
}

// newPoller builds a fresh poller, not yet polled, with its own client
// reporting to the account's API metrics.
func (e *Exporter) newPoller(cfg *config.Config, acc config.Account) (*poller.Poller, *collector.Observer, error) {
	obs := e.collector.Observer(acc.Name)
	cc := cfg.ClientConfig(acc)
	cc.Observer = obs
	cc.Logger = log.With(e.logger, "account", acc.Name)
	client, err := auditapi.New(cc)
	if err != nil {
		return nil, nil, fmt.Errorf("account %q: %w", acc.Name, err)
	}
	return poller.New(poller.Options{
		Name:             acc.Name,
		API:              client,
		EventTypes:       acc.EventTypes,
		Lookback:         cfg.Lookback,
		Overlap:          cfg.Overlap,
		UserLabel:        cfg.UserLabel,
		UserHashSalt:     string(cfg.UserHashSalt),
		MaxUsers:         acc.MaxUsers,
		CountryBreakdown: cfg.CountryBreakdown,
		Exemplars:        cfg.Exemplars,
		Logger:           e.logger,
		Requests:         obs.Requests,
		MaxConcurrency:   cfg.MaxConcurrency,
	}), obs, nil
}
