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

// FromConfig builds an exporter with one account per configured account,
// each with its own client reporting to c.
func FromConfig(cfg *config.Config, c *Collector, opts Options) (*Exporter, error) {
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	opts.Mode = cfg.Mode
	opts.PollInterval = cfg.PollInterval
	accounts := make([]*Account, 0, len(cfg.Accounts))
	for _, acc := range cfg.Accounts {
		client, err := NewClient(cfg, acc, c.Observer(acc.Name), opts.Logger)
		if err != nil {
			return nil, err
		}
		accounts = append(accounts, NewAccount(AccountOptions{
			Name:             acc.Name,
			API:              client,
			EventTypes:       acc.EventTypes,
			Lookback:         cfg.Lookback,
			Overlap:          cfg.Overlap,
			UserLabel:        cfg.UserLabel,
			UserHashSalt:     string(cfg.UserHashSalt),
			MaxUsers:         acc.MaxUsers,
			CountryBreakdown: cfg.CountryBreakdown,
			Logger:           opts.Logger,
		}))
	}
	return New(opts, c, accounts), nil
}
