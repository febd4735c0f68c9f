package controller

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
	"github.com/loom-sdn/loom/topology"
)

// TLS names the PEM files Loom uses on hosts whose ovsdb or openflow
// address is ssl:IP:PORT: the controller's private key and certificate
// (ovs-pki req+sign NAME controller) and the CA certificate that signed the
// switches' certificates (ovs-pki's switchca/cacert.pem). The zero value is
// no TLS: ssl: hosts then fail with an error that says so.
//
// A host may also pin its certificate in the topology (flows.HostState's
// TLS): its OVSDB connection is then refused unless the host presents
// that certificate, and so is its OpenFlow listener, checked by a TLS
// handshake of Loom's own (VerifyOpenFlow) before ovs-ofctl, which cannot
// check a pin, is used on it.
type TLS struct {
	PrivateKey  string
	Certificate string
	CACert      string
}

// Enabled tells whether any file is given.
func (t TLS) Enabled() bool { return t.PrivateKey != "" || t.Certificate != "" || t.CACert != "" }

// Check reads the files as a connection would: given, all three must be
// readable PEM files, and the key must match the certificate. Its errors
// name files, never their contents. Run it before touching any host.
func (t TLS) Check() error {
	_, err := t.config(topology.CertPin{})
	return err
}

// config is the TLS client configuration for a host with pin, nil
// without files. The files are read anew at every call, so that renewed
// certificates are picked up, as ovs-ofctl (one process per call) does.
func (t TLS) config(pin topology.CertPin) (*tls.Config, error) {
	if !t.Enabled() {
		return nil, nil
	}
	if t.PrivateKey == "" || t.Certificate == "" || t.CACert == "" {
		return nil, errors.New("tls: give all of the private key, the certificate and the CA certificate, or none")
	}
	cfg, err := ovsdb.LoadTLS(t.PrivateKey, t.Certificate, t.CACert)
	if err != nil {
		return nil, err
	}
	return ovsdb.Pinned(cfg, ovsdb.Pin{SHA256: pin.SHA256, CommonName: pin.CommonName}), nil
}

// dialOptions are the ovsdb.Dial options for hs.
func (t TLS) dialOptions(hs *flows.HostState) ([]ovsdb.DialOption, error) {
	cfg, err := t.config(hs.TLS)
	if cfg == nil || err != nil {
		return nil, err
	}
	return []ovsdb.DialOption{ovsdb.WithTLS(cfg)}, nil
}

// endpoint is what an OVSDB connection to a host was made for: a host
// that moves, or whose pin changes, needs a new one.
type endpoint struct {
	ovsdb string
	pin   topology.CertPin
}

func endpointOf(hs *flows.HostState) endpoint { return endpoint{hs.OVSDB, hs.TLS} }

// dialError classifies the error of a host whose OVSDB server could not
// be dialled: unreachable, but not when it answered with a certificate
// other than the one pinned (it is reachable, it is not the host: an
// error).
func dialError(err error) error {
	if errors.Is(err, ovsdb.ErrNotPinned) {
		return err
	}
	return unreachable(err)
}

// OpenFlow is the OpenFlow client of target with t's files.
func (t TLS) OpenFlow(target string) *ofctl.Client {
	if !t.Enabled() {
		return ofctl.New(target)
	}
	return ofctl.New(target, ofctl.WithSSL(ofctl.SSL{PrivateKey: t.PrivateKey, Certificate: t.Certificate, CACert: t.CACert}))
}

// VerifyOpenFlow checks the certificate that hs's OpenFlow listener
// presents against hs's pin, for a host with a pin and an ssl: OpenFlow
// address (others pass). ovs-ofctl checks the CA but cannot check a pin,
// so Loom makes a TLS handshake of its own first. Only a certificate of
// the CA that is not the pinned one is an error here: a listener that
// does not answer (the bridge is still to be made, over the pinned OVSDB
// connection) or a certificate of another CA is left to ovs-ofctl to
// report.
func (t TLS) VerifyOpenFlow(ctx context.Context, hs *flows.HostState) error {
	if hs.TLS == (topology.CertPin{}) || !strings.HasPrefix(hs.OpenFlow, "ssl:") || !t.Enabled() {
		return nil
	}
	cfg, err := t.config(hs.TLS)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", strings.TrimPrefix(hs.OpenFlow, "ssl:"))
	if err == nil {
		c.Close()
		return nil
	}
	if errors.Is(err, ovsdb.ErrNotPinned) {
		return fmt.Errorf("openflow %s: %w", hs.OpenFlow, err)
	}
	return nil
}
