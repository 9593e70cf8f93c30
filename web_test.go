package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
