package auditapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// UnmarshalJSON decodes an event as the Audit API sends it, leniently: a
// field of an unexpected type is left empty, and a created_at it cannot read
// leaves CreatedAt zero, instead of failing. Raw keeps a copy of the bytes.
func (e *Event) UnmarshalJSON(b []byte) error {
	if !json.Valid(b) {
		return errors.New("decoding event: invalid JSON")
	}
	b = bytes.TrimSpace(bytes.Clone(b))
	*e = Event{}
	if len(b) > 0 && b[0] == '{' {
		if _, err := readEvent(b, 0, e); err != nil {
			return fmt.Errorf("decoding event: %w", err)
		}
	}
	e.Raw = b
	return nil
}

// pageBlock is a page's "page" object. Pointers tell a missing value from 0.
type pageBlock struct {
	Size          *int `json:"size"`
	TotalElements *int `json:"totalElements"`
	TotalPages    *int `json:"totalPages"`
	Number        *int `json:"number"`
	Page          *int `json:"page"`
}

var (
	errNotObject = errors.New("expected a JSON object")
	errNotList   = errors.New("_embedded.events is not a JSON array")
)

// DecodePage decodes the body of a GET /events answer, as ListPage does;
// any error means the body as a whole is not a page (most often a cut
// connection). The events keep slices of body as Raw and Context: body must
// not change afterwards.
//
// The body is validated once by encoding/json; the events are then read in
// one pass of their own (decodeEvents), and only the small page block goes
// through encoding/json's decoder.
func DecodePage(body []byte) (*Page, error) {
	if !isObject(body) {
		return nil, errNotObject
	}
	if !json.Valid(body) {
		// Unmarshal says where and why, which Valid does not.
		var v struct{}
		return nil, json.Unmarshal(body, &v)
	}
	parts := members(body, "_embedded", "_links", "page")
	events, err := decodeEvents(member(parts[0], "events"))
	if err != nil {
		return nil, err
	}
	next := member(parts[1], "next")
	p := &Page{Events: events, HasNext: len(next) > 0 && string(next) != "null"}
	var m *pageBlock
	if parts[2] != nil {
		if err := json.Unmarshal(parts[2], &m); err != nil {
			return nil, fmt.Errorf("page block: %w", err)
		}
	}
	if m != nil {
		switch {
		case m.Number != nil:
			p.Number = *m.Number
		case m.Page != nil:
			p.Number = *m.Page
		}
		p.Size = deref(m.Size)
		p.TotalPages = deref(m.TotalPages)
		p.TotalElements = deref(m.TotalElements)
		p.HasTotalElements = m.TotalElements != nil
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
