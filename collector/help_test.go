package collector

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestHelpIsOneSentence holds every HELP of the exporter to one plain
// sentence: what a series counts, without asides a tool would cut.
func TestHelpIsOneSentence(t *testing.T) {
	help := regexp.MustCompile(`fqName: "([^"]*)", help: ("(?:[^"\\]|\\.)*")`)
	ch := make(chan *prometheus.Desc, 100)
	New(nil).Describe(ch)
	close(ch)
	n := 0
	for d := range ch {
		m := help.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no help in %s", d)
		}
		n++
		h, err := strconv.Unquote(m[2])
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		if !strings.HasSuffix(h, ".") || strings.Count(h, ".") != 1 || strings.ContainsAny(h, `;()"`) {
			t.Errorf("%s: help %q is not one plain sentence", m[1], h)
		}
	}
	if n < 20 {
		t.Errorf("described %d metrics, want the exporter's 20 or more", n)
	}
}
