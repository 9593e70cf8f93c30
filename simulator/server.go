package simulator

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Order is the order of events within the result set, which the real API
// does not document.
type Order int

const (
	// NewestFirst lists the newest event first.
	NewestFirst Order = iota
	// OldestFirst lists the oldest event first.
	OldestFirst
)

// Options configure a Server. The zero value is a working server that asks
// for no credentials.
type Options struct {
	// APIKey and APISecret are the HTTP Basic credentials required on every
	// request; both empty disables the check.
	APIKey, APISecret string
	// AccountID is the account_id of generated events and of added events
	// that have none; default APIKey, else "abcd1234".
	AccountID string
	// Seed makes generation (and the random faults) deterministic.
	Seed int64
	// Order is the order of events within the result set.
	Order Order
	// Now is the clock; default time.Now.
	Now func() time.Time
	// ClockSkew is how far the API's clock runs ahead of Now (behind when
	// negative). The API's clock writes the Date header of every answer,
	// stamps the events of Generate and Run, and decides which events are
	// visible yet.
	ClockSkew time.Duration
	// EventTypes is the OPTIONS answer; default DefaultEventTypes.
	EventTypes []EventType
	// OptionsNoContent makes OPTIONS /events answer 204 with no body, which
	// the docs say may happen.
	OptionsNoContent bool
	// PageNumberKey is how the page block spells the page number: "number"
	// (default) or "page".
	PageNumberKey string
	// ExclusiveDateBounds makes date_from and date_to both exclusive;
	// by default both are inclusive, to the second. Only SecondPrecision
	// reads bounds to the second, so only it heeds this.
	ExclusiveDateBounds bool
	// DatePrecision is how date_from and date_to are read; default
	// SecondPrecision.
	DatePrecision DatePrecision
	// PageCap is the most events a page holds whatever size asks, as a
	// server with a smaller maximum than the documented 100 would serve;
	// 0 caps at 100 only. The page block and links give the size served.
	PageCap int
	// PastEndNotFound makes a page number past the last answer 404, which
	// the docs list for GET /events, instead of an empty page.
	PastEndNotFound bool
	// CreatedAtFormat is how answers spell created_at; default
	// DefaultCreatedAt, the documented spelling.
	CreatedAtFormat CreatedAtFormat
	// BasePath prefixes the routes, e.g. "/beta/audit"; default "", which
	// serves /events and /events/{id}.
	BasePath string
}

// Server is the simulated API. It implements http.Handler and is safe for
// concurrent use.
type Server struct {
	opts         Options
	now          func() time.Time
	descriptions map[string]string

	mu     sync.Mutex
	events []stored // sorted by (CreatedAt, seq)
	byID   map[string]stored
	seq    uint64
	gen    *rand.Rand // event content, ids and Run's timing
	users  []user
	faults faultState
	stats  Stats
}

// stored is an event with what the server needs to order and search it.
type stored struct {
	Event
	seq    uint64
	search []byte // lower-cased JSON of the event, without links; made by the first search
}

// text returns the lower-cased JSON that search_text is looked up in,
// making it on first use: most servers are never searched. s.mu must be
// held.
func (st *stored) text() []byte {
	if st.search == nil {
		// The context was copied from values a caller built in Go, so an
		// error here could only be a value JSON cannot hold (a channel, a
		// function); such an event is still served, just never found by
		// text.
		raw, _ := marshal(st.wire(DefaultCreatedAt))
		st.search = bytes.ToLower(raw)
	}
	return st.search
}

// New returns a Server configured by o.
func New(o Options) *Server {
	if o.AccountID == "" {
		o.AccountID = o.APIKey
	}
	if o.AccountID == "" {
		o.AccountID = "abcd1234"
	}
	if o.EventTypes == nil {
		o.EventTypes = DefaultEventTypes
	}
	if o.PageNumberKey == "" {
		o.PageNumberKey = "number"
	}
	o.BasePath = strings.TrimSuffix(o.BasePath, "/")
	now := o.Now
	if now == nil {
		now = time.Now
	}
	desc := make(map[string]string, len(DefaultEventTypes)+len(o.EventTypes))
	for _, et := range DefaultEventTypes {
		desc[et.Type] = et.Description
	}
	for _, et := range o.EventTypes {
		desc[et.Type] = et.Description
	}
	seed := uint64(o.Seed)
	gen := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &Server{
		opts:         o,
		now:          now,
		descriptions: desc,
		byID:         make(map[string]stored),
		gen:          gen,
		faults:       faultState{rng: rand.New(rand.NewPCG(seed^0x5deece66d, seed))},
		stats:        newStats(),
	}
	s.users = makeUsers(gen)
	return s
}

// Add stores events. An empty ID is replaced by a generated UUID-looking
// one, an empty AccountID by the server's account and an empty
// EventTypeDescription by the known description of the type. CreatedAt is
// kept to the second in UTC. An event whose ID is already stored replaces it.
func (s *Server) Add(events ...Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(events)
}

func (s *Server) addLocked(events []Event) []Event {
	out := make([]Event, 0, len(events))
	added := make([]stored, 0, len(events))
	for _, e := range events {
		if e.ID == "" {
			e.ID = newUUID(s.gen)
		}
		if e.AccountID == "" {
			e.AccountID = s.opts.AccountID
		}
		if e.EventTypeDescription == "" {
			e.EventTypeDescription = s.descriptions[e.EventType]
		}
		e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Second)
		e.Context = maps.Clone(e.Context)
		if old, ok := s.byID[e.ID]; ok {
			replaced := func(st stored) bool { return st.seq == old.seq }
			s.events = slices.DeleteFunc(s.events, replaced)
			added = slices.DeleteFunc(added, replaced)
		}
		s.seq++
		st := stored{Event: e, seq: s.seq}
		added = append(added, st)
		s.byID[e.ID] = st
		e.Context = maps.Clone(e.Context)
		out = append(out, e)
	}
	if len(added) == 0 {
		return out
	}
	// The batch is sorted in once, not inserted event by event, each
	// insertion moving every later event: only the events from where the
	// batch's oldest goes can be out of order.
	slices.SortFunc(added, compareStored)
	i, _ := slices.BinarySearchFunc(s.events, added[0], compareStored)
	s.events = append(s.events, added...)
	slices.SortFunc(s.events[i:], compareStored)
	return out
}

func compareStored(a, b stored) int {
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// Now reads the API's clock: Options.Now plus Options.ClockSkew.
func (s *Server) Now() time.Time {
	return s.now().Add(s.opts.ClockSkew)
}

// Visible returns every event visible now on the API's clock, oldest
// first: what a complete reader should have counted.
func (s *Server) Visible() []Event {
	now := s.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, 0, len(s.events))
	for i := range s.events {
		if visible(&s.events[i].Event, now) {
			e := s.events[i].Event
			e.Context = maps.Clone(e.Context)
			out = append(out, e)
		}
	}
	return out
}

// visible reports whether e is listed at the API's time now: an event
// stamped later than now has not happened yet.
func visible(e *Event, now time.Time) bool {
	return !now.Before(e.CreatedAt) && (e.VisibleAt.IsZero() || !now.Before(e.VisibleAt))
}

// ServeHTTP answers the Audit API's routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &recorder{ResponseWriter: w}
	route := s.route(r)
	canceled := !s.serve(rec, r, route)
	s.record(r, route, rec.status, canceled)
}

// serve answers r and reports false when the client gave up before an
// answer was written.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) bool {
	f := s.nextFault()
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return false
		case <-t.C:
		}
	}
	// One reading of the API's clock serves the whole answer, so that its
	// Date is never older than an event it lists.
	now := s.Now()
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	if f.status != 0 {
		f.write(w)
		return true
	}
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="Vonage Audit API"`)
		writeError(w, http.StatusUnauthorized, "Bad credentials")
		return true
	}
	switch rt.kind {
	case routeList:
		s.serveList(w, r, now)
	case routeGet:
		s.serveGet(w, r, rt.id, now)
	case routeOptions:
		s.serveOptions(w)
	case routeMethod:
		w.Header().Set("Allow", rt.allow)
		writeError(w, http.StatusMethodNotAllowed, "Request method '"+r.Method+"' not supported")
	default:
		writeError(w, http.StatusNotFound, "No handler found for "+r.Method+" "+r.URL.Path)
	}
	return true
}

type routeKind int

const (
	routeUnknown routeKind = iota
	routeList
	routeGet
	routeOptions
	routeMethod
)

type route struct {
	kind  routeKind
	id    string
	allow string
	name  string // for Stats.ByRoute
}

func (s *Server) route(r *http.Request) route {
	rest, ok := strings.CutPrefix(r.URL.Path, s.opts.BasePath+"/events")
	switch {
	case !ok:
		return route{kind: routeUnknown, name: "other"}
	case rest == "":
		switch r.Method {
		case http.MethodGet:
			return route{kind: routeList, name: "list"}
		case http.MethodOptions:
			return route{kind: routeOptions, name: "options"}
		}
		return route{kind: routeMethod, allow: "GET, OPTIONS", name: "other"}
	case strings.HasPrefix(rest, "/") && len(rest) > 1 && !strings.Contains(rest[1:], "/"):
		if r.Method != http.MethodGet {
			return route{kind: routeMethod, allow: "GET", name: "other"}
		}
		return route{kind: routeGet, id: rest[1:], name: "get"}
	}
	return route{kind: routeUnknown, name: "other"}
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, id string, now time.Time) {
	s.mu.Lock()
	st, ok := s.byID[id]
	var e Event
	if ok {
		e = st.Event
	}
	s.mu.Unlock()
	if !ok || !visible(&e, now) {
		writeError(w, http.StatusNotFound, "Event with id "+id+" not found")
		return
	}
	writeJSON(w, http.StatusOK, "application/hal+json", e.withSelf(s.baseURL(r)+"/events/"+e.ID, s.opts.CreatedAtFormat))
}

func (s *Server) serveOptions(w http.ResponseWriter) {
	if s.opts.OptionsNoContent {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, "application/json", struct {
		EventTypes []EventType `json:"eventTypes"`
	}{s.opts.EventTypes})
}

// baseURL is the absolute URL of the API root as the client reached it.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.opts.BasePath
}

func (s *Server) authorized(r *http.Request) bool {
	if s.opts.APIKey == "" && s.opts.APISecret == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	return ok && constantTimeEqual(user, s.opts.APIKey) && constantTimeEqual(pass, s.opts.APISecret)
}

// marshal is json.Marshal without the HTML escaping, which would turn the
// "&" of every link into "\u0026" where the real API writes it plainly.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

type errorBody struct {
	Status  int    `json:"status"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeError writes the documented error shape.
func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, "application/json", errorBody{Status: status, Error: http.StatusText(status), Message: message})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := marshal(v)
	if err != nil {
		http.Error(w, "encoding answer: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType+";charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
