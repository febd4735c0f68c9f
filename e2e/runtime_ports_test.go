package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

const runtimeTopology = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11, datapathType: netdev}
  - {name: h2, ovsdb: "tcp:198.18.0.12:6640", tunnelIP: 198.19.0.12, datapathType: netdev}
switches:
  - name: blue
    tunnelKey: 60
    subnets: [10.60.0.0/24]
    gateways: [10.60.0.1]
    excludeIPs: [10.60.0.2-10.60.0.9]
ports:
  - {name: web1, switch: blue, host: h1, mac: "02:00:00:00:60:10", ips: [10.60.0.10], interface: lm-web1}
`

// TestRuntimePortLab: a container's interface that no file names joins
// switch blue through loomd's runtime-ports API (as the CNI plugin will
// call it), gets its MAC and address from loomd, and pings a port of the
// files on another host with real packets, also after loomd restarted
// (the port and its address kept in loomd's state); deleted, its port and flows
// go from the host, its address is free again, and the ping stops.
//
// Controls: before the ADD the container, given an address of the
// subnet by hand, reaches nothing (no port: the interface is on no
// bridge); after the DELETE it reaches nothing again.
func TestRuntimePortLab(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t22-", 2)
	l.Workload("h1", "web1", "02:00:00:00:60:10", "10.60.0.10/24")
	// The container: its interface is made by the runtime, its address
	// is a stand-in until loomd gives one (10.60.0.3 is excluded from
	// the pool: loomd never hands it out).
	l.Workload("h2", "c1", "02:00:00:00:60:99", "10.60.0.3/24")
	topo := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(topo, []byte(runtimeTopology), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state")
	d := startLoomd(t, t, l, topo, "--state-dir", state)
	waitFor(t, "both hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2") })
	if err := l.Ping("h1-web1", "10.60.0.10", 1); err != nil {
		t.Fatalf("web1 cannot ping itself: %v", err)
	}
	if err := l.Ping("h2-c1", "10.60.0.10", 2); err == nil {
		t.Fatal("negative control: the container reaches web1 before it has a port")
	}

	out, err := l.Loomctl("runtime-port", "add", "blue", "--host", "h2", "--container-id", "5f2ac0ffee0123456789", "--ifname", "eth0",
		"--interface", "lm-c1", "--runtime", "cni", "-o", "json")
	if err != nil {
		t.Fatalf("runtime-port add: %v\n%s", err, out)
	}
	added := time.Now()
	var p api.RuntimePortResult
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("runtime-port add answer: %v\n%s", err, out)
	}
	t.Logf("loomd made %s: mac %s, ips %v, gateways %v, mtu %d, revision %d", p.Name, p.MAC, p.IPs, p.Gateways, p.MTU, p.Revision)
	if !p.Created || len(p.IPs) != 1 || !strings.HasPrefix(p.IPs[0], "10.60.0.") || !strings.HasSuffix(p.IPs[0], "/24") ||
		p.IPs[0] == "10.60.0.10/24" || strings.Join(p.Gateways, ",") != "10.60.0.1" || p.MTU != 1458 {
		t.Fatalf("runtime port: %+v", p)
	}
	// Configure the container as the CNI plugin will: loomd's MAC and
	// address on its interface.
	ns := "h2-c1"
	l.MustExec(ns, "ip", "link", "set", "eth0", "down")
	l.MustExec(ns, "ip", "link", "set", "eth0", "address", p.MAC)
	l.MustExec(ns, "ip", "addr", "flush", "dev", "eth0")
	l.MustExec(ns, "ip", "addr", "add", p.IPs[0], "dev", "eth0")
	l.MustExec(ns, "ip", "link", "set", "eth0", "up")
	atRevision := func(rev int64) func() bool {
		return func() bool {
			for _, h := range []string{"h1", "h2"} {
				s := d.hosts()[h]
				if s.State != api.StateInSync || s.Revision < rev {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, "hosts in sync with the runtime port", 30*time.Second, atRevision(p.Revision))
	t.Logf("hosts in sync with the runtime port %v after the ADD answered (the container configured in between)", time.Since(added).Round(time.Millisecond))
	ip := strings.TrimSuffix(p.IPs[0], "/24")
	if err := l.Ping(ns, "10.60.0.10", 5); err != nil {
		t.Fatalf("the runtime port does not reach web1: %v", err)
	}
	if err := l.Ping("h1-web1", ip, 3); err != nil {
		t.Fatalf("web1 does not reach the runtime port: %v", err)
	}
	flows := l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int")
	if !strings.Contains(flows, p.MAC) {
		t.Fatalf("h2 has no flow with the runtime port's MAC %s:\n%s", p.MAC, flows)
	}
	// A restart of loomd keeps the port, its address and its flows.
	d.kill()
	d = startLoomd(t, t, l, topo, "--state-dir", state)
	waitFor(t, "hosts in sync after loomd's restart", 60*time.Second, atRevision(p.Revision))
	if out, err := l.Loomctl("runtime-port", "ls"); err != nil || !strings.Contains(out, p.Name) || !strings.Contains(out, p.IPs[0]) || !strings.Contains(out, p.MAC) {
		t.Fatalf("runtime ports after loomd's restart: %v\n%s", err, out)
	}
	if err := l.Ping(ns, "10.60.0.10", 3); err != nil {
		t.Fatalf("after loomd's restart the runtime port does not reach web1: %v", err)
	}
	// loomctl shows it with its origin, and an ADD again is the same port.
	if out, err := l.Loomctl("get", "ports", p.Name); err != nil || !strings.Contains(out, "runtime cni 5f2ac0ffee01 eth0") {
		t.Fatalf("get ports: %v\n%s", err, out)
	}
	if out, err := l.Loomctl("runtime-port", "add", "blue", "--host", "h2", "--container-id", "5f2ac0ffee0123456789", "--ifname", "eth0",
		"--interface", "lm-c1", "--runtime", "cni"); err != nil || !strings.Contains(out, "already there") || !strings.Contains(out, p.IPs[0]) {
		t.Fatalf("ADD again: %v\n%s", err, out)
	}

	out, err = l.Loomctl("runtime-port", "del", "--container-id", "5f2ac0ffee0123456789", "--ifname", "eth0", "-o", "json")
	if err != nil {
		t.Fatalf("runtime-port del: %v\n%s", err, out)
	}
	var del api.RuntimePortDeleted
	if err := json.Unmarshal([]byte(out), &del); err != nil || !del.Deleted {
		t.Fatalf("del answer: %v %s", err, out)
	}
	waitFor(t, "hosts in sync without the runtime port", 30*time.Second, atRevision(del.Revision))
	if err := l.Ping(ns, "10.60.0.10", 3); err == nil {
		t.Fatal("the container still reaches web1 after its port was deleted")
	}
	if flows := l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int"); strings.Contains(flows, p.MAC) {
		t.Fatalf("h2 keeps flows of the deleted port:\n%s", flows)
	}
	if ports := l.MustExec("h2", "ovs-vsctl", "list-ports", "br-int"); strings.Contains(ports, "lm-c1") {
		t.Fatalf("h2 keeps the deleted port's interface on br-int:\n%s", ports)
	}
	// Its address is free: another container may take it.
	out, err = l.Loomctl("runtime-port", "add", "blue", "--host", "h1", "--container-id", "other", "--ifname", "eth0",
		"--interface", "lm-other", "--ip", ip, "-o", "json")
	if err != nil || !strings.Contains(out, p.IPs[0]) {
		t.Fatalf("the freed address %s is not free: %v\n%s", ip, err, out)
	}
	if out, err := l.Loomctl("runtime-port", "del", "--container-id", "other"); err != nil {
		t.Fatalf("del other: %v\n%s", err, out)
	}
}
