package ofctl

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
)

// fakeOfctl replaces ovs-ofctl with a script that records its arguments,
// one call a line, and prints what FlowCount parses.
func fakeOfctl(t *testing.T) (calls func() []string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	script := filepath.Join(dir, "ovs-ofctl")
	body := "#!/bin/sh\necho \"$*\" >>" + log + "\ncat >/dev/null\ncase \"$*\" in *dump-aggregate*) echo 'NXST_AGGREGATE reply (xid=0x4): packet_count=0 byte_count=0 flow_count=0';; esac\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	old := ofctlBin
	ofctlBin = script
	t.Cleanup(func() { ofctlBin = old })
	return func() []string {
		b, _ := os.ReadFile(log)
		os.Remove(log)
		return strings.Split(strings.TrimSpace(string(b)), "\n")
	}
}

// Every command on an ssl: target carries the key, certificate and CA
// certificate; on tcp: none.
func TestSSLFlagsOnEveryCall(t *testing.T) {
	calls := fakeOfctl(t)
	files := SSL{PrivateKey: "/k/ctl-privkey.pem", Certificate: "/k/ctl-cert.pem", CACert: "/k/switchca.pem"}
	flags := []string{"--private-key=/k/ctl-privkey.pem", "--certificate=/k/ctl-cert.pem", "--ca-cert=/k/switchca.pem"}
	plan := &Plan{Groups: []Group{{Table: 0, Cookie: 1}}, Adds: []flows.Flow{{Priority: 1}}}
	ctx := context.Background()
	for _, tc := range []struct {
		target string
		opts   []Option
		want   bool
	}{
		{"ssl:198.18.0.11:6653", []Option{WithSSL(files)}, true},
		{"tcp:198.18.0.11:6653", []Option{WithSSL(files)}, false},
		{"tcp:198.18.0.11:6653", nil, false},
	} {
		c := New(tc.target, tc.opts...)
		if _, err := c.Dump(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := c.FlowCount(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(ctx, plan); err != nil {
			t.Fatal(err)
		}
		got := calls()
		if len(got) != 4 {
			t.Fatalf("%s: %d calls, want 4: %q", tc.target, len(got), got)
		}
		for _, call := range got {
			if !strings.Contains(call, tc.target) {
				t.Errorf("call without the target %s: %s", tc.target, call)
			}
			for _, f := range flags {
				if has := strings.Contains(call, f); has != tc.want {
					t.Errorf("%s: flag %s present=%v in: %s", tc.target, f, has, call)
				}
			}
		}
	}
}

// An ssl: target without files fails at once, naming what is missing,
// without running ovs-ofctl.
func TestSSLWithoutFiles(t *testing.T) {
	calls := fakeOfctl(t)
	ctx := context.Background()
	for _, c := range []*Client{New("ssl:198.18.0.11:6653"), New("ssl:198.18.0.11:6653", WithSSL(SSL{PrivateKey: "/k"}))} {
		_, err1 := c.Dump(ctx)
		_, err2 := c.FlowCount(ctx)
		err3 := c.WaitReady(ctx)
		err4 := c.Apply(ctx, &Plan{Groups: []Group{{}}})
		for _, err := range []error{err1, err2, err3, err4} {
			if err == nil || !strings.Contains(err.Error(), "needs a private key, a certificate and a CA certificate") {
				t.Errorf("err = %v", err)
			}
		}
	}
	if got := calls(); len(got) != 1 || got[0] != "" {
		t.Errorf("ovs-ofctl was run: %q", got)
	}
}
