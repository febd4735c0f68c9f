package sim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// EtherTypes and IP protocols the helpers use.
const (
	EthTypeIPv4 = 0x0800
	EthTypeARP  = 0x0806
	EthTypeRARP = 0x8035
	EthTypeIPv6 = 0x86dd
	// EthTypeExperimental (IEEE 802 local experimental) is what Broadcast
	// sends: a frame that is neither IP nor ARP.
	EthTypeExperimental = 0x88b5

	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132

	ARPRequestOp = 1
	ARPReplyOp   = 2

	ICMPEchoRequest   = 8
	ICMPv6EchoRequest = 128
	ICMPv6NS          = 135 // neighbour solicitation
	ICMPv6NA          = 136 // neighbour advertisement

	// PortLocal is OpenFlow's LOCAL port (the bridge's own interface), as
	// in_port=LOCAL and output:LOCAL write it.
	PortLocal = 0xfffe
)

// Packet is a frame as the simulator sees it: the header fields OpenFlow
// matches on. Which fields are meaningful depends on EthType (and Proto):
// Run refuses a packet that sets a field its type does not have, so a
// forgotten EthType is caught rather than silently matching nothing.
//
// Unset addresses (nil MACs, the zero netip.Addr) read as all-zero.
type Packet struct {
	// InPort is the OpenFlow port the packet arrives on; 0 means none
	// (output to any port is then allowed).
	InPort int
	// TunID is the tunnel key (0 if not from a tunnel); TunSrc and TunDst
	// the outer IPv4 addresses, optional.
	TunID          uint64
	TunSrc, TunDst netip.Addr
	// VLAN is the 802.1Q VID, 0 for an untagged frame. (A priority-tagged
	// frame, VID 0 with a tag, cannot be represented.)
	VLAN           int
	EthSrc, EthDst net.HardwareAddr
	EthType        uint16

	// ARP (EthType 0x0806 or 0x8035).
	ARPOp          int
	ARPSha, ARPTha net.HardwareAddr
	ARPSpa, ARPTpa netip.Addr

	// IPv4 (0x0800) or IPv6 (0x86dd): addresses of the packet's family.
	IPSrc, IPDst netip.Addr
	Proto        uint8
	// TCP, UDP, SCTP ports.
	TPSrc, TPDst uint16
	// ICMP (Proto 1 in IPv4) or ICMPv6 (Proto 58 in IPv6).
	ICMPType, ICMPCode uint8
	// ICMPv6 neighbour discovery (type 135 solicitation or 136
	// advertisement, code 0): the target, and the message's link-layer
	// address option, which is NDSLL if NDOptionsType is 1 (source) or
	// NDTLL if it is 2 (target); at most one is set. Run infers
	// NDOptionsType from which one is set if it is 0. NDReserved is the 32
	// bits after the ICMPv6 header (an advertisement's R, S and O flags
	// are its top bits). OVS's nd_sll, nd_tll, nd_options_type and
	// nd_reserved read these.
	NDTarget      netip.Addr
	NDSLL, NDTLL  net.HardwareAddr
	NDReserved    uint32
	NDOptionsType uint8
}

// Regs is the pipeline state that travels with a packet but is not part of
// it: the OpenFlow metadata field and the registers reg0..reg15.
type Regs struct {
	Metadata uint64
	Reg      [16]uint32
}

// String renders the non-zero registers, e.g. "metadata=0xfbf650 reg6=0x24b8c4".
func (r Regs) String() string {
	s := ""
	add := func(k string, v uint64) {
		if v == 0 {
			return
		}
		if s != "" {
			s += " "
		}
		s += fmt.Sprintf("%s=%#x", k, v)
	}
	add("metadata", r.Metadata)
	for i, v := range r.Reg {
		add(fmt.Sprintf("reg%d", i), uint64(v))
	}
	if s == "" {
		return "(all zero)"
	}
	return s
}

// BroadcastMAC is ff:ff:ff:ff:ff:ff.
var BroadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// MustMAC parses a MAC address and panics if it is not one; for tests.
func MustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil || len(m) != 6 {
		panic(fmt.Sprintf("sim.MustMAC(%q): not an Ethernet address", s))
	}
	return m
}

// At returns a copy of p arriving on OpenFlow port port.
func (p Packet) At(port int) Packet {
	p.InPort = port
	return p
}

// FromTunnel returns a copy of p arriving on tunnel port port with tunnel
// key key.
func (p Packet) FromTunnel(port int, key uint64) Packet {
	p.InPort = port
	p.TunID = key
	return p
}

// Tagged returns a copy of p carrying 802.1Q VID vid.
func (p Packet) Tagged(vid int) Packet {
	p.VLAN = vid
	return p
}

// Ethernet is a frame of type ethType and no known payload.
func Ethernet(src, dst net.HardwareAddr, ethType uint16) Packet {
	return Packet{EthSrc: src, EthDst: dst, EthType: ethType}
}

// Broadcast is a frame to ff:ff:ff:ff:ff:ff that is neither IP nor ARP
// (EthType 0x88b5).
func Broadcast(src net.HardwareAddr) Packet {
	return Ethernet(src, BroadcastMAC, EthTypeExperimental)
}

// ARPRequest is "who has tpa? tell spa", broadcast from sha.
func ARPRequest(sha net.HardwareAddr, spa, tpa netip.Addr) Packet {
	return Packet{
		EthSrc: sha, EthDst: BroadcastMAC, EthType: EthTypeARP,
		ARPOp: ARPRequestOp, ARPSha: sha, ARPSpa: spa, ARPTpa: tpa,
	}
}

// ARPReply is "spa is at sha", unicast to tha.
func ARPReply(sha net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) Packet {
	return Packet{
		EthSrc: sha, EthDst: tha, EthType: EthTypeARP,
		ARPOp: ARPReplyOp, ARPSha: sha, ARPSpa: spa, ARPTha: tha, ARPTpa: tpa,
	}
}

// IP is an IPv4 or IPv6 packet (the family of src) of protocol proto; sport
// and dport are the TCP/UDP/SCTP ports (ignored for other protocols).
func IP(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, proto uint8, sport, dport uint16) Packet {
	p := Packet{EthSrc: srcMAC, EthDst: dstMAC, EthType: EthTypeIPv4, IPSrc: src, IPDst: dst, Proto: proto}
	if src.Is6() && !src.Is4In6() {
		p.EthType = EthTypeIPv6
	}
	if proto == ProtoTCP || proto == ProtoUDP || proto == ProtoSCTP {
		p.TPSrc, p.TPDst = sport, dport
	}
	return p
}

// IPv4 is IP for IPv4 addresses (kept for readability at call sites).
func IPv4(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr, proto uint8, sport, dport uint16) Packet {
	return IP(srcMAC, dstMAC, src, dst, proto, sport, dport)
}

// TCP is a TCP segment from src to dst.
func TCP(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort) Packet {
	return IP(srcMAC, dstMAC, src.Addr(), dst.Addr(), ProtoTCP, src.Port(), dst.Port())
}

// UDP is a UDP datagram from src to dst.
func UDP(srcMAC, dstMAC net.HardwareAddr, src, dst netip.AddrPort) Packet {
	return IP(srcMAC, dstMAC, src.Addr(), dst.Addr(), ProtoUDP, src.Port(), dst.Port())
}

// ICMPEcho is an ICMP (IPv4) or ICMPv6 echo request from src to dst.
func ICMPEcho(srcMAC, dstMAC net.HardwareAddr, src, dst netip.Addr) Packet {
	if src.Is6() && !src.Is4In6() {
		p := IP(srcMAC, dstMAC, src, dst, ProtoICMPv6, 0, 0)
		p.ICMPType = ICMPv6EchoRequest
		return p
	}
	p := IP(srcMAC, dstMAC, src, dst, ProtoICMP, 0, 0)
	p.ICMPType = ICMPEchoRequest
	return p
}

// SolicitedNode returns the solicited-node multicast address of ip
// (ff02::1:ffXX:XXXX) and its Ethernet multicast MAC (33:33:ff:XX:XX:XX).
func SolicitedNode(ip netip.Addr) (netip.Addr, net.HardwareAddr) {
	a := ip.As16()
	g := [16]byte{0xff, 0x02, 10: 0, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
	return netip.AddrFrom16(g), net.HardwareAddr{0x33, 0x33, 0xff, a[13], a[14], a[15]}
}

// NeighborSolicitation is "who has target?" from src (MAC srcMAC), sent to
// target's solicited-node multicast group, with the source link-layer
// address option set to srcMAC.
func NeighborSolicitation(srcMAC net.HardwareAddr, src, target netip.Addr) Packet {
	group, groupMAC := SolicitedNode(target)
	p := IP(srcMAC, groupMAC, src, group, ProtoICMPv6, 0, 0)
	p.ICMPType = ICMPv6NS
	p.NDTarget = target
	p.NDSLL = srcMAC
	p.NDOptionsType = 1
	return p
}

// NeighborAdvertisement is "target is at srcMAC" from src to dst, with the
// target link-layer address option set to srcMAC.
func NeighborAdvertisement(srcMAC, dstMAC net.HardwareAddr, src, dst, target netip.Addr) Packet {
	p := IP(srcMAC, dstMAC, src, dst, ProtoICMPv6, 0, 0)
	p.ICMPType = ICMPv6NA
	p.NDTarget = target
	p.NDTLL = srcMAC
	p.NDOptionsType = 2
	return p
}

func isARP(t uint16) bool { return t == EthTypeARP || t == EthTypeRARP }
func isIP(t uint16) bool  { return t == EthTypeIPv4 || t == EthTypeIPv6 }

// check refuses a packet that sets fields its EthType/Proto does not have,
// or that has malformed values.
func (p *Packet) check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if p.InPort < 0 || p.InPort > 0xffff || (p.InPort >= 0xff00 && p.InPort != PortLocal) {
		bad("InPort %d is not an OpenFlow port (1..65279, or PortLocal)", p.InPort)
	}
	if p.VLAN < 0 || p.VLAN > 4095 {
		bad("VLAN %d is not a VID (0 = untagged, 1..4095)", p.VLAN)
	}
	for _, m := range []struct {
		name string
		v    net.HardwareAddr
	}{{"EthSrc", p.EthSrc}, {"EthDst", p.EthDst}, {"ARPSha", p.ARPSha}, {"ARPTha", p.ARPTha}, {"NDSLL", p.NDSLL}, {"NDTLL", p.NDTLL}} {
		if len(m.v) != 0 && len(m.v) != 6 {
			bad("%s %v is not an Ethernet address", m.name, m.v)
		}
	}
	v4 := func(name string, a netip.Addr) {
		if a.IsValid() && !a.Is4() {
			bad("%s %v is not an IPv4 address", name, a)
		}
	}
	v4("TunSrc", p.TunSrc)
	v4("TunDst", p.TunDst)

	arp := isARP(p.EthType)
	if arp {
		v4("ARPSpa", p.ARPSpa)
		v4("ARPTpa", p.ARPTpa)
		if p.ARPOp < 0 || p.ARPOp > 0xff {
			bad("ARPOp %d: OVS keeps 8 bits of the ARP opcode", p.ARPOp)
		}
	} else if p.ARPOp != 0 || p.ARPSha != nil || p.ARPTha != nil || p.ARPSpa.IsValid() || p.ARPTpa.IsValid() {
		bad("ARP fields set on a packet with EthType %#04x (not ARP)", p.EthType)
	}

	ip := isIP(p.EthType)
	if !ip && (p.IPSrc.IsValid() || p.IPDst.IsValid() || p.Proto != 0) {
		bad("IP fields set on a packet with EthType %#04x (not IPv4 or IPv6)", p.EthType)
	}
	if p.EthType == EthTypeIPv4 {
		v4("IPSrc", p.IPSrc)
		v4("IPDst", p.IPDst)
	}
	if p.EthType == EthTypeIPv6 {
		for _, a := range []struct {
			name string
			v    netip.Addr
		}{{"IPSrc", p.IPSrc}, {"IPDst", p.IPDst}} {
			if a.v.IsValid() && !a.v.Is6() {
				bad("%s %v is not an IPv6 address", a.name, a.v)
			}
		}
	}
	l4 := ip && (p.Proto == ProtoTCP || p.Proto == ProtoUDP || p.Proto == ProtoSCTP)
	if !l4 && (p.TPSrc != 0 || p.TPDst != 0) {
		bad("TPSrc/TPDst set on a packet that is not TCP, UDP or SCTP")
	}
	icmp := (p.EthType == EthTypeIPv4 && p.Proto == ProtoICMP) || (p.EthType == EthTypeIPv6 && p.Proto == ProtoICMPv6)
	if !icmp && (p.ICMPType != 0 || p.ICMPCode != 0) {
		bad("ICMPType/ICMPCode set on a packet that is not ICMP or ICMPv6")
	}
	switch nd := p.isND(); {
	case !nd && (p.NDTarget.IsValid() || p.NDSLL != nil || p.NDTLL != nil || p.NDReserved != 0 || p.NDOptionsType != 0):
		bad("ND fields set on a packet that is not an ICMPv6 neighbour solicitation or advertisement (code 0)")
	case nd && p.NDTarget.IsValid() && !p.NDTarget.Is6():
		bad("NDTarget %v is not an IPv6 address", p.NDTarget)
	case nd && p.NDSLL != nil && p.NDTLL != nil:
		bad("NDSLL and NDTLL both set: Packet models one link-layer address option")
	case nd && p.NDSLL != nil && p.NDOptionsType != 0 && p.NDOptionsType != 1:
		bad("NDSLL set with NDOptionsType %d (a source link-layer address option is type 1)", p.NDOptionsType)
	case nd && p.NDTLL != nil && p.NDOptionsType != 0 && p.NDOptionsType != 2:
		bad("NDTLL set with NDOptionsType %d (a target link-layer address option is type 2)", p.NDOptionsType)
	}
	return errors.Join(errs...)
}

// isND tells whether p is an ICMPv6 neighbour solicitation or
// advertisement, as OVS's flow extraction decides it.
func (p *Packet) isND() bool {
	return p.EthType == EthTypeIPv6 && p.Proto == ProtoICMPv6 && p.ICMPCode == 0 &&
		(p.ICMPType == ICMPv6NS || p.ICMPType == ICMPv6NA)
}

func cloneMAC(m net.HardwareAddr) net.HardwareAddr {
	if m == nil {
		return nil
	}
	return append(net.HardwareAddr(nil), m...)
}

// clone deep-copies the address slices.
func (p Packet) clone() Packet {
	p.EthSrc, p.EthDst = cloneMAC(p.EthSrc), cloneMAC(p.EthDst)
	p.ARPSha, p.ARPTha = cloneMAC(p.ARPSha), cloneMAC(p.ARPTha)
	p.NDSLL, p.NDTLL = cloneMAC(p.NDSLL), cloneMAC(p.NDTLL)
	return p
}
