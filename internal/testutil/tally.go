package testutil

import (
	"strconv"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// TallyByUser counts events as the exporter must count them, by
// "event_type|source|user" with user_label email: the email, else the user
// id, else "unknown". Events without a type are skipped, as the exporter
// skips them as invalid.
func TallyByUser(events []simulator.Event) map[string]float64 {
	m := map[string]float64{}
	for _, e := range events {
		if e.EventType == "" {
			continue
		}
		user := e.UserEmail
		switch {
		case user != "":
		case e.UserID != 0:
			user = strconv.FormatInt(e.UserID, 10)
		default:
			user = "unknown"
		}
		m[e.EventType+"|"+e.Source+"|"+user]++
	}
	return m
}
