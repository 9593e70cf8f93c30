package simulator

import (
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// recentLimit bounds Stats.Recent, so that a long demo run does not grow.
const recentLimit = 100

// Stats counts the requests the server has seen.
type Stats struct {
	// Requests counts every request, answered or not.
	Requests int
	// ByStatus counts answers by HTTP status.
	ByStatus map[int]int
	// ByPath counts requests by URL path as received.
	ByPath map[string]int
	// ByRoute counts requests by route: "list", "get", "options" or "other".
	ByRoute map[string]int
	// ByDateBounds counts GET /events requests by how their date_from and
	// date_to are spelt: "none" (neither given), "date" (each given is a
	// date alone, yyyy-MM-dd), "time" (each has a time of day) or "mixed".
	ByDateBounds map[string]int
	// Canceled counts requests whose client gave up during the injected
	// latency, before any answer.
	Canceled int
	// Recent holds the last requests, oldest first.
	Recent []Request
}

// Request is one request as Stats records it. Its query never holds
// credentials: the API takes them only in the Authorization header.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Status   int // 0 when the client gave up before an answer
}

func newStats() Stats {
	return Stats{ByStatus: map[int]int{}, ByPath: map[string]int{}, ByRoute: map[string]int{}, ByDateBounds: map[string]int{}}
}

// Stats returns a copy of the request counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByStatus = maps.Clone(st.ByStatus)
	st.ByPath = maps.Clone(st.ByPath)
	st.ByRoute = maps.Clone(st.ByRoute)
	st.ByDateBounds = maps.Clone(st.ByDateBounds)
	st.Recent = slices.Clone(st.Recent)
	return st
}

func (s *Server) record(r *http.Request, rt route, status int, canceled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &s.stats
	st.Requests++
	st.ByPath[r.URL.Path]++
	st.ByRoute[rt.name]++
	if rt.kind == routeList {
		st.ByDateBounds[dateBounds(r.URL.Query())]++
	}
	if canceled {
		st.Canceled++
		status = 0
	} else {
		st.ByStatus[status]++
	}
	if len(st.Recent) == recentLimit {
		st.Recent = slices.Delete(st.Recent, 0, 1)
	}
	st.Recent = append(st.Recent, Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Status: status})
}

// dateBounds names how a list query spells its date bounds, for
// Stats.ByDateBounds.
func dateBounds(q url.Values) string {
	dates, times := 0, 0
	for _, k := range []string{"date_from", "date_to"} {
		switch v := q.Get(k); {
		case v == "":
		case isDateOnly(v):
			dates++
		default:
			times++
		}
	}
	switch {
	case dates > 0 && times > 0:
		return "mixed"
	case dates > 0:
		return "date"
	case times > 0:
		return "time"
	}
	return "none"
}

// recorder remembers the status written through it.
type recorder struct {
	http.ResponseWriter
	status int
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}
