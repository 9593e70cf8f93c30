// Package cli is the Audit API on the command line: the `events list`,
// `events get` and `event-types` subcommands of vonage_audit_exporter, for
// the operator who needs to know who did what, from where, when an alert
// fires. They use the exporter's own client, so the same config file, retries,
// rate limit and timeouts apply.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

// Exit codes of the commands.
const (
	ExitOK    = 0
	ExitError = 1 // the API or the network failed
	ExitUsage = 2 // the command line or the configuration is wrong
)

// Output formats.
const (
	outputTable  = "table"
	outputJSON   = "json"
	outputNDJSON = "ndjson"
)

// UsageError is an error the user fixes in the command line or the
// configuration, not by retrying.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usage marks err as a usage error; nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{Err: err}
}

func usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// ExitCode is the process exit code for the error a command returned.
func ExitCode(err error) int {
	var u *UsageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &u):
		return ExitUsage
	default:
		return ExitError
	}
}

// Env is what a command runs with.
type Env struct {
	Config *config.Config
	// Stdout receives the command's output; logs go to Logger.
	Stdout io.Writer
	Logger log.Logger
	// Now is the clock for --from and --to; default time.Now.
	Now func() time.Time
}

// Commands are the subcommands of this package, registered on one kingpin
// application.
type Commands struct {
	run map[string]func(context.Context, Env) error
}

// Register adds the commands to app.
func Register(app *kingpin.Application) *Commands {
	events := app.Command("events", "Read the Audit API's events.")
	list := addList(events.Command("list", "List events in the order the API serves them, paging through all results."))
	get := addGet(events.Command("get", "Print one event."))
	types := addEventTypes(app.Command("event-types", "List the event types the Audit API knows (OPTIONS /events)."))
	probe := addProbe(app.Command("probe", "Tell what each account's Audit API does where its docs leave it open: page size, date precision, order, clock skew."))
	return &Commands{run: map[string]func(context.Context, Env) error{
		"events list": list.run,
		"events get":  get.run,
		"event-types": types.run,
		"probe":       probe.run,
	}}
}

// Run runs command, as returned by kingpin's Parse. Errors are *UsageError
// when the user must change the command or the configuration.
func (c *Commands) Run(ctx context.Context, command string, env Env) error {
	run, ok := c.run[command]
	if !ok {
		return usagef("unknown command %q", command)
	}
	if env.Logger == nil {
		env.Logger = log.NewNopLogger()
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	return run(ctx, env)
}

// accountFlag adds --account to a command: every command reads one account.
func accountFlag(cmd *kingpin.CmdClause) *string {
	return cmd.Flag("account", "Name of the configured account to read (default: the only one).").PlaceHolder("NAME").String()
}

func outputFlag(cmd *kingpin.CmdClause, def string) *string {
	return cmd.Flag("output", "Output format: table, json or ndjson.").Short('o').Default(def).Enum(outputTable, outputJSON, outputNDJSON)
}

// client returns the client of the account named name, or of the only
// account when name is empty.
func client(env Env, name string) (*auditapi.Client, string, error) {
	cfg := env.Config
	if cfg == nil || len(cfg.Accounts) == 0 {
		return nil, "", usagef("the configuration has no account")
	}
	names := make([]string, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		names[i] = a.Name
	}
	i := 0
	switch {
	case name != "":
		if i = slices.Index(names, name); i < 0 {
			return nil, "", usagef("no account %q in the configuration; accounts: %s", name, strings.Join(names, ", "))
		}
	case len(names) > 1:
		return nil, "", usagef("the configuration has %d accounts (%s): pick one with --account", len(names), strings.Join(names, ", "))
	}
	acc := cfg.Accounts[i]
	cc := cfg.ClientConfig(acc)
	cc.Now = env.Now
	cc.Logger = log.With(env.Logger, "account", acc.Name)
	c, err := auditapi.New(cc)
	if err != nil {
		return nil, "", Usage(fmt.Errorf("account %q: %w", acc.Name, err))
	}
	return c, acc.Name, nil
}
