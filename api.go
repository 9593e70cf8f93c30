package main

import (
	"context"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/cli"
)

// runAPICommand runs a command of package cli and returns the exit code.
func runAPICommand(ctx context.Context, cmds *cli.Commands, command, configFile string, demo bool, logger log.Logger) int {
	cfg, err := loadConfig(ctx, configFile, demo, logger)
	if err != nil {
		err = cli.Usage(err)
	} else {
		err = cmds.Run(ctx, command, cli.Env{Config: cfg, Stdout: os.Stdout, Logger: logger})
	}
	if err != nil {
		kingpin.CommandLine.Errorf("%s", err)
	}
	return cli.ExitCode(err)
}
