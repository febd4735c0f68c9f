package sim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// A Network is the switches of a topology's hosts, joined as the topology
// joins them: a copy sent into the tunnel to another Loom host arrives on
// that host's tunnel back, and a copy sent out of a physnet's uplink
// arrives on the uplink of the same physnet of every other host (the wire
// is shared). It follows one packet through them all; no host is
// contacted. Hosts are compiled when the packet first reaches them.
type Network struct {
	t       *topology.Topology
	compile func(host string) (*flows.HostState, error)
	hosts   map[string]*netHost
}

type netHost struct {
	hs *flows.HostState
	sw *Switch
}

// MaxHops bounds one trace: a packet that keeps crossing hosts (a loop
// between them) is an error, not an endless walk.
const MaxHops = 64

// NewNetwork makes the network of t's hosts; compile gives a host's
// desired state (flows.CompileHost, or what a controller holds).
func NewNetwork(t *topology.Topology, compile func(host string) (*flows.HostState, error)) *Network {
	return &Network{t: t, compile: compile, hosts: map[string]*netHost{}}
}

// Host is the state and the switch of a host, compiled on first use.
func (n *Network) Host(name string) (*flows.HostState, *Switch, error) {
	if h, ok := n.hosts[name]; ok {
		return h.hs, h.sw, nil
	}
	if _, ok := n.t.Host(name); !ok {
		return nil, nil, fmt.Errorf("no host named %q", name)
	}
	hs, err := n.compile(name)
	if err != nil {
		return nil, nil, err
	}
	sw, err := New(hs.Flows())
	if err != nil {
		return nil, nil, fmt.Errorf("host %s: %w", name, err)
	}
	n.hosts[name] = &netHost{hs: hs, sw: sw}
	return hs, sw, nil
}

// Where says what a packet enters or leaves a host's switch through.
type Where string

const (
	AtPort     Where = "port"     // a workload's port
	AtTunnel   Where = "tunnel"   // the tunnel to (or from) another Loom host
	AtEndpoint Where = "endpoint" // the tunnel to an external endpoint
	AtPhysnet  Where = "physnet"  // a physnet's uplink
	AtInPort   Where = "in_port"  // back out of the port it came in on
	AtOfport   Where = "ofport"   // a port number the host's bridge does not have
)

// Entry is how a packet came to a host.
type Entry struct {
	Where  Where
	Object string // the port, or the physnet; for a tunnel, the host it came from
	Ofport int
}

// Exit is one copy of the packet leaving a host's switch.
type Exit struct {
	Where Where
	// Object is the topology object behind the bridge port: the port's,
	// host's, endpoint's or physnet's name ("" for AtInPort and AtOfport).
	Object    string
	Interface string // the bridge port's name
	Type      string // the bridge port's type: "" for a workload, gre, vxlan...
	Ofport    int
	Packet    Packet // as it leaves: VLAN, tun_id and addresses as the actions left them
	// Next lists the hops this copy starts (in Trace.Hops): the host at
	// the other end of a tunnel, every other host on a physnet.
	Next []int
}

// Drop says where a packet that left no copy at all ended.
type Drop struct {
	Table int
	// Miss: no flow of Table matched Packet. Otherwise the flow of Table
	// that matched (Priority, Cookie) sent no copy anywhere.
	Miss     bool
	Priority int
	Cookie   uint64
	Packet   Packet // as it was at the lookup (for a miss)
}

// Hop is the packet's pass through one host's switch.
type Hop struct {
	Host   string
	Entry  Entry
	Packet Packet // as it entered
	Steps  []Step
	Exits  []Exit
	Drop   *Drop // set when no copy left the switch
	From   int   // the hop whose exit led here; -1 for the first
}

// Trace is a packet's path through the network, hop by hop in the order
// they were walked (each copy followed to its end before the next).
type Trace struct {
	Hops []Hop
}

// Delivered lists the copies that left Loom's hosts or reached a
// workload: every exit but tunnels to other Loom hosts, in walk order.
// A physnet's exit is listed and also followed to the hosts on it.
func (t *Trace) Delivered() []Delivery {
	var out []Delivery
	for _, h := range t.Hops {
		for _, e := range h.Exits {
			if e.Where != AtTunnel {
				out = append(out, Delivery{Host: h.Host, Exit: e})
			}
		}
	}
	return out
}

// Delivery is an exit and the host it left.
type Delivery struct {
	Host string
	Exit
}

// FromPort sends p from the named port (in_port is set to the port's).
func (n *Network) FromPort(port string, p Packet) (*Trace, error) {
	src, ok := n.port(port)
	if !ok {
		return nil, fmt.Errorf("no port named %q", port)
	}
	hs, _, err := n.Host(src.Host)
	if err != nil {
		return nil, err
	}
	bp, ok := bridgePort(hs, "port/"+src.Name)
	if !ok {
		return nil, fmt.Errorf("host %s has no bridge port for port %s", src.Host, src.Name)
	}
	return n.Send(src.Host, Entry{Where: AtPort, Object: src.Name, Ofport: bp.Ofport}, p.At(bp.Ofport))
}

// Send sends p (its in_port set) into host's switch and follows every copy.
func (n *Network) Send(host string, e Entry, p Packet) (*Trace, error) {
	tr := &Trace{Hops: []Hop{}}
	if err := n.walk(tr, host, e, p, -1); err != nil {
		return tr, err
	}
	return tr, nil
}

func (n *Network) walk(tr *Trace, host string, e Entry, p Packet, from int) error {
	if len(tr.Hops) == MaxHops {
		return fmt.Errorf("the packet crossed more than %d hosts: a loop between hosts?", MaxHops)
	}
	hs, sw, err := n.Host(host)
	if err != nil {
		return err
	}
	res, err := sw.Run(p)
	if err != nil {
		return fmt.Errorf("host %s: %w", host, err)
	}
	me := len(tr.Hops)
	tr.Hops = append(tr.Hops, Hop{Host: host, Entry: e, Packet: p, Steps: res.Steps, From: from})
	if res.Dropped {
		tr.Hops[me].Drop = dropOf(res.Steps)
	}
	for _, o := range res.Outputs {
		x := n.exit(hs, o)
		i := len(tr.Hops[me].Exits)
		tr.Hops[me].Exits = append(tr.Hops[me].Exits, x)
		next, err := n.follow(tr, host, x, me)
		tr.Hops[me].Exits[i].Next = next
		if err != nil {
			return err
		}
	}
	return nil
}

// follow walks the hosts a copy reaches from host and returns their hops.
func (n *Network) follow(tr *Trace, host string, x Exit, me int) ([]int, error) {
	var next []int
	switch x.Where {
	case AtTunnel:
		dst, _, err := n.Host(x.Object)
		if err != nil {
			return nil, err
		}
		back, ok := bridgePortOfType(dst, "host/"+host, x.Type)
		if !ok {
			return nil, fmt.Errorf("host %s has no %s tunnel back to host %s", x.Object, x.Type, host)
		}
		arriving := x.Packet.FromTunnel(back.Ofport, x.Packet.TunID)
		arriving.TunSrc, arriving.TunDst = netip.Addr{}, netip.Addr{}
		next = append(next, len(tr.Hops))
		return next, n.walk(tr, x.Object, Entry{Where: AtTunnel, Object: host, Ofport: back.Ofport}, arriving, me)
	case AtPhysnet:
		for _, h := range n.t.Hosts { // sorted by name
			if h.Name == host {
				continue
			}
			if _, ok := h.Physnets[x.Object]; !ok {
				continue
			}
			dst, _, err := n.Host(h.Name)
			if err != nil {
				return next, err
			}
			up, ok := bridgePort(dst, "physnet/"+x.Object)
			if !ok {
				continue // the host does not use the physnet: no uplink on its bridge
			}
			arriving := x.Packet.At(up.Ofport)
			arriving.TunID = 0
			next = append(next, len(tr.Hops))
			if err := n.walk(tr, h.Name, Entry{Where: AtPhysnet, Object: x.Object, Ofport: up.Ofport}, arriving, me); err != nil {
				return next, err
			}
		}
	}
	return next, nil
}

// exit names the bridge port an output went to.
func (n *Network) exit(hs *flows.HostState, o Output) Exit {
	x := Exit{Ofport: o.Port, Packet: o.Packet, Where: AtOfport}
	for _, p := range hs.Ports {
		if p.Ofport != o.Port {
			continue
		}
		kind, name, _ := strings.Cut(p.ExternalIDs[flows.ExtIDObject], "/")
		x.Object, x.Interface, x.Type = name, p.Name, p.Type
		if p.IfaceID != "" {
			x.Interface = "iface-id " + p.IfaceID // whatever interface has it on the host
		}
		switch kind {
		case "port":
			x.Where = AtPort
		case "host":
			x.Where = AtTunnel
		case "endpoint":
			x.Where = AtEndpoint
		case "physnet":
			x.Where = AtPhysnet
		}
		return x
	}
	if o.Port == o.Packet.InPort {
		x.Where = AtInPort
	}
	return x
}

// dropOf is where a walk that sent nothing ended: its last lookup in the
// main pipeline.
func dropOf(steps []Step) *Drop {
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if s.Depth == 0 {
			return &Drop{Table: s.Table, Miss: s.Miss, Priority: s.Priority, Cookie: s.Cookie, Packet: s.Packet}
		}
	}
	return nil
}

func bridgePort(hs *flows.HostState, object string) (flows.Port, bool) {
	for _, p := range hs.Ports {
		if p.ExternalIDs[flows.ExtIDObject] == object {
			return p, true
		}
	}
	return flows.Port{}, false
}

func bridgePortOfType(hs *flows.HostState, object, typ string) (flows.Port, bool) {
	for _, p := range hs.Ports {
		if p.ExternalIDs[flows.ExtIDObject] == object && p.Type == typ {
			return p, true
		}
	}
	return flows.Port{}, false
}

func (n *Network) port(name string) (topology.Port, bool) {
	for _, p := range n.t.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return topology.Port{}, false
}

// Probe describes a packet to trace in the topology's own terms.
type Probe struct {
	From string // the port it is sent from
	// To is the port it is sent to (its MAC and first IPv4 address), or
	// Dst the destination address (its MAC from the topology if a port or
	// a station behind an endpoint holds it, else broadcast).
	To    string
	Dst   netip.Addr
	Proto string // "icmp" (echo request), "tcp", "udp" or "arp" (a request for the destination)
	DPort uint16 // tcp and udp; the source port is 40000
}

// Packet builds the probe's packet. note is set when the destination is
// not in the topology (the packet goes to the broadcast MAC).
func (n *Network) Packet(pr Probe) (p Packet, note string, err error) {
	src, ok := n.port(pr.From)
	if !ok {
		return Packet{}, "", fmt.Errorf("no port named %q", pr.From)
	}
	srcIP := firstIPv4(src.IPs)
	var dstMAC net.HardwareAddr
	dstIP := pr.Dst
	switch {
	case pr.To != "":
		dst, ok := n.port(pr.To)
		if !ok {
			return Packet{}, "", fmt.Errorf("no port named %q", pr.To)
		}
		dstMAC, dstIP = dst.MAC, firstIPv4(dst.IPs)
	case pr.Dst.IsValid():
		dstMAC = n.macOf(pr.Dst)
	default:
		return Packet{}, "", fmt.Errorf("give the port or the address the packet is sent to")
	}
	if !srcIP.IsValid() || !dstIP.Is4() {
		return Packet{}, "", fmt.Errorf("a trace needs IPv4 addresses on both ends")
	}
	switch pr.Proto {
	case "icmp", "":
		p = ICMPEcho(src.MAC, dstMAC, srcIP, dstIP)
	case "tcp":
		p = TCP(src.MAC, dstMAC, netip.AddrPortFrom(srcIP, 40000), netip.AddrPortFrom(dstIP, pr.DPort))
	case "udp":
		p = UDP(src.MAC, dstMAC, netip.AddrPortFrom(srcIP, 40000), netip.AddrPortFrom(dstIP, pr.DPort))
	case "arp":
		p = ARPRequest(src.MAC, srcIP, dstIP)
	default:
		return Packet{}, "", fmt.Errorf("protocol %q: want icmp, tcp, udp or arp", pr.Proto)
	}
	if dstMAC[0] == 0xff && pr.Proto != "arp" {
		note = fmt.Sprintf("%s is not in the topology; the packet is sent to the broadcast MAC", dstIP)
	}
	return p, note, nil
}

func firstIPv4(ips []netip.Addr) netip.Addr {
	for _, ip := range ips {
		if ip.Is4() {
			return ip
		}
	}
	return netip.Addr{}
}

// macOf is the MAC that holds ip in the topology (a port's, or a station's
// behind an external endpoint), or broadcast.
func (n *Network) macOf(ip netip.Addr) net.HardwareAddr {
	for _, p := range n.t.Ports {
		for _, a := range p.IPs {
			if a == ip {
				return p.MAC
			}
		}
	}
	for _, e := range n.t.ExternalEndpoints {
		for _, st := range e.Behind {
			for _, a := range st.IPs {
				if a == ip {
					return st.MAC
				}
			}
		}
	}
	return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
}
