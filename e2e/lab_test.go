package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the repository's top folder, from this file's place.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// requireLab skips (or, in CI, fails) when the lab cannot run here.
func requireLab(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"ovsdb-server", "ovs-vswitchd", "ovs-vsctl", "ovs-ofctl", "ip", "ethtool", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("end-to-end tests need %s (make deps installs the packages)", strings.Join(missing, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the path of a command of the repository (loomctl, or the
// tests' lmtcp), all built once per test run.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "loom-e2e-bin")
		if buildErr != nil {
			return
		}
		// loomd is a test build: with the tag faultinject it can be made
		// to send bundles the switch refuses (see ofctl/faultinject.go).
		for _, args := range [][]string{
			{"build", "-o", binDir + "/", "./cmd/loomctl", "./cmd/loom-cni", "./cmd/loom-docker", "./e2e/lmtcp"},
			{"build", "-tags", "faultinject", "-o", binDir + "/", "./cmd/loomd"},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = repoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build: %v\n%s", err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, name)
}

// Lab is a lab of simulated hosts made by deploy/lab/lab.sh.
type Lab struct {
	t      *testing.T
	Prefix string
}

// NewLab brings up a lab of n hosts with the given prefix and tears it
// down when the test ends.
//
// LOOM_E2E_PREFIX, if set, is the prefix of every lab instead (to run
// tests one at a time beside other runs of them on one machine).
func NewLab(t *testing.T, prefix string, n int) *Lab {
	t.Helper()
	requireLab(t)
	if p := os.Getenv("LOOM_E2E_PREFIX"); p != "" {
		prefix = p
	}
	l := &Lab{t: t, Prefix: prefix}
	t.Cleanup(func() {
		if out, err := l.script("down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	start := time.Now()
	if out, err := l.script("up", fmt.Sprint(n)); err != nil {
		t.Fatalf("lab up %d: %v\n%s", n, err, out)
	}
	t.Logf("lab %s up with %d hosts in %v", prefix, n, time.Since(start).Round(time.Millisecond))
	return l
}

func (l *Lab) script(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(repoRoot(), "deploy/lab/lab.sh"), args...)
	cmd.Env = append(os.Environ(), "LOOM_LAB_PREFIX="+l.Prefix)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Workload adds a workload namespace on host with interface lm-NAME.
func (l *Lab) Workload(host, name, mac, cidr string) {
	l.t.Helper()
	if out, err := l.script("workload", "add", host, name, mac, cidr); err != nil {
		l.t.Fatalf("workload add %s %s: %v\n%s", host, name, err, out)
	}
}

// Physnet adds a physical network: a VLAN switch in namespace PREFIXpn-NAME
// with a trunk (VLANs 1-4094 tagged) to each of hosts (all hosts if none);
// a host's end of its trunk is its NIC lm-pn-NAME, in no OVS bridge.
func (l *Lab) Physnet(name string, hosts ...string) {
	l.t.Helper()
	if out, err := l.script(append([]string{"physnet", "add", name}, hosts...)...); err != nil {
		l.t.Fatalf("physnet add %s: %v\n%s", name, err, out)
	}
}

// Server adds a server namespace PREFIXpn-PHYSNET-NAME whose eth0 is an
// access port of the physnet in the given VLAN.
func (l *Lab) Server(physnet, name string, vlan int, mac, cidr string) {
	l.t.Helper()
	if out, err := l.script("server", "add", physnet, name, fmt.Sprint(vlan), mac, cidr); err != nil {
		l.t.Fatalf("server add %s %s: %v\n%s", physnet, name, err, out)
	}
}

// VTEP adds an external tunnel endpoint (typ "vxlan" or "gretap") in
// namespace PREFIXvt-NAME, with underlay address ip (in 198.19.0.0/24) and
// tunnel key key; the station behind it has mac and cidr. A vxlan VTEP
// floods to peers (every host's tunnel IP if none); gretap takes exactly one.
func (l *Lab) VTEP(name, typ, ip string, key int, mac, cidr string, peers ...string) {
	l.t.Helper()
	args := append([]string{"vtep", "add", name, typ, ip, fmt.Sprint(key), mac, cidr}, peers...)
	if out, err := l.script(args...); err != nil {
		l.t.Fatalf("vtep add %s: %v\n%s", name, err, out)
	}
}

// Exec runs a command in a lab namespace (h1, ctl, h1-web1, pn-phys1-srv1,
// vt-vtep1, ...) and
// returns its combined output and error.
func (l *Lab) Exec(ns string, args ...string) (string, error) {
	return l.script(append([]string{"exec", ns}, args...)...)
}

// MustExec is Exec that fails the test on error.
func (l *Lab) MustExec(ns string, args ...string) string {
	l.t.Helper()
	out, err := l.Exec(ns, args...)
	if err != nil {
		l.t.Fatalf("%s: %s: %v\n%s", ns, strings.Join(args, " "), err, out)
	}
	return out
}

// Loomctl runs loomctl in the lab's controller namespace, as an operator
// on the management node would.
func (l *Lab) Loomctl(args ...string) (string, error) {
	bin := binary(l.t, "loomctl")
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.Prefix + "ctl", bin}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Ping sends pings from workload namespace ns to ip until one is answered
// or tries run out. The first packet to a new tunnel endpoint may be lost
// while OVS resolves its neighbour, so one lost ping proves nothing.
func (l *Lab) Ping(ns, ip string, tries int) error {
	var out string
	var err error
	for i := 0; i < tries; i++ {
		out, err = l.Exec(ns, "ping", "-c", "1", "-W", "1", ip)
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("ping %s -> %s: %v\n%s", ns, ip, err, out)
}

// Daemon breaks or mends an OVS daemon of a lab host: action is "stop"
// (ovs-appctl exit), "kill" (SIGKILL, as a crash), "start" or "restart",
// daemon "ovsdb" or "vswitchd". Start returns when the host works again
// (for ovsdb, once ovs-vswitchd has reconnected, up to 8 s of OVS's
// backoff; for vswitchd, once br-phy and the underlay work). OpenFlow flows
// do not survive a stop or kill of vswitchd; OVSDB contents do.
func (l *Lab) Daemon(host, action, daemon string) {
	l.t.Helper()
	start := time.Now()
	if out, err := l.script("daemon", host, action, daemon); err != nil {
		l.t.Fatalf("daemon %s %s %s: %v\n%s", host, action, daemon, err, out)
	}
	l.t.Logf("daemon %s %s %s in %v", host, action, daemon, time.Since(start).Round(time.Millisecond))
}

// MgmtLink takes a host's management link down (the controller cannot
// reach its OVSDB; its data plane keeps running) or up (returns once the
// host reaches the controller's namespace again).
func (l *Lab) MgmtLink(host string, up bool) {
	l.t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if out, err := l.script("link", host, "mgmt", state); err != nil {
		l.t.Fatalf("link %s mgmt %s: %v\n%s", host, state, err, out)
	}
}
