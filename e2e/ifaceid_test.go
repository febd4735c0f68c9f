package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/plumb"
)

// ifaceIDTopology: a1 on h1 and b1 on h2 bound by interface name, c1 on
// h2 bound by iface-id c1-id (someone else puts its interface on br-int).
const ifaceIDTopology = `apiVersion: loom/v1
hosts:
  - {name: h1, ovsdb: "tcp:198.18.0.11:6640", tunnelIP: 198.19.0.11, datapathType: netdev}
  - {name: h2, ovsdb: "tcp:198.18.0.12:6640", tunnelIP: 198.19.0.12, datapathType: netdev}
switches:
  - {name: green, tunnelKey: 10, subnets: [192.0.2.0/26]}
ports:
  - {name: a1, switch: green, host: h1, mac: "02:00:00:00:10:01", ips: [192.0.2.1], interface: lm-a1}
  - {name: b1, switch: green, host: h2, mac: "02:00:00:00:10:02", ips: [192.0.2.2], interface: lm-b1}
`

const ifaceIDPort = `  - {name: c1, switch: green, host: h2, mac: "02:00:00:00:10:03", ips: [192.0.2.3], ifaceID: c1-id}
`

// TestIfaceIDBinding: a port of the topology bound by ifaceID is bound to
// whatever interface appears on the host's bridge with that
// external_ids:iface-id, as OVN and OpenStack runtimes put them there.
// Before it exists the port waits (named in the status) and the host's
// other ports work; ovs-vsctl add-port with the iface-id makes it ping
// across hosts; del-port stops it (with a positive control) and it comes
// back, renumbered, when the interface is added again; a second interface
// with the same iface-id is a problem naming both, without flapping; a
// port that leaves the topology leaves the interface on the bridge with
// Loom's marks removed; a foreign port without an iface-id is never
// written.
func TestIfaceIDBinding(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t37-", 2)
	w := ws{
		"a1": {"h1", "a1", "02:00:00:00:10:01", "192.0.2.1", "26"},
		"b1": {"h2", "b1", "02:00:00:00:10:02", "192.0.2.2", "26"},
		"c1": {"h2", "c1", "02:00:00:00:10:03", "192.0.2.3", "26"},
		"c2": {"h2", "c2", "02:00:00:00:10:04", "192.0.2.4", "26"},
		"f1": {"h2", "f1", "02:00:00:00:10:05", "192.0.2.5", "26"},
		"r1": {"h2", "r1", "02:00:00:00:10:06", "192.0.2.6", "26"},
	}
	w.add(l, "a1", "b1", "c1", "c2", "f1")
	vsctl := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(l.MustExec("h2", append([]string{"ovs-vsctl", "--timeout=10"}, args...)...))
	}
	// The foreign port: on Loom's bridge, no iface-id. Its configuration
	// is compared at the end.
	foreignCols := "--columns=_uuid,name,ofport,ofport_request,external_ids,options,other_config,mtu_request,type"
	topo := filepath.Join(t.TempDir(), "topology.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(topo, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ifaceIDTopology + ifaceIDPort)
	d := startLoomd(t, t, l, topo)
	waitPrefix := `port c1: waiting for interface with iface-id "c1-id" on host h2`
	waiting := func() bool {
		h := d.hosts()["h2"]
		return h.State == api.StateDegraded && h.AtRevision() && len(h.PortsDown) == 1 &&
			strings.HasPrefix(h.PortsDown[0].Problem, waitPrefix) && h.PortsDown[0].Object == "port/c1"
	}
	waitFor(t, "h1 in sync, h2 degraded with c1 waiting", 60*time.Second, func() bool {
		return d.hosts()["h1"].State == api.StateInSync && waiting()
	})
	vsctl("add-port", "br-int", "lm-f1")
	vsctl("wait-until", "Interface", "lm-f1", "ofport>0")
	foreign := vsctl(foreignCols, "list", "Interface", "lm-f1")
	foreignPort := vsctl("--columns=_uuid,name,external_ids,interfaces", "list", "Port", "lm-f1")
	ofport := func(iface string) string { return vsctl("get", "Interface", iface, "ofport") }
	// The OpenFlow port the compiler gave c1 (the flows' in_port).
	var want string
	if out, err := l.Loomctl("compile", "-f", topo, "--host", "h2"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			if rest, ok := strings.CutPrefix(line, "# port bound by iface-id c1-id (ofport "); ok {
				want, _, _ = strings.Cut(rest, ",")
			}
		}
	}
	if want == "" {
		t.Error("loomctl compile names no ofport for c1")
	}

	// Positive control: the host's other ports work while c1 waits.
	if err := l.Ping(w["a1"].ns(), w["b1"].ip, 5); err != nil {
		t.Fatalf("a1 -> b1 while c1 waits: %v", err)
	}
	if out, err := l.Loomctl("status"); err == nil || !strings.Contains(out, waitPrefix) {
		t.Errorf("loomctl status: want exit 1 and c1 waiting: %v\n%s", err, out)
	}
	if out, err := l.Loomctl("show"); err != nil || !strings.Contains(out, "port c1 on h2 [down]") || !strings.Contains(out, "port b1 on h2 [in sync]") {
		t.Errorf("loomctl show: c1 down, b1 in sync: %v\n%s", err, out)
	}
	if err := l.Ping(w["a1"].ns(), w["c1"].ip, 2); err == nil {
		t.Fatalf("a1 reaches c1 before its interface is on the bridge")
	}

	bound := func(what string) time.Duration {
		t.Helper()
		start := time.Now()
		took := waitFor(t, what, 20*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.State == api.StateInSync && len(h.PortsDown) == 0
		})
		if err := l.Ping(w["a1"].ns(), w["c1"].ip, 20); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: h2 in sync after %v, a1 pings c1 %v after the add-port", what, took.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		return took
	}

	t.Run("the interface appears with the iface-id: bound, pings across hosts", func(t *testing.T) {
		vsctl("add-port", "br-int", "lm-c1", "--", "set", "Interface", "lm-c1", "external_ids:iface-id=c1-id", "external_ids:vm=mine")
		bound("c1 bound")
		if got := vsctl("get", "Interface", "lm-c1", "external_ids"); got != `{iface-id=c1-id, loom-bound="port/c1", vm=mine}` {
			t.Errorf("lm-c1's external_ids: %s", got)
		}
		if got := vsctl("get", "Port", "lm-c1", "external_ids"); got != "{}" {
			t.Errorf("lm-c1's Port row was written: external_ids %s", got)
		}
		if want != "" && ofport("lm-c1") != want {
			t.Errorf("lm-c1 has ofport %s, the flows name %s", ofport("lm-c1"), want)
		}
		if err := l.Ping(w["c1"].ns(), w["b1"].ip, 5); err != nil {
			t.Error(err)
		}
		if !planClean(l, topo) {
			out, _ := l.Loomctl("plan", "--direct", "-f", topo)
			t.Errorf("plan after the binding:\n%s", out)
		}
	})

	t.Run("a second interface with the iface-id: a problem naming both, no flapping", func(t *testing.T) {
		vsctl("add-port", "br-int", "lm-c2", "--", "set", "Interface", "lm-c2", "external_ids:iface-id=c1-id")
		vsctl("wait-until", "Interface", "lm-c2", "ofport>0")
		c2port := ofport("lm-c2")
		problem := `port c1: interfaces lm-c1, lm-c2 on host h2 all have iface-id "c1-id": lm-c1 stays bound, the others are not (remove the iface-id from lm-c2)`
		waitFor(t, "the problem in h2's status", 10*time.Second, func() bool {
			h := d.hosts()["h2"]
			return len(h.PortsDown) == 1 && h.PortsDown[0].Problem == problem
		})
		reconciles := d.hosts()["h2"].Reconciles
		for range 5 { // no flapping: the same binding, ping after ping
			if err := l.Ping(w["a1"].ns(), w["c1"].ip, 3); err != nil {
				t.Error(err)
			}
			if h := d.hosts()["h2"]; len(h.PortsDown) != 1 || h.PortsDown[0].Problem != problem {
				t.Errorf("h2's status changed: %+v", h)
			}
		}
		if got := vsctl("get", "Interface", "lm-c2", "external_ids"); got != "{iface-id=c1-id}" {
			t.Errorf("lm-c2's external_ids: %s", got)
		}
		if ofport("lm-c2") != c2port || vsctl("get", "Interface", "lm-c2", "ofport_request") != "[]" {
			t.Errorf("lm-c2 was renumbered: %s -> %s", c2port, ofport("lm-c2"))
		}
		if n := d.hosts()["h2"].Reconciles; n > reconciles+2 {
			t.Errorf("h2 reconciled %d times in a steady state with two claimants", n-reconciles)
		}
		vsctl("del-port", "br-int", "lm-c2")
		waitFor(t, "h2 in sync", 10*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.State == api.StateInSync && len(h.PortsDown) == 0
		})
	})

	t.Run("the interface goes: unbound, ping stops; back with another ofport: bound again", func(t *testing.T) {
		n := ofport("lm-c1")
		vsctl("del-port", "br-int", "lm-c1")
		waitFor(t, "c1 waiting again", 10*time.Second, waiting)
		if err := l.Ping(w["a1"].ns(), w["c1"].ip, 2); err == nil {
			t.Error("a1 still reaches c1 after its interface left the bridge")
		}
		if err := l.Ping(w["a1"].ns(), w["b1"].ip, 5); err != nil { // positive control
			t.Error(err)
		}
		// No OpenFlow port is left with c1's number: its flows match and
		// output to nothing.
		if out := l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "show", "br-int"); strings.Contains(out, " "+n+"(") {
			t.Errorf("port %s still on br-int:\n%s", n, out)
		}
		// Added back asking for another number (as a runtime that numbers
		// its own ports would): Loom renumbers it to the flows' number.
		other := "39990"
		if n == other {
			other = "39991"
		}
		vsctl("add-port", "br-int", "lm-c1", "--", "set", "Interface", "lm-c1", "external_ids:iface-id=c1-id", "ofport_request="+other)
		bound("c1 bound again")
		if got := ofport("lm-c1"); got != n {
			t.Errorf("lm-c1 back with ofport %s, want %s", got, n)
		}
	})

	t.Run("the port leaves the topology: Loom's marks go, the interface stays", func(t *testing.T) {
		before := d.hosts()["h2"].Desired
		write(ifaceIDTopology)
		waitFor(t, "h2 at the new revision, in sync", 20*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.Desired > before && h.AtRevision() && h.State == api.StateInSync
		})
		if got := vsctl("get", "Interface", "lm-c1", "external_ids"); got != "{iface-id=c1-id}" {
			t.Errorf("lm-c1's external_ids: %s", got)
		}
		if got := vsctl("get", "Interface", "lm-c1", "ofport_request"); got != "[]" {
			t.Errorf("lm-c1's ofport_request: %s", got)
		}
		ports := strings.Fields(vsctl("list-ports", "br-int"))
		if !slices.Contains(ports, "lm-c1") {
			t.Errorf("lm-c1 left the bridge: %v", ports)
		}
		if err := l.Ping(w["a1"].ns(), w["c1"].ip, 2); err == nil {
			t.Error("a1 reaches c1, which is in no port of the topology")
		}
		if err := l.Ping(w["a1"].ns(), w["b1"].ip, 5); err != nil {
			t.Error(err)
		}
	})

	t.Run("a runtime port bound by iface-id", func(t *testing.T) {
		out, err := l.Loomctl("runtime-port", "add", "green", "--host", "h2", "--container-id", "r1-container", "--ifname", "eth0",
			"--iface-id", "r1-id", "--mac", w["r1"].mac, "--ip", w["r1"].ip)
		if err != nil {
			t.Fatalf("runtime-port add: %v\n%s", err, out)
		}
		waitFor(t, "h2 with r1 waiting", 20*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.AtRevision() && h.State == api.StateDegraded && len(h.PortsDown) == 1 &&
				strings.HasPrefix(h.PortsDown[0].Problem, `port attach-r1-container-eth0: waiting for interface with iface-id "r1-id" on host h2`)
		})
		w.add(l, "r1")
		vsctl("add-port", "br-int", "lm-r1", "--", "set", "Interface", "lm-r1", "external_ids:iface-id=r1-id")
		start := time.Now()
		waitFor(t, "h2 in sync", 20*time.Second, func() bool {
			h := d.hosts()["h2"]
			return h.State == api.StateInSync && len(h.PortsDown) == 0
		})
		if err := l.Ping(w["a1"].ns(), w["r1"].ip, 20); err != nil {
			t.Fatal(err)
		}
		t.Logf("runtime port r1 pinged from a1 %v after its add-port", time.Since(start).Round(time.Millisecond))
		if out, err := l.Loomctl("runtime-port", "del", "--container-id", "r1-container", "--ifname", "eth0"); err != nil {
			t.Fatalf("runtime-port del: %v\n%s", err, out)
		}
		waitFor(t, "lm-r1 released", 20*time.Second, func() bool {
			return vsctl("get", "Interface", "lm-r1", "external_ids") == "{iface-id=r1-id}"
		})
		if err := l.Ping(w["a1"].ns(), w["r1"].ip, 2); err == nil {
			t.Error("a1 reaches r1 after its runtime port was deleted")
		}
		if ports := strings.Fields(vsctl("list-ports", "br-int")); !slices.Contains(ports, "lm-r1") {
			t.Errorf("lm-r1 left the bridge: %v", ports)
		}
	})

	if got := vsctl(foreignCols, "list", "Interface", "lm-f1"); got != foreign {
		t.Errorf("the foreign interface changed:\n%s\n---\n%s", foreign, got)
	}
	if got := vsctl("--columns=_uuid,name,external_ids,interfaces", "list", "Port", "lm-f1"); got != foreignPort {
		t.Errorf("the foreign port changed:\n%s\n---\n%s", foreignPort, got)
	}
	if t.Failed() {
		fmt.Println(d.log.String())
	}
}

// TestCNIIfaceID: loom-cni with "ovsdb" in its configuration puts the
// veth's host end on the host's bridge itself, with an iface-id, and
// loomd binds the port by it. Two containers on two hosts ping each other;
// DEL removes the OVS port the plugin made, the veth and the port at
// loomd; an ADD that fails after loomd made the port (the bridge cannot
// be reached) leaves no veth, no OVS port and no port at loomd.
func TestCNIIfaceID(t *testing.T) {
	t.Parallel()
	cl := newContainerLab(t, "lm-t38-")
	labDir := os.Getenv("LOOM_LAB_DIR")
	if labDir == "" {
		labDir = "/run/loom-lab/" + cl.Prefix
	}
	conf := func(host, bridge string) string {
		return cl.netconf("blue", host, fmt.Sprintf(`, "ovsdb": "unix:%s/%s/db.sock", "bridge": %q`, labDir, host, bridge))
	}
	vsctl := func(host string, args ...string) string {
		t.Helper()
		return strings.TrimSpace(cl.MustExec(host, append([]string{"ovs-vsctl", "--timeout=10"}, args...)...))
	}
	add := func(id, host string) (string, string) {
		t.Helper()
		ns := cl.netns(id)
		start := time.Now()
		res, out, err := cl.cni("ADD", id, "/run/netns/"+ns, "eth0", conf(host, "br-int"))
		if err != nil || len(res.IPs) != 1 {
			t.Fatalf("ADD %s: %v\n%s", id, err, out)
		}
		if strings.Contains(out, "not reported working") {
			t.Errorf("ADD %s: the port was not ready within the plugin's wait:\n%s", id, out)
		}
		t.Logf("ADD %s took %v (the port's flows on its host included)", id, time.Since(start).Round(time.Millisecond))
		ip, _, _ := strings.Cut(res.IPs[0].Address, "/")
		return ns, ip
	}
	ns1, ip1 := add("k1", "h1")
	ns2, ip2 := add("k2", "h2")
	if err := ping(ns1, ip2, 5); err != nil {
		t.Fatal(err)
	}
	if err := ping(ns2, ip1, 5); err != nil {
		t.Fatal(err)
	}
	hv := plumb.HostVethName("k1", "eth0")
	id := plumb.IfaceIDFor("k1", "eth0")
	var name string
	for _, p := range cl.runtimePorts() {
		if p.ContainerID == "k1" {
			name = p.Name
			if p.IfaceID != id || p.Interface != "" {
				t.Errorf("k1's port at loomd: %+v, want bound by iface-id %s", p, id)
			}
		}
	}
	if got := vsctl("h1", "get", "Interface", hv, "external_ids"); got != fmt.Sprintf(`{iface-id=%s, loom-bound="port/%s"}`, id, name) {
		t.Errorf("%s's external_ids: %s", hv, got)
	}
	if got := vsctl("h1", "get", "Port", hv, "external_ids"); got != "{}" {
		t.Errorf("%s's Port row is not the plugin's: %s", hv, got)
	}

	// Baseline, same lab: an ADD bound by name (loomd puts the veth on
	// the bridge).
	nsb := cl.netns("kb")
	start := time.Now()
	res, out, err := cl.cni("ADD", "kb", "/run/netns/"+nsb, "eth0", cl.netconf("red", "h1", ""))
	if err != nil || len(res.IPs) != 1 {
		t.Errorf("ADD kb (by name): %v\n%s", err, out)
	}
	// Not this test's subject: an ADD bound by name was, in 2 runs of 11,
	// not reported ready within the plugin's 5 s (the host was in sync at
	// the port's revision 17 ms after the ADD, and no status event
	// followed the interface's numbering).
	t.Logf("ADD kb (bound by name, the baseline) took %v%s", time.Since(start).Round(time.Millisecond),
		map[bool]string{true: " (not reported ready in time)"}[strings.Contains(out, "not reported working")])

	t.Run("DEL removes the OVS port, the veth and the port", func(t *testing.T) {
		if _, out, err := cl.cni("DEL", "k1", "/run/netns/"+ns1, "eth0", conf("h1", "br-int")); err != nil {
			t.Fatalf("DEL: %v\n%s", err, out)
		}
		if slices.Contains(strings.Fields(vsctl("h1", "list-ports", "br-int")), hv) || linkExists(cl.Prefix+"h1", hv) {
			t.Errorf("%s left behind: ports %s", hv, vsctl("h1", "list-ports", "br-int"))
		}
		if slices.ContainsFunc(cl.runtimePorts(), func(p api.RuntimePort) bool { return p.ContainerID == "k1" }) {
			t.Error("k1's port is still at loomd")
		}
		if err := ping(ns2, ip1, 2); err == nil {
			t.Error("k2 still reaches k1's address")
		}
		if _, out, err := cl.cni("DEL", "k1", "/run/netns/"+ns1, "eth0", conf("h1", "br-int")); err != nil {
			t.Errorf("DEL again: %v\n%s", err, out)
		}
	})

	t.Run("a failed ADD leaves nothing", func(t *testing.T) {
		ns := cl.netns("k3")
		res, out, err := cl.cni("ADD", "k3", "/run/netns/"+ns, "eth0", conf("h1", "br-nosuch"))
		if err == nil || res.Code == 0 || !strings.Contains(res.Msg+res.Details, "br-nosuch") {
			t.Fatalf("ADD onto a bridge that does not exist: %v %+v\n%s", err, res, out)
		}
		t.Logf("the error: %s: %s", res.Msg, res.Details)
		hv3 := plumb.HostVethName("k3", "eth0")
		if linkExists(cl.Prefix+"h1", hv3) || strings.Contains(vsctl("h1", "show"), hv3) {
			t.Errorf("%s left behind", hv3)
		}
		if slices.ContainsFunc(cl.runtimePorts(), func(p api.RuntimePort) bool { return p.ContainerID == "k3" }) {
			t.Error("k3's port is still at loomd")
		}
	})
}
