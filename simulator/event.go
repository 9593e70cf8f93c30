// Package simulator is a stand-alone imitation of the Vonage Audit API
// (GET /events, GET /events/{id}, OPTIONS /events), used by the exporter's
// tests, its demo mode and the end-to-end test.
//
// It speaks the wire format itself and shares no code with the exporter's
// client, so that it can catch the client's mistakes. Where the real API is
// undocumented (order of events, page size cap, date precision and bounds,
// the API's clock, pages past the end, the spelling of created_at and of the
// page number) the behaviour is an option, so that the client can be tested
// against every plausible answer. Faults (latency, 5xx, 429, quota 401s,
// truncated bodies, late-arriving events) can be switched on at run time.
package simulator

import (
	"encoding/json"
	"time"
)

// createdAtLayout is how the API spells created_at: UTC, no zone, no fraction.
const createdAtLayout = "2006-01-02T15:04:05"

// EventType is one entry of the OPTIONS /events answer.
type EventType struct {
	Type        string `json:"type"`
	Description string `json:"description"`
}

// DefaultEventTypes holds the 27 types of the OpenAPI enum plus the two that
// only the docs table (ACCOUNT_UPDATE_SETTINGS) and a documented OPTIONS
// answer (NUMBER_USER_CANCELED) mention.
var DefaultEventTypes = []EventType{
	{"USER_STATUS", "User status updated"},
	{"USER_UPDATE", "User updated"},
	{"USER_BILLING_UPDATE", "User billing updated"},
	{"USER_CREATE", "User created"},
	{"USER_LOGIN", "User login"},
	{"USER_LOGOUT", "User logout"},
	{"USER_PRODUCT_SEARCH", "User product search"},
	{"USER_API_KEYS_UPDATE", "User API keys updated"},
	{"ACCOUNT_SECRET_DELETE", "Account secret deleted"},
	{"ACCOUNT_SECRET_CREATE", "Account secret created"},
	{"ACCOUNT_UPDATE_SPAMMER", "Account updated as spammer"},
	{"ACCOUNT_UPDATE_SETTINGS_API", "Account settings updated via API"},
	{"NUMBER_ASSIGN", "Number assigned"},
	{"NUMBER_UPDATED", "Number updated"},
	{"NUMBER_RELEASE", "Number released"},
	{"NUMBER_LINKED", "Number linked"},
	{"NUMBER_UNLINKED", "Number unlinked"},
	{"APP_CREATE", "Application created"},
	{"APP_UPDATE", "Application updated"},
	{"APP_DELETE", "Application deleted"},
	{"APP_DISABLE", "Application disabled"},
	{"APP_ENABLE", "Application enabled"},
	{"IP_WHITELIST_CREATE", "IP whitelist created"},
	{"IP_WHITELIST_DELETE", "IP whitelist deleted"},
	{"AUTORELOAD_ENABLE", "Auto-reload enabled"},
	{"AUTORELOAD_UPDATE", "Auto-reload updated"},
	{"AUTORELOAD_DISABLE", "Auto-reload disabled"},
	{"ACCOUNT_UPDATE_SETTINGS", "Account settings updated"},
	{"NUMBER_USER_CANCELED", "Number canceled by user"},
}

// Event is one audit event as the simulator stores it.
type Event struct {
	ID                   string
	EventType            string
	EventTypeDescription string
	// CreatedAt is serialised as "2006-01-02T15:04:05" in UTC, with no zone,
	// like the real API, unless Options.CreatedAtFormat says otherwise; the
	// server keeps it to the second. An event stamped after the API's now
	// is served once the API's clock reaches it.
	CreatedAt time.Time
	// UserEmail "" leaves the field out of the JSON.
	UserEmail string
	// UserID 0 leaves the field out of the JSON.
	UserID            int64
	AccountID         string
	Source            string // "CD" or "DEVAPI"
	SourceIP          string
	SourceDescription string
	SourceCountry     string
	// Context nil leaves the field out of the JSON.
	Context map[string]any
	// VisibleAt zero makes the event visible at once; otherwise the event is
	// hidden from every answer until the API's clock reaches it, as a
	// late-arriving event would be.
	VisibleAt time.Time
}

type selfLink struct {
	Href string `json:"href"`
}

type eventLinks struct {
	Self selfLink `json:"self"`
}

// wireEvent is the API's event object; the field order follows the docs.
type wireEvent struct {
	ID                   string         `json:"id"`
	EventType            string         `json:"event_type"`
	EventTypeDescription string         `json:"event_type_description"`
	CreatedAt            createdAt      `json:"created_at"`
	UserEmail            string         `json:"user_email,omitempty"`
	UserID               int64          `json:"user_id,omitempty"`
	AccountID            string         `json:"account_id"`
	Source               string         `json:"source"`
	SourceIP             string         `json:"source_ip"`
	SourceDescription    string         `json:"source_description"`
	SourceCountry        string         `json:"source_country"`
	Context              map[string]any `json:"context,omitempty"`
	Links                *eventLinks    `json:"_links,omitempty"`
}

func (e Event) wire(f CreatedAtFormat) wireEvent {
	return wireEvent{
		ID:                   e.ID,
		EventType:            e.EventType,
		EventTypeDescription: e.EventTypeDescription,
		CreatedAt:            createdAt{e.CreatedAt, f},
		UserEmail:            e.UserEmail,
		UserID:               e.UserID,
		AccountID:            e.AccountID,
		Source:               e.Source,
		SourceIP:             e.SourceIP,
		SourceDescription:    e.SourceDescription,
		SourceCountry:        e.SourceCountry,
		Context:              e.Context,
	}
}

// withSelf is the event object, created_at spelt f, with its
// _links.self.href set to href.
func (e Event) withSelf(href string, f CreatedAtFormat) wireEvent {
	w := e.wire(f)
	w.Links = &eventLinks{Self: selfLink{Href: href}}
	return w
}

// MarshalJSON writes the API's event object. Outside a server answer the
// event does not know the host it is served from, so its self link is the
// relative "/events/{id}"; the server writes absolute links.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(e.withSelf("/events/"+e.ID, DefaultCreatedAt))
}
