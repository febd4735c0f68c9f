package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/topology"
)

type workload struct{ host, name, mac, ip, plen string }

var threePorts = []workload{
	{"h1", "a1", "02:00:00:00:0a:01", "192.0.2.1", "24"},
	{"h1", "a2", "02:00:00:00:0a:02", "192.0.2.2", "24"},
	{"h2", "b1", "02:00:00:00:0b:01", "192.0.2.3", "24"},
}

func (w workload) ns() string { return w.host + "-" + w.name }

// dumpFlows dumps host's integration bridge (all its flows, or those
// filter selects) and parses them with Loom's parser; it fails the test
// on a flow the parser does not read.
func dumpFlows(t *testing.T, l *Lab, host string, filter ...string) []flows.Flow {
	t.Helper()
	out := l.MustExec(host, append([]string{"ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "--no-stats", "--no-names"}, filter...)...)
	obs, err := ofctl.ParseDump([]byte(out))
	if err != nil || len(obs.Unknown) > 0 {
		t.Fatalf("%s: flows Loom cannot read: %v %v\n%s", host, err, obs.Unknown, out)
	}
	return obs.Flows
}

// loomFlows dumps the integration bridge of host and returns the cookies
// of its flows; it fails the test on a flow outside Loom's cookie space.
func loomFlows(t *testing.T, l *Lab, host string) []uint64 {
	t.Helper()
	var cookies []uint64
	for _, f := range dumpFlows(t, l, host) {
		if f.Cookie&flows.CookieMask != flows.CookieSpace {
			t.Fatalf("%s: flow not made by Loom: %s", host, &f)
		}
		cookies = append(cookies, f.Cookie)
	}
	return cookies
}

// outputFlow is a flow of Loom's on host's switch that sends to a
// workload or a tunnel (table output, matching reg7, not dropping).
func outputFlow(t *testing.T, l *Lab, host string) flows.Flow {
	t.Helper()
	for _, f := range dumpFlows(t, l, host, fmt.Sprintf("table=%d", flows.TableOutput)) {
		if _, ok := f.Match.Get(flows.FieldReg7); ok && len(f.Actions) > 0 && f.Cookie&flows.CookieMask == flows.CookieSpace {
			return f
		}
	}
	t.Fatalf("no output flow on %s", host)
	return flows.Flow{}
}

// selectFlow is the ovs-ofctl match of f's table, cookie and reg7, for
// del-flows and mod-flows.
func selectFlow(f flows.Flow) string {
	reg7, _ := f.Match.Get(flows.FieldReg7)
	return fmt.Sprintf("table=%d,cookie=%#x/-1,reg7=%#x", f.Table, f.Cookie, reg7.Value.Lo)
}

// TestWalkingSkeleton: two hosts, three workloads; nothing pings before
// apply, everything pings after; a second apply changes nothing; removing
// a port from the topology removes its OVS port and flows and leaves the
// others working.
func TestWalkingSkeleton(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t1-", 2)
	for _, w := range threePorts {
		l.Workload(w.host, w.name, w.mac, w.ip+"/"+w.plen)
	}

	// Before apply there is no integration bridge: nothing crosses.
	if err := l.Ping("h1-a1", "192.0.2.3", 1); err == nil {
		t.Fatal("a1 pings b1 before apply: something other than Loom forwards")
	}
	if out := l.MustExec("h1", "ovs-vsctl", "list-br"); strings.Contains(out, "br-int") {
		t.Fatalf("br-int exists before apply: %s", out)
	}

	out, err := l.Loomctl("apply", "--direct", "-f", "testdata/three-ports.yaml")
	t.Logf("first apply:\n%s", out)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if !regexp.MustCompile(`Applied: 2 hosts changed \(.*\), 0 in sync, 0 failed`).MatchString(out) {
		t.Errorf("first apply did not change both hosts:\n%s", out)
	}
	for _, h := range []string{"h1", "h2"} {
		if n := len(loomFlows(t, l, h)); n < 10 {
			t.Errorf("%s holds only %d flows", h, n)
		}
		br := l.MustExec(h, "ovs-vsctl", "get", "bridge", "br-int", "fail_mode", "protocols", "datapath_type")
		if want := "secure\n[OpenFlow13]\nnetdev"; strings.TrimSpace(br) != want {
			t.Errorf("%s: br-int fail_mode, protocols, datapath_type = %q, want %q", h, br, want)
		}
	}

	pingAll(t, l, threePorts)

	// A flow deleted by hand: loomctl flows explains every flow and shows
	// the drift (exit 1); apply repairs it.
	l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br-int", "table=60,reg7=0/0")
	out, err = l.Loomctl("flows", "--direct", "-f", "testdata/three-ports.yaml", "h2")
	if err == nil || !strings.Contains(out, "# missing on the switch:") || !strings.Contains(out, "port b1 (testdata/three-ports.yaml") {
		t.Errorf("loomctl flows does not show the drift: %v\n%s", err, out)
	}
	if out, err := l.Loomctl("apply", "--direct", "-f", "testdata/three-ports.yaml"); err != nil || !strings.Contains(out, "Applied: 1 hosts changed") {
		t.Errorf("apply did not repair the drift: %v\n%s", err, out)
	}
	if out, err := l.Loomctl("flows", "--direct", "-f", "testdata/three-ports.yaml", "h2"); err != nil || !strings.Contains(out, "no drift") {
		t.Errorf("loomctl flows after the repair: %v\n%s", err, out)
	}

	out, err = l.Loomctl("apply", "--direct", "-f", "testdata/three-ports.yaml")
	t.Logf("second apply:\n%s", out)
	if err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if !strings.Contains(out, "nothing changed on any switch") || strings.Contains(out, "flow mods") {
		t.Errorf("second apply of the same topology changed something:\n%s", out)
	}

	// Remove a2 from the topology.
	topo, err := topology.Load("testdata/three-ports.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var a2Key uint32
	for _, p := range topo.Ports {
		if p.Name == "a2" {
			a2Key = p.Key
		}
	}
	out, err = l.Loomctl("apply", "--direct", "-f", "testdata/two-ports.yaml")
	t.Logf("apply without a2:\n%s", out)
	if err != nil {
		t.Fatalf("apply without a2: %v", err)
	}
	if ports := l.MustExec("h1", "ovs-vsctl", "list-ports", "br-int"); strings.Contains(ports, "lm-a2") {
		t.Errorf("lm-a2 still on br-int:\n%s", ports)
	}
	for _, h := range []string{"h1", "h2"} {
		for _, c := range loomFlows(t, l, h) {
			if k, _, id, _ := flows.SplitCookie(c); k == flows.KindPort && id == a2Key {
				t.Errorf("%s: flow of removed port a2 left: cookie %#x", h, c)
			}
		}
	}
	pingAll(t, l, []workload{threePorts[0], threePorts[2]})
	if err := l.Ping("h1-a1", "192.0.2.2", 1); err == nil {
		t.Error("a1 still reaches a2's address after a2 was removed")
	}
}

// pingAll checks that every workload pings every other, both ways.
func pingAll(t *testing.T, l *Lab, ws []workload) {
	t.Helper()
	for _, a := range ws {
		for _, b := range ws {
			if a == b {
				continue
			}
			if err := l.Ping(a.ns(), b.ip, 5); err != nil {
				t.Error(err)
			}
		}
	}
}
