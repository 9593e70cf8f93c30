package poller

import (
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// What the external tests of the package read of its insides.

const (
	OverflowMemory = overflowMemory
	MaxEventTypes  = maxEventTypes
	MaxLabelBytes  = maxLabelBytes
	UserUnknown    = userUnknown
)

var HashUser = hashUser

func (p *Poller) Window() (from, to time.Time) {
	w := p.window()
	return w.From, w.To
}

func (p *Poller) Ingest(events []auditapi.Event, from, to time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ingest(events, from, to)
}

// Held returns how many seen ids, admitted users and remembered
// overflowing users the poller holds.
func (p *Poller) Held() (seen, users, overflow int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen), len(p.userSet), len(p.overflowSeen)
}

func (p *Poller) HasSeen(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.seen[id]
	return ok
}

func (p *Poller) ForgetSeen() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.seen)
}

func (p *Poller) Ingested() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.s.Ingested
}

func (p *Poller) UserSeries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.s.Users)
}
