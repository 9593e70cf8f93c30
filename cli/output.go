package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/auditapi"
)

// eventWriter prints events as they arrive: flush ends a page, so that the
// user sees each page as soon as it is read; close ends the output.
type eventWriter interface {
	write(*auditapi.Event) error
	flush() error
	close() error
}

func newEventWriter(format string, w io.Writer, width int) eventWriter {
	bw := bufio.NewWriter(w)
	switch format {
	case outputJSON:
		return &jsonWriter{w: bw}
	case outputNDJSON:
		return &ndjsonWriter{w: bw}
	default:
		return &tableWriter{w: bw, width: width}
	}
}

// ndjsonWriter prints each event object as the API sent it, on one line.
type ndjsonWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
}

func (n *ndjsonWriter) write(ev *auditapi.Event) error {
	n.buf.Reset()
	if err := json.Compact(&n.buf, ev.Raw); err != nil {
		return fmt.Errorf("printing event %q: %w", ev.ID, err)
	}
	n.buf.WriteByte('\n')
	_, err := n.w.Write(n.buf.Bytes())
	return err
}

func (n *ndjsonWriter) flush() error { return n.w.Flush() }
func (n *ndjsonWriter) close() error { return n.w.Flush() }

// jsonWriter prints one JSON array of the event objects as the API sent
// them, indented, element by element.
type jsonWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	n   int
}

func (j *jsonWriter) write(ev *auditapi.Event) error {
	j.buf.Reset()
	if j.n == 0 {
		j.buf.WriteString("[\n  ")
	} else {
		j.buf.WriteString(",\n  ")
	}
	if err := json.Indent(&j.buf, ev.Raw, "  ", "  "); err != nil {
		return fmt.Errorf("printing event %q: %w", ev.ID, err)
	}
	j.n++
	_, err := j.w.Write(j.buf.Bytes())
	return err
}

func (j *jsonWriter) flush() error { return j.w.Flush() }

func (j *jsonWriter) close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	if _, err := j.w.WriteString(end); err != nil {
		return err
	}
	return j.w.Flush()
}

// Column widths of the event table. Wider values are not cut, except the
// user and the context on a narrow terminal: they then shift the columns
// after them on their line.
const (
	timeLayout  = "2006-01-02 15:04:05"
	typeWidth   = len("ACCOUNT_UPDATE_SETTINGS_API")
	sourceWidth = len("DEVAPI")
	userWidth   = 22
	ipWidth     = len("255.255.255.255")
	// minContextWidth is the least the context column is cut to.
	minContextWidth = 12
)

var tableHeader = []string{"TIME (UTC)", "TYPE", "SOURCE", "USER", "CC", "IP", "CONTEXT"}

// tableWriter prints one line per event, in fixed columns so that every
// page lines up without reading the whole result first.
type tableWriter struct {
	w      *bufio.Writer
	width  int // terminal width; 0: lines are never cut
	header bool
}

func (t *tableWriter) write(ev *auditapi.Event) error {
	if !t.header {
		t.header = true
		if _, err := t.w.WriteString(t.line(tableHeader) + "\n"); err != nil {
			return err
		}
	}
	created := "-"
	if !ev.CreatedAt.IsZero() {
		created = ev.CreatedAt.UTC().Format(timeLayout)
	}
	user := ev.UserEmail
	if user == "" {
		user = ev.UserID
	}
	_, err := t.w.WriteString(t.line([]string{
		created, ev.EventType, ev.Source, user, ev.SourceCountry, ev.SourceIP, shortContext(ev.Context),
	}) + "\n")
	return err
}

// line lays out the seven columns; the user and the context are cut to
// fit the terminal, when there is one.
func (t *tableWriter) line(cols []string) string {
	for i, c := range cols {
		cols[i] = printable(c)
		if cols[i] == "" {
			cols[i] = "-"
		}
	}
	user, context := cols[3], cols[6]
	if t.width > 0 {
		user = cut(user, userWidth)
		fixed := len(timeLayout) + typeWidth + sourceWidth + userWidth + len("CC") + ipWidth + 6*2
		context = cut(context, max(t.width-fixed, minContextWidth))
	}
	return fmt.Sprintf("%-*s  %-*s  %-*s  %-*s  %-2s  %-*s  %s",
		len(timeLayout), cols[0], typeWidth, cols[1], sourceWidth, cols[2], userWidth, user, cols[4], ipWidth, cols[5], context)
}

func (t *tableWriter) flush() error { return t.w.Flush() }
func (t *tableWriter) close() error { return t.w.Flush() }

// shortContext renders an event's context as key=value pairs in key order,
// which reads better in a table than JSON.
func shortContext(raw json.RawMessage) string {
	var obj map[string]json.RawMessage
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		var buf bytes.Buffer
		if json.Compact(&buf, raw) != nil {
			return ""
		}
		return buf.String()
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := obj[k]
		var s string
		if json.Unmarshal(v, &s) != nil {
			var buf bytes.Buffer
			if json.Compact(&buf, v) == nil {
				s = buf.String()
			}
		}
		parts[i] = k + "=" + s
	}
	return strings.Join(parts, " ")
}

// printable replaces control characters, so that a value from the API
// cannot move the cursor or recolour the operator's terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// cut shortens s to n runes, marking the cut with an ellipsis.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
