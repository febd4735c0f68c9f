package sim

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/loom-sdn/loom/flows"
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
		return p, errVID0
	default:
		p.VLAN = int(s.tci & 0xfff)
	}
	return p, nil
}

// proto is what prerequisites look at: the Ethernet type, IP protocol and
// ICMP type and code of the packet.
func (s *state) proto() flows.Proto {
	v := flows.Proto{EthType: s.p.EthType}
	if isIP(v.EthType) {
		v.IPProto = s.p.Proto
		v.ICMPType, v.ICMPCode = s.p.ICMPType, s.p.ICMPCode
	}
	return v
}

// access reads and writes one field of the state.
type access struct {
	get func(*state) flows.Value
	set func(*state, flows.Value)
}

// accessors are the fields the simulator models, by flows.Field.
var accessors [256]access

// read returns the field's value in the packet, 0 if the packet does not
// have the field (as OVS's flow extraction leaves it zero).
func read(f flows.Field, s *state) flows.Value {
	p := s.proto()
	if !f.Prereq().OK(p) && !f.MatchPrereq().OK(p) {
		return flows.Value{}
	}
	return accessors[f].get(s).And(flows.Ones(f.Bits()))
}

// write sets the bits of mask of f to value.
func write(f flows.Field, s *state, value, mask flows.Value) {
	a := accessors[f]
	old := a.get(s)
	a.set(s, old.AndNot(mask).Or(value.And(mask)).And(flows.Ones(f.Bits())))
}

func macVal(m net.HardwareAddr) flows.Value { return flows.MACValue(m) }

func macOf(v flows.Value) net.HardwareAddr {
	m := make(net.HardwareAddr, 6)
	x := v.Lo
	for i := 5; i >= 0; i-- {
		m[i] = byte(x)
		x >>= 8
	}
	return m
}

func ip4Val(a netip.Addr) flows.Value {
	if !a.Is4() {
		return flows.Value{}
	}
	return flows.IPValue(a)
}

func ip4Of(v flows.Value) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v.Lo >> 24), byte(v.Lo >> 16), byte(v.Lo >> 8), byte(v.Lo)})
}

func ip6Val(a netip.Addr) flows.Value {
	if !a.Is6() {
		return flows.Value{}
	}
	return flows.IPValue(a)
}

func ip6Of(v flows.Value) netip.Addr {
	var b [16]byte
	for i := 0; i < 8; i++ {
		b[i] = byte(v.Hi >> (56 - 8*i))
		b[8+i] = byte(v.Lo >> (56 - 8*i))
	}
	return netip.AddrFrom16(b)
}

func init() {
	u64 := flows.U64
	mac := func(p func(*state) *net.HardwareAddr) access {
		return access{
			func(s *state) flows.Value { return macVal(*p(s)) },
			func(s *state, v flows.Value) { *p(s) = macOf(v) },
		}
	}
	ip4 := func(p func(*state) *netip.Addr) access {
		return access{
			func(s *state) flows.Value { return ip4Val(*p(s)) },
			func(s *state, v flows.Value) { *p(s) = ip4Of(v) },
		}
	}
	ip6 := func(p func(*state) *netip.Addr) access {
		return access{
			func(s *state) flows.Value { return ip6Val(*p(s)) },
			func(s *state, v flows.Value) { *p(s) = ip6Of(v) },
		}
	}
	u16p := func(p func(*state) *uint16) access {
		return access{
			func(s *state) flows.Value { return u64(uint64(*p(s))) },
			func(s *state, v flows.Value) { *p(s) = uint16(v.Lo) },
		}
	}
	u8p := func(p func(*state) *uint8) access {
		return access{
			func(s *state) flows.Value { return u64(uint64(*p(s))) },
			func(s *state, v flows.Value) { *p(s) = uint8(v.Lo) },
		}
	}
	accessors[flows.FieldInPort] = access{
		func(s *state) flows.Value { return u64(uint64(s.p.InPort)) },
		func(s *state, v flows.Value) { s.p.InPort = int(v.Lo) },
	}
	accessors[flows.FieldMetadata] = access{
		func(s *state) flows.Value { return u64(s.regs.Metadata) },
		func(s *state, v flows.Value) { s.regs.Metadata = v.Lo },
	}
	for i := range 16 {
		accessors[flows.Reg(i)] = access{
			func(s *state) flows.Value { return u64(uint64(s.regs.Reg[i])) },
			func(s *state, v flows.Value) { s.regs.Reg[i] = uint32(v.Lo) },
		}
	}
	for i := range 8 {
		// xregN is reg(2N) (high half) and reg(2N+1) (low half).
		accessors[flows.XReg(i)] = access{
			func(s *state) flows.Value {
				return u64(uint64(s.regs.Reg[2*i])<<32 | uint64(s.regs.Reg[2*i+1]))
			},
			func(s *state, v flows.Value) { s.regs.Reg[2*i], s.regs.Reg[2*i+1] = uint32(v.Lo>>32), uint32(v.Lo) },
		}
	}
	accessors[flows.FieldTunID] = access{
		func(s *state) flows.Value { return u64(s.p.TunID) },
		func(s *state, v flows.Value) { s.p.TunID = v.Lo },
	}
	accessors[flows.FieldTunSrc] = ip4(func(s *state) *netip.Addr { return &s.p.TunSrc })
	accessors[flows.FieldTunDst] = ip4(func(s *state) *netip.Addr { return &s.p.TunDst })
	accessors[flows.FieldEthSrc] = mac(func(s *state) *net.HardwareAddr { return &s.p.EthSrc })
	accessors[flows.FieldEthDst] = mac(func(s *state) *net.HardwareAddr { return &s.p.EthDst })
	accessors[flows.FieldEthType] = u16p(func(s *state) *uint16 { return &s.p.EthType })
	accessors[flows.FieldVLANTCI] = u16p(func(s *state) *uint16 { return &s.tci })
	// vlan_vid is the OpenFlow 1.2+ view of the TCI: VID | 0x1000 (present).
	accessors[flows.FieldVLANVID] = access{
		func(s *state) flows.Value { return u64(uint64(s.tci & 0x1fff)) },
		func(s *state, v flows.Value) { s.tci = s.tci&^0x1fff | uint16(v.Lo)&0x1fff },
	}
	accessors[flows.FieldIPSrc] = ip4(func(s *state) *netip.Addr { return &s.p.IPSrc })
	accessors[flows.FieldIPDst] = ip4(func(s *state) *netip.Addr { return &s.p.IPDst })
	accessors[flows.FieldIPv6Src] = ip6(func(s *state) *netip.Addr { return &s.p.IPSrc })
	accessors[flows.FieldIPv6Dst] = ip6(func(s *state) *netip.Addr { return &s.p.IPDst })
	accessors[flows.FieldIPProto] = u8p(func(s *state) *uint8 { return &s.p.Proto })
	accessors[flows.FieldARPOp] = access{
		func(s *state) flows.Value { return u64(uint64(s.p.ARPOp)) },
		func(s *state, v flows.Value) { s.p.ARPOp = int(v.Lo & 0xff) },
	}
	accessors[flows.FieldARPSPA] = ip4(func(s *state) *netip.Addr { return &s.p.ARPSpa })
	accessors[flows.FieldARPTPA] = ip4(func(s *state) *netip.Addr { return &s.p.ARPTpa })
	accessors[flows.FieldARPSHA] = mac(func(s *state) *net.HardwareAddr { return &s.p.ARPSha })
	accessors[flows.FieldARPTHA] = mac(func(s *state) *net.HardwareAddr { return &s.p.ARPTha })
	accessors[flows.FieldTpSrc] = u16p(func(s *state) *uint16 { return &s.p.TPSrc })
	accessors[flows.FieldTpDst] = u16p(func(s *state) *uint16 { return &s.p.TPDst })
	accessors[flows.FieldICMPType] = u8p(func(s *state) *uint8 { return &s.p.ICMPType })
	accessors[flows.FieldICMPCode] = u8p(func(s *state) *uint8 { return &s.p.ICMPCode })
	accessors[flows.FieldNDTarget] = ip6(func(s *state) *netip.Addr { return &s.p.NDTarget })
	accessors[flows.FieldNDSLL] = mac(func(s *state) *net.HardwareAddr { return &s.p.NDSLL })
	accessors[flows.FieldNDTLL] = mac(func(s *state) *net.HardwareAddr { return &s.p.NDTLL })
	accessors[flows.FieldNDReserved] = access{
		func(s *state) flows.Value { return u64(uint64(s.p.NDReserved)) },
		func(s *state, v flows.Value) { s.p.NDReserved = uint32(v.Lo) },
	}
	accessors[flows.FieldNDOptionsType] = u8p(func(s *state) *uint8 { return &s.p.NDOptionsType })
}

var errVID0 = fmt.Errorf("the packet carries a VLAN tag with VID 0 (a priority tag), which Packet cannot represent")
