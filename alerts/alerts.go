// Package alerts holds the Prometheus rules of vonage_audit_exporter, alerting
// and recording, and reads them, so that tests can run every expression
// against a real Prometheus.
package alerts

import (
	_ "embed"
	"fmt"
	"regexp"

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

// eventTypeRE finds the Audit API's event types in an expression, and the
// prefix of a regular expression such as IP_WHITELIST_.*.
var eventTypeRE = regexp.MustCompile(`\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+`)

// EventTypes returns the event types that expr names; a regular expression
// such as IP_WHITELIST_.* gives its prefix, IP_WHITELIST.
func EventTypes(expr string) []string {
	return eventTypeRE.FindAllString(expr, -1)
}

// SensitiveEventTypes returns the event types of the SensitiveRecord rules,
// as EventTypes reads them, with their category.
func SensitiveEventTypes() (map[string]string, error) {
	rules, err := Rules()
	if err != nil {
		return nil, err
	}
	types := map[string]string{}
	for _, r := range rules {
		if r.Record != SensitiveRecord {
			continue
		}
		for _, typ := range EventTypes(r.Expr) {
			types[typ] = r.Labels["category"]
		}
	}
	return types, nil
}
