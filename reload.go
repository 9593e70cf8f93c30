package main

import (
	"os"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// reloadConfig reads the configuration again, as at start. In demo mode the
// demo account, which no file holds, is kept: with a config file, its global
// settings are reloaded; without one there is nothing to re-read.
func reloadConfig(path string, demo bool, running *config.Config) (*config.Config, error) {
	switch {
	case path == "" && demo:
		return running, nil
	case path == "":
		return config.FromEnv(os.Getenv)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if demo {
		cfg.Accounts = running.Accounts
	}
	return cfg, nil
}
