// Package dashboards holds the Grafana dashboards of vonage_audit_exporter and
// reads the PromQL out of them, so that the end-to-end test can run every
// query against a real Prometheus scraping the exporter.
package dashboards

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
)

// FS holds the dashboard JSON files, as shipped for Grafana file provisioning.
//
//go:embed *.json
var FS embed.FS

// Kind says where in a dashboard a query was found.
type Kind string

// The places a dashboard holds PromQL.
const (
	KindTarget     Kind = "target"
	KindVariable   Kind = "variable"
	KindAnnotation Kind = "annotation"
)

// Query is one PromQL expression of a dashboard, with Grafana variables still in
// place: pass Expr through Substitute before sending it to Prometheus. A
// variable's label_values(selector, label) becomes group by (label)
// (selector), which returns the same label values.
type Query struct {
	File      string // dashboard file name in FS
	Dashboard string // dashboard title
	Panel     string // panel title, variable name or annotation name
	PanelType string // Grafana panel type; empty for variables and annotations
	Kind      Kind
	Expr      string
	Instant   bool // true when Grafana runs it as an instant query
	Exemplar  bool // true when Grafana also asks for the exemplars of its series
}

// dashboardJSON is what Queries reads; encoding/json matches keys in any case.
type dashboardJSON struct {
	Title       string
	Panels      []panelJSON
	Templating  struct{ List []namedQuery }
	Annotations struct{ List []namedQuery }
}

type namedQuery struct{ Name, Type, Query, Expr string }

type panelJSON struct {
	Title, Type string
	Targets     []struct {
		Expr     string
		Instant  bool
		Exemplar bool
	}
	Panels []panelJSON // the panels of a collapsed row
}

// Queries returns every panel target, query variable and annotation query of
// every dashboard in FS, in file and panel order.
func Queries() ([]Query, error) {
	files, err := fs.Glob(FS, "*.json")
	if err != nil {
		return nil, fmt.Errorf("listing dashboards: %w", err)
	}
	var qs []Query
	for _, file := range files {
		var d dashboardJSON
		data, err := FS.ReadFile(file)
		if err == nil {
			err = json.Unmarshal(data, &d)
		}
		if err != nil {
			return nil, fmt.Errorf("reading dashboard %s: %w", file, err)
		}
		var walk func(panels []panelJSON)
		walk = func(panels []panelJSON) {
			for _, p := range panels {
				for _, t := range p.Targets {
					qs = append(qs, Query{File: file, Dashboard: d.Title, Panel: p.Title, PanelType: p.Type,
						Kind: KindTarget, Expr: t.Expr, Instant: t.Instant, Exemplar: t.Exemplar})
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				expr, err := labelValuesToPromQL(v.Query)
				if err != nil {
					return nil, fmt.Errorf("reading variable %s of dashboard %s: %w", v.Name, file, err)
				}
				qs = append(qs, Query{File: file, Dashboard: d.Title, Panel: v.Name, Kind: KindVariable, Expr: expr, Instant: true})
			}
		}
		for _, a := range d.Annotations.List {
			if a.Expr != "" {
				qs = append(qs, Query{File: file, Dashboard: d.Title, Panel: a.Name, Kind: KindAnnotation, Expr: a.Expr})
			}
		}
	}
	return qs, nil
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

func labelValuesToPromQL(q string) (string, error) {
	m := labelValuesRE.FindStringSubmatch(q)
	if m == nil {
		return "", fmt.Errorf("variable query %q is not label_values(...)", q)
	}
	if m[1] == "" {
		m[1] = fmt.Sprintf(`{%s!=""}`, m[2])
	}
	return fmt.Sprintf("group by (%s) (%s)", m[2], m[1]), nil
}

// defaultValues stand for the panels' minimum interval (also in
// milliseconds, by which per-interval counts are scaled), a rate window of
// several scrape intervals and the dashboards' default time range.
var defaultValues = map[string]string{"__interval": "2m", "__interval_ms": "120000", "__rate_interval": "4m", "__range": "24h"}

var varRefRE = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

// Substitute replaces Grafana variables in expr as Grafana would: $v, ${v},
// ${v:format} and [[v]] become vars[v], else 2m, 120000, 4m and 24h for
// $__interval, $__interval_ms, $__rate_interval and $__range, else the
// dashboards' All value: ".+" for job and instance, ".*" for the rest.
// Unknown built-ins such as $__range_s stay.
func Substitute(expr string, vars map[string]string) string {
	return varRefRE.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRefRE.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := vars[name]; ok {
			return v
		}
		if d, ok := defaultValues[name]; ok {
			return d
		}
		switch {
		case strings.HasPrefix(name, "__"):
			return ref
		case name == "job" || name == "instance":
			return ".+"
		}
		return ".*"
	})
}
