package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
	"github.com/loom-sdn/loom/version"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loom-docker:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("loom-docker", flag.ContinueOnError)
	socket := fs.String("socket", "/run/docker/plugins/loom.sock", "the plugin's socket: Docker finds a driver NAME at /run/docker/plugins/NAME.sock")
	server := fs.String("server", "http://127.0.0.1:9477", "loomd's API")
	tokenFile := fs.String("token-file", "", "file holding loomd's bearer token")
	host := fs.String("host", "", "this machine's name in the Loom topology (default: the host name)")
	hostNetns := fs.String("host-netns", "", "the network namespace where the host's ovs-vswitchd runs (a name or a path; default: ours). For the lab")
	serverNetns := fs.String("server-netns", "", "the network namespace to reach loomd from (a name or a path; default: ours). For the lab")
	tempPrefix := fs.String("veth-prefix", "lmd", "prefix of the container ends' names until Docker moves them (at most 7 characters)")
	ready := fs.Duration("ready-timeout", 5*time.Second, "how long creating an endpoint waits for its port's flows on the host")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Println("loom-docker", version.Get())
		return nil
	}
	if len(*tempPrefix) > 7 {
		return fmt.Errorf("--veth-prefix %q: at most 7 characters", *tempPrefix)
	}
	lvl, err := zapcore.ParseLevel(*logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	log, err := cfg.Build()
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck
	if *host == "" {
		if *host, err = os.Hostname(); err != nil {
			return fmt.Errorf("--host not given and the host name is unknown: %w", err)
		}
	}
	c := &api.Client{Server: *server}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("token-file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if *serverNetns != "" {
		tr.DialContext = plumb.DialIn(nsPath(*serverNetns))
	}
	c.HTTP = &http.Client{Transport: tr}
	d := &driver{log: log, client: c, host: *host, hostNetns: nsPath(*hostNetns), tempPrefix: *tempPrefix,
		readyTimeout: *ready, networks: map[string]string{}}
	if err := os.MkdirAll(filepath.Dir(*socket), 0o755); err != nil {
		return err
	}
	if err := os.Remove(*socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	l, err := net.Listen("unix", *socket)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck
	}()
	log.Info("loom-docker serving", zap.String("socket", *socket), zap.String("host", *host), zap.String("server", *server))
	err = srv.Serve(l)
	os.Remove(*socket)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// nsPath is a namespace's path: a bare name is one under /run/netns.
func nsPath(s string) string {
	if s == "" || strings.Contains(s, "/") {
		return s
	}
	return "/run/netns/" + s
}
