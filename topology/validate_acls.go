package topology

// Validation of ACLs: each ACL and its rules (protocols, port ranges,
// prefixes), and rules that can never match.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxShadowChecks bounds the comparisons of rules for warnings of rules
// that can never match: an ACL of 2,800 rules, or many smaller ones.
const maxShadowChecks = 4_000_000

// ethTypes and protocols known by name.
var (
	ethTypes = map[string]uint16{"ipv4": ethIPv4, "ipv6": ethIPv6, "arp": ethARP}
	protos   = map[string]int{"icmp": ProtoICMP, "tcp": ProtoTCP, "udp": ProtoUDP, "icmpv6": ProtoICMPv6, "sctp": ProtoSCTP}
)

// EtherTypes a rule names.
const (
	ethIPv4 = 0x0800
	ethIPv6 = 0x86dd
	ethARP  = 0x0806
)

// IP protocol numbers a rule names (Rule.Proto).
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

func (v *validation) acl(as *ACLSpec) (ACL, bool) {
	n := v.errs.n
	o := obj{"acl", as.Name, as.Src}
	v.checkName(o)
	a := ACL{Name: as.Name, Pos: as.Src.Pos}
	if as.Src.has("rules") && len(as.Rules) == 0 {
		v.err(o, "rules", "", "no rules")
	}
	if len(as.Rules) > MaxACLRules {
		v.err(o, "rules", "split it into several ACLs", "%d rules: at most %d are supported", len(as.Rules), MaxACLRules)
		return a, false
	}
	for i := range as.Rules {
		if r, ok := v.rule(o, i, &as.Rules[i]); ok {
			a.Rules = append(a.Rules, r)
		}
	}
	if v.errs.n != n {
		return a, false
	}
	for j := range a.Rules {
		if v.shadowChecks < j {
			v.warns.add(a.Rules[j].Pos, "", "acl %q: rules from %s on were not checked for rules that can never match (too many rules in the topology)", a.Name, ruleLabel(&a.Rules[j]))
			v.shadowChecks = 0
			break
		}
		v.shadowChecks -= j
		for i := 0; i < j; i++ {
			if covers(&a.Rules[i], &a.Rules[j]) {
				v.warns.add(a.Rules[j].Pos, "remove it, or move it above the rule that covers it",
					"acl %q: %s can never match: %s (at line %d) matches every packet it does",
					a.Name, ruleLabel(&a.Rules[j]), ruleLabel(&a.Rules[i]), a.Rules[i].Pos.Line)
				break
			}
		}
	}
	return a, true
}

func ruleLabel(r *Rule) string {
	s := fmt.Sprintf("rule %d", r.Index+1)
	if r.Name != "" {
		s += " (" + r.Name + ")"
	}
	return s
}

func (v *validation) rule(acl obj, i int, rs *RuleSpec) (Rule, bool) {
	n := v.errs.n
	label := fmt.Sprintf("%s rule %d", acl.label(), i+1)
	if rs.Name != "" {
		label += fmt.Sprintf(" (%s)", rs.Name)
	}
	o := obj{kind: label, src: rs.Src}
	r := Rule{Name: rs.Name, Index: i, Allow: rs.Action == "allow", Proto: -1, ICMPType: -1, ICMPCode: -1, Pos: rs.Src.Pos}
	if rs.Src.has("ethType") {
		if et, ok := ethTypes[string(rs.EthType)]; ok {
			r.EthType = et
		} else if x, err := strconv.ParseUint(string(rs.EthType), 0, 16); err == nil && x >= 0x600 {
			r.EthType = uint16(x)
		} else {
			v.err(o, "ethType", "ipv4, ipv6, arp or a number such as 0x88cc", "invalid ethType %q", rs.EthType)
		}
	}
	protoBad := false
	if rs.Src.has("proto") {
		protoBad = true
		if p, ok := protos[string(rs.Proto)]; ok {
			r.Proto, protoBad = p, false
		} else if x, err := strconv.ParseUint(string(rs.Proto), 10, 8); err == nil {
			r.Proto, protoBad = int(x), false
		} else {
			hint := didYouMean(string(rs.Proto), []string{"icmp", "icmpv6", "sctp", "tcp", "udp"})
			if hint == "" {
				hint = "tcp, udp, icmp, icmpv6, sctp or a number 0..255"
			}
			v.err(o, "proto", hint, "invalid proto %q", rs.Proto)
		}
	}
	fam := 0 // 4 or 6 once known
	switch r.EthType {
	case ethIPv4:
		fam = 4
	case ethIPv6:
		fam = 6
	}
	if r.EthType != 0 && fam == 0 && (r.Proto >= 0 || rs.SrcIP != "" || rs.DstIP != "") {
		v.err(o, "ethType", "proto, src and dst need ethType ipv4 or ipv6 (or no ethType)", "ethType %s is not IP", rs.EthType)
	}
	switch r.Proto {
	case ProtoICMP:
		if fam == 6 {
			v.err(o, "proto", "use icmpv6 for IPv6", "proto icmp with IPv6")
		}
		fam = 4
	case ProtoICMPv6:
		if fam == 4 {
			v.err(o, "proto", "use icmp for IPv4", "proto icmpv6 with IPv4")
		}
		fam = 6
	}
	for _, f := range []struct {
		key, val string
		dst      *netip.Prefix
	}{{"src", rs.SrcIP, &r.Src}, {"dst", rs.DstIP, &r.Dst}} {
		if !rs.Src.has(f.key) {
			continue
		}
		p, err := parseCIDR(f.val)
		if err != nil {
			v.err(o, f.key, "an address or CIDR such as 192.0.2.0/24", "invalid %s %q", f.key, f.val)
			continue
		}
		pf := 4
		if p.Addr().Is6() {
			pf = 6
		}
		if fam != 0 && fam != pf {
			v.err(o, f.key, "", "%s %s is IPv%d but the rule matches IPv%d", f.key, f.val, pf, fam)
			continue
		}
		fam = pf
		*f.dst = p
	}
	l4 := r.Proto == ProtoTCP || r.Proto == ProtoUDP || r.Proto == ProtoSCTP
	for _, f := range []struct {
		key string
		val PortRange
		dst *PortSpan
	}{{"srcPorts", rs.SrcPorts, &r.SrcPorts}, {"dstPorts", rs.DstPorts, &r.DstPorts}} {
		if !rs.Src.has(f.key) {
			continue
		}
		span, err := parsePortRange(string(f.val))
		if err != nil {
			v.err(o, f.key, "a port such as 80 or a range such as 8000-8080, within 0..65535", "invalid %s %q: %v", f.key, f.val, err)
			continue
		}
		if !l4 && !protoBad {
			v.err(o, f.key, "add proto: tcp, udp or sctp", "%s without a TCP, UDP or SCTP proto", f.key)
			continue
		}
		*f.dst = span
	}
	icmp := r.Proto == ProtoICMP || r.Proto == ProtoICMPv6
	if rs.ICMPType != nil {
		switch {
		case !icmp && protoBad:
		case !icmp:
			v.err(o, "icmpType", "add proto: icmp or icmpv6", "icmpType without an ICMP proto")
		case *rs.ICMPType < 0 || *rs.ICMPType > 255:
			v.err(o, "icmpType", "", "icmpType %d outside 0..255", *rs.ICMPType)
		default:
			r.ICMPType = *rs.ICMPType
		}
	}
	if rs.ICMPCode != nil {
		switch {
		case rs.ICMPType == nil:
			v.err(o, "icmpCode", "", "icmpCode without icmpType")
		case *rs.ICMPCode < 0 || *rs.ICMPCode > 255:
			v.err(o, "icmpCode", "", "icmpCode %d outside 0..255", *rs.ICMPCode)
		default:
			r.ICMPCode = *rs.ICMPCode
		}
	}
	if r.EthType == 0 && fam != 0 {
		r.EthType = map[int]uint16{4: ethIPv4, 6: ethIPv6}[fam]
	}
	return r, v.errs.n == n
}

// parseCIDR accepts an address (a host) or a CIDR without host bits.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Masked() != p {
		return p, fmt.Errorf("host bits set")
	}
	return p, nil
}

func parsePortRange(s string) (PortSpan, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	}
	switch {
	case err1 != nil || err2 != nil:
		return PortSpan{}, fmt.Errorf("not a port number")
	case a > b:
		return PortSpan{}, fmt.Errorf("%d > %d", a, b)
	case a == 0 && b == 65535:
		return PortSpan{}, nil
	case b == 0:
		// PortSpan{} means any port: port 0 alone (reserved, used by no
		// service) cannot be told from it. Ranges from 0 are fine.
		return PortSpan{}, fmt.Errorf("port 0 alone cannot be matched; leave the field out to match any port")
	}
	return PortSpan{uint16(a), uint16(b)}, nil
}

// covers tells whether every packet rule b matches is matched by rule a.
func covers(a, b *Rule) bool {
	if a.EthType != 0 && a.EthType != b.EthType {
		return false
	}
	if a.Proto >= 0 && a.Proto != b.Proto {
		return false
	}
	pre := func(x, y netip.Prefix) bool {
		return !x.IsValid() || y.IsValid() && x.Bits() <= y.Bits() && x.Contains(y.Addr())
	}
	span := func(x, y PortSpan) bool { return x.Any() || !y.Any() && x.Lo <= y.Lo && y.Hi <= x.Hi }
	num := func(x, y int) bool { return x < 0 || x == y }
	return pre(a.Src, b.Src) && pre(a.Dst, b.Dst) && span(a.SrcPorts, b.SrcPorts) &&
		span(a.DstPorts, b.DstPorts) && num(a.ICMPType, b.ICMPType) && num(a.ICMPCode, b.ICMPCode)
}
