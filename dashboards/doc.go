// Package dashboards holds the Grafana dashboards of vonage_audit_exporter and
// reads the PromQL out of them, so that tests can check every query against the
// metrics the exporter really exposes and run it against a real Prometheus.
package dashboards

import "embed"

// FS holds the dashboard JSON files, as shipped for Grafana file provisioning.
//
//go:embed *.json
var FS embed.FS
