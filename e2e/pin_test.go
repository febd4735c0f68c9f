package e2e

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// certOf reads a PEM certificate: its SHA-256 (of the DER) and subject CN.
func certOf(t *testing.T, path string) (fp, cn string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(blk.Bytes)
	return hex.EncodeToString(sum[:]), c.Subject.CommonName
}

// TestPinnedCertificates: with the lab's PKI (ovs-pki), every host's
// certificate is signed by the one switch CA, so h1's certificate passes
// the CA check at h2's address. A pin in the topology refuses it: on
// OVSDB, on the OpenFlow listener (checked by loomd's own handshake, as
// ovs-ofctl cannot pin), with apply --direct and with loomd, changing
// nothing on the impostor; the same topology without the pin accepts it
// (the positive control), and loomd takes the host back once it presents
// its own certificate again.
func TestPinnedCertificates(t *testing.T) {
	t.Parallel()
	l, good := newTLSLab(t, "lm-t13-", 2)
	pki := filepath.Dir(filepath.Dir(filepath.Dir(good.ca))) // PKI/ca/switchca/cacert.pem
	fp1, cn1 := certOf(t, filepath.Join(pki, "h1-cert.pem"))
	fp2, cn2 := certOf(t, filepath.Join(pki, "h2-cert.pem"))
	t.Logf("h1: CN %q sha256 %s; h2: CN %q sha256 %s", cn1, fp1, cn2, fp2)
	if fp1 == fp2 || cn1 == cn2 {
		t.Fatal("the lab's hosts share a certificate")
	}

	w := ws{
		"p1": {"h1", "p1", "02:00:00:00:61:01", "192.0.2.1", "26"},
		"p2": {"h2", "p2", "02:00:00:00:61:02", "192.0.2.2", "26"},
	}
	w.add(l, "p1", "p2")
	dir := t.TempDir()
	write := func(name, h2 string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(fmt.Sprintf(`apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "ssl:198.18.0.11:6641", openflow: "ssl:198.18.0.11:6653", tunnelIP: 198.19.0.11, datapathType: netdev,
     tls: {sha256: "%s"}}
  - {name: h2, tunnelIP: 198.19.0.12, datapathType: netdev, %s}
switches:
  - {name: green, tunnelKey: 10, subnets: [192.0.2.0/26]}
ports:
  - {name: p1, switch: green, host: h1, mac: "02:00:00:00:61:01", ips: [192.0.2.1], interface: lm-p1}
  - {name: p2, switch: green, host: h2, mac: "02:00:00:00:61:02", ips: [192.0.2.2], interface: lm-p2}
`, strings.ToUpper(fp1), h2)), 0o644)
		return p
	}
	ssl := `ovsdb: "ssl:198.18.0.12:6641", openflow: "ssl:198.18.0.12:6653"`
	pinned := write("pinned.yaml", ssl+`, tls: {commonName: "`+cn2+`"}`)
	unpinned := write("unpinned.yaml", ssl)
	// OVSDB in clear, OpenFlow over ssl: only loomd's own handshake
	// checks the pin.
	ofOnly := write("openflow-only.yaml", `ovsdb: "tcp:198.18.0.12:6640", openflow: "ssl:198.18.0.12:6653", tls: {sha256: "`+fp2+`"}`)
	apply := func(topo string) (string, error) {
		return l.Loomctl(append([]string{"apply", "--direct", "-f", topo}, good.args()...)...)
	}

	out, err := apply(pinned)
	if err != nil || !regexp.MustCompile(`Applied: 2 hosts changed \(.*\), 0 in sync, 0 failed`).MatchString(out) {
		t.Fatalf("apply with the hosts' own certificates pinned: %v\n%s", err, out)
	}
	if err := l.Ping(w["p1"].ns(), w["p2"].ip, 5); err != nil {
		t.Fatal(err)
	}

	// h2 now presents h1's certificate (key and all): an impostor the CA
	// vouches for, on OVSDB and OpenFlow alike.
	presents := func(port int) string {
		out, _ := l.Exec("ctl", "sh", "-c", fmt.Sprintf("openssl s_client -connect 198.18.0.12:%d -cert %s -key %s </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
			port, good.cert, good.key))
		_, f, _ := strings.Cut(strings.TrimSpace(out), "=")
		return strings.ToLower(strings.ReplaceAll(f, ":", ""))
	}
	setSSL := func(host string) {
		l.MustExec("h2", "ovs-vsctl", "set-ssl", filepath.Join(pki, host+"-privkey.pem"), filepath.Join(pki, host+"-cert.pem"),
			filepath.Join(pki, "ca/controllerca/cacert.pem"))
	}
	setSSL("h1")
	waitFor(t, "h2 presenting h1's certificate on OVSDB and OpenFlow", 20*time.Second, func() bool {
		return presents(6641) == fp1 && presents(6653) == fp1
	})
	// Drift on h2 that any apply reaching it would repair.
	l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60")
	before := hostState(t, l, "h2")

	notPinned := "tls: not the certificate pinned for this host: the server presented the certificate of subject " +
		regexp.QuoteMeta(fmt.Sprintf("%q", cn1))
	for _, tc := range []struct{ name, topo, want string }{
		{"ovsdb", pinned, `(?m)^✗ h2: .*` + notPinned + `.*the topology pins common name ` + regexp.QuoteMeta(fmt.Sprintf("%q", cn2))},
		{"openflow", ofOnly, `(?m)^✗ h2: openflow ssl:198\.18\.0\.12:6653: ` + notPinned + ` with sha256 ` + fp1 + `, the topology pins sha256 ` + fp2},
	} {
		out, err := apply(tc.topo)
		if err == nil || !regexp.MustCompile(tc.want).MatchString(out) || !regexp.MustCompile(`Applied: 0 hosts changed \(.*\), 1 in sync, 1 failed`).MatchString(out) {
			t.Fatalf("%s: apply to the impostor: %v, want h2 refused (%s):\n%s", tc.name, err, tc.want, out)
		}
		noKeyMaterial(t, out, good.key)
		if after := hostState(t, l, "h2"); after != before {
			t.Fatalf("%s: h2 changed under a refused certificate:\nbefore:\n%s\nafter:\n%s", tc.name, before, after)
		}
		t.Logf("%s: %s", tc.name, regexp.MustCompile(`(?m)^✗ h2: .*$`).FindString(out))
	}

	// loomd: the pinned topology keeps h2 in error, h1 in sync.
	d := startPinnedLoomd(t, l, pinned, good)
	waitFor(t, "loomd: h1 in sync, h2 refused for its certificate", 30*time.Second, func() bool {
		h := d.hosts()
		return h["h1"].State == api.StateInSync && h["h2"].State == api.StateError &&
			strings.Contains(h["h2"].LastError, "not the certificate pinned for this host")
	})
	if after := hostState(t, l, "h2"); after != before {
		t.Fatalf("loomd changed h2 under a refused certificate:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// h2 presents its own certificate again: loomd takes it back and
	// repairs the drift.
	setSSL("h2")
	took := waitFor(t, "loomd: h2 in sync with its own certificate", 30*time.Second, func() bool {
		return d.hosts()["h2"].State == api.StateInSync
	})
	t.Logf("h2 in sync %v after it presented its own certificate again", took.Round(10*time.Millisecond))
	if err := l.Ping(w["p1"].ns(), w["p2"].ip, 5); err != nil {
		t.Fatal(err)
	}

	// h2 swaps to h1's certificate while loomd holds connections to it,
	// verified when they were made: loomd checks the pin again before it
	// sends flows, so a hand edit on h2 is not repaired through them, and
	// h2 is in error again.
	setSSL("h1")
	waitFor(t, "h2 presenting h1's certificate again", 20*time.Second, func() bool { return presents(6641) == fp1 })
	l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60")
	waitFor(t, "loomd: h2 refused again for its certificate", 30*time.Second, func() bool {
		h := d.hosts()["h2"]
		return h.State == api.StateError && strings.Contains(h.LastError, "not the certificate pinned for this host")
	})
	if out := l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "table=60"); strings.Contains(out, "cookie=") {
		t.Fatalf("loomd repaired h2 while it presented another host's certificate:\n%s", out)
	}
	d.stop()

	// The positive control: without the pin, the CA alone lets h1's
	// certificate pass at h2's address.
	if out, err := apply(unpinned); err != nil || !regexp.MustCompile(`(?m)^~ h2: .*, applied and verified$`).MatchString(out) {
		t.Fatalf("apply without the pin: %v, want h2 accepted (the CA signed h1's certificate):\n%s", err, out)
	}
}

// startPinnedLoomd runs loomd in the lab's controller namespace on topo
// with the lab's TLS files, until the test ends.
func startPinnedLoomd(t *testing.T, l *Lab, topo string, files tlsFiles) *loomd {
	t.Helper()
	dir := t.TempDir()
	d := &loomd{t: t, status: filepath.Join(dir, "status.json"), log: &syncBuffer{}}
	os.WriteFile(filepath.Join(dir, "none.yaml"), []byte("{}\n"), 0o644)
	d.cmd = exec.Command("ip", append([]string{"netns", "exec", l.Prefix + "ctl", binary(t, "loomd"),
		"--config", filepath.Join(dir, "none.yaml"), "--topology", topo, "--state-dir", filepath.Join(dir, "state"),
		"--probe-interval", "1s", "--backoff-max", "1s", "--host-timeout", "20s", "--status-file", d.status,
		"--listen", "127.0.0.1:9477"}, files.args()...)...)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d.stopAtEnd(t)
	return d
}
