package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// Demo settings: enough history for the dashboards, and polls frequent
// enough that counters visibly move within seconds.
const (
	demoHistory      = time.Hour
	demoHistoryCount = 900
	demoRate         = 1.0
	// demoRequestsPerSecond is the demo account's client-side rate limit.
	demoRequestsPerSecond = 50
	// demoSeed is fixed so that every demo run makes the same event ids:
	// an id that `--demo events list` printed can be read with
	// `--demo events get`.
	demoSeed = 1
)

// startDemo serves a simulated Audit API, reading the API as the --sim.*
// flags say, on loopback until ctx is done and points cfg at it, with one
// account named "demo". Without a config file, polls are frequent and the
// last hour is counted at start.
func startDemo(ctx context.Context, cfg *config.Config, fromFile bool, logger log.Logger) error {
	secret := make([]byte, 16)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("making the demo secret: %w", err)
	}
	opts := simulatorReadings
	opts.APIKey, opts.APISecret, opts.Seed = "demo", hex.EncodeToString(secret), demoSeed
	sim := simulator.New(opts)
	now := time.Now()
	sim.Generate(demoHistoryCount, now.Add(-demoHistory), now)

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the demo audit api: %w", err)
	}
	go func() {
		if err := simulator.Serve(ctx, ln, sim); err != nil {
			level.Error(logger).Log("msg", "The demo Audit API simulator stopped", "err", err)
		}
	}()
	go sim.Run(ctx, demoRate)

	if !fromFile {
		cfg.PollInterval = 5 * time.Second
		cfg.Lookback = demoHistory
		cfg.Overlap = 30 * time.Second
		// The simulator is local: its hour of history is read in a few
		// seconds even on a page cap of 30, not at Vonage's pace.
		cfg.RequestsPerSecond = demoRequestsPerSecond
	}
	cfg.Accounts = []config.Account{{
		Name:      "demo",
		APIKey:    "demo",
		APISecret: config.Secret(hex.EncodeToString(secret)),
		APIURL:    "http://" + ln.Addr().String(),
	}}
	level.Info(logger).Log(append([]any{"msg", "Demo mode: counting events of a built-in Audit API simulator, not of a Vonage account",
		"simulator", "http://" + ln.Addr().String(), "poll_interval", cfg.PollInterval}, readingsLogKeys(opts)...)...)
	return nil
}
