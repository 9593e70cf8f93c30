// Package alerts holds the Prometheus rules of vonage_audit_exporter, alerting
// and recording, and reads them, so that tests can run every expression
// against a real Prometheus.
package alerts

import (
	_ "embed"
	"fmt"

	"gopkg.in/yaml.v3"
)

// RulesYAML is the rule file, as loaded by Prometheus.
//
//go:embed vonage-audit.rules.yml
var RulesYAML []byte

// SensitiveRecord is the recording rule that holds the sensitive event types,
// one rule per category (its label category): the one list of them, which
// the alerts and the dashboards read.
const SensitiveRecord = "vonage_audit:sensitive_events_total"

// Rule is one rule of RulesYAML: an alerting rule (Alert set) or a recording
// rule (Record set).
type Rule struct {
	Group       string
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules returns the rules, recording and alerting, in file order.
func Rules() ([]Rule, error) {
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(RulesYAML, &file); err != nil {
		return nil, fmt.Errorf("decoding alerting rules: %w", err)
	}
	var rules []Rule
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			r.Group = g.Name
			rules = append(rules, r)
		}
	}
	return rules, nil
}
