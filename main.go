// Command vonage_audit_exporter exports the Vonage Audit API's event log as
// Prometheus metrics.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	sloggokit "github.com/tjhop/slog-gokit"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/collector"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

const exporterName = "vonage_audit_exporter"

func main() {
	var (
		configFile    = kingpin.Flag("config.file", "Path to the configuration file. Without it, one account is read from VONAGE_API_KEY and VONAGE_API_SECRET.").String()
		configCheck   = kingpin.Flag("config.check", "Validate the configuration, print it with secrets hidden, and exit.").Bool()
		metricsPath   = kingpin.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		timeoutOffset = kingpin.Flag("scrape.timeout-offset", "Scrape mode: time taken off the scrape timeout that Prometheus sends.").Default("0.5s").Duration()
		logLevel      = kingpin.Flag("log.level", "Only log messages with the given severity or above. One of: [debug, info, warn, error]").Default("info").Enum("debug", "info", "warn", "error")
		logFormat     = kingpin.Flag("log.format", "Output format of log messages. One of: [logfmt, json]").Default("logfmt").Enum("logfmt", "json")
		webConfig     = kingpinflag.AddFlags(kingpin.CommandLine, ":9887")
	)
	kingpin.Version(version.Print(exporterName))
	kingpin.HelpFlag.Short('h')
	kingpin.Parse()

	logger := newLogger(*logFormat, *logLevel)

	cfg, err := loadConfig(*configFile)
	if err != nil {
		level.Error(logger).Log("msg", "Invalid configuration", "err", err)
		os.Exit(1)
	}
	for _, w := range cfg.Warnings() {
		level.Warn(logger).Log("msg", w)
	}
	if *configCheck {
		fmt.Print(cfg.Redacted())
		return
	}

	level.Info(logger).Log("msg", "Starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext(), "mode", cfg.Mode, "accounts", len(cfg.Accounts))

	c := collector.NewCollector()
	exp, err := collector.FromConfig(cfg, c, collector.Options{ScrapeTimeoutOffset: *timeoutOffset, Logger: logger})
	if err != nil {
		level.Error(logger).Log("msg", "Creating the exporter failed", "err", err)
		os.Exit(1)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		c,
	)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exp.Start(ctx)

	http.Handle(*metricsPath, exp.Handler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      log.NewStdlibAdapter(level.Error(logger)),
		ErrorHandling: promhttp.ContinueOnError,
	})))
	if *metricsPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name:        "Vonage Audit Exporter",
			Description: "Prometheus exporter for the Vonage Audit API",
			Version:     version.Info(),
			Links:       []web.LandingLinks{{Address: *metricsPath, Text: "Metrics"}},
		})
		if err != nil {
			level.Error(logger).Log("msg", "Creating the landing page failed", "err", err)
			os.Exit(1)
		}
		http.Handle("/", landing)
	}

	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		level.Info(logger).Log("msg", "Shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	slogger := slog.New(sloggokit.NewGoKitHandler(logger, nil))
	if err := web.ListenAndServe(srv, webConfig, slogger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		level.Error(logger).Log("msg", "Serving failed", "err", err)
		os.Exit(1)
	}
	exp.Stop()
}

// loadConfig reads the config file, or the environment when there is none.
func loadConfig(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	return config.FromEnv(os.Getenv)
}

func newLogger(format, lvl string) log.Logger {
	var logger log.Logger
	if format == "json" {
		logger = log.NewJSONLogger(log.NewSyncWriter(os.Stderr))
	} else {
		logger = log.NewLogfmtLogger(log.NewSyncWriter(os.Stderr))
	}
	logger = level.NewFilter(logger, level.Allow(level.ParseDefault(lvl, level.InfoValue())))
	return log.With(logger, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)
}
