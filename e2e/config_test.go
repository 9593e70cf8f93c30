package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/alerts"
)

// The configuration the example stack ships, which the test runs too.
const (
	promConfigFile = "../examples/prometheus/prometheus.yml"
	amConfigFile   = "../examples/alertmanager/alertmanager.yml"
	composeFile    = "../examples/docker-compose.yml"
	rulesFileName  = "vonage-audit.rules.yml"
)

// testInterval replaces the scrape, evaluation and Alertmanager group
// intervals, so that a run takes a minute rather than an hour.
const testInterval = "1s"

// forScale divides every "for:" of the alert rules: a test cannot wait the
// 15 minutes of VonageAuditPollsFailing. 15m becomes 3s, 10m 2s, 5m 1s. The
// rule expressions stay the repository's, unchanged.
const forScale = 300

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return m
}

func writeYAML(t *testing.T, dir, name string, v any) string {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %s: %v", name, err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	return path
}

func mapAt(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	v, ok := m[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is %T, want a mapping", key, m[key])
	}
	return v
}

// onlyItem returns the single mapping of the list m[key]: the test rewrites
// exactly one job, one Alertmanager and one target list, and says so when
// the shipped file grows more.
func onlyItem(t *testing.T, m map[string]any, key string) map[string]any {
	t.Helper()
	l, ok := m[key].([]any)
	if !ok || len(l) != 1 {
		t.Fatalf("%q is %v, want a list of one item", key, m[key])
	}
	v, ok := l[0].(map[string]any)
	if !ok {
		t.Fatalf("%q holds %T, want a mapping", key, l[0])
	}
	return v
}

func anyList(items []string) []any {
	out := make([]any, len(items))
	for i, s := range items {
		out[i] = s
	}
	return out
}

// prometheusConfig writes the shipped Prometheus configuration with the
// exporters, Alertmanager and rule file on loopback and in dir, and
// returns its path and the job name of the exporters.
func prometheusConfig(t *testing.T, dir string, exporters []string, alertmanager, rulesPath string) (string, string) {
	t.Helper()
	cfg := readYAML(t, promConfigFile)
	global := mapAt(t, cfg, "global")
	for _, k := range []string{"scrape_interval", "scrape_timeout", "evaluation_interval"} {
		global[k] = testInterval
	}

	rules, ok := cfg["rule_files"].([]any)
	if !ok || len(rules) != 1 || filepath.Base(rules[0].(string)) != rulesFileName {
		t.Fatalf("rule_files is %v, want the one file %s", cfg["rule_files"], rulesFileName)
	}
	cfg["rule_files"] = anyList([]string{rulesPath})

	am := onlyItem(t, onlyItem(t, mapAt(t, cfg, "alerting"), "alertmanagers"), "static_configs")
	am["targets"] = anyList([]string{alertmanager})

	job := onlyItem(t, cfg, "scrape_configs")
	for _, k := range []string{"scrape_interval", "scrape_timeout"} {
		if _, ok := job[k]; ok {
			job[k] = testInterval
		}
	}
	onlyItem(t, job, "static_configs")["targets"] = anyList(exporters)
	name, _ := job["job_name"].(string)
	return writeYAML(t, dir, "prometheus.yml", cfg), name
}

// alertmanagerConfig writes the shipped Alertmanager configuration with its
// webhook pointed at url and the group timers shortened.
func alertmanagerConfig(t *testing.T, dir, url string) string {
	t.Helper()
	cfg := readYAML(t, amConfigFile)
	route := mapAt(t, cfg, "route")
	route["group_wait"] = testInterval
	route["group_interval"] = testInterval
	receivers, _ := cfg["receivers"].([]any)
	found := false
	for _, r := range receivers {
		r, _ := r.(map[string]any)
		if r["name"] == route["receiver"] {
			onlyItem(t, r, "webhook_configs")["url"] = url
			found = true
		}
	}
	if !found {
		t.Fatalf("no receiver named %v, the route's receiver", route["receiver"])
	}
	return writeYAML(t, dir, "alertmanager.yml", cfg)
}

// scaledRules writes the repository's rules with every "for:" divided by
// forScale (at least 1s) and checks that nothing else changed.
func scaledRules(t *testing.T, dir string) string {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal(alerts.RulesYAML, &doc); err != nil {
		t.Fatalf("decoding the rules: %v", err)
	}
	scaleFor(t, &doc)
	data, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatalf("encoding the scaled rules: %v", err)
	}
	path := filepath.Join(dir, rulesFileName)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("writing the scaled rules: %v", err)
	}

	want, err := alerts.Rules()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Groups []struct {
			Rules []alerts.Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatalf("decoding the scaled rules: %v", err)
	}
	i := 0
	for _, g := range got.Groups {
		for _, r := range g.Rules {
			if i >= len(want) || r.Alert != want[i].Alert || r.Record != want[i].Record || r.Expr != want[i].Expr {
				t.Fatalf("scaling the rules changed rule %d (%s)", i, r.Alert)
			}
			i++
		}
	}
	if i != len(want) {
		t.Fatalf("the scaled rules hold %d rules, want %d", i, len(want))
	}
	return path
}

func scaleFor(t *testing.T, n *yaml.Node) {
	t.Helper()
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value != "for" {
				continue
			}
			d, err := model.ParseDuration(n.Content[i+1].Value)
			if err != nil {
				t.Fatalf("parsing for: %q: %v", n.Content[i+1].Value, err)
			}
			scaled := max(time.Duration(d)/forScale, time.Second)
			n.Content[i+1].Value = model.Duration(scaled).String()
		}
	}
	for _, c := range n.Content {
		scaleFor(t, c)
	}
}
