package flows

import (
	"fmt"
	"net/netip"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/topology"
)

// responder answers ARP requests and IPv6 neighbour solicitations from
// local workloads for every address known on the switch (ports and
// stations behind external endpoints), so they need not be flooded.
func (c *compiler) responder(v *view) {
	sw := v.sw
	if !sw.ARPResponder || len(v.local) == 0 {
		return
	}
	type known struct {
		o     Origin
		id    uint32
		mac   string
		ips   []netip.Addr
		owner *topology.Port
	}
	var all []known
	for _, p := range c.portsOnSwitch(sw.Name) {
		all = append(all, known{portOrigin(p, RuleARPReply), p.Key, p.MAC.String(), p.IPs, p})
	}
	for _, e := range v.endpoints {
		for _, st := range e.Behind {
			all = append(all, known{Origin{Kind: KindEndpoint, Name: e.Name, Pos: e.Pos, Rule: RuleARPReply}, e.ID, st.MAC.String(), st.IPs, nil})
		}
	}
	skip := []ovs.Action{gotoTable(TableL2Lookup)}
	fromVIF := matchFlag(FlagFromVIF, true)
	for _, k := range all {
		for _, ip := range k.ips {
			o := k.o
			if ip.Is4() {
				if k.owner != nil {
					o.Rule = RuleResponderOwner
					c.add(o, k.id, ovs.Flow{
						Table: TableResponder, Priority: 110, Protocol: ovs.ProtocolARP,
						Matches: []ovs.Match{matchInPort(k.owner.Key), ovs.ARPTargetProtocolAddress(ip.String())},
						Actions: skip,
					})
				}
				o.Rule = RuleARPReply
				c.add(o, k.id, ovs.Flow{
					Table: TableResponder, Priority: 100, Protocol: ovs.ProtocolARP,
					Matches: []ovs.Match{fromVIF, matchSwitch(sw.ID), ovs.ARPOperation(1), ovs.ARPTargetProtocolAddress(ip.String())},
					Actions: []ovs.Action{
						ovs.Move("NXM_OF_ETH_SRC[]", "NXM_OF_ETH_DST[]"),
						ovs.SetField(k.mac, "eth_src"),
						ovs.Load("0x2", "NXM_OF_ARP_OP[]"),
						ovs.Move("NXM_NX_ARP_SHA[]", "NXM_NX_ARP_THA[]"),
						ovs.SetField(k.mac, "arp_sha"),
						ovs.Move("NXM_OF_ARP_SPA[]", "NXM_OF_ARP_TPA[]"),
						ovs.SetField(ip.String(), "arp_spa"),
						ovs.InPort(),
					},
				})
				continue
			}
			if k.owner != nil {
				o.Rule = RuleResponderOwner
				c.add(o, k.id, ovs.Flow{
					Table: TableResponder, Priority: 110, Protocol: ovs.ProtocolICMPv6,
					Matches: []ovs.Match{matchInPort(k.owner.Key), ovs.ICMP6Type(135), ovs.NeighborDiscoveryTarget(ip.String())},
					Actions: skip,
				})
			}
			o.Rule = RuleNDReply
			c.add(o, k.id, ovs.Flow{
				Table: TableResponder, Priority: 100, Protocol: ovs.ProtocolICMPv6,
				Matches: []ovs.Match{fromVIF, matchSwitch(sw.ID), ovs.ICMP6Type(135), ovs.NeighborDiscoveryTarget(ip.String())},
				Actions: []ovs.Action{
					ovs.Move("NXM_OF_ETH_SRC[]", "NXM_OF_ETH_DST[]"),
					ovs.SetField(k.mac, "eth_src"),
					ovs.Move("NXM_NX_IPV6_SRC[]", "NXM_NX_IPV6_DST[]"),
					ovs.SetField(ip.String(), "ipv6_src"),
					ovs.SetField("136", "icmpv6_type"),
					ovs.SetField("0x60000000", "nd_reserved"), // solicited, override
					ovs.SetField("2", "nd_options_type"),
					// OVS checks a field's prerequisites against the
					// flow's match: nd_tll needs an advertisement, so it
					// is written by a flow of nd_reply, which matches one.
					gotoTable(TableNDReply),
				},
			})
			o.Rule = RuleNDReplyTLL
			c.add(o, k.id, ovs.Flow{
				Table: TableNDReply, Priority: 100, Protocol: ovs.ProtocolICMPv6,
				Matches: []ovs.Match{matchSwitch(sw.ID), ovs.ICMP6Type(136), ovs.NeighborDiscoveryTarget(ip.String())},
				Actions: []ovs.Action{
					ovs.SetField(k.mac, "nd_tll"),
					ovs.InPort(),
				},
			})
		}
	}
	// Not answered: DAD probes (from ::, the answer would go nowhere) and
	// solicitations without a source link-layer option, whose option
	// cannot be turned into the target one. They go on to l2_lookup.
	if hasIPv6(all, func(k known) []netip.Addr { return k.ips }) {
		o := switchOrigin(sw, RuleResponderSkip)
		c.add(o, sw.ID, ovs.Flow{
			Table: TableResponder, Priority: 105, Protocol: ovs.ProtocolICMPv6,
			Matches: []ovs.Match{matchSwitch(sw.ID), ovs.ICMP6Type(135), ovs.IPv6Source("::")},
			Actions: skip,
		})
		c.add(o, sw.ID, ovs.Flow{
			Table: TableResponder, Priority: 105, Protocol: ovs.ProtocolICMPv6,
			Matches: []ovs.Match{matchSwitch(sw.ID), ovs.ICMP6Type(135), ovs.FieldMatch("nd_sll", "00:00:00:00:00:00")},
			Actions: skip,
		})
	}
}

func hasIPv6[T any](list []T, ips func(T) []netip.Addr) bool {
	for _, x := range list {
		for _, ip := range ips(x) {
			if ip.Is6() {
				return true
			}
		}
	}
	return false
}

// portACLs: the port's fromPort ACLs in ingress_acl and its toPort ACLs in
// egress_acl, rule by rule in order, then the switch's default.
func (c *compiler) portACLs(v *view, p *topology.Port) {
	for _, dir := range []struct {
		table, next int
		acls        []string
		match       ovs.Match
		rule, def   Rule
	}{
		{TableIngressACL, TableResponder, p.ACLsFromPort, matchInPort(p.Key), RuleACLFromPort, RuleACLDefaultFromPort},
		{TableEgressACL, TableOutput, p.ACLsToPort, matchOutPort(p.Key), RuleACLToPort, RuleACLDefaultToPort},
	} {
		// Rules take priorities from topACLPriority down, above the
		// default at 1: topology limits a port's rules in one direction
		// to topology.MaxACLRules.
		prio := topACLPriority
		for _, name := range dir.acls {
			a := c.acl(name)
			for i := range a.Rules {
				r := &a.Rules[i]
				o := Origin{Kind: KindACL, Name: a.Name, Rule: dir.rule, Pos: r.Pos, Note: aclRuleNote(r)}
				act := []ovs.Action{gotoTable(dir.next)}
				if !r.Allow {
					act = []ovs.Action{ovs.Drop()}
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
					c.add(o, a.ID<<16|uint32(r.Index), ovs.Flow{
						Table: dir.table, Priority: prio,
						Matches: append([]ovs.Match{dir.match}, m...),
						Actions: act,
					})
				}
				prio--
			}
		}
		act := []ovs.Action{gotoTable(dir.next)}
		if v.sw.ACLDefault == "deny" {
			act = []ovs.Action{ovs.Drop()}
		}
		c.add(Origin{Kind: KindPort, Name: p.Name, Rule: dir.def, Pos: p.Pos, Note: v.sw.ACLDefault}, p.Key, ovs.Flow{
			Table: dir.table, Priority: 1,
			Matches: []ovs.Match{dir.match},
			Actions: act,
		})
	}
}

// topACLPriority is the priority of a port's first ACL rule.
const topACLPriority = topology.MaxACLRules + 1 // 30000

// ruleLabel names rule r of its ACL in messages.
func ruleLabel(r *topology.Rule) string {
	if r.Name != "" {
		return fmt.Sprintf("rule %d (%s)", r.Index+1, r.Name)
	}
	return fmt.Sprintf("rule %d", r.Index+1)
}

// ruleMatches expands an ACL rule into OpenFlow matches: one per IP
// family it may apply to, times the masked values its port ranges need.
func ruleMatches(r *topology.Rule) ([][]ovs.Match, error) {
	var fams []uint16
	switch {
	case r.EthType != 0:
		fams = []uint16{r.EthType}
	case r.Proto >= 0:
		fams = []uint16{0x0800, 0x86dd}
	default:
		fams = []uint16{0} // any frame
	}
	var out [][]ovs.Match
	for _, et := range fams {
		var base []ovs.Match
		if et != 0 {
			base = append(base, ovs.DataLinkType(et))
		}
		v6 := et == 0x86dd
		if r.Proto >= 0 {
			base = append(base, ovs.NetworkProtocol(uint8(r.Proto)))
		}
		if r.Src.IsValid() {
			base = append(base, prefixMatch(v6, true, r.Src))
		}
		if r.Dst.IsValid() {
			base = append(base, prefixMatch(v6, false, r.Dst))
		}
		if r.ICMPType >= 0 {
			if v6 {
				base = append(base, ovs.ICMP6Type(uint8(r.ICMPType)))
			} else {
				base = append(base, ovs.ICMPType(uint8(r.ICMPType)))
			}
		}
		if r.ICMPCode >= 0 {
			if v6 {
				base = append(base, ovs.ICMP6Code(uint8(r.ICMPCode)))
			} else {
				base = append(base, ovs.ICMPCode(uint8(r.ICMPCode)))
			}
		}
		srcs, err := portMatches(r.SrcPorts, true)
		if err != nil {
			return nil, fmt.Errorf("srcPorts: %w", err)
		}
		dsts, err := portMatches(r.DstPorts, false)
		if err != nil {
			return nil, fmt.Errorf("dstPorts: %w", err)
		}
		for _, s := range srcs {
			for _, d := range dsts {
				m := append([]ovs.Match(nil), base...)
				if s != nil {
					m = append(m, s)
				}
				if d != nil {
					m = append(m, d)
				}
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func prefixMatch(v6, src bool, p netip.Prefix) ovs.Match {
	s := p.String()
	if p.Bits() == p.Addr().BitLen() {
		s = p.Addr().String()
	}
	switch {
	case v6 && src:
		return ovs.IPv6Source(s)
	case v6:
		return ovs.IPv6Destination(s)
	case src:
		return ovs.NetworkSource(s)
	}
	return ovs.NetworkDestination(s)
}

// portMatches are the masked matches covering a port span ([nil] for any).
func portMatches(s topology.PortSpan, src bool) ([]ovs.Match, error) {
	switch {
	case s.Any():
		return []ovs.Match{nil}, nil
	case s.Lo > s.Hi:
		return nil, fmt.Errorf("port range %d-%d is reversed", s.Lo, s.Hi)
	case s.Lo == s.Hi:
		if src {
			return []ovs.Match{ovs.TransportSourcePort(s.Lo)}, nil
		}
		return []ovs.Match{ovs.TransportDestinationPort(s.Lo)}, nil
	case s.Lo == 0:
		// go-openvswitch refuses ranges from 0, a real port value on the
		// wire: cover them here, in the same form.
		var ms []ovs.Match
		for _, b := range maskedRange(s.Lo, s.Hi) {
			if src {
				ms = append(ms, ovs.TransportSourceMaskedPort(b.value, b.mask))
			} else {
				ms = append(ms, ovs.TransportDestinationMaskedPort(b.value, b.mask))
			}
		}
		return ms, nil
	}
	var r ovs.TransportPortRanger
	if src {
		r = ovs.TransportSourcePortRange(s.Lo, s.Hi)
	} else {
		r = ovs.TransportDestinationPortRange(s.Lo, s.Hi)
	}
	ms, err := r.MaskedPorts()
	if err != nil {
		return nil, fmt.Errorf("port range %d-%d: %w", s.Lo, s.Hi, err)
	}
	return ms, nil
}

type maskedPort struct{ value, mask uint16 }

// maskedRange covers lo..hi with the fewest value/mask pairs, in
// ascending order: from lo, each time the largest aligned block that
// starts there and does not pass hi.
func maskedRange(lo, hi uint16) []maskedPort {
	var out []maskedPort
	for x := uint32(lo); x <= uint32(hi); {
		size := uint32(1)
		for x%(size*2) == 0 && x+size*2-1 <= uint32(hi) {
			size *= 2
		}
		out = append(out, maskedPort{uint16(x), uint16(0xffff &^ (size - 1))})
		x += size
	}
	return out
}
