// Reading the file through yaml.Node: strict keys, positions for every
// error, and the lines of the keys for the checks that follow.

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// locator turns a key path ("mode", "accounts[1].api_url") into "file:line".
type locator struct {
	source string
	lines  map[string]int
}

// at falls back from an account's missing key to the account itself.
func (l locator) at(path string) string {
	n, ok := l.lines[path]
	if !ok {
		if account, _, found := strings.Cut(path, "."); found {
			n, ok = l.lines[account]
		}
	}
	if ok {
		return l.source + ":" + strconv.Itoa(n)
	}
	return l.source
}

func (l locator) errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{l.at(path)}, args...)...)
}

func accountKey(i int, key string) string {
	if key == "" {
		return fmt.Sprintf("accounts[%d]", i)
	}
	return fmt.Sprintf("accounts[%d].%s", i, key)
}

func accountName(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("account #%d", i+1)
	}
	return fmt.Sprintf("account %q", name)
}

func decode(data []byte, source string) (*rawConfig, locator, error) {
	loc := locator{source: source, lines: map[string]int{}}
	raw := toRaw(func() *Config { c := Default(); return &c }())

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return &raw, loc, nil
	case err != nil:
		return nil, loc, loc.syntaxError(err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, loc, loc.syntaxError(err)
	default:
		return nil, loc, fmt.Errorf("%s:%d: found a second YAML document: a config file holds exactly one", source, next.Line)
	}

	if len(doc.Content) == 0 {
		return &raw, loc, nil
	}
	d := decoder{loc: loc, budget: aliasRatio*nodes(&doc) + 1000}
	if root := resolve(doc.Content[0]); root.ShortTag() != "!!null" {
		d.value(root, reflect.ValueOf(&raw).Elem(), "", "")
	}
	if len(d.errs) > 0 {
		return nil, loc, errors.Join(d.errs...)
	}
	return &raw, loc, nil
}

// syntaxError places yaml.v3's syntax error in the file. yaml.v3 has no
// typed syntax error, and no node exists yet: its text, "yaml: line N:
// problem", is the only place the line is.
func (l locator) syntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, problem, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return fmt.Errorf("%s:%d: invalid YAML: %s", l.source, line, problem)
			}
		}
	}
	return fmt.Errorf("%s: invalid YAML: %s", l.source, msg)
}

// decoder fills a rawConfig from the document's nodes, strictly: unknown
// keys, keys set twice, keys without a value and values of the wrong type
// are errors. It collects every error, each with its line and key, so that
// one run reports all of them; and it records the line of every key for
// the checks that follow.
type decoder struct {
	loc  locator
	errs []error
	// budget is how many more values and keys may be decoded. Aliases make
	// a node count once per use: a small file could otherwise expand into
	// millions of values, as yaml.v3's own decoder also refuses.
	budget int
}

// aliasRatio is how many times its own size a file may expand through
// aliases: far more than sharing a list of event types between accounts.
const aliasRatio = 10

// nodes counts the nodes written in the file, an alias as one.
func nodes(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += nodes(c)
	}
	return count
}

// spend takes one decoded value or key from the budget, and reports once
// when it runs out.
func (d *decoder) spend(n *yaml.Node) bool {
	d.budget--
	if d.budget == -1 {
		d.errorf(n.Line, "aliases (*name) expand the file more than %d times its size: write the repeated parts out", aliasRatio)
	}
	return d.budget >= 0
}

func (d *decoder) errorf(line int, format string, args ...any) {
	d.errs = append(d.errs, fmt.Errorf("%s:%d: "+format, append([]any{d.loc.source, line}, args...)...))
}

// value decodes n into out. key names the value in errors ("" for the
// whole file); path is where loc records lines ("accounts[0].api_key").
func (d *decoder) value(n *yaml.Node, out reflect.Value, key, path string) {
	n = resolve(n)
	if !d.spend(n) {
		return
	}
	label := ""
	if key != "" {
		label = key + ": "
	}
	if nd, ok := reflect.TypeAssert[nodeDecoder](out.Addr()); ok {
		if err := nd.decodeNode(n); err != nil {
			d.errorf(n.Line, "%s%v", label, err)
		}
		return
	}
	t := out.Type()
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.value(n, p.Elem(), key, path)
		out.Set(p)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.errorf(n.Line, "%sexpected %s, got %s", label, expected(t), describe(n))
			return
		}
		prefix := ""
		if path != "" {
			prefix = path + "."
		}
		d.mapping(n, out, prefix)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n.Line, "%sexpected %s, got %s", label, expected(t), describe(n))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			itemPath := fmt.Sprintf("%s[%d]", path, i)
			d.loc.lines[itemPath] = item.Line
			d.value(item, s.Index(i), key, itemPath)
		}
		out.Set(s)
	default:
		// yaml.v3 decodes scalars as its users expect (a number into a
		// string, yes/no into a bool, .inf into a float); only its error
		// is replaced.
		if n.Kind != yaml.ScalarNode {
			d.errorf(n.Line, "%sexpected %s, got %s", label, expected(t), describe(n))
			return
		}
		if err := n.Decode(out.Addr().Interface()); err != nil {
			got := describe(n)
			if t.Kind() == reflect.Float64 && outOfRange(n.Value) {
				got = "one out of range"
			}
			d.errorf(n.Line, "%sexpected %s, got %s", label, expected(t), got)
		}
	}
}

// mapping decodes the keys of m into the struct out, by the fields' yaml
// tags, so that the keys are written once, on rawConfig and rawAccount.
func (d *decoder) mapping(m *yaml.Node, out reflect.Value, prefix string) {
	fields := map[string]int{}
	for i := range out.NumField() {
		name, _, _ := strings.Cut(out.Type().Field(i).Tag.Get("yaml"), ",")
		fields[name] = i
	}
	set := map[string]int{}
	for _, p := range d.pairs(m) {
		k, v := p.key, resolve(p.value)
		if !d.spend(k) {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, "expected a key name, got %s", describe(k))
			continue
		}
		if first, dup := set[k.Value]; dup {
			// A merged key gives way to one the mapping sets itself.
			if !p.merged {
				d.errorf(k.Line, "key %q is set twice, first at line %d", k.Value, first)
			}
			continue
		}
		set[k.Value] = k.Line
		d.loc.lines[prefix+k.Value] = k.Line
		i, known := fields[k.Value]
		switch {
		case !known:
			d.errorf(k.Line, "unknown key %q", k.Value)
		case v.ShortTag() == "!!null":
			// Decoded, it would silently replace the default with zero.
			d.errorf(k.Line, "%s has no value: give one, or remove the key to use the default", k.Value)
		default:
			d.value(v, out.Field(i), k.Value, prefix+k.Value)
		}
	}
}

type pair struct {
	key, value *yaml.Node
	merged     bool
}

// pairs lists a mapping's own keys, then those of the mappings it merges
// with "<<", in the order that gives each key its YAML value.
func (d *decoder) pairs(m *yaml.Node) []pair {
	var own, merged []pair
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := resolve(m.Content[i]), m.Content[i+1]
		if k.ShortTag() != "!!merge" {
			own = append(own, pair{key: k, value: v})
			continue
		}
		sources := []*yaml.Node{resolve(v)}
		if sources[0].Kind == yaml.SequenceNode {
			sources = sources[0].Content
		}
		for _, src := range sources {
			src = resolve(src)
			if src.Kind != yaml.MappingNode {
				d.errorf(src.Line, "<<: expected a mapping or a list of mappings to merge, got %s", describe(src))
				continue
			}
			for j := 0; j+1 < len(src.Content); j += 2 {
				// One level only: nested merges could make a small file
				// expand without bound.
				if resolve(src.Content[j]).ShortTag() == "!!merge" {
					d.errorf(src.Content[j].Line, "<<: a merged mapping must not merge another")
					continue
				}
				if !d.spend(src.Content[j]) {
					return append(own, merged...)
				}
				merged = append(merged, pair{key: resolve(src.Content[j]), value: src.Content[j+1], merged: true})
			}
		}
	}
	return append(own, merged...)
}

// resolve follows an alias (*name) to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

// expected says what a field of type t holds, for "expected ..., got ...".
func expected(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[float64]():
		return "a number"
	case reflect.TypeFor[bool]():
		return "true or false"
	case reflect.TypeFor[string](), reflect.TypeFor[Secret]():
		return "a string"
	case reflect.TypeFor[[]string]():
		return "a list of strings"
	case reflect.TypeFor[[]rawAccount]():
		return "a list of accounts"
	case reflect.TypeFor[rawAccount]():
		return "an account (a mapping of keys such as name and api_key)"
	case reflect.TypeFor[rawConfig]():
		return "a mapping of settings"
	}
	return t.String()
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	switch tag := n.ShortTag(); tag {
	case "!!str", "!!binary":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing"
	default:
		return tag
	}
}
