package flows

// Actions and matches of the logical context, named for what they mean.

func setSwitch(id uint32) Action   { return SetField(FieldMetadata, U64(uint64(id))) }
func setInPort(key uint32) Action  { return LoadAll(regInPort, uint64(key)) }
func setOutPort(key uint32) Action { return LoadAll(regOutPort, uint64(key)) }

// setFlag sets one flag bit of reg5.
func setFlag(bit int) Action { return Load(regFlags, flagBit(bit), 1, 1) }

func setTunnelKey(k uint32) Action { return SetField(FieldTunID, U64(uint64(k))) }

func flagBit(bit int) int {
	for i := 0; i < 32; i++ {
		if bit == 1<<i {
			return i
		}
	}
	panic("flows: not a single flag bit")
}

func matchSwitch(id uint32) MatchField   { return Exact(FieldMetadata, uint64(id)) }
func matchInPort(key uint32) MatchField  { return Exact(regInPort, uint64(key)) }
func matchOutPort(key uint32) MatchField { return Exact(regOutPort, uint64(key)) }

// matchFlag matches packets with (set) or without (!set) the flag.
func matchFlag(bit int, set bool) MatchField {
	v := uint64(0)
	if set {
		v = uint64(bit)
	}
	return Masked(regFlags, v, uint64(bit))
}

// matchMulticast matches broadcast and multicast destinations (the group bit).
func matchMulticast() MatchField { return Masked(FieldEthDst, 1<<40, 1<<40) }

// matchVLAN matches frames tagged with vid.
func matchVLAN(vid int) MatchField { return Masked(FieldVLANTCI, 0x1000|uint64(vid), 0x1fff) }

// Protocols of a match: eth_type, and nw_proto.
var (
	ethIPv4  = Exact(FieldEthType, EthTypeIPv4)
	ethIPv6  = Exact(FieldEthType, EthTypeIPv6)
	ethARP   = Exact(FieldEthType, EthTypeARP)
	isICMPv6 = Exact(FieldIPProto, ProtoICMPv6)
)

// pushVLAN tags the packet with vid (802.1Q).
func pushVLAN(vid int) []Action {
	return []Action{PushVLAN(0x8100), SetField(FieldVLANVID, U64(uint64(0x1000|vid)))}
}
