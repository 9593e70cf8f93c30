// Package auditapi is a client for the Vonage (formerly Nexmo) Audit API.
//
// The API is sparsely documented: the order of events in a page, whether the
// date bounds are inclusive and how the page block is spelt are all unknown,
// so the decoding here accepts every plausible answer.
package auditapi

import (
	"encoding/json"
	"time"
)

// DefaultBaseURL is the Audit API's documented base URL.
const DefaultBaseURL = "https://api.nexmo.com/beta/audit"

// MaxPageSize is the largest page size the API accepts.
const MaxPageSize = 100

// Event is one audit event. Raw holds the event object exactly as the API
// sent it, so that callers can pass it on unchanged.
type Event struct {
	ID, EventType, EventTypeDescription string
	// CreatedAt is zero when created_at was missing or unreadable.
	CreatedAt time.Time
	UserEmail string
	// UserID is the numeric user id as the API spelt it, or empty.
	UserID                                                        string
	AccountID, Source, SourceIP, SourceDescription, SourceCountry string
	Context, Raw                                                  json.RawMessage
}

// EventType is one entry of the OPTIONS /events answer.
type EventType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

// Query selects events. Zero values leave a filter out.
type Query struct {
	EventTypes []string
	From, To   time.Time
	// DateOnly sends From and To as dates (YYYY-MM-DD, their UTC day), for
	// an API that refuses or ignores a time of day.
	DateOnly   bool
	SearchText string
	Page       int
	// Size is the page size asked for, 1 to MaxPageSize; a size the API
	// was seen to serve (Listing.PageSize) is a valid value.
	Size int
}

// Page is one decoded page of GET /events.
type Page struct {
	Events                                  []Event
	Number, Size, TotalPages, TotalElements int
	HasNext                                 bool
	// HasTotalElements tells a page block with totalElements 0 from one
	// without it.
	HasTotalElements bool
	// Date is the answer's Date header, the API's clock (to the second);
	// zero when the answer had none. Received is the local time the answer
	// came, to compare it with.
	Date, Received time.Time
	numbered       bool // the page block had a number (or page)
}

// Listing says what a walk read.
type Listing struct {
	Pages         int  // pages fetched
	Events        int  // events handed to fn, repeats included
	TotalElements int  // totalElements of the last page that had one; -1 when none did
	PageSize      int  // the page size the API served, learned from its answers; 0 if unknown
	Stopped       bool // fn stopped the walk
	// PageNumberMismatches counts pages whose page.number (or page.page)
	// was not the one asked for: an API numbering from 0, or one that
	// ignores the page parameter.
	PageNumberMismatches int
}
