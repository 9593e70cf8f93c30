package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// --web.config.file serves /metrics over TLS behind basic auth, end to end
// with the built binary.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	const user, password = "prometheus", "correct horse battery staple"
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webConfig := writeFile(t, dir, "web.yml", fmt.Sprintf(`
tls_server_config:
  cert_file: %s
  key_file: %s
basic_auth_users:
  %s: %s
`, certFile, keyFile, user, hash))
	p := startExporter(t, nil, "--demo", "--web.config.file="+webConfig)

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	get := func(scheme string, auth func(*http.Request)) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, scheme+"://"+p.addr+"/metrics", nil)
		if err != nil {
			return 0, "", err
		}
		auth(req)
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	noAuth := func(*http.Request) {}
	var code int
	for range 100 {
		if code, _, err = get("https", noAuth); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("the exporter never answered over TLS: %v", err)
	}
	if code != http.StatusUnauthorized {
		t.Errorf("without credentials: HTTP %d, want 401", code)
	}
	if code, _, err := get("https", func(r *http.Request) { r.SetBasicAuth(user, "wrong") }); err != nil || code != http.StatusUnauthorized {
		t.Errorf("with a wrong password: HTTP %d (%v), want 401", code, err)
	}
	code, body, err := get("https", func(r *http.Request) { r.SetBasicAuth(user, password) })
	if err != nil || code != http.StatusOK {
		t.Fatalf("with credentials: HTTP %d (%v), want 200", code, err)
	}
	if !strings.Contains(body, "vonage_audit_up") {
		t.Errorf("with credentials: no vonage_audit_up in /metrics:\n%s", body)
	}
	if code, _, err := get("http", func(r *http.Request) { r.SetBasicAuth(user, password) }); err == nil && code == http.StatusOK {
		t.Error("plain HTTP served /metrics")
	}
	if strings.Contains(p.stderr.String(), password) {
		t.Error("the log shows the basic auth password")
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return request(t, http.MethodGet, url)
}

func request(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Every link of the landing page answers 200, with and without the
// profiles; the profiles are served only with --web.enable-pprof.
func TestLandingPageLinksAnswer200(t *testing.T) {
	for _, tc := range []struct {
		name      string
		args      []string
		wantLinks []string
	}{
		{
			name:      "default",
			args:      []string{"--demo"},
			wantLinks: []string{"/metrics", "/-/healthy", "/-/ready"},
		},
		{
			name:      "serve named, with pprof",
			args:      []string{"serve", "--demo", "--web.enable-pprof"},
			wantLinks: []string{"/metrics", "/-/healthy", "/-/ready", "/debug/pprof/"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startExporter(t, nil, tc.args...)
			base := "http://" + p.addr
			waitForReady(t, base)

			code, page := get(t, base+"/")
			if code != http.StatusOK {
				t.Fatalf("GET /: HTTP %d", code)
			}
			var links []string
			for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
				links = append(links, m[1])
			}
			if !slices.Equal(links, tc.wantLinks) {
				t.Errorf("links %q, want %q", links, tc.wantLinks)
			}
			for _, link := range links {
				if code, body := get(t, base+link); code != http.StatusOK {
					t.Errorf("GET %s: HTTP %d %q", link, code, body)
				}
			}
			if !slices.Contains(tc.wantLinks, "/debug/pprof/") {
				if code, _ := get(t, base+"/debug/pprof/"); code != http.StatusNotFound {
					t.Errorf("GET /debug/pprof/ without --web.enable-pprof: HTTP %d, want 404", code)
				}
			}
		})
	}
}

// waitForReady waits, at most 20 seconds, for /-/ready to answer 200, as a
// Kubernetes readiness probe does.
func waitForReady(t *testing.T, base string) {
	t.Helper()
	for range 100 {
		if resp, err := http.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("/-/ready never answered 200")
}

func TestHealthAndReadiness(t *testing.T) {
	for _, tc := range []struct {
		name     string
		method   string
		path     string
		ready    bool
		wantCode int
		wantBody string
	}{
		{"healthy", http.MethodGet, "/-/healthy", false, http.StatusOK, "Vonage Audit Exporter is Healthy.\n"},
		{"healthy HEAD", http.MethodHead, "/-/healthy", false, http.StatusOK, ""},
		{"healthy POST", http.MethodPost, "/-/healthy", true, http.StatusMethodNotAllowed, "Method Not Allowed\n"},
		{"ready", http.MethodGet, "/-/ready", true, http.StatusOK, "Vonage Audit Exporter is Ready.\n"},
		{"not ready", http.MethodGet, "/-/ready", false, http.StatusServiceUnavailable, "Vonage Audit Exporter is not ready: waiting for the first poll of every account.\n"},
		{"ready HEAD", http.MethodHead, "/-/ready", true, http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mux, err := newMux(serveOptions{metricsPath: "/metrics"}, http.NotFoundHandler(), func() bool { return tc.ready }, func() error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(mux)
			defer srv.Close()
			if code, body := request(t, tc.method, srv.URL+tc.path); code != tc.wantCode || body != tc.wantBody {
				t.Errorf("%s %s: HTTP %d %q, want %d %q", tc.method, tc.path, code, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}

// Keep-alive connections left idle after a scrape are closed by the server
// within its idle timeout.
func TestIdleConnectionsAreClosed(t *testing.T) {
	const conns, idle = 200, 300 * time.Millisecond
	mux, err := newMux(serveOptions{metricsPath: "/metrics"}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "vonage_audit_up 1\n")
	}), func() bool { return true }, func() error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(mux, idle)
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()

	opened := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range opened {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, c)
		if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("scrape: HTTP %d, connection closed %v; want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
	}
	idleSince := time.Now()
	// Slack for a loaded machine: an idle connection is closed when its
	// timer fires, at most idle after the last scrape.
	bound := idleSince.Add(idle + 5*time.Second)
	for i, c := range opened {
		if err := c.SetReadDeadline(bound); err != nil {
			t.Fatal(err)
		}
		if n, err := c.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
			t.Fatalf("connection %d: read %d bytes, %v; want the server to close it within its idle timeout (EOF)", i, n, err)
		}
	}
	// The last connection scraped closes no sooner than the idle timeout.
	if waited := time.Since(idleSince); waited < idle/2 {
		t.Errorf("the idle connections were closed after %v, well before the idle timeout of %v", waited, idle)
	}
}
