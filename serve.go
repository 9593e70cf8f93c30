package main

import (
	"context"
	"errors"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/exporter"
)

type serveOptions struct {
	check           bool
	metricsPath     string
	timeoutOffset   time.Duration
	enableLifecycle bool
	enablePprof     bool
	// reload loads the configuration again, for SIGHUP and /-/reload.
	reload func() (*config.Config, error)
	web    *web.FlagConfig
	// webLogger is exporter-toolkit's logger.
	webLogger *slog.Logger
}

// serve runs the exporter until ctx is done.
func serve(ctx context.Context, cfg *config.Config, o serveOptions, logger log.Logger) error {
	for _, w := range cfg.Warnings() {
		level.Warn(logger).Log("msg", w)
	}
	if o.check {
		fmt.Print(cfg.Redacted())
		return nil
	}
	level.Info(logger).Log("msg", "Starting "+exporterName, "version", version.Info(), "build_context", version.BuildContext(), "mode", cfg.Mode, "accounts", len(cfg.Accounts))

	exp, err := exporter.FromConfig(cfg, exporter.Options{ScrapeTimeoutOffset: o.timeoutOffset, Logger: logger})
	if err != nil {
		return fmt.Errorf("creating the exporter: %w", err)
	}
	// The Go, process and build metrics; the exporter's own are served
	// beside them by its collector's handler.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector(exporterName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	reload := func() error {
		return exp.Reload(func() (*config.Config, error) {
			cfg, err := o.reload()
			if err != nil {
				return nil, err
			}
			for _, w := range cfg.Warnings() {
				level.Warn(logger).Log("msg", w)
			}
			return cfg, nil
		})
	}

	metrics := exp.Collector().Handler(reg, stdlog.New(log.NewStdlibAdapter(level.Error(logger)), "", 0))
	mux, err := newMux(o, exp.Handler(metrics), exp.Ready, reload)
	if err != nil {
		return err
	}

	exp.Start(ctx)
	defer exp.Stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOn(ctx, hup, reload)

	srv := newServer(mux, idleTimeout)
	stop := context.AfterFunc(ctx, func() {
		level.Info(logger).Log("msg", "Shutting down")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	})
	defer stop()
	if err := web.ListenAndServe(srv, o.web, o.webLogger); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
	}
	return nil
}

// reloadOn reloads the configuration on each signal until ctx is done.
func reloadOn(ctx context.Context, signals <-chan os.Signal, reload func() error) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-signals:
			_ = reload()
		}
	}
}

// reloadHandler serves /-/reload as Prometheus does: POST or PUT reloads
// when the lifecycle API is enabled, and is forbidden otherwise.
func reloadHandler(enabled bool, reload func() error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method != http.MethodPost && r.Method != http.MethodPut:
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "Only POST or PUT requests allowed", http.StatusMethodNotAllowed)
		case !enabled:
			http.Error(w, "Lifecycle API is not enabled.", http.StatusForbidden)
		default:
			if err := reload(); err != nil {
				http.Error(w, fmt.Sprintf("failed to reload config: %s", err), http.StatusInternalServerError)
			}
		}
	})
}
