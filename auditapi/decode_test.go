package auditapi

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

type eventSummary struct {
	ID        string
	Type      string
	CreatedAt time.Time
	UserEmail string
	UserID    string
	Source    string
	Country   string
	Context   string
}

func summarize(events []Event) []eventSummary {
	var out []eventSummary
	for _, e := range events {
		// Fixtures differ in indentation; compare the context compacted.
		var ctx bytes.Buffer
		if err := json.Compact(&ctx, e.Context); err != nil {
			ctx.Write(e.Context)
		}
		out = append(out, eventSummary{e.ID, e.EventType, e.CreatedAt, e.UserEmail, e.UserID, e.Source, e.SourceCountry, ctx.String()})
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestListPageDecoding(t *testing.T) {
	newest := []eventSummary{
		{"aaaaaaaa-bbbb-cccc-dddd-000000000003", "NUMBER_UPDATED", utc("2018-05-16T16:34:22Z"), "yourname@example.com", "1234567", "CD", "GB",
			`{"country":"GB","msisdn":"447700900000","voice-type":"app"}`},
		{"aaaaaaaa-bbbb-cccc-dddd-000000000002", "APP_CREATE", utc("2018-05-16T16:30:00Z"), "yourname@example.com", "1234567", "CD", "GB",
			`{"appId":"0c1a9c63-4d3c-4a5b-9a5e-0123456789ab","name":"demo"}`},
		{"aaaaaaaa-bbbb-cccc-dddd-000000000001", "USER_LOGIN", utc("2018-05-16T09:00:01Z"), "yourname@example.com", "1234567", "CD", "GB", `{}`},
	}
	oldest := []eventSummary{newest[2], newest[1], newest[0]}

	tests := []struct {
		file       string
		wantEvents []eventSummary
		wantPage   Page // without Events
	}{
		{"page_newest_first.json", newest, Page{Number: 1, Size: 30, TotalPages: 1, TotalElements: 3, HasTotalElements: true}},
		{"page_oldest_first.json", oldest, Page{Number: 1, Size: 30, TotalPages: 1, TotalElements: 3, HasTotalElements: true}},
		{"page_empty.json", nil, Page{Number: 1, Size: 100, TotalPages: 0, TotalElements: 0, HasTotalElements: true}},
		{"page_page_variant.json", []eventSummary{
			{"aaaaaaaa-bbbb-cccc-dddd-000000000010", "USER_STATUS", utc("2020-01-02T03:04:05Z"), "admin@example.com", "42", "CD", "GB", `{"status":"ACTIVE"}`},
		}, Page{Number: 2, Size: 1, TotalPages: 3, TotalElements: 3, HasNext: true, HasTotalElements: true}},
		{"page_event_variants.json", []eventSummary{
			// No user fields at all, as in the documented DEVAPI example.
			{"bbbbbbbb-0000-0000-0000-000000000001", "NUMBER_RELEASE", utc("2018-08-01T10:11:12Z"), "", "", "DEVAPI", "US", `{"msisdn":"14155550100"}`},
			{"bbbbbbbb-0000-0000-0000-000000000002", "USER_UPDATE", utc("2018-08-01T10:11:12Z"), "someone@example.com", "7654321", "CD", "", "null"},
			{"bbbbbbbb-0000-0000-0000-000000000003", "APP_DELETE", utc("2018-08-01T10:11:12.5Z"), "", "99", "CD", "", `{"applicationId":"abc","voice-type":"app"}`},
			// Unreadable created_at: kept, with a zero time, for the caller to skip.
			{"bbbbbbbb-0000-0000-0000-000000000004", "USER_LOGIN", time.Time{}, "someone@example.com", "", "CD", "", ""},
			// Epoch seconds as a number; a user_id of the wrong type is left
			// empty and the rest survives.
			{"bbbbbbbb-0000-0000-0000-000000000005", "USER_LOGOUT", utc("2018-08-01T10:11:12Z"), "", "", "CD", "GB", ""},
		}, Page{Number: 1, Size: 30, TotalPages: 1, TotalElements: 5, HasTotalElements: true}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readTestdata(t, tt.file)
			c := newTestClient(t, newTestServer(t, serveFile(t, tt.file)), nil, nil)
			p, err := c.ListPage(context.Background(), Query{})
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(p.Events); !reflect.DeepEqual(got, tt.wantEvents) {
				t.Errorf("events:\n got %+v\nwant %+v", got, tt.wantEvents)
			}
			for _, e := range p.Events {
				if !bytes.Contains(body, e.Raw) || e.Raw[0] != '{' || e.Raw[len(e.Raw)-1] != '}' {
					t.Errorf("Raw of %s is not the event's bytes: %s", e.ID, e.Raw)
				}
			}
			if p.Date.IsZero() || p.Received.IsZero() {
				t.Errorf("page: Date %v and Received %v should be the answer's", p.Date, p.Received)
			}
			if !p.numbered {
				t.Error("page: the page block's number was not noted")
			}
			p.Events, p.Date, p.Received, p.numbered = nil, time.Time{}, time.Time{}, false
			if !reflect.DeepEqual(*p, tt.wantPage) {
				t.Errorf("page: got %+v, want %+v", *p, tt.wantPage)
			}
		})
	}
}

func TestDecodePageRejectsBrokenBodies(t *testing.T) {
	full := readTestdata(t, "page_newest_first.json")
	for name, body := range map[string][]byte{
		"truncated":          full[:len(full)/2],
		"empty":              nil,
		"array":              []byte(`[]`),
		"html":               []byte(`<html>gateway</html>`),
		"events not a list":  []byte(`{"_embedded":{"events":{}}}`),
		"page block strings": []byte(`{"page":{"totalPages":"many"}}`),
		"page block a list":  []byte(`{"page":[1]}`),
		"null":               []byte(`null`),
		"string":             []byte(`"page"`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodePage(body); err == nil {
				t.Error("got no error")
			}
		})
	}
}

func TestDecodeCreatedAt(t *testing.T) {
	const want = "2018-05-16T16:34:22Z"
	tests := []struct {
		name, value string // value is the JSON of created_at
		want        string // RFC 3339; "" for the zero time
	}{
		{"documented: no zone, no fraction", `"2018-05-16T16:34:22"`, want},
		{"UTC zone", `"2018-05-16T16:34:22Z"`, want},
		{"offset", `"2018-05-16T18:34:22+02:00"`, want},
		{"offset without colon", `"2018-05-16T18:34:22+0200"`, want},
		{"offset in hours", `"2018-05-16T13:34:22-03"`, want},
		{"fraction and zone", `"2018-05-16T16:34:22.123456Z"`, "2018-05-16T16:34:22.123456Z"},
		{"fraction, no zone", `"2018-05-16T16:34:22.250"`, "2018-05-16T16:34:22.25Z"},
		{"space for T", `"2018-05-16 16:34:22"`, want},
		{"space for T, fraction and zone", `"2018-05-16 18:34:22.5+02:00"`, "2018-05-16T16:34:22.5Z"},
		{"epoch seconds", `1526488462`, want},
		{"epoch seconds with a fraction", `1526488462.5`, "2018-05-16T16:34:22.5Z"},
		{"epoch seconds in exponent form", `1.526488462e9`, want},
		{"epoch milliseconds", `1526488462000`, want},
		{"epoch milliseconds with a remainder", `1526488462123`, "2018-05-16T16:34:22.123Z"},
		{"epoch seconds as a string", `"1526488462"`, want},
		{"epoch milliseconds as a string", `"1526488462000"`, want},
		{"empty", `""`, ""},
		{"null", `null`, ""},
		{"other text", `"yesterday at noon"`, ""},
		{"day first", `"16/05/2018"`, ""},
		{"date only", `"2018-05-16"`, ""},
		{"impossible day", `"2018-02-30T00:00:00"`, ""},
		{"negative epoch", `-1`, ""},
		{"epoch past any plausible date", `1e20`, ""},
		{"object", `{"seconds":1526488462}`, ""},
		{"boolean", `true`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			if err := json.Unmarshal([]byte(`{"id":"x","created_at":`+tt.value+`}`), &e); err != nil {
				t.Fatal(err)
			}
			var wantTime time.Time
			if tt.want != "" {
				wantTime = utc(tt.want)
			}
			if !e.CreatedAt.Equal(wantTime) || e.CreatedAt.Location() != time.UTC || e.ID != "x" {
				t.Errorf("created_at %s: got %v, want %v (in UTC)", tt.value, e.CreatedAt, wantTime)
			}
		})
	}
}

func TestDecodeEventFieldTypes(t *testing.T) {
	tests := []struct {
		name, json string
		want       Event // without Raw
	}{
		{"user_id as a number", `{"user_id":1234567}`, Event{UserID: "1234567"}},
		{"user_id as a string", `{"user_id":"1234567"}`, Event{UserID: "1234567"}},
		{"user_id of another type", `{"user_id":[1]}`, Event{}},
		{"a string field of another type", `{"id":7,"event_type":{"a":1},"source":"CD"}`, Event{Source: "CD"}},
		{"keys matched without case", `{"ID":"a","Event_Type":"APP_CREATE"}`, Event{ID: "a", EventType: "APP_CREATE"}},
		{"the last of a repeated key decides", `{"id":"a","id":"b","source":"CD","source":null}`, Event{ID: "b"}},
		{"context kept as it was sent", `{"context":{"b":1, "a":[true]}}`, Event{Context: json.RawMessage(`{"b":1, "a":[true]}`)}},
		{"escapes and invalid UTF-8", "{\"user_email\":\"a\\u00e9\xff\"}", Event{UserEmail: "a\u00e9\ufffd"}},
		{"not an object", `[1,2]`, Event{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e Event
			if err := json.Unmarshal([]byte(tt.json), &e); err != nil {
				t.Fatal(err)
			}
			if string(e.Raw) != tt.json {
				t.Errorf("Raw = %s, want the event's bytes", e.Raw)
			}
			e.Raw = nil
			if !reflect.DeepEqual(e, tt.want) {
				t.Errorf("got %+v, want %+v", e, tt.want)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := utc("2024-03-01T12:00:00Z")
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"5", 5 * time.Second, true},
		{" 0 ", 0, true},
		{"Fri, 01 Mar 2024 12:00:30 GMT", 30 * time.Second, true},
		{"Fri, 01 Mar 2024 11:00:00 GMT", 0, true},
		{"99999999999999999", maxRetryAfterSeconds * time.Second, true},
		{"", 0, false},
		{"-3", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestDecodeEventTypes(t *testing.T) {
	tests := []struct {
		in   string
		want []EventType
	}{
		{`{"eventTypes":[{"type":"USER_STATUS","description":"User status updated"}]}`, []EventType{{"USER_STATUS", "User status updated"}}},
		{`[{"type":"APP_CREATE"}]`, []EventType{{Type: "APP_CREATE"}}},
		{`{"eventTypes":[]}`, nil},
		{"  \n", nil},
	}
	for _, tt := range tests {
		got, err := decodeEventTypes([]byte(tt.in))
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("decodeEventTypes(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := decodeEventTypes([]byte(`{"eventTypes":`)); err == nil {
		t.Error("truncated answer: got no error")
	}
}
