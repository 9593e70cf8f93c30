package auditapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Decoding is lenient where the API's documentation is thin: a field of an
// unexpected type is left empty instead of failing the page, because one odd
// event must not cost the count of all the others. Only the page as a whole
// (its JSON, its shape, its page block) can fail.

// text is a JSON string field read leniently: any other JSON value, null
// included, leaves it empty. As encoding/json does for a key that repeats,
// the last value decides.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	*t = ""
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	// encoding/json has checked b already: without escapes and in valid
	// UTF-8, the text between the quotes is the value. Anything else goes
	// through encoding/json again, which also turns invalid UTF-8 into
	// U+FFFD (a label value must be valid UTF-8).
	if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		*t = text(s)
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		*t = text(s)
	}
	return nil
}

// userID keeps user_id as the API spelt it: seen both as a number and as a
// string.
type userID string

func (u *userID) UnmarshalJSON(b []byte) error {
	switch {
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*u = userID(b)
	default:
		var t text
		_ = t.UnmarshalJSON(b)
		*u = userID(t)
	}
	return nil
}

// createdAt is created_at in any form a real API could send; see
// parseCreatedAt.
type createdAt time.Time

func (c *createdAt) UnmarshalJSON(b []byte) error {
	*c = createdAt{}
	switch {
	case len(b) > 0 && b[0] == '"':
		var t text
		_ = t.UnmarshalJSON(b)
		*c = createdAt(parseCreatedAt(string(t)))
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*c = createdAt(parseEpoch(string(b)))
	}
	return nil
}

// wireEvent is an event as sent. encoding/json matches the keys without
// regard to case.
type wireEvent struct {
	ID                   text            `json:"id"`
	EventType            text            `json:"event_type"`
	EventTypeDescription text            `json:"event_type_description"`
	CreatedAt            createdAt       `json:"created_at"`
	UserEmail            text            `json:"user_email"`
	UserID               userID          `json:"user_id"`
	AccountID            text            `json:"account_id"`
	Source               text            `json:"source"`
	SourceIP             text            `json:"source_ip"`
	SourceDescription    text            `json:"source_description"`
	SourceCountry        text            `json:"source_country"`
	Context              json.RawMessage `json:"context"`
}

// decodeEvent reads one valid JSON value as an event; a value that is not
// an object gives an event with only Raw, as encoding/json leaves a struct
// alone for a value of another type. The event keeps raw as Raw.
func decodeEvent(raw []byte) Event {
	e := Event{Raw: raw}
	var w wireEvent
	if !isObject(raw) || json.Unmarshal(raw, &w) != nil {
		return e
	}
	e.ID, e.EventType, e.EventTypeDescription = string(w.ID), string(w.EventType), string(w.EventTypeDescription)
	e.CreatedAt = time.Time(w.CreatedAt)
	e.UserEmail, e.UserID, e.AccountID = string(w.UserEmail), string(w.UserID), string(w.AccountID)
	e.Source, e.SourceIP = string(w.Source), string(w.SourceIP)
	e.SourceDescription, e.SourceCountry = string(w.SourceDescription), string(w.SourceCountry)
	e.Context = w.Context
	return e
}

// UnmarshalJSON decodes an event as the Audit API sends it, leniently: a
// field of an unexpected type is left empty, and a created_at it cannot read
// leaves CreatedAt zero, instead of failing. Raw keeps a copy of the bytes.
func (e *Event) UnmarshalJSON(b []byte) error {
	if !json.Valid(b) {
		return errors.New("decoding event: invalid JSON")
	}
	*e = decodeEvent(bytes.TrimSpace(bytes.Clone(b)))
	return nil
}

// createdAtLayouts are tried in order, after a space between date and time
// has become a "T". Every documented example has no zone and no fraction,
// which means UTC. A fraction is optional in each layout.
var createdAtLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
}

// parseCreatedAt reads created_at text: a date and time with or without a
// zone (none is UTC), a fraction, and a space or "T" between the two; or
// epoch seconds or milliseconds. It returns the zero time for anything
// else, which the caller counts as invalid.
func parseCreatedAt(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:") {
		return parseEpoch(s)
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range createdAtLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// epochMillisFrom is where epoch numbers are read as milliseconds: 1e11
// seconds is the year 5138, 1e11 milliseconds is March 1973, before the
// API existed. maxEpoch keeps the conversion away from overflow.
const (
	epochMillisFrom = 1e11
	maxEpoch        = 1e15
)

// parseEpoch reads epoch seconds or milliseconds, told apart by magnitude,
// with an optional fraction; the zero time for anything else.
func parseEpoch(s string) time.Time {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || f < 0 || f >= maxEpoch {
		return time.Time{}
	}
	if f >= epochMillisFrom {
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.UnixMilli(ms).UTC()
		}
		return time.UnixMicro(int64(f * 1e3)).UTC()
	}
	if secs, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(secs, 0).UTC()
	}
	return time.UnixMicro(int64(f * 1e6)).UTC()
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

// eventList is _embedded.events: an array of events, or null. Each event
// keeps a copy of its bytes as Raw.
type eventList []Event

func (l *eventList) UnmarshalJSON(b []byte) error {
	*l = nil
	if string(b) == "null" {
		return nil
	}
	var raws []eventBytes
	if b[0] != '[' || json.Unmarshal(b, &raws) != nil {
		return errNotList
	}
	for _, raw := range raws {
		*l = append(*l, decodeEvent(raw))
	}
	return nil
}

// eventBytes is one element of the events array, copied.
type eventBytes []byte

func (e *eventBytes) UnmarshalJSON(b []byte) error {
	*e = bytes.Clone(b)
	return nil
}

// lenient is a block that carries nothing when it has another shape than
// an object; only the events array and the page block are held to theirs.
type lenient[T any] struct{ v T }

func (l *lenient[T]) UnmarshalJSON(b []byte) error {
	if isObject(b) {
		var v T
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		l.v = v
	}
	return nil
}

// DecodePage decodes the body of a GET /events answer, as ListPage does;
// any error means the body as a whole is not a page (most often a cut
// connection).
func DecodePage(body []byte) (*Page, error) {
	if !isObject(body) {
		return nil, errNotObject
	}
	var w struct {
		Embedded lenient[struct {
			Events eventList `json:"events"`
		}] `json:"_embedded"`
		Links lenient[struct {
			Next json.RawMessage `json:"next"`
		}] `json:"_links"`
		Page *pageBlock `json:"page"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		if errors.Is(err, errNotList) {
			return nil, errNotList
		}
		return nil, fmt.Errorf("page: %w", err)
	}
	next := w.Links.v.Next
	p := &Page{Events: w.Embedded.v.Events, HasNext: len(next) > 0 && string(next) != "null"}
	if m := w.Page; m != nil {
		switch {
		case m.Number != nil:
			p.Number, p.numbered = *m.Number, true
		case m.Page != nil:
			p.Number, p.numbered = *m.Page, true
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
