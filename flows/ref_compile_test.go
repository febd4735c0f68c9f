package flows

// The refCompiler as it was before switch parts (c181b19): every host
// compiled on its own. Kept as a test oracle: the part refCompiler's output
// must equal it flow for flow.

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/loom-sdn/loom/topology"
)

type refState struct {
	Host, OVSDB, OpenFlow, Bridge, DatapathType, ControllerTarget string
	Ports                                                         []Port
	Flows                                                         []Flow
	TLS                                                           topology.CertPin
}

type refIndex struct {
	t              *topology.Topology
	hosts          map[string]*topology.Host
	acls           map[string]*topology.ACL
	switches       map[string]*topology.Switch
	portsBySwitch  map[string][]*topology.Port
	portsByHost    map[string][]*topology.Port
	gateways       map[string][]*topology.L2Gateway // by switch
	gatewaysByHost map[string][]*topology.L2Gateway
	endpoints      map[string][]*topology.ExternalEndpoint // by switch
}

func newRefIndex(t *topology.Topology) *refIndex {
	ix := &refIndex{t: t, hosts: map[string]*topology.Host{}, acls: map[string]*topology.ACL{},
		switches: map[string]*topology.Switch{}, portsBySwitch: map[string][]*topology.Port{},
		portsByHost: map[string][]*topology.Port{}, gateways: map[string][]*topology.L2Gateway{},
		gatewaysByHost: map[string][]*topology.L2Gateway{}, endpoints: map[string][]*topology.ExternalEndpoint{}}
	for i := range t.Hosts {
		ix.hosts[t.Hosts[i].Name] = &t.Hosts[i]
	}
	for i := range t.ACLs {
		ix.acls[t.ACLs[i].Name] = &t.ACLs[i]
	}
	for i := range t.Switches {
		ix.switches[t.Switches[i].Name] = &t.Switches[i]
	}
	for i := range t.Ports {
		p := &t.Ports[i]
		ix.portsBySwitch[p.Switch] = append(ix.portsBySwitch[p.Switch], p)
		ix.portsByHost[p.Host] = append(ix.portsByHost[p.Host], p)
	}
	for i := range t.L2Gateways {
		g := &t.L2Gateways[i]
		ix.gateways[g.Switch] = append(ix.gateways[g.Switch], g)
		ix.gatewaysByHost[g.Host] = append(ix.gatewaysByHost[g.Host], g)
	}
	for i := range t.ExternalEndpoints {
		e := &t.ExternalEndpoints[i]
		ix.endpoints[e.Switch] = append(ix.endpoints[e.Switch], e)
	}
	return ix
}

func refCompileHost(ix *refIndex, me *topology.Host) (*refState, map[string]struct{}, error) {
	_, hostport, _ := strings.Cut(me.OpenFlow, ":")
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return nil, nil, fmt.Errorf("host %q: openflow address %q: %w", me.Name, me.OpenFlow, err)
	}
	scheme := "ptcp"
	if strings.HasPrefix(me.OpenFlow, "ssl:") {
		scheme = "pssl"
	}
	addr := ap.Addr().String()
	if ap.Addr().Is6() {
		addr = "[" + addr + "]"
	}
	hs := &refState{
		Host: me.Name, OVSDB: me.OVSDB, OpenFlow: me.OpenFlow, TLS: me.TLS,
		Bridge: me.Bridge, DatapathType: me.DatapathType,
		ControllerTarget: fmt.Sprintf("%s:%d:%s", scheme, ap.Port(), addr),
	}
	c := newRefCompiler(ix, *me, hs)
	c.ports()
	c.pipeline()
	for _, name := range c.carried {
		if c.err != nil {
			break
		}
		c.logicalSwitch(c.views[name])
	}
	if c.err != nil {
		return nil, nil, fmt.Errorf("host %q: %w", me.Name, c.err)
	}
	if err := c.finish(); err != nil {
		return nil, nil, fmt.Errorf("host %q: %w", me.Name, err)
	}
	return hs, c.reads, nil
}

type refView struct {
	sw          *topology.Switch
	local       []*topology.Port
	remote      []*topology.Port
	remoteHosts []*topology.Host // hosts with ports on it, or its gateway, other than this one
	endpoints   []*topology.ExternalEndpoint
	gateway     *topology.L2Gateway // this host is the switch's gateway
	gatewayHost *topology.Host      // the switch's gateway host, if another one
}

type refCompiler struct {
	ix *refIndex // read only through the accessors of deps.go, which record what was read
	// reads are the keys of what this host's compilation read (see deps.go).
	reads   map[string]struct{}
	me      topology.Host
	hs      *refState
	views   map[string]*refView // the switches this host carries, by name
	carried []string            // their names, sorted
	ofport  map[string]int      // local port name -> OpenFlow port
	uplink  map[string]int      // physnet -> OpenFlow port of its NIC
	epPort  map[string]int      // external endpoint -> OpenFlow port of its tunnel
	// err is the first problem met; once it is set nothing more is added.
	err error
	// Slabs the flows' matches and actions are cut from: a few large
	// allocations instead of two small ones per flow.
	mslab []MatchField
	aslab []Action
	// The flows, in chunks (a Flow is large: growing one slice would copy
	// them again and again); finish sorts them into hs.Flows.
	chunks [][]Flow
	nflows int
}

// fail records the first problem of the compilation.
func (c *refCompiler) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// newRefCompiler finds the switches this host carries (it has ports on them
// or is their gateway) and what it sees of each.
func newRefCompiler(ix *refIndex, me topology.Host, hs *refState) *refCompiler {
	c := &refCompiler{ix: ix, reads: map[string]struct{}{}, me: me, hs: hs, views: map[string]*refView{},
		ofport: map[string]int{}, uplink: map[string]int{}, epPort: map[string]int{}}
	c.read(keyHost + me.Name)
	for _, p := range c.portsOnHost(me.Name) {
		c.carry(p.Switch)
	}
	for _, g := range c.gatewaysOnHost(me.Name) {
		c.carry(g.Switch)
	}
	sort.Strings(c.carried)
	for _, name := range c.carried {
		v := c.views[name]
		remote := map[string]bool{}
		for _, p := range c.portsOnSwitch(name) {
			if p.Host == me.Name {
				v.local = append(v.local, p)
			} else {
				v.remote = append(v.remote, p)
				remote[p.Host] = true
			}
		}
		for _, g := range c.gatewaysOfSwitch(name) {
			if g.Host == me.Name {
				v.gateway = g
			} else {
				v.gatewayHost = c.host(g.Host)
				remote[g.Host] = true
			}
		}
		v.endpoints = c.endpointsOfSwitch(name)
		for h := range remote {
			v.remoteHosts = append(v.remoteHosts, c.host(h))
		}
		sort.Slice(v.remoteHosts, func(i, j int) bool { return v.remoteHosts[i].Name < v.remoteHosts[j].Name })
	}
	return c
}

func (c *refCompiler) carry(sw string) {
	if _, ok := c.views[sw]; !ok {
		c.views[sw] = &refView{sw: c.switch_(sw)}
		c.carried = append(c.carried, sw)
	}
}

// MaxFlowsPerHost bounds what one host's compilation may produce (and so
// its time and memory): a topology that expands to more, typically
// through ACL rules with port ranges on many ports, is refused.
func (c *refCompiler) add(o Origin, id uint32, f Flow) {
	if c.err != nil {
		return
	}
	if c.nflows >= flowBudget {
		c.fail(fmt.Errorf("more than %d flows (the last one for %s): split the host's ports or ACLs", flowBudget, o))
		return
	}
	f.Cookie = MakeCookie(o.Kind, o.Rule, id)
	f.Origin = o
	last := len(c.chunks) - 1
	if last < 0 || len(c.chunks[last]) == cap(c.chunks[last]) {
		c.chunks = append(c.chunks, make([]Flow, 0, refFlowChunk))
		last++
	}
	c.chunks[last] = append(c.chunks[last], f)
	c.nflows++
}

// match returns fs as a canonical match, cut from the slab.
func (c *refCompiler) match(fs ...MatchField) Match {
	if cap(c.mslab)-len(c.mslab) < len(fs) {
		c.mslab = make([]MatchField, 0, max(slabSize, len(fs)))
	}
	start := len(c.mslab)
	c.mslab = append(c.mslab, fs...)
	m, err := NewMatch(c.mslab[start:])
	if err != nil {
		c.fail(fmt.Errorf("internal error: %w", err))
	}
	c.mslab = c.mslab[:start+len(m)]
	return m[:len(m):len(m)]
}

// actions returns as, cut from the slab.
func (c *refCompiler) actions(as ...Action) Actions {
	if len(as) == 0 {
		return nil
	}
	if cap(c.aslab)-len(c.aslab) < len(as) {
		c.aslab = make([]Action, 0, max(slabSize, len(as)))
	}
	start := len(c.aslab)
	c.aslab = append(c.aslab, as...)
	return c.aslab[start:len(c.aslab):len(c.aslab)]
}

// ports: one per local workload, one tunnel per (remote host,
// encapsulation) and per external endpoint of the switches this host
// carries, one uplink per physnet it uses.
func (c *refCompiler) ports() {
	var local []string
	for _, p := range c.portsOnHost(c.me.Name) {
		local = append(local, p.Name)
	}
	ofports, err := topology.AssignIDs(local, MaxWorkloadOfport)
	if err != nil {
		c.fail(fmt.Errorf("workload ports: %w", err))
		return
	}
	for i, n := range ofports {
		c.ofport[local[i]] = int(n)
	}
	for _, p := range c.portsOnHost(c.me.Name) {
		c.hs.Ports = append(c.hs.Ports, Port{
			Name:        p.Interface,
			Ofport:      c.ofport[p.Name],
			ExternalIDs: map[string]string{ExtIDObject: "port/" + p.Name},
		})
	}
	tunnels := map[string]bool{}
	var endpoints []*topology.ExternalEndpoint
	physnets := map[string]bool{}
	for _, name := range c.carried {
		v := c.views[name]
		if !v.sw.Overlay() {
			physnets[v.sw.Physnet] = true
			continue
		}
		if v.gateway != nil {
			physnets[v.gateway.Physnet] = true
		}
		for _, h := range v.remoteHosts {
			k := v.sw.Encapsulation + "/" + h.Name
			if !tunnels[k] {
				tunnels[k] = true
				c.hs.Ports = append(c.hs.Ports, Port{
					Name:        TunnelPortName(v.sw.Encapsulation, *h),
					Type:        v.sw.Encapsulation,
					Options:     map[string]string{"remote_ip": h.TunnelIP.String(), "key": "flow"},
					Ofport:      TunnelPortBase(v.sw.Encapsulation) + int(h.Key),
					ExternalIDs: map[string]string{ExtIDObject: "host/" + h.Name},
				})
			}
		}
		endpoints = append(endpoints, v.endpoints...)
	}
	// Endpoints with one IP and encapsulation are one VTEP: they share a
	// tunnel, named and numbered after the first of them by name (the
	// validator made sure their keys differ).
	sort.Slice(endpoints, func(i, j int) bool { return endpoints[i].Name < endpoints[j].Name })
	vtep := map[string]string{} // encap/IP -> port name
	for _, e := range endpoints {
		k := e.Encapsulation + "/" + e.IP.String()
		if name, ok := vtep[k]; ok {
			c.epPort[e.Name] = c.epPort[name]
			continue
		}
		vtep[k] = e.Name
		c.epPort[e.Name] = EndpointPortBase + int(e.ID)
		c.hs.Ports = append(c.hs.Ports, Port{
			Name:        EndpointPortName(*e),
			Type:        e.Encapsulation,
			Options:     map[string]string{"remote_ip": e.IP.String(), "key": "flow"},
			Ofport:      c.epPort[e.Name],
			ExternalIDs: map[string]string{ExtIDObject: "endpoint/" + e.Name},
		})
	}
	var names []string
	for pn := range physnets {
		names = append(names, pn)
	}
	sort.Strings(names)
	uplinks, err := topology.AssignIDs(names, maxUplinks)
	if err != nil {
		c.fail(fmt.Errorf("physnets: %w", err))
		return
	}
	for i, n := range uplinks {
		pn := names[i]
		c.uplink[pn] = UplinkPortBase + int(n)
		c.hs.Ports = append(c.hs.Ports, Port{
			Name:        c.me.Physnets[pn],
			Ofport:      c.uplink[pn],
			ExternalIDs: map[string]string{ExtIDObject: "physnet/" + pn},
		})
	}
	sort.Slice(c.hs.Ports, func(i, j int) bool { return c.hs.Ports[i].Name < c.hs.Ports[j].Name })
}

// pipeline: every table's miss flow, and the rules shared by all switches.
func (c *refCompiler) pipeline() {
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
}

func (c *refCompiler) logicalSwitch(v *refView) {
	sw := v.sw
	for _, p := range v.local {
		c.localPort(v, p)
	}
	c.responder(v)
	if sw.Overlay() {
		c.overlay(v)
	} else {
		c.vlanBacked(v)
	}
}

// localPort: classify, port security, ACLs, L2 and output of a local port.
func (c *refCompiler) localPort(v *refView, p *topology.Port) {
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

func (c *refCompiler) portSecurity(p *topology.Port) {
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

// overlay: the flows of a tunnelled switch on this host.
func (c *refCompiler) overlay(v *refView) {
	sw := v.sw
	tunnel := func(h *topology.Host) uint32 { return uint32(TunnelPortBase(sw.Encapsulation)) + h.Key }
	toPortSecurity := c.actions(setFlag(FlagFromOverlay), setSwitch(sw.ID), GotoTable(TablePortSecurity))
	fromVIF := matchFlag(FlagFromOverlay, false)

	for _, h := range v.remoteHosts {
		c.add(switchOrigin(sw, RuleClassifyTunnel), sw.ID, Flow{
			Table: TableClassify, Priority: 100,
			Match:   c.match(Exact(FieldInPort, uint64(tunnel(h))), Exact(FieldTunID, uint64(sw.TunnelKey))),
			Actions: toPortSecurity,
		})
		c.add(switchOrigin(sw, RuleOutputFloodTunnel), sw.ID, Flow{
			Table: TableOutput, Priority: 100,
			Match:   c.match(matchSwitch(sw.ID), matchOutPort(HostEgressBase+h.Key)),
			Actions: c.actions(setTunnelKey(sw.TunnelKey), Output(tunnel(h))),
		})
	}
	for _, p := range v.remote {
		h := c.host(p.Host)
		c.add(portOrigin(p, RuleL2Remote), p.Key, Flow{
			Table: TableL2Lookup, Priority: 100,
			Match:   c.match(fromVIF, matchSwitch(sw.ID), MatchMAC(FieldEthDst, p.MAC)),
			Actions: c.actions(setOutPort(p.Key), GotoTable(TableOutput)),
		})
		c.add(portOrigin(p, RuleOutputRemote), p.Key, Flow{
			Table: TableOutput, Priority: 100,
			Match:   c.match(matchOutPort(p.Key)),
			Actions: c.actions(setTunnelKey(sw.TunnelKey), Output(tunnel(h))),
		})
	}
	for _, e := range v.endpoints {
		o := Origin{Kind: KindEndpoint, Name: e.Name, Pos: e.Pos}
		port := uint32(c.epPort[e.Name])
		o.Rule = RuleClassifyEndpoint
		c.add(o, e.ID, Flow{
			Table: TableClassify, Priority: 100,
			Match:   c.match(Exact(FieldInPort, uint64(port)), Exact(FieldTunID, uint64(e.Key))),
			Actions: toPortSecurity,
		})
		o.Rule = RuleL2Station
		for _, st := range e.Behind {
			c.add(o, e.ID, Flow{
				Table: TableL2Lookup, Priority: 100,
				Match:   c.match(fromVIF, matchSwitch(sw.ID), MatchMAC(FieldEthDst, st.MAC)),
				Actions: c.actions(setOutPort(EndpointEgressBase+e.ID), GotoTable(TableOutput)),
			})
		}
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
	} else if gh := v.gatewayHost; gh != nil {
		o := Origin{Kind: KindGateway, Rule: RuleUnknownToGateway}
		g := c.gatewaysOfSwitch(sw.Name)[0] // the topology allows one per switch
		o.Name, o.Pos = g.Name, g.Pos
		c.add(o, g.ID, Flow{
			Table: TableL2Lookup, Priority: 70,
			Match:   c.match(fromVIF, matchSwitch(sw.ID)),
			Actions: c.actions(setOutPort(HostEgressBase+gh.Key), GotoTable(TableOutput)),
		})
	}

	// Flooding: a copy per local port (through its egress ACL; OVS never
	// sends a copy back out of the port it came in on), the gateway's
	// VLAN; and, for traffic that entered on this host only, a copy per
	// remote host and external endpoint of the switch.
	n := 2 * (len(v.local) + 1 + len(v.remoteHosts) + len(v.endpoints))
	all := make(Actions, 0, n)
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
func (c *refCompiler) flood(sw *topology.Switch, toAll, toLocal Actions, flag int, rAll, rLocal, rUnknownAll, rUnknownLocal Rule) {
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

// vlanBacked: the flows of a switch carried by a VLAN of a physnet. The
// physical network delivers between hosts: everything not for a local
// port goes to the uplink, tagged; what comes from the uplink is
// delivered to local ports only.
func (c *refCompiler) vlanBacked(v *refView) {
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
	c.add(switchOrigin(sw, RuleUnknownToUplink), sw.ID, Flow{
		Table: TableL2Lookup, Priority: 70,
		Match:   c.match(matchFlag(FlagFromPhysical, false), matchSwitch(sw.ID)),
		Actions: c.actions(setOutPort(UplinkEgress), GotoTable(TableOutput)),
	})
	all := make(Actions, 0, 2*len(v.local)+2)
	for _, p := range v.local {
		all = append(all, setOutPort(p.Key), Resubmit(TableEgressACL))
	}
	toLocal := all[:len(all):len(all)]
	all = append(all, setOutPort(UplinkEgress), Resubmit(TableOutput))
	c.flood(sw, all, toLocal, FlagFromPhysical, RuleFloodFromLocal, RuleFloodFromPhysical,
		RuleFloodUnknownFromLocal, RuleFloodUnknownFromPhysical)
}

// finish sorts the flows (Compare) and checks that no two share an
// identity (table, priority, match), which would make one silently
// replace the other on the switch.
func (c *refCompiler) finish() error {
	ptrs := make([]*Flow, 0, c.nflows)
	for _, ch := range c.chunks {
		for i := range ch {
			ptrs = append(ptrs, &ch[i])
		}
	}
	slices.SortFunc(ptrs, Compare)
	for i := 1; i < len(ptrs); i++ {
		if a, b := ptrs[i-1], ptrs[i]; SameIdentity(a, b) {
			return fmt.Errorf("two flows with table=%d priority=%d %s: %s and %s", b.Table, b.Priority,
				b.Match.appendText(nil), a.Origin, b.Origin)
		}
	}
	c.hs.Flows = make([]Flow, len(ptrs))
	for i, f := range ptrs {
		c.hs.Flows[i] = *f
	}
	c.chunks = nil
	return nil
}

// FlowText renders the host's flows in ovs-ofctl syntax, one per line, in

// responder answers ARP requests and IPv6 neighbour solicitations from
// local workloads for every address known on the switch (ports and
// stations behind external endpoints), so they need not be flooded.
func (c *refCompiler) responder(v *refView) {
	sw := v.sw
	if !sw.ARPResponder || len(v.local) == 0 {
		return
	}
	type known struct {
		o     Origin
		id    uint32
		mac   net.HardwareAddr
		ips   []netip.Addr
		owner *topology.Port
	}
	var all []known
	for _, p := range c.portsOnSwitch(sw.Name) {
		all = append(all, known{portOrigin(p, RuleARPReply), p.Key, p.MAC, p.IPs, p})
	}
	for _, e := range v.endpoints {
		for _, st := range e.Behind {
			all = append(all, known{Origin{Kind: KindEndpoint, Name: e.Name, Pos: e.Pos, Rule: RuleARPReply}, e.ID, st.MAC, st.IPs, nil})
		}
	}
	skip := c.actions(GotoTable(TableL2Lookup))
	fromVIF := matchFlag(FlagFromVIF, true)
	inSwitch := matchSwitch(sw.ID)
	nd := func(typ uint64) MatchField { return Exact(FieldICMPType, typ) }
	for _, k := range all {
		for _, ip := range k.ips {
			o := k.o
			if ip.Is4() {
				if k.owner != nil {
					o.Rule = RuleResponderOwner
					c.add(o, k.id, Flow{
						Table: TableResponder, Priority: 110,
						Match:   c.match(ethARP, matchInPort(k.owner.Key), MatchIP(FieldARPTPA, ip)),
						Actions: skip,
					})
				}
				o.Rule = RuleARPReply
				c.add(o, k.id, Flow{
					Table: TableResponder, Priority: 100,
					Match: c.match(ethARP, fromVIF, inSwitch, Exact(FieldARPOp, 1), MatchIP(FieldARPTPA, ip)),
					Actions: c.actions(
						MoveAll(FieldEthSrc, FieldEthDst),
						SetFieldMAC(FieldEthSrc, k.mac),
						LoadAll(FieldARPOp, 2),
						MoveAll(FieldARPSHA, FieldARPTHA),
						SetFieldMAC(FieldARPSHA, k.mac),
						MoveAll(FieldARPSPA, FieldARPTPA),
						SetFieldIP(FieldARPSPA, ip),
						OutputInPort(),
					),
				})
				continue
			}
			if k.owner != nil {
				o.Rule = RuleResponderOwner
				c.add(o, k.id, Flow{
					Table: TableResponder, Priority: 110,
					Match:   c.match(ethIPv6, isICMPv6, matchInPort(k.owner.Key), nd(ICMPv6NS), MatchIP(FieldNDTarget, ip)),
					Actions: skip,
				})
			}
			o.Rule = RuleNDReply
			c.add(o, k.id, Flow{
				Table: TableResponder, Priority: 100,
				Match: c.match(ethIPv6, isICMPv6, fromVIF, inSwitch, nd(ICMPv6NS), MatchIP(FieldNDTarget, ip)),
				Actions: c.actions(
					MoveAll(FieldEthSrc, FieldEthDst),
					SetFieldMAC(FieldEthSrc, k.mac),
					MoveAll(FieldIPv6Src, FieldIPv6Dst),
					SetFieldIP(FieldIPv6Src, ip),
					SetField(FieldICMPType, U64(ICMPv6NA)),
					SetField(FieldNDReserved, U64(0x60000000)), // solicited, override
					SetField(FieldNDOptionsType, U64(2)),
					// OVS checks a field's prerequisites against the
					// flow's match: nd_tll needs an advertisement, so it
					// is written by a flow of nd_reply, which matches one.
					GotoTable(TableNDReply),
				),
			})
			o.Rule = RuleNDReplyTLL
			c.add(o, k.id, Flow{
				Table: TableNDReply, Priority: 100,
				Match:   c.match(ethIPv6, isICMPv6, inSwitch, nd(ICMPv6NA), MatchIP(FieldNDTarget, ip)),
				Actions: c.actions(SetFieldMAC(FieldNDTLL, k.mac), OutputInPort()),
			})
		}
	}
	// Not answered: DAD probes (from ::, the answer would go nowhere) and
	// solicitations without a source link-layer option, whose option
	// cannot be turned into the target one. They go on to l2_lookup.
	if hasIPv6(all, func(k known) []netip.Addr { return k.ips }) {
		o := switchOrigin(sw, RuleResponderSkip)
		c.add(o, sw.ID, Flow{
			Table: TableResponder, Priority: 105,
			Match:   c.match(ethIPv6, isICMPv6, inSwitch, nd(ICMPv6NS), MatchIP(FieldIPv6Src, netip.IPv6Unspecified())),
			Actions: skip,
		})
		c.add(o, sw.ID, Flow{
			Table: TableResponder, Priority: 105,
			Match:   c.match(ethIPv6, isICMPv6, inSwitch, nd(ICMPv6NS), Exact(FieldNDSLL, 0)),
			Actions: skip,
		})
	}
}

// portACLs: the port's fromPort ACLs in ingress_acl and its toPort ACLs in
// egress_acl, rule by rule in order, then the switch's default.
func (c *refCompiler) portACLs(v *refView, p *topology.Port) {
	for _, dir := range []struct {
		table, next uint8
		acls        []string
		match       MatchField
		rule, def   Rule
	}{
		{TableIngressACL, TableResponder, p.ACLsFromPort, matchInPort(p.Key), RuleACLFromPort, RuleACLDefaultFromPort},
		{TableEgressACL, TableOutput, p.ACLsToPort, matchOutPort(p.Key), RuleACLToPort, RuleACLDefaultToPort},
	} {
		pass := c.actions(GotoTable(int(dir.next)))
		// Rules take priorities from topACLPriority down, above the
		// default at 1: topology limits a port's rules in one direction
		// to topology.MaxACLRules.
		prio := topACLPriority
		for _, name := range dir.acls {
			a := c.acl(name)
			for i := range a.Rules {
				r := &a.Rules[i]
				o := Origin{Kind: KindACL, Name: a.Name, Rule: dir.rule, Pos: r.Pos, Note: aclRuleNote(r)}
				act := pass
				if !r.Allow {
					act = nil // drop
				}
				if prio <= 1 || r.Index > 0xffff {
					c.fail(fmt.Errorf("port %q: more ACL rules than the %d a port may have in one direction", p.Name, topology.MaxACLRules))
					return
				}
				matches, err := ruleMatches(r)
				if err != nil {
					c.fail(fmt.Errorf("acl %q %s: %w", a.Name, ruleLabel(r), err))
					return
				}
				for _, m := range matches {
					c.add(o, a.ID<<16|uint32(r.Index), Flow{
						Table: dir.table, Priority: uint16(prio),
						Match:   c.match(append(m, dir.match)...),
						Actions: act,
					})
				}
				prio--
			}
		}
		act := pass
		if v.sw.ACLDefault == "deny" {
			act = nil
		}
		c.add(Origin{Kind: KindPort, Name: p.Name, Rule: dir.def, Pos: p.Pos, Note: v.sw.ACLDefault}, p.Key, Flow{
			Table: dir.table, Priority: 1,
			Match:   c.match(dir.match),
			Actions: act,
		})
	}
}

func (c *refCompiler) host(name string) *topology.Host {
	c.read(keyHost + name)
	return c.ix.hosts[name]
}

func (c *refCompiler) switch_(name string) *topology.Switch {
	c.read(keySwitch + name)
	return c.ix.switches[name]
}

func (c *refCompiler) acl(name string) *topology.ACL {
	c.read(keyACL + name)
	return c.ix.acls[name]
}

func (c *refCompiler) portsOnSwitch(sw string) []*topology.Port {
	c.read(keyPortsOnSwitch + sw)
	return c.ix.portsBySwitch[sw]
}

func (c *refCompiler) portsOnHost(h string) []*topology.Port {
	c.read(keyPortsOnHost + h)
	return c.ix.portsByHost[h]
}

func (c *refCompiler) gatewaysOfSwitch(sw string) []*topology.L2Gateway {
	c.read(keyGatewaysOfSw + sw)
	return c.ix.gateways[sw]
}

func (c *refCompiler) gatewaysOnHost(h string) []*topology.L2Gateway {
	c.read(keyGatewaysOnH + h)
	return c.ix.gatewaysByHost[h]
}

func (c *refCompiler) endpointsOfSwitch(sw string) []*topology.ExternalEndpoint {
	c.read(keyEndpointsOfSw + sw)
	return c.ix.endpoints[sw]
}

const refFlowChunk = 1024

// refCompile compiles every host as the old compiler did.
func refCompile(t *topology.Topology) ([]*refState, error) {
	ports := make([]*topology.Port, len(t.Ports))
	for i := range t.Ports {
		ports[i] = &t.Ports[i]
	}
	if err := supported(ports); err != nil {
		return nil, err
	}
	ix := newRefIndex(t)
	out := make([]*refState, len(t.Hosts))
	for i := range t.Hosts {
		hs, _, err := refCompileHost(ix, &t.Hosts[i])
		if err != nil {
			return nil, positioned(t.Hosts[i].Pos, err).Err()
		}
		out[i] = hs
	}
	return out, nil
}

func (c *refCompiler) read(key string) { c.reads[key] = struct{}{} }

const (
	keyHost          = "host:"
	keySwitch        = "switch:"
	keyACL           = "acl:"
	keyPortsOnSwitch = "ports@sw:"
	keyPortsOnHost   = "ports@h:"
	keyGatewaysOfSw  = "gws@sw:"
	keyGatewaysOnH   = "gws@h:"
	keyEndpointsOfSw = "eps@sw:"
)
