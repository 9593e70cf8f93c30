package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/alecthomas/kingpin/v2"
)

type eventTypesCommand struct {
	account *string
	output  *string
}

func addEventTypes(cmd *kingpin.CmdClause) *eventTypesCommand {
	return &eventTypesCommand{
		account: accountFlag(cmd),
		output:  outputFlag(cmd, outputTable),
	}
}

func (e *eventTypesCommand) run(ctx context.Context, env Env) error {
	c, account, err := client(env, *e.account)
	if err != nil {
		return err
	}
	types, err := c.EventTypes(ctx)
	if err != nil {
		return fmt.Errorf("account %q: %w", account, err)
	}
	w := bufio.NewWriter(env.Stdout)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	switch *e.output {
	case outputJSON:
		enc.SetIndent("", "  ")
		if types == nil {
			_, err = w.WriteString("[]\n")
		} else {
			err = enc.Encode(types)
		}
	case outputNDJSON:
		for _, t := range types {
			if err = enc.Encode(t); err != nil {
				break
			}
		}
	default:
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tDESCRIPTION")
		for _, t := range types {
			fmt.Fprintf(tw, "%s\t%s\n", printable(t.Type), printable(t.Description))
		}
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	return w.Flush()
}
