package ovsdb

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// testCA is a CA in the manner of ovs-pki: it signs certificates whose only
// name is a DNS name (no IP SAN), without extended key usage.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	serial int64
	dir    string
	name   string
}

func newTestCA(t *testing.T, dir, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{Organization: []string{"Loom test"}, CommonName: name + " CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, serial: 1, dir: dir, name: name}
	writePEM(t, ca.CertFile(), "CERTIFICATE", der)
	return ca
}

func (ca *testCA) CertFile() string { return filepath.Join(ca.dir, ca.name+"-cacert.pem") }

// issue makes NAME-privkey.pem and NAME-cert.pem signed by the CA and
// returns their paths.
func (ca *testCA) issue(t *testing.T, name string) (keyFile, certFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{Organization: []string{"Loom test"}, CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile = filepath.Join(ca.dir, name+"-privkey.pem")
	certFile = filepath.Join(ca.dir, name+"-cert.pem")
	writePEM(t, keyFile, "PRIVATE KEY", pkcs8)
	writePEM(t, certFile, "CERTIFICATE", der)
	return keyFile, certFile
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// pki is a switch CA and a controller CA with a switch and a controller
// certificate, as `ovs-pki init` and `req+sign` make them.
type pki struct {
	switchCA, ctlCA             *testCA
	swKey, swCert, ctlKey, ctlC string
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	p := &pki{switchCA: newTestCA(t, dir, "switchca"), ctlCA: newTestCA(t, dir, "controllerca")}
	p.swKey, p.swCert = p.switchCA.issue(t, "h1")
	p.ctlKey, p.ctlC = p.ctlCA.issue(t, "ctl")
	return p
}

func TestLoadTLSErrors(t *testing.T) {
	dir := t.TempDir()
	p := newPKI(t, dir)
	other := newPKI(t, t.TempDir())
	empty := filepath.Join(dir, "empty.pem")
	os.WriteFile(empty, nil, 0o600)
	missing := filepath.Join(dir, "missing.pem")
	keyPEM, _ := os.ReadFile(p.ctlKey)
	keyBody := strings.Split(string(keyPEM), "\n")[1]

	for _, tc := range []struct {
		name             string
		key, cert, ca    string
		want1, want2     string // in the error
		wantNotTheFileOf string
	}{
		{"no key", "", p.ctlC, p.switchCA.CertFile(), "all needed", "", ""},
		{"no CA", p.ctlKey, p.ctlC, "", "all needed", "", ""},
		{"missing key", missing, p.ctlC, p.switchCA.CertFile(), "private key", missing, ""},
		{"missing certificate", p.ctlKey, missing, p.switchCA.CertFile(), "certificate", missing, ""},
		{"missing CA", p.ctlKey, p.ctlC, missing, "CA certificate", missing, ""},
		{"empty key", empty, p.ctlC, p.switchCA.CertFile(), "private key", "empty", ""},
		{"key of another certificate", other.ctlKey, p.ctlC, p.switchCA.CertFile(), "does not match", other.ctlKey, other.ctlKey},
		{"key given as certificate", p.ctlKey, p.ctlKey, p.switchCA.CertFile(), p.ctlKey, "", p.ctlKey},
		{"certificate given as key", p.ctlC, p.ctlC, p.switchCA.CertFile(), p.ctlC, "", ""},
		{"key given as CA", p.ctlKey, p.ctlC, p.ctlKey, "CA certificate", "no PEM certificate", p.ctlKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadTLS(tc.key, tc.cert, tc.ca)
			if err == nil {
				t.Fatal("LoadTLS succeeded")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want1) || !strings.Contains(msg, tc.want2) {
				t.Errorf("error %q, want it to mention %q and %q", msg, tc.want1, tc.want2)
			}
			// Key material never appears in an error.
			if strings.Contains(msg, "BEGIN") || strings.Contains(msg, keyBody[:16]) {
				t.Errorf("error shows file contents: %q", msg)
			}
			if tc.wantNotTheFileOf != "" {
				b, _ := os.ReadFile(tc.wantNotTheFileOf)
				if line := strings.Split(string(b), "\n")[1]; strings.Contains(msg, line[:16]) {
					t.Errorf("error shows the contents of %s: %q", tc.wantNotTheFileOf, msg)
				}
			}
		})
	}
	if _, err := LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile()); err != nil {
		t.Fatalf("LoadTLS of good files: %v", err)
	}
}

// tlsServer accepts TLS connections on 127.0.0.1 with the switch's
// certificate (no IP SAN), requires a client certificate signed by clientCA,
// and reports each handshake's result.
func tlsServer(t *testing.T, p *pki, clientCA *testCA) (addr string, results <-chan error) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.swCert, p.swKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan error, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			err = c.(*tls.Conn).Handshake()
			if err == nil && len(c.(*tls.Conn).ConnectionState().PeerCertificates) == 0 {
				err = fmt.Errorf("no client certificate")
			}
			ch <- err
			c.Close()
		}
	}()
	return ln.Addr().String(), ch
}

// TestLoadTLSHandshake: the chain is checked against the CA, not the
// dialled IP (which the certificate does not name), and the client
// certificate is presented.
func TestLoadTLSHandshake(t *testing.T) {
	p := newPKI(t, t.TempDir())
	other := newPKI(t, t.TempDir())
	addr, results := tlsServer(t, p, p.ctlCA)

	handshake := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Handshake()
	}

	cfg, err := LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(cfg); err != nil {
		t.Fatalf("handshake with the right CA: %v", err)
	}
	if err := <-results; err != nil {
		t.Fatalf("server side: %v", err)
	}

	// A CA that did not sign the switch's certificate.
	cfg, err = LoadTLS(p.ctlKey, p.ctlC, other.switchCA.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	err = handshake(cfg)
	if err == nil || !strings.Contains(err.Error(), "unknown authority") || !strings.Contains(err.Error(), `subject "h1"`) {
		t.Fatalf("handshake against the wrong CA: err = %v, want unknown authority", err)
	}
	<-results

	// The verifier on its own: a certificate of the other CA, and none.
	cfg, _ = LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile())
	verify := cfg.VerifyPeerCertificate
	ctlDER, _ := os.ReadFile(p.ctlC)
	blk, _ := pem.Decode(ctlDER)
	if err := verify([][]byte{blk.Bytes}, nil); err == nil {
		t.Error("a certificate of another CA (the controller's) verified against the switch CA")
	}
	if err := verify(nil, nil); err == nil {
		t.Error("no server certificate verified")
	}
}

// TestDialSSL dials a real ovsdb-server over pssl: with certificates that
// name no IP, and checks that wrong certificates fail with clear errors.
func TestDialSSL(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "lmtls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := newPKI(t, dir)
	s := ovsdbtest.StartServerArgs(t, "--remote=pssl:0:127.0.0.1",
		"--private-key="+p.swKey, "--certificate="+p.swCert, "--ca-cert="+p.ctlCA.CertFile())
	addr := fmt.Sprintf("ssl:127.0.0.1:%d", s.ListeningPort(t))
	ctx := ctxT(t)

	cfg, err := LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(ctx, addr, zaptest.NewLogger(t), WithTLS(cfg))
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	if p := plan(t, c, baseSpec()); !p.CreatesBridge {
		t.Errorf("plan over ssl: %v", p)
	}
	c.Close()

	if _, err := Dial(ctx, addr, nil); err == nil || !strings.Contains(err.Error(), "needs a private key") {
		t.Errorf("Dial ssl: without TLS: err = %v", err)
	}

	other := newPKI(t, t.TempDir())
	// We do not trust the server.
	cfg, _ = LoadTLS(p.ctlKey, p.ctlC, other.switchCA.CertFile())
	if _, err := Dial(ctx, addr, nil, WithTLS(cfg)); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("Dial with the wrong CA: err = %v, want unknown authority", err)
	}
	// The server does not trust us: under TLS 1.3 only its alert says so.
	for i := 0; i < 3; i++ {
		cfg, _ = LoadTLS(other.ctlKey, other.ctlC, p.switchCA.CertFile())
		if _, err := Dial(ctx, addr, nil, WithTLS(cfg)); err == nil || !strings.Contains(err.Error(), "refused the TLS session: remote error: tls:") {
			t.Errorf("Dial with a certificate of another CA: err = %v, want the server's refusal", err)
		}
	}
}

// The TLS configuration is only for ssl: addresses.
func TestDialTCPIgnoresTLS(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	p := newPKI(t, t.TempDir())
	cfg, err := LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), s.Addr, nil, WithTLS(cfg))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
