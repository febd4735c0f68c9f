package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"go.uber.org/zap"
)

// Listen is where and how the API is served.
type Listen struct {
	Addr string
	// CertFile and KeyFile, if set, serve HTTPS with this certificate.
	CertFile, KeyFile string
	// ClientCAFile, if set (with HTTPS), makes loomd ask for client
	// certificates and trust those this CA signed (mTLS).
	ClientCAFile string
}

// CheckAuth refuses an API open to anyone: off loopback, a token or client
// certificates are required.
func (l Listen) CheckAuth(a Auth) error {
	if a.Token != "" || a.ClientCerts {
		return nil
	}
	host, _, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return fmt.Errorf("listen %q: %w", l.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("listen %s is not a loopback address: set token-file or api-client-ca, or the API would be open to anyone", l.Addr)
	}
	return nil
}

// Serve starts serving h; it returns the server (Shutdown stops it) and
// the address it listens on.
func Serve(l Listen, h http.Handler, log *zap.Logger) (*http.Server, net.Addr, error) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if l.CertFile != "" || l.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("api-cert/api-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		if l.ClientCAFile != "" {
			b, err := os.ReadFile(l.ClientCAFile)
			if err != nil {
				return nil, nil, fmt.Errorf("api-client-ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(b) {
				return nil, nil, fmt.Errorf("api-client-ca %s: no PEM certificate in it", l.ClientCAFile)
			}
			srv.TLSConfig.ClientCAs = pool
			// A verified certificate or the token: either will do.
			srv.TLSConfig.ClientAuth = tls.VerifyClientCertIfGiven
		}
	} else if l.ClientCAFile != "" {
		return nil, nil, errors.New("api-client-ca needs api-cert and api-key: client certificates only exist over HTTPS")
	}
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", l.Addr, err)
	}
	go func() {
		var err error
		if srv.TLSConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", zap.Error(err))
		}
	}()
	log.Info("serving the API", zap.String("listen", ln.Addr().String()), zap.Bool("https", srv.TLSConfig != nil))
	return srv, ln.Addr(), nil
}
