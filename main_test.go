package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/internal/testutil"
	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

const (
	e2eKey    = "e2ekey01"
	e2eSecret = "e2e-secret-must-not-leak"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vonage-audit-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "vonage_audit_exporter")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the exporter: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// exporterProcess is the built binary, running on a loopback port.
type exporterProcess struct {
	addr   string
	cmd    *exec.Cmd
	stderr *testutil.SyncBuffer
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startExporter(t *testing.T, env []string, args ...string) *exporterProcess {
	t.Helper()
	p := &exporterProcess{addr: freeAddr(t), stderr: &testutil.SyncBuffer{}}
	p.cmd = exec.Command(binary, append([]string{"--web.listen-address=" + p.addr, "--log.level=debug"}, args...)...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
			t.Error("the exporter did not stop within 10s of SIGINT")
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", p.stderr.String())
		}
	})
	return p
}

func (p *exporterProcess) scrape(t *testing.T) (string, map[string]*dto) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.addr+"/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body), parseExposition(t, body)
}

type dto = map[string]float64

// parseExposition maps family name to "label=value,..." (account dropped) to value.
func parseExposition(t *testing.T, body []byte) map[string]*dto {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	out := map[string]*dto{}
	for name, mf := range mfs {
		m := dto{}
		for _, metric := range mf.GetMetric() {
			var parts []string
			for _, lp := range metric.GetLabel() {
				if lp.GetName() != "account" {
					parts = append(parts, lp.GetValue())
				}
			}
			m[strings.Join(parts, "|")] = metric.GetCounter().GetValue() + metric.GetGauge().GetValue()
		}
		out[name] = &m
	}
	return out
}

func tally(events []simulator.Event) dto {
	m := dto{}
	for _, e := range events {
		m[e.EventType+"|"+e.Source]++
	}
	return m
}

func equalNonZero(got, want dto) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	for k, v := range got {
		if v != 0 && want[k] != v {
			return false
		}
	}
	return true
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte(e2eSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(body, "SECRET_FILE", secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestConfigCheck(t *testing.T) {
	good := writeConfig(t, `
accounts:
  - name: prod
    api_key: abcd1234
    api_secret_file: SECRET_FILE
`)
	out, err := exec.Command(binary, "--config.file="+good, "--config.check").CombinedOutput()
	if err != nil {
		t.Fatalf("--config.check on a good config: %v\n%s", err, out)
	}
	if strings.Contains(string(out), e2eSecret) {
		t.Errorf("--config.check printed the secret:\n%s", out)
	}
	if !strings.Contains(string(out), "prod") {
		t.Errorf("--config.check did not print the config:\n%s", out)
	}

	bad := writeConfig(t, `
poll_intervall: 1m
accounts:
  - name: prod
    api_key: abcd1234
    api_secret_file: SECRET_FILE
`)
	out, err = exec.Command(binary, "--config.file="+bad, "--config.check").CombinedOutput()
	if err == nil {
		t.Fatalf("--config.check accepted an unknown key:\n%s", out)
	}
	if !strings.Contains(string(out), "poll_intervall") {
		t.Errorf("the error does not name the unknown key:\n%s", out)
	}
}

func TestNoCredentialsSaysHowToConfigure(t *testing.T) {
	cmd := exec.Command(binary, "--web.listen-address="+freeAddr(t))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("started without credentials:\n%s", out)
	}
	if !strings.Contains(string(out), "VONAGE_API_KEY") {
		t.Errorf("the error does not say how to configure credentials:\n%s", out)
	}
}

// The top-level --help, which a new user reads first, lists the flags of
// serve, the default command; serve's own help still does.
func TestHelpListsServeFlags(t *testing.T) {
	flags := []string{"web.listen-address", "web.config.file", "web.telemetry-path", "web.enable-lifecycle",
		"web.enable-pprof", "web.systemd-socket", "config.check", "scrape.timeout-offset"}
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}} {
		out, err := exec.Command(binary, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		for _, f := range flags {
			// Boolean flags read --[no-]name.
			if !regexp.MustCompile(`(--|\])` + regexp.QuoteMeta(f) + `\b`).Match(out) {
				t.Errorf("%v does not list --%s:\n%s", args, f, out)
			}
		}
	}
}

// A binary built without -ldflags still says what it is.
func TestVersionWithoutLdflags(t *testing.T) {
	out, err := exec.Command(binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	if !regexp.MustCompile(`^vonage_audit_exporter, version \S+ \(`).Match(out) {
		t.Errorf("--version names no version:\n%s", out)
	}
}
