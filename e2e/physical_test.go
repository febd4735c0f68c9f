package e2e

import (
	"strings"
	"testing"
)

// TestPhysical: a VLAN-backed switch reaching a "physical server" behind
// the lab's physical switch, with real 802.1Q tags on the wire; an L2
// gateway extending an overlay switch to a VLAN; external endpoints that
// are a kernel VXLAN device and a GRE VTEP.
func TestPhysical(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t4-", 3)
	w := ws{
		"r1": {"h1", "r1", "02:00:00:00:70:01", "198.51.100.1", "24"},
		"r3": {"h3", "r3", "02:00:00:00:70:03", "198.51.100.3", "24"},
		"b1": {"h1", "b1", "02:00:00:00:20:01", "192.0.2.65", "26"},
		"b3": {"h3", "b3", "02:00:00:00:20:03", "192.0.2.67", "26"},
		"g1": {"h1", "g1", "02:00:00:00:10:01", "192.0.2.1", "26"},
	}
	w.add(l, "r1", "r3", "b1", "b3", "g1")
	l.Physnet("phys1")
	l.Server("phys1", "srvred", 200, "02:00:00:00:80:01", "198.51.100.10/24")
	l.Server("phys1", "srvgw", 300, "02:00:00:00:80:02", "192.0.2.90/26")
	l.VTEP("vtep1", "vxlan", "198.19.0.50", 20, "02:00:00:00:50:01", "192.0.2.100/26")
	l.VTEP("vtep2", "gretap", "198.19.0.51", 10, "02:00:00:00:60:01", "192.0.2.50/26", "198.19.0.11")

	if out, err := l.Loomctl("apply", "--direct", "-f", "testdata/physical.yaml"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}

	t.Run("vlan-backed switch", func(t *testing.T) {
		tagged := capturePeer(t, l, "pn-phys1", "lm-h1", "vlan 200 and icmp", func() {
			if err := l.Ping(w["r1"].ns(), "198.51.100.10", 5); err != nil {
				t.Error(err)
			}
		})
		if len(tagged) == 0 {
			t.Error("no ICMP with VLAN tag 200 seen on h1's trunk")
		}
		if err := l.Ping("pn-phys1-srvred", w["r3"].ip, 5); err != nil {
			t.Error(err)
		}
		if err := l.Ping(w["r1"].ns(), w["r3"].ip, 5); err != nil {
			t.Errorf("r1 -> r3 through the physical switch: %v", err)
		}
		// The gateway's VLAN is another broadcast domain. r1 has no route
		// to the server's subnet, so without help its kernel would refuse
		// the ping before a frame left: give it an on-link route and the
		// server's MAC, so that its frames really reach OVS and the
		// physical network. They must leave h1 tagged 200 (the control:
		// the probe does reach the wire) and never reach the server.
		r1 := w["r1"].ns()
		l.MustExec(r1, "ip", "route", "add", "192.0.2.64/26", "dev", "eth0")
		l.MustExec(r1, "ip", "neigh", "replace", "192.0.2.90", "lladdr", "02:00:00:00:80:02", "dev", "eth0", "nud", "permanent")
		defer l.Exec(r1, "ip", "route", "del", "192.0.2.64/26") //nolint:errcheck // the lab goes anyway
		var atServer []string
		onTrunk := capturePeer(t, l, "pn-phys1", "lm-h1", "vlan 200 and icmp and dst host 192.0.2.90", func() {
			atServer = capturePeer(t, l, "pn-phys1-srvgw", "eth0", "icmp and dst host 192.0.2.90", func() {
				if err := l.Ping(r1, "192.0.2.90", 2); err == nil {
					t.Error("red reaches the server on VLAN 300")
				}
			})
		})
		if len(onTrunk) == 0 {
			t.Error("control: r1's pings to the server on VLAN 300 never left h1 on VLAN 200, so the check above proves nothing")
		}
		if len(atServer) > 0 {
			t.Errorf("the server on VLAN 300 received red's frames:\n%s", strings.Join(atServer, "\n"))
		}
	})

	t.Run("l2 gateway", func(t *testing.T) {
		for _, n := range []string{"b1", "b3"} {
			if err := l.Ping(w[n].ns(), "192.0.2.90", 5); err != nil {
				t.Errorf("%s -> server behind the gateway: %v", n, err)
			}
		}
		if err := l.Ping("pn-phys1-srvgw", w["b3"].ip, 5); err != nil {
			t.Error(err)
		}
		serveTCP(t, l, w["b3"], "7100")
		out, err := l.Exec("pn-phys1-srvgw", binary(t, "lmtcp"), "connect", w["b3"].ip, "7100")
		if err != nil {
			t.Errorf("TCP from the VLAN side to b3: %v %s", err, out)
		}
	})

	t.Run("external endpoints", func(t *testing.T) {
		for _, c := range []struct{ from, ip string }{{"b1", "192.0.2.100"}, {"b3", "192.0.2.100"}, {"g1", "192.0.2.50"}} {
			if err := l.Ping(w[c.from].ns(), c.ip, 5); err != nil {
				t.Errorf("%s -> station behind the VTEP: %v", c.from, err)
			}
		}
		if err := l.Ping("vt-vtep1", w["b1"].ip, 5); err != nil {
			t.Errorf("kernel VXLAN station -> b1: %v", err)
		}
		serveTCP(t, l, w["b1"], "7200")
		if out, err := l.Exec("vt-vtep1", binary(t, "lmtcp"), "connect", w["b1"].ip, "7200"); err != nil {
			t.Errorf("TCP from behind the kernel VTEP: %v %s", err, out)
		}
	})

	out, err := l.Loomctl("apply", "--direct", "-f", "testdata/physical.yaml")
	if err != nil || !strings.Contains(out, "nothing changed on any switch") {
		t.Errorf("second apply: %v\n%s", err, out)
	}
}

// capturePeer runs tcpdump on an interface of a lab namespace that is not
// a workload while fn runs.
func capturePeer(t *testing.T, l *Lab, ns, iface, filter string, fn func()) []string {
	return captureIn(t, l, ns, iface, filter, fn)
}
