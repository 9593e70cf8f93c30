package simulator

import (
	"context"
	"time"
)

// Run adds live events (created_at = the API's now) at about perSecond
// on average, with occasional bursts in one second, until ctx is done.
// A rate of zero or less adds nothing and just waits for ctx.
func (s *Server) Run(ctx context.Context, perSecond float64) {
	if perSecond <= 0 {
		<-ctx.Done()
		return
	}
	// A tick adds 1 event, or a burst of 2..12 (mean 7) one time in 12.5:
	// 1.48 events per tick on average.
	const eventsPerTick = 0.92*1 + 0.08*7
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		at := s.Now().UTC().Truncate(time.Second)
		n := s.burstSize()
		events := make([]Event, n)
		for i := range events {
			events[i] = s.makeEvent(at)
		}
		s.addLocked(events)
		wait := time.Duration(s.gen.ExpFloat64() * eventsPerTick / perSecond * float64(time.Second))
		s.mu.Unlock()
		t.Reset(wait)
	}
}
