package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/viper"
)

// noConfig points loomd at an empty config file, away from /etc/loom.
func noConfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "loomd.yaml")
	os.WriteFile(p, []byte("{}\n"), 0o644)
	return p
}

func TestArguments(t *testing.T) {
	cfg := noConfig(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:1\naudit-interva: 30s\n"), 0o644)
	for _, tc := range []struct {
		name   string
		args   []string
		err    string // in the error; "" for none
		stdout string // in stdout
	}{
		{"version as a word", []string{"version"}, `unexpected argument "version": for loomd's version: loomd --version`, ""},
		{"a positional argument", []string{"--config", cfg, "start"}, `unexpected argument "start": loomd takes only flags (loomd --help lists them)`, ""},
		{"an unknown flag", []string{"--listn", ":1"}, "unknown flag: --listn (loomd --help lists the flags)", ""},
		{"--version", []string{"--version"}, "", "loomd "},
		{"--help", []string{"--help"}, "", "--api-max-body string"},
		{"a misspelt key in the config file", []string{"--config", bad}, `config ` + bad + `: unknown setting "audit-interva" (loomd --help lists them)`, ""},
		{"a bad size", []string{"--config", cfg, "--api-max-body", "32MB"}, `api-max-body "32MB": want a size such as 32MiB, 512KiB or 1048576 (bytes)`, ""},
		{"a bad count", []string{"--config", cfg, "--api-max-calls", "0"}, `api-max-calls "0": want a whole number above 0`, ""},
		{"a token in clear off loopback", []string{"--config", cfg, "--listen", "0.0.0.0:0", "--token-file", token(t)},
			"the bearer token would cross the network in clear; set api-cert and api-key (HTTPS), or listen on a loopback address", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // should it start, it stops at once
			err := run(ctx, append(tc.args, "--state-dir", t.TempDir()), &out, nil)
			if tc.err == "" && err != nil {
				t.Fatalf("run: %v", err)
			}
			if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("run: %v, want %q", err, tc.err)
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout %q, want %q", out.String(), tc.stdout)
			}
		})
	}
}

func token(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "token")
	os.WriteFile(p, []byte("0123456789abcdef0123\n"), 0o600)
	return p
}

func TestSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "32MiB": 32 << 20, "512 KiB": 512 << 10, "1GiB": 1 << 30, "0": -1, "-1MiB": -1, "1.5MiB": -1, "1TiB": -1, "": -1} {
		v := viper.New()
		v.Set("k", in)
		got, err := size(v, "k")
		if (err != nil) != (want < 0) || (err == nil && got != want) {
			t.Errorf("size(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// start runs loomd with args until the test ends; it returns the
// addresses it serves.
func start(t *testing.T, args ...string) (apiAddr, metricsAddr net.Addr) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	addrs := make(chan [2]net.Addr, 1)
	go func() {
		done <- run(ctx, append([]string{"--config", noConfig(t), "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--log-level", "error"}, args...),
			io.Discard, func(a, m net.Addr) { addrs <- [2]net.Addr{a, m} })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("loomd: %v", err)
		}
	})
	select {
	case a := <-addrs:
		return a[0], a[1]
	case err := <-done:
		t.Fatalf("loomd: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("loomd did not start within 10s")
	}
	return nil, nil
}

func get(t *testing.T, url, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /metrics needs the API's credentials on the API's address, unless
// metrics-listen serves it apart (and then only there).
func TestMetricsAccess(t *testing.T) {
	const tok = "0123456789abcdef0123"
	t.Run("with the API", func(t *testing.T) {
		a, m := start(t, "--token-file", token(t))
		if m != nil {
			t.Fatalf("metrics served apart at %v", m)
		}
		if code, body := get(t, "http://"+a.String()+"/metrics", ""); code != 401 || !strings.Contains(body, "credentials") {
			t.Errorf("without the token: %d %s", code, body)
		}
		if code, body := get(t, "http://"+a.String()+"/metrics", tok); code != 200 || !strings.Contains(body, "go_goroutines") {
			t.Errorf("with the token: %d", code)
		}
		if code, _ := get(t, "http://"+a.String()+"/healthz", ""); code != 200 {
			t.Errorf("healthz: %d", code)
		}
	})
	t.Run("no credentials set", func(t *testing.T) {
		a, _ := start(t)
		if code, _ := get(t, "http://"+a.String()+"/metrics", ""); code != 200 {
			t.Errorf("metrics of a loopback loomd without credentials: %d", code)
		}
	})
	t.Run("apart", func(t *testing.T) {
		a, m := start(t, "--token-file", token(t), "--metrics-listen", "127.0.0.1:0")
		if m == nil {
			t.Fatal("metrics not served apart")
		}
		if code, body := get(t, "http://"+m.String()+"/metrics", ""); code != 200 || !strings.Contains(body, "go_goroutines") {
			t.Errorf("metrics apart: %d", code)
		}
		if code, _ := get(t, "http://"+m.String()+"/api/v1/status", tok); code != 404 {
			t.Errorf("the API on the metrics address: %d", code)
		}
		if code, _ := get(t, "http://"+a.String()+"/metrics", tok); code != 404 {
			t.Errorf("metrics on the API's address too: %d", code)
		}
	})
}

// Every setting comes from a flag, else the environment, else the config
// file, else its default.
func TestSettingsPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "loomd.yaml")
	os.WriteFile(cfg, []byte("reload-interval: 3s\nparallel: 3\nlog-level: warn\naudit-interval: 7s\n"), 0o644)
	t.Setenv("LOOM_PARALLEL", "5")
	t.Setenv("LOOM_LOG_LEVEL", "error")
	t.Setenv("LOOM_AUDIT_INTERVAL", "9s")
	v, err := settings([]string{"--config", cfg, "--log-level", "debug"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"log-level":       "debug", // flag over environment and file
		"parallel":        "5",     // environment over file
		"audit-interval":  "9s",    // environment over file
		"reload-interval": "3s",    // file over default
		"probe-interval":  "5s",    // default
	} {
		if got := v.GetString(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	// The config file itself may come from the environment.
	t.Setenv("LOOM_CONFIG", cfg)
	t.Setenv("LOOM_PARALLEL", "")
	if v, err = settings(nil, io.Discard); err != nil || v.GetString("parallel") != "3" {
		t.Errorf("config from LOOM_CONFIG: parallel %q, err %v; want 3 from the file", v.GetString("parallel"), err)
	}
	// A config file named but missing is an error; the default one may be
	// missing.
	if _, err := settings([]string{"--config", filepath.Join(t.TempDir(), "none.yaml")}, io.Discard); err == nil {
		t.Error("a missing config file named by --config: no error")
	}
	t.Setenv("LOOM_CONFIG", filepath.Join(t.TempDir(), "none.yaml"))
	if _, err := settings(nil, io.Discard); err == nil {
		t.Error("a missing config file named by LOOM_CONFIG: no error")
	}
}
