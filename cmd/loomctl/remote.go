package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// remote is how loomctl reaches loomd: flags, then LOOM_* environment
// variables, then the config file (~/.config/loom/loomctl.yaml or
// LOOM_CONFIG), then the default address.
type remote struct {
	server, tokenFile string
	caCert, cert, key string
	config            string
}

// remoteConfig is loomctl's config file: its keys are the flags'.
type remoteConfig struct {
	Server     string `yaml:"server"`
	TokenFile  string `yaml:"tokenFile"`
	ServerCA   string `yaml:"serverCA"`
	ClientCert string `yaml:"clientCert"`
	ClientKey  string `yaml:"clientKey"`
	// The keys' names before they followed the flags': caCert, certificate
	// and privateKey read like the controller's files for ssl: hosts
	// (--ca-cert, --certificate, --private-key), which they are not.
	OldCA   string `yaml:"caCert"`
	OldCert string `yaml:"certificate"`
	OldKey  string `yaml:"privateKey"`
}

// renamed says which old key a config file uses, and its new name.
func (c *remoteConfig) renamed() error {
	for _, k := range []struct{ val, old, now string }{
		{c.OldCA, "caCert", "serverCA"}, {c.OldCert, "certificate", "clientCert"}, {c.OldKey, "privateKey", "clientKey"},
	} {
		if k.val != "" {
			return fmt.Errorf("%s is now called %s, as the flag --%s (the files of --ca-cert, --certificate and --private-key are the controller's, for ssl: hosts with --direct)",
				k.old, k.now, map[string]string{"serverCA": "server-ca", "clientCert": "client-cert", "clientKey": "client-key"}[k.now])
		}
	}
	return nil
}

const defaultServer = "http://127.0.0.1:9477"

func (r *remote) flags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	cfg := os.Getenv("LOOM_CONFIG")
	if cfg == "" {
		if dir, err := os.UserConfigDir(); err == nil {
			cfg = filepath.Join(dir, "loom", "loomctl.yaml")
		}
	}
	f.StringVar(&r.config, "config", cfg, "loomctl's config file: server, tokenFile, serverCA, clientCert, clientKey, as the flags (env LOOM_CONFIG)")
	f.StringVar(&r.server, "server", os.Getenv("LOOM_SERVER"), "loomd's address (env LOOM_SERVER; default "+defaultServer+")")
	f.StringVar(&r.tokenFile, "token-file", os.Getenv("LOOM_TOKEN_FILE"), "file holding loomd's bearer token (env LOOM_TOKEN_FILE; LOOM_TOKEN gives the token itself)")
	f.StringVar(&r.caCert, "server-ca", os.Getenv("LOOM_SERVER_CA"), "CA certificate (PEM) that signed loomd's certificate, for https servers (env LOOM_SERVER_CA)")
	f.StringVar(&r.cert, "client-cert", os.Getenv("LOOM_CLIENT_CERT"), "loomctl's client certificate (PEM) when loomd asks for one (env LOOM_CLIENT_CERT)")
	f.StringVar(&r.key, "client-key", os.Getenv("LOOM_CLIENT_KEY"), "the client certificate's private key (PEM) (env LOOM_CLIENT_KEY)")
}

// client returns a client for loomd.
func (r *remote) client() (*api.Client, error) {
	var cfg remoteConfig
	if r.config != "" {
		b, err := os.ReadFile(r.config)
		switch {
		case err == nil:
			dec := yaml.NewDecoder(strings.NewReader(string(b)))
			dec.KnownFields(true)
			if err := dec.Decode(&cfg); err != nil && err != io.EOF {
				return nil, fmt.Errorf("config %s: %w", r.config, err)
			}
			if err := cfg.renamed(); err != nil {
				return nil, fmt.Errorf("config %s: %w", r.config, err)
			}
		case !os.IsNotExist(err):
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	pick := func(flag, file string) string {
		if flag != "" {
			return flag
		}
		return file
	}
	c := &api.Client{Server: pick(r.server, cfg.Server), Token: os.Getenv("LOOM_TOKEN")}
	if c.Server == "" {
		c.Server = defaultServer
	}
	if tf := pick(r.tokenFile, cfg.TokenFile); tf != "" {
		b, err := os.ReadFile(tf)
		if err != nil {
			return nil, fmt.Errorf("token-file: %w", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	ca, cert, key := pick(r.caCert, cfg.ServerCA), pick(r.cert, cfg.ClientCert), pick(r.key, cfg.ClientKey)
	if ca != "" || cert != "" || key != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			b, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("server-ca: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("server-ca %s: no PEM certificate in it", ca)
			}
		}
		if cert != "" || key != "" {
			kp, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("client-cert/client-key: %w", err)
			}
			tc.Certificates = []tls.Certificate{kp}
		}
		c.TLS = tc
	}
	return c, nil
}

// readFiles reads topology files and folders (and the files they include)
// as the API carries them, keyed by their paths as given.
func readFiles(paths []string) (map[string]string, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no topology given: use -f FILE|DIR")
	}
	b, err := topology.ReadFiles(paths...)
	if err != nil {
		return nil, err
	}
	for _, content := range b {
		if !utf8.Valid(content) {
			// JSON strings cannot carry these bytes (they would reach loomd
			// as U+FFFD and be judged as other text): the local check says
			// where they are, as loomd would.
			if _, err := topology.Load(paths...); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("a topology file is not UTF-8")
		}
	}
	return api.FilesOf(b), nil
}

// output is the -o flag of a command.
type output struct {
	format  string
	allowed []string
}

func (o *output) flag(cmd *cobra.Command, def string, allowed ...string) {
	o.allowed = append([]string{def}, allowed...)
	o.format = def
	cmd.Flags().StringVarP(&o.format, "output", "o", def, "output format: "+strings.Join(o.allowed, ", "))
}

func (o *output) check() error {
	for _, a := range o.allowed {
		if o.format == a {
			return nil
		}
	}
	return fmt.Errorf("-o %q: want %s", o.format, strings.Join(o.allowed, ", "))
}

// structured prints v as JSON or YAML when -o asks for it and tells
// whether it did.
func (o *output) structured(w io.Writer, v any) (bool, error) {
	switch o.format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return true, enc.Encode(v)
	case "yaml":
		// Through JSON, so that field names and omissions follow the json tags.
		b, err := json.Marshal(v)
		if err != nil {
			return true, err
		}
		var generic any
		if err := yaml.Unmarshal(b, &generic); err != nil {
			return true, err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		return true, enc.Encode(generic)
	}
	return false, nil
}

// colors paints states for terminals; --no-color, NO_COLOR or output that
// is not a terminal turn it off.
type colors struct{ on bool }

func (c colors) paint(code, s string) string {
	if !c.on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (c colors) green(s string) string  { return c.paint("32", s) }
func (c colors) red(s string) string    { return c.paint("31", s) }
func (c colors) yellow(s string) string { return c.paint("33", s) }
func (c colors) bold(s string) string   { return c.paint("1", s) }

// isTerminal tells whether w is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
