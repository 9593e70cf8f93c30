// Package packaging holds the files that the .deb and .rpm packages install
// (nfpm.yaml says where each goes); its test builds the amd64 .deb as
// `make release` does and reads what is in it.
package packaging

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/config"
)

const (
	unitPath    = "/usr/lib/systemd/system/vonage_audit_exporter.service"
	binaryPath  = "/usr/bin/vonage_audit_exporter"
	envPath     = "/etc/default/vonage_audit_exporter"
	configPath  = "/etc/vonage_audit_exporter/config.yml"
	credentials = "/run/credentials/vonage_audit_exporter.service/"
)

// tool finds a program the test runs; missing, it skips the test on a
// developer's machine and fails it in CI, where .ci/run is on Debian.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed", name)
	}
	t.Skipf("%s is not installed; CI runs this test", name)
	return ""
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The amd64 .deb installs a static binary, the hardened unit, and the
// environment and config files as conffiles that an upgrade keeps.
func TestDeb(t *testing.T) {
	dpkgDeb := tool(t, "dpkg-deb")
	makeCmd := tool(t, "make")
	dist := t.TempDir()
	run(t, "..", makeCmd, "--no-print-directory", "packages", "ARCH=amd64", "PACKAGERS=deb", "VERSION=v1.2.3", "DIST="+dist)
	deb := filepath.Join(dist, "vonage_audit_exporter_1.2.3_amd64.deb")

	control := run(t, "", dpkgDeb, "--field", deb, "Package", "Version", "Architecture")
	if want := "Package: vonage_audit_exporter\nVersion: 1.2.3\nArchitecture: amd64\n"; control != want {
		t.Errorf("control fields:\n%s\nwant:\n%s", control, want)
	}
	conffiles := strings.Fields(run(t, "", dpkgDeb, "--info", deb, "conffiles"))
	slices.Sort(conffiles)
	if want := []string{envPath, configPath}; !slices.Equal(conffiles, want) {
		t.Errorf("conffiles %v, want %v", conffiles, want)
	}

	modes := map[string]string{} // path in the package: its ls-style mode
	for line := range strings.Lines(run(t, "", dpkgDeb, "--contents", deb)) {
		f := strings.Fields(line)
		if len(f) >= 6 {
			modes[strings.TrimPrefix(f[5], ".")] = f[0] + " " + f[1]
		}
	}
	for path, want := range map[string]string{
		binaryPath: "-rwxr-xr-x root/root",
		unitPath:   "-rw-r--r-- root/root",
		envPath:    "-rw-r----- root/root",
		configPath: "-rw-r--r-- root/root",
		"/usr/share/vonage_audit_exporter/alerts/vonage-audit.rules.yml":         "-rw-r--r-- root/root",
		"/usr/share/doc/vonage_audit_exporter/LICENSE":                           "-rw-r--r-- root/root",
		"/usr/share/doc/vonage_audit_exporter/config.example.yml":                "-rw-r--r-- root/root",
		"/usr/share/vonage_audit_exporter/dashboards/vonage-audit-overview.json": "-rw-r--r-- root/root",
	} {
		if got := modes[path]; got != want {
			t.Errorf("%s: %q, want %q", path, got, want)
		}
	}

	root := t.TempDir()
	run(t, "", dpkgDeb, "--extract", deb, root)
	checkStaticAMD64(t, filepath.Join(root, binaryPath))
	checkUnit(t, root)
	checkConfig(t, filepath.Join(root, configPath))
	checkEnvFile(t, filepath.Join(root, envPath))
}

func checkStaticAMD64(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("reading the packaged binary: %v", err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("the packaged binary is built for %v, want EM_X86_64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the packaged binary asks for a dynamic loader (PT_INTERP)")
		}
	}
}

// hardening is what the unit must say; more is fine.
var hardening = []string{
	"ExecStart=" + binaryPath + " $ARGS",
	"ExecReload=/bin/kill -HUP $MAINPID",
	"EnvironmentFile=" + envPath,
	"DynamicUser=yes",
	"StateDirectory=vonage_audit_exporter",
	"NoNewPrivileges=yes",
	"CapabilityBoundingSet=",
	"ProtectSystem=strict",
	"ProtectHome=yes",
	"PrivateTmp=yes",
	"PrivateDevices=yes",
	"ProtectKernelTunables=yes",
	"ProtectKernelModules=yes",
	"ProtectKernelLogs=yes",
	"ProtectControlGroups=yes",
	"RestrictAddressFamilies=AF_INET AF_INET6",
	"RestrictNamespaces=yes",
	"LockPersonality=yes",
	"MemoryDenyWriteExecute=yes",
	"SystemCallFilter=@system-service",
}

// checkUnit reads the [Service] section of the packaged unit, and has
// systemd-analyze verify it where systemd is installed.
func checkUnit(t *testing.T, root string) {
	t.Helper()
	path := filepath.Join(root, unitPath)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reading the packaged unit: %v", err)
	}
	defer f.Close()
	var service []string
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]" && line != "" && !strings.HasPrefix(line, "#"):
			service = append(service, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range hardening {
		if !slices.Contains(service, want) {
			t.Errorf("the unit's [Service] lacks %q", want)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified")
		return
	}
	// verify checks that ExecStart's program exists: point it at the
	// extracted one.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "vonage_audit_exporter.service")
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(data), "ExecStart="+binaryPath, "ExecStart="+filepath.Join(root, binaryPath))), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", local).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// checkConfig loads the packaged config as the service would, with the
// state folder and the credential that systemd provides made here.
func checkConfig(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "default"), []byte("a-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer(credentials, dir+"/", "/var/lib/vonage_audit_exporter/", dir+"/").Replace(string(data))
	if body == string(data) {
		t.Fatalf("the packaged config names neither %s nor the state folder", credentials)
	}
	local := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(local, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(local)
	if err != nil {
		t.Fatalf("the packaged config does not load: %v", err)
	}
	if want := filepath.Join(dir, "state.json"); cfg.StateFile != want {
		t.Errorf("state_file %q, want %q", cfg.StateFile, want)
	}
}

var envLineRE = regexp.MustCompile(`(?m)^([A-Z_]+)=`)

// The environment file sets the variables the exporter reads when it has
// no config file, and the ARGS that the unit's ExecStart passes.
func checkEnvFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range envLineRE.FindAllStringSubmatch(string(data), -1) {
		names = append(names, m[1])
	}
	if want := []string{"VONAGE_API_KEY", "VONAGE_API_SECRET", "ARGS"}; !slices.Equal(names, want) {
		t.Errorf("the environment file sets %v, want %v", names, want)
	}
}
