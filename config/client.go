package config

import "github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"

// ClientConfig is the Audit API client configuration of one of c's
// accounts. The caller adds what is not configuration: Observer and Logger.
func (c *Config) ClientConfig(acc Account) auditapi.Config {
	return auditapi.Config{
		BaseURL:           acc.APIURL,
		APIKey:            acc.APIKey,
		APISecret:         string(acc.APISecret),
		Timeout:           c.RequestTimeout,
		MaxRetries:        c.MaxRetries,
		RequestsPerSecond: c.RequestsPerSecond,
		MaxConcurrency:    c.MaxConcurrency,
	}
}
