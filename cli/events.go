package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/go-kit/log/level"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

type listCommand struct {
	account *string
	from    *string
	to      *string
	types   *[]string
	search  *string
	user    *string
	limit   *int
	output  *string
}

func addList(cmd *kingpin.CmdClause) *listCommand {
	return &listCommand{
		account: accountFlag(cmd),
		from:    cmd.Flag("from", "Oldest event time: RFC 3339, a date (UTC midnight), or a duration before now (30m, 24h, 7d).").Default("24h").String(),
		to:      cmd.Flag("to", "Newest event time, as for --from (default: now).").String(),
		types:   cmd.Flag("type", "Only events of this type; repeat for several.").PlaceHolder("TYPE").Strings(),
		search:  cmd.Flag("search", "Only events whose JSON contains this text (the API's search_text).").String(),
		user:    cmd.Flag("user", "Only events of this user, by email or user id (filtered here: the API has no user filter).").String(),
		limit:   cmd.Flag("limit", "Stop after this many events (0: all).").Default("0").Int(),
		output:  outputFlag(cmd, outputTable),
	}
}

func (l *listCommand) query(env Env) (auditapi.Query, error) {
	now := env.Now()
	q := auditapi.Query{SearchText: *l.search, To: now}
	var err error
	if q.From, err = parseTime("from", *l.from, now); err != nil {
		return q, err
	}
	if *l.to != "" {
		if q.To, err = parseTime("to", *l.to, now); err != nil {
			return q, err
		}
	}
	if q.From.After(q.To) {
		return q, usagef("--from (%s) is after --to (%s)", q.From.UTC().Format(timeLayout), q.To.UTC().Format(timeLayout))
	}
	for _, t := range *l.types {
		for s := range strings.SplitSeq(t, ",") {
			if s = strings.TrimSpace(s); s != "" {
				q.EventTypes = append(q.EventTypes, s)
			}
		}
	}
	if *l.limit < 0 {
		return q, usagef("--limit %d is negative", *l.limit)
	}
	// Without a client-side filter, a small limit needs one small page.
	if *l.limit > 0 && *l.user == "" {
		q.Size = min(*l.limit, auditapi.MaxPageSize)
	}
	return q, nil
}

func (l *listCommand) run(ctx context.Context, env Env) error {
	q, err := l.query(env)
	if err != nil {
		return err
	}
	c, account, err := client(env, *l.account)
	if err != nil {
		return err
	}
	out := newEventWriter(*l.output, env.Stdout, width(env.Stdout))
	n := 0
	// Pages shift while new events arrive, so that an event can come
	// again on the next page: each is printed once.
	printed := map[string]bool{}
	from, to := q.From, q.To
	// within tells whether ev was created between --from and --to: the API
	// says so itself unless it was asked for whole days.
	within := func(ev *auditapi.Event, q auditapi.Query) bool {
		return !q.DateOnly || ev.CreatedAt.IsZero() || (!ev.CreatedAt.Before(from) && !ev.CreatedAt.After(to))
	}
	list := func(q auditapi.Query) error {
		_, err := c.Pages(ctx, q, func(p *auditapi.Page) (bool, error) {
			for i := range p.Events {
				ev := &p.Events[i]
				if !matchUser(ev, *l.user) || !within(ev, q) || (ev.ID != "" && printed[ev.ID]) {
					continue
				}
				printed[ev.ID] = true
				if err := out.write(ev); err != nil {
					return false, err
				}
				n++
				if *l.limit > 0 && n >= *l.limit {
					return false, out.flush()
				}
			}
			return true, out.flush()
		})
		return err
	}
	err = list(q)
	if auditapi.Reason(err) == auditapi.ReasonBadRequest && n == 0 {
		// An API that refuses a time of day takes dates: whole UTC days,
		// one more on each side, cut to --from and --to here.
		level.Warn(env.Logger).Log("msg", "The Audit API refused a time of day: listing whole days and keeping the events between --from and --to", "account", account)
		const day = 24 * time.Hour
		q.DateOnly, q.From, q.To = true, from.UTC().Truncate(day).Add(-day), to.UTC().Truncate(day).Add(day)
		err = list(q)
	}
	// The output is ended even after an error, so that what was printed
	// stays valid JSON.
	cerr := out.close()
	if err != nil {
		return fmt.Errorf("account %q: %w", account, err)
	}
	return cerr
}

// matchUser reports whether ev is user's: the email, compared without
// case, or the numeric user id.
func matchUser(ev *auditapi.Event, user string) bool {
	return user == "" || strings.EqualFold(ev.UserEmail, user) || (ev.UserID != "" && ev.UserID == user)
}

type getCommand struct {
	account *string
	id      *string
	output  *string
}

func addGet(cmd *kingpin.CmdClause) *getCommand {
	return &getCommand{
		account: accountFlag(cmd),
		id:      cmd.Arg("id", "The event's id.").Required().String(),
		output:  outputFlag(cmd, outputJSON),
	}
}

func (g *getCommand) run(ctx context.Context, env Env) error {
	c, account, err := client(env, *g.account)
	if err != nil {
		return err
	}
	ev, err := c.GetEvent(ctx, *g.id)
	switch {
	case errors.Is(err, auditapi.ErrNotFound):
		// The client's error repeats the id and the status: say it once.
		return fmt.Errorf("account %q: no event with id %q: HTTP 404 %w", account, *g.id, auditapi.ErrNotFound)
	case err != nil:
		return fmt.Errorf("account %q: %w", account, err)
	}
	if *g.output == outputJSON {
		// One event prints as the object itself, not as an array of one.
		var buf bytes.Buffer
		if err := json.Indent(&buf, ev.Raw, "", "  "); err != nil {
			return fmt.Errorf("printing event %q: %w", ev.ID, err)
		}
		buf.WriteByte('\n')
		_, err := env.Stdout.Write(buf.Bytes())
		return err
	}
	out := newEventWriter(*g.output, env.Stdout, width(env.Stdout))
	if err := out.write(ev); err != nil {
		return err
	}
	return out.close()
}

// width is the terminal width of w, or 0 when w is not a terminal.
func width(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		return terminalWidth(f)
	}
	return 0
}
