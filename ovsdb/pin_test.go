package ovsdb

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// TestPinned: a certificate of the trusted CA passes only if it is the
// pinned one (by fingerprint, common name or both); the chain is still
// checked first.
func TestPinned(t *testing.T) {
	p := newPKI(t, t.TempDir())
	other := newPKI(t, t.TempDir())
	addr, results := tlsServer(t, p, p.ctlCA) // presents h1's certificate
	b, _ := os.ReadFile(p.swCert)
	blk, _ := pem.Decode(b)
	sum := sha256.Sum256(blk.Bytes)
	h1 := hex.EncodeToString(sum[:])
	b, _ = os.ReadFile(other.swCert)
	blk, _ = pem.Decode(b)
	sum = sha256.Sum256(blk.Bytes)
	otherH1 := hex.EncodeToString(sum[:]) // another certificate of the same name

	base, err := LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	if Pinned(base, Pin{}) != base {
		t.Error("an empty pin changed the configuration")
	}
	for _, tc := range []struct {
		name string
		pin  Pin
		want string // in the error; "" for success
	}{
		{"fingerprint", Pin{SHA256: h1}, ""},
		{"common name", Pin{CommonName: "h1"}, ""},
		{"both", Pin{SHA256: h1, CommonName: "h1"}, ""},
		{"another certificate", Pin{SHA256: otherH1}, `the server presented the certificate of subject "h1" with sha256 ` + h1 + `, the topology pins sha256 ` + otherH1},
		{"another name", Pin{CommonName: "h2"}, `the server presented the certificate of subject "h1" (sha256 ` + h1 + `), the topology pins common name "h2"`},
		{"right name, wrong fingerprint", Pin{SHA256: otherH1, CommonName: "h1"}, "the topology pins sha256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, Pinned(base, tc.pin))
			if err == nil {
				err = c.Handshake()
				c.Close()
			}
			<-results
			if tc.want == "" {
				if err != nil {
					t.Fatalf("handshake: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrNotPinned) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake: %v, want ErrNotPinned with %q", err, tc.want)
			}
		})
	}
	// The CA is still checked: the pinned fingerprint of a certificate of
	// another CA does not make it trusted.
	wrongCA, _ := LoadTLS(p.ctlKey, p.ctlC, other.switchCA.CertFile())
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, Pinned(wrongCA, Pin{SHA256: h1}))
	if err == nil {
		c.Close()
	}
	<-results
	if err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("pinned certificate of an untrusted CA: %v", err)
	}
}

// Through Dial (libovsdb), a pin mismatch is still ErrNotPinned, so that
// loomd can tell it from an unreachable host.
func TestDialPinned(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "lmpin")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := newPKI(t, dir)
	s := ovsdbtest.StartServerArgs(t, "--remote=pssl:0:127.0.0.1",
		"--private-key="+p.swKey, "--certificate="+p.swCert, "--ca-cert="+p.ctlCA.CertFile())
	addr := fmt.Sprintf("ssl:127.0.0.1:%d", s.ListeningPort(t))
	cfg, err := LoadTLS(p.ctlKey, p.ctlC, p.switchCA.CertFile())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(ctxT(t), addr, zaptest.NewLogger(t), WithTLS(Pinned(cfg, Pin{CommonName: "h1"})))
	if err != nil {
		t.Fatalf("Dial with the right pin: %v", err)
	}
	c.Close()
	_, err = Dial(ctxT(t), addr, zaptest.NewLogger(t), WithTLS(Pinned(cfg, Pin{CommonName: "h2"})))
	if !errors.Is(err, ErrNotPinned) || !strings.Contains(err.Error(), `the topology pins common name "h2"`) {
		t.Fatalf("Dial with another host's pin: %v", err)
	}
}
