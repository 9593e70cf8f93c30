package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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

// simulatorReadings are the readings of the Audit API's undocumented points
// that the simulators of --demo and of the simulate command serve: the
// --sim.* flags write them when the command line is parsed.
var simulatorReadings simulator.Options

// simulatorFlags registers the --sim.* flags on app, where --demo and the
// simulate command both see them, writing into o what they say.
func simulatorFlags(app *kingpin.Application, o *simulator.Options) {
	oneOf := func(names []string) string { return " One of: [" + strings.Join(names, ", ") + "]" }
	app.Flag("sim.page-cap", "Simulator: most events a page holds whatever size asks (0: the documented 100).").
		Default("0").SetValue(countFlag("sim.page-cap", &o.PageCap))
	app.Flag("sim.date-precision", "Simulator: how date_from and date_to are read: to the second, by the day (a time of day ignored), or as dates only (a time of day refused with 400)."+
		oneOf(simulator.Names[simulator.DatePrecision]())).
		Default(o.DatePrecision.String()).SetValue(settingFlag("sim.date-precision", &o.DatePrecision))
	app.Flag("sim.clock-skew", "Simulator: how far the API's clock runs ahead of the local one (negative: behind).").
		Default("0s").SetValue(durationFlag("sim.clock-skew", &o.ClockSkew))
	app.Flag("sim.order", "Simulator: order of events in the answers."+oneOf(simulator.Names[simulator.Order]())).
		Default(o.Order.String()).SetValue(settingFlag("sim.order", &o.Order))
	app.Flag("sim.past-end-404", "Simulator: answer 404 to a page number past the last, instead of an empty page.").
		BoolVar(&o.PastEndNotFound)
	app.Flag("sim.created-at-format", "Simulator: how answers spell created_at."+oneOf(simulator.Names[simulator.CreatedAtFormat]())).
		Default(o.CreatedAtFormat.String()).SetValue(settingFlag("sim.created-at-format", &o.CreatedAtFormat))
}

// flagValue is a kingpin value whose parse error names its flag, which
// kingpin's own values leave out.
type flagValue struct {
	name string
	set  func(string) error
	get  func() string
}

func (f flagValue) Set(v string) error {
	if err := f.set(v); err != nil {
		return fmt.Errorf("--%s: %w", f.name, err)
	}
	return nil
}

func (f flagValue) String() string { return f.get() }

// settingFlag reads a simulator setting by name.
func settingFlag(name string, v interface {
	UnmarshalText([]byte) error
	String() string
}) flagValue {
	return flagValue{name, func(s string) error { return v.UnmarshalText([]byte(s)) }, v.String}
}

// countFlag reads a whole number, 0 or more.
func countFlag(name string, n *int) flagValue {
	return flagValue{name, func(s string) error {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return fmt.Errorf("want a whole number, 0 or more, not %q", s)
		}
		*n = v
		return nil
	}, func() string { return strconv.Itoa(*n) }}
}

// durationFlag reads a duration, which may be negative.
func durationFlag(name string, d *time.Duration) flagValue {
	return flagValue{name, func(s string) error {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("want a duration such as -2m or 90s, not %q", s)
		}
		*d = v
		return nil
	}, func() string { return d.String() }}
}

// readingsLogKeys are the key-value pairs that log the readings a simulator
// serves.
func readingsLogKeys(o simulator.Options) []any {
	return []any{"page_cap", o.PageCap, "date_precision", o.DatePrecision, "clock_skew", o.ClockSkew,
		"order", o.Order, "past_end_404", o.PastEndNotFound, "created_at_format", o.CreatedAtFormat}
}

// simulate serves a simulated Audit API until ctx is done.
func simulate(ctx context.Context, o simulateOptions, logger log.Logger) error {
	seed := *o.seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	opts := simulatorReadings
	opts.APIKey, opts.APISecret, opts.Seed = *o.apiKey, *o.apiSecret, seed
	sim := simulator.New(opts)
	if *o.history > 0 {
		now := time.Now()
		sim.Generate(int(o.history.Seconds()*(*o.rate)), now.Add(-*o.history), now)
	}
	if *o.rate > 0 {
		go sim.Run(ctx, *o.rate)
	}
	level.Info(logger).Log(append([]any{"msg", "Serving a simulated Audit API", "address", *o.listen, "api_key", *o.apiKey, "rate", *o.rate, "seed", seed},
		readingsLogKeys(opts)...)...)
	if err := simulator.ListenAndServe(ctx, *o.listen, sim); err != nil {
		return fmt.Errorf("simulating the audit api: %w", err)
	}
	return nil
}
