package ovsdb

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// LoadTLS reads the controller's private key and certificate and the CA
// certificate that signed the switches' certificates (PEM files, as
// ovs-pki makes them: the key and certificate from `ovs-pki req+sign NAME
// controller`, the CA from switchca/cacert.pem), and returns a TLS client
// configuration for "ssl:" addresses.
//
// The configuration presents the certificate to the server (ovsdb-server
// with a pssl: remote requires one) and accepts a server whose certificate
// chains to the CA. Like OVS itself it checks no host name or IP address:
// ovs-pki certificates carry none that would match the address dialled.
//
// Errors name the file at fault and never include the contents of a file.
func LoadTLS(privateKey, certificate, caCert string) (*tls.Config, error) {
	if privateKey == "" || certificate == "" || caCert == "" {
		return nil, errors.New("tls: a private key, a certificate and a CA certificate are all needed")
	}
	keyPEM, err := readPEMFile("private key", privateKey)
	if err != nil {
		return nil, err
	}
	certPEM, err := readPEMFile("certificate", certificate)
	if err != nil {
		return nil, err
	}
	caPEM, err := readPEMFile("CA certificate", caCert)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// X509KeyPair's messages describe the problem, not the key.
		return nil, fmt.Errorf("tls: certificate %s with private key %s: %w", certificate, privateKey, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls: CA certificate %s: no PEM certificate in it", caCert)
	}
	return &tls.Config{
		// Always present the certificate. (With Certificates, Go sends none
		// when the server's list of acceptable CAs does not name its issuer:
		// the server would then only say that a certificate is missing.)
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &pair, nil
		},
		MinVersion: tls.VersionTLS12,
		// Go's default verification checks the dialled IP against the
		// certificate's SANs, and ovs-pki certificates have none: the chain
		// is verified against the CA in VerifyPeerCertificate instead.
		InsecureSkipVerify:    true, //nolint:gosec // verified by verifyChain
		VerifyPeerCertificate: verifyChain(roots, caCert),
	}, nil
}

// Pin names the one certificate a server may present, beyond being
// signed by the CA: the CA signs every switch's certificate, so without a
// pin any switch could pass for any other. Empty fields check nothing.
type Pin struct {
	// SHA256 is the SHA-256 of the certificate (DER), in lower-case hex.
	SHA256 string
	// CommonName is the subject's common name, exactly.
	CommonName string
}

// ErrNotPinned is the error (wrapped) of a server whose certificate is
// signed by the CA but is not the one pinned.
var ErrNotPinned = errors.New("tls: not the certificate pinned for this host")

// Pinned returns cfg (made by LoadTLS) requiring also that the server's
// certificate match pin; an empty pin returns cfg itself.
func Pinned(cfg *tls.Config, pin Pin) *tls.Config {
	if pin == (Pin{}) {
		return cfg
	}
	c := cfg.Clone()
	chain := cfg.VerifyPeerCertificate
	c.VerifyPeerCertificate = func(raw [][]byte, verified [][]*x509.Certificate) error {
		if chain != nil {
			if err := chain(raw, verified); err != nil {
				return err
			}
		}
		if len(raw) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		return pin.check(raw[0])
	}
	return c
}

// check tells whether der, the server's certificate, is the pinned one.
func (p Pin) check(der []byte) error {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("tls: the server's certificate: %w", err)
	}
	sum := sha256.Sum256(der)
	got := hex.EncodeToString(sum[:])
	if p.SHA256 != "" && got != p.SHA256 {
		return fmt.Errorf("%w: the server presented the certificate of subject %q with sha256 %s, the topology pins sha256 %s",
			ErrNotPinned, cert.Subject.CommonName, got, p.SHA256)
	}
	if p.CommonName != "" && cert.Subject.CommonName != p.CommonName {
		return fmt.Errorf("%w: the server presented the certificate of subject %q (sha256 %s), the topology pins common name %q",
			ErrNotPinned, cert.Subject.CommonName, got, p.CommonName)
	}
	return nil
}

// readPEMFile reads a file that must hold PEM data; what names it in errors.
func readPEMFile(what, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the path.
		return nil, fmt.Errorf("tls: %s: %w", what, err)
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("tls: %s %s: empty file", what, path)
	}
	return b, nil
}

// verifyChain checks the server's certificate chain against roots, as OVS
// does: the chain and the key usage, not the name.
func verifyChain(roots *x509.CertPool, caFile string) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("tls: the server sent no certificate")
		}
		certs := make([]*x509.Certificate, len(raw))
		for i, der := range raw {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("tls: the server's certificate: %w", err)
			}
			certs[i] = c
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{
			Roots:         roots,
			Intermediates: inter,
			KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return fmt.Errorf("tls: the server's certificate (subject %q) does not verify against CA %s: %w",
				certs[0].Subject.CommonName, caFile, err)
		}
		return nil
	}
}

// tlsRefusal tells, after a failed dial, whether the server ended the TLS
// session with an alert, e.g. because it does not trust our certificate.
// Under TLS 1.3 the client's handshake completes before the server has
// checked the client's certificate, so the server's verdict reaches the
// first read or write after it, where libovsdb reports it as whatever its
// first request ran into (often "broken pipe"). This dials once more and
// only reads, which returns the alert. nil: no alert seen.
func tlsRefusal(ctx context.Context, hostport string, cfg *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return remoteAlert(err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetReadDeadline(deadline)
	_, err = c.Read(make([]byte, 1))
	return remoteAlert(err)
}

// remoteAlert is err if it is a TLS alert from the peer, else nil.
func remoteAlert(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "remote error" {
		return err
	}
	return nil
}
