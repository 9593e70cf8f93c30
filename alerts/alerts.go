// Package alerts holds the Prometheus alerting rules of vonage_audit_exporter
// and reads them, so that tests can run every alert expression against a real
// Prometheus.
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

// Rule is one alerting rule of RulesYAML.
type Rule struct {
	Group       string
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// Rules returns the alerting rules in file order.
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
