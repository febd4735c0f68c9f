package flows

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/topology"
)

// Flow is one OpenFlow flow of a host and the topology object behind it.
type Flow struct {
	ovs.Flow
	Origin Origin
}

// Text renders the flow in ovs-ofctl syntax.
func (f *Flow) Text() (string, error) {
	b, err := f.Flow.MarshalText()
	return string(b), err
}

// Port is a Loom-owned port of a host's integration bridge.
type Port struct {
	Name        string
	Type        string // "" for a system interface (veth), "gre" for a tunnel
	Options     map[string]string
	Ofport      int
	ExternalIDs map[string]string
}

// HostState is what one host must hold: its bridge, ports and flows.
type HostState struct {
	Host         string
	OVSDB        string // how to reach the host's ovsdb-server
	OpenFlow     string // how to reach the bridge's OpenFlow listener
	Bridge       string
	DatapathType string
	// ControllerTarget is the passive listener the bridge opens, derived
	// from OpenFlow: "tcp:IP:PORT" -> "ptcp:PORT:IP".
	ControllerTarget string
	Ports            []Port  // sorted by name
	Flows            []*Flow // sorted by table, priority (high first), text
}

// External id keys Loom writes on the OVSDB rows of its ports.
const (
	ExtIDObject = "loom-object" // e.g. "port/web1", "host/h2"
)

// Compile computes every host's desired state, sorted by host name.
func Compile(t *topology.Topology) ([]*HostState, error) {
	out := make([]*HostState, 0, len(t.Hosts))
	for _, h := range t.Hosts {
		hs, err := CompileHost(t, h.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, hs)
	}
	return out, nil
}

// TunnelPortName is the name of the tunnel port that leads to host h.
func TunnelPortName(h topology.Host) string {
	if n := "gre-" + h.Name; len(n) <= 15 {
		return n
	}
	return fmt.Sprintf("gre-%d", h.Key)
}

// CompileHost computes the desired state of the named host.
func CompileHost(t *topology.Topology, host string) (*HostState, error) {
	me, ok := t.Host(host)
	if !ok {
		return nil, fmt.Errorf("no host named %q in the topology", host)
	}
	ap, err := netip.ParseAddrPort(strings.TrimPrefix(me.OpenFlow, "tcp:"))
	if err != nil {
		return nil, fmt.Errorf("host %q: openflow address %q: %w", host, me.OpenFlow, err)
	}
	hs := &HostState{
		Host: me.Name, OVSDB: me.OVSDB, OpenFlow: me.OpenFlow,
		Bridge: me.Bridge, DatapathType: me.DatapathType,
		ControllerTarget: fmt.Sprintf("ptcp:%d:%s", ap.Port(), ap.Addr()),
	}
	c := &compiler{t: t, me: me, hs: hs, hosts: map[string]topology.Host{}}
	for _, h := range t.Hosts {
		c.hosts[h.Name] = h
	}
	if err := c.supported(); err != nil {
		return nil, err
	}
	c.ports()
	c.pipeline()
	for _, sw := range t.Switches {
		c.logicalSwitch(sw)
	}
	if err := c.finish(); err != nil {
		return nil, fmt.Errorf("host %q: %w", host, err)
	}
	return hs, nil
}

// supported refuses what the language accepts but this compiler cannot
// yet turn into flows, rather than programming a network that silently
// lacks it.
func (c *compiler) supported() error {
	var errs []string
	no := func(p topology.Pos, format string, args ...any) {
		errs = append(errs, p.String()+": "+fmt.Sprintf(format, args...)+": not supported by this version of the compiler")
	}
	for _, s := range c.t.Switches {
		switch {
		case !s.Overlay():
			no(s.Pos, "switch %q: VLAN-backed switches", s.Name)
		case s.Encapsulation != "gre":
			no(s.Pos, "switch %q: encapsulation %s", s.Name, s.Encapsulation)
		}
		if s.ACLDefault == "deny" {
			no(s.Pos, "switch %q: aclDefault deny", s.Name)
		}
	}
	for _, p := range c.t.Ports {
		if p.IfaceID != "" {
			no(p.Pos, "port %q: binding by ifaceID", p.Name)
		}
		if len(p.ACLsFromPort)+len(p.ACLsToPort) > 0 {
			no(p.Pos, "port %q: ACLs", p.Name)
		}
		for _, ip := range p.IPs {
			if ip.Is6() {
				no(p.Pos, "port %q: IPv6 address %s", p.Name, ip)
			}
		}
	}
	for _, g := range c.t.L2Gateways {
		no(g.Pos, "l2 gateway %q", g.Name)
	}
	for _, e := range c.t.ExternalEndpoints {
		no(e.Pos, "external endpoint %q", e.Name)
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "\n"))
	}
	return nil
}

type compiler struct {
	t      *topology.Topology
	me     topology.Host
	hs     *HostState
	hosts  map[string]topology.Host
	ofport map[string]int // local port name -> OpenFlow port
}

func (c *compiler) add(o Origin, id uint32, f ovs.Flow) {
	f.Cookie = MakeCookie(o.Kind, o.Rule, id)
	c.hs.Flows = append(c.hs.Flows, &Flow{Flow: f, Origin: o})
}

func portOrigin(p topology.Port, r Rule) Origin {
	return Origin{Kind: KindPort, Name: p.Name, Rule: r, Pos: p.Pos}
}

func switchOrigin(s topology.Switch, r Rule) Origin {
	return Origin{Kind: KindSwitch, Name: s.Name, Rule: r, Pos: s.Pos}
}

// ports: one per local workload, one tunnel per remote host.
func (c *compiler) ports() {
	var local []string
	for _, p := range c.t.Ports {
		if p.Host == c.me.Name {
			local = append(local, p.Name)
		}
	}
	c.ofport = map[string]int{}
	for i, n := range topology.AssignIDs(local, MaxWorkloadOfport) {
		c.ofport[local[i]] = int(n)
	}
	for _, p := range c.t.Ports {
		if p.Host != c.me.Name {
			continue
		}
		c.hs.Ports = append(c.hs.Ports, Port{
			Name:        p.Interface,
			Ofport:      c.ofport[p.Name],
			ExternalIDs: map[string]string{ExtIDObject: "port/" + p.Name},
		})
	}
	for _, h := range c.t.Hosts {
		if h.Name == c.me.Name {
			continue
		}
		c.hs.Ports = append(c.hs.Ports, Port{
			Name:        TunnelPortName(h),
			Type:        "gre",
			Options:     map[string]string{"remote_ip": h.TunnelIP.String(), "key": "flow"},
			Ofport:      TunnelPortBase + int(h.Key),
			ExternalIDs: map[string]string{ExtIDObject: "host/" + h.Name},
		})
	}
	sort.Slice(c.hs.Ports, func(i, j int) bool { return c.hs.Ports[i].Name < c.hs.Ports[j].Name })
}

func (c *compiler) pipeline() {
	for _, tb := range Pipeline {
		c.add(Origin{Kind: KindPipeline, Rule: RuleTableMiss}, uint32(tb.ID),
			ovs.Flow{Table: tb.ID, Priority: 0, Actions: []ovs.Action{ovs.Drop()}})
	}
	c.add(Origin{Kind: KindPipeline, Rule: RuleTunnelTrusted}, 0, ovs.Flow{
		Table: TablePortSecurity, Priority: 100,
		Matches: []ovs.Match{matchFromTunnel(true)},
		Actions: []ovs.Action{gotoTable(TableL2Lookup)},
	})
}

func (c *compiler) logicalSwitch(sw topology.Switch) {
	var local, remote []topology.Port
	remoteHosts := map[string]bool{}
	for _, p := range c.t.Ports {
		switch {
		case p.Switch != sw.Name:
		case p.Host == c.me.Name:
			local = append(local, p)
		default:
			remote = append(remote, p)
			remoteHosts[p.Host] = true
		}
	}
	if len(local) == 0 {
		return // a host without ports on the switch carries none of its traffic
	}
	var hostNames []string
	for h := range remoteHosts {
		hostNames = append(hostNames, h)
	}
	sort.Strings(hostNames)

	for _, p := range local {
		c.localPort(sw, p)
	}
	for _, p := range remote {
		h := c.hosts[p.Host]
		c.add(portOrigin(p, RuleL2Remote), p.Key, ovs.Flow{
			Table: TableL2Lookup, Priority: 100,
			Matches: []ovs.Match{matchFromTunnel(false), matchSwitch(sw.ID), ovs.DataLinkDestination(p.MAC.String())},
			Actions: []ovs.Action{setOutPort(p.Key), gotoTable(TableOutput)},
		})
		c.add(portOrigin(p, RuleOutputRemote), p.Key, ovs.Flow{
			Table: TableOutput, Priority: 100,
			Matches: []ovs.Match{matchOutPort(p.Key)},
			Actions: []ovs.Action{setTunnelKey(sw.TunnelKey), ovs.Output(TunnelPortBase + int(h.Key))},
		})
	}
	for _, name := range hostNames {
		h := c.hosts[name]
		c.add(switchOrigin(sw, RuleClassifyTunnel), sw.ID, ovs.Flow{
			Table: TableClassify, Priority: 100, InPort: TunnelPortBase + int(h.Key),
			Matches: []ovs.Match{ovs.TunnelID(uint64(sw.TunnelKey))},
			Actions: []ovs.Action{setFromTunnel(), setSwitch(sw.ID), gotoTable(TablePortSecurity)},
		})
		c.add(switchOrigin(sw, RuleOutputFloodTunnel), sw.ID, ovs.Flow{
			Table: TableOutput, Priority: 100,
			Matches: []ovs.Match{matchSwitch(sw.ID), matchOutPort(HostEgressBase + h.Key)},
			Actions: []ovs.Action{setTunnelKey(sw.TunnelKey), ovs.Output(TunnelPortBase + int(h.Key))},
		})
	}

	// Flooding: a copy per local port (OVS never sends a copy back out of
	// the port it came in on) and, for traffic from a local port only, a
	// copy per remote host of the switch.
	var toLocal, toAll []ovs.Action
	for _, p := range local {
		toLocal = append(toLocal, setOutPort(p.Key), ovs.Resubmit(0, TableOutput))
	}
	toAll = append(toAll, toLocal...)
	for _, name := range hostNames {
		toAll = append(toAll, setOutPort(HostEgressBase+c.hosts[name].Key), ovs.Resubmit(0, TableOutput))
	}
	c.add(switchOrigin(sw, RuleFloodFromVIF), sw.ID, ovs.Flow{
		Table: TableL2Lookup, Priority: 90,
		Matches: []ovs.Match{matchFromTunnel(false), matchSwitch(sw.ID), matchMulticast()},
		Actions: toAll,
	})
	if len(hostNames) > 0 {
		c.add(switchOrigin(sw, RuleFloodFromTunnel), sw.ID, ovs.Flow{
			Table: TableL2Lookup, Priority: 90,
			Matches: []ovs.Match{matchFromTunnel(true), matchSwitch(sw.ID), matchMulticast()},
			Actions: toLocal,
		})
	}
	if sw.FloodUnknown {
		// Unicast to a MAC no flow above knows goes where broadcast goes.
		c.add(switchOrigin(sw, RuleFloodUnknownFromVIF), sw.ID, ovs.Flow{
			Table: TableL2Lookup, Priority: 80,
			Matches: []ovs.Match{matchFromTunnel(false), matchSwitch(sw.ID)},
			Actions: toAll,
		})
		if len(hostNames) > 0 {
			c.add(switchOrigin(sw, RuleFloodUnknownFromTunnel), sw.ID, ovs.Flow{
				Table: TableL2Lookup, Priority: 80,
				Matches: []ovs.Match{matchFromTunnel(true), matchSwitch(sw.ID)},
				Actions: toLocal,
			})
		}
	}
}

func (c *compiler) localPort(sw topology.Switch, p topology.Port) {
	mac := p.MAC.String()
	c.add(portOrigin(p, RuleClassifyVIF), p.Key, ovs.Flow{
		Table: TableClassify, Priority: 100, InPort: c.ofport[p.Name],
		Actions: []ovs.Action{setInPort(p.Key), setSwitch(sw.ID), gotoTable(TablePortSecurity)},
	})
	if !p.PortSecurity {
		c.add(portOrigin(p, RulePortSecurityOff), p.Key, ovs.Flow{
			Table: TablePortSecurity, Priority: 90,
			Matches: []ovs.Match{matchInPort(p.Key)},
			Actions: []ovs.Action{gotoTable(TableL2Lookup)},
		})
	}
	for _, ip := range p.IPs {
		if !p.PortSecurity {
			break
		}
		c.add(portOrigin(p, RulePortSecurityIP), p.Key, ovs.Flow{
			Table: TablePortSecurity, Priority: 90, Protocol: ovs.ProtocolIPv4,
			Matches: []ovs.Match{matchInPort(p.Key), ovs.DataLinkSource(mac), ovs.NetworkSource(ip.String())},
			Actions: []ovs.Action{gotoTable(TableL2Lookup)},
		})
		c.add(portOrigin(p, RulePortSecurityARP), p.Key, ovs.Flow{
			Table: TablePortSecurity, Priority: 90, Protocol: ovs.ProtocolARP,
			Matches: []ovs.Match{matchInPort(p.Key), ovs.DataLinkSource(mac),
				ovs.ARPSourceHardwareAddress(p.MAC), ovs.ARPSourceProtocolAddress(ip.String())},
			Actions: []ovs.Action{gotoTable(TableL2Lookup)},
		})
	}
	c.add(portOrigin(p, RuleL2Local), p.Key, ovs.Flow{
		Table: TableL2Lookup, Priority: 100,
		Matches: []ovs.Match{matchSwitch(sw.ID), ovs.DataLinkDestination(mac)},
		Actions: []ovs.Action{setOutPort(p.Key), gotoTable(TableOutput)},
	})
	c.add(portOrigin(p, RuleOutputLocal), p.Key, ovs.Flow{
		Table: TableOutput, Priority: 100,
		Matches: []ovs.Match{matchOutPort(p.Key)},
		Actions: []ovs.Action{ovs.Output(c.ofport[p.Name])},
	})
}

// finish renders every flow once, checks that no two flows share an
// identity (table, priority, match), which would make one silently replace
// the other on the switch, and sorts.
func (c *compiler) finish() error {
	type keyed struct {
		f     *Flow
		ident string
		text  string
	}
	ks := make([]keyed, len(c.hs.Flows))
	seen := map[string]*Flow{}
	for i, f := range c.hs.Flows {
		text, err := f.Text()
		if err != nil {
			return fmt.Errorf("render flow of %s: %w", f.Origin, err)
		}
		match, _, _ := strings.Cut(text, ",table=")
		ident := strconv.Itoa(f.Table) + " " + match
		if prev, dup := seen[ident]; dup {
			return fmt.Errorf("two flows with table=%d %s: %s and %s", f.Table, match, prev.Origin, f.Origin)
		}
		seen[ident] = f
		ks[i] = keyed{f, ident, text}
	}
	sort.Slice(ks, func(i, j int) bool {
		a, b := ks[i].f, ks[j].f
		if a.Table != b.Table {
			return a.Table < b.Table
		}
		if a.Priority != b.Priority {
			return a.Priority > b.Priority
		}
		return ks[i].text < ks[j].text
	})
	for i := range ks {
		c.hs.Flows[i] = ks[i].f
	}
	return nil
}

// FlowText renders the host's flows in ovs-ofctl syntax, one per line, in
// order: the input of `ovs-ofctl add-flows`.
func (h *HostState) FlowText() ([]byte, error) {
	var b strings.Builder
	for _, f := range h.Flows {
		s, err := f.Text()
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}
