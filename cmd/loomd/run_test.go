package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs loomd's main instead of the tests when the helper
// variable says so: the tests of main's signal handling and exit code run
// the test binary as loomd.
func TestMain(m *testing.M) {
	if os.Getenv("LOOMD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Settings that loomd refuses before it touches anything: each error
// names the setting and what it wants.
func TestStartupErrors(t *testing.T) {
	cfg := noConfig(t)
	dir := t.TempDir()
	short := filepath.Join(dir, "short-token")
	os.WriteFile(short, []byte("tooshort\n"), 0o600)
	notPEM := filepath.Join(dir, "key.pem")
	os.WriteFile(notPEM, []byte("not a key\n"), 0o600)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		args []string
		err  string
	}{
		{"a duration of zero", []string{"--audit-interval", "0s"}, `audit-interval "0s": want a positive duration such as 30s`},
		{"a duration without a unit", []string{"--host-timeout", "60"}, `host-timeout "60": want a positive duration`},
		{"a bad reload interval", []string{"--reload-interval", "soon"}, `reload-interval "soon": want a positive duration`},
		{"flow-monitor not a boolean", []string{"--flow-monitor", "maybe"}, `flow-monitor "maybe": want true or false`},
		{"an unknown log level", []string{"--log-level", "loud"}, `log-level: unrecognized level: "loud"`},
		{"an unknown log format", []string{"--log-format", "xml"}, `log-format "xml": want json or console`},
		{"half the TLS files", []string{"--private-key", notPEM}, "tls: give all of the private key, the certificate and the CA certificate, or none"},
		{"TLS files that are not PEM", []string{"--private-key", notPEM, "--certificate", notPEM, "--ca-cert", notPEM}, notPEM},
		{"a missing token file", []string{"--token-file", filepath.Join(dir, "none")}, "token-file: open " + filepath.Join(dir, "none")},
		{"a short token", []string{"--token-file", short}, "token-file " + short + ": the token is shorter than 16 characters"},
		{"a bad edit limit", []string{"--api-max-edits", "many"}, `api-max-edits "many": want a whole number above 0`},
		{"a bad connection limit", []string{"--api-max-connections", "-1"}, `api-max-connections "-1": want a whole number above 0`},
		{"an address in use", []string{"--listen", taken.Addr().String()}, "listen " + taken.Addr().String()},
		{"metrics on an address in use", []string{"--listen", "", "--metrics-listen", taken.Addr().String()}, "metrics-listen: listen " + taken.Addr().String()},
		{"an address file in no folder", []string{"--listen", "127.0.0.1:0", "--address-file", filepath.Join(dir, "none", "addr")}, "address-file: open " + filepath.Join(dir, "none", "addr")},
		{"no state folder", []string{"--state-dir", ""}, "state-dir: not set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel() // should it start, it stops at once
			args := append([]string{"--config", cfg, "--state-dir", t.TempDir(), "--log-level", "error"}, tc.args...)
			err := run(ctx, args, io.Discard, nil)
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("run: %v, want %q", err, tc.err)
			}
			if strings.Contains(err.Error(), "not a key") {
				t.Errorf("the error shows a file's contents: %v", err)
			}
		})
	}
}

// loomd writes the address it listens on to address-file once it
// listens, and tells systemd (NOTIFY_SOCKET, abstract or not) that it is
// ready, then that it stops.
func TestAddressFileAndNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		name := "path"
		if abstract {
			name = "abstract"
		}
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "notify")
			if abstract {
				sock = "@loomd-test-" + filepath.Base(filepath.Dir(sock)) // Go makes @ names abstract
			}
			c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			t.Setenv("NOTIFY_SOCKET", sock)
			addrFile := filepath.Join(t.TempDir(), "addr")
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			started := make(chan net.Addr, 1)
			go func() {
				done <- run(ctx, []string{"--config", noConfig(t), "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0",
					"--log-level", "error", "--address-file", addrFile}, io.Discard, func(a, _ net.Addr) { started <- a })
			}()
			read := func() string {
				t.Helper()
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 256)
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("no notification: %v", err)
				}
				return string(buf[:n])
			}
			var addr net.Addr
			select {
			case addr = <-started:
			case err := <-done:
				t.Fatalf("loomd: %v", err)
			}
			if got := read(); got != "READY=1" {
				t.Errorf("first notification %q, want READY=1", got)
			}
			b, err := os.ReadFile(addrFile)
			if err != nil || strings.TrimSpace(string(b)) != addr.String() {
				t.Errorf("address-file holds %q (%v), want %s", b, err, addr)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("loomd: %v", err)
			}
			if got := read(); got != "STOPPING=1" {
				t.Errorf("last notification %q, want STOPPING=1", got)
			}
		})
	}
}

// loomd as a process: SIGTERM (and SIGINT) stop it cleanly (exit 0, "loomd
// stopped" logged); a bad setting ends it with exit code 1 and the error
// on stderr.
func TestMainProcess(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			addrFile := filepath.Join(t.TempDir(), "addr")
			cmd := exec.Command(os.Args[0], "--config", noConfig(t), "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0",
				"--address-file", addrFile)
			cmd.Env = append(os.Environ(), "LOOMD_TEST_MAIN=1", "NOTIFY_SOCKET=")
			stderr, err := cmd.StderrPipe() // the log
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill() //nolint:errcheck // if the test failed before the signal
			lines := make(chan string, 100)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(stderr)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			// Wait for the log line that says it serves, then signal.
			var log []string
			timeout := time.After(20 * time.Second)
		wait:
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("loomd ended before it started:\n%s", strings.Join(log, "\n"))
					}
					log = append(log, l)
					if strings.Contains(l, `"loomd started"`) {
						break wait
					}
				case <-timeout:
					t.Fatalf("loomd did not start within 20 s:\n%s", strings.Join(log, "\n"))
				}
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			// Should it not stop, it is killed, and Wait says so.
			stop := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() }) //nolint:errcheck
			defer stop.Stop()
			for l := range lines {
				log = append(log, l)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("loomd after %v: %v\n%s", sig, err, strings.Join(log, "\n"))
			}
			if !strings.Contains(strings.Join(log, "\n"), `"loomd stopped"`) {
				t.Errorf("no \"loomd stopped\" in the log:\n%s", strings.Join(log, "\n"))
			}
		})
	}
	t.Run("a bad setting", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "--config", noConfig(t), "--parallel-hosts", "3")
		cmd.Env = append(os.Environ(), "LOOMD_TEST_MAIN=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("loomd with an unknown flag: %v, want exit code 1", err)
		}
		if got := stderr.String(); got != "loomd: unknown flag: --parallel-hosts (loomd --help lists the flags)\n" {
			t.Errorf("stderr %q", got)
		}
	})
}
