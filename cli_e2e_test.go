package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// runCLI runs the built binary with a clean environment and returns its
// stdout, stderr and exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return stdout.String(), stderr.String(), exit.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), 0
}

func TestCLIExitCodes(t *testing.T) {
	sim := simulator.New(simulator.Options{APIKey: e2eKey, APISecret: e2eSecret, Seed: 5})
	now := time.Now()
	sim.Generate(30, now.Add(-time.Hour), now)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	good := writeConfig(t, fmt.Sprintf("accounts:\n  - name: e2e\n    api_key: %s\n    api_secret_file: SECRET_FILE\n    api_url: %s\n", e2eKey, srv.URL))
	const wrong = "wrong-secret-must-not-leak"
	bad := writeConfig(t, fmt.Sprintf("accounts:\n  - name: e2e\n    api_key: %s\n    api_secret: %s\n    api_url: %s\n", e2eKey, wrong, srv.URL))

	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // substring
		wantStderr string // substring
	}{
		{"list", []string{"events", "list", "--config.file=" + good, "-o", "ndjson"}, 0, sim.Visible()[0].ID, ""},
		{"config before the command", []string{"--config.file=" + good, "events", "list", "--account", "e2e"}, 0, "TIME (UTC)", ""},
		{"get", []string{"events", "get", sim.Visible()[3].ID, "--config.file=" + good}, 0, `"id": "` + sim.Visible()[3].ID + `"`, ""},
		{"event types", []string{"event-types", "--config.file=" + good}, 0, "ACCOUNT_SECRET_CREATE", ""},
		{"not found", []string{"events", "get", "no-such-id", "--config.file=" + good}, 1, "", `no event with id "no-such-id"`},
		{"wrong secret", []string{"events", "list", "--config.file=" + bad}, 1, "", "HTTP 401"},
		{"bad from", []string{"events", "list", "--config.file=" + good, "--from", "yesterday"}, 2, "", `invalid --from "yesterday"`},
		{"unknown output", []string{"events", "list", "--config.file=" + good, "--output", "xml"}, 2, "", "xml"},
		{"unknown account", []string{"event-types", "--config.file=" + good, "--account", "prod"}, 2, "", `no account "prod"`},
		{"missing id", []string{"events", "get", "--config.file=" + good}, 2, "", "id"},
		{"no credentials", []string{"events", "list"}, 2, "", "VONAGE_API_KEY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stdout, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("exit code %d, want %d; stdout want %q:\n%s\nstderr want %q:\n%s", code, tc.wantCode, tc.wantStdout, stdout, tc.wantStderr, stderr)
			}
			if strings.Contains(stdout+stderr, e2eSecret) || strings.Contains(stdout+stderr, wrong) {
				t.Error("a secret was printed")
			}
		})
	}
}

// In demo mode the log says so on stderr only, and an event that one run
// listed can be read by the next: the demo's ids are the same every run.
func TestCLIDemo(t *testing.T) {
	// --to leaves out the live events the demo adds while it runs.
	stdout, stderr, code := runCLI(t, "--demo", "events", "list", "--to", "1m", "--limit", "3", "-o", "ndjson")
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, stderr)
	}
	listed := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(listed) != 3 {
		t.Fatalf("--limit 3 printed %d lines:\n%s", len(listed), stdout)
	}
	if !strings.Contains(stderr, "Demo mode") {
		t.Errorf("stderr does not say it is a demo:\n%s", stderr)
	}
	var ev struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
	}
	if err := json.Unmarshal([]byte(listed[2]), &ev); err != nil {
		t.Fatalf("ndjson line %q: %v", listed[2], err)
	}

	stdout, stderr, code = runCLI(t, "events", "get", ev.ID, "--demo", "-o", "ndjson")
	if code != 0 {
		t.Fatalf("exit code %d:\n%s", code, stderr)
	}
	var got struct {
		ID        string `json:"id"`
		EventType string `json:"event_type"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got != ev {
		t.Errorf("events get printed %q (%v), want the event %+v", stdout, err, ev)
	}
}
