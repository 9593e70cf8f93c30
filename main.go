// Command vonage_audit_exporter exports the Vonage Audit API's event log as
// Prometheus metrics.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/cli"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

const exporterName = "vonage_audit_exporter"

func main() {
	os.Exit(run())
}

// run is main without os.Exit, so that its deferred calls run before the
// process exits with the code it returns.
func run() int {
	stampVersion()
	app := kingpin.CommandLine
	app.Help = "Prometheus exporter for the Vonage Audit API. Serving the exporter is the default command."
	// The serve command's flags are the application's, as in node_exporter,
	// so that the top-level --help lists them: serve is what most users run,
	// and it runs without being named. The other commands ignore them.
	var (
		configFile = app.Flag("config.file", "Path to the configuration file. Without it, one account is read from VONAGE_API_KEY and VONAGE_API_SECRET.").String()
		demo       = app.Flag("demo", "Run against a built-in Audit API simulator instead of a Vonage account.").Bool()
		logLevel   = app.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").Enum("debug", "info", "warn", "error")
		logFormat  = app.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").Enum("logfmt", "json")

		configCheck   = app.Flag("config.check", "Validate the configuration, print it with secrets hidden, and exit.").Bool()
		metricsPath   = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		timeoutOffset = app.Flag("scrape.timeout-offset", "Scrape mode: time taken off the scrape timeout that Prometheus sends.").Default("0.5s").Duration()
		lifecycle     = app.Flag("web.enable-lifecycle", "Enable reloading the configuration with POST or PUT to /-/reload.").Bool()
		pprof         = app.Flag("web.enable-pprof", "Serve the Go runtime's profiles under /debug/pprof/, and link them from the landing page.").Bool()
		shardIndex    = app.Flag("shard", "Poll and export only the accounts of this shard, numbered from 0: those whose name's FNV-1a 64-bit hash modulo --total-shards is this number. Each shard keeps its own state file.").Default("0").Int()
		totalShards   = app.Flag("total-shards", "Number of exporters that split the accounts of one configuration between them, each with its own --shard.").Default("1").Int()
		webConfig     = kingpinflag.AddFlags(app, ":9887")

		serveCmd = app.Command("serve", "Serve the exporter (the default command).").Default()

		simulateCmd  = app.Command("simulate", "Serve a simulated Audit API, for trying dashboards and alerts without a Vonage account.")
		simulateOpts = simulateFlags(simulateCmd)

		apiCmds = cli.Register(app) // events list, events get, event-types
	)
	serveCmd.Validate(func(*kingpin.CmdClause) error {
		return config.Shard{Index: *shardIndex, Total: *totalShards}.Validate()
	})
	simulatorFlags(app, &simulatorReadings) // --sim.*: the readings of the API that --demo and simulate serve
	app.Version(version.Print(exporterName))
	app.HelpFlag.Short('h')
	command, err := app.Parse(os.Args[1:])
	if err != nil {
		app.Errorf("%s, try --help", err)
		return cli.ExitUsage
	}

	logger, slogger := newLogger(*logFormat, *logLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch command {
	case serveCmd.FullCommand():
		var cfg *config.Config
		if cfg, err = loadConfig(ctx, *configFile, *demo, logger); err == nil {
			cfg.Shard = config.Shard{Index: *shardIndex, Total: *totalShards}
			err = serve(ctx, cfg, serveOptions{
				check:           *configCheck,
				metricsPath:     *metricsPath,
				timeoutOffset:   *timeoutOffset,
				enableLifecycle: *lifecycle,
				enablePprof:     *pprof,
				reload:          func() (*config.Config, error) { return reloadConfig(*configFile, *demo, cfg) },
				web:             webConfig,
				webLogger:       slogger,
			}, logger)
		}
	case simulateCmd.FullCommand():
		err = simulate(ctx, simulateOpts, logger)
	default:
		return runAPICommand(ctx, apiCmds, command, *configFile, *demo, logger)
	}
	if err != nil {
		level.Error(logger).Log("msg", "Exiting", "err", err)
		return 1
	}
	return 0
}
