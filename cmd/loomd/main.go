package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/topology"
)

// config keys, their defaults and meaning (loomd --help prints them).
var keys = []struct {
	name, def, help string
}{
	{"config", "/etc/loom/loomd.yaml", "config file (YAML); a missing default file is not an error"},
	{"topology", "/etc/loom/topology", "topology file or folder"},
	{"interval", "30s", "time between two reconciliations of every host"},
	{"host-timeout", "60s", "time allowed for one host in one round"},
	{"parallel", "8", "hosts reconciled at once"},
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

	interval, err := time.ParseDuration(v.GetString("interval"))
	if err != nil || interval <= 0 {
		return fmt.Errorf("interval %q: want a positive duration such as 30s", v.GetString("interval"))
	}
	hostTimeout, err := time.ParseDuration(v.GetString("host-timeout"))
	if err != nil {
		return fmt.Errorf("host-timeout: %w", err)
	}
	eng := &controller.Engine{Log: log, Opts: controller.Options{HostTimeout: hostTimeout, Parallel: v.GetInt("parallel")}}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	path := v.GetString("topology")
	log.Info("loomd started", zap.String("topology", path), zap.Duration("interval", interval))
	for {
		round(ctx, log, eng, path)
		select {
		case <-ctx.Done():
			log.Info("loomd stopped")
			return nil
		case <-time.After(interval):
		}
	}
}

// round reads the topology and reconciles every host once. An invalid
// topology changes nothing: the hosts keep what they have.
func round(ctx context.Context, log *zap.Logger, eng *controller.Engine, path string) {
	t, err := topology.Load(path)
	if err != nil {
		log.Error("topology rejected, nothing applied", zap.String("topology", path), zap.Error(err))
		return
	}
	results, err := eng.Apply(ctx, t)
	if err != nil {
		log.Error("compile", zap.Error(err))
		return
	}
	failed := 0
	for _, r := range results {
		if r.Err != nil {
			failed++
		}
	}
	log.Info("round done", zap.Int("hosts", len(results)), zap.Int("failed", failed))
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
	return cfg.Build()
}
