package daemon

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
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
	// MaxConns bounds the connections open at once (0: DefaultMaxConns).
	// Over it, a new connection is answered 503 (plain HTTP) or closed
	// (HTTPS) at once: the file descriptors the reconcilers need for
	// their hosts stay free whatever clients do.
	MaxConns int
	// Timeouts of the server; zero fields take the defaults.
	Timeouts Timeouts
}

// DefaultMaxConns is Listen.MaxConns's default.
const DefaultMaxConns = 1024

// Timeouts bound how long a client may hold a connection without making
// progress. The status stream (GET status?watch=true) is exempt from Read
// and gets Write anew for each line it sends, so it lasts as long as its
// client reads it.
type Timeouts struct {
	// ReadHeader: a request's headers must arrive within it.
	ReadHeader time.Duration
	// Read: the whole request, body included, must arrive within it.
	Read time.Duration
	// Write: the answer must be written within it, counted from the end
	// of the headers and, for the API's answers, from when the answer is
	// ready (a plan may take a while to make).
	Write time.Duration
	// Idle: a keep-alive connection with no request is closed after it.
	Idle time.Duration
}

// DefaultTimeouts are the timeouts loomd serves with.
var DefaultTimeouts = Timeouts{ReadHeader: 10 * time.Second, Read: 60 * time.Second, Write: 60 * time.Second, Idle: 30 * time.Second}

func (t Timeouts) withDefaults() Timeouts {
	pick := func(v, def time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return def
	}
	d := DefaultTimeouts
	return Timeouts{pick(t.ReadHeader, d.ReadHeader), pick(t.Read, d.Read), pick(t.Write, d.Write), pick(t.Idle, d.Idle)}
}

// maxHeaderBytes bounds a request's headers; loomd's clients send few.
const maxHeaderBytes = 64 << 10

// CheckAuth refuses an API open to anyone, or one whose token would cross
// the network in clear: off loopback, a token or client certificates are
// required, and a token needs HTTPS.
func (l Listen) CheckAuth(a Auth) error {
	host, _, err := net.SplitHostPort(l.Addr)
	if err != nil {
		return fmt.Errorf("listen %q: %w", l.Addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	if a.Token == "" && !a.ClientCerts {
		return fmt.Errorf("listen %s is not a loopback address: set token-file or api-client-ca, or the API would be open to anyone", l.Addr)
	}
	if a.Token != "" && (l.CertFile == "" || l.KeyFile == "") {
		return fmt.Errorf("listen %s is not a loopback address and the API is plain HTTP: the bearer token would cross the network in clear; set api-cert and api-key (HTTPS), or listen on a loopback address", l.Addr)
	}
	return nil
}

// Serve starts serving h; it returns the server (Shutdown stops it) and
// the address it listens on.
func Serve(l Listen, h http.Handler, log *zap.Logger) (*http.Server, net.Addr, error) {
	to := l.Timeouts.withDefaults()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: to.ReadHeader, ReadTimeout: to.Read,
		WriteTimeout: to.Write, IdleTimeout: to.Idle, MaxHeaderBytes: maxHeaderBytes,
		ErrorLog: zap.NewStdLog(log.With(zap.String("from", "net/http")))}
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
	raw, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", l.Addr, err)
	}
	maxConns := l.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	ln := &limitListener{Listener: raw, slots: make(chan struct{}, maxConns), refusing: make(chan struct{}, 64),
		plain: srv.TLSConfig == nil, log: log}
	https := srv.TLSConfig != nil // Serve changes srv: read it before
	go func() {
		var err error
		if https {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", zap.Error(err))
		}
	}()
	log.Info("serving HTTP", zap.String("listen", raw.Addr().String()), zap.Bool("https", https),
		zap.Int("max_connections", maxConns))
	return srv, raw.Addr(), nil
}

// limitListener accepts at most cap(slots) connections at once. One over
// is refused at once, not left waiting in the kernel's queue: on plain
// HTTP with a 503 that says why (its own goroutine, at most
// cap(refusing) of them, each for at most a second), else by closing it.
type limitListener struct {
	net.Listener
	slots    chan struct{}
	refusing chan struct{}
	plain    bool
	log      *zap.Logger
	refused  atomic.Int64
	lastLog  atomic.Int64 // unix seconds of the last warning
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		select {
		case l.slots <- struct{}{}:
			return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
		default:
		}
		n := l.refused.Add(1)
		if now := time.Now().Unix(); l.lastLog.Load() < now-10 {
			l.lastLog.Store(now)
			l.log.Warn("API connection refused: too many open (setting api-max-connections)",
				zap.Int("max_connections", cap(l.slots)), zap.String("remote", c.RemoteAddr().String()), zap.Int64("refused_total", n))
		}
		select {
		case l.refusing <- struct{}{}:
			go func() {
				defer func() { <-l.refusing }()
				l.refuse(c)
			}()
		default:
			c.Close()
		}
	}
}

// busyAnswer is what a connection over the limit reads on plain HTTP.
var busyAnswer = func() string {
	body := `{"error": "loomd has too many API connections open (setting api-max-connections); try again later"}` + "\n"
	return fmt.Sprintf("HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"+
		"Connection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}()

// refuse answers 503 and closes c. The request is read (and dropped)
// after the answer is sent, so that the client reads the answer rather
// than a reset.
func (l *limitListener) refuse(c net.Conn) {
	defer c.Close()
	if !l.plain {
		return
	}
	c.SetDeadline(time.Now().Add(time.Second)) //nolint:errcheck // best effort
	if _, err := io.WriteString(c, busyAnswer); err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite() //nolint:errcheck
	}
	io.Copy(io.Discard, io.LimitReader(c, 64<<10)) //nolint:errcheck
}

// limitConn gives its slot back when closed (once: the server may close
// a connection twice).
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}
