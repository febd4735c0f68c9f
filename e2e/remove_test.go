package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// TestHostRemoved removes hosts from loomd's topology on a 3-host lab:
// what Loom owns on them is deleted, and nothing else. h3 is removed while
// reachable (its whole bridge goes; a bridge of someone else's beside it
// stays). h2 is removed while loomd cannot reach it, with someone else's
// port and flow on Loom's bridge: the status says removing, a restarted
// loomd still knows, and once h2 is reachable Loom's ports, controller and
// flows go while the bridge stays with the foreign port and flow.
func TestHostRemoved(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t34-", 3)
	w := ws{
		"g1": {"h1", "g1", "02:00:00:00:10:01", "192.0.2.1", "26"},
		"g2": {"h2", "g2", "02:00:00:00:10:02", "192.0.2.2", "26"},
		"g3": {"h3", "g3", "02:00:00:00:10:03", "192.0.2.3", "26"},
	}
	w.add(l, "g1", "g2", "g3")
	src, err := os.ReadFile("testdata/faults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(topo, src, 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	top := t
	d := startLoomd(t, top, l, topo, "--state-dir", state)
	waitFor(t, "all hosts in sync", 60*time.Second, func() bool { return d.inSync("h1", "h2", "h3") })

	// Someone else's things: a bridge with a port on h3; a port and a
	// flow on Loom's bridge on h2.
	l.MustExec("h3", "ovs-vsctl", "add-br", "br-other", "--", "set", "Bridge", "br-other", "datapath_type=netdev",
		"--", "add-port", "br-other", "fx3", "--", "set", "Interface", "fx3", "type=internal")
	l.MustExec("h2", "ovs-vsctl", "add-port", "br-int", "fx2", "--", "set", "Interface", "fx2", "type=internal")
	l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "add-flow", "br-int", "table=0,priority=1,cookie=0x1234,in_port=fx2,actions=drop")

	// What the checks below read: the bridges and ports of a host, Loom's
	// controllers and flows on br-int.
	bridges := func(host string) string {
		return strings.Join(strings.Fields(l.MustExec(host, "ovs-vsctl", "list-br")), " ")
	}
	ports := func(host, br string) string {
		out, err := l.Exec(host, "ovs-vsctl", "list-ports", br)
		if err != nil {
			return "(no bridge " + br + ")"
		}
		return strings.Join(strings.Fields(out), " ")
	}
	loomFlows := func(host string) int {
		return strings.Count(l.MustExec(host, "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "cookie=0x4c4d000000000000/0xffff000000000000"), "cookie=")
	}
	// Loom's ports besides the bridge's own (which stays with a bridge
	// that someone else's port keeps).
	loomRows := func(host string) string {
		var out []string
		for _, p := range strings.Fields(l.MustExec(host, "ovs-vsctl", "--bare", "--columns=name", "find", "Port", "external_ids:loom-owner=loom")) {
			if p != "br-int" {
				out = append(out, p)
			}
		}
		return strings.Join(out, " ")
	}

	// Positive control: the same checks see Loom's bridge, ports and flows.
	if got := bridges("h3"); got != "br-int br-other br-phy" {
		t.Fatalf("h3 bridges before = %q", got)
	}
	if got := ports("h3", "br-int"); !strings.Contains(got, "lm-g3") || !strings.Contains(got, "gre") {
		t.Fatalf("h3 br-int ports before = %q", got)
	}
	if n := loomFlows("h3"); n == 0 {
		t.Fatal("h3 has none of Loom's flows before: the flow check sees nothing")
	}
	if n := loomFlows("h2"); n == 0 || loomRows("h2") == "" {
		t.Fatalf("h2 before: %d of Loom's flows, Loom's ports %q", n, loomRows("h2"))
	}

	without := func(host, port string) []byte {
		var out []string
		for _, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, "name: "+host+",") || strings.Contains(line, "name: "+port+",") {
				continue
			}
			out = append(out, line)
		}
		return []byte(strings.Join(out, "\n"))
	}

	t.Run("reachable", func(t *testing.T) {
		next := filepath.Join(dir, "next.yaml")
		src = without("h3", "g3")
		os.WriteFile(next, src, 0o644)
		// The plan says so first.
		out, err := l.Loomctl("plan", "-f", next)
		if err != nil || !regexp.MustCompile(`host h3: removed from the topology; Loom's bridge br-int and its [1-9]\d* ports and [1-9]\d* flows will be deleted`).MatchString(out) {
			t.Fatalf("loomctl plan: %v\n%s", err, out)
		}
		t.Logf("loomctl plan without h3:\n%s", out)
		if !regexp.MustCompile(`(?m)^1 hosts removed from the topology: Loom's bridge, ports and flows to delete from them$`).MatchString(out) {
			t.Errorf("the plan's summary does not count h3:\n%s", out)
		}
		if !strings.Contains(out, "ovsdb: delete bridge br-int with its") {
			t.Errorf("plan without the OVSDB change:\n%s", out)
		}
		os.WriteFile(topo, src, 0o644)
		took := waitFor(t, "h3 cleaned and gone from the status", 30*time.Second, func() bool {
			_, listed := d.hosts()["h3"]
			return !listed && bridges("h3") == "br-other br-phy"
		})
		t.Logf("h3 removed from the topology: cleaned and out of the status in %v", took.Round(time.Millisecond))
		if got := ports("h3", "br-other"); got != "fx3" {
			t.Errorf("someone else's bridge on h3 has ports %q, want fx3", got)
		}
		if rows := l.MustExec("h3", "ovs-vsctl", "--bare", "--columns=name", "find", "Interface", "external_ids:loom-owner=loom"); strings.TrimSpace(rows) != "" {
			t.Errorf("Loom's interfaces left on h3: %q", rows)
		}
		if err := l.Ping(w["g1"].ns(), w["g2"].ip, 5); err != nil {
			t.Errorf("h1 -> h2 after h3 left: %v", err)
		}
	})

	t.Run("unreachable, then back", func(t *testing.T) {
		l.MgmtLink("h2", false)
		src = without("h2", "g2")
		os.WriteFile(topo, src, 0o644)
		waitFor(t, "h2 reported removing with an error", 60*time.Second, func() bool {
			h, ok := d.hosts()["h2"]
			return ok && h.State == api.StateRemoving && h.LastError != "" && h.Failures > 0
		})
		status, _ := l.Loomctl("status")
		t.Logf("loomctl status while h2 cannot be reached:\n%s", status)
		if !regexp.MustCompile(`(?m)^h2\s+removing\s`).MatchString(status) {
			t.Errorf("loomctl status does not show h2 removing:\n%s", status)
		}
		if out, _ := l.Loomctl("plan"); !strings.Contains(out, "host h2: removed from the topology; Loom's bridge br-int, its ports and flows will be deleted once it can be reached") {
			t.Errorf("loomctl plan (drift) does not list h2 still to clean:\n%s", out)
		}
		// A loomd killed meanwhile still knows.
		d.kill()
		d = startLoomd(t, top, l, topo, "--state-dir", state)
		waitFor(t, "the restarted loomd reports h2 removing", 60*time.Second, func() bool {
			h, ok := d.hosts()["h2"]
			return ok && h.State == api.StateRemoving && h.Failures > 0
		})
		if n := loomFlows("h2"); n == 0 {
			t.Fatal("Loom's flows left h2 while it was unreachable")
		}
		l.MgmtLink("h2", true)
		took := waitFor(t, "h2 cleaned once reachable", 60*time.Second, func() bool {
			_, listed := d.hosts()["h2"]
			return !listed && loomRows("h2") == ""
		})
		t.Logf("h2 cleaned %v after it became reachable", took.Round(time.Millisecond))
		if got := ports("h2", "br-int"); got != "fx2" {
			t.Errorf("h2 br-int ports = %q, want only someone else's fx2", got)
		}
		if n := loomFlows("h2"); n != 0 {
			t.Errorf("%d of Loom's flows left on h2", n)
		}
		if out := l.MustExec("h2", "ovs-ofctl", "-O", "OpenFlow13", "dump-flows", "br-int", "cookie=0x1234/-1"); !strings.Contains(out, "cookie=0x1234") {
			t.Errorf("someone else's flow on h2 was deleted:\n%s", out)
		}
		if got := l.MustExec("h2", "ovs-vsctl", "get-controller", "br-int"); strings.TrimSpace(got) != "" {
			t.Errorf("Loom's controller left on h2: %q", got)
		}
		b, err := os.ReadFile(filepath.Join(state, "topology.json"))
		if err != nil || strings.Contains(string(b), `"removing"`) {
			t.Errorf("stored removals after the cleanup: %v\n%s", err, b)
		}
	})
}
