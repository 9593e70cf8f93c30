package dashboards

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// Kind says where in a dashboard a query was found.
type Kind string

// The places a dashboard holds PromQL.
const (
	KindTarget     Kind = "target"
	KindVariable   Kind = "variable"
	KindAnnotation Kind = "annotation"
)

// Query is one PromQL expression of a dashboard, with Grafana variables still in
// place: pass Expr through Substitute before sending it to Prometheus.
type Query struct {
	File      string // dashboard file name in FS
	Dashboard string // dashboard title
	Panel     string // panel title, variable name or annotation name
	PanelType string // Grafana panel type; empty for variables and annotations
	Kind      Kind
	// Expr is the PromQL. A variable's label_values(selector, label) becomes
	// group by (label) (selector), which returns the same label values.
	Expr    string
	Instant bool // true when Grafana runs it as an instant query
}

type dashboardJSON struct {
	Title      string      `json:"title"`
	Panels     []panelJSON `json:"panels"`
	Templating struct {
		List []variableJSON `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []annotationJSON `json:"list"`
	} `json:"annotations"`
}

type panelJSON struct {
	Title   string       `json:"title"`
	Type    string       `json:"type"`
	Targets []targetJSON `json:"targets"`
	Panels  []panelJSON  `json:"panels"` // the panels of a collapsed row
}

type targetJSON struct {
	Expr    string `json:"expr"`
	Instant bool   `json:"instant"`
}

type variableJSON struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"`
}

type annotationJSON struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// Queries returns every panel target, query variable and annotation query of
// every dashboard in FS, in file and panel order.
func Queries() ([]Query, error) {
	files, err := fs.Glob(FS, "*.json")
	if err != nil {
		return nil, fmt.Errorf("listing dashboards: %w", err)
	}
	var queries []Query
	for _, file := range files {
		data, err := FS.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("reading dashboard %s: %w", file, err)
		}
		var d dashboardJSON
		if err := json.Unmarshal(data, &d); err != nil {
			return nil, fmt.Errorf("decoding dashboard %s: %w", file, err)
		}
		qs, err := d.queries(file)
		if err != nil {
			return nil, err
		}
		queries = append(queries, qs...)
	}
	return queries, nil
}

func (d dashboardJSON) queries(file string) ([]Query, error) {
	var qs []Query
	var walk func(panels []panelJSON)
	walk = func(panels []panelJSON) {
		for _, p := range panels {
			for _, t := range p.Targets {
				qs = append(qs, Query{File: file, Dashboard: d.Title, Panel: p.Title, PanelType: p.Type,
					Kind: KindTarget, Expr: t.Expr, Instant: t.Instant})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		raw, err := variableQuery(v.Query)
		if err != nil {
			return nil, fmt.Errorf("reading variable %s of dashboard %s: %w", v.Name, file, err)
		}
		expr, err := labelValuesToPromQL(raw)
		if err != nil {
			return nil, fmt.Errorf("reading variable %s of dashboard %s: %w", v.Name, file, err)
		}
		qs = append(qs, Query{File: file, Dashboard: d.Title, Panel: v.Name, Kind: KindVariable, Expr: expr, Instant: true})
	}
	for _, a := range d.Annotations.List {
		if a.Expr == "" {
			continue
		}
		qs = append(qs, Query{File: file, Dashboard: d.Title, Panel: a.Name, Kind: KindAnnotation, Expr: a.Expr})
	}
	return qs, nil
}

// variableQuery accepts both forms Grafana writes: a plain string, and the
// object {"query": "..."} of newer versions.
func variableQuery(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("decoding variable query: %w", err)
	}
	return obj.Query, nil
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

func labelValuesToPromQL(q string) (string, error) {
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return "", fmt.Errorf("variable query %q is not label_values(...)", q)
	}
	selector, label := m[1], m[2]
	if selector == "" {
		selector = fmt.Sprintf(`{%s!=""}`, label)
	}
	return fmt.Sprintf("group by (%s) (%s)", label, selector), nil
}

// defaultDurations are the values Substitute gives Grafana's interval
// variables when vars does not set them: the panels' minimum interval, a rate
// window of several scrape intervals, and the dashboards' default time range.
var defaultDurations = map[string]string{
	"__interval":      "2m",
	"__rate_interval": "4m",
	"__range":         "24h",
}

var varRefRE = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

// Substitute replaces Grafana variables in expr as Grafana would before sending
// it to Prometheus. $__interval, $__rate_interval and $__range (also written
// ${...}) become vars["__interval"] and so on, else 2m, 4m and 24h. Other
// variables, as $v, ${v}, ${v:format} or [[v]], become vars[v], else the
// dashboards' "All" value: ".+" for job and instance, ".*" for the rest.
// Unknown built-ins such as $__range_s are left as they are.
func Substitute(expr string, vars map[string]string) string {
	return varRefRE.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRefRE.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := vars[name]; ok {
			return v
		}
		if strings.HasPrefix(name, "__") {
			if d, ok := defaultDurations[name]; ok {
				return d
			}
			return ref
		}
		if name == "job" || name == "instance" {
			return ".+"
		}
		return ".*"
	})
}
