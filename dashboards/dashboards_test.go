package dashboards

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/alerts"
)

// exporterMetrics are the metric names the exporter exposes (CONTRACT.md),
// histograms with their series suffixes, plus what Prometheus adds per target.
var exporterMetrics = []string{
	"vonage_audit_events_total",
	"vonage_audit_user_events_total",
	"vonage_audit_country_events_total",
	"vonage_audit_last_event_timestamp_seconds",
	"vonage_audit_up",
	"vonage_audit_last_success_timestamp_seconds",
	"vonage_audit_cursor_timestamp_seconds",
	"vonage_audit_poll_duration_seconds",
	"vonage_audit_polls_total",
	"vonage_audit_poll_errors_total",
	"vonage_audit_poll_overruns_total",
	"vonage_audit_api_requests_total",
	"vonage_audit_api_request_duration_seconds_bucket",
	"vonage_audit_api_request_duration_seconds_sum",
	"vonage_audit_api_request_duration_seconds_count",
	"vonage_audit_api_retries_total",
	"vonage_audit_api_rate_limited_total",
	"vonage_audit_events_ingested_total",
	"vonage_audit_duplicate_events_total",
	"vonage_audit_events_skipped_total",
	"vonage_audit_exporter_build_info",
	"process_cpu_seconds_total",
	"process_resident_memory_bytes",
	"up",
}

// Metrics without an account label: per exporter, not per Vonage account.
var perInstanceMetrics = []string{"vonage_audit_exporter_build_info", "process_cpu_seconds_total", "process_resident_memory_bytes", "up"}

var (
	allowedPanelTypes = []string{"timeseries", "stat", "table", "bargauge"}
	instantPanelTypes = []string{"stat", "table", "bargauge"}
	wantDatasource    = map[string]any{"type": "prometheus", "uid": "${datasource}"}
	uidRE             = regexp.MustCompile(`^[a-zA-Z0-9_-]{8,40}$`)
)

type dashboardFile struct {
	name string
	raw  map[string]any
}

func loadDashboards(t *testing.T) []dashboardFile {
	t.Helper()
	files, err := fs.Glob(FS, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("want at least two dashboards, got %v", files)
	}
	var out []dashboardFile
	for _, f := range files {
		data, err := FS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		df := dashboardFile{name: f}
		if err := json.Unmarshal(data, &df.raw); err != nil {
			t.Fatalf("%s: invalid JSON: %v", f, err)
		}
		out = append(out, df)
	}
	return out
}

// allPanels flattens rows, collapsed or not.
func allPanels(panels []any) []map[string]any {
	var out []map[string]any
	for _, p := range panels {
		pm := p.(map[string]any)
		out = append(out, pm)
		if sub, ok := pm["panels"].([]any); ok {
			out = append(out, allPanels(sub)...)
		}
	}
	return out
}

func TestDashboardMetadata(t *testing.T) {
	uids := map[string]string{}
	for _, df := range loadDashboards(t) {
		t.Run(df.name, func(t *testing.T) {
			raw := df.raw
			title, _ := raw["title"].(string)
			if !strings.HasPrefix(title, "Vonage Audit / ") {
				t.Errorf("title %q does not start with %q", title, "Vonage Audit / ")
			}
			uid, _ := raw["uid"].(string)
			if !uidRE.MatchString(uid) {
				t.Errorf("uid %q is not 8 to 40 characters of [a-zA-Z0-9_-]", uid)
			}
			if other, dup := uids[uid]; dup {
				t.Errorf("uid %q also used by %s", uid, other)
			}
			uids[uid] = df.name
			if id, ok := raw["id"]; !ok || id != nil {
				t.Errorf(`want "id": null, got %v (present %v)`, id, ok)
			}
			if v, _ := raw["schemaVersion"].(float64); v < 36 || v > 39 {
				t.Errorf("schemaVersion %v, want 36 to 39 (Grafana 9/10)", raw["schemaVersion"])
			}
			if tags, _ := raw["tags"].([]any); !slices.Contains(tags, any("vonage-audit")) {
				t.Errorf("tags %v lack vonage-audit", tags)
			}
			if tr, _ := raw["time"].(map[string]any); tr["from"] != "now-24h" && tr["from"] != "now-7d" {
				t.Errorf("default time range from %v, want now-24h or now-7d", tr["from"])
			}
			if r := raw["refresh"]; r != "1m" && r != "5m" {
				t.Errorf("refresh %v, want 1m or 5m", r)
			}
			if raw["editable"] != false {
				t.Errorf("editable %v, want false: provisioned dashboards are changed in the repository", raw["editable"])
			}
			checkImport(t, raw)
			if desc, _ := raw["description"].(string); desc == "" {
				t.Error("dashboard has no description")
			}
		})
	}
}

func TestDashboardPanels(t *testing.T) {
	for _, df := range loadDashboards(t) {
		t.Run(df.name, func(t *testing.T) {
			panels, _ := df.raw["panels"].([]any)
			if len(panels) == 0 {
				t.Fatal("no panels")
			}
			ids := map[float64]string{}
			for _, p := range allPanels(panels) {
				title, _ := p["title"].(string)
				typ, _ := p["type"].(string)
				id, ok := p["id"].(float64)
				if !ok {
					t.Errorf("panel %q has no numeric id", title)
				} else if other, dup := ids[id]; dup {
					t.Errorf("panel id %v used by %q and %q", id, other, title)
				}
				ids[id] = title
				checkGridPos(t, title, p["gridPos"])
				if title == "" {
					t.Errorf("panel %v has no title", id)
				}
				if typ == "row" {
					if _, ok := p["targets"]; ok {
						t.Errorf("row %q has targets", title)
					}
					continue
				}
				if !slices.Contains(allowedPanelTypes, typ) {
					t.Errorf("panel %q has type %q, want one of %v", title, typ, allowedPanelTypes)
				}
				if desc, _ := p["description"].(string); desc == "" {
					t.Errorf("panel %q has no description", title)
				}
				if !reflect.DeepEqual(p["datasource"], wantDatasource) {
					t.Errorf("panel %q datasource %v, want %v", title, p["datasource"], wantDatasource)
				}
				defaults, _ := p["fieldConfig"].(map[string]any)["defaults"].(map[string]any)
				if unit, _ := defaults["unit"].(string); unit == "" {
					t.Errorf("panel %q has no unit", title)
				}
				targets, _ := p["targets"].([]any)
				if len(targets) == 0 {
					t.Errorf("panel %q has no targets", title)
				}
				refIDs := map[string]bool{}
				for _, tg := range targets {
					tm := tg.(map[string]any)
					ref, _ := tm["refId"].(string)
					if ref == "" || refIDs[ref] {
						t.Errorf("panel %q: target refId %q missing or repeated", title, ref)
					}
					refIDs[ref] = true
					if !reflect.DeepEqual(tm["datasource"], wantDatasource) {
						t.Errorf("panel %q target %s datasource %v, want %v", title, ref, tm["datasource"], wantDatasource)
					}
					instant, _ := tm["instant"].(bool)
					if want := slices.Contains(instantPanelTypes, typ); instant != want {
						t.Errorf("panel %q (%s) target %s: instant %v, want %v", title, typ, ref, instant, want)
					}
				}
			}
		})
	}
}

func checkGridPos(t *testing.T, title string, gp any) {
	t.Helper()
	g, ok := gp.(map[string]any)
	if !ok {
		t.Errorf("panel %q has no gridPos", title)
		return
	}
	x, _ := g["x"].(float64)
	w, _ := g["w"].(float64)
	h, _ := g["h"].(float64)
	y, _ := g["y"].(float64)
	if x < 0 || y < 0 || w <= 0 || h <= 0 || x+w > 24 {
		t.Errorf("panel %q gridPos %v is outside the 24 columns", title, g)
	}
}

// checkImport checks what Grafana's import by upload reads: __inputs asks
// for a Prometheus datasource (which nothing references: the datasource
// variable selects it, so that file provisioning, which ignores __inputs,
// works the same), and __requires names Grafana, the Prometheus plugin and
// every panel type used.
func checkImport(t *testing.T, raw map[string]any) {
	t.Helper()
	inputs, _ := raw["__inputs"].([]any)
	if len(inputs) != 1 {
		t.Fatalf("__inputs %v, want one datasource input", raw["__inputs"])
	}
	in, _ := inputs[0].(map[string]any)
	if in["type"] != "datasource" || in["pluginId"] != "prometheus" || in["name"] == "" {
		t.Errorf("__inputs[0] %v, want a named datasource input of plugin prometheus", in)
	}
	required := map[string]bool{}
	reqs, _ := raw["__requires"].([]any)
	for _, r := range reqs {
		rm, _ := r.(map[string]any)
		id, _ := rm["id"].(string)
		required[rm["type"].(string)+"/"+id] = true
	}
	want := []string{"grafana/grafana", "datasource/prometheus"}
	panels, _ := raw["panels"].([]any)
	for _, p := range allPanels(panels) {
		if typ, _ := p["type"].(string); typ != "row" {
			want = append(want, "panel/"+typ)
		}
	}
	for _, w := range want {
		if !required[w] {
			t.Errorf("__requires lacks %s", w)
		}
	}
}

// TestDatasourceReferences walks the whole JSON: every datasource anywhere is
// the variable, so the dashboards work with file provisioning and any datasource.
func TestDatasourceReferences(t *testing.T) {
	for _, df := range loadDashboards(t) {
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					if path == "" && k == "__inputs" {
						continue // the one place an import input is named
					}
					if k == "datasource" && !reflect.DeepEqual(e, wantDatasource) {
						t.Errorf("%s: %s.datasource is %v, want %v", df.name, path, e, wantDatasource)
					}
					walk(path+"."+k, e)
				}
			case []any:
				for i, e := range v {
					walk(fmt.Sprintf("%s[%d]", path, i), e)
				}
			case string:
				if strings.Contains(v, "${DS_") || strings.Contains(v, "DS_PROMETHEUS") {
					t.Errorf("%s: %s refers to an import input: %q", df.name, path, v)
				}
			}
		}
		walk("", df.raw)
	}
}

func TestVariables(t *testing.T) {
	for _, df := range loadDashboards(t) {
		t.Run(df.name, func(t *testing.T) {
			tmpl, _ := df.raw["templating"].(map[string]any)
			list, _ := tmpl["list"].([]any)
			vars := map[string]map[string]any{}
			for _, v := range list {
				vm := v.(map[string]any)
				vars[vm["name"].(string)] = vm
			}
			ds := vars["datasource"]
			if ds["type"] != "datasource" || ds["query"] != "prometheus" {
				t.Errorf("datasource variable %v, want type datasource, query prometheus", ds)
			}
			want := []string{"job", "instance", "account"}
			if df.name == "vonage-audit-overview.json" {
				want = append(want, "event_type", "source", "user")
			}
			for _, name := range want {
				if vars[name] == nil {
					t.Errorf("variable %s missing", name)
				}
			}
			for name, v := range vars {
				if name == "datasource" {
					continue
				}
				wantAll := ".*"
				if name == "job" || name == "instance" {
					wantAll = ".+"
				}
				if v["type"] != "query" || v["multi"] != true || v["includeAll"] != true || v["allValue"] != wantAll {
					t.Errorf("variable %s: type %v multi %v includeAll %v allValue %v, want query, true, true, %q",
						name, v["type"], v["multi"], v["includeAll"], v["allValue"], wantAll)
				}
				if v["refresh"] != float64(2) {
					t.Errorf("variable %s refresh %v, want 2 (on time range change)", name, v["refresh"])
				}
				if q, _ := v["query"].(string); !strings.HasPrefix(q, "label_values(") {
					t.Errorf("variable %s query %q is not label_values(...)", name, q)
				}
			}
		})
	}
}

// selectorRE finds a selector with matchers, the function right around it and
// its range window. Every dashboard selector has matchers, so this is enough to
// check conventions; whether a query parses is promtool's job (TestQueriesParse).
var selectorRE = regexp.MustCompile(`(?:\b(\w+)\(\s*)?\b([a-zA-Z_:][\w:]*)\{([^}]*)\}(?:\[([^\]]*)\])?`)

// exporterNameRE catches the exporter's metric names also where they have no
// matchers, as in label_values(vonage_audit_exporter_build_info, job).
var exporterNameRE = regexp.MustCompile(`\b(?:vonage_audit|process)_\w+`)

type selectorRef struct{ fn, name, matchers, window string }

func selectors(expr string) []selectorRef {
	var refs []selectorRef
	for _, m := range selectorRE.FindAllStringSubmatch(expr, -1) {
		refs = append(refs, selectorRef{fn: m[1], name: m[2], matchers: m[3], window: m[4]})
	}
	return refs
}

func TestSelectors(t *testing.T) {
	tests := []struct {
		expr string
		want []selectorRef
	}{
		{`up{job=~"$job"}`, []selectorRef{{"", "up", `job=~"$job"`, ""}}},
		{`sum by (code) (rate(a_total{code!~"2.."}[$__rate_interval])) * $__interval_ms / 1000`, []selectorRef{{"rate", "a_total", `code!~"2.."`, "$__rate_interval"}}},
		{`histogram_quantile(0.9, sum(rate(h_bucket{a="b"}[5m])))`, []selectorRef{{"rate", "h_bucket", `a="b"`, "5m"}}},
		{`time() - max(ts{j="x"}) or (c{} unless c{} offset 1h)`, []selectorRef{{"max", "ts", `j="x"`, ""}, {"", "c", "", ""}, {"", "c", "", ""}}},
		{`group by (job) (x)`, nil},
	}
	for _, tt := range tests {
		if got := selectors(tt.expr); !slices.Equal(got, tt.want) {
			t.Errorf("selectors(%q) = %+v, want %+v", tt.expr, got, tt.want)
		}
	}
}

// TestQueriesUseExporterMetrics checks that every metric a query reads is
// the exporter's, or recorded by the repository's rules.
func TestQueriesUseExporterMetrics(t *testing.T) {
	queries, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	rules, err := alerts.Rules()
	if err != nil {
		t.Fatal(err)
	}
	known := slices.Clone(exporterMetrics)
	for _, r := range rules {
		if r.Record != "" {
			known = append(known, r.Record)
		}
	}
	for _, q := range queries {
		names := exporterNameRE.FindAllString(q.Expr, -1)
		for _, r := range selectors(q.Expr) {
			names = append(names, r.name)
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if len(names) == 0 {
			t.Errorf("%s / %s: %q selects no metric", q.Dashboard, q.Panel, q.Expr)
		}
		for _, n := range names {
			if !slices.Contains(known, n) {
				t.Errorf("%s / %s: metric %s is neither exposed by the exporter nor recorded by alerts/", q.Dashboard, q.Panel, n)
			}
		}
	}
}

// intervalRE finds $__interval and ${__interval}, but not $__interval_ms.
var intervalRE = regexp.MustCompile(`\$(?:__interval|\{__interval\})(?:[^_\w]|$)`)

// TestQueryConventions checks the PromQL rules of dashboards-alerts.md on
// every panel target: matchers, windows and no raw counters on graphs.
// Windows: $__interval leaves gaps when the scrape interval is longer than
// the step, so graphs take rate() over $__rate_interval, scaled to a count
// per interval by $__interval_ms / 1000 (the bars then add up to the
// events, which increase() over overlapping windows would overcount);
// stat, table and bar gauge panels take increase() over $__range.
func TestQueryConventions(t *testing.T) {
	queries, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range queries {
		where := q.Dashboard + " / " + q.Panel
		if intervalRE.MatchString(q.Expr) {
			t.Errorf("%s: %q uses $__interval, want $__rate_interval", where, q.Expr)
		}
		if q.Kind != KindTarget {
			continue
		}
		refs := selectors(q.Expr)
		if len(refs) == 0 {
			t.Errorf("%s: %q has no selector with matchers", where, q.Expr)
		}
		for _, r := range refs {
			want := []string{`job=~"$job"`, `instance=~"$instance"`}
			if !slices.Contains(perInstanceMetrics, r.name) {
				want = append(want, `account=~"$account"`)
			}
			for _, m := range want {
				if !strings.Contains(r.matchers, m) {
					t.Errorf("%s: %s lacks matcher %s", where, r.name, m)
				}
			}
			switch r.fn {
			case "rate", "irate":
				if r.window != "$__rate_interval" {
					t.Errorf("%s: %s(%s[%s]), want [$__rate_interval]", where, r.fn, r.name, r.window)
				}
			case "increase":
				if !q.Instant || r.window != "$__range" {
					t.Errorf("%s: increase(%s[%s]) in a %s panel, want increase over [$__range] in instant panels, rate over [$__rate_interval] in graphs", where, r.name, r.window, q.PanelType)
				}
			default:
				if r.window != "" {
					t.Errorf("%s: range selector %s[%s] outside rate or increase", where, r.name, r.window)
				}
				if strings.HasSuffix(r.name, "_total") && !q.Instant {
					t.Errorf("%s: graphs the raw counter %s", where, r.name)
				}
			}
		}
	}
}

// TestIntervalRE shows what counts as $__interval.
func TestIntervalRE(t *testing.T) {
	for expr, want := range map[string]bool{
		`increase(x[$__interval])`:                   true,
		`increase(x[${__interval}])`:                 true,
		`rate(x[$__rate_interval]) * $__interval_ms`: false,
		`x offset $__interval`:                       true,
		`increase(x[$__range])`:                      false,
	} {
		if got := intervalRE.MatchString(expr); got != want {
			t.Errorf("intervalRE on %q: %v, want %v", expr, got, want)
		}
	}
}

// eventMetrics are the counters that carry an exemplar with the event's id.
var eventMetrics = []string{"vonage_audit_events_total", "vonage_audit_user_events_total"}

// TestExemplars checks that the graphs of event counters ask for their
// exemplars, and no other target does: the exemplar of a series is its
// newest event, which the datasource links to (provisioning/datasource.yml).
func TestExemplars(t *testing.T) {
	queries, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, q := range queries {
		want := false
		if q.Kind == KindTarget && q.PanelType == "timeseries" {
			for _, r := range selectors(q.Expr) {
				want = want || slices.Contains(eventMetrics, r.name)
			}
		}
		if q.Exemplar != want {
			t.Errorf("%s / %s: exemplar %v, want %v", q.Dashboard, q.Panel, q.Exemplar, want)
		}
		if want {
			n++
		}
	}
	if n == 0 {
		t.Error("no event panel shows exemplars")
	}
}

// TestSensitiveTypesFromRules checks that no dashboard names a sensitive
// event type: they read vonage_audit:sensitive_events_total, whose recording
// rules are the one list of them.
func TestSensitiveTypesFromRules(t *testing.T) {
	sensitive, err := alerts.SensitiveEventTypes()
	if err != nil || len(sensitive) == 0 {
		t.Fatalf("sensitive event types %v: %v", sensitive, err)
	}
	queries, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	reads := false
	for _, q := range queries {
		reads = reads || strings.Contains(q.Expr, alerts.SensitiveRecord)
		for _, typ := range alerts.EventTypes(q.Expr) {
			for s := range sensitive {
				if strings.HasPrefix(typ, s) {
					t.Errorf("%s / %s names the sensitive type %s: read %s instead", q.Dashboard, q.Panel, typ, alerts.SensitiveRecord)
				}
			}
		}
	}
	if !reads {
		t.Errorf("no dashboard reads %s", alerts.SensitiveRecord)
	}
}

// TestProvisionedDatasource checks that the datasource does not take over an
// existing Grafana's default, and links exemplars by their event_id.
func TestProvisionedDatasource(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("provisioning", "datasource.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Datasources []struct {
			Type      string `yaml:"type"`
			IsDefault bool   `yaml:"isDefault"`
			JSONData  struct {
				Exemplars []struct {
					Name string `yaml:"name"`
					URL  string `yaml:"url"`
				} `yaml:"exemplarTraceIdDestinations"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatalf("decoding datasource.yml: %v", err)
	}
	if len(file.Datasources) != 1 || file.Datasources[0].Type != "prometheus" {
		t.Fatalf("want one prometheus datasource, got %+v", file.Datasources)
	}
	ds := file.Datasources[0]
	if ds.IsDefault {
		t.Error("the provisioned datasource is the default: it would replace an existing Grafana's")
	}
	// $$ is a literal $ in provisioning files, which expand environment variables.
	if len(ds.JSONData.Exemplars) != 1 || ds.JSONData.Exemplars[0].Name != "event_id" ||
		!strings.Contains(ds.JSONData.Exemplars[0].URL, "$${__value.raw}") {
		t.Errorf("exemplarTraceIdDestinations %+v, want one for event_id with a URL holding $${__value.raw}", ds.JSONData.Exemplars)
	}
}

func TestQueries(t *testing.T) {
	queries, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]map[Kind]int{}
	for _, q := range queries {
		if kinds[q.File] == nil {
			kinds[q.File] = map[Kind]int{}
		}
		kinds[q.File][q.Kind]++
		if q.Dashboard == "" || q.Panel == "" || q.Expr == "" {
			t.Errorf("incomplete query %+v", q)
		}
		if got := Substitute(q.Expr, nil); strings.Contains(got, "$") {
			t.Errorf("%s / %s: variables left after Substitute: %q", q.Dashboard, q.Panel, got)
		}
	}
	for _, df := range loadDashboards(t) {
		targets := 0
		for _, p := range allPanels(df.raw["panels"].([]any)) {
			ts, _ := p["targets"].([]any)
			targets += len(ts)
		}
		if got := kinds[df.name][KindTarget]; got != targets {
			t.Errorf("%s: Queries returned %d targets, the JSON has %d", df.name, got, targets)
		}
		if kinds[df.name][KindVariable] < 3 {
			t.Errorf("%s: Queries returned %d variable queries, want at least 3", df.name, kinds[df.name][KindVariable])
		}
	}
	if kinds["vonage-audit-overview.json"][KindAnnotation] == 0 {
		t.Error("overview has no annotation query")
	}
}

func TestSubstitute(t *testing.T) {
	tests := []struct {
		name string
		expr string
		vars map[string]string
		want string
	}{
		{"defaults", `rate(x{job=~"$job",instance=~"${instance}",account=~"[[account]]"}[$__rate_interval])`, nil,
			`rate(x{job=~".+",instance=~".+",account=~".*"}[4m])`},
		{"durations", `increase(x[$__interval]) + increase(x[${__range}]) + x offset $__range`, nil,
			`increase(x[2m]) + increase(x[24h]) + x offset 24h`},
		{"interval in ms", `rate(x[$__rate_interval]) * $__interval_ms / 1000`, nil, `rate(x[4m]) * 120000 / 1000`},
		{"given values", `increase(x{user=~"${user:regex}",job=~"$job"}[$__range])`,
			map[string]string{"user": "alice", "job": "vonage", "__range": "10m"},
			`increase(x{user=~"alice",job=~"vonage"}[10m])`},
		{"longest name wins", `x{a=~"$account_id",b=~"$account"}`, map[string]string{"account": "1"},
			`x{a=~".*",b=~"1"}`},
		{"unknown built-in kept", `x * $__range_s`, nil, `x * $__range_s`},
		{"no variables", `up == 0`, nil, `up == 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Substitute(tt.expr, tt.vars); got != tt.want {
				t.Errorf("Substitute(%q) = %q, want %q", tt.expr, got, tt.want)
			}
		})
	}
}

func TestLabelValuesToPromQL(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{`label_values(up{job=~"$job"}, instance)`, `group by (instance) (up{job=~"$job"})`, false},
		{`label_values(job)`, `group by (job) ({job!=""})`, false},
		{`query_result(up)`, "", true},
	}
	for _, tt := range tests {
		got, err := labelValuesToPromQL(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("labelValuesToPromQL(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestQueriesParse has promtool parse every query, once substituted, as a
// recording rule: the Go module has no PromQL parser of its own.
func TestQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		t.Fatal("promtool is required when CI is set")
	}
	queries, err := Queries()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboards\n    rules:\n")
	for i, q := range queries {
		expr, err := json.Marshal(Substitute(q.Expr, nil))
		if err != nil {
			t.Fatal(err)
		}
		// JSON strings are valid YAML double-quoted scalars.
		fmt.Fprintf(&b, "      - record: query_%d\n        expr: %s\n", i, expr)
	}
	file := filepath.Join(t.TempDir(), "queries.yml")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
	if err != nil {
		for i, q := range queries {
			t.Logf("query_%d: %s / %s: %s", i, q.Dashboard, q.Panel, Substitute(q.Expr, nil))
		}
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
