package flows

import "math/bits"

// Field names an OpenFlow field, as OVS's meta-flow does. Fields that OVS
// stores in the same place and prints under one name in a match are one
// Field here (tp_dst, tcp_dst, udp_dst and sctp_dst are FieldTpDst;
// icmp_type and icmpv6_type are FieldICMPType; dl_vlan, vlan_vid and
// vlan_tci are FieldVLANTCI in a match), so that a match compares as a
// value whatever spelling wrote it. Two views of other fields exist for
// actions only, where OVS keeps them apart: FieldVLANVID (13 bits of the
// TCI) and FieldXReg0..7 (pairs of registers).
//
// The numbering is also the order in which Loom writes a match's fields
// (see Flow.AppendText); it is not a wire format and may change.
type Field uint8

// Fields, in the order Loom prints them in a match.
const (
	FieldNone Field = iota
	FieldInPort
	FieldTunID
	FieldTunSrc
	FieldTunDst
	FieldVLANTCI
	FieldReg0
	FieldReg1
	FieldReg2
	FieldReg3
	FieldReg4
	FieldReg5
	FieldMetadata // between reg5 and reg6: the order Loom's flows have always been written in
	FieldReg6
	FieldReg7
	FieldReg8
	FieldReg9
	FieldReg10
	FieldReg11
	FieldReg12
	FieldReg13
	FieldReg14
	FieldReg15
	FieldEthSrc
	FieldEthDst
	FieldEthType
	FieldIPProto
	FieldARPOp
	FieldARPSHA
	FieldARPSPA
	FieldARPTHA
	FieldARPTPA
	FieldIPSrc // IPv4
	FieldIPDst
	FieldICMPType // ICMPv4 or ICMPv6, by the match's eth_type
	FieldICMPCode
	FieldIPv6Src
	FieldIPv6Dst
	FieldNDTarget
	FieldNDSLL
	FieldNDTLL
	FieldNDReserved
	FieldNDOptionsType
	FieldTpSrc // TCP, UDP or SCTP, by the match's nw_proto
	FieldTpDst

	// Views for actions only.
	FieldVLANVID
	FieldXReg0
	FieldXReg1
	FieldXReg2
	FieldXReg3
	FieldXReg4
	FieldXReg5
	FieldXReg6
	FieldXReg7

	numFields
)

// Reg is register n (0..15).
func Reg(n int) Field {
	if n < 6 {
		return FieldReg0 + Field(n)
	}
	return FieldReg6 + Field(n-6)
}

// XReg is the 64-bit register n (0..7): reg(2n) high, reg(2n+1) low.
func XReg(n int) Field { return FieldXReg0 + Field(n) }

// format is how a field's values are written.
type format uint8

const (
	fmtHex  format = iota // 0x2c2549
	fmtDec                // 136; masked: 0x1fa0/0xfffc (4 digits)
	fmtHex4               // 0x0800 (eth_type)
	fmtMAC
	fmtIPv4
	fmtIPv6
	fmtPort // a number, LOCAL
)

// Prereq is what a field needs of the packet (and so of a flow's match):
// OVS's meta-flow prerequisites.
type Prereq uint8

const (
	PrereqNone Prereq = iota
	PrereqARP         // arp or rarp
	PrereqIPv4
	PrereqIPv6
	PrereqIP   // IPv4 or IPv6
	PrereqTCP  // over IPv4 or IPv6
	PrereqUDP  //
	PrereqSCTP //
	PrereqL4   // TCP, UDP or SCTP
	PrereqICMPv4
	PrereqICMPv6
	PrereqICMP      // ICMPv4 or ICMPv6
	PrereqND        // ICMPv6 type 135 or 136, code 0
	PrereqNDSolicit // type 135
	PrereqNDAdvert  // type 136
)

var prereqText = [...]string{
	PrereqARP:       "arp (or rarp)",
	PrereqIPv4:      "ip",
	PrereqIPv6:      "ipv6",
	PrereqIP:        "ip or ipv6",
	PrereqTCP:       "tcp or tcp6",
	PrereqUDP:       "udp or udp6",
	PrereqSCTP:      "sctp or sctp6",
	PrereqL4:        "tcp, udp or sctp (v4 or v6)",
	PrereqICMPv4:    "icmp",
	PrereqICMPv6:    "icmp6",
	PrereqICMP:      "icmp or icmp6",
	PrereqND:        "icmp6 with icmp_type=135 or 136 (and icmp_code 0)",
	PrereqNDSolicit: "icmp6 with icmp_type=135 (and icmp_code 0)",
	PrereqNDAdvert:  "icmp6 with icmp_type=136 (and icmp_code 0)",
}

func (p Prereq) String() string {
	if int(p) < len(prereqText) {
		return prereqText[p]
	}
	return "?"
}

// EtherTypes and IP protocols of the prerequisites.
const (
	EthTypeIPv4 = 0x0800
	EthTypeARP  = 0x0806
	EthTypeRARP = 0x8035
	EthTypeIPv6 = 0x86dd

	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132

	ICMPv6NS = 135 // neighbour solicitation
	ICMPv6NA = 136 // neighbour advertisement
)

// Proto is what prerequisites look at: the Ethernet type, IP protocol and
// ICMP type and code, as a packet has them or a match pins them (0:
// not pinned).
type Proto struct {
	EthType            uint16
	IPProto            uint8
	ICMPType, ICMPCode uint8
}

// OK tells whether v satisfies p.
func (p Prereq) OK(v Proto) bool {
	ip := v.EthType == EthTypeIPv4 || v.EthType == EthTypeIPv6
	switch p {
	case PrereqNone:
		return true
	case PrereqARP:
		return v.EthType == EthTypeARP || v.EthType == EthTypeRARP
	case PrereqIPv4:
		return v.EthType == EthTypeIPv4
	case PrereqIPv6:
		return v.EthType == EthTypeIPv6
	case PrereqIP:
		return ip
	case PrereqTCP:
		return ip && v.IPProto == ProtoTCP
	case PrereqUDP:
		return ip && v.IPProto == ProtoUDP
	case PrereqSCTP:
		return ip && v.IPProto == ProtoSCTP
	case PrereqL4:
		return ip && (v.IPProto == ProtoTCP || v.IPProto == ProtoUDP || v.IPProto == ProtoSCTP)
	case PrereqICMPv4:
		return v.EthType == EthTypeIPv4 && v.IPProto == ProtoICMP
	case PrereqICMPv6:
		return v.EthType == EthTypeIPv6 && v.IPProto == ProtoICMPv6
	case PrereqICMP:
		return PrereqICMPv4.OK(v) || PrereqICMPv6.OK(v)
	case PrereqND:
		return PrereqICMPv6.OK(v) && v.ICMPCode == 0 && (v.ICMPType == ICMPv6NS || v.ICMPType == ICMPv6NA)
	case PrereqNDSolicit:
		return PrereqND.OK(v) && v.ICMPType == ICMPv6NS
	case PrereqNDAdvert:
		return PrereqND.OK(v) && v.ICMPType == ICMPv6NA
	}
	return false
}

// fieldInfo describes a Field.
type fieldInfo struct {
	name     string // in a match, as Loom writes it (OVS's name or its usual alias)
	setName  string // in set_field (OVS's name)
	nxm      string // in load, move and output subfields
	bits     uint8
	format   format
	maskable bool
	writable bool
	prereq   Prereq // of a read or write in actions, and of a match (see Field.MatchPrereq)
}

var fieldInfos = [numFields]fieldInfo{
	FieldInPort:        {name: "in_port", nxm: "NXM_OF_IN_PORT", bits: 16, format: fmtPort, writable: true},
	FieldTunID:         {name: "tun_id", nxm: "NXM_NX_TUN_ID", bits: 64, format: fmtHex, maskable: true, writable: true},
	FieldTunSrc:        {name: "tun_src", nxm: "NXM_NX_TUN_IPV4_SRC", bits: 32, format: fmtIPv4, maskable: true, writable: true},
	FieldTunDst:        {name: "tun_dst", nxm: "NXM_NX_TUN_IPV4_DST", bits: 32, format: fmtIPv4, maskable: true, writable: true},
	FieldVLANTCI:       {name: "vlan_tci", nxm: "NXM_OF_VLAN_TCI", bits: 16, format: fmtHex, maskable: true, writable: true},
	FieldMetadata:      {name: "metadata", nxm: "OXM_OF_METADATA", bits: 64, format: fmtHex, maskable: true, writable: true},
	FieldEthSrc:        {name: "dl_src", setName: "eth_src", nxm: "NXM_OF_ETH_SRC", bits: 48, format: fmtMAC, maskable: true, writable: true},
	FieldEthDst:        {name: "dl_dst", setName: "eth_dst", nxm: "NXM_OF_ETH_DST", bits: 48, format: fmtMAC, maskable: true, writable: true},
	FieldEthType:       {name: "dl_type", setName: "eth_type", nxm: "NXM_OF_ETH_TYPE", bits: 16, format: fmtHex4},
	FieldIPProto:       {name: "nw_proto", setName: "ip_proto", nxm: "NXM_OF_IP_PROTO", bits: 8, format: fmtDec, prereq: PrereqIP},
	FieldARPOp:         {name: "arp_op", nxm: "NXM_OF_ARP_OP", bits: 16, format: fmtDec, writable: true, prereq: PrereqARP},
	FieldARPSHA:        {name: "arp_sha", nxm: "NXM_NX_ARP_SHA", bits: 48, format: fmtMAC, maskable: true, writable: true, prereq: PrereqARP},
	FieldARPSPA:        {name: "arp_spa", nxm: "NXM_OF_ARP_SPA", bits: 32, format: fmtIPv4, maskable: true, writable: true, prereq: PrereqARP},
	FieldARPTHA:        {name: "arp_tha", nxm: "NXM_NX_ARP_THA", bits: 48, format: fmtMAC, maskable: true, writable: true, prereq: PrereqARP},
	FieldARPTPA:        {name: "arp_tpa", nxm: "NXM_OF_ARP_TPA", bits: 32, format: fmtIPv4, maskable: true, writable: true, prereq: PrereqARP},
	FieldIPSrc:         {name: "nw_src", setName: "ip_src", nxm: "NXM_OF_IP_SRC", bits: 32, format: fmtIPv4, maskable: true, writable: true, prereq: PrereqIPv4},
	FieldIPDst:         {name: "nw_dst", setName: "ip_dst", nxm: "NXM_OF_IP_DST", bits: 32, format: fmtIPv4, maskable: true, writable: true, prereq: PrereqIPv4},
	FieldICMPType:      {name: "icmp_type", nxm: "NXM_OF_ICMP_TYPE", bits: 8, format: fmtDec, writable: true, prereq: PrereqICMP},
	FieldICMPCode:      {name: "icmp_code", nxm: "NXM_OF_ICMP_CODE", bits: 8, format: fmtDec, writable: true, prereq: PrereqICMP},
	FieldIPv6Src:       {name: "ipv6_src", nxm: "NXM_NX_IPV6_SRC", bits: 128, format: fmtIPv6, maskable: true, writable: true, prereq: PrereqIPv6},
	FieldIPv6Dst:       {name: "ipv6_dst", nxm: "NXM_NX_IPV6_DST", bits: 128, format: fmtIPv6, maskable: true, writable: true, prereq: PrereqIPv6},
	FieldNDTarget:      {name: "nd_target", nxm: "NXM_NX_ND_TARGET", bits: 128, format: fmtIPv6, maskable: true, writable: true, prereq: PrereqND},
	FieldNDSLL:         {name: "nd_sll", nxm: "NXM_NX_ND_SLL", bits: 48, format: fmtMAC, maskable: true, writable: true, prereq: PrereqNDSolicit},
	FieldNDTLL:         {name: "nd_tll", nxm: "NXM_NX_ND_TLL", bits: 48, format: fmtMAC, maskable: true, writable: true, prereq: PrereqNDAdvert},
	FieldNDReserved:    {name: "nd_reserved", nxm: "ERICOXM_OF_ICMPV6_ND_RESERVED", bits: 32, format: fmtHex, writable: true, prereq: PrereqND},
	FieldNDOptionsType: {name: "nd_options_type", nxm: "ERICOXM_OF_ICMPV6_ND_OPTIONS_TYPE", bits: 8, format: fmtDec, writable: true, prereq: PrereqND},
	FieldTpSrc:         {name: "tp_src", setName: "tcp_src", nxm: "NXM_OF_TCP_SRC", bits: 16, format: fmtDec, maskable: true, writable: true, prereq: PrereqL4},
	FieldTpDst:         {name: "tp_dst", setName: "tcp_dst", nxm: "NXM_OF_TCP_DST", bits: 16, format: fmtDec, maskable: true, writable: true, prereq: PrereqL4},
	FieldVLANVID:       {name: "vlan_vid", nxm: "OXM_OF_VLAN_VID", bits: 13, format: fmtDec, maskable: true, writable: true},
}

func init() {
	for i := 0; i < 16; i++ {
		f := Reg(i)
		fieldInfos[f] = fieldInfo{name: "reg" + itoa(i), nxm: "NXM_NX_REG" + itoa(i), bits: 32, format: fmtHex, maskable: true, writable: true}
	}
	for i := 0; i < 8; i++ {
		fieldInfos[XReg(i)] = fieldInfo{name: "xreg" + itoa(i), nxm: "OXM_OF_PKT_REG" + itoa(i), bits: 64, format: fmtHex, maskable: true, writable: true}
	}
	for f := range fieldInfos {
		fi := &fieldInfos[f]
		if fi.setName == "" {
			fi.setName = fi.name
		}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}

// Bits is the field's width.
func (f Field) Bits() int {
	if f >= numFields {
		return 0
	}
	return int(fieldInfos[f].bits)
}

// String is the field's name in a match ("dl_src", "reg6").
func (f Field) String() string {
	if f == FieldNone || f >= numFields {
		return "field" + itoa(int(f)%100)
	}
	return fieldInfos[f].name
}

// Prereq is what reading or writing the field needs of the packet.
func (f Field) Prereq() Prereq {
	if f >= numFields {
		return PrereqNone
	}
	return fieldInfos[f].prereq
}

// MatchPrereq is what matching on the field needs of the match.
func (f Field) MatchPrereq() Prereq {
	switch f {
	case FieldTpSrc, FieldTpDst:
		return PrereqL4
	}
	return f.Prereq()
}

// Writable tells whether actions may write the field.
func (f Field) Writable() bool { return f < numFields && fieldInfos[f].writable }

// Maskable tells whether a match may mask the field.
func (f Field) Maskable() bool { return f < numFields && fieldInfos[f].maskable }

// InMatch tells whether the field may appear in a (canonical) match; the
// action-only views cannot.
func (f Field) InMatch() bool { return f > FieldNone && f <= FieldTpDst }

// Value is a field's value or mask, up to 128 bits (an IPv6 address). Bit
// 0 is the least significant, as in OVS's subfields (NXM_NX_REG5[0]).
type Value struct{ Hi, Lo uint64 }

// U64 is v as a Value.
func U64(v uint64) Value { return Value{Lo: v} }

func (a Value) And(b Value) Value    { return Value{a.Hi & b.Hi, a.Lo & b.Lo} }
func (a Value) Or(b Value) Value     { return Value{a.Hi | b.Hi, a.Lo | b.Lo} }
func (a Value) AndNot(b Value) Value { return Value{a.Hi &^ b.Hi, a.Lo &^ b.Lo} }
func (a Value) IsZero() bool         { return a.Hi == 0 && a.Lo == 0 }

// Shl shifts left by n bits.
func (a Value) Shl(n int) Value {
	switch {
	case n <= 0:
		return a
	case n >= 128:
		return Value{}
	case n >= 64:
		return Value{Hi: a.Lo << (n - 64)}
	default:
		return Value{Hi: a.Hi<<n | a.Lo>>(64-n), Lo: a.Lo << n}
	}
}

// Shr shifts right by n bits.
func (a Value) Shr(n int) Value {
	switch {
	case n <= 0:
		return a
	case n >= 128:
		return Value{}
	case n >= 64:
		return Value{Lo: a.Hi >> (n - 64)}
	default:
		return Value{Hi: a.Hi >> n, Lo: a.Lo>>n | a.Hi<<(64-n)}
	}
}

// Ones is a value with the n low bits set.
func Ones(n int) Value {
	switch {
	case n <= 0:
		return Value{}
	case n >= 128:
		return Value{^uint64(0), ^uint64(0)}
	case n >= 64:
		return Value{Hi: 1<<(n-64) - 1, Lo: ^uint64(0)}
	default:
		return Value{Lo: 1<<n - 1}
	}
}

// BitLen is the number of bits needed to hold a.
func (a Value) BitLen() int {
	if a.Hi != 0 {
		return 64 + bits.Len64(a.Hi)
	}
	return bits.Len64(a.Lo)
}

// Compare orders values as numbers.
func (a Value) Compare(b Value) int {
	switch {
	case a.Hi != b.Hi:
		if a.Hi < b.Hi {
			return -1
		}
		return 1
	case a.Lo != b.Lo:
		if a.Lo < b.Lo {
			return -1
		}
		return 1
	}
	return 0
}

// trailingZeros and onesRun describe a mask: a contiguous run of ones
// starts at bit ofs and is n long (ok false if the ones are not one run).
func (a Value) onesRun() (ofs, n int, ok bool) {
	if a.IsZero() {
		return 0, 0, false
	}
	if a.Lo != 0 {
		ofs = bits.TrailingZeros64(a.Lo)
	} else {
		ofs = 64 + bits.TrailingZeros64(a.Hi)
	}
	s := a.Shr(ofs)
	n = s.BitLen()
	return ofs, n, s == Ones(n)
}
