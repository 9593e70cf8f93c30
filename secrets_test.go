package main

import (
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

const (
	leakKey    = "leakkey9"
	leakSecret = "Zx9-distinctive-api-secret-7Qp"
	leakSalt   = "Salt-distinctive-9d1e4c7a2b"
)

// leaks lists the forms in which the secrets must never be printed.
var leaks = []string{
	leakSecret,
	leakSalt,
	base64.StdEncoding.EncodeToString([]byte(leakKey + ":" + leakSecret)),
}

func assertNoLeak(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range leaks {
		if strings.Contains(text, s) {
			t.Errorf("%s shows a secret (%.6s...):\n%s", where, s, text)
		}
	}
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The API secret and the hash salt never show in the log (debug level),
// in /metrics, in errors or in a printed config, whether polling
// succeeds, the API rejects the credentials, or the config is wrong.
func TestSecretsNeverPrinted(t *testing.T) {
	config := func(url string) string {
		return fmt.Sprintf(`
api_url: %s
poll_interval: 1s
lookback: 1h
request_timeout: 5s
requests_per_second: 50
max_retries: 0
user_label: hash
user_hash_salt: %s
accounts:
  - name: leak
    api_key: %s
    api_secret: %s
`, url, leakSalt, leakKey, leakSecret)
	}

	t.Run("polling succeeds", func(t *testing.T) {
		sim := simulator.New(simulator.Options{APIKey: leakKey, APISecret: leakSecret, Seed: 3})
		now := time.Now().UTC()
		sim.Generate(120, now.Add(-30*time.Minute), now)
		srv := httptest.NewServer(sim)
		defer srv.Close()
		p := startExporter(t, nil, "--config.file="+writeFile(t, t.TempDir(), "c.yml", config(srv.URL)))
		body := waitForScrape(t, p, "the events counted", func(_ string, f map[string]*dto) bool {
			return value(f, "vonage_audit_up", "") == 1 && value(f, "vonage_audit_events_ingested_total", "") == 120
		})
		assertNoLeak(t, "/metrics", body)
		assertNoLeak(t, "the log", p.stderr.String())
		if !strings.Contains(p.stderr.String(), "level=debug") {
			t.Error("no debug line logged: the test does not cover debug logging")
		}
		if strings.Contains(body, "@") {
			t.Errorf("user_label hash still exports emails:\n%s", body)
		}
	})

	t.Run("credentials rejected", func(t *testing.T) {
		sim := simulator.New(simulator.Options{APIKey: leakKey, APISecret: "the-right-one-is-different"})
		srv := httptest.NewServer(sim)
		defer srv.Close()
		p := startExporter(t, nil, "--config.file="+writeFile(t, t.TempDir(), "c.yml", config(srv.URL)))
		body := waitForScrape(t, p, "an auth failure", func(_ string, f map[string]*dto) bool {
			return value(f, "vonage_audit_poll_errors_total", "auth") >= 1
		})
		assertNoLeak(t, "/metrics", body)
		assertNoLeak(t, "the log", p.stderr.String())
		if !strings.Contains(p.stderr.String(), "401") {
			t.Errorf("the log does not report the rejected credentials:\n%s", p.stderr.String())
		}
	})

	t.Run("config check", func(t *testing.T) {
		good := writeFile(t, t.TempDir(), "c.yml", config("https://api.nexmo.com/beta/audit"))
		out, err := exec.Command(binary, "--log.level=debug", "--config.file="+good, "--config.check").CombinedOutput()
		if err != nil {
			t.Fatalf("--config.check: %v\n%s", err, out)
		}
		assertNoLeak(t, "--config.check", string(out))
		if !strings.Contains(string(out), "user_hash_salt: <secret>") || !strings.Contains(string(out), "api_secret: <secret>") {
			t.Errorf("--config.check does not show the secrets as <secret>:\n%s", out)
		}
	})

	for name, bad := range map[string]string{
		"unknown key":            config("https://api.nexmo.com/beta/audit") + "    api_secrett: " + leakSecret + "\n",
		"secret in the URL":      config("https://u:" + leakSecret + "@api.nexmo.com"),
		"secret in a number key": config("https://api.nexmo.com/beta/audit") + "max_users: " + leakSecret + "\n",
		"salt in a bool key":     config("https://api.nexmo.com/beta/audit") + "country_breakdown: " + leakSalt + "\n",
		"both secret keys":       config("https://api.nexmo.com/beta/audit") + "    api_secret_file: /nonexistent\n",
	} {
		t.Run("bad config: "+name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "c.yml", bad)
			for _, args := range [][]string{{"--config.check"}, {"--web.listen-address=" + freeAddr(t)}} {
				out, err := exec.Command(binary, append([]string{"--log.level=debug", "--config.file=" + path}, args...)...).CombinedOutput()
				if err == nil {
					t.Fatalf("%v accepted the bad config:\n%s", args, out)
				}
				assertNoLeak(t, fmt.Sprint(args), string(out))
			}
		})
	}
}
