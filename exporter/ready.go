package exporter

import (
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
)

// Ready tells whether the exporter serves meaningful data, for /-/ready: a
// configuration is applied and, in interval mode, each of its accounts has
// finished a first poll, successful or not.
//
// In scrape mode polls start only on a scrape, and a Kubernetes Service
// sends no scrape to a pod that is not ready: waiting for a poll there
// would never end, so applying the configuration is enough.
//
// Once ready, the exporter stays ready, as Prometheus does: an account
// added or restarted by a reload is not waited for, since taking the
// exporter out of its Service would stop the scrapes of every other
// account too. The new account's own vonage_audit_polls_total and
// vonage_audit_up tell when it has polled.
func (e *Exporter) Ready() bool {
	e.mu.Lock()
	// Every apply, the first included, sets LastReload.
	ready, applied := e.ready, !e.status.LastReload.IsZero()
	mode, accounts := e.mode, e.accounts
	e.mu.Unlock()
	if ready {
		return true
	}
	if !applied {
		return false
	}
	if mode == config.ModeInterval {
		for _, m := range accounts {
			if !polledOnce(m.poller()) {
				return false
			}
		}
	}
	e.mu.Lock()
	e.ready = true
	e.mu.Unlock()
	return true
}

// polledOnce tells whether p has finished a poll, successful or not; a poll
// abandoned at shutdown or reload does not count.
func polledOnce(p *poller.Poller) bool {
	var polls float64
	p.Read(func(s *poller.Snapshot) { polls = s.Polls })
	return polls > 0
}
