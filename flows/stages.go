package flows

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/loom-sdn/loom/topology"
)

// responder answers ARP requests and IPv6 neighbour solicitations from
// local workloads for every address known on the switch (ports and
// stations behind external endpoints), so they need not be flooded.
func (c *builder) responder(s *swState) {
	sw := s.sw
	type known struct {
		o     Origin
		id    uint32
		mac   net.HardwareAddr
		ips   []netip.Addr
		owner *topology.Port
	}
	var all []known
	for _, p := range s.ports {
		all = append(all, known{portOrigin(p, RuleARPReply), p.Key, p.MAC, p.IPs, p})
	}
	for _, e := range s.endpoints {
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
func (c *hostBuild) portACLs(v *view, p *topology.Port) {
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
// Each has room for one more field (the port's).
func ruleMatches(r *topology.Rule) ([][]MatchField, error) {
	var fams []uint16
	switch {
	case r.EthType != 0:
		fams = []uint16{r.EthType}
	case r.Proto >= 0:
		fams = []uint16{EthTypeIPv4, EthTypeIPv6}
	default:
		fams = []uint16{0} // any frame
	}
	srcs, err := portMatches(r.SrcPorts, FieldTpSrc)
	if err != nil {
		return nil, fmt.Errorf("srcPorts: %w", err)
	}
	dsts, err := portMatches(r.DstPorts, FieldTpDst)
	if err != nil {
		return nil, fmt.Errorf("dstPorts: %w", err)
	}
	var out [][]MatchField
	for _, et := range fams {
		var base []MatchField
		if et != 0 {
			base = append(base, Exact(FieldEthType, uint64(et)))
		}
		v6 := et == EthTypeIPv6
		if r.Proto >= 0 {
			base = append(base, Exact(FieldIPProto, uint64(r.Proto)))
		}
		if r.Src.IsValid() {
			base = append(base, prefixMatch(v6, true, r.Src))
		}
		if r.Dst.IsValid() {
			base = append(base, prefixMatch(v6, false, r.Dst))
		}
		if r.ICMPType >= 0 {
			base = append(base, Exact(FieldICMPType, uint64(r.ICMPType)))
		}
		if r.ICMPCode >= 0 {
			base = append(base, Exact(FieldICMPCode, uint64(r.ICMPCode)))
		}
		for _, s := range srcs {
			for _, d := range dsts {
				m := make([]MatchField, len(base), len(base)+3)
				copy(m, base)
				if s.Field != FieldNone {
					m = append(m, s)
				}
				if d.Field != FieldNone {
					m = append(m, d)
				}
				out = append(out, m)
			}
		}
	}
	return out, nil
}

func prefixMatch(v6, src bool, p netip.Prefix) MatchField {
	f := FieldIPDst
	switch {
	case v6 && src:
		f = FieldIPv6Src
	case v6:
		f = FieldIPv6Dst
	case src:
		f = FieldIPSrc
	}
	return MatchPrefix(f, p)
}

// portMatches are the masked matches of f covering a port span (one
// without a field for any port).
func portMatches(s topology.PortSpan, f Field) ([]MatchField, error) {
	switch {
	case s.Any():
		return []MatchField{{}}, nil
	case s.Lo > s.Hi:
		return nil, fmt.Errorf("port range %d-%d is reversed", s.Lo, s.Hi)
	}
	var ms []MatchField
	for _, b := range maskedRange(s.Lo, s.Hi) {
		ms = append(ms, Masked(f, uint64(b.value), uint64(b.mask)))
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
