package controller

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ovsdb"
	"github.com/loom-sdn/loom/topology"
)

// testCerts makes a CA and certificates it signs (PEM files in dir); it
// returns the CA's file and, per name, the certificate and key files and
// the certificate's SHA-256.
func testCerts(t *testing.T, dir string, names ...string) (ca string, certs map[string][3]string) {
	t.Helper()
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = write("ca.pem", "CERTIFICATE", caDER)
	certs = map[string][3]string{}
	for i, n := range names {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: n},
			KeyUsage: x509.KeyUsageDigitalSignature, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalPKCS8PrivateKey(k)
		sum := sha256.Sum256(der)
		certs[n] = [3]string{write(n+"-cert.pem", "CERTIFICATE", der), write(n+"-privkey.pem", "PRIVATE KEY", kd), hex.EncodeToString(sum[:])}
	}
	return ca, certs
}

// VerifyOpenFlow checks the certificate of a pinned host's ssl: OpenFlow
// listener with a handshake of its own, as ovs-ofctl cannot.
func TestVerifyOpenFlow(t *testing.T) {
	ca, certs := testCerts(t, t.TempDir(), "h1", "h2", "ctl")
	pair, err := tls.LoadX509KeyPair(certs["h1"][0], certs["h1"][1])
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var handshakes atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			handshakes.Add(1)
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := closed.Addr().String()
	closed.Close()

	files := TLS{PrivateKey: certs["ctl"][1], Certificate: certs["ctl"][0], CACert: ca}
	at := "ssl:" + ln.Addr().String()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		tls       TLS
		openflow  string
		pin       topology.CertPin
		want      string // in the error; "" for none
		handshake bool
	}{
		{"its fingerprint", files, at, topology.CertPin{SHA256: certs["h1"][2]}, "", true},
		{"its name", files, at, topology.CertPin{CommonName: "h1"}, "", true},
		{"another host's fingerprint", files, at, topology.CertPin{SHA256: certs["h2"][2]},
			fmt.Sprintf(`openflow %s: tls: not the certificate pinned for this host: the server presented the certificate of subject "h1"`, at), true},
		{"another host's name", files, at, topology.CertPin{CommonName: "h2"}, `the topology pins common name "h2"`, true},
		{"no pin", files, at, topology.CertPin{}, "", false},
		{"tcp: listener", files, "tcp:" + ln.Addr().String(), topology.CertPin{CommonName: "h2"}, "", false},
		{"no listener yet", files, "ssl:" + closedAddr, topology.CertPin{CommonName: "h2"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := handshakes.Load()
			err := tc.tls.VerifyOpenFlow(ctx, &flows.HostState{Host: "h1", OpenFlow: tc.openflow, TLS: tc.pin})
			if tc.want == "" && err != nil {
				t.Fatalf("VerifyOpenFlow: %v", err)
			}
			if tc.want != "" && (!errors.Is(err, ovsdb.ErrNotPinned) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("VerifyOpenFlow: %v, want %q", err, tc.want)
			}
			// A handshake that completed was counted before it completed.
			if got := handshakes.Load() > before; got != tc.handshake {
				t.Errorf("contacted the listener: %v, want %v", got, tc.handshake)
			}
		})
	}
}

// The OVSDB connection carries the pin too (the dial options are per
// host); a change of address or pin makes the worker dial anew.
func TestDialOptionsPinned(t *testing.T) {
	ca, certs := testCerts(t, t.TempDir(), "ctl")
	files := TLS{PrivateKey: certs["ctl"][1], Certificate: certs["ctl"][0], CACert: ca}
	hs := &flows.HostState{Host: "h1", OVSDB: "ssl:127.0.0.1:6640", TLS: topology.CertPin{CommonName: "h1"}}
	opts, err := files.dialOptions(hs)
	if err != nil || len(opts) != 1 {
		t.Fatalf("dialOptions: %v, %v", opts, err)
	}
	if opts, err := (TLS{}).dialOptions(hs); err != nil || opts != nil {
		t.Errorf("no files: %v, %v", opts, err)
	}
	moved, repinned := *hs, *hs
	moved.OVSDB = "ssl:127.0.0.2:6640"
	repinned.TLS.CommonName = "h1b"
	same := *hs.WithFlows([]flows.Flow{{}})
	if endpointOf(hs) == endpointOf(&moved) || endpointOf(hs) == endpointOf(&repinned) || endpointOf(hs) != endpointOf(&same) {
		t.Error("endpointOf does not tell moves and pin changes (only)")
	}
}
