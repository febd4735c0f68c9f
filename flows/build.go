package flows

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/loom-sdn/loom/topology"
)

// swState is a logical switch as the compiler keeps it: its objects and
// the parts every host carrying it shares.
type swState struct {
	sw        *topology.Switch
	ports     []*topology.Port            // by name
	byHost    map[string][]*topology.Port // the ports of each host, by name
	hosts     []*topology.Host            // with ports on it or its gateway, by name
	gateways  []*topology.L2Gateway       // by name; the topology allows one
	endpoints []*topology.ExternalEndpoint
	// shared holds the flows of the switch that are alike on every host
	// carrying it, each flow for a remote port or host tagged with that
	// host (which leaves it out).
	shared *part
	// responder answers for the switch's addresses, on the hosts with
	// ports on it; nil without an ARP responder.
	responder *part
}

// build computes the switch's parts; prev (nil: none) is the state it
// had, whose parts are kept where they come out the same.
func (s *swState) build(prev *swState) error {
	var prevShared, prevResponder *part
	if prev != nil {
		prevShared, prevResponder = prev.shared, prev.responder
	}
	sw := s.sw
	var err error
	if sw.ARPResponder {
		rb := newBuilder(flowBudget, 3*len(s.ports))
		rb.responder(s)
		if s.responder, err = rb.part(prevResponder); err != nil {
			return err
		}
	}
	b := newBuilder(flowBudget, 2*len(s.ports)+2*len(s.hosts)+1)
	if !sw.Overlay() {
		b.add(switchOrigin(sw, RuleUnknownToUplink), sw.ID, Flow{
			Table: TableL2Lookup, Priority: 70,
			Match:   b.match(matchFlag(FlagFromPhysical, false), matchSwitch(sw.ID)),
			Actions: b.actions(setOutPort(UplinkEgress), GotoTable(TableOutput)),
		})
		s.shared, err = b.part(prevShared)
		return err
	}
	hostOf := func(name string) *topology.Host {
		i := sort.Search(len(s.hosts), func(i int) bool { return s.hosts[i].Name >= name })
		return s.hosts[i]
	}
	tunnel := func(h *topology.Host) uint32 { return uint32(TunnelPortBase(sw.Encapsulation)) + h.Key }
	toPortSecurity := b.actions(setFlag(FlagFromOverlay), setSwitch(sw.ID), GotoTable(TablePortSecurity))
	fromVIF := matchFlag(FlagFromOverlay, false)
	for _, h := range s.hosts {
		b.excl = h.Key
		b.add(switchOrigin(sw, RuleClassifyTunnel), sw.ID, Flow{
			Table: TableClassify, Priority: 100,
			Match:   b.match(Exact(FieldInPort, uint64(tunnel(h))), Exact(FieldTunID, uint64(sw.TunnelKey))),
			Actions: toPortSecurity,
		})
		b.add(switchOrigin(sw, RuleOutputFloodTunnel), sw.ID, Flow{
			Table: TableOutput, Priority: 100,
			Match:   b.match(matchSwitch(sw.ID), matchOutPort(HostEgressBase+h.Key)),
			Actions: b.actions(setTunnelKey(sw.TunnelKey), Output(tunnel(h))),
		})
	}
	for _, p := range s.ports {
		h := hostOf(p.Host)
		b.excl = h.Key
		b.add(portOrigin(p, RuleL2Remote), p.Key, Flow{
			Table: TableL2Lookup, Priority: 100,
			Match:   b.match(fromVIF, matchSwitch(sw.ID), MatchMAC(FieldEthDst, p.MAC)),
			Actions: b.actions(setOutPort(p.Key), GotoTable(TableOutput)),
		})
		b.add(portOrigin(p, RuleOutputRemote), p.Key, Flow{
			Table: TableOutput, Priority: 100,
			Match:   b.match(matchOutPort(p.Key)),
			Actions: b.actions(setTunnelKey(sw.TunnelKey), Output(tunnel(h))),
		})
	}
	b.excl = 0
	for _, e := range s.endpoints {
		o := Origin{Kind: KindEndpoint, Name: e.Name, Pos: e.Pos, Rule: RuleL2Station}
		for _, st := range e.Behind {
			b.add(o, e.ID, Flow{
				Table: TableL2Lookup, Priority: 100,
				Match:   b.match(fromVIF, matchSwitch(sw.ID), MatchMAC(FieldEthDst, st.MAC)),
				Actions: b.actions(setOutPort(EndpointEgressBase+e.ID), GotoTable(TableOutput)),
			})
		}
	}
	if len(s.gateways) > 0 {
		// On every host but the gateway's, unknown MACs go to the gateway.
		g := s.gateways[0]
		gh := hostOf(g.Host)
		b.excl = gh.Key
		o := Origin{Kind: KindGateway, Rule: RuleUnknownToGateway, Name: g.Name, Pos: g.Pos}
		b.add(o, g.ID, Flow{
			Table: TableL2Lookup, Priority: 70,
			Match:   b.match(fromVIF, matchSwitch(sw.ID)),
			Actions: b.actions(setOutPort(HostEgressBase+gh.Key), GotoTable(TableOutput)),
		})
	}
	s.shared, err = b.part(prevShared)
	return err
}

// view is what one host sees of a logical switch.
type view struct {
	sw          *topology.Switch
	local       []*topology.Port
	remoteHosts []*topology.Host // hosts with ports on it, or its gateway, other than this one
	endpoints   []*topology.ExternalEndpoint
	gateway     *topology.L2Gateway // this host is the switch's gateway
	gatewayHost *topology.Host      // the switch's gateway host, if another one
}

func (s *swState) view(me string) *view {
	v := &view{sw: s.sw, local: s.byHost[me], endpoints: s.endpoints}
	v.remoteHosts = make([]*topology.Host, 0, len(s.hosts))
	for _, h := range s.hosts {
		if h.Name != me {
			v.remoteHosts = append(v.remoteHosts, h)
		}
	}
	for _, g := range s.gateways {
		if g.Host == me {
			v.gateway = g
		} else {
			for _, h := range s.hosts {
				if h.Name == g.Host {
					v.gatewayHost = h
				}
			}
		}
	}
	return v
}

// hostBuild makes a host's own part of a switch: its local ports, flood
// sets and uplinks, numbered on this host.
type hostBuild struct {
	*builder
	me     *topology.Host
	ofport map[string]int // local port name -> OpenFlow port
	uplink map[string]int // physnet -> OpenFlow port of its NIC
	epPort map[string]int // external endpoint -> OpenFlow port of its tunnel
	acl    func(name string) *topology.ACL
}

func portOrigin(p *topology.Port, r Rule) Origin {
	return Origin{Kind: KindPort, Name: p.Name, Rule: r, Pos: p.Pos}
}

func switchOrigin(s *topology.Switch, r Rule) Origin {
	return Origin{Kind: KindSwitch, Name: s.Name, Rule: r, Pos: s.Pos}
}

// pipelinePart: every table's miss flow, and the rules shared by all
// switches; alike on every host. (Made on first use: field widths are set
// up by an init function.)
var pipelinePart = sync.OnceValue(func() *part {
	c := newBuilder(flowBudget, 16)
	for _, tb := range Pipeline {
		var acts Actions // drop
		if tb.ID == TableResponder {
			acts = c.actions(GotoTable(TableL2Lookup))
		}
		c.add(Origin{Kind: KindPipeline, Rule: RuleTableMiss, Note: tableMissNote(tb.ID)}, uint32(tb.ID),
			Flow{Table: uint8(tb.ID), Priority: 0, Actions: acts})
	}
	for _, st := range []struct{ table, next int }{{TablePortSecurity, TableIngressACL}, {TableIngressACL, TableResponder}} {
		c.add(Origin{Kind: KindPipeline, Rule: RuleNotFromVIF}, uint32(st.table), Flow{
			Table: uint8(st.table), Priority: 65000,
			Match:   c.match(matchFlag(FlagFromVIF, false)),
			Actions: c.actions(GotoTable(st.next)),
		})
	}
	p, err := c.part(nil)
	if err != nil {
		panic(err)
	}
	return p
})

// localSwitch: the host's own flows of a switch it carries.
func (c *hostBuild) localSwitch(v *view) {
	for _, p := range v.local {
		c.localPort(v, p)
	}
	if v.sw.Overlay() {
		c.overlay(v)
	} else {
		c.vlanBacked(v)
	}
}

// localPort: classify, port security, ACLs, L2 and output of a local port.
func (c *hostBuild) localPort(v *view, p *topology.Port) {
	sw := v.sw
	of := c.ofport[p.Name]
	c.add(portOrigin(p, RuleClassifyVIF), p.Key, Flow{
		Table: TableClassify, Priority: 100,
		Match:   c.match(Exact(FieldInPort, uint64(of))),
		Actions: c.actions(setInPort(p.Key), setFlag(FlagFromVIF), setSwitch(sw.ID), GotoTable(TablePortSecurity)),
	})
	c.portSecurity(p)
	c.portACLs(v, p)
	c.add(portOrigin(p, RuleL2Local), p.Key, Flow{
		Table: TableL2Lookup, Priority: 100,
		Match:   c.match(matchSwitch(sw.ID), MatchMAC(FieldEthDst, p.MAC)),
		Actions: c.actions(setOutPort(p.Key), GotoTable(TableEgressACL)),
	})
	c.add(portOrigin(p, RuleOutputLocal), p.Key, Flow{
		Table: TableOutput, Priority: 100,
		Match:   c.match(matchOutPort(p.Key)),
		Actions: c.actions(Output(uint32(of))),
	})
}

func (c *hostBuild) portSecurity(p *topology.Port) {
	next := c.actions(GotoTable(TableIngressACL))
	mac := MatchMAC(FieldEthSrc, p.MAC)
	in := matchInPort(p.Key)
	if !p.PortSecurity {
		c.add(portOrigin(p, RulePortSecurityOff), p.Key, Flow{
			Table: TablePortSecurity, Priority: 90,
			Match:   c.match(in),
			Actions: next,
		})
		return
	}
	if len(p.IPs) == 0 {
		c.add(portOrigin(p, RulePortSecurityMAC), p.Key, Flow{
			Table: TablePortSecurity, Priority: 90,
			Match:   c.match(in, mac),
			Actions: next,
		})
		return
	}
	has6 := false
	for _, ip := range p.IPs {
		if ip.Is6() {
			has6 = true
			c.add(portOrigin(p, RulePortSecurityIPv6), p.Key, Flow{
				Table: TablePortSecurity, Priority: 90,
				Match:   c.match(ethIPv6, in, mac, MatchIP(FieldIPv6Src, ip)),
				Actions: next,
			})
			c.add(portOrigin(p, RulePortSecurityND), p.Key, Flow{
				Table: TablePortSecurity, Priority: 95,
				Match:   c.match(ethIPv6, isICMPv6, in, mac, Exact(FieldICMPType, ICMPv6NA), MatchIP(FieldNDTarget, ip)),
				Actions: next,
			})
			continue
		}
		c.add(portOrigin(p, RulePortSecurityIP), p.Key, Flow{
			Table: TablePortSecurity, Priority: 90,
			Match:   c.match(ethIPv4, in, mac, MatchIP(FieldIPSrc, ip)),
			Actions: next,
		})
		c.add(portOrigin(p, RulePortSecurityARP), p.Key, Flow{
			Table: TablePortSecurity, Priority: 90,
			Match:   c.match(ethARP, in, mac, MatchMAC(FieldARPSHA, p.MAC), MatchIP(FieldARPSPA, ip)),
			Actions: next,
		})
	}
	if has6 {
		// Link-local sources (neighbour discovery, router solicitations)
		// and DAD probes from ::; advertisements only for its own targets
		// and link-local ones, the rest dropped above the general rule.
		for _, src := range []MatchField{MatchPrefix(FieldIPv6Src, linkLocal), MatchIP(FieldIPv6Src, netip.IPv6Unspecified())} {
			c.add(portOrigin(p, RulePortSecurityIPv6), p.Key, Flow{
				Table: TablePortSecurity, Priority: 90,
				Match:   c.match(ethIPv6, in, mac, src),
				Actions: next,
			})
		}
		c.add(portOrigin(p, RulePortSecurityND), p.Key, Flow{
			Table: TablePortSecurity, Priority: 95,
			Match:   c.match(ethIPv6, isICMPv6, in, mac, Exact(FieldICMPType, ICMPv6NA), MatchPrefix(FieldNDTarget, linkLocal)),
			Actions: next,
		})
		c.add(portOrigin(p, RulePortSecurityND), p.Key, Flow{
			Table: TablePortSecurity, Priority: 94,
			Match: c.match(ethIPv6, isICMPv6, in, Exact(FieldICMPType, ICMPv6NA)),
		})
	}
}

// linkLocal is fe80::/10.
var linkLocal = netip.MustParsePrefix("fe80::/10")

// overlay: the host's own flows of a tunnelled switch: its endpoints'
// tunnels (numbered on this host), its gateway, its flood sets.
func (c *hostBuild) overlay(v *view) {
	sw := v.sw
	toPortSecurity := c.actions(setFlag(FlagFromOverlay), setSwitch(sw.ID), GotoTable(TablePortSecurity))
	for _, e := range v.endpoints {
		o := Origin{Kind: KindEndpoint, Name: e.Name, Pos: e.Pos}
		port := uint32(c.epPort[e.Name])
		o.Rule = RuleClassifyEndpoint
		c.add(o, e.ID, Flow{
			Table: TableClassify, Priority: 100,
			Match:   c.match(Exact(FieldInPort, uint64(port)), Exact(FieldTunID, uint64(e.Key))),
			Actions: toPortSecurity,
		})
		o.Rule = RuleOutputEndpoint
		c.add(o, e.ID, Flow{
			Table: TableOutput, Priority: 100,
			Match:   c.match(matchOutPort(EndpointEgressBase + e.ID)),
			Actions: c.actions(setTunnelKey(e.Key), Output(port)),
		})
	}
	if g := v.gateway; g != nil {
		o := Origin{Kind: KindGateway, Name: g.Name, Pos: g.Pos}
		nic := uint32(c.uplink[g.Physnet])
		o.Rule = RuleClassifyGateway
		c.add(o, g.ID, Flow{
			Table: TableClassify, Priority: 100,
			Match:   c.match(Exact(FieldInPort, uint64(nic)), matchVLAN(g.VLAN)),
			Actions: c.actions(PopVLAN(), setSwitch(sw.ID), GotoTable(TablePortSecurity)),
		})
		o.Rule = RuleOutputUplink
		c.add(o, g.ID, Flow{
			Table: TableOutput, Priority: 100,
			Match:   c.match(matchSwitch(sw.ID), matchOutPort(UplinkEgress)),
			Actions: c.actions(Clone(append(pushVLAN(g.VLAN), Output(nic))...)...),
		})
		// Whatever MAC no flow above knows lives on the VLAN side.
		o.Rule = RuleUnknownToUplink
		c.add(o, g.ID, Flow{
			Table: TableL2Lookup, Priority: 70,
			Match:   c.match(matchSwitch(sw.ID)),
			Actions: c.actions(setOutPort(UplinkEgress), GotoTable(TableOutput)),
		})
	}

	// Flooding: a copy per local port (through its egress ACL; OVS never
	// sends a copy back out of the port it came in on), the gateway's
	// VLAN; and, for traffic that entered on this host only, a copy per
	// remote host and external endpoint of the switch.
	n := 2 * (len(v.local) + 1 + len(v.remoteHosts) + len(v.endpoints))
	all := c.reserve(n)
	for _, p := range v.local {
		all = append(all, setOutPort(p.Key), Resubmit(TableEgressACL))
	}
	if v.gateway != nil {
		all = append(all, setOutPort(UplinkEgress), Resubmit(TableOutput))
	}
	toLocal := all[:len(all):len(all)]
	for _, h := range v.remoteHosts {
		all = append(all, setOutPort(HostEgressBase+h.Key), Resubmit(TableOutput))
	}
	for _, e := range v.endpoints {
		all = append(all, setOutPort(EndpointEgressBase+e.ID), Resubmit(TableOutput))
	}
	c.flood(sw, all, toLocal, FlagFromOverlay, RuleFloodFromLocal, RuleFloodFromOverlay,
		RuleFloodUnknownFromLocal, RuleFloodUnknownFromOverlay)
}

// flood adds the broadcast (and, with floodUnknown, unknown unicast) flows:
// traffic without flag gets toAll, traffic with it toLocal. The flows
// share the two lists.
func (c *hostBuild) flood(sw *topology.Switch, toAll, toLocal Actions, flag int, rAll, rLocal, rUnknownAll, rUnknownLocal Rule) {
	for _, f := range []struct {
		set     bool
		actions Actions
		rule    Rule
		unknown Rule
	}{{false, toAll, rAll, rUnknownAll}, {true, toLocal, rLocal, rUnknownLocal}} {
		if len(f.actions) == 0 {
			continue
		}
		c.add(switchOrigin(sw, f.rule), sw.ID, Flow{
			Table: TableL2Lookup, Priority: 90,
			Match:   c.match(matchFlag(flag, f.set), matchSwitch(sw.ID), matchMulticast()),
			Actions: f.actions,
		})
		if sw.FloodUnknown {
			c.add(switchOrigin(sw, f.unknown), sw.ID, Flow{
				Table: TableL2Lookup, Priority: 80,
				Match:   c.match(matchFlag(flag, f.set), matchSwitch(sw.ID)),
				Actions: f.actions,
			})
		}
	}
}

// vlanBacked: the host's own flows of a switch carried by a VLAN of a
// physnet. The physical network delivers between hosts: everything not
// for a local port goes to the uplink, tagged; what comes from the uplink
// is delivered to local ports only.
func (c *hostBuild) vlanBacked(v *view) {
	sw := v.sw
	nic := uint32(c.uplink[sw.Physnet])
	c.add(switchOrigin(sw, RuleClassifyUplink), sw.ID, Flow{
		Table: TableClassify, Priority: 100,
		Match:   c.match(Exact(FieldInPort, uint64(nic)), matchVLAN(sw.VLAN)),
		Actions: c.actions(PopVLAN(), setFlag(FlagFromPhysical), setSwitch(sw.ID), GotoTable(TablePortSecurity)),
	})
	c.add(switchOrigin(sw, RuleOutputUplink), sw.ID, Flow{
		Table: TableOutput, Priority: 100,
		Match:   c.match(matchSwitch(sw.ID), matchOutPort(UplinkEgress)),
		Actions: c.actions(Clone(append(pushVLAN(sw.VLAN), Output(nic))...)...),
	})
	all := c.reserve(2*len(v.local) + 2)
	for _, p := range v.local {
		all = append(all, setOutPort(p.Key), Resubmit(TableEgressACL))
	}
	toLocal := all[:len(all):len(all)]
	all = append(all, setOutPort(UplinkEgress), Resubmit(TableOutput))
	c.flood(sw, all, toLocal, FlagFromPhysical, RuleFloodFromLocal, RuleFloodFromPhysical,
		RuleFloodUnknownFromLocal, RuleFloodUnknownFromPhysical)
}

// hostPorts are a host's OVSDB ports: one per local workload, one tunnel
// per (remote host, encapsulation) and per external endpoint of the
// switches it carries, one uplink per physnet it uses; with the OpenFlow
// numbers of its workload ports, NICs and endpoint tunnels.
type hostPorts struct {
	rows   []Port
	ofport map[string]int
	uplink map[string]int
	epPort map[string]int
	// What the rows were made from, to keep them when it is the same.
	local   []Port                   // the workload ports' rows
	tunnels map[*topology.Host]uint8 // remote hosts, by encapsulation bits
	// refs count, per remote host and encapsulation, the switches that
	// lead to it; from are the switches they were counted over.
	refs      map[*topology.Host][3]int32
	from      []*swState
	endpoints []*topology.ExternalEndpoint
	physnets  []string
}

var encapBit = map[string]uint8{"gre": 1, "vxlan": 2, "geneve": 4}

// encapIndex is the bit of an encapsulation in encapBit, as a number.
var encapIndex = map[string]int{"gre": 0, "vxlan": 1, "geneve": 2}

// tunnelMaps are the options and external ids of the tunnel rows to a
// host, shared by every host's row (rows are not modified).
type tunnelMaps struct {
	options, extIDs map[string]string
}

func newTunnelMaps(h *topology.Host) *tunnelMaps {
	return &tunnelMaps{
		options: map[string]string{"remote_ip": h.TunnelIP.String(), "key": "flow"},
		extIDs:  map[string]string{ExtIDObject: "host/" + h.Name},
	}
}

// makeHostPorts computes host me's ports from its local ports and the
// switches it carries; prev (nil: none) are its ports in the previous
// compilation, kept in part or whole where they come out the same.
func makeHostPorts(me *topology.Host, local []*topology.Port, carried []*swState, prev *hostPorts, prevLocal []*topology.Port, mapsOf func(*topology.Host) *tunnelMaps) (*hostPorts, error) {
	hp := &hostPorts{uplink: map[string]int{}, epPort: map[string]int{}, tunnels: map[*topology.Host]uint8{}}
	sameLocal := prev != nil && samePointers(local, prevLocal)
	drop := map[string]bool{} // rows of prev to leave out
	var came []Port           // rows to add to prev's
	if sameLocal {
		hp.ofport, hp.local = prev.ofport, prev.local
	} else {
		names := make([]string, len(local))
		var fixed []uint32
		for i, p := range local {
			names[i] = p.Name
			if p.Ofport != 0 {
				if fixed == nil {
					fixed = make([]uint32, len(local))
				}
				fixed[i] = p.Ofport
			}
		}
		ofports, err := topology.AssignIDsAround(names, fixed, MaxWorkloadOfport)
		if err != nil {
			return nil, fmt.Errorf("workload ports: %w", err)
		}
		hp.ofport = make(map[string]int, len(names))
		for i, n := range ofports {
			hp.ofport[names[i]] = int(n)
		}
		// The rows of the ports that stay, with their numbers, are kept
		// (both lists are sorted by name).
		hp.local = make([]Port, len(local))
		j := 0
		for i, p := range local {
			for prev != nil && j < len(prevLocal) && prevLocal[j].Name < p.Name {
				drop[prev.local[j].Name] = true
				j++
			}
			if prev != nil && j < len(prevLocal) && prevLocal[j] == p && prev.local[j].Ofport == hp.ofport[p.Name] {
				hp.local[i] = prev.local[j]
				j++
				continue
			}
			if prev != nil && j < len(prevLocal) && prevLocal[j].Name == p.Name {
				drop[prev.local[j].Name] = true
				j++
			}
			hp.local[i] = Port{
				Name:        p.Interface,
				Ofport:      hp.ofport[p.Name],
				ExternalIDs: map[string]string{ExtIDObject: "port/" + p.Name},
			}
			if p.IfaceID != "" {
				hp.local[i].Name, hp.local[i].IfaceID = AdoptedName(p.IfaceID), p.IfaceID
			}
			came = append(came, hp.local[i])
		}
		for ; prev != nil && j < len(prevLocal); j++ {
			drop[prev.local[j].Name] = true
		}
	}
	// The tunnels: counted from the previous counts, over the switches
	// that changed, or over every switch.
	count := func(s *swState, d int32) {
		if !s.sw.Overlay() {
			return
		}
		k := encapIndex[s.sw.Encapsulation]
		for _, h := range s.hosts {
			if h == me {
				continue
			}
			c := hp.refs[h]
			c[k] += d
			if c == [3]int32{} {
				delete(hp.refs, h)
			} else {
				hp.refs[h] = c
			}
		}
	}
	if prev != nil && prev.refs != nil {
		hp.refs = maps.Clone(prev.refs)
		i, j := 0, 0
		for i < len(prev.from) || j < len(carried) {
			switch {
			case j == len(carried) || (i < len(prev.from) && prev.from[i].sw.Name < carried[j].sw.Name):
				count(prev.from[i], -1)
				i++
			case i == len(prev.from) || carried[j].sw.Name < prev.from[i].sw.Name:
				count(carried[j], 1)
				j++
			default:
				if prev.from[i] != carried[j] {
					count(prev.from[i], -1)
					count(carried[j], 1)
				}
				i, j = i+1, j+1
			}
		}
	} else {
		hp.refs = map[*topology.Host][3]int32{}
		for _, s := range carried {
			count(s, 1)
		}
	}
	hp.from = carried
	for h, c := range hp.refs {
		var bits uint8
		for k, n := range c {
			if n > 0 {
				bits |= 1 << k
			}
		}
		hp.tunnels[h] = bits
	}
	physnets := map[string]bool{}
	for _, s := range carried {
		if !s.sw.Overlay() {
			physnets[s.sw.Physnet] = true
			continue
		}
		for _, g := range s.gateways {
			if g.Host == me.Name {
				physnets[g.Physnet] = true
			}
		}
		hp.endpoints = append(hp.endpoints, s.endpoints...)
	}
	// Endpoints with one IP and encapsulation are one VTEP: they share a
	// tunnel, named and numbered after the first of them by name (the
	// validator made sure their keys differ).
	sort.Slice(hp.endpoints, func(i, j int) bool { return hp.endpoints[i].Name < hp.endpoints[j].Name })
	for pn := range physnets {
		hp.physnets = append(hp.physnets, pn)
	}
	sort.Strings(hp.physnets)
	uplinks, err := topology.AssignIDs(hp.physnets, maxUplinks)
	if err != nil {
		return nil, fmt.Errorf("physnets: %w", err)
	}
	var rows []Port
	vtep := map[string]string{} // encap/IP -> port name
	for _, e := range hp.endpoints {
		k := e.Encapsulation + "/" + e.IP.String()
		if name, ok := vtep[k]; ok {
			hp.epPort[e.Name] = hp.epPort[name]
			continue
		}
		vtep[k] = e.Name
		hp.epPort[e.Name] = EndpointPortBase + int(e.ID)
		rows = append(rows, Port{
			Name:        EndpointPortName(*e),
			Type:        e.Encapsulation,
			Options:     map[string]string{"remote_ip": e.IP.String(), "key": "flow"},
			Ofport:      hp.epPort[e.Name],
			ExternalIDs: map[string]string{ExtIDObject: "endpoint/" + e.Name},
		})
	}
	for i, n := range uplinks {
		pn := hp.physnets[i]
		hp.uplink[pn] = UplinkPortBase + int(n)
		rows = append(rows, Port{
			Name:        me.Physnets[pn],
			Ofport:      hp.uplink[pn],
			ExternalIDs: map[string]string{ExtIDObject: "physnet/" + pn},
		})
	}
	tunnelRows := func(rows []Port, h *topology.Host, bits uint8) []Port {
		m := mapsOf(h)
		for _, encap := range []string{"gre", "vxlan", "geneve"} {
			if bits&encapBit[encap] != 0 {
				rows = append(rows, Port{
					Name:        TunnelPortName(encap, *h),
					Type:        encap,
					Options:     m.options,
					Ofport:      TunnelPortBase(encap) + int(h.Key),
					ExternalIDs: m.extIDs,
				})
			}
		}
		return rows
	}
	byName := func(a, b Port) int { return cmp.Compare(a.Name, b.Name) }
	if prev != nil && samePointers(hp.endpoints, prev.endpoints) && slices.Equal(hp.physnets, prev.physnets) {
		// Only workload ports and tunnels may differ: the previous rows
		// without those that went, with those that came.
		for h, bits := range prev.tunnels {
			if hp.tunnels[h] != bits {
				for _, encap := range []string{"gre", "vxlan", "geneve"} {
					if bits&encapBit[encap] != 0 {
						drop[TunnelPortName(encap, *h)] = true
					}
				}
			}
		}
		for h, bits := range hp.tunnels {
			if prev.tunnels[h] != bits {
				came = tunnelRows(came, h, bits)
			}
		}
		if len(drop) == 0 && len(came) == 0 {
			hp.rows = prev.rows
			return hp, nil
		}
		slices.SortFunc(came, byName)
		hp.rows = make([]Port, 0, len(prev.rows)-len(drop)+len(came))
		for _, r := range prev.rows {
			if drop[r.Name] {
				continue
			}
			for len(came) > 0 && came[0].Name < r.Name {
				hp.rows = append(hp.rows, came[0])
				came = came[1:]
			}
			hp.rows = append(hp.rows, r)
		}
		hp.rows = append(hp.rows, came...)
		if len(hp.rows) == 0 {
			hp.rows = nil // as a compile from scratch has it
		}
		return hp, nil
	}
	rows = append(rows, hp.local...)
	for h, bits := range hp.tunnels {
		rows = tunnelRows(rows, h, bits)
	}
	slices.SortFunc(rows, byName)
	hp.rows = rows
	return hp, nil
}

func samePointers[T any](a, b []*T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// controllerTarget is the passive listener of a host's bridge, from its
// OpenFlow address: "tcp:IP:PORT" -> "ptcp:PORT:IP".
func controllerTarget(me *topology.Host) (string, error) {
	_, hostport, _ := strings.Cut(me.OpenFlow, ":")
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return "", fmt.Errorf("openflow address %q: %w", me.OpenFlow, err)
	}
	scheme := "ptcp"
	if strings.HasPrefix(me.OpenFlow, "ssl:") {
		scheme = "pssl"
	}
	addr := ap.Addr().String()
	if ap.Addr().Is6() {
		addr = "[" + addr + "]"
	}
	return fmt.Sprintf("%s:%d:%s", scheme, ap.Port(), addr), nil
}
