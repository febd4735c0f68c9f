package sim_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/flows/sim"
	"github.com/loom-sdn/loom/topology"
)

func fullNetwork(t *testing.T) (*topology.Topology, *sim.Network) {
	t.Helper()
	topo, err := topology.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	return topo, sim.NewNetwork(topo, func(h string) (*flows.HostState, error) { return flows.CompileHost(topo, h) })
}

func probe(t *testing.T, n *sim.Network, pr sim.Probe) *sim.Trace {
	t.Helper()
	p, _, err := n.Packet(pr)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := n.FromPort(pr.From, p)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestNetworkAcrossATunnel(t *testing.T) {
	_, n := fullNetwork(t)
	tr := probe(t, n, sim.Probe{From: "b1", To: "b3"}) // blue: h1 -> h3
	if len(tr.Hops) != 2 {
		t.Fatalf("want 2 hops (h1, h3), got %d", len(tr.Hops))
	}
	first, second := tr.Hops[0], tr.Hops[1]
	if first.Host != "h1" || first.Entry.Where != sim.AtPort || first.Entry.Object != "b1" || first.From != -1 {
		t.Errorf("first hop: %+v", first.Entry)
	}
	if len(first.Exits) != 1 || first.Exits[0].Where != sim.AtTunnel || first.Exits[0].Object != "h3" ||
		len(first.Exits[0].Next) != 1 || first.Exits[0].Next[0] != 1 {
		t.Fatalf("h1's exits: %+v", first.Exits)
	}
	if second.Host != "h3" || second.Entry.Where != sim.AtTunnel || second.Entry.Object != "h1" || second.From != 0 {
		t.Errorf("second hop: host %s entry %+v from %d", second.Host, second.Entry, second.From)
	}
	d := tr.Delivered()
	if len(d) != 1 || d[0].Host != "h3" || d[0].Where != sim.AtPort || d[0].Object != "b3" || d[0].Packet.IPDst != netip.MustParseAddr("192.0.2.67") {
		t.Errorf("delivered: %+v", d)
	}
	if first.Drop != nil || second.Drop != nil {
		t.Error("a delivered packet has a drop")
	}
}

func TestNetworkDropByACL(t *testing.T) {
	topo, n := fullNetwork(t)
	// Control: the same probe to the port the ACL allows is delivered.
	ok := probe(t, n, sim.Probe{From: "client", To: "web", Proto: "tcp", DPort: 5002})
	if d := ok.Delivered(); len(d) != 1 || d[0].Object != "web" {
		t.Fatalf("tcp 5002 (allowed): delivered %+v", d)
	}
	tr := probe(t, n, sim.Probe{From: "client", To: "web", Proto: "tcp", DPort: 5001})
	if d := tr.Delivered(); len(d) != 0 {
		t.Fatalf("tcp 5001 (dropped by web-in): delivered %+v", d)
	}
	last := tr.Hops[len(tr.Hops)-1]
	if last.Drop == nil || last.Drop.Miss {
		t.Fatalf("want a drop by a flow, got %+v", last.Drop)
	}
	if why := flows.Explain(topo, last.Drop.Cookie); !strings.Contains(why, "no-5001") {
		t.Errorf("the drop is explained as %q, want the rule no-5001", why)
	}
}

func TestNetworkUnknownInPort(t *testing.T) {
	topo, n := fullNetwork(t)
	hs, _, err := n.Host("h1")
	if err != nil {
		t.Fatal(err)
	}
	unused := 1
	for taken := true; taken; {
		taken = false
		for _, p := range hs.Ports {
			if p.Ofport == unused {
				unused, taken = unused+1, true
			}
		}
	}
	mac := sim.MustMAC("02:00:00:00:99:01")
	p := sim.ICMPEcho(mac, sim.MustMAC("02:00:00:00:99:02"), netip.MustParseAddr("192.0.2.99"), netip.MustParseAddr("192.0.2.98")).At(unused)
	tr, err := n.Send("h1", sim.Entry{Where: sim.AtOfport, Ofport: unused}, p)
	if err != nil {
		t.Fatal(err)
	}
	d := tr.Hops[0].Drop
	if d == nil || d.Miss || d.Table != 0 || d.Priority != 0 || flows.Explain(topo, d.Cookie) == "" {
		t.Fatalf("a packet from a port Loom does not know: drop %+v, want table 0's default flow", d)
	}
}

func TestMissKeepsThePacket(t *testing.T) {
	sw := sim.MustParse("table=0,priority=10,in_port=1,actions=push_vlan:0x8100,set_field:4101->vlan_vid,goto_table:1")
	res, err := sw.Run(sim.Broadcast(sim.MustMAC("02:00:00:00:00:01")).At(1))
	if err != nil {
		t.Fatal(err)
	}
	last := res.Steps[len(res.Steps)-1]
	if !res.Dropped || !last.Miss || last.Table != 1 || last.Packet.InPort != 1 || last.Packet.VLAN != 5 {
		t.Fatalf("miss in table 1: step %+v", last)
	}
	if first := res.Steps[0]; first.Miss || first.Packet.InPort != 0 {
		t.Errorf("a hit carries a packet: %+v", first)
	}
}

func TestNetworkPacket(t *testing.T) {
	_, n := fullNetwork(t)
	if _, note, err := n.Packet(sim.Probe{From: "b1", Dst: netip.MustParseAddr("192.0.2.99")}); err != nil || !strings.Contains(note, "not in the topology") {
		t.Errorf("unknown destination: note %q, err %v", note, err)
	}
	p, note, err := n.Packet(sim.Probe{From: "b1", Dst: netip.MustParseAddr("192.0.2.67")})
	if err != nil || note != "" || p.EthDst.String() != "02:00:00:00:20:03" {
		t.Errorf("b3's address: dst %s, note %q, err %v", p.EthDst, note, err)
	}
	for _, pr := range []sim.Probe{{From: "nope", To: "b1"}, {From: "b1", To: "nope"}, {From: "b1"}, {From: "b1", To: "b3", Proto: "sctp"}} {
		if _, _, err := n.Packet(pr); err == nil {
			t.Errorf("%+v: no error", pr)
		}
	}
	if _, err := n.FromPort("nope", sim.Packet{}); err == nil {
		t.Error("FromPort of an unknown port: no error")
	}
}
