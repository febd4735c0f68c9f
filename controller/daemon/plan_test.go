package daemon

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loom-sdn/loom/controller/api"
)

// listener counts the connections made to it (and closes them).
func listener(t *testing.T) (port int, dialled *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	dialled = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, dialled
}

func hostsTopo(hosts ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n")
	for i, h := range hosts {
		name, addr, _ := strings.Cut(h, "=")
		fmt.Fprintf(&b, "  - {name: %s, ovsdb: \"%s\", tunnelIP: 192.0.2.%d}\n", name, addr, i+1)
	}
	b.WriteString("switches:\n  - {name: blue, tunnelKey: 100}\nports:\n  - {name: web1, switch: blue, host: h1, mac: auto, interface: lm-web1}\n")
	return b.String()
}

// A plan of files contacts only the hosts of the topology in force, at
// the addresses they have there; the files cannot make loomd dial
// elsewhere with its certificate.
func TestPlanContactsOnlyHostsInForce(t *testing.T) {
	port, dialled := listener(t)
	here := fmt.Sprintf("tcp:127.0.0.1:%d", port)
	s := serve(t, Limits{}, Listen{})
	c := s.client()
	ctx := context.Background()
	if _, err := c.PutTopology(ctx, api.TopologyUpdate{Files: map[string]string{"net.yaml": hostsTopo("h1=tcp:127.0.0.1:1", "h2=tcp:127.0.0.1:1")}}); err != nil {
		t.Fatal(err)
	}
	// h1 moved to the listener, h3 is new there: neither is contacted.
	p, err := c.Plan(ctx, map[string]string{"net.yaml": hostsTopo("h1="+here, "h2=tcp:127.0.0.1:1", "h3="+here)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"h1": "its addresses differ from the topology in force (ovsdb tcp:127.0.0.1:1, openflow tcp:127.0.0.1:6653 there)",
		"h2": "",
		"h3": "not in the topology in force",
	}
	if len(p.Hosts) != 3 {
		t.Fatalf("plan: %+v", p)
	}
	for _, h := range p.Hosts {
		if h.NotContacted != want[h.Host] {
			t.Errorf("%s: not contacted %q, want %q", h.Host, h.NotContacted, want[h.Host])
		}
		if (h.NotContacted == "") == (h.Error == "") { // h2 is contacted and refuses
			t.Errorf("%s: error %q", h.Host, h.Error)
		}
		// The others are planned as new hosts.
		if h.NotContacted != "" && (len(h.OVSDB) == 0 || h.OVSDB[0] != "create bridge br-int" || h.Adds != h.DesiredFlows ||
			h.DesiredFlows == 0 || h.Deletes != 0) {
			t.Errorf("%s: not planned as a new host: %+v", h.Host, h)
		}
		// Flows are counted, not listed, unless asked for.
		if len(h.FlowsAdd)+len(h.FlowsDelete)+len(h.FlowsModify) != 0 {
			t.Errorf("%s: flows listed without Files.Flows: %d", h.Host, len(h.FlowsAdd))
		}
	}
	listed, err := c.PlanFiles(ctx, api.Files{Files: map[string]string{"net.yaml": hostsTopo("h1="+here, "h2=tcp:127.0.0.1:1", "h3="+here)}, Flows: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range listed.Hosts {
		if h.NotContacted != "" && (len(h.FlowsAdd) != h.Adds || h.Adds == 0) {
			t.Errorf("%s: with Files.Flows, %d flows listed for %d to add", h.Host, len(h.FlowsAdd), h.Adds)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := dialled.Load(); n != 0 {
		t.Fatalf("the plan dialled the files' address %d times", n)
	}
	// The positive control: with h1 there in force, the plan reaches it.
	if _, err := c.PutTopology(ctx, api.TopologyUpdate{Revision: 1, Files: map[string]string{"net.yaml": hostsTopo("h1="+here, "h2=tcp:127.0.0.1:1")}}); err != nil {
		t.Fatal(err)
	}
	if p, err = c.Plan(ctx, map[string]string{"net.yaml": hostsTopo("h1="+here, "h2=tcp:127.0.0.1:1")}); err != nil {
		t.Fatal(err)
	}
	if p.Hosts[0].NotContacted != "" || p.Hosts[0].Error == "" {
		t.Errorf("h1 in force: %+v", p.Hosts[0])
	}
	if n := dialled.Load(); n == 0 {
		t.Error("the plan of a host in force did not dial it")
	}
}
