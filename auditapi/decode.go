package auditapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
)

// createdAtLayouts are tried in order. Every documented example has no zone
// and no fraction, which means UTC; RFC 3339 is accepted in case that changes.
var createdAtLayouts = []string{
	"2006-01-02T15:04:05",
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
}

// parseCreatedAt returns the zero time for a value it cannot read, so that
// one odd event does not cost the whole page.
func parseCreatedAt(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	for _, layout := range createdAtLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// flexString accepts a JSON string or number (user_id has been seen as
// both) and ignores anything else.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err == nil {
			*f = flexString(s)
		}
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*f = flexString(b)
	}
	// Never an error: the standard decoder stops at the first error an
	// Unmarshaler returns, which would drop the rest of the event.
	return nil
}

// wireEvent is an event as the API spells it.
type wireEvent struct {
	ID                   string          `json:"id"`
	EventType            string          `json:"event_type"`
	EventTypeDescription string          `json:"event_type_description"`
	CreatedAt            string          `json:"created_at"`
	UserEmail            string          `json:"user_email"`
	UserID               flexString      `json:"user_id"`
	AccountID            string          `json:"account_id"`
	Source               string          `json:"source"`
	SourceIP             string          `json:"source_ip"`
	SourceDescription    string          `json:"source_description"`
	SourceCountry        string          `json:"source_country"`
	Context              json.RawMessage `json:"context"`
}

// UnmarshalJSON decodes an event as the Audit API sends it, leniently: a
// field of an unexpected type is left empty, and a created_at it cannot read
// leaves CreatedAt zero, instead of failing. Raw keeps the exact bytes.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			return err
		}
	}
	*e = Event{
		ID:                   w.ID,
		EventType:            w.EventType,
		EventTypeDescription: w.EventTypeDescription,
		CreatedAt:            parseCreatedAt(w.CreatedAt),
		UserEmail:            w.UserEmail,
		UserID:               string(w.UserID),
		AccountID:            w.AccountID,
		Source:               w.Source,
		SourceIP:             w.SourceIP,
		SourceDescription:    w.SourceDescription,
		SourceCountry:        w.SourceCountry,
		Context:              w.Context,
		Raw:                  bytes.Clone(b),
	}
	return nil
}

// wirePage is one page of GET /events. Pointers tell a missing value from 0.
type wirePage struct {
	Embedded *struct {
		Events []Event `json:"events"`
	} `json:"_embedded"`
	Links struct {
		Next json.RawMessage `json:"next"`
	} `json:"_links"`
	Page *struct {
		Size          *int `json:"size"`
		TotalElements *int `json:"totalElements"`
		TotalPages    *int `json:"totalPages"`
		Number        *int `json:"number"`
		Page          *int `json:"page"`
	} `json:"page"`
}

var errNotObject = errors.New("expected a JSON object")

// decodePage decodes a page in one pass; any error means the body as a whole
// is not a page (most often a cut connection).
func decodePage(body []byte) (*Page, error) {
	if !isObject(body) {
		return nil, errNotObject
	}
	var w wirePage
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, err
	}
	p := &Page{HasNext: len(w.Links.Next) > 0 && string(w.Links.Next) != "null"}
	if w.Embedded != nil {
		p.Events = w.Embedded.Events
	}
	if m := w.Page; m != nil {
		switch {
		case m.Number != nil:
			p.Number = *m.Number
		case m.Page != nil:
			p.Number = *m.Page
		}
		p.Size = deref(m.Size)
		p.TotalPages = deref(m.TotalPages)
		p.TotalElements = deref(m.TotalElements)
		p.hasTotalElements = m.TotalElements != nil
	}
	return p, nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// decodeEventTypes reads the OPTIONS /events answer. A bare array is
// accepted as well as the documented {"eventTypes": [...]}.
func decodeEventTypes(body []byte) ([]EventType, error) {
	b := bytes.TrimSpace(body)
	if len(b) == 0 {
		return nil, nil
	}
	var types []EventType
	if b[0] == '[' {
		if err := json.Unmarshal(b, &types); err != nil {
			return nil, err
		}
	} else {
		var w struct {
			EventTypes []EventType `json:"eventTypes"`
		}
		if err := json.Unmarshal(b, &w); err != nil {
			return nil, err
		}
		types = w.EventTypes
	}
	if len(types) == 0 {
		return nil, nil
	}
	return types, nil
}
