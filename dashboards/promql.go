package dashboards

import (
	"fmt"
	"sort"
	"strings"
)

// selectorRef is a metric selector found in an expression.
type selectorRef struct {
	name     string // metric name
	matchers string // text between the braces, empty without braces
	fn       string // innermost enclosing function or aggregation, empty at top level
	window   string // range selector duration, empty for an instant selector
}

// Words that look like metric names but are not.
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true, "atan2": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"inf": true, "nan": true,
}

// Keywords followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

const labelList = "#labels"

// MetricNames returns the sorted metric names an expression selects. It is a
// lexer, not a full PromQL parser: it finds selectors, skips strings, label
// lists and durations, and reports unbalanced brackets and unterminated strings.
// Grafana variables may still be in expr.
func MetricNames(expr string) ([]string, error) {
	refs, err := selectors(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	for _, r := range refs {
		if !seen[r.name] {
			seen[r.name] = true
			names = append(names, r.name)
		}
	}
	sort.Strings(names)
	return names, nil
}

func selectors(expr string) ([]selectorRef, error) {
	var (
		refs         []selectorRef
		stack        []string // one entry per open parenthesis: function name, labelList or ""
		pendingFn    string   // function or aggregation waiting for its parenthesis
		pendingLabel bool     // a label list keyword waiting for its parenthesis
	)
	top := func() string {
		if len(stack) == 0 {
			return ""
		}
		return stack[len(stack)-1]
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			end, err := closing(expr, i, '}')
			if err != nil {
				return nil, err
			}
			if top() != labelList {
				// A selector without a metric name, such as {__name__=~"..."}.
				refs = append(refs, selectorRef{matchers: expr[i+1 : end-1], fn: top()})
			}
			i = end
		case c == '[' && strings.HasPrefix(expr[i:], "[["):
			// A Grafana variable in the old [[name]] form.
			end := strings.Index(expr[i:], "]]")
			if end < 0 {
				return nil, fmt.Errorf("unclosed '[[' at offset %d in %q", i, expr)
			}
			i += end + 2
		case c == '[':
			end, err := closing(expr, i, ']')
			if err != nil {
				return nil, err
			}
			if n := len(refs); n > 0 && refs[n-1].window == "" {
				refs[n-1].window = strings.TrimSpace(expr[i+1 : end-1])
			}
			i = end
		case c == '(':
			switch {
			case pendingLabel:
				stack = append(stack, labelList)
			default:
				stack = append(stack, pendingFn)
			}
			pendingFn, pendingLabel = "", false
			i++
		case c == ')':
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced ')' at offset %d in %q", i, expr)
			}
			stack = stack[:len(stack)-1]
			i++
		case c == ']' || c == '}':
			return nil, fmt.Errorf("unbalanced %q at offset %d in %q", c, i, expr)
		case c == '$':
			i = skipVariable(expr, i)
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case isDigit(c) || c == '.':
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			word := expr[start:i]
			callsNext := nextNonSpace(expr, i) == '('
			switch {
			case top() == labelList:
			case labelListKeywords[word]:
				pendingLabel = callsNext
			case promqlKeywords[word] || callsNext:
				pendingFn = word
			default:
				ref := selectorRef{name: word, fn: top()}
				if j := skipSpace(expr, i); j < len(expr) && expr[j] == '{' {
					end, err := closing(expr, j, '}')
					if err != nil {
						return nil, err
					}
					ref.matchers = expr[j+1 : end-1]
					i = end
				}
				refs = append(refs, ref)
			}
		default:
			i++
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("unclosed '(' in %q", expr)
	}
	// Selectors without a name select nothing this package can name.
	named := refs[:0]
	for _, r := range refs {
		if r.name != "" {
			named = append(named, r)
		}
	}
	return named, nil
}

// skipString returns the offset just past the string literal starting at i.
func skipString(expr string, i int) (int, error) {
	quote := expr[i]
	for j := i + 1; j < len(expr); j++ {
		switch {
		case expr[j] == '\\' && quote != '`':
			j++
		case expr[j] == quote:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unterminated string at offset %d in %q", i, expr)
}

// closing returns the offset just past the bracket that closes the one at i,
// skipping string literals in between.
func closing(expr string, i int, closer byte) (int, error) {
	for j := i + 1; j < len(expr); j++ {
		switch expr[j] {
		case '"', '\'', '`':
			end, err := skipString(expr, j)
			if err != nil {
				return 0, err
			}
			j = end - 1
		case closer:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed %q at offset %d in %q", expr[i], i, expr)
}

// skipVariable returns the offset just past a Grafana variable at i: $name or ${...}.
func skipVariable(expr string, i int) int {
	i++
	if i < len(expr) && expr[i] == '{' {
		if end := strings.IndexByte(expr[i:], '}'); end >= 0 {
			return i + end + 1
		}
		return len(expr)
	}
	for i < len(expr) && isIdentChar(expr[i]) {
		i++
	}
	return i
}

func skipSpace(expr string, i int) int {
	for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
		i++
	}
	return i
}

func nextNonSpace(expr string, i int) byte {
	if i = skipSpace(expr, i); i < len(expr) {
		return expr[i]
	}
	return 0
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentChar(c byte) bool  { return isIdentStart(c) || isDigit(c) }
