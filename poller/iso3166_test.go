package poller

import "testing"

func TestISO3166HoldsTheAssignedCodes(t *testing.T) {
	if len(iso3166) != 249 {
		t.Errorf("%d ISO 3166-1 codes, want the 249 assigned", len(iso3166))
	}
}
