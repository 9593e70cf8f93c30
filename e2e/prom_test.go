package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// promAPI is the part of Prometheus's HTTP API the test uses. It is written
// here rather than taken from client_golang's api package, which would add
// a dependency to go.mod for the tests alone.
type promAPI struct {
	base string
}

type apiAnswer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// series is one result series: its labels and its values, one per step of a
// range query, one for an instant query.
type series struct {
	Metric model.Metric
	Values []float64
}

// instant runs an instant query at ts.
func (p promAPI) instant(ctx context.Context, query string, ts time.Time) ([]series, error) {
	return p.get(ctx, "/api/v1/query", url.Values{"query": {query}, "time": {unix(ts)}})
}

// rangeQuery runs a range query over [start, end] with the given step.
func (p promAPI) rangeQuery(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]series, error) {
	return p.get(ctx, "/api/v1/query_range", url.Values{
		"query": {query}, "start": {unix(start)}, "end": {unix(end)},
		"step": {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	})
}

func unix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}

func (p promAPI) get(ctx context.Context, path string, params url.Values) ([]series, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("building the query request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying prometheus: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading prometheus's answer: %w", err)
	}
	var a apiAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("decoding prometheus's answer (status %d): %w", resp.StatusCode, err)
	}
	if a.Status != "success" {
		return nil, fmt.Errorf("prometheus answered %s: %s: %s", a.Status, a.ErrorType, a.Error)
	}
	switch a.Data.ResultType {
	case "vector":
		var v model.Vector
		if err := json.Unmarshal(a.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("decoding a vector: %w", err)
		}
		out := make([]series, len(v))
		for i, s := range v {
			out[i] = series{Metric: s.Metric, Values: []float64{float64(s.Value)}}
		}
		return out, nil
	case "matrix":
		var m model.Matrix
		if err := json.Unmarshal(a.Data.Result, &m); err != nil {
			return nil, fmt.Errorf("decoding a matrix: %w", err)
		}
		out := make([]series, len(m))
		for i, s := range m {
			out[i].Metric = s.Metric
			for _, v := range s.Values {
				out[i].Values = append(out[i].Values, float64(v.Value))
			}
		}
		return out, nil
	case "scalar":
		var s model.Scalar
		if err := json.Unmarshal(a.Data.Result, &s); err != nil {
			return nil, fmt.Errorf("decoding a scalar: %w", err)
		}
		return []series{{Metric: model.Metric{}, Values: []float64{float64(s.Value)}}}, nil
	}
	return nil, fmt.Errorf("unexpected result type %q", a.Data.ResultType)
}

// hasData reports whether a result holds at least one finite, non-zero value:
// a panel that would draw something other than a flat zero or "No data".
func hasData(result []series) bool {
	for _, s := range result {
		for _, v := range s.Values {
			if v != 0 && !math.IsNaN(v) && !math.IsInf(v, 0) {
				return true
			}
		}
	}
	return false
}

// webhook records the notifications Alertmanager sends it.
type webhook struct {
	mu     sync.Mutex
	alerts []notifiedAlert
}

type notifiedAlert struct {
	Received    time.Time
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []notifiedAlert `json:"alerts"`
	}
	if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range msg.Alerts {
		a.Received = now
		w.alerts = append(w.alerts, a)
	}
}

// firing returns the firing alerts received at or after since whose labels
// include all of match.
func (w *webhook) firing(since time.Time, match map[string]string) []notifiedAlert {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notifiedAlert
	for _, a := range w.alerts {
		if a.Status != "firing" || a.Received.Before(since) {
			continue
		}
		ok := true
		for k, v := range match {
			if a.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, a)
		}
	}
	return out
}

// names lists the alert names received so far, for failure messages.
func (w *webhook) names() map[string]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]int{}
	for _, a := range w.alerts {
		out[a.Labels["alertname"]+"/"+a.Status]++
	}
	return out
}
