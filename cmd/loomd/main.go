package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
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
	"github.com/loom-sdn/loom/controller/daemon"
	"github.com/loom-sdn/loom/version"
)

// keys are loomd's settings, their defaults and meaning (loomd --help).
var keys = []struct {
	name, def, help string
}{
	{"config", "/etc/loom/loomd.yaml", "config file (YAML); a missing default file is not an error"},
	{"topology", "", "topology file or folder, re-read when it changes; empty: the topology is written through the API (loomctl apply)"},
	{"state-dir", "/var/lib/loom", "where the topology in force and its revision are kept across restarts"},
	{"reload-interval", "2s", "how often the topology files are checked for changes"},
	{"audit-interval", "60s", "full comparison of every host with the topology (repairs drift)"},
	{"probe-interval", "5s", "cheap check of every host: OVSDB echo, and a barrier through its flow monitor (the count of Loom's flows while that is not connected)"},
	{"flow-monitor", "true", "watch each switch's flows as they change (ovs-ofctl monitor): hand edits and a restarted ovs-vswitchd are repaired at once; false: only the probe and the audit find them"},
	{"host-timeout", "60s", "time allowed for one reconcile of one host"},
	{"backoff-max", "30s", "longest wait between retries of a failing host"},
	{"parallel", "8", "hosts reconciled at once"},
	{"status-file", "", "if set, every host's status is written there as JSON after each change"},
	{"private-key", "", "controller's private key (PEM) for hosts with ssl: addresses"},
	{"certificate", "", "controller's certificate (PEM), e.g. from ovs-pki req+sign NAME controller"},
	{"ca-cert", "", "CA certificate (PEM) that signed the switches' certificates, e.g. ovs-pki's switchca/cacert.pem; the three files are read again at every connection"},
	{"listen", "127.0.0.1:9477", "HTTP address of the API (/api/v1/), /metrics, /healthz and /readyz; empty: none"},
	{"address-file", "", "if set, the address loomd listens on is written there once it listens (for listen 127.0.0.1:0)"},
	{"token-file", "", "file holding the bearer token the API requires; needed off loopback unless api-client-ca is set"},
	{"api-cert", "", "certificate (PEM) to serve the API over HTTPS"},
	{"api-key", "", "private key (PEM) of api-cert"},
	{"api-client-ca", "", "CA (PEM) whose client certificates the API trusts instead of the token (mTLS; needs api-cert)"},
	{"api-max-body", "4MiB", "largest request body the API reads (bytes, or with KiB, MiB or GiB); judging a topology costs about 45 bytes of memory per byte of YAML, and a topology of 25,000 ports written one block per port is about 3 MB"},
	{"api-max-calls", "2", "validate, plan and topology writes served at once (each compiles a whole topology); more wait a second, then get 503"},
	{"api-max-edits", "64", "edits (POST /api/v1/edits, loomctl port add, ...) served or waiting their turn at once; more get 503 at once"},
	{"api-max-connections", "1024", "API connections open at once; more are refused at once with 503"},
	{"metrics-listen", "", "if set, /metrics is served there, without credentials, and not on listen; empty: /metrics is on listen and needs the API's credentials when the API has any"},
	{"memory-limit", "off", "Go's soft memory limit: off, auto (48MiB and 1KiB per flow of the topology in force: about 30% less peak memory, changes about 0.1 s slower at 2,000 ports), or a size such as 256MiB; the collector works harder near it (a soft limit: never a crash); GOMEMLIMIT in the environment wins over auto and stays with off"},
	{"log-format", "json", "json or console"},
	{"log-level", "info", "debug, info, warn or error; changeable at run time: PUT /api/v1/log/level {\"level\":\"debug\"}"},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loomd:", err)
		os.Exit(1)
	}
}

// run is loomd with args until ctx ends. started, if not nil, is called
// once loomd serves, with the addresses of the API and of /metrics (nil
// when not served apart).
func run(ctx context.Context, args []string, stdout io.Writer, started func(api, metrics net.Addr)) error {
	v, err := settings(args, stdout)
	if v == nil || err != nil {
		return err
	}
	level, log, err := newLogger(v.GetString("log-format"), v.GetString("log-level"))
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck

	cfg := daemon.Config{Log: log, Level: &level, StateDir: v.GetString("state-dir"),
		TopologyPath: v.GetString("topology"), StatusFile: v.GetString("status-file")}
	rc := &cfg.Reconciler
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"audit-interval", &rc.AuditInterval}, {"probe-interval", &rc.ProbeInterval},
		{"host-timeout", &rc.HostTimeout}, {"backoff-max", &rc.BackoffMax}} {
		if *d.dst, err = duration(v, d.key); err != nil {
			return err
		}
	}
	reload, err := duration(v, "reload-interval")
	if err != nil {
		return err
	}
	rc.Parallel = v.GetInt("parallel")
	monitor, err := strconv.ParseBool(v.GetString("flow-monitor"))
	if err != nil {
		return fmt.Errorf("flow-monitor %q: want true or false", v.GetString("flow-monitor"))
	}
	rc.FlowMonitorOff = !monitor
	rc.TLS = controller.TLS{PrivateKey: v.GetString("private-key"), Certificate: v.GetString("certificate"), CACert: v.GetString("ca-cert")}
	if err := rc.TLS.Check(); err != nil {
		return err // before any host is touched
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rc.Metrics = reg

	if cfg.Limits.MaxBody, err = size(v, "api-max-body"); err != nil {
		return err
	}
	if cfg.Limits.MaxCalls, err = positive(v, "api-max-calls"); err != nil {
		return err
	}
	if cfg.Limits.MaxEdits, err = positive(v, "api-max-edits"); err != nil {
		return err
	}
	listen := daemon.Listen{Addr: v.GetString("listen"), CertFile: v.GetString("api-cert"),
		KeyFile: v.GetString("api-key"), ClientCAFile: v.GetString("api-client-ca")}
	if listen.MaxConns, err = positive(v, "api-max-connections"); err != nil {
		return err
	}
	metricsListen := v.GetString("metrics-listen")
	cfg.Auth.ClientCerts = listen.ClientCAFile != ""
	if f := v.GetString("token-file"); f != "" {
		if cfg.Auth.Token, err = readToken(f); err != nil {
			return err
		}
	}
	if listen.Addr != "" {
		if err := listen.CheckAuth(cfg.Auth); err != nil {
			return err
		}
	}

	fixed, auto, err := memoryLimit(v)
	if err != nil {
		return err
	}
	if lim := newMemLimiter(log, fixed, auto); lim.auto {
		cfg.Installed = lim.installed // told the flows of each topology only when it scales with them
	}
	d, err := daemon.New(cfg, func() { log.Info("a valid topology is in force") })
	if err != nil {
		return err
	}
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	var apiAddr, metricsAddr net.Addr
	if listen.Addr != "" {
		mux := http.NewServeMux()
		if metricsListen == "" {
			// Host names and their states: for those who may call the API.
			mux.Handle("/metrics", d.RequireAuth(metrics))
		}
		mux.Handle("/", d.Handler())
		srv, addr, err := daemon.Serve(listen, mux, log.With(zap.String("server", "api")))
		if err != nil {
			return err
		}
		defer shutdown(srv)
		apiAddr = addr
		if f := v.GetString("address-file"); f != "" {
			if err := os.WriteFile(f, []byte(addr.String()+"\n"), 0o644); err != nil {
				return fmt.Errorf("address-file: %w", err)
			}
		}
	}
	if metricsListen != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		srv, addr, err := daemon.Serve(daemon.Listen{Addr: metricsListen, MaxConns: 64}, mux, log.With(zap.String("server", "metrics")))
		if err != nil {
			return fmt.Errorf("metrics-listen: %w", err)
		}
		defer shutdown(srv)
		metricsAddr = addr
	}
	if started != nil {
		started(apiAddr, metricsAddr)
	}
	// Ready for systemd once the API answers: with the topology written
	// through the API, there may be none to wait for yet.
	sdNotify("READY=1")
	log.Info("loomd started", zap.String("topology", cfg.TopologyPath), zap.String("state_dir", cfg.StateDir),
		zap.Duration("audit_interval", rc.AuditInterval), zap.Duration("probe_interval", rc.ProbeInterval),
		zap.Bool("flow_monitor", !rc.FlowMonitorOff))
	d.Run(ctx, reload)
	sdNotify("STOPPING=1")
	log.Info("loomd stopped")
	return nil
}

func shutdown(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx) //nolint:errcheck // watchers are cut off at the deadline
}

// settings reads flags, environment and config file; nil means --help
// or --version, answered on stdout.
func settings(args []string, stdout io.Writer) (*viper.Viper, error) {
	fs := pflag.NewFlagSet("loomd", pflag.ContinueOnError)
	// Errors are returned, not printed; --help prints the usage below.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	showVersion := fs.Bool("version", false, "print loomd's version and exit")
	for _, k := range keys {
		fs.String(k.name, k.def, k.help+" (env "+envName(k.name)+")")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: loomd [flags]\n\nEvery setting comes, by precedence, from a flag, an environment variable or the config file.\n\n%s", fs.FlagUsages())
			return nil, nil
		}
		return nil, fmt.Errorf("%w (loomd --help lists the flags)", err)
	}
	if fs.NArg() > 0 {
		hint := "loomd takes only flags (loomd --help lists them)"
		if fs.Arg(0) == "version" {
			hint = "for loomd's version: loomd --version"
		}
		return nil, fmt.Errorf("unexpected argument %q: %s", fs.Arg(0), hint)
	}
	if *showVersion {
		fmt.Fprintln(stdout, "loomd", version.Get())
		return nil, nil
	}
	v := viper.New()
	v.SetEnvPrefix("LOOM")
	v.SetEnvKeyReplacer(strings.NewReplacer("-", "_"))
	v.AutomaticEnv()
	for _, k := range keys {
		if err := v.BindPFlag(k.name, fs.Lookup(k.name)); err != nil {
			return nil, err
		}
	}
	v.SetConfigFile(v.GetString("config"))
	v.SetConfigType("yaml")
	if err := v.ReadInConfig(); err != nil {
		named := fs.Changed("config") || os.Getenv(envName("config")) != ""
		if named || !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("config %s: %w", v.GetString("config"), err)
		}
	}
	// A misspelt key would otherwise be ignored, its setting left at the
	// default without a word.
	known := map[string]bool{}
	for _, k := range keys {
		known[k.name] = true
	}
	for _, k := range v.AllKeys() {
		if !known[k] {
			return nil, fmt.Errorf("config %s: unknown setting %q (loomd --help lists them)", v.GetString("config"), k)
		}
	}
	return v, nil
}

func envName(key string) string {
	return "LOOM_" + strings.ToUpper(strings.ReplaceAll(key, "-", "_"))
}

// positive reads an integer setting above 0.
func positive(v *viper.Viper, key string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v.GetString(key)))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s %q: want a whole number above 0", key, v.GetString(key))
	}
	return n, nil
}

// size reads a byte count: 1048576, 512KiB, 32MiB or 1GiB.
func size(v *viper.Viper, key string) (int64, error) {
	s := strings.TrimSpace(v.GetString(key))
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%s %q: want a size such as 32MiB, 512KiB or 1048576 (bytes)", key, s)
	}
	return n * mult, nil
}

func duration(v *viper.Viper, key string) (time.Duration, error) {
	d, err := time.ParseDuration(v.GetString(key))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s %q: want a positive duration such as 30s", key, v.GetString(key))
	}
	return d, nil
}

// readToken reads the API's bearer token.
func readToken(file string) (string, error) {
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

func newLogger(format, level string) (zap.AtomicLevel, *zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return zap.AtomicLevel{}, nil, fmt.Errorf("log-level: %w", err)
	}
	cfg := zap.NewProductionConfig()
	switch format {
	case "json":
	case "console":
		cfg.Encoding = "console"
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	default:
		return zap.AtomicLevel{}, nil, fmt.Errorf("log-format %q: want json or console", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.Sampling = nil
	log, err := cfg.Build()
	return cfg.Level, log, err
}
