package main

import (
	"context"
	"os"

	"github.com/go-kit/log"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// loadConfig reads the config file, or the environment when there is none;
// in demo mode it points the config at a simulator it starts.
func loadConfig(ctx context.Context, path string, demo bool, logger log.Logger) (*config.Config, error) {
	switch {
	case path != "":
		cfg, err := config.Load(path)
		if err != nil {
			return nil, err
		}
		if demo {
			return cfg, startDemo(ctx, cfg, true, logger)
		}
		return cfg, nil
	case demo:
		cfg := config.Default()
		return &cfg, startDemo(ctx, &cfg, false, logger)
	}
	return config.FromEnv(os.Getenv)
}

// reloadConfig reads the configuration again, as at start. In demo mode the
// demo account, which no file holds, is kept: with a config file, its global
// settings are reloaded; without one there is nothing to re-read. The shard,
// which comes from the command line, is kept.
func reloadConfig(path string, demo bool, running *config.Config) (*config.Config, error) {
	var cfg *config.Config
	var err error
	switch {
	case path == "" && demo:
		return running, nil
	case path == "":
		cfg, err = config.FromEnv(os.Getenv)
	default:
		cfg, err = config.Load(path)
	}
	if err != nil {
		return nil, err
	}
	if demo {
		cfg.Accounts = running.Accounts
	}
	cfg.Shard = running.Shard
	return cfg, nil
}
