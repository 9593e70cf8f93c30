package e2e

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/dashboards"
)

// No Docker engine runs in CI, so the compose file is checked for what can
// break silently: that it mounts the very files the end-to-end test runs,
// and that the addresses in those files name its services and ports.

type compose struct {
	Services map[string]composeService `yaml:"services"`
}

type composeService struct {
	Build   string   `yaml:"build"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Ports   []string `yaml:"ports"`
	Volumes []string `yaml:"volumes"`
}

// mounts maps a service's container paths to the repository files mounted
// there, relative to the repository root; named volumes are left out.
func (s composeService) mounts(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 {
			t.Fatalf("volume %q has no container path", v)
		}
		if !strings.HasPrefix(parts[0], ".") {
			continue
		}
		out[parts[1]] = filepath.Clean(filepath.Join("examples", parts[0]))
	}
	return out
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("decoding %s: %v", composeFile, err)
	}
	for _, name := range []string{"exporter", "prometheus", "alertmanager", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("%s has no service %q", composeFile, name)
		}
	}
	return c
}

func TestComposeMountsExistingFiles(t *testing.T) {
	c := loadCompose(t)
	for name, s := range c.Services {
		for target, src := range s.mounts(t) {
			if _, err := os.Stat(filepath.Join("..", src)); err != nil {
				t.Errorf("service %s mounts %s at %s, which does not exist: %v", name, src, target, err)
			}
		}
	}
}

// Prometheus and Alertmanager in compose read the files that the end-to-end
// test runs, with the repository's rules where rule_files looks for them.
func TestComposeSharesTheTestedConfig(t *testing.T) {
	c := loadCompose(t)
	prom := c.Services["prometheus"]
	mounts := prom.mounts(t)
	configPath := flagValue(t, prom.Command, "--config.file")
	if got, want := mounts[configPath], filepath.Clean(filepath.Join("e2e", promConfigFile)); got != want {
		t.Errorf("prometheus reads %s, mounted from %q; the end-to-end test runs %s", configPath, got, want)
	}
	cfg := readYAML(t, promConfigFile)
	rules, _ := cfg["rule_files"].([]any)
	for _, r := range rules {
		if got, want := mounts[r.(string)], filepath.Join("alerts", rulesFileName); got != want {
			t.Errorf("rule file %s is mounted from %q, want %s", r, got, want)
		}
	}

	am := c.Services["alertmanager"]
	amPath := flagValue(t, am.Command, "--config.file")
	if got, want := am.mounts(t)[amPath], filepath.Clean(filepath.Join("e2e", amConfigFile)); got != want {
		t.Errorf("alertmanager reads %s, mounted from %q; the end-to-end test runs %s", amPath, got, want)
	}

	// The addresses in prometheus.yml are the compose services.
	am0 := onlyItem(t, onlyItem(t, mapAt(t, cfg, "alerting"), "alertmanagers"), "static_configs")
	checkTargets(t, c, am0["targets"], "alertmanager", "9093")
	job := onlyItem(t, cfg, "scrape_configs")
	checkTargets(t, c, onlyItem(t, job, "static_configs")["targets"], "exporter", "9887")
	if name, _ := job["job_name"].(string); !strings.Contains(name, "vonage") {
		t.Errorf("job %q does not match the job=~\".*vonage.*\" of VonageAuditExporterDown", name)
	}

	exp := c.Services["exporter"]
	if exp.Build != ".." || !slices.Contains(exp.Command, "--demo") {
		t.Errorf("the exporter service should build the repository's Dockerfile and run --demo: build %q, command %v", exp.Build, exp.Command)
	}
}

// Grafana gets the repository's provisioning files and every dashboard,
// and its datasource points at the compose Prometheus with its scrape interval.
func TestComposeProvisionsGrafana(t *testing.T) {
	c := loadCompose(t)
	mounts := c.Services["grafana"].mounts(t)
	var datasource, provider string
	for target, src := range mounts {
		switch {
		case strings.HasPrefix(target, "/etc/grafana/provisioning/datasources/"):
			datasource = src
		case strings.HasPrefix(target, "/etc/grafana/provisioning/dashboards/"):
			provider = src
		}
	}
	if datasource != filepath.Join("dashboards", "provisioning", "datasource.yml") || provider != filepath.Join("dashboards", "provisioning", "dashboards.yml") {
		t.Fatalf("grafana provisioning is mounted from %q and %q, want dashboards/provisioning/", datasource, provider)
	}

	var ds struct {
		Datasources []struct {
			URL      string `yaml:"url"`
			JSONData struct {
				TimeInterval string `yaml:"timeInterval"`
			} `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	decodeFile(t, filepath.Join("..", datasource), &ds)
	if len(ds.Datasources) != 1 {
		t.Fatalf("want one datasource, got %d", len(ds.Datasources))
	}
	u, err := url.Parse(ds.Datasources[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	checkTargets(t, c, []any{u.Host}, "prometheus", "9090")
	global := mapAt(t, readYAML(t, promConfigFile), "global")
	if got := ds.Datasources[0].JSONData.TimeInterval; got != global["scrape_interval"] {
		t.Errorf("the datasource's timeInterval %q differs from Prometheus's scrape_interval %v: $__rate_interval would be wrong", got, global["scrape_interval"])
	}

	var prov struct {
		Providers []struct {
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	decodeFile(t, filepath.Join("..", provider), &prov)
	if len(prov.Providers) != 1 {
		t.Fatalf("want one dashboard provider, got %d", len(prov.Providers))
	}
	files, err := filepath.Glob("../dashboards/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards found: %v", err)
	}
	for _, f := range files {
		target := prov.Providers[0].Options.Path + "/" + filepath.Base(f)
		if mounts[target] != filepath.Join("dashboards", filepath.Base(f)) {
			t.Errorf("dashboard %s is not mounted at %s", filepath.Base(f), target)
		}
		if _, err := dashboards.FS.Open(filepath.Base(f)); err != nil {
			t.Errorf("dashboard %s is not in dashboards.FS, so the end-to-end test does not run it: %v", f, err)
		}
	}
}

func decodeFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
}

func flagValue(t *testing.T, args []string, flag string) string {
	t.Helper()
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s in %v", flag, args)
	return ""
}

// checkTargets checks that targets is one host:port naming service, whose
// port is port.
func checkTargets(t *testing.T, c compose, targets any, service, port string) {
	t.Helper()
	list, _ := targets.([]any)
	if len(list) != 1 {
		t.Errorf("targets %v: want one, the %s service", targets, service)
		return
	}
	host, p, err := net.SplitHostPort(list[0].(string))
	if err != nil || host != service || p != port {
		t.Errorf("target %v: want %s:%s", list[0], service, port)
	}
	if _, ok := c.Services[host]; !ok {
		t.Errorf("target %v names no compose service", list[0])
	}
}
