package main

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The counters restored from the state file. The others restart from zero
// with the process, which rate() reads as the reset it is.
var restoredCounters = []string{
	"vonage_audit_events_total",
	"vonage_audit_user_events_total",
	"vonage_audit_events_ingested_total",
	"vonage_audit_duplicate_events_total",
	"vonage_audit_user_overflow_total",
}

// SIGKILL at random instants while events arrive and /metrics is scraped
// often: no counter restored from the state file reads, after the restart,
// lower than it was scraped before the kill, which rate() would take for a
// reset and count whole again.
func TestBinarySIGKILLNeverLowersAScrapedCounter(t *testing.T) {
	t.Parallel()
	_, cfg, p, stopEvents := startKillRun(t, 14)

	highest := map[string]float64{}
	lower := func(fams map[string]*dto) []string {
		var out []string
		for _, name := range restoredCounters {
			if fams[name] == nil {
				continue
			}
			for labels, v := range *fams[name] {
				k := name + "{" + labels + "}"
				if v < highest[k] {
					out = append(out, fmt.Sprintf("%s: %v, scraped at %v before", k, v, highest[k]))
				}
				highest[k] = max(highest[k], v)
			}
		}
		return out
	}
	for kill := range 5 {
		until := time.Now().Add(time.Duration(300+rand.IntN(1500)) * time.Millisecond)
		for time.Now().Before(until) {
			if _, fams := p.scrape(t); fams != nil {
				for _, l := range lower(fams) {
					t.Errorf("after %d kills, %s", kill, l)
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		p = startExporter(t, nil, "--config.file="+cfg)
	}
	stopEvents()
	_, fams := p.scrape(t)
	for range 100 {
		if fams != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
		_, fams = p.scrape(t)
	}
	for _, l := range lower(fams) {
		t.Errorf("after the last restart, %s", l)
	}
	if highest["vonage_audit_events_ingested_total{}"] == 0 {
		t.Error("nothing was counted: the test saw no counter to compare")
	}
}
