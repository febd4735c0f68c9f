package sim_test

// End-to-end tests: the flows the real compiler emits, walked by the
// simulator. Ports are looked up by the topology object behind them, never
// by number, so the tests survive the compiler growing new tables.

import (
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/flows/sim"
	"github.com/loom-sdn/loom/topology"
)

type host struct {
	t    *testing.T
	topo *topology.Topology
	hs   *flows.HostState
	sw   *sim.Switch
}

func compileHost(t *testing.T, file, name string) *host {
	t.Helper()
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := flows.CompileHost(topo, name)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := sim.New(hs.Flows())
	if err != nil {
		t.Fatalf("the compiler's flows are refused: %v", err)
	}
	return &host{t: t, topo: topo, hs: hs, sw: sw}
}

// ofport is the OpenFlow port of the bridge port behind object ("port/a1",
// "host/h2").
func (h *host) ofport(object string) int {
	h.t.Helper()
	for _, p := range h.hs.Ports {
		if p.ExternalIDs[flows.ExtIDObject] == object {
			return p.Ofport
		}
	}
	h.t.Fatalf("host %s has no port for %s", h.hs.Host, object)
	return 0
}

func (h *host) port(name string) topology.Port {
	h.t.Helper()
	for _, p := range h.topo.Ports {
		if p.Name == name {
			return p
		}
	}
	h.t.Fatalf("no port %s in the topology", name)
	return topology.Port{}
}

func (h *host) tunnelKey(sw string) uint64 {
	h.t.Helper()
	s, ok := h.topo.Switch(sw)
	if !ok {
		h.t.Fatalf("no switch %s", sw)
	}
	return uint64(s.TunnelKey)
}

func (h *host) run(p sim.Packet) sim.Result {
	h.t.Helper()
	res, err := h.sw.Run(p)
	if err != nil {
		h.t.Fatalf("run: %v\n%s", err, res)
	}
	return res
}

func samePorts(got, want []int) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

const threePorts = "../testdata/three-ports/topology.yaml"

func TestCompiledBroadcastFromVIF(t *testing.T) {
	h := compileHost(t, threePorts, "h1")
	a1 := h.port("a1")
	pa1, pa2, tun := h.ofport("port/a1"), h.ofport("port/a2"), h.ofport("host/h2")
	key := h.tunnelKey("blue")

	// An ARP request for an address no port has: nobody answers it, it
	// floods.
	req := sim.ARPRequest(a1.MAC, a1.IPs[0], netip.MustParseAddr("192.0.2.99")).At(pa1)
	res := h.run(req)
	if !samePorts(res.Ports(), []int{pa2, tun}) {
		t.Fatalf("ARP broadcast from a1 went to %v, want a2 (%d) and the tunnel (%d)\n%s", res.Ports(), pa2, tun, res)
	}
	if o, _ := res.OutputTo(tun); o.Packet.TunID != key {
		t.Errorf("copy into the tunnel has tun_id %#x, want %#x\n%s", o.Packet.TunID, key, res)
	}
	if o, _ := res.OutputTo(pa2); o.Packet.TunID != 0 || o.Packet.ARPOp != sim.ARPRequestOp || !slices.Equal(o.Packet.EthDst, sim.BroadcastMAC) {
		t.Errorf("copy to a2 was changed: %s\n%s", o.Packet, res)
	}
	if _, back := res.OutputTo(pa1); back {
		t.Errorf("the broadcast went back out of a1\n%s", res)
	}

	// Any other broadcast floods the same way (if port security lets it
	// through at all).
	res = h.run(sim.IPv4(a1.MAC, sim.BroadcastMAC, a1.IPs[0], netip.MustParseAddr("192.0.2.255"), sim.ProtoUDP, 68, 67).At(pa1))
	if !samePorts(res.Ports(), []int{pa2, tun}) {
		t.Errorf("UDP broadcast from a1 went to %v, want a2 (%d) and the tunnel (%d)\n%s", res.Ports(), pa2, tun, res)
	}
}

func TestCompiledARPForKnownAddress(t *testing.T) {
	h := compileHost(t, threePorts, "h1")
	a1, b1 := h.port("a1"), h.port("b1")
	pa1, pa2, tun := h.ofport("port/a1"), h.ofport("port/a2"), h.ofport("host/h2")
	blue, _ := h.topo.Switch("blue")

	res := h.run(sim.ARPRequest(a1.MAC, a1.IPs[0], b1.IPs[0]).At(pa1))
	if !blue.ARPResponder {
		if !samePorts(res.Ports(), []int{pa2, tun}) {
			t.Fatalf("without the ARP responder the request should flood, went to %v\n%s", res.Ports(), res)
		}
		return
	}
	// The responder answers on the ingress host, back out of a1.
	if !slices.Equal(res.Ports(), []int{pa1}) {
		t.Fatalf("ARP request for b1 went to %v, want only the reply to a1 (%d)\n%s", res.Ports(), pa1, res)
	}
	got := res.Outputs[0].Packet
	want := sim.ARPReply(b1.MAC, b1.IPs[0], a1.MAC, a1.IPs[0])
	if got.ARPOp != want.ARPOp || got.ARPSpa != want.ARPSpa || got.ARPTpa != want.ARPTpa ||
		!slices.Equal(got.ARPSha, want.ARPSha) || !slices.Equal(got.ARPTha, want.ARPTha) ||
		!slices.Equal(got.EthSrc, want.EthSrc) || !slices.Equal(got.EthDst, want.EthDst) {
		t.Errorf("reply\n got %s\nwant %s\n%s", got, want.At(pa1), res)
	}
}

func TestCompiledUnicastToRemote(t *testing.T) {
	h := compileHost(t, threePorts, "h1")
	a1, b1 := h.port("a1"), h.port("b1")
	pa1, tun := h.ofport("port/a1"), h.ofport("host/h2")

	p := sim.TCP(a1.MAC, b1.MAC, netip.AddrPortFrom(a1.IPs[0], 40000), netip.AddrPortFrom(b1.IPs[0], 80)).At(pa1)
	res := h.run(p)
	if !slices.Equal(res.Ports(), []int{tun}) {
		t.Fatalf("a1 -> b1 went to %v, want only the tunnel to h2 (%d)\n%s", res.Ports(), tun, res)
	}
	out := res.Outputs[0].Packet
	if out.TunID != h.tunnelKey("blue") {
		t.Errorf("tun_id %#x, want the switch's key %#x", out.TunID, h.tunnelKey("blue"))
	}
	if !slices.Equal(out.EthDst, b1.MAC) || out.IPDst != b1.IPs[0] || out.TPDst != 80 || out.VLAN != 0 {
		t.Errorf("the packet was changed on the way: %s", out)
	}
}

func TestCompiledUnicastLocal(t *testing.T) {
	h := compileHost(t, threePorts, "h1")
	a1, a2 := h.port("a1"), h.port("a2")
	pa1, pa2 := h.ofport("port/a1"), h.ofport("port/a2")
	res := h.run(sim.ICMPEcho(a1.MAC, a2.MAC, a1.IPs[0], a2.IPs[0]).At(pa1))
	if !slices.Equal(res.Ports(), []int{pa2}) {
		t.Fatalf("a1 -> a2 went to %v, want only a2 (%d)\n%s", res.Ports(), pa2, res)
	}
}

func TestCompiledPortSecurity(t *testing.T) {
	h := compileHost(t, threePorts, "h1")
	a1, a2, b1 := h.port("a1"), h.port("a2"), h.port("b1")
	pa1 := h.ofport("port/a1")

	for name, p := range map[string]sim.Packet{
		"spoofed IPv4 source": sim.IPv4(a1.MAC, b1.MAC, netip.MustParseAddr("192.0.2.200"), b1.IPs[0], sim.ProtoUDP, 1, 2),
		"another port's IP":   sim.IPv4(a1.MAC, b1.MAC, a2.IPs[0], b1.IPs[0], sim.ProtoUDP, 1, 2),
		"spoofed MAC":         sim.IPv4(sim.MustMAC("02:00:00:00:ee:ee"), b1.MAC, a1.IPs[0], b1.IPs[0], sim.ProtoUDP, 1, 2),
		"spoofed ARP sender":  sim.ARPRequest(a1.MAC, netip.MustParseAddr("192.0.2.200"), b1.IPs[0]),
	} {
		t.Run(name, func(t *testing.T) {
			res := h.run(p.At(pa1))
			if !res.Dropped {
				t.Fatalf("not dropped: went to %v\n%s", res.Ports(), res)
			}
			last := res.Steps[len(res.Steps)-1]
			if last.Table != flows.TablePortSecurity {
				t.Errorf("dropped at table %d, want %d (%s)\n%s", last.Table, flows.TablePortSecurity, flows.TableName(flows.TablePortSecurity), res)
			}
		})
	}
}

func TestCompiledFromTunnel(t *testing.T) {
	h := compileHost(t, threePorts, "h1")
	a1, b1 := h.port("a1"), h.port("b1")
	pa1, pa2, tun := h.ofport("port/a1"), h.ofport("port/a2"), h.ofport("host/h2")
	key := h.tunnelKey("blue")

	// Unicast from b1 to a1: delivered to a1 only.
	p := sim.ICMPEcho(b1.MAC, a1.MAC, b1.IPs[0], a1.IPs[0]).FromTunnel(tun, key)
	res := h.run(p)
	if !slices.Equal(res.Ports(), []int{pa1}) {
		t.Fatalf("tunnel -> a1 went to %v, want only a1 (%d)\n%s", res.Ports(), pa1, res)
	}

	// A wrong key: not this switch, dropped at classify.
	res = h.run(sim.ICMPEcho(b1.MAC, a1.MAC, b1.IPs[0], a1.IPs[0]).FromTunnel(tun, key+1))
	if !res.Dropped || res.Steps[len(res.Steps)-1].Table != flows.TableClassify {
		t.Errorf("wrong tunnel key: want a drop at classify\n%s", res)
	}

	// Broadcasts from the tunnel: to local ports only, never back into a
	// tunnel (split horizon).
	for name, p := range map[string]sim.Packet{
		"ARP request": sim.ARPRequest(b1.MAC, b1.IPs[0], netip.MustParseAddr("192.0.2.99")),
		"ARP for a1":  sim.ARPRequest(b1.MAC, b1.IPs[0], a1.IPs[0]),
		"broadcast":   sim.Broadcast(b1.MAC),
		"multicast":   sim.Ethernet(b1.MAC, net.HardwareAddr{0x01, 0x00, 0x5e, 0, 0, 1}, sim.EthTypeExperimental),
	} {
		t.Run(name, func(t *testing.T) {
			res := h.run(p.FromTunnel(tun, key))
			if !samePorts(res.Ports(), []int{pa1, pa2}) {
				t.Errorf("went to %v, want a1 (%d) and a2 (%d) only\n%s", res.Ports(), pa1, pa2, res)
			}
		})
	}
}

// Every topology the compiler's tests use compiles to flows the simulator
// reads: a new piece of syntax in the compiler shows up here.
func TestCompiledFlowsParse(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*/topology.yaml")
	examples, _ := filepath.Glob("../../deploy/examples/*.yaml")
	files = append(files, examples...)
	if len(files) == 0 {
		t.Fatal("no topologies found")
	}
	for _, file := range files {
		topo, err := topology.Load(file)
		if err != nil {
			continue // not a topology of its own (an include), or not valid alone
		}
		hosts, err := flows.Compile(topo)
		if err != nil {
			continue // uses what this compiler refuses; its own tests say so
		}
		for _, hs := range hosts {
			// As typed flows, and through their text (the renderer
			// and the parser).
			if _, err := sim.New(hs.Flows()); err != nil {
				t.Errorf("%s, host %s: %v", file, hs.Host, err)
			}
			sw, err := sim.Parse(string(hs.FlowText()))
			if err != nil {
				t.Errorf("%s, host %s: %v", file, hs.Host, err)
				continue
			}
			if sw.Len() != len(hs.Flows()) {
				t.Errorf("%s, host %s: parsed %d flows of %d", file, hs.Host, sw.Len(), len(hs.Flows()))
			}
		}
	}
}

// A packet from a1 on h1 to b1 on h2: out of h1's tunnel, into h2's, to b1.
func TestCompiledAcrossHosts(t *testing.T) {
	h1, h2 := compileHost(t, threePorts, "h1"), compileHost(t, threePorts, "h2")
	a1, b1 := h1.port("a1"), h1.port("b1")

	res := h1.run(sim.UDP(a1.MAC, b1.MAC, netip.AddrPortFrom(a1.IPs[0], 5000), netip.AddrPortFrom(b1.IPs[0], 53)).At(h1.ofport("port/a1")))
	out, ok := res.OutputTo(h1.ofport("host/h2"))
	if !ok {
		t.Fatalf("nothing into the tunnel to h2\n%s", res)
	}
	res = h2.run(out.Packet.FromTunnel(h2.ofport("host/h1"), out.Packet.TunID))
	if !slices.Equal(res.Ports(), []int{h2.ofport("port/b1")}) {
		t.Fatalf("on h2 the packet went to %v, want only b1 (%d)\n%s", res.Ports(), h2.ofport("port/b1"), res)
	}
	if got := res.Outputs[0].Packet; got.IPSrc != a1.IPs[0] || got.TPDst != 53 || !slices.Equal(got.EthSrc, a1.MAC) {
		t.Errorf("b1 received %s", got)
	}
}

// network walks a packet across hosts: what leaves a tunnel port enters
// the host at its other end; what leaves a physnet uplink enters every
// other host on that physnet (the physical network as a hub). Outputs to
// workload ports, physnets and external endpoints are deliveries.
type network struct {
	t     *testing.T
	hosts map[string]*host
	net   *sim.Network
}

type delivery struct {
	host, object string // "h2", "port/web"
	packet       sim.Packet
}

func (d delivery) String() string { return d.host + ":" + d.object }

func compileNetwork(t *testing.T, file string) *network {
	t.Helper()
	topo, err := topology.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	n := &network{t: t, hosts: map[string]*host{}}
	for _, h := range topo.Hosts {
		n.hosts[h.Name] = compileHost(t, file, h.Name)
	}
	n.net = sim.NewNetwork(topo, func(name string) (*flows.HostState, error) { return n.hosts[name].hs, nil })
	return n
}

// send runs p on host from and follows every copy through the network;
// it returns the deliveries in order.
func (n *network) send(from string, p sim.Packet) []delivery {
	n.t.Helper()
	tr, err := n.net.Send(from, sim.Entry{Where: sim.AtPort, Ofport: p.InPort}, p)
	if err != nil {
		n.t.Fatal(err)
	}
	var out []delivery
	for _, d := range tr.Delivered() {
		obj := string(d.Where) + "/" + d.Object
		if d.Where != sim.AtPort && d.Where != sim.AtPhysnet && d.Where != sim.AtEndpoint {
			n.t.Fatalf("host %s: output to %s port %d, which is not a port of the topology", d.Host, d.Where, d.Ofport)
		}
		out = append(out, delivery{d.Host, obj, d.Packet})
	}
	return out
}

func names(ds []delivery) []string {
	var s []string
	for _, d := range ds {
		s = append(s, d.String())
	}
	return s
}

const full = "../testdata/full/topology.yaml"

func TestFullVLANSwitch(t *testing.T) {
	n := compileNetwork(t, full)
	h1 := n.hosts["h1"]
	r1, r2 := h1.port("r1"), h1.port("r2")
	red, _ := h1.topo.Switch("red")

	p := sim.ICMPEcho(r1.MAC, r2.MAC, r1.IPs[0], r2.IPs[0]).At(h1.ofport("port/r1"))
	res := h1.run(p)
	uplink := h1.ofport("physnet/" + red.Physnet)
	if !slices.Equal(res.Ports(), []int{uplink}) || res.Outputs[0].Packet.VLAN != red.VLAN {
		t.Fatalf("r1 -> r2 on h1: want one copy out of the uplink (%d) tagged %d\n%s", uplink, red.VLAN, res)
	}
	got := n.send("h1", p)
	var atR2 []delivery
	for _, d := range got {
		if d.object == "port/r2" {
			atR2 = append(atR2, d)
		}
	}
	if len(atR2) != 1 || atR2[0].host != r2.Host || atR2[0].packet.VLAN != 0 || atR2[0].packet.IPSrc != r1.IPs[0] {
		t.Errorf("r1 -> r2: deliveries %v, want one untagged copy at r2\n", names(got))
	}
	for _, d := range got {
		if d.object == "port/r1" {
			t.Errorf("r1 -> r2 came back to r1: %v", names(got))
		}
	}
}

func TestFullACLs(t *testing.T) {
	n := compileNetwork(t, full)
	h3 := n.hosts["h3"]
	client, web := h3.port("client"), h3.port("web")
	from := h3.ofport("port/client")
	for _, c := range []struct {
		name string
		p    sim.Packet
		want bool
	}{
		{"tcp to 5002", sim.TCP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 40000), netip.AddrPortFrom(web.IPs[0], 5002)), true},
		{"tcp to 5001", sim.TCP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 40000), netip.AddrPortFrom(web.IPs[0], 5001)), false},
		{"tcp to 22 (aclDefault deny)", sim.TCP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 40000), netip.AddrPortFrom(web.IPs[0], 22)), false},
		{"ping", sim.ICMPEcho(client.MAC, web.MAC, client.IPs[0], web.IPs[0]), true},
		{"udp from 1000", sim.UDP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 1000), netip.AddrPortFrom(web.IPs[0], 9)), true},
		{"udp from 1999", sim.UDP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 1999), netip.AddrPortFrom(web.IPs[0], 9)), true},
		{"udp from 999", sim.UDP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 999), netip.AddrPortFrom(web.IPs[0], 9)), false},
		{"udp from 2000", sim.UDP(client.MAC, web.MAC, netip.AddrPortFrom(client.IPs[0], 2000), netip.AddrPortFrom(web.IPs[0], 9)), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := n.send("h3", c.p.At(from))
			reached := slices.ContainsFunc(got, func(d delivery) bool { return d.object == "port/web" && d.host == web.Host })
			if reached != c.want {
				t.Errorf("reached web = %v, want %v; deliveries %v", reached, c.want, names(got))
			}
			if len(got) > 1 {
				t.Errorf("more than one delivery: %v", names(got))
			}
		})
	}
}

func TestFullNeighbourResponder(t *testing.T) {
	n := compileNetwork(t, full)
	h1 := n.hosts["h1"]
	b1, b3 := h1.port("b1"), h1.port("b3")
	blue, _ := h1.topo.Switch("blue")
	if !blue.ARPResponder {
		t.Skip("blue has no responder")
	}
	var b1v6, b3v6 netip.Addr
	for _, a := range b1.IPs {
		if a.Is6() {
			b1v6 = a
		}
	}
	for _, a := range b3.IPs {
		if a.Is6() {
			b3v6 = a
		}
	}
	got := n.send("h1", sim.NeighborSolicitation(b1.MAC, b1v6, b3v6).At(h1.ofport("port/b1")))
	if len(got) != 1 || got[0].object != "port/b1" || got[0].host != "h1" {
		t.Fatalf("NS for b3 from b1: deliveries %v, want the advertisement back to b1 only", names(got))
	}
	na := got[0].packet
	if na.ICMPType != sim.ICMPv6NA || na.NDTarget != b3v6 || !slices.Equal(na.NDTLL, b3.MAC) || na.NDSLL != nil ||
		na.IPSrc != b3v6 || na.IPDst != b1v6 || !slices.Equal(na.EthDst, b1.MAC) || !slices.Equal(na.EthSrc, b3.MAC) ||
		na.NDOptionsType != 2 {
		t.Errorf("advertisement: %s", na)
	}
}

func TestFullBroadcastReachesEachPortOnce(t *testing.T) {
	n := compileNetwork(t, full)
	h1 := n.hosts["h1"]
	b1 := h1.port("b1")
	got := n.send("h1", sim.ARPRequest(b1.MAC, b1.IPs[0], netip.MustParseAddr("192.0.2.126")).At(h1.ofport("port/b1")))
	count := map[string]int{}
	for _, d := range got {
		count[d.object]++
	}
	// Every other port of blue exactly once, never b1 itself.
	for _, p := range h1.topo.Ports {
		if p.Switch != "blue" {
			continue
		}
		want := 1
		if p.Name == "b1" {
			want = 0
		}
		if count["port/"+p.Name] != want {
			t.Errorf("port %s got %d copies, want %d; deliveries %v", p.Name, count["port/"+p.Name], want, names(got))
		}
	}
	for obj, c := range count {
		if c > 1 {
			t.Errorf("%s got %d copies; deliveries %v", obj, c, names(got))
		}
	}
}
