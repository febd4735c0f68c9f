package ofctl

import (
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// Adding one port to a host that holds over 10,000 flows changes a handful
// of flow groups: the plan is a small bundle, not a reinstall. Checked on
// the new port's host and on another host of its switch.
func TestOnePortIsASmallBundle(t *testing.T) {
	src := topotest.Generate(20, 100, 20) // each host: 100 switches spanning all 20 hosts
	load := func(extra string) *topology.Topology {
		topo, err := topology.LoadBytes(map[string][]byte{"t.yaml": append(append([]byte(nil), src...), extra...)})
		if err != nil {
			t.Fatal(err)
		}
		return topo
	}
	before := load("")
	after := load(`  - name: pnew
    switch: s7
    host: h3
    mac: "02:ff:00:00:00:01"
    ips: [10.191.255.1]
    interface: vifnew
`)
	for _, host := range []string{"h3", "h9"} {
		old, err := flows.CompileHost(before, host)
		if err != nil {
			t.Fatal(err)
		}
		hs, err := flows.CompileHost(after, host)
		if err != nil {
			t.Fatal(err)
		}
		observed, err := ParseDump(old.FlowText())
		if err != nil {
			t.Fatal(err)
		}
		p, err := PlanFlows(hs.Flows(), observed)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d flows; one port added: %d missing, %d stale, %d groups, a bundle of %d flow mods",
			host, hs.NumFlows(), len(p.Missing), len(p.Extra), len(p.Groups), p.FlowMods())
		if hs.NumFlows() < 10000 {
			t.Fatalf("%s holds only %d flows: the test needs a big host", host, hs.NumFlows())
		}
		if p.FlowMods() == 0 || p.FlowMods() > 60 {
			t.Errorf("%s: adding one port takes %d flow mods", host, p.FlowMods())
		}
	}
}
