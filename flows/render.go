package flows

import (
	"encoding/binary"
	"net/netip"
	"strconv"
)

// The one renderer of flows to text: the syntax ovs-ofctl add-flows reads,
// appended into a buffer without fmt. Loom writes a flow as
//
//	priority=P[,PROTO][,FIELD=VALUE...],table=T,idle_timeout=N[,hard_timeout=N][,importance=N][,cookie=C],actions=A
//
// with the match's fields in Field order, PROTO the shorthand OVS uses for
// its eth_type and nw_proto (ip, tcp6, arp...), register and metadata
// values in hexadecimal, and every action as OVS names it under OpenFlow
// 1.3 (set_field, load, pop_vlan...). OVS prints a flow in another order
// and spelling; the parser (parse.go) reads both to the same Flow.

// String renders f in ovs-ofctl syntax.
func (f Flow) String() string { return string(f.AppendText(nil)) }

// AppendText appends f in ovs-ofctl syntax (add-flows), without a newline.
func (f *Flow) AppendText(b []byte) []byte {
	b = append(b, "priority="...)
	b = strconv.AppendUint(b, uint64(f.Priority), 10)
	if len(f.Match) > 0 {
		b = append(b, ',')
		b = f.AppendMatch(b)
	}
	b = append(b, ",table="...)
	b = strconv.AppendUint(b, uint64(f.Table), 10)
	b = append(b, ",idle_timeout="...)
	b = strconv.AppendUint(b, uint64(f.IdleTimeout), 10)
	if f.HardTimeout != 0 {
		b = append(b, ",hard_timeout="...)
		b = strconv.AppendUint(b, uint64(f.HardTimeout), 10)
	}
	if f.Importance != 0 {
		b = append(b, ",importance="...)
		b = strconv.AppendUint(b, uint64(f.Importance), 10)
	}
	if f.Cookie != 0 {
		b = append(b, ",cookie=0x"...)
		b = appendHexPadded(b, f.Cookie, 14)
	}
	b = append(b, ",actions="...)
	return f.AppendActions(b)
}

// AppendFlows appends flows in ovs-ofctl syntax, one per line: the input
// of ovs-ofctl add-flows.
func AppendFlows(b []byte, fs []Flow) []byte {
	for i := range fs {
		b = fs[i].AppendText(b)
		b = append(b, '\n')
	}
	return b
}

// protoName is OVS's shorthand for an eth_type and nw_proto, and whether
// it covers the nw_proto.
func protoName(p Proto, hasProto bool) (name string, coversProto bool) {
	switch p.EthType {
	case EthTypeIPv4:
		switch {
		case !hasProto:
			return "ip", true
		case p.IPProto == ProtoICMP:
			return "icmp", true
		case p.IPProto == ProtoTCP:
			return "tcp", true
		case p.IPProto == ProtoUDP:
			return "udp", true
		case p.IPProto == ProtoSCTP:
			return "sctp", true
		}
		return "ip", false
	case EthTypeIPv6:
		switch {
		case !hasProto:
			return "ipv6", true
		case p.IPProto == ProtoICMPv6:
			return "icmp6", true
		case p.IPProto == ProtoTCP:
			return "tcp6", true
		case p.IPProto == ProtoUDP:
			return "udp6", true
		case p.IPProto == ProtoSCTP:
			return "sctp6", true
		}
		return "ipv6", false
	case EthTypeARP:
		return "arp", !hasProto
	case EthTypeRARP:
		return "rarp", !hasProto
	}
	return "", false
}

// AppendMatch appends the match of f (without priority and table), e.g.
// "icmp6,reg6=0x2c2549,icmpv6_type=136".
func (f *Flow) AppendMatch(b []byte) []byte { return f.Match.appendText(b) }

func (m Match) appendText(b []byte) []byte {
	p := m.Proto()
	_, hasEth := m.Get(FieldEthType)
	_, hasProto := m.Get(FieldIPProto)
	start := len(b)
	sep := func() {
		if len(b) > start {
			b = append(b, ',')
		}
	}
	skipEth, skipProto := false, false
	if hasEth {
		if name, covers := protoName(p, hasProto); name != "" {
			b = append(b, name...)
			skipEth, skipProto = true, covers
		}
	}
	for i := range m {
		e := &m[i]
		switch {
		case e.Field == FieldEthType && skipEth, e.Field == FieldIPProto && skipProto:
			continue
		case e.Field == FieldVLANTCI:
			sep()
			b = appendTCI(b, e.Value.Lo, e.Mask.Lo)
			continue
		}
		sep()
		b = append(b, matchName(e.Field, p)...)
		b = append(b, '=')
		b = appendValue(b, e.Field, e.Value, e.Mask, true)
	}
	return b
}

// appendTCI writes a VLAN TCI match as OVS does: dl_vlan for the VID with
// the present bit, dl_vlan_pcp for the priority, vlan_tci otherwise.
func appendTCI(b []byte, v, m uint64) []byte {
	switch {
	case m&0x1fff == 0x1fff && v&0x1000 != 0 && (m&0xe000 == 0 || m&0xe000 == 0xe000):
		b = append(b, "dl_vlan="...)
		b = strconv.AppendUint(b, v&0xfff, 10)
		if m&0xe000 != 0 {
			b = append(b, ",dl_vlan_pcp="...)
			b = strconv.AppendUint(b, v>>13, 10)
		}
		return b
	}
	b = append(b, "vlan_tci=0x"...)
	b = appendHexPadded(b, v, 4)
	if m != 0xffff {
		b = append(b, "/0x"...)
		b = appendHexPadded(b, m, 4)
	}
	return b
}

func matchName(f Field, p Proto) string {
	switch {
	case f == FieldICMPType && p.EthType == EthTypeIPv6:
		return "icmpv6_type"
	case f == FieldICMPCode && p.EthType == EthTypeIPv6:
		return "icmpv6_code"
	}
	if f >= numFields {
		return f.String()
	}
	return fieldInfos[f].name
}

// setName is f's name in set_field, given the flow's protocols.
func setName(f Field, p Proto) string {
	switch f {
	case FieldICMPType, FieldICMPCode:
		return matchName(f, p)
	case FieldTpSrc, FieldTpDst:
		pre := "tcp"
		switch p.IPProto {
		case ProtoUDP:
			pre = "udp"
		case ProtoSCTP:
			pre = "sctp"
		}
		if f == FieldTpSrc {
			return pre + "_src"
		}
		return pre + "_dst"
	}
	if f >= numFields {
		return f.String()
	}
	return fieldInfos[f].setName
}

// nxmName is f's name in a subfield, given the flow's protocols.
func nxmName(f Field, p Proto) string {
	v6 := p.EthType == EthTypeIPv6
	switch f {
	case FieldICMPType:
		if v6 {
			return "NXM_NX_ICMPV6_TYPE"
		}
	case FieldICMPCode:
		if v6 {
			return "NXM_NX_ICMPV6_CODE"
		}
	case FieldTpSrc, FieldTpDst:
		sfx := "_SRC"
		if f == FieldTpDst {
			sfx = "_DST"
		}
		switch p.IPProto {
		case ProtoUDP:
			return "NXM_OF_UDP" + sfx
		case ProtoSCTP:
			return "OXM_OF_SCTP" + sfx
		}
	}
	if f >= numFields {
		return f.String()
	}
	return fieldInfos[f].nxm
}

// appendValue writes a value of f, with its mask unless it is all ones.
func appendValue(b []byte, f Field, v, m Value, inMatch bool) []byte {
	fi := fieldInfo{format: fmtHex, bits: 128}
	if f < numFields {
		fi = fieldInfos[f]
	}
	full := Ones(int(fi.bits))
	masked := m != full
	switch fi.format {
	case fmtMAC:
		b = appendMAC(b, v.Lo)
		if masked {
			b = append(b, '/')
			b = appendMAC(b, m.Lo)
		}
	case fmtIPv4, fmtIPv6:
		b = appendIP(b, v, fi.format == fmtIPv6)
		if masked {
			b = append(b, '/')
			if ofs, n, ok := m.onesRun(); ok && ofs+n == int(fi.bits) {
				b = strconv.AppendUint(b, uint64(n), 10)
			} else {
				b = appendIP(b, m, fi.format == fmtIPv6)
			}
		}
	case fmtHex4:
		b = append(b, "0x"...)
		b = appendHexPadded(b, v.Lo, 4)
		if masked {
			b = append(b, "/0x"...)
			b = appendHexPadded(b, m.Lo, 4)
		}
	case fmtPort:
		if v.Lo == PortLocal {
			b = append(b, "LOCAL"...)
		} else {
			b = strconv.AppendUint(b, v.Lo, 10)
		}
	case fmtDec:
		if masked && inMatch {
			b = append(b, "0x"...)
			b = appendHexPadded(b, v.Lo, 4)
			b = append(b, "/0x"...)
			return appendHexPadded(b, m.Lo, 4)
		}
		b = strconv.AppendUint(b, v.Lo, 10)
		if masked {
			b = append(b, "/0x"...)
			b = appendHex(b, m)
		}
	default:
		b = append(b, "0x"...)
		b = appendHex(b, v)
		if masked {
			b = append(b, "/0x"...)
			b = appendHex(b, m)
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendHex writes v in hexadecimal, without 0x.
func appendHex(b []byte, v Value) []byte {
	if v.Hi == 0 {
		return strconv.AppendUint(b, v.Lo, 16)
	}
	b = strconv.AppendUint(b, v.Hi, 16)
	return appendHexPadded(b, v.Lo, 16)
}

// appendHexPadded writes v in hexadecimal with at least n digits.
func appendHexPadded(b []byte, v uint64, n int) []byte {
	var buf [16]byte
	i := 16
	for v != 0 || i > 16-n {
		i--
		buf[i] = hexDigits[v&0xf]
		v >>= 4
		if i == 0 {
			break
		}
	}
	return append(b, buf[i:]...)
}

func appendMAC(b []byte, v uint64) []byte {
	for i := 5; i >= 0; i-- {
		x := byte(v >> (8 * i))
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
		if i > 0 {
			b = append(b, ':')
		}
	}
	return b
}

func appendIP(b []byte, v Value, six bool) []byte {
	if !six {
		x := uint32(v.Lo)
		for i := 3; i >= 0; i-- {
			b = strconv.AppendUint(b, uint64(byte(x>>(8*i))), 10)
			if i > 0 {
				b = append(b, '.')
			}
		}
		return b
	}
	var a [16]byte
	binary.BigEndian.PutUint64(a[:8], v.Hi)
	binary.BigEndian.PutUint64(a[8:], v.Lo)
	return netip.AddrFrom16(a).AppendTo(b)
}

// AppendActions appends f's actions ("drop" when there are none).
func (f *Flow) AppendActions(b []byte) []byte {
	if len(f.Actions) == 0 {
		return append(b, "drop"...)
	}
	p := f.Match.Proto()
	b, _ = appendActions(b, f.Actions, p)
	return b
}

// appendActions writes acts, a clone's contents included; it returns
// how many actions it wrote.
func appendActions(b []byte, acts Actions, p Proto) ([]byte, int) {
	i := 0
	for i < len(acts) {
		if i > 0 {
			b = append(b, ',')
		}
		a := &acts[i]
		i++
		if a.Op == OpClone {
			n := min(int(a.Port), len(acts)-i)
			b = append(b, "clone("...)
			b, _ = appendActions(b, acts[i:i+n], p)
			b = append(b, ')')
			i += n
			continue
		}
		b = appendAction(b, a, p)
	}
	return b, i
}

// ActionStrings renders each of f's actions (a clone with its contents).
func (f *Flow) ActionStrings() []string {
	if len(f.Actions) == 0 {
		return []string{"drop"}
	}
	p := f.Match.Proto()
	var out []string
	for i := 0; i < len(f.Actions); {
		n := 1
		if a := &f.Actions[i]; a.Op == OpClone {
			n += min(int(a.Port), len(f.Actions)-i-1)
		}
		b, _ := appendActions(nil, f.Actions[i:i+n], p)
		out = append(out, string(b))
		i += n
	}
	return out
}

// actionText renders one action (not a clone's contents), given the
// flow's protocols.
func actionText(a *Action, p Proto) string { return string(appendAction(nil, a, p)) }

// Text renders one action (a clone as "clone(...)"), as it appears in a
// flow whose match pins p (Match.Proto): the names of some fields depend
// on it (icmpv6_type, udp_dst).
func (a *Action) Text(p Proto) string { return actionText(a, p) }

func appendSubfield(b []byte, f Field, ofs, n int, p Proto) []byte {
	b = append(b, nxmName(f, p)...)
	b = append(b, '[')
	switch {
	case ofs == 0 && n == f.Bits():
	case n == 1:
		b = strconv.AppendUint(b, uint64(ofs), 10)
	default:
		b = strconv.AppendUint(b, uint64(ofs), 10)
		b = append(b, ".."...)
		b = strconv.AppendUint(b, uint64(ofs+n-1), 10)
	}
	return append(b, ']')
}

func appendAction(b []byte, a *Action, p Proto) []byte {
	switch a.Op {
	case OpOutput:
		switch a.Port {
		case PortInPort:
			return append(b, "in_port"...)
		case PortLocal:
			return append(b, "LOCAL"...)
		}
		b = append(b, "output:"...)
		return strconv.AppendUint(b, uint64(a.Port), 10)
	case OpOutputField:
		b = append(b, "output:"...)
		return appendSubfield(b, a.Field, int(a.Ofs), int(a.Bits), p)
	case OpLoad:
		b = append(b, "load:"...)
		if a.Bits == 1 {
			b = strconv.AppendUint(b, a.Value.Lo, 10)
		} else {
			b = append(b, "0x"...)
			b = appendHex(b, a.Value)
		}
		b = append(b, "->"...)
		return appendSubfield(b, a.Field, int(a.Ofs), int(a.Bits), p)
	case OpSetField:
		b = append(b, "set_field:"...)
		b = appendValue(b, a.Field, a.Value, Ones(a.Field.Bits()), false)
		b = append(b, "->"...)
		return append(b, setName(a.Field, p)...)
	case OpMove:
		b = append(b, "move:"...)
		b = appendSubfield(b, a.Src, int(a.SrcOfs), int(a.Bits), p)
		b = append(b, "->"...)
		return appendSubfield(b, a.Field, int(a.Ofs), int(a.Bits), p)
	case OpPushVLAN:
		b = append(b, "push_vlan:0x"...)
		return appendHexPadded(b, uint64(a.Port), 4)
	case OpPopVLAN:
		return append(b, "pop_vlan"...)
	case OpResubmit:
		port := func(b []byte) []byte {
			switch a.Port {
			case 0:
				return b
			case PortLocal:
				return append(b, "LOCAL"...)
			}
			return strconv.AppendUint(b, uint64(a.Port), 10)
		}
		if a.Table == TableCurrent {
			b = append(b, "resubmit:"...)
			return port(b)
		}
		b = append(b, "resubmit("...)
		b = port(b)
		b = append(b, ',')
		b = strconv.AppendUint(b, uint64(a.Table), 10)
		return append(b, ')')
	case OpClone:
		return append(b, "clone(...)"...)
	case OpNote:
		b = append(b, "note:"...)
		var buf [16]byte
		binary.BigEndian.PutUint64(buf[:8], a.Value.Hi)
		binary.BigEndian.PutUint64(buf[8:], a.Value.Lo)
		for i := 0; i < int(a.Bits) && i < 16; i++ {
			if i > 0 {
				b = append(b, '.')
			}
			b = append(b, hexDigits[buf[i]>>4], hexDigits[buf[i]&0xf])
		}
		return b
	case OpWriteMetadata:
		b = append(b, "write_metadata:0x"...)
		b = strconv.AppendUint(b, a.Value.Lo, 16)
		if a.Value.Hi != ^uint64(0) {
			b = append(b, "/0x"...)
			b = strconv.AppendUint(b, a.Value.Hi, 16)
		}
		return b
	case OpGotoTable:
		b = append(b, "goto_table:"...)
		return strconv.AppendUint(b, uint64(a.Table), 10)
	}
	b = append(b, "unknown_action_"...)
	return strconv.AppendUint(b, uint64(a.Op), 10)
}
