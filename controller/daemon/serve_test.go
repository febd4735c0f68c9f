package daemon

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/controller/api"
)

// pki makes a CA and certificates it signs, as PEM files in dir.
type pki struct {
	t    *testing.T
	dir  string
	ca   *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newPKI(t *testing.T) *pki {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loom test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &pki{t: t, dir: t.TempDir(), ca: ca, key: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.write("ca.pem", "CERTIFICATE", der)
	return p
}

func (p *pki) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue returns the certificate and key files of a new leaf.
func (p *pki) issue(name string, usage x509.ExtKeyUsage) (cert, key string) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &k.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(k)
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", kd)
}

func TestServeMutualTLS(t *testing.T) {
	p := newPKI(t)
	srvCert, srvKey := p.issue("loomd", x509.ExtKeyUsageServerAuth)
	cliCert, cliKey := p.issue("operator", x509.ExtKeyUsageClientAuth)
	other := newPKI(t) // a CA loomd does not trust
	badCert, badKey := other.issue("intruder", x509.ExtKeyUsageClientAuth)

	d, err := New(Config{Log: zaptest.NewLogger(t), StateDir: t.TempDir(), Auth: Auth{Token: token, ClientCerts: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := Listen{Addr: "127.0.0.1:0", CertFile: srvCert, KeyFile: srvKey, ClientCAFile: filepath.Join(p.dir, "ca.pem")}
	srv, addr, err := Serve(l, d.Handler(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	client := func(cert, key, tok string) *api.Client {
		tc := &tls.Config{RootCAs: p.pool}
		if cert != "" {
			kp, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{kp}
		}
		return &api.Client{Server: "https://" + addr.String(), Token: tok, TLS: tc}
	}
	ctx := context.Background()
	if _, err := client(cliCert, cliKey, "").Status(ctx); err != nil {
		t.Errorf("with a client certificate of the trusted CA: %v", err)
	}
	if _, err := client("", "", token).Status(ctx); err != nil {
		t.Errorf("with the token and no certificate: %v", err)
	}
	if _, err := client("", "", "").Status(ctx); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("with neither: %v", err)
	}
	if _, err := client(badCert, badKey, "").Status(ctx); err == nil {
		t.Error("a certificate of another CA was accepted")
	}
}

func TestCheckAuth(t *testing.T) {
	for _, c := range []struct {
		addr string
		auth Auth
		ok   bool
	}{
		{"127.0.0.1:9477", Auth{}, true},
		{"[::1]:9477", Auth{}, true},
		{"localhost:9477", Auth{}, true},
		{"0.0.0.0:9477", Auth{}, false},
		{"10.0.0.5:9477", Auth{}, false},
		{"10.0.0.5:9477", Auth{Token: token}, false}, // the token would cross the network in clear
		{"10.0.0.5:9477", Auth{ClientCerts: true}, true},
		{"127.0.0.1:9477", Auth{Token: token}, true},
		{"localhost:9477", Auth{Token: token}, true},
	} {
		err := Listen{Addr: c.addr}.CheckAuth(c.auth)
		if (err == nil) != c.ok {
			t.Errorf("%s %+v: %v", c.addr, c.auth, err)
		}
	}
	// Over HTTPS, a token is fine off loopback.
	if err := (Listen{Addr: "10.0.0.5:9477", CertFile: "c.pem", KeyFile: "k.pem"}).CheckAuth(Auth{Token: token}); err != nil {
		t.Errorf("token over HTTPS: %v", err)
	}
	err := Listen{Addr: "0.0.0.0:9477"}.CheckAuth(Auth{Token: token})
	if err == nil || !strings.Contains(err.Error(), "in clear") || !strings.Contains(err.Error(), "api-cert") {
		t.Errorf("token over plain HTTP off loopback: %v", err)
	}
}
