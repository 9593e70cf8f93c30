package cli

import (
	"time"

	"github.com/prometheus/common/model"
)

// timeLayouts are the absolute times --from and --to accept. A value
// without a zone is UTC, as the API's own created_at is.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", time.DateOnly}

// parseTime reads a --from or --to value: an RFC 3339 time, a date (its
// midnight, UTC), or a duration before now such as 24h or 7d.
func parseTime(flag, v string, now time.Time) (time.Time, error) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	if d, err := model.ParseDuration(v); err == nil {
		return now.Add(-time.Duration(d)), nil
	}
	return time.Time{}, usagef("invalid --%s %q: want an RFC 3339 time (2024-05-01T12:00:00Z), a date (2024-05-01) or a duration before now (30m, 24h, 7d)", flag, v)
}
