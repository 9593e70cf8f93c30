package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/reading"
)

type probeCommand struct {
	account *string
	output  *string
}

func addProbe(cmd *kingpin.CmdClause) *probeCommand {
	return &probeCommand{
		account: cmd.Flag("account", "Name of the configured account to probe (default: every account).").PlaceHolder("NAME").String(),
		output:  cmd.Flag("output", "Output format: table, or json (one object per account and line).").Short('o').Default(outputTable).Enum(outputTable, outputJSON),
	}
}

// probeReport is what probe tells of one account. Its JSON keys are a
// contract: scripts read them.
type probeReport struct {
	Account          string  `json:"account"`
	OK               bool    `json:"ok"`
	Error            *string `json:"error"`
	PageSizeMax      int     `json:"page_size_max"`
	DateTimeAccepted bool    `json:"date_time_accepted"`
	DatePrecision    string  `json:"date_precision"`
	Order            string  `json:"order"`
	ClockSkewSeconds float64 `json:"clock_skew_seconds"`
	EventTypes       int     `json:"event_types"`
	TotalEvents      int     `json:"total_events"`
}

// errProbeFailed makes the exit status non-zero once every report is out.
var errProbeFailed = errors.New("the probe failed for at least one account")

func (c *probeCommand) run(ctx context.Context, env Env) error {
	names := []string{*c.account}
	if *c.account == "" {
		names = names[:0]
		for _, a := range env.Config.Accounts {
			names = append(names, a.Name)
		}
	}
	reports := make([]probeReport, 0, len(names))
	for _, name := range names {
		r, err := probeAccount(ctx, env, name)
		if err != nil {
			return err
		}
		reports = append(reports, r)
	}
	if err := printProbe(env, *c.output, reports); err != nil {
		return err
	}
	for _, r := range reports {
		if !r.OK {
			return errProbeFailed
		}
	}
	return nil
}

// probeAccount asks the account's API what it does, in at most 4 requests:
// OPTIONS, and what reading.Learn reads. Only a usage error (no such
// account) is returned; an API failure is the report's error.
func probeAccount(ctx context.Context, env Env, name string) (probeReport, error) {
	c, account, err := client(env, name)
	if err != nil {
		return probeReport{}, err
	}
	rep := probeReport{Account: account, DatePrecision: string(reading.PrecisionUnknown), Order: string(reading.OrderUnknown)}
	fail := func(err error) (probeReport, error) {
		msg := err.Error()
		rep.Error = &msg
		return rep, nil
	}
	types, err := c.EventTypes(ctx)
	if err != nil {
		return fail(err)
	}
	rd := reading.New(c, reading.Options{Logger: env.Logger, Now: env.Now})
	if err := rd.Learn(ctx); err != nil {
		return fail(err)
	}
	r := rd.Reading()
	rep.OK = true
	rep.EventTypes = len(types)
	rep.PageSizeMax = r.PageSize
	rep.DateTimeAccepted = r.TimeAccepted
	rep.DatePrecision = string(r.Precision)
	rep.Order = string(r.Order)
	rep.ClockSkewSeconds = r.Skew.Seconds()
	rep.TotalEvents = r.TotalEvents
	return rep, nil
}

func printProbe(env Env, format string, reports []probeReport) error {
	w := bufio.NewWriter(env.Stdout)
	if format == outputJSON {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, r := range reports {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tOK\tPAGE SIZE\tTIME OF DAY\tPRECISION\tORDER\tCLOCK SKEW\tEVENT TYPES\tEVENTS\tERROR")
	for _, r := range reports {
		errText := ""
		if r.Error != nil {
			errText = *r.Error
		}
		fmt.Fprintf(tw, "%s\t%t\t%d\t%s\t%s\t%s\t%+.1fs\t%d\t%d\t%s\n", printable(r.Account), r.OK, r.PageSizeMax,
			accepted(r.DateTimeAccepted), r.DatePrecision, r.Order, r.ClockSkewSeconds, r.EventTypes, r.TotalEvents, printable(errText))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return w.Flush()
}

func accepted(ok bool) string {
	if ok {
		return "accepted"
	}
	return "refused"
}
