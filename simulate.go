package main

import (
	"context"
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

type simulateOptions struct {
	listen    *string
	apiKey    *string
	apiSecret *string
	rate      *float64
	history   *time.Duration
	seed      *int64
}

func simulateFlags(cmd *kingpin.CmdClause) simulateOptions {
	return simulateOptions{
		listen:    cmd.Flag("listen-address", "Address to serve the simulated Audit API on.").Default("127.0.0.1:9888").String(),
		apiKey:    cmd.Flag("api-key", "API key the simulator accepts.").Default("demo").String(),
		apiSecret: cmd.Flag("api-secret", "API secret the simulator accepts.").Default("demo").Envar("SIMULATOR_API_SECRET").String(),
		rate:      cmd.Flag("rate", "Mean number of new events a second.").Default("1").Float64(),
		history:   cmd.Flag("history", "Events are also made for this long before start.").Default("1h").Duration(),
		seed:      cmd.Flag("seed", "Seed of the event stream (0: from the clock).").Default("0").Int64(),
	}
}

// simulate serves a simulated Audit API until ctx is done.
func simulate(ctx context.Context, o simulateOptions, logger log.Logger) error {
	seed := *o.seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	sim := simulator.New(simulator.Options{APIKey: *o.apiKey, APISecret: *o.apiSecret, Seed: seed})
	if *o.history > 0 {
		now := time.Now()
		sim.Generate(int(o.history.Seconds()*(*o.rate)), now.Add(-*o.history), now)
	}
	if *o.rate > 0 {
		go sim.Run(ctx, *o.rate)
	}
	level.Info(logger).Log("msg", "Serving a simulated Audit API", "address", *o.listen, "api_key", *o.apiKey, "rate", *o.rate, "seed", seed)
	if err := simulator.ListenAndServe(ctx, *o.listen, sim); err != nil {
		return fmt.Errorf("simulating the audit api: %w", err)
	}
	return nil
}
