package sim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// state is the packet being processed plus its pipeline registers. The
// VLAN header is kept as OVS keeps it, a TCI (0x1000 = tag present).
type state struct {
	p    Packet
	tci  uint16
	regs Regs
}

func newState(p Packet, r Regs) *state {
	s := &state{p: p.clone(), regs: r}
	if p.VLAN != 0 {
		s.tci = 0x1000 | uint16(p.VLAN)
	}
	s.p.VLAN = 0
	if s.p.isND() && s.p.NDOptionsType == 0 {
		// As OVS's flow extraction reads it off the wire.
		switch {
		case s.p.NDSLL != nil:
			s.p.NDOptionsType = 1
		case s.p.NDTLL != nil:
			s.p.NDOptionsType = 2
		}
	}
	return s
}

// packet is the packet as it would leave now.
//
// The ND link-layer address option is written as OVS's datapath writes it:
// nd_options_type first (it may turn a source option into a target one),
// then the address of the option's type; the other address is not on the
// wire. A packet that is no longer ND loses its ND fields.
func (s *state) packet() (Packet, error) {
	p := s.p.clone()
	switch {
	case !p.isND():
		p.NDTarget, p.NDSLL, p.NDTLL, p.NDReserved, p.NDOptionsType = netip.Addr{}, nil, nil, 0, 0
	case p.NDOptionsType == 1:
		p.NDTLL = nil
	case p.NDOptionsType == 2:
		p.NDSLL = nil
	default:
		p.NDSLL, p.NDTLL = nil, nil
	}
	switch {
	case s.tci&0x1000 == 0:
		p.VLAN = 0
	case s.tci&0xfff == 0:
		return p, fmt.Errorf("the packet carries a VLAN tag with VID 0 (a priority tag), which Packet cannot represent")
	default:
		p.VLAN = int(s.tci & 0xfff)
	}
	return p, nil
}

// proto is what prerequisites look at: the Ethernet type, IP protocol and
// ICMP type and code, as a packet has them or as a flow's match pins them.
type proto struct {
	ethType            uint16
	nwProto            uint8
	icmpType, icmpCode uint8
}

func (s *state) proto() proto {
	v := proto{ethType: s.p.EthType}
	if isIP(v.ethType) {
		v.nwProto = s.p.Proto
		v.icmpType, v.icmpCode = s.p.ICMPType, s.p.ICMPCode
	}
	return v
}

// prereq is a field's prerequisite, as OVS's meta-flow defines them.
type prereq uint8

const (
	pNone prereq = iota
	pARP
	pIPv4
	pIPv6
	pIP   // IPv4 or IPv6
	pTCP  // over IPv4 or IPv6
	pUDP  //
	pSCTP //
	pL4   // TCP, UDP or SCTP (tp_src/tp_dst in a match)
	pICMPv4
	pICMPv6
	pICMP // ICMPv4 or ICMPv6 (icmp_type/icmp_code, as OVS prints both)
	pND   // ICMPv6 type 135 or 136, code 0
	pNDSolicit
	pNDAdvert
)

var prereqText = map[prereq]string{
	pARP:       "arp (or rarp)",
	pIPv4:      "ip",
	pIPv6:      "ipv6",
	pIP:        "ip or ipv6",
	pTCP:       "tcp or tcp6",
	pUDP:       "udp or udp6",
	pSCTP:      "sctp or sctp6",
	pL4:        "tcp, udp or sctp (v4 or v6)",
	pICMPv4:    "icmp",
	pICMPv6:    "icmp6",
	pICMP:      "icmp or icmp6",
	pND:        "icmp6 with icmp_type=135 or 136 (and icmp_code 0)",
	pNDSolicit: "icmp6 with icmp_type=135 (and icmp_code 0)",
	pNDAdvert:  "icmp6 with icmp_type=136 (and icmp_code 0)",
}

func (pr prereq) ok(v proto) bool {
	ip := isIP(v.ethType)
	switch pr {
	case pNone:
		return true
	case pARP:
		return isARP(v.ethType)
	case pIPv4:
		return v.ethType == EthTypeIPv4
	case pIPv6:
		return v.ethType == EthTypeIPv6
	case pIP:
		return ip
	case pTCP:
		return ip && v.nwProto == ProtoTCP
	case pUDP:
		return ip && v.nwProto == ProtoUDP
	case pSCTP:
		return ip && v.nwProto == ProtoSCTP
	case pL4:
		return ip && (v.nwProto == ProtoTCP || v.nwProto == ProtoUDP || v.nwProto == ProtoSCTP)
	case pICMPv4:
		return v.ethType == EthTypeIPv4 && v.nwProto == ProtoICMP
	case pICMPv6:
		return v.ethType == EthTypeIPv6 && v.nwProto == ProtoICMPv6
	case pICMP:
		return pICMPv4.ok(v) || pICMPv6.ok(v)
	case pND:
		return pICMPv6.ok(v) && v.icmpCode == 0 && (v.icmpType == ICMPv6NS || v.icmpType == ICMPv6NA)
	case pNDSolicit:
		return pND.ok(v) && v.icmpType == ICMPv6NS
	case pNDAdvert:
		return pND.ok(v) && v.icmpType == ICMPv6NA
	}
	return false
}

// kind is how a field's values are written in flow text.
type kind uint8

const (
	kInt  kind = iota // decimal, or hexadecimal with 0x
	kMAC              // xx:xx:xx:xx:xx:xx
	kIPv4             // a.b.c.d
	kIPv6             // IPv6 text form
	kPort             // OpenFlow port: a number or LOCAL
)

// field is one OpenFlow field the simulator models.
type field struct {
	name     string // OVS's name for it (set_field, dumps)
	key      string // storage: fields with the same key read the same bits
	bits     int
	kind     kind
	maskable bool
	writable bool
	prereq   prereq // for actions; and for matches unless matchPre is set
	matchPre *prereq
	get      func(*state) u128
	set      func(*state, u128)
}

func (f *field) matchPrereq() prereq {
	if f.matchPre != nil {
		return *f.matchPre
	}
	return f.prereq
}

// read returns the field's value in the packet, 0 if the packet does not
// have the field (as OVS's flow extraction leaves it zero).
func (f *field) read(s *state) u128 {
	if !f.prereq.ok(s.proto()) && !f.matchPrereq().ok(s.proto()) {
		return u128{}
	}
	return f.get(s).and(ones(f.bits))
}

// write sets the bits of mask to value.
func (f *field) write(s *state, value, mask u128) {
	old := f.get(s)
	f.set(s, old.andNot(mask).or(value.and(mask)).and(ones(f.bits)))
}

func macVal(m net.HardwareAddr) u128 {
	var v uint64
	for _, b := range m {
		v = v<<8 | uint64(b)
	}
	return u64(v)
}

func macOf(v u128) net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	for i := 5; i >= 0; i-- {
		m[i] = byte(v.lo)
		v = v.shr(8)
	}
	return m
}

func ip4Val(a netip.Addr) u128 {
	if !a.Is4() {
		return u128{}
	}
	b := a.As4()
	return u64(uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]))
}

func ip4Of(v u128) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v.lo >> 24), byte(v.lo >> 16), byte(v.lo >> 8), byte(v.lo)})
}

func ip6Val(a netip.Addr) u128 {
	if !a.Is6() {
		return u128{}
	}
	b := a.As16()
	var v u128
	for _, x := range b {
		v = v.shl(8).or(u64(uint64(x)))
	}
	return v
}

func ip6Of(v u128) netip.Addr {
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = byte(v.lo)
		v = v.shr(8)
	}
	return netip.AddrFrom16(b)
}

var (
	fieldsByName = map[string]*field{} // OVS field names and their aliases
	fieldsByNXM  = map[string]*field{} // NXM_* and OXM_* names
)

func addField(f *field, aliases []string, nxm ...string) *field {
	for _, n := range append([]string{f.name}, aliases...) {
		fieldsByName[n] = f
	}
	for _, n := range nxm {
		fieldsByNXM[n] = f
	}
	return f
}

func init() {
	ro := false
	rw := true
	type acc struct {
		get func(*state) u128
		set func(*state, u128)
	}
	mac := func(p func(*state) *net.HardwareAddr) acc {
		return acc{
			func(s *state) u128 { return macVal(*p(s)) },
			func(s *state, v u128) { *p(s) = macOf(v) },
		}
	}
	ip4 := func(p func(*state) *netip.Addr) acc {
		return acc{
			func(s *state) u128 { return ip4Val(*p(s)) },
			func(s *state, v u128) { *p(s) = ip4Of(v) },
		}
	}
	ip6 := func(p func(*state) *netip.Addr) acc {
		return acc{
			func(s *state) u128 { return ip6Val(*p(s)) },
			func(s *state, v u128) { *p(s) = ip6Of(v) },
		}
	}
	u16p := func(p func(*state) *uint16) acc {
		return acc{
			func(s *state) u128 { return u64(uint64(*p(s))) },
			func(s *state, v u128) { *p(s) = uint16(v.lo) },
		}
	}
	u8p := func(p func(*state) *uint8) acc {
		return acc{
			func(s *state) u128 { return u64(uint64(*p(s))) },
			func(s *state, v u128) { *p(s) = uint8(v.lo) },
		}
	}
	def := func(name, key string, bits int, k kind, maskable, writable bool, pr prereq, a acc) *field {
		return &field{name: name, key: key, bits: bits, kind: k, maskable: maskable, writable: writable,
			prereq: pr, get: a.get, set: a.set}
	}

	addField(def("in_port", "in_port", 16, kPort, false, rw, pNone, acc{
		func(s *state) u128 { return u64(uint64(s.p.InPort)) },
		func(s *state, v u128) { s.p.InPort = int(v.lo) },
	}), nil, "NXM_OF_IN_PORT")
	addField(def("metadata", "metadata", 64, kInt, true, rw, pNone, acc{
		func(s *state) u128 { return u64(s.regs.Metadata) },
		func(s *state, v u128) { s.regs.Metadata = v.lo },
	}), nil, "OXM_OF_METADATA")
	for i := range 16 {
		addField(def(fmt.Sprintf("reg%d", i), fmt.Sprintf("reg%d", i), 32, kInt, true, rw, pNone, acc{
			func(s *state) u128 { return u64(uint64(s.regs.Reg[i])) },
			func(s *state, v u128) { s.regs.Reg[i] = uint32(v.lo) },
		}), nil, fmt.Sprintf("NXM_NX_REG%d", i))
	}
	for i := range 8 {
		// xregN is reg(2N) (high half) and reg(2N+1) (low half).
		addField(def(fmt.Sprintf("xreg%d", i), fmt.Sprintf("xreg%d", i), 64, kInt, true, rw, pNone, acc{
			func(s *state) u128 {
				return u64(uint64(s.regs.Reg[2*i])<<32 | uint64(s.regs.Reg[2*i+1]))
			},
			func(s *state, v u128) { s.regs.Reg[2*i], s.regs.Reg[2*i+1] = uint32(v.lo>>32), uint32(v.lo) },
		}), nil, fmt.Sprintf("OXM_OF_PKT_REG%d", i))
	}
	addField(def("tun_id", "tun_id", 64, kInt, true, rw, pNone, acc{
		func(s *state) u128 { return u64(s.p.TunID) },
		func(s *state, v u128) { s.p.TunID = v.lo },
	}), []string{"tunnel_id"}, "NXM_NX_TUN_ID", "OXM_OF_TUNNEL_ID")
	addField(def("tun_src", "tun_src", 32, kIPv4, true, rw, pNone,
		ip4(func(s *state) *netip.Addr { return &s.p.TunSrc })), nil, "NXM_NX_TUN_IPV4_SRC")
	addField(def("tun_dst", "tun_dst", 32, kIPv4, true, rw, pNone,
		ip4(func(s *state) *netip.Addr { return &s.p.TunDst })), nil, "NXM_NX_TUN_IPV4_DST")

	addField(def("eth_src", "eth_src", 48, kMAC, true, rw, pNone,
		mac(func(s *state) *net.HardwareAddr { return &s.p.EthSrc })), []string{"dl_src"}, "NXM_OF_ETH_SRC", "OXM_OF_ETH_SRC")
	addField(def("eth_dst", "eth_dst", 48, kMAC, true, rw, pNone,
		mac(func(s *state) *net.HardwareAddr { return &s.p.EthDst })), []string{"dl_dst"}, "NXM_OF_ETH_DST", "OXM_OF_ETH_DST")
	addField(def("eth_type", "eth_type", 16, kInt, false, ro, pNone,
		u16p(func(s *state) *uint16 { return &s.p.EthType })), []string{"dl_type"}, "NXM_OF_ETH_TYPE", "OXM_OF_ETH_TYPE")
	addField(def("vlan_tci", "vlan_tci", 16, kInt, true, rw, pNone,
		u16p(func(s *state) *uint16 { return &s.tci })), nil, "NXM_OF_VLAN_TCI")
	// vlan_vid is the OpenFlow 1.2+ view of the TCI: VID | 0x1000 (present).
	addField(def("vlan_vid", "vlan_tci", 13, kInt, true, rw, pNone, acc{
		func(s *state) u128 { return u64(uint64(s.tci & 0x1fff)) },
		func(s *state, v u128) { s.tci = s.tci&^0x1fff | uint16(v.lo)&0x1fff },
	}), nil, "OXM_OF_VLAN_VID")

	addField(def("ip_src", "nw_src", 32, kIPv4, true, rw, pIPv4,
		ip4(func(s *state) *netip.Addr { return &s.p.IPSrc })), []string{"nw_src"}, "NXM_OF_IP_SRC", "OXM_OF_IPV4_SRC")
	addField(def("ip_dst", "nw_dst", 32, kIPv4, true, rw, pIPv4,
		ip4(func(s *state) *netip.Addr { return &s.p.IPDst })), []string{"nw_dst"}, "NXM_OF_IP_DST", "OXM_OF_IPV4_DST")
	addField(def("ipv6_src", "ipv6_src", 128, kIPv6, true, rw, pIPv6,
		ip6(func(s *state) *netip.Addr { return &s.p.IPSrc })), nil, "NXM_NX_IPV6_SRC", "OXM_OF_IPV6_SRC")
	addField(def("ipv6_dst", "ipv6_dst", 128, kIPv6, true, rw, pIPv6,
		ip6(func(s *state) *netip.Addr { return &s.p.IPDst })), nil, "NXM_NX_IPV6_DST", "OXM_OF_IPV6_DST")
	addField(def("nw_proto", "nw_proto", 8, kInt, false, ro, pIP,
		u8p(func(s *state) *uint8 { return &s.p.Proto })), []string{"ip_proto"}, "NXM_OF_IP_PROTO", "OXM_OF_IP_PROTO")

	addField(def("arp_op", "arp_op", 16, kInt, false, rw, pARP, acc{
		func(s *state) u128 { return u64(uint64(s.p.ARPOp)) },
		func(s *state, v u128) { s.p.ARPOp = int(v.lo & 0xff) },
	}), nil, "NXM_OF_ARP_OP", "OXM_OF_ARP_OP")
	addField(def("arp_spa", "arp_spa", 32, kIPv4, true, rw, pARP,
		ip4(func(s *state) *netip.Addr { return &s.p.ARPSpa })), nil, "NXM_OF_ARP_SPA", "OXM_OF_ARP_SPA")
	addField(def("arp_tpa", "arp_tpa", 32, kIPv4, true, rw, pARP,
		ip4(func(s *state) *netip.Addr { return &s.p.ARPTpa })), nil, "NXM_OF_ARP_TPA", "OXM_OF_ARP_TPA")
	addField(def("arp_sha", "arp_sha", 48, kMAC, true, rw, pARP,
		mac(func(s *state) *net.HardwareAddr { return &s.p.ARPSha })), nil, "NXM_NX_ARP_SHA", "OXM_OF_ARP_SHA")
	addField(def("arp_tha", "arp_tha", 48, kMAC, true, rw, pARP,
		mac(func(s *state) *net.HardwareAddr { return &s.p.ARPTha })), nil, "NXM_NX_ARP_THA", "OXM_OF_ARP_THA")

	l4 := pL4
	tpSrc := u16p(func(s *state) *uint16 { return &s.p.TPSrc })
	tpDst := u16p(func(s *state) *uint16 { return &s.p.TPDst })
	// tp_src/tp_dst are OVS's aliases of tcp_src/tcp_dst: written as
	// actions they need a TCP match (as in OVS), in a match any L4.
	tcpSrc := def("tcp_src", "tp_src", 16, kInt, true, rw, pTCP, tpSrc)
	tcpDst := def("tcp_dst", "tp_dst", 16, kInt, true, rw, pTCP, tpDst)
	addField(tcpSrc, nil, "NXM_OF_TCP_SRC", "OXM_OF_TCP_SRC")
	addField(tcpDst, nil, "NXM_OF_TCP_DST", "OXM_OF_TCP_DST")
	tp := *tcpSrc
	tp.name, tp.matchPre = "tp_src", &l4
	addField(&tp, nil)
	tp2 := *tcpDst
	tp2.name, tp2.matchPre = "tp_dst", &l4
	addField(&tp2, nil)
	addField(def("udp_src", "tp_src", 16, kInt, true, rw, pUDP, tpSrc), nil, "NXM_OF_UDP_SRC", "OXM_OF_UDP_SRC")
	addField(def("udp_dst", "tp_dst", 16, kInt, true, rw, pUDP, tpDst), nil, "NXM_OF_UDP_DST", "OXM_OF_UDP_DST")
	addField(def("sctp_src", "tp_src", 16, kInt, true, rw, pSCTP, tpSrc), nil, "OXM_OF_SCTP_SRC")
	addField(def("sctp_dst", "tp_dst", 16, kInt, true, rw, pSCTP, tpDst), nil, "OXM_OF_SCTP_DST")

	icmpType := u8p(func(s *state) *uint8 { return &s.p.ICMPType })
	icmpCode := u8p(func(s *state) *uint8 { return &s.p.ICMPCode })
	// OVS prints ICMPv6 matches as icmp_type/icmp_code too (the storage is
	// shared), so in a match those accept either family.
	icmp := pICMP
	t4 := def("icmp_type", "icmp_type", 8, kInt, false, rw, pICMPv4, icmpType)
	t4.matchPre = &icmp
	c4 := def("icmp_code", "icmp_code", 8, kInt, false, rw, pICMPv4, icmpCode)
	c4.matchPre = &icmp
	addField(t4, nil, "NXM_OF_ICMP_TYPE", "OXM_OF_ICMPV4_TYPE")
	addField(c4, nil, "NXM_OF_ICMP_CODE", "OXM_OF_ICMPV4_CODE")
	addField(def("icmpv6_type", "icmp_type", 8, kInt, false, rw, pICMPv6, icmpType), nil, "NXM_NX_ICMPV6_TYPE", "OXM_OF_ICMPV6_TYPE")
	addField(def("icmpv6_code", "icmp_code", 8, kInt, false, rw, pICMPv6, icmpCode), nil, "NXM_NX_ICMPV6_CODE", "OXM_OF_ICMPV6_CODE")
	addField(def("nd_target", "nd_target", 128, kIPv6, true, rw, pND,
		ip6(func(s *state) *netip.Addr { return &s.p.NDTarget })), nil, "NXM_NX_ND_TARGET", "OXM_OF_IPV6_ND_TARGET")
	addField(def("nd_sll", "nd_sll", 48, kMAC, true, rw, pNDSolicit,
		mac(func(s *state) *net.HardwareAddr { return &s.p.NDSLL })), nil, "NXM_NX_ND_SLL", "OXM_OF_IPV6_ND_SLL")
	addField(def("nd_tll", "nd_tll", 48, kMAC, true, rw, pNDAdvert,
		mac(func(s *state) *net.HardwareAddr { return &s.p.NDTLL })), nil, "NXM_NX_ND_TLL", "OXM_OF_IPV6_ND_TLL")
	addField(def("nd_reserved", "nd_reserved", 32, kInt, false, rw, pND, acc{
		func(s *state) u128 { return u64(uint64(s.p.NDReserved)) },
		func(s *state, v u128) { s.p.NDReserved = uint32(v.lo) },
	}), nil, "ERICOXM_OF_ICMPV6_ND_RESERVED")
	addField(def("nd_options_type", "nd_options_type", 8, kInt, false, rw, pND,
		u8p(func(s *state) *uint8 { return &s.p.NDOptionsType })), nil, "ERICOXM_OF_ICMPV6_ND_OPTIONS_TYPE")
}

// parseValue parses v, a value of f as flow text writes it, with an
// optional /mask. A missing mask is all ones.
func (f *field) parseValue(v string) (value, mask u128, err error) {
	val, m, hasMask := strings.Cut(v, "/")
	full := ones(f.bits)
	switch f.kind {
	case kMAC:
		value, err = parseMAC(val)
		if err == nil && hasMask {
			mask, err = parseMAC(m)
		}
	case kIPv4, kIPv6:
		value, mask, err = parseIPMasked(val, m, hasMask, f.kind == kIPv6)
	case kPort:
		if strings.EqualFold(val, "LOCAL") {
			value = u64(PortLocal)
		} else {
			value, err = parseInt(val)
			if err == nil && (value.bitLen() > 16 || (value.lo >= 0xff00 && value.lo != PortLocal)) {
				err = fmt.Errorf("%s is not an OpenFlow port number (1..65279 or LOCAL)", val)
			}
		}
		if err == nil && hasMask {
			mask, err = parseInt(m)
		}
	default:
		value, err = parseInt(val)
		if err == nil && hasMask {
			mask, err = parseInt(m)
		}
	}
	if err != nil {
		return u128{}, u128{}, fmt.Errorf("%s=%s: %w", f.name, v, err)
	}
	if !hasMask {
		mask = full
	}
	if value.andNot(full) != (u128{}) || mask.andNot(full) != (u128{}) {
		return u128{}, u128{}, fmt.Errorf("%s=%s: does not fit in the field's %d bits", f.name, v, f.bits)
	}
	if !f.maskable && mask != full {
		return u128{}, u128{}, fmt.Errorf("%s=%s: %s cannot be masked", f.name, v, f.name)
	}
	return value, mask, nil
}

func parseMAC(s string) (u128, error) {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 || strings.Count(s, ":") != 5 {
		return u128{}, fmt.Errorf("%q is not an Ethernet address (xx:xx:xx:xx:xx:xx)", s)
	}
	return macVal(m), nil
}

// parseIPMasked parses an address with an optional /prefix-length or
// /address mask. A prefix is returned as its mask.
func parseIPMasked(val, m string, hasMask, six bool) (value, mask u128, err error) {
	family := "IPv4"
	if six {
		family = "IPv6"
	}
	parse := func(s string) (u128, error) {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is6() != six || a.Zone() != "" {
			return u128{}, fmt.Errorf("%q is not an %s address", s, family)
		}
		if six {
			return ip6Val(a), nil
		}
		return ip4Val(a), nil
	}
	if value, err = parse(val); err != nil {
		return
	}
	if !hasMask {
		return value, u128{}, nil
	}
	bitsN := 32
	if six {
		bitsN = 128
	}
	if n, perr := parseInt(m); perr == nil && !strings.Contains(m, ".") && !strings.Contains(m, ":") {
		if n.hi != 0 || n.lo > uint64(bitsN) {
			return u128{}, u128{}, fmt.Errorf("/%s is not a prefix length of an %s address", m, family)
		}
		mask = ones(bitsN).andNot(ones(bitsN - int(n.lo)))
	} else if mask, err = parse(m); err != nil {
		return
	}
	return value.and(mask), mask, nil
}
