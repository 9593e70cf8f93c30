package config

import (
	"github.com/prometheus/common/version"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// ClientConfig returns the Audit API client settings of one of c's
// accounts, so that the exporter and the command-line tool build their
// clients alike. The caller adds what only it has: Observer, Logger,
// HTTPClient.
//
// UserAgent is auditapi.DefaultUserAgent, the one home of the product name,
// followed by "/" and the version that the build set in
// github.com/prometheus/common/version, if any.
func (c *Config) ClientConfig(acc Account) auditapi.Config {
	return auditapi.Config{
		BaseURL:           acc.APIURL,
		APIKey:            acc.APIKey,
		APISecret:         string(acc.APISecret),
		Timeout:           c.RequestTimeout,
		MaxRetries:        c.MaxRetries,
		RequestsPerSecond: c.RequestsPerSecond,
		UserAgent:         userAgent(),
	}
}

// userAgent leaves the version out of a build without one: "name/" is not
// a valid product token.
func userAgent() string {
	if version.Version == "" {
		return auditapi.DefaultUserAgent
	}
	return version.ComponentUserAgent(auditapi.DefaultUserAgent)
}
