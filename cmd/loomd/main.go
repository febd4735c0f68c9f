package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/topology"
)

// keys are loomd's settings, their defaults and meaning (loomd --help).
var keys = []struct {
	name, def, help string
}{
	{"config", "/etc/loom/loomd.yaml", "config file (YAML); a missing default file is not an error"},
	{"topology", "/etc/loom/topology", "topology file or folder, re-read when it changes"},
	{"reload-interval", "2s", "how often the topology files are checked for changes"},
	{"audit-interval", "60s", "full comparison of every host with the topology (repairs drift)"},
	{"probe-interval", "5s", "cheap check of every host: OVSDB echo and the count of Loom's flows"},
	{"host-timeout", "60s", "time allowed for one reconcile of one host"},
	{"backoff-max", "30s", "longest wait between retries of a failing host"},
	{"parallel", "8", "hosts reconciled at once"},
	{"status-file", "", "if set, every host's status is written there as JSON after each change"},
	{"private-key", "", "controller's private key (PEM) for hosts with ssl: addresses"},
	{"certificate", "", "controller's certificate (PEM), e.g. from ovs-pki req+sign NAME controller"},
	{"ca-cert", "", "CA certificate (PEM) that signed the switches' certificates, e.g. ovs-pki's switchca/cacert.pem; the three files are read again at every connection"},
	{"listen", "127.0.0.1:9477", "HTTP address of the API (/api/v1/), /metrics, /healthz and /readyz; empty: none"},
	{"token-file", "", "file holding the bearer token the API requires; needed unless listen is a loopback address"},
	{"log-format", "json", "json or console"},
	{"log-level", "info", "debug, info, warn or error"},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "loomd:", err)
		os.Exit(1)
	}
}

func run() error {
	fs := pflag.NewFlagSet("loomd", pflag.ContinueOnError)
	for _, k := range keys {
		fs.String(k.name, k.def, k.help+" (env LOOM_"+strings.ToUpper(strings.ReplaceAll(k.name, "-", "_"))+")")
	}
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: loomd [flags]\n\nEvery setting comes, by precedence, from a flag, an environment variable or the config file.\n\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return nil
		}
		return err
	}
	v := viper.New()
	v.SetEnvPrefix("LOOM")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	if err := v.BindPFlags(fs); err != nil {
		return err
	}
	v.SetConfigFile(v.GetString("config"))
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		if fs.Changed("config") || !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("config %s: %w", v.GetString("config"), err)
		}
	}
	log, err := newLogger(v.GetString("log-format"), v.GetString("log-level"))
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck

	dur := func(key string) (time.Duration, error) {
		d, err := time.ParseDuration(v.GetString(key))
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("%s %q: want a positive duration such as 30s", key, v.GetString(key))
		}
		return d, nil
	}
	var cfg controller.Config
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"audit-interval", &cfg.AuditInterval}, {"probe-interval", &cfg.ProbeInterval},
		{"host-timeout", &cfg.HostTimeout}, {"backoff-max", &cfg.BackoffMax}} {
		if *d.dst, err = dur(d.key); err != nil {
			return err
		}
	}
	reload, err := dur("reload-interval")
	if err != nil {
		return err
	}
	cfg.Parallel = v.GetInt("parallel")
	cfg.TLS = controller.TLS{PrivateKey: v.GetString("private-key"), Certificate: v.GetString("certificate"), CACert: v.GetString("ca-cert")}
	if err := cfg.TLS.Check(); err != nil {
		return err // before any host is touched
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.Metrics = reg

	status := newStatusWriter(v.GetString("status-file"), log)
	rec := controller.NewReconciler(log, cfg, status.update)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	path := v.GetString("topology")
	w := &watcher{path: path, log: log, rec: rec, now: topologyInfo{Path: path}}
	if addr := v.GetString("listen"); addr != "" {
		token, err := readToken(v.GetString("token-file"), addr)
		if err != nil {
			return err
		}
		api := newAPI(token, w.info, rec.Status)
		srv, err := serveHTTP(addr, reg, api, w, log)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	w.check() // the first topology, before the workers start
	log.Info("loomd started", zap.String("topology", path), zap.Duration("audit_interval", cfg.AuditInterval),
		zap.Duration("probe_interval", cfg.ProbeInterval))
	go func() {
		t := time.NewTicker(reload)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.check()
			}
		}
	}()
	rec.Run(ctx)
	log.Info("loomd stopped")
	return nil
}

// watcher re-reads the topology when its files change. An invalid new
// topology is logged with every error and changes nothing: the hosts keep
// the last valid one.
type watcher struct {
	path   string
	log    *zap.Logger
	rec    *controller.Reconciler
	last   []byte      // the contents last read, valid or not
	loaded atomic.Bool // a valid topology is in force

	mu  sync.Mutex
	now topologyInfo
}

func (w *watcher) info() topologyInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.now
}

func (w *watcher) rejected(why string) {
	w.mu.Lock()
	w.now.Rejected = why
	w.mu.Unlock()
}

func (w *watcher) check() {
	snap, err := snapshot(w.path)
	if err != nil {
		if w.last != nil { // say it once, not at every check
			w.log.Error("topology unreadable, the running one stays", zap.String("topology", w.path), zap.Error(err))
		}
		w.last = nil
		return
	}
	if bytes.Equal(snap, w.last) {
		return
	}
	w.last = snap
	t, err := topology.Load(w.path)
	if err != nil {
		w.log.Error("topology rejected, the running one stays", zap.String("topology", w.path), zap.Error(err))
		w.rejected(err.Error())
		return
	}
	for _, warn := range t.Warnings {
		w.log.Warn("topology", zap.String("warning", warn.Error()))
	}
	if err := w.rec.SetTopology(t); err != nil {
		w.log.Error("topology not compiled, the running one stays", zap.Error(err))
		w.rejected(err.Error())
		return
	}
	w.mu.Lock()
	w.now = topologyInfo{Path: w.path, Loaded: true, LoadedAt: time.Now(),
		Hosts: len(t.Hosts), Switches: len(t.Switches), Ports: len(t.Ports)}
	w.mu.Unlock()
	if !w.loaded.Swap(true) {
		sdNotify("READY=1")
	}
	w.log.Info("topology loaded", zap.Int("hosts", len(t.Hosts)), zap.Int("switches", len(t.Switches)), zap.Int("ports", len(t.Ports)))
}

// snapshot is the contents of the topology file, or of a folder's YAML
// files with their names, to notice any change.
func snapshot(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return os.ReadFile(path)
	}
	var b bytes.Buffer
	files, _ := filepath.Glob(filepath.Join(path, "*.y*ml"))
	for _, f := range files {
		c, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s\n%d\n", f, len(c))
		b.Write(c)
	}
	return b.Bytes(), nil
}

// statusWriter keeps the latest status of every host in a JSON file,
// replaced atomically, for operators and tests until loomd has an API.
type statusWriter struct {
	path string
	log  *zap.Logger
	mu   sync.Mutex
	m    map[string]controller.HostStatus
}

func newStatusWriter(path string, log *zap.Logger) *statusWriter {
	return &statusWriter{path: path, log: log, m: map[string]controller.HostStatus{}}
}

func (s *statusWriter) update(st controller.HostStatus) {
	if s.path == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[st.Host] = st
	b, err := json.MarshalIndent(s.m, "", "  ")
	if err == nil {
		tmp := s.path + ".tmp"
		if err = os.WriteFile(tmp, b, 0o644); err == nil {
			err = os.Rename(tmp, s.path)
		}
	}
	if err != nil {
		s.log.Warn("status file", zap.Error(err))
	}
}

// readToken reads the API's bearer token. Without one, loomd only listens
// on a loopback address.
func readToken(file, addr string) (string, error) {
	if file == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return "", fmt.Errorf("listen %q: %w", addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return "", fmt.Errorf("listen %s is not a loopback address: set token-file, or the API would be open to anyone", addr)
		}
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("token-file: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if len(token) < 16 {
		return "", fmt.Errorf("token-file %s: the token is shorter than 16 characters", file)
	}
	return token, nil
}

// sdNotify tells systemd (Type=notify) about loomd's state, if it runs
// loomd; elsewhere it does nothing.
func sdNotify(state string) {
	addr := os.Getenv("NOTIFY_SOCKET")
	if addr == "" {
		return
	}
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return
	}
	defer c.Close()
	c.Write([]byte(state)) //nolint:errcheck // best effort, as systemd's own helper
}

// serveHTTP serves the API, /metrics, /healthz (the process answers) and
// /readyz (a valid topology is in force).
func serveHTTP(addr string, reg *prometheus.Registry, api http.Handler, w *watcher, log *zap.Logger) (*http.Server, error) {
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprintln(rw, "ok") })
	mux.HandleFunc("/readyz", func(rw http.ResponseWriter, _ *http.Request) {
		if !w.loaded.Load() {
			http.Error(rw, "no valid topology loaded", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(rw, "ok")
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", zap.Error(err))
		}
	}()
	log.Info("serving metrics and health", zap.String("listen", l.Addr().String()))
	return srv, nil
}

func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	cfg := zap.NewProductionConfig()
	switch format {
	case "json":
	case "console":
		cfg.Encoding = "console"
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	default:
		return nil, fmt.Errorf("log-format %q: want json or console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	return cfg.Build()
}
