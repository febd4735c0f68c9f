package controller

import (
	"errors"

	"github.com/loom-sdn/loom/flows/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
)

// TLS names the PEM files Loom uses on hosts whose ovsdb or openflow
// address is ssl:IP:PORT: the controller's private key and certificate
// (ovs-pki req+sign NAME controller) and the CA certificate that signed the
// switches' certificates (ovs-pki's switchca/cacert.pem). The zero value is
// no TLS: ssl: hosts then fail with an error that says so.
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
	_, err := t.dialOptions()
	return err
}

// dialOptions are the ovsdb.Dial options for t. The files are read anew
// at every dial, so that renewed certificates are picked up, as ovs-ofctl
// (one process per call) does.
func (t TLS) dialOptions() ([]ovsdb.DialOption, error) {
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
	return []ovsdb.DialOption{ovsdb.WithTLS(cfg)}, nil
}

// OpenFlow is the OpenFlow client of target with t's files.
func (t TLS) OpenFlow(target string) *ofctl.Client {
	if !t.Enabled() {
		return ofctl.New(target)
	}
	return ofctl.New(target, ofctl.WithSSL(ofctl.SSL{PrivateKey: t.PrivateKey, Certificate: t.Certificate, CACert: t.CACert}))
}
