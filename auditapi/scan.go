package auditapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"time"
	"unicode"
	"unicode/utf8"
)

// The events of a page are read by the small scanner below instead of by
// encoding/json's reflection: each event is read once, field by field, and
// its Raw and Context are slices of the page's body, not copies. The input has always been validated by encoding/json
// before (json.Valid in DecodePage and in Event.UnmarshalJSON),
// so the scanner finds boundaries; its errors only guard against misuse.

var errSyntax = errors.New("malformed JSON in an event")

// decodeEvents reads the value of _embedded.events: an array of events,
// null, or nil when absent. The events keep slices of raw.
func decodeEvents(raw []byte) ([]Event, error) {
	i := skipSpace(raw, 0)
	if i == len(raw) || raw[i] == 'n' {
		return nil, nil
	}
	if raw[i] != '[' {
		return nil, errNotList
	}
	var events []Event
	for i++; ; {
		i = skipSpace(raw, i)
		if i >= len(raw) {
			return nil, errSyntax
		}
		switch raw[i] {
		case ']':
			return events, nil
		case ',':
			i++
			continue
		}
		var e Event
		end, err := readValue(raw, i, &e)
		if err != nil {
			return nil, err
		}
		// The full slice expression keeps an append to Raw from writing
		// over the next event.
		e.Raw = raw[i:end:end]
		events = append(events, e)
		i = end
	}
}

// member returns the value of key in the JSON object b, or nil when b is
// not an object or has no such key.
func member(b []byte, key string) []byte {
	return members(b, key)[0]
}

// members returns the values of keys in the JSON object b, in one walk over
// it; nil for a key it lacks. As with encoding/json, a key matches
// case-insensitively and the last one wins.
func members(b []byte, keys ...string) [][]byte {
	found := make([][]byte, len(keys))
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return found
	}
	for i++; ; {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] == '}' {
			return found
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return found
		}
		keyEnd, keyEscaped, err := stringEnd(b, i)
		if err != nil {
			return found
		}
		k := b[i+1 : keyEnd-1]
		if keyEscaped {
			k = []byte(unquote(b[i:keyEnd], true))
		}
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return found
		}
		if i = skipSpace(b, i+1); i >= len(b) {
			return found
		}
		end, _, err := valueEnd(b, i)
		if err != nil {
			return found
		}
		for j, key := range keys {
			if bytes.EqualFold(k, []byte(key)) {
				found[j] = b[i:end:end]
			}
		}
		i = end
	}
}

// readValue reads one element of the events array into e and returns the
// index after it. An element that is not an object gives an empty event,
// as encoding/json leaves a struct alone for a value of another type.
func readValue(b []byte, i int, e *Event) (int, error) {
	if b[i] == '{' {
		return readEvent(b, i, e)
	}
	end, _, err := valueEnd(b, i)
	return end, err
}

// readEvent reads the object at b[i] into e and returns the index after it.
// Unknown keys are skipped; a key matches case-insensitively, as it does
// for encoding/json.
func readEvent(b []byte, i int, e *Event) (int, error) {
	for i++; ; {
		i = skipSpace(b, i)
		if i >= len(b) {
			return 0, errSyntax
		}
		switch b[i] {
		case '}':
			return i + 1, nil
		case ',':
			i++
			continue
		case '"':
		default:
			return 0, errSyntax
		}
		keyEnd, keyEscaped, err := stringEnd(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : keyEnd-1]
		if keyEscaped {
			key = []byte(unquote(b[i:keyEnd], true))
		}
		i = skipSpace(b, keyEnd)
		if i >= len(b) || b[i] != ':' {
			return 0, errSyntax
		}
		i = skipSpace(b, i+1)
		if i >= len(b) {
			return 0, errSyntax
		}
		end, escaped, err := valueEnd(b, i)
		if err != nil {
			return 0, err
		}
		e.setField(key, b[i:end:end], escaped)
		i = end
	}
}

// setField stores one value; a value of the wrong type leaves the field empty.
func (e *Event) setField(key, v []byte, escaped bool) {
	switch string(key) {
	case "id":
		e.ID = stringValue(v, escaped)
	case "event_type":
		e.EventType = stringValue(v, escaped)
	case "event_type_description":
		e.EventTypeDescription = stringValue(v, escaped)
	case "created_at":
		e.CreatedAt = createdAtValue(v, escaped)
	case "user_email":
		e.UserEmail = stringValue(v, escaped)
	case "user_id":
		// Seen both as a string and as a number.
		if len(v) > 0 && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
			e.UserID = string(v)
		} else {
			e.UserID = stringValue(v, escaped)
		}
	case "account_id":
		e.AccountID = stringValue(v, escaped)
	case "source":
		e.Source = stringValue(v, escaped)
	case "source_ip":
		e.SourceIP = stringValue(v, escaped)
	case "source_description":
		e.SourceDescription = stringValue(v, escaped)
	case "source_country":
		e.SourceCountry = stringValue(v, escaped)
	case "context":
		e.Context = json.RawMessage(v)
	default:
		if folded := foldKey(key); !bytes.Equal(folded, key) {
			e.setField(folded, v, escaped)
		}
	}
}

// foldKey maps key to the spelling setField knows when encoding/json would
// match them: each rune becomes the smallest of its simple case folding
// (unicode.SimpleFold) as encoding/json's foldName does, and an ASCII
// letter then lower case. So U+017F (long s) reads as "s", while U+0130
// (dotted I), which unicode.ToLower would make an "i", stays itself. A key
// already in that form is returned as it is.
func foldKey(key []byte) []byte {
	i := 0
	for i < len(key) && key[i] < utf8.RuneSelf && (key[i] < 'A' || key[i] > 'Z') {
		i++
	}
	if i == len(key) {
		return key
	}
	out := append(make([]byte, 0, len(key)), key[:i]...)
	for i < len(key) {
		r, n := utf8.DecodeRune(key[i:])
		i += n
		r = foldRune(r)
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		out = utf8.AppendRune(out, r)
	}
	return out
}

// foldRune returns the smallest rune of r's simple case folding orbit.
func foldRune(r rune) rune {
	for {
		next := unicode.SimpleFold(r)
		if next <= r {
			return next
		}
		r = next
	}
}

// stringValue returns the JSON string v as Go text, or "" when v is not a
// string.
func stringValue(v []byte, escaped bool) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	return unquote(v, escaped)
}

// unquote decodes the JSON string tok, quotes included. Text without
// escapes and in valid UTF-8 is taken as it is; anything else goes through
// encoding/json, which also turns invalid UTF-8 into U+FFFD (a label value
// must be valid UTF-8).
func unquote(tok []byte, escaped bool) string {
	s := tok[1 : len(tok)-1]
	if !escaped && utf8.Valid(s) {
		return string(s)
	}
	var out string
	if err := json.Unmarshal(tok, &out); err != nil {
		return ""
	}
	return out
}

// createdAtValue reads created_at. The documented shape is read without
// time.Parse, which would cost more than the rest of the event.
func createdAtValue(v []byte, escaped bool) time.Time {
	if len(v) < 2 || v[0] != '"' {
		return time.Time{}
	}
	if t, ok := parseCreatedAtFast(v[1 : len(v)-1]); ok {
		return t
	}
	return parseCreatedAt(unquote(v, escaped))
}

// parseCreatedAtFast reads exactly "YYYY-MM-DDTHH:MM:SS" as UTC; ok is false
// for any other text, which parseCreatedAt then reads.
func parseCreatedAtFast(s []byte) (t time.Time, ok bool) {
	if len(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, false
	}
	num := func(from, to int) int {
		n := 0
		for _, c := range s[from:to] {
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec := num(11, 13), num(14, 16), num(17, 19)
	if year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return time.Time{}, false
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	// time.Date carries an impossible day into the next month; time.Parse
	// refuses it.
	if t.Day() != day {
		return time.Time{}, false
	}
	return t, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index after the JSON value at b[i], and for a string
// whether it holds escapes.
func valueEnd(b []byte, i int) (end int, escaped bool, err error) {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _, err := stringEnd(b, j)
				if err != nil {
					return 0, false, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, false, nil
				}
			}
		}
		return 0, false, errSyntax
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	if j == i {
		return 0, false, errSyntax
	}
	return j, false, nil
}

// stringEnd returns the index after the string whose opening quote is at
// b[i], and whether it holds escapes.
func stringEnd(b []byte, i int) (end int, escaped bool, err error) {
	rest := b[i+1:]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return 0, false, errSyntax
	}
	if bytes.IndexByte(rest[:q], '\\') < 0 {
		return i + 1 + q + 1, false, nil
	}
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '"':
			return j + 1, true, nil
		case '\\':
			j++
		}
	}
	return 0, false, errSyntax
}
