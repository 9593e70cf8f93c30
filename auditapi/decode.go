package auditapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// text is a JSON string field read leniently, as every event field is: one
// odd event must not cost the count of the whole page. Any other JSON
// value, null included, leaves it empty; of a repeated key, the last decides.
type text string

func (t *text) UnmarshalJSON(b []byte) error {
	*t = ""
	if len(b) < 2 || b[0] != '"' {
		return nil
	}
	// b is valid JSON: without escapes, the text between the quotes is the
	// value. encoding/json also turns invalid UTF-8 into U+FFFD, as a
	// label value needs.
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
	var t text
	_ = t.UnmarshalJSON(b)
	*u = userID(t)
	if b[0] == '-' || (b[0] >= '0' && b[0] <= '9') {
		*u = userID(b)
	}
	return nil
}

// createdAt is created_at as text or as an epoch number; see parseCreatedAt.
type createdAt time.Time

func (c *createdAt) UnmarshalJSON(b []byte) error {
	var t text
	_ = t.UnmarshalJSON(b)
	if b[0] == '"' {
		*c = createdAt(parseCreatedAt(string(t)))
	} else {
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

// decodeEvent reads one valid JSON value as an event with raw as Raw; a
// value that is not an object gives an event with only Raw.
func decodeEvent(raw []byte) Event {
	var w wireEvent
	if !isObject(raw) || json.Unmarshal(raw, &w) != nil {
		return Event{Raw: raw}
	}
	return Event{
		ID: string(w.ID), EventType: string(w.EventType), EventTypeDescription: string(w.EventTypeDescription),
		CreatedAt: time.Time(w.CreatedAt), UserEmail: string(w.UserEmail), UserID: string(w.UserID),
		AccountID: string(w.AccountID), Source: string(w.Source), SourceIP: string(w.SourceIP),
		SourceDescription: string(w.SourceDescription), SourceCountry: string(w.SourceCountry),
		Context: w.Context, Raw: raw,
	}
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

// createdAtLayouts each take an optional fraction. Every documented example
// has no zone and no fraction: no zone means UTC.
var createdAtLayouts = []string{
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999Z07",
}

// parseCreatedAt reads a date and time, with "T" or a space between them,
// or epoch seconds or milliseconds; the zero time for anything else.
func parseCreatedAt(s string) time.Time {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range createdAtLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return parseEpoch(s)
}

// Epoch numbers from 1e11 on are milliseconds: 1e11 seconds is the year
// 5138, 1e11 ms March 1973. maxEpoch keeps the conversion from overflowing.
const (
	epochMillisFrom = 1e11
	maxEpoch        = 1e15
)

// parseEpoch reads epoch seconds or milliseconds, told apart by magnitude,
// with an optional fraction; the zero time for anything else.
func parseEpoch(s string) time.Time {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || !(f >= 0 && f < maxEpoch) {
		return time.Time{}
	}
	micros := 1e6
	if f >= epochMillisFrom {
		micros = 1e3
	}
	return time.UnixMicro(int64(math.Round(f * micros))).UTC()
}

// pageBlock is a page's "page" object. Pointers tell a missing value from 0.
type pageBlock struct {
	Size          *int `json:"size"`
	TotalElements *int `json:"totalElements"`
	TotalPages    *int `json:"totalPages"`
	Number        *int `json:"number"`
	Page          *int `json:"page"`
}

var errNotObject, errNotList = errors.New("expected a JSON object"), errors.New("_embedded.events is not a JSON array")

// eventList is _embedded.events: an array of events, or null. Each event
// keeps a copy of its bytes (json.RawMessage copies) as Raw.
type eventList []Event

func (l *eventList) UnmarshalJSON(b []byte) error {
	var raws []json.RawMessage
	if (b[0] != '[' && string(b) != "null") || json.Unmarshal(b, &raws) != nil {
		return errNotList
	}
	*l = nil
	for _, raw := range raws {
		*l = append(*l, decodeEvent(raw))
	}
	return nil
}

// lenient is a block that carries nothing when it has another shape than
// an object; only the events array and the page block are held to theirs.
type lenient[T any] struct{ v T }

func (l *lenient[T]) UnmarshalJSON(b []byte) error {
	if !isObject(b) {
		return nil
	}
	return json.Unmarshal(b, &l.v)
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
	if err := json.Unmarshal(body, &w); errors.Is(err, errNotList) {
		return nil, errNotList
	} else if err != nil {
		return nil, fmt.Errorf("page: %w", err)
	}
	next := w.Links.v.Next
	p := &Page{Events: w.Embedded.v.Events, HasNext: len(next) > 0 && string(next) != "null"}
	if m := w.Page; m != nil {
		deref := func(p *int) int {
			if p == nil {
				return 0
			}
			return *p
		}
		p.Number, p.numbered = deref(cmp.Or(m.Number, m.Page)), m.Number != nil || m.Page != nil
		p.Size, p.TotalPages, p.TotalElements = deref(m.Size), deref(m.TotalPages), deref(m.TotalElements)
		p.HasTotalElements = m.TotalElements != nil
	}
	return p, nil
}

func isObject(body []byte) bool {
	b := bytes.TrimLeft(body, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// decodeEventTypes reads the OPTIONS /events answer: the documented
// {"eventTypes": [...]}, or a bare array. An empty answer gives nil.
func decodeEventTypes(body []byte) ([]EventType, error) {
	b := bytes.TrimSpace(body)
	var w struct {
		EventTypes []EventType `json:"eventTypes"`
	}
	var err error
	switch {
	case len(b) == 0:
	case b[0] == '[':
		err = json.Unmarshal(b, &w.EventTypes)
	default:
		err = json.Unmarshal(b, &w)
	}
	if err != nil || len(w.EventTypes) == 0 {
		return nil, err
	}
	return w.EventTypes, nil
}
