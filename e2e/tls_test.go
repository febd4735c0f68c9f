package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tlsFiles are the controller's files for ssl: hosts.
type tlsFiles struct{ key, cert, ca string }

func (f tlsFiles) args() []string {
	return []string{"--private-key", f.key, "--certificate", f.cert, "--ca-cert", f.ca}
}

// newTLSLab makes a lab of n hosts with the lab's PKI (lab.sh pki: every
// switch listens on ssl: with its own certificate) and returns it with the
// controller's files. It needs ovs-pki: a failure in CI, a skip elsewhere.
func newTLSLab(t *testing.T, prefix string, n int) (*Lab, tlsFiles) {
	t.Helper()
	requireLab(t)
	if _, err := exec.LookPath("ovs-pki"); err != nil {
		msg := t.Name() + " needs ovs-pki (Debian: openvswitch-common, which openvswitch-switch depends on)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	l := NewLab(t, prefix, n)
	start := time.Now()
	if out, err := l.script("pki"); err != nil {
		t.Fatalf("lab pki: %v\n%s", err, out)
	}
	t.Logf("lab pki in %v", time.Since(start).Round(time.Millisecond))
	env := labEnv(t, l, "ctl")
	files := tlsFiles{env["LOOM_PRIVATE_KEY"], env["LOOM_CERTIFICATE"], env["LOOM_CA_CERT"]}
	if files.key == "" || files.cert == "" || files.ca == "" {
		t.Fatalf("lab env ctl gives no controller files: %v", env)
	}
	return l, files
}

// tlsTopology is two hosts reached over ssl: (OVSDB and OpenFlow) with a
// workload each on switch green: s1 (192.0.2.1 on h1) and s2 (192.0.2.2
// on h2). It makes the workloads and writes the file.
func tlsTopology(t *testing.T, l *Lab) (string, ws) {
	w := ws{
		"s1": {"h1", "s1", "02:00:00:00:60:01", "192.0.2.1", "26"},
		"s2": {"h2", "s2", "02:00:00:00:60:02", "192.0.2.2", "26"},
	}
	w.add(l, "s1", "s2")
	topo := filepath.Join(t.TempDir(), "tls.yaml")
	os.WriteFile(topo, []byte(`apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "ssl:198.18.0.11:6641", openflow: "ssl:198.18.0.11:6653", tunnelIP: 198.19.0.11, datapathType: netdev}
  - {name: h2, ovsdb: "ssl:198.18.0.12:6641", openflow: "ssl:198.18.0.12:6653", tunnelIP: 198.19.0.12, datapathType: netdev}
switches:
  - {name: green, tunnelKey: 10, subnets: [192.0.2.0/26]}
ports:
  - {name: s1, switch: green, host: h1, mac: "02:00:00:00:60:01", ips: [192.0.2.1], interface: lm-s1}
  - {name: s2, switch: green, host: h2, mac: "02:00:00:00:60:02", ips: [192.0.2.2], interface: lm-s2}
`), 0o644)
	return topo, w
}

// labEnv is what `lab.sh env HOST` exports.
func labEnv(t *testing.T, l *Lab, host string) map[string]string {
	t.Helper()
	out, err := l.script("env", host)
	if err != nil {
		t.Fatalf("lab env %s: %v\n%s", host, err, out)
	}
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if ok {
			m[k] = v
		}
	}
	return m
}

// otherPKI makes, with ovs-pki, a PKI that has nothing to do with the
// lab's: its controller certificate and its switch CA.
func otherPKI(t *testing.T) tlsFiles {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{{"init"}, {"--unique", "--batch", "req+sign", "ctl", "controller"}} {
		cmd := exec.Command("ovs-pki", append([]string{"--dir=" + dir + "/ca", "--log=" + dir + "/log"}, args...)...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ovs-pki %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return tlsFiles{dir + "/ctl-privkey.pem", dir + "/ctl-cert.pem", dir + "/ca/switchca/cacert.pem"}
}

// noKeyMaterial fails the test if out shows any line of the key file.
func noKeyMaterial(t *testing.T, out, keyFile string) {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(out, line) {
			t.Fatalf("output shows the private key:\n%s", out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("output shows a PEM key:\n%s", out)
	}
}

// hostState is what Loom may change on a host: its integration bridge in
// OVSDB and the flows, in a form that stays put when nothing changes.
func hostState(t *testing.T, l *Lab, host string) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{
		{"ovs-vsctl", "list-ports", "br-int"},
		{"ovs-vsctl", "get-controller", "br-int"},
		{"ovs-vsctl", "--columns=name,type,options,ofport_request,external_ids", "list", "Interface"},
		{"ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "--no-stats"},
	} {
		b.WriteString(l.MustExec(host, args...))
	}
	return b.String()
}

// TestTLS: OVSDB over ssl: with a client certificate and OpenFlow over ssl:,
// with certificates from ovs-pki, which name no IP address. A controller
// certificate from another CA, or another switch CA, is refused on every
// host, and nothing changes.
func TestTLS(t *testing.T) {
	t.Parallel()
	l, good := newTLSLab(t, "lm-t6-", 2)
	topo, w := tlsTopology(t, l)
	apply := func(files tlsFiles, extra ...string) (string, error) {
		return l.Loomctl(append(append([]string{"apply", "--direct", "-f", topo}, files.args()...), extra...)...)
	}

	start := time.Now()
	out, err := apply(good)
	if err != nil || !regexp.MustCompile(`Applied: 2 hosts changed \(.*\), 0 in sync, 0 failed`).MatchString(out) {
		t.Fatalf("apply over ssl: %v\n%s", err, out)
	}
	t.Logf("apply over ssl (2 hosts from empty) in %v", time.Since(start).Round(time.Millisecond))
	noKeyMaterial(t, out, good.key)
	for _, p := range [][2]string{{"s1", "s2"}, {"s2", "s1"}} {
		if err := l.Ping(w[p[0]].ns(), w[p[1]].ip, 5); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("openflow over ssl", func(t *testing.T) {
		for host, ip := range map[string]string{"h1": "198.18.0.11", "h2": "198.18.0.12"} {
			// The bridge's only listener is pssl:.
			if got := strings.TrimSpace(l.MustExec(host, "ovs-vsctl", "get-controller", "br-int")); got != "pssl:6653:"+ip {
				t.Errorf("%s: controller target %q, want pssl:6653:%s", host, got, ip)
			}
			// It does not speak plain OpenFlow.
			if out, err := l.Exec("ctl", "ovs-ofctl", "-O", "OpenFlow13", "--timeout=3", "show", "tcp:"+ip+":6653"); err == nil {
				t.Errorf("%s: plain OpenFlow on the ssl listener works:\n%s", host, out)
			}
			// ovs-vswitchd counted the bundle's flow mods on a connection
			// from the controller over ssl (logged when it closes).
			logFile := filepath.Join(labEnv(t, l, host)["OVS_LOGDIR"], "ovs-vswitchd.log")
			re := regexp.MustCompile(`br-int<->ssl:198\.18\.0\.1:\d+: (\d+) flow_mods`)
			var m []string
			waitFor(t, host+": flow mods over ssl in ovs-vswitchd.log", 10*time.Second, func() bool {
				b, _ := os.ReadFile(logFile)
				m = re.FindStringSubmatch(string(b))
				return m != nil
			})
			t.Logf("%s: %s", host, m[0])
			if b, _ := os.ReadFile(logFile); bytes.Contains(b, []byte("br-int<->tcp:")) {
				t.Errorf("%s: an OpenFlow connection over tcp:", host)
			}
		}
	})

	t.Run("second apply changes nothing", func(t *testing.T) {
		// The files from the environment this time, as `lab.sh env ctl` sets them.
		cmd := exec.Command("ip", "netns", "exec", l.Prefix+"ctl", binary(t, "loomctl"), "apply", "--direct", "-f", topo)
		cmd.Env = append(os.Environ(), "LOOM_PRIVATE_KEY="+good.key, "LOOM_CERTIFICATE="+good.cert, "LOOM_CA_CERT="+good.ca)
		b, err := cmd.CombinedOutput()
		if out := string(b); err != nil || !strings.Contains(out, "nothing changed on any switch") {
			t.Fatalf("second apply: %v\n%s", err, out)
		}
	})

	t.Run("certificates of another CA", func(t *testing.T) {
		// Drift on h1 that any apply that reaches it would repair.
		l.MustExec("h1", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60")
		before := map[string]string{"h1": hostState(t, l, "h1"), "h2": hostState(t, l, "h2")}
		other := otherPKI(t)
		for _, tc := range []struct {
			name  string
			files tlsFiles
			want  string
		}{
			// Loom does not trust the switches.
			{"controller and CA of another PKI", other, "certificate signed by unknown authority"},
			{"CA of another PKI", tlsFiles{good.key, good.cert, other.ca}, "certificate signed by unknown authority"},
			// The switches do not trust Loom.
			{"controller certificate of another CA", tlsFiles{other.key, other.cert, good.ca}, "refused the TLS session: remote error: tls: unknown certificate authority"},
		} {
			out, err := apply(tc.files)
			if err == nil {
				t.Fatalf("%s: apply succeeded:\n%s", tc.name, out)
			}
			noKeyMaterial(t, out, tc.files.key)
			for _, h := range []string{"h1", "h2"} {
				re := regexp.MustCompile(`(?m)^✗ ` + h + `: .*` + regexp.QuoteMeta(tc.want))
				if !re.MatchString(out) {
					t.Errorf("%s: %s did not fail with %q:\n%s", tc.name, h, tc.want, out)
				}
			}
			if !regexp.MustCompile(`Applied: 0 hosts changed \(.*\), 0 in sync, 2 failed`).MatchString(out) {
				t.Errorf("%s: summary:\n%s", tc.name, out)
			}
			t.Logf("%s: %s", tc.name, strings.SplitN(out, "\n", 2)[0])
		}
		for h, s := range before {
			if after := hostState(t, l, h); after != s {
				t.Errorf("%s changed under refused certificates:\nbefore:\n%s\nafter:\n%s", h, s, after)
			}
		}
		// The right files repair the drift.
		out, err := apply(good)
		if err != nil || !regexp.MustCompile(`(?m)^~ h1: .*, applied and verified$`).MatchString(out) || !strings.Contains(out, "h2: in sync") {
			t.Fatalf("apply after the refusals: %v\n%s", err, out)
		}
		if err := l.Ping(w["s1"].ns(), w["s2"].ip, 5); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("unreadable key", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "ctl-privkey.pem")
		out, err := apply(tlsFiles{missing, good.cert, good.ca})
		if err == nil || !strings.Contains(out, missing) || strings.Contains(out, "h1") {
			t.Fatalf("apply with a missing key: %v, want an error naming it before any host:\n%s", err, out)
		}
		// Only some of the files.
		out, err = l.Loomctl("plan", "--direct", "-f", topo, "--private-key", good.key)
		if err == nil || !strings.Contains(out, "or none") || strings.Contains(out, "h1") {
			t.Fatalf("plan with only a key: %v\n%s", err, out)
		}
		// None: ssl: hosts fail, saying what they need.
		out, err = l.Loomctl("plan", "--direct", "-f", topo)
		if err == nil || strings.Count(out, "an ssl: address needs a private key, a certificate and a CA certificate") != 2 {
			t.Fatalf("plan without TLS: %v\n%s", err, out)
		}
	})
}
