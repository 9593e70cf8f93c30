package alerts

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// promtool finds promtool; it may be missing on a developer's machine, never in CI.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("promtool not installed (Debian package prometheus)")
		}
		t.Fatal("promtool is required when CI is set")
	}
	return path
}

func TestPromtoolCheckRules(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", "vonage-audit.rules.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// weekTests holds the tests over seven days of samples, which take promtool
// most of a minute under a loaded machine: the end-to-end run
// (e2e/alerts_test.go) runs them, not the unit suite.
const weekTests = "vonage-audit.rules.7d.test.yml"

func TestPromtoolTestRules(t *testing.T) {
	tests := slices.DeleteFunc(testFiles(t), func(f string) bool { return f == weekTests })
	out, err := exec.Command(promtool(t), append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.test.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no promtool test files: %v", err)
	}
	return files
}

var (
	alertNameRE  = regexp.MustCompile(`^VonageAudit[A-Z][a-zA-Z0-9]*$`)
	recordNameRE = regexp.MustCompile(`^vonage_audit:[a-z0-9_]+_total$`)
	runbookBase  = "https://github.com/vonage-audit-exporter/vonage_audit_exporter/blob/main/alerts/README.md#"
)

func TestRuleConventions(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal("no rules")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if r.Record != "" {
			// Counters only: a name ending in _total keeps rate() and
			// increase() on it free of Prometheus's "not a counter" notice.
			if !recordNameRE.MatchString(r.Record) || r.Alert != "" {
				t.Errorf("recording rule %q: want a name vonage_audit:..._total and no alert", r.Record)
			}
			continue
		}
		if !alertNameRE.MatchString(r.Alert) {
			t.Errorf("alert %q is not CamelCase with prefix VonageAudit", r.Alert)
		}
		if seen[r.Alert] {
			t.Errorf("alert %s defined twice", r.Alert)
		}
		seen[r.Alert] = true
		switch r.Labels["severity"] {
		case "critical", "warning", "info":
		default:
			t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
		}
		summary, desc := r.Annotations["summary"], r.Annotations["description"]
		if summary == "" || strings.Contains(summary, "{{") || !strings.HasSuffix(summary, ".") {
			t.Errorf("%s: summary %q, want one static sentence", r.Alert, summary)
		}
		if !strings.Contains(desc, "{{ $labels.") {
			t.Errorf("%s: description %q uses no label", r.Alert, desc)
		}
		anchor := strings.ToLower(r.Alert)
		if got := r.Annotations["runbook_url"]; got != runbookBase+anchor {
			t.Errorf("%s: runbook_url %q, want %q", r.Alert, got, runbookBase+anchor)
		}
		if !strings.Contains(string(readme), "\n## "+r.Alert+"\n") {
			t.Errorf("%s: README.md has no runbook section ## %s", r.Alert, r.Alert)
		}
	}
}

// optionalMetrics are the series that a configuration can turn off, and the
// option that does; an alert reading one must say so in a "requires"
// annotation, and its runbook must name the option.
var optionalMetrics = map[string]string{
	"vonage_audit_user_events_total":    "user_label",
	"vonage_audit_country_events_total": "country_breakdown",
}

func TestOptionalMetricsDeclared(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		for metric, option := range optionalMetrics {
			if !strings.Contains(r.Expr, metric) {
				continue
			}
			if r.Alert == "" {
				t.Errorf("recording rule %s reads %s, which %s can turn off", r.Record, metric, option)
				continue
			}
			if !strings.Contains(r.Annotations["requires"], option) {
				t.Errorf("%s reads %s but its requires annotation %q does not name %s", r.Alert, metric, r.Annotations["requires"], option)
			}
			_, section, _ := strings.Cut(string(readme), "\n## "+r.Alert+"\n")
			section, _, _ = strings.Cut(section, "\n## ")
			if !strings.Contains(section, option) {
				t.Errorf("%s reads %s but its runbook does not name %s", r.Alert, metric, option)
			}
		}
	}
}

// TestSensitiveTypesDefinedOnce checks that the sensitive event types are
// named by the recording rules alone, each once: the alerts and the
// dashboards select the recorded series by category instead.
func TestSensitiveTypesDefinedOnce(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]string{}
	categories := map[string]bool{}
	for _, r := range rules {
		if r.Record != SensitiveRecord {
			continue
		}
		cat := r.Labels["category"]
		if cat == "" || categories[cat] {
			t.Errorf("recording of %s: category %q missing or repeated", r.Expr, cat)
		}
		categories[cat] = true
		for _, typ := range EventTypes(r.Expr) {
			if other, dup := named[typ]; dup {
				t.Errorf("event type %s is in categories %s and %s", typ, other, cat)
			}
			named[typ] = cat
		}
	}
	if len(named) == 0 {
		t.Fatalf("no recording rule %s", SensitiveRecord)
	}
	if got, err := SensitiveEventTypes(); err != nil || !maps.Equal(got, named) {
		t.Errorf("SensitiveEventTypes() = %v, %v; want %v", got, err, named)
	}
	if named["IP_WHITELIST"] != "ip_allow_list" || named["USER_CREATE"] != "user_created" {
		t.Errorf("sensitive event types %v: want IP_WHITELIST (from IP_WHITELIST_.*) and USER_CREATE", named)
	}
	for _, r := range rules {
		if r.Record == SensitiveRecord {
			continue
		}
		for _, typ := range EventTypes(r.Expr) {
			for sensitive, cat := range named {
				// A prefix stands for the regular expression it came from.
				if strings.HasPrefix(typ, sensitive) {
					t.Errorf("%s%s names %s: select %s{category=%q} instead", r.Alert, r.Record, typ, SensitiveRecord, cat)
				}
			}
		}
	}
}

// TestEventsAnnotation checks that the alerts about audit events tell how
// to list them: an events list command line with the alert's account.
func TestEventsAnnotation(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "vonage_audit_exporter events list --account {{ $labels.account }} "
	for _, r := range rules {
		if r.Alert == "" || r.Group != "vonage-audit-security" {
			continue
		}
		events := r.Annotations["events"]
		if !strings.HasPrefix(events, prefix) || !strings.Contains(events, " --from ") {
			t.Errorf("%s: events annotation %q, want %q followed by --from and filters", r.Alert, events, prefix)
		}
		if strings.Contains(r.Expr, "event_type") && !strings.Contains(events, "--type") {
			t.Errorf("%s: events annotation %q does not filter on the event type", r.Alert, events)
		}
	}
}

// TestEveryAlertTested checks that the promtool tests have, for every alert,
// a case where it fires and a case where it does not.
func TestEveryAlertTested(t *testing.T) {
	rules, err := Rules()
	if err != nil {
		t.Fatal(err)
	}
	firing, silent := map[string]bool{}, map[string]bool{}
	for _, file := range testFiles(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var tf struct {
			Tests []struct {
				Interval   string `yaml:"interval"`
				AlertTests []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(data, &tf); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for i, g := range tf.Tests {
			if g.Interval == "" {
				t.Errorf("%s: test group %d sets no interval (promtool 2.42 needs it)", file, i)
			}
			for _, at := range g.AlertTests {
				if len(at.ExpAlerts) > 0 {
					firing[at.Alertname] = true
				} else {
					silent[at.Alertname] = true
				}
			}
		}
	}
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		if !firing[r.Alert] {
			t.Errorf("%s: no test where it fires", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no test where it stays silent", r.Alert)
		}
	}
}
