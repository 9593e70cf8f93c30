package alerts

import (
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
	alertNameRE = regexp.MustCompile(`^VonageAudit[A-Z][a-zA-Z0-9]*$`)
	runbookBase = "https://github.com/vonage-audit-exporter/vonage_audit_exporter/blob/main/alerts/README.md#"
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
		if !alertNameRE.MatchString(r.Alert) {
			t.Errorf("alert %q is not CamelCase with prefix VonageAudit (recording rules do not belong here)", r.Alert)
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
		if !firing[r.Alert] {
			t.Errorf("%s: no test where it fires", r.Alert)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no test where it stays silent", r.Alert)
		}
	}
}
