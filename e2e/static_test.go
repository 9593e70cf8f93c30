package e2e

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"debug/elf"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

// No Docker engine runs here, so the Dockerfile is checked by reading it and
// by running what it runs: its build command for two architectures, and the
// image's command on the binary that build made.

// instruction is one Dockerfile instruction, its continuation lines joined.
type instruction struct {
	stage int    // 0 for the first FROM's stage
	cmd   string // upper case: FROM, RUN, ...
	args  string
}

// dockerfile is the repository's Dockerfile, read as Docker reads it:
// comment lines dropped, also inside an instruction continued by '\'.
type dockerfile []instruction

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatalf("reading the Dockerfile: %v", err)
	}
	defer f.Close()
	var (
		df      dockerfile
		stage   = -1
		pending strings.Builder
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(cont + " ")
			continue
		}
		pending.WriteString(line)
		cmd, args, _ := strings.Cut(pending.String(), " ")
		pending.Reset()
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		df = append(df, instruction{stage: stage, cmd: cmd, args: strings.TrimSpace(args)})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading the Dockerfile: %v", err)
	}
	return df
}

// of returns the arguments of every instruction cmd in stage (-1: any).
func (df dockerfile) of(stage int, cmd string) []string {
	var out []string
	for _, in := range df {
		if in.cmd == cmd && (stage < 0 || in.stage == stage) {
			out = append(out, in.args)
		}
	}
	return out
}

func (df dockerfile) lastStage() int { return df[len(df)-1].stage }

// buildEnv is what a RUN of stage sees: its ARGs, with their defaults
// unless given, and its ENVs, as NAME=value.
func (df dockerfile) buildEnv(stage int, given map[string]string) []string {
	var env []string
	for _, args := range df.of(stage, "ARG") {
		for a := range strings.FieldsSeq(args) {
			name, def, _ := strings.Cut(a, "=")
			if v, ok := given[name]; ok {
				def = v
			}
			env = append(env, name+"="+def)
		}
	}
	return append(env, df.imageEnv(stage)...)
}

// imageEnv is what the stage's image runs with: its ENVs alone, not its
// ARGs. ENV NAME=value ... and the older ENV NAME value are read; values
// with spaces are not.
func (df dockerfile) imageEnv(stage int) []string {
	var env []string
	for _, args := range df.of(stage, "ENV") {
		if name, value, ok := strings.Cut(args, " "); ok && !strings.Contains(name, "=") {
			env = append(env, name+"="+value)
			continue
		}
		for pair := range strings.FieldsSeq(args) {
			name, value, _ := strings.Cut(pair, "=")
			env = append(env, name+"="+strings.Trim(value, `"`))
		}
	}
	return env
}

// execForm decodes ENTRYPOINT and CMD's JSON form.
func execForm(t *testing.T, what, args string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(args), &out); err != nil {
		t.Fatalf("%s %s: want the exec form, a JSON array: %v", what, args, err)
	}
	return out
}

// The Dockerfile cross-builds a static binary from a stage that runs on the
// builder's platform, runs it as a non-root user in a minimal image, and
// exposes the port that the compose Prometheus scrapes.
func TestDockerfile(t *testing.T) {
	df := readDockerfile(t)
	froms := df.of(-1, "FROM")
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got FROM lines %v", froms)
	}
	if !strings.HasPrefix(froms[0], "--platform=$BUILDPLATFORM ") {
		t.Errorf("the build stage should run on the builder's platform (FROM --platform=$BUILDPLATFORM): FROM %s", froms[0])
	}
	final := strings.Fields(froms[len(froms)-1])[0]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") || !strings.HasSuffix(final, ":nonroot") {
		t.Errorf("final image %s: want distroless static, nonroot", final)
	}
	builds := buildCommands(t, df)
	for _, want := range []string{
		"CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build",
		"-X " + versionPkg + ".Version=${VERSION}",
		"-X " + versionPkg + ".Revision=${REVISION}",
	} {
		if !strings.Contains(builds[0], want) {
			t.Errorf("the Dockerfile's go build lacks %q", want)
		}
	}
	if users := df.of(df.lastStage(), "USER"); !slices.Equal(users, []string{"65532:65532"}) {
		t.Errorf("the image should run as the nonroot user: USER %v", users)
	}
	if exposed := df.of(df.lastStage(), "EXPOSE"); !slices.Equal(exposed, []string{"9887"}) {
		t.Errorf("the Dockerfile should EXPOSE 9887, the exporter's default port: %v", exposed)
	}
}

// buildCommands are the build stage's RUN lines that run go build.
func buildCommands(t *testing.T, df dockerfile) []string {
	t.Helper()
	var runs []string
	for _, r := range df.of(0, "RUN") {
		if strings.Contains(r, "go build") {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		t.Fatal("the Dockerfile's build stage runs no go build")
	}
	return runs
}

// outDir is where the build stage puts what the final stage copies; the
// test builds into a folder of its own instead.
const outDir = "/out/"

// The image's build, for two architectures, makes static binaries of the
// right architecture; the amd64 one, run as the image runs it with only
// VONAGE_API_KEY and VONAGE_API_SECRET set, serves /metrics with the account
// up. Two things differ from a container: the exporter listens on a loopback
// port of the test's (docker run -p maps 9887), and HTTPS_PROXY and
// SSL_CERT_FILE, read by Go's HTTP client and TLS, send the image's default
// API URL, https://api.nexmo.com/beta/audit, to a simulator on loopback.
func TestDockerfileBuildAndDefaultCommand(t *testing.T) {
	df := readDockerfile(t)
	builds := buildCommands(t, df)
	out := map[string]string{}
	for _, arch := range []struct {
		name    string
		machine elf.Machine
	}{{"amd64", elf.EM_X86_64}, {"arm64", elf.EM_AARCH64}} {
		dir := t.TempDir()
		env := append(os.Environ(), df.buildEnv(0, map[string]string{"TARGETOS": "linux", "TARGETARCH": arch.name})...)
		for _, run := range builds {
			cmd := exec.Command("sh", "-ec", strings.ReplaceAll(run, outDir, dir+"/"))
			cmd.Dir = ".."
			cmd.Env = env
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the Dockerfile's build for %s: %v\n%s", arch.name, err, b)
			}
		}
		out[arch.name] = dir
		checkStaticELF(t, filepath.Join(dir, "vonage_audit_exporter"), arch.machine)
	}

	final := df.lastStage()
	entrypoint := execForm(t, "ENTRYPOINT", lastOf(t, df.of(final, "ENTRYPOINT")))
	var args []string
	if cmds := df.of(final, "CMD"); len(cmds) > 0 {
		args = execForm(t, "CMD", cmds[len(cmds)-1])
	}
	binary := builtFile(t, df, out["amd64"], entrypoint[0])

	api := newFakeNexmo(t)
	addr := freeAddr(t)
	p := startProcessEnv(t, "the image's command",
		append(df.imageEnv(final),
			"VONAGE_API_KEY="+apiKey,
			"VONAGE_API_SECRET="+apiSecret,
			"HTTPS_PROXY="+api.proxyURL,
			"SSL_CERT_FILE="+api.caFile,
		),
		binary, slices.Concat(entrypoint[1:], args, []string{"--web.listen-address=" + addr})...)
	p.waitReady(t, "http://"+addr+"/metrics", maxWait)
	want := `vonage_audit_up{account="default"} 1`
	waitFor(t, want, maxWait, func() (bool, string) {
		body := scrape(t, addr)
		return strings.Contains(body, want), grepLines(body, "vonage_audit_up")
	})
	body := scrape(t, addr)
	if !strings.Contains(body, `version="dev"`) {
		t.Errorf("build_info should carry the Dockerfile's default VERSION, dev: %s", grepLines(body, "build_info"))
	}
	if strings.Contains(body, apiSecret) || strings.Contains(p.out.String(), apiSecret) {
		t.Error("the API secret appeared in /metrics or the log")
	}
	if hosts := api.connected(); !slices.Equal(slices.Compact(hosts), []string{"api.nexmo.com:443"}) {
		t.Errorf("the exporter should reach the default API URL's host alone, through the proxy: %v", hosts)
	}
}

func lastOf(t *testing.T, s []string) string {
	t.Helper()
	if len(s) == 0 {
		t.Fatal("the Dockerfile's final stage has no ENTRYPOINT")
	}
	return s[len(s)-1]
}

// builtFile is the file that the final stage copies from the build stage to
// dst, in out, where the test's build put the build stage's /out.
func builtFile(t *testing.T, df dockerfile, out, dst string) string {
	t.Helper()
	for _, c := range df.of(df.lastStage(), "COPY") {
		f := strings.Fields(c)
		if len(f) >= 3 && f[0] == "--from=build" && f[len(f)-1] == dst {
			src, ok := strings.CutPrefix(f[len(f)-2], outDir)
			if !ok {
				t.Fatalf("COPY %s: want a source under %s", c, outDir)
			}
			return filepath.Join(out, src)
		}
	}
	t.Fatalf("no COPY --from=build puts %s in the image", dst)
	return ""
}

// checkStaticELF checks path is a static binary for machine: the final
// image has no C library and no dynamic loader.
func checkStaticELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("reading the built binary: %v", err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s is built for %v, want %v", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s asks for a dynamic loader (PT_INTERP)", path)
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatalf("reading the imported libraries of %s: %v", path, err)
	}
	if len(libs) > 0 {
		t.Errorf("%s links shared libraries: %v", path, libs)
	}
}

func grepLines(body, substr string) string {
	var lines []string
	for l := range strings.SplitSeq(body, "\n") {
		if strings.Contains(l, substr) && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

var connectRE = regexp.MustCompile(`^[a-z0-9.-]+:443$`)

// fakeNexmo is the Audit API simulator served over TLS as api.nexmo.com,
// with a certificate of a CA of its own, reached through an HTTP CONNECT
// proxy: a client that trusts the CA (SSL_CERT_FILE) and uses the proxy
// (HTTPS_PROXY) reaches it at the real API's URL.
type fakeNexmo struct {
	proxyURL string
	caFile   string

	mu    sync.Mutex
	hosts []string // the CONNECT targets asked for
}

func newFakeNexmo(t *testing.T) *fakeNexmo {
	t.Helper()
	sim := simulator.New(simulator.Options{APIKey: apiKey, APISecret: apiSecret, BasePath: "/beta/audit", Seed: 7})
	now := time.Now()
	sim.Generate(20, now.Add(-10*time.Minute), now)
	caCert, caKey := newCert(t, nil, nil, "fake CA")
	leaf, leafKey := newCert(t, caCert, caKey, "api.nexmo.com")
	api := httptest.NewUnstartedServer(sim)
	api.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leaf.Raw}, PrivateKey: leafKey}}}
	api.StartTLS()
	t.Cleanup(api.Close)

	f := &fakeNexmo{caFile: filepath.Join(t.TempDir(), "ca.pem")}
	if err := os.WriteFile(f.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hosts = append(f.hosts, r.Host)
		f.mu.Unlock()
		if r.Method != http.MethodConnect || !connectRE.MatchString(r.Host) {
			http.Error(w, "CONNECT host:443 only", http.StatusMethodNotAllowed)
			return
		}
		upstream, err := net.Dial("tcp", api.Listener.Addr().String())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		client, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		_, _ = io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n")
		go pipe(upstream, client)
		go pipe(client, upstream)
	}))
	t.Cleanup(proxy.Close)
	f.proxyURL = proxy.URL
	return f
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

func (f *fakeNexmo) connected() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.hosts)
}

// newCert makes a certificate for name, signed by parent (self-signed, a
// CA, when parent is nil).
func newCert(t *testing.T, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
		parent, parentKey = tmpl, key
	} else {
		tmpl.DNSNames = []string{name}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
