package poller_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/poller"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// baselinePage is the plainest decoding of a page with encoding/json: every
// field of every event, no Raw, no lenience, nothing counted.
type baselinePage struct {
	Embedded struct {
		Events []struct {
			ID                   string          `json:"id"`
			EventType            string          `json:"event_type"`
			EventTypeDescription string          `json:"event_type_description"`
			CreatedAt            string          `json:"created_at"`
			UserEmail            string          `json:"user_email"`
			UserID               json.Number     `json:"user_id"`
			AccountID            string          `json:"account_id"`
			Source               string          `json:"source"`
			SourceIP             string          `json:"source_ip"`
			SourceDescription    string          `json:"source_description"`
			SourceCountry        string          `json:"source_country"`
			Context              json.RawMessage `json:"context"`
		} `json:"events"`
	} `json:"_embedded"`
	Page struct {
		Size          int `json:"size"`
		TotalElements int `json:"totalElements"`
		TotalPages    int `json:"totalPages"`
		Number        int `json:"number"`
	} `json:"page"`
}

// recordedPages returns n full pages of 100 events as the simulator serves
// them, and the time range of their events.
func recordedPages(b *testing.B, n int) (pages [][]byte, from, to time.Time) {
	b.Helper()
	to = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	from = to.Add(-24 * time.Hour)
	sim := simulator.New(simulator.Options{Seed: 7, Now: func() time.Time { return to }})
	sim.Generate(n*auditapi.MaxPageSize, from, to)
	for p := 1; p <= n; p++ {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/events?size=100&page=%d", p), nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("recording page %d: HTTP %d", p, rec.Code)
		}
		pages = append(pages, rec.Body.Bytes())
	}
	return pages, from, to
}

// BenchmarkIngest measures events decoded (and counted) per second on one
// core, from recorded page bytes, against encoding/json decoding the same
// bytes into plain structs.
func BenchmarkIngest(b *testing.B) {
	const nPages = 20
	pages, from, to := recordedPages(b, nPages)
	var size int64
	for _, p := range pages {
		size += int64(len(p))
	}
	report := func(b *testing.B, events int) {
		b.SetBytes(size / nPages)
		b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	}

	b.Run("baseline=encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		events := 0
		for i := 0; b.Loop(); i++ {
			var p baselinePage
			if err := json.Unmarshal(pages[i%nPages], &p); err != nil {
				b.Fatal(err)
			}
			events += len(p.Embedded.Events)
		}
		report(b, events)
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		events := 0
		for i := 0; b.Loop(); i++ {
			p, err := auditapi.DecodePage(pages[i%nPages])
			if err != nil {
				b.Fatal(err)
			}
			events += len(p.Events)
		}
		report(b, events)
	})
	b.Run("decode_and_count", func(b *testing.B) {
		b.ReportAllocs()
		a := poller.New(poller.Options{Name: "bench", UserLabel: config.UserLabelEmail, CountryBreakdown: true, Exemplars: true, Now: func() time.Time { return to }})
		events := 0
		for i := 0; b.Loop(); i++ {
			if i%nPages == 0 && i > 0 {
				// Every id is new again, as in a stream of new events;
				// the poll path prunes seen ids the same way.
				a.ForgetSeen()
			}
			p, err := auditapi.DecodePage(pages[i%nPages])
			if err != nil {
				b.Fatal(err)
			}
			a.Ingest(p.Events, from, to)
			events += len(p.Events)
		}
		if a.Ingested() == 0 {
			b.Fatal("nothing counted")
		}
		report(b, events)
	})
}
