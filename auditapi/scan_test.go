package auditapi

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// The scanner in scan.go is checked against encoding/json: a reference
// decoder reads the same page with encoding/json and maps it to an Event by
// the rules decode.go documents. Both must agree on every valid page.
//
// One difference is deliberate and asserted as such: for a key that repeats
// within an event, the scanner takes the last value whatever its type, so a
// last value of the wrong type (null included) leaves the field empty, where
// encoding/json keeps the earlier string (it skips a null and refuses a
// mismatched type without touching the field). "Last wins, and a wrong type
// is empty" is the simpler promise, and no real page repeats a key.
//
// A second one is only at page level: encoding/json merges a repeated
// "_embedded" object into the first, while the scanner takes the last one.
// The reference therefore reads "_embedded" and "events" as RawMessage,
// which encoding/json replaces on every repeat.

// refEvent mirrors the API's event fields for encoding/json.
type refEvent struct {
	ID                   string          `json:"id"`
	EventType            string          `json:"event_type"`
	EventTypeDescription string          `json:"event_type_description"`
	CreatedAt            string          `json:"created_at"`
	UserEmail            string          `json:"user_email"`
	UserID               json.RawMessage `json:"user_id"`
	AccountID            string          `json:"account_id"`
	Source               string          `json:"source"`
	SourceIP             string          `json:"source_ip"`
	SourceDescription    string          `json:"source_description"`
	SourceCountry        string          `json:"source_country"`
	Context              json.RawMessage `json:"context"`
}

// refLast holds the last value of each string field, whatever its type: it
// tells where the deliberate difference above applies.
type refLast struct {
	ID                   json.RawMessage `json:"id"`
	EventType            json.RawMessage `json:"event_type"`
	EventTypeDescription json.RawMessage `json:"event_type_description"`
	CreatedAt            json.RawMessage `json:"created_at"`
	UserEmail            json.RawMessage `json:"user_email"`
	AccountID            json.RawMessage `json:"account_id"`
	Source               json.RawMessage `json:"source"`
	SourceIP             json.RawMessage `json:"source_ip"`
	SourceDescription    json.RawMessage `json:"source_description"`
	SourceCountry        json.RawMessage `json:"source_country"`
}

// refDecodeEvent maps one element of the events array to the Event the
// client promises.
func refDecodeEvent(t testing.TB, raw json.RawMessage) Event {
	t.Helper()
	want := Event{Raw: raw}
	if raw[0] != '{' {
		// encoding/json leaves a struct alone for any other value.
		return want
	}
	var r refEvent
	if err := json.Unmarshal(raw, &r); err != nil {
		// A field of the wrong type: encoding/json reports it and goes on.
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) {
			t.Fatalf("reference: decoding event %s: %v", raw, err)
		}
	}
	var last refLast
	if err := json.Unmarshal(raw, &last); err != nil {
		t.Fatalf("reference: decoding event %s as raw fields: %v", raw, err)
	}
	str := func(s string, last json.RawMessage) string {
		if len(last) == 0 || last[0] != '"' {
			return "" // the deliberate difference: the last value decides
		}
		return s
	}
	want.ID = str(r.ID, last.ID)
	want.EventType = str(r.EventType, last.EventType)
	want.EventTypeDescription = str(r.EventTypeDescription, last.EventTypeDescription)
	// parseCreatedAt is the documented rule itself (TestParseCreatedAt);
	// what is under test is the scanner's fast path around it.
	want.CreatedAt = parseCreatedAt(str(r.CreatedAt, last.CreatedAt))
	want.UserEmail = str(r.UserEmail, last.UserEmail)
	want.AccountID = str(r.AccountID, last.AccountID)
	want.Source = str(r.Source, last.Source)
	want.SourceIP = str(r.SourceIP, last.SourceIP)
	want.SourceDescription = str(r.SourceDescription, last.SourceDescription)
	want.SourceCountry = str(r.SourceCountry, last.SourceCountry)
	if len(r.UserID) > 0 {
		switch c := r.UserID[0]; {
		case c == '"':
			if err := json.Unmarshal(r.UserID, &want.UserID); err != nil {
				t.Fatalf("reference: user_id %s: %v", r.UserID, err)
			}
		case c == '-' || (c >= '0' && c <= '9'):
			want.UserID = string(r.UserID) // as the API spelt it
		}
	}
	want.Context = r.Context
	return want
}

// refDecodePage returns the events of a valid page body, or ok false when
// the client must refuse the page.
func refDecodePage(t testing.TB, body []byte) (events []Event, ok bool) {
	t.Helper()
	var page struct {
		Embedded json.RawMessage `json:"_embedded"`
		Page     json.RawMessage `json:"page"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, false
	}
	if page.Page != nil {
		var m *pageBlock
		if err := json.Unmarshal(page.Page, &m); err != nil {
			return nil, false
		}
	}
	if len(page.Embedded) == 0 || page.Embedded[0] != '{' {
		return nil, true
	}
	var embedded struct {
		Events json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(page.Embedded, &embedded); err != nil {
		t.Fatalf("reference: decoding _embedded %s: %v", page.Embedded, err)
	}
	switch {
	case len(embedded.Events) == 0 || string(embedded.Events) == "null":
		return nil, true
	case embedded.Events[0] != '[':
		return nil, false
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(embedded.Events, &raws); err != nil {
		t.Fatalf("reference: decoding events %s: %v", embedded.Events, err)
	}
	for _, raw := range raws {
		events = append(events, refDecodeEvent(t, raw))
	}
	return events, true
}

// checkScannerMatches decodes body with DecodePage and with the reference
// and fails on any difference.
func checkScannerMatches(t *testing.T, body []byte) {
	t.Helper()
	if !isObject(body) || !json.Valid(body) {
		if _, err := DecodePage(body); err == nil {
			t.Fatalf("DecodePage accepted a body that is not a JSON object: %q", body)
		}
		return
	}
	want, wantOK := refDecodePage(t, body)
	p, err := DecodePage(body)
	if (err == nil) != wantOK {
		t.Fatalf("DecodePage error %v, reference accepts the page: %t\nbody %q", err, wantOK, body)
	}
	if err != nil {
		return
	}
	if len(p.Events) != len(want) {
		t.Fatalf("scanner read %d events, encoding/json %d\nbody %q", len(p.Events), len(want), body)
	}
	for i := range want {
		if !reflect.DeepEqual(p.Events[i], want[i]) {
			t.Errorf("event %d differs\nbody    %q\nscanner %#v\nwant    %#v", i, body, p.Events[i], want[i])
		}
		// Event.UnmarshalJSON reads one event with the same scanner.
		var one Event
		if err := json.Unmarshal(want[i].Raw, &one); err != nil || !reflect.DeepEqual(one, want[i]) {
			t.Errorf("event %d alone differs (%v)\nraw     %q\nscanner %#v\nwant    %#v", i, err, want[i].Raw, one, want[i])
		}
	}
}

// page wraps events in a page body.
func page(events string) string {
	return `{"_embedded":{"events":[` + events + `]},"page":{"size":30,"number":1}}`
}

// scannerCases are the tricky pages, also seeds of the fuzz target.
var scannerCases = []struct {
	name string
	body string
	// check pins what the client promises for the row, so that the
	// reference itself is held to it.
	check func(t *testing.T, events []Event)
}{
	{"escapes", page(`{"id":"caf\u00e9 \"q\" back\\slash sl\/ash \ud83d\ude00 \t\n","user_email":"\u0041"}`), func(t *testing.T, es []Event) {
		if want := "café \"q\" back\\slash sl/ash \U0001F600 \t\n"; es[0].ID != want {
			t.Errorf("id %q, want %q", es[0].ID, want)
		}
	}},
	{"lone surrogate", page(`{"id":"\ud800x","source":"\udc00"}`), nil},
	{"invalid UTF-8", page("{\"id\":\"a\xffb\",\"source\":\"\xc3\x28\",\"event_type\":\"\xed\xa0\x80\"}"), func(t *testing.T, es []Event) {
		if es[0].ID != "a\uFFFDb" {
			t.Errorf("id %q, want U+FFFD in place of the invalid byte", es[0].ID)
		}
	}},
	{"invalid UTF-8 and an escape", page("{\"id\":\"a\xff\\n\"}"), nil},
	{"keys in other case", page(`{"ID":"x","Event_Type":"T","CREATED_AT":"2018-05-16T16:34:22","User_Id":5,"CONTEXT":{"a":1}}`), func(t *testing.T, es []Event) {
		if es[0].ID != "x" || es[0].EventType != "T" || es[0].CreatedAt.IsZero() || es[0].UserID != "5" || string(es[0].Context) != `{"a":1}` {
			t.Errorf("keys in other case were not matched: %#v", es[0])
		}
	}},
	// encoding/json matches a key when each rune has the same simple
	// case folding (unicode.SimpleFold) as the field name's: U+017F
	// (long s) is an s and U+212A (Kelvin) a k, but U+0131 (dotless i)
	// and U+0130 (dotted I) are not an i.
	{"keys that fold to ASCII", page(`{"ſource":"long s","SOURCE_ıP":"dotless","\u0130D":"dotted","\u0130d":"dotted"}`), func(t *testing.T, es []Event) {
		if es[0].Source != "long s" || es[0].SourceIP != "" || es[0].ID != "" {
			t.Errorf("Unicode keys not folded as encoding/json does: %#v", es[0])
		}
	}},
	{"page keys that fold to ASCII", `{"_EMBEDDED":{"eventſ":[{"ſource":"a"}]},"_lınks":{"next":{}},"paGe":{"size":1}}`, func(t *testing.T, es []Event) {
		if len(es) != 1 || es[0].Source != "a" {
			t.Errorf("events %#v", es)
		}
	}},
	{"escaped key", page(`{"\u0069d":"x","\u0055SER_ID":"7"}`), nil},
	{"repeated keys", page(`{"id":"a","id":"b","Id":"c","user_id":1,"user_id":"2","context":{},"context":[1]}`), func(t *testing.T, es []Event) {
		if es[0].ID != "c" || es[0].UserID != "2" || string(es[0].Context) != "[1]" {
			t.Errorf("the last value did not win: %#v", es[0])
		}
	}},
	{"repeated key, last of another type", page(`{"id":"a","id":5,"source":"s","source":null,"created_at":"2018-05-16T16:34:22","created_at":{}}`), func(t *testing.T, es []Event) {
		if es[0].ID != "" || es[0].Source != "" || !es[0].CreatedAt.IsZero() {
			t.Errorf("a last value of the wrong type did not empty the field: %#v", es[0])
		}
	}},
	{"nested values", page(`{"context":{"a":[1,{"b":"}]"}],"c":{"d":null}},"unknown":[{"id":"no"},["]"]],"x":{"id":"no"},"id":"yes"}`), func(t *testing.T, es []Event) {
		if es[0].ID != "yes" {
			t.Errorf("id %q: a nested id leaked out", es[0].ID)
		}
	}},
	{"user_id forms", page(`{"user_id":1e3},{"user_id":-1.5E+2},{"user_id":0},{"user_id":"12"},{"user_id":true},{"user_id":{"n":1}},{"user_id":[1]},{"user_id":null}`), func(t *testing.T, es []Event) {
		if es[0].UserID != "1e3" || es[1].UserID != "-1.5E+2" {
			t.Errorf("numbers not kept as spelt: %q %q", es[0].UserID, es[1].UserID)
		}
	}},
	{"null everywhere", page(`{"id":null,"event_type":null,"event_type_description":null,"created_at":null,"user_email":null,"user_id":null,"account_id":null,"source":null,"source_ip":null,"source_description":null,"source_country":null,"context":null}`), func(t *testing.T, es []Event) {
		if string(es[0].Context) != "null" {
			t.Errorf("context %q, want null", es[0].Context)
		}
	}},
	{"whitespace everywhere", " \r\n\t{ \"_embedded\" : { \"events\" :\n[ { \"id\" : \"a\" , \"user_id\" : 12 \t, \"context\" : { \"k\" : [ 1 , 2 ] } } ,\n\t{ } ] } , \"page\" : { \"size\" : 2 } } \n", func(t *testing.T, es []Event) {
		if len(es) != 2 || es[0].UserID != "12" || string(es[1].Raw) != "{ }" {
			t.Errorf("events %#v", es)
		}
	}},
	{"created_at forms", page(`{"created_at":"2018-05-16T16:34:22"},{"created_at":"2018-02-29T00:00:00"},{"created_at":"2018-05-16T24:00:00"},{"created_at":"0000-01-01T00:00:00"},{"created_at":"2018-05-16T18:34:22+02:00"},{"created_at":"2018-05-16T16:34:22.5"},{"created_at":"2018\u002d05-16T16:34:22"},{"created_at":"2018-05-16T16:34:60"},{"created_at":""},{"created_at":5}`), nil},
	{"empty events", page(``), nil},
	{"events null", `{"_embedded":{"events":null}}`, nil},
	{"events missing", `{"_embedded":{}}`, nil},
	{"_embedded missing", `{"page":{"size":30}}`, nil},
	{"_embedded not an object", `{"_embedded":[{"events":[{"id":"a"}]}]}`, nil},
	{"_embedded repeated", `{"_embedded":{"events":[{"id":"a"}]},"_embedded":{"other":1}}`, nil},
	{"events repeated", `{"_embedded":{"events":[{"id":"a"}],"events":[{"id":"b"},{"id":"c"}]}}`, nil},
	{"events not a list", `{"_embedded":{"events":"x"}}`, nil},
	{"events that are not objects", page(`1,"x",null,true,[{"id":"a"}],{"id":"b"}`), func(t *testing.T, es []Event) {
		if len(es) != 6 || es[0].ID != "" || string(es[2].Raw) != "null" || es[5].ID != "b" {
			t.Errorf("events %#v", es)
		}
	}},
}

func TestScannerMatchesEncodingJSON(t *testing.T) {
	for _, tt := range scannerCases {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			if !json.Valid(body) {
				t.Fatalf("test body is not valid JSON: %s", body)
			}
			checkScannerMatches(t, body)
			if tt.check != nil {
				p, err := DecodePage(body)
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, p.Events)
			}
		})
	}
}

// Every valid page gives the events encoding/json gives, but for the
// deliberate differences documented above.
func FuzzScannerMatchesEncodingJSON(f *testing.F) {
	addPageSeeds(f, func(b []byte) { f.Add(b) })
	for _, c := range scannerCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(checkScannerMatches)
}
