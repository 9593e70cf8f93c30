package e2e

import (
	"os/exec"
	"testing"
)

// TestAlertRulesOverAWeek runs the promtool tests of the alert rules over
// seven days of samples, too slow for the unit suite, where alerts' own
// tests run the others and check that these cover what they should.
func TestAlertRulesOverAWeek(t *testing.T) {
	promtool := lookTool(t, "promtool")
	out, err := exec.Command(promtool, "test", "rules", "../alerts/vonage-audit.rules.7d.test.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
