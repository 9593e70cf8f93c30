package collector

import (
	"fmt"

	"github.com/go-kit/log"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// UserAgent is sent with every request to the Audit API.
var UserAgent = "vonage_audit_exporter"

// NewClient returns the Audit API client of one configured account.
func NewClient(cfg *config.Config, acc config.Account, obs auditapi.Observer, logger log.Logger) (*auditapi.Client, error) {
	client, err := auditapi.New(auditapi.Config{
		BaseURL:           acc.APIURL,
		APIKey:            acc.APIKey,
		APISecret:         string(acc.APISecret),
		Timeout:           cfg.RequestTimeout,
		MaxRetries:        cfg.MaxRetries,
		RequestsPerSecond: cfg.RequestsPerSecond,
		Observer:          obs,
		Logger:            log.With(logger, "account", acc.Name),
		UserAgent:         UserAgent,
	})
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", acc.Name, err)
	}
	return client, nil
}
