package ofctl

import (
	"encoding/binary"
	"fmt"

	"github.com/loom-sdn/loom/flows"
)

// Loom's flows as OpenFlow 1.3 messages, for the bundles that Wire sends
// on a connection of its own (wire.go). Matches are NXM/OXM entries in
// the order of flows.Match (prerequisites first, as OVS checks them
// entry by entry); actions are OpenFlow 1.3's and Nicira's extensions,
// each encoded as ovs-ofctl encodes the same flow's text for OpenFlow
// 1.3, so that the switch holds the same flows either way (the parity
// test in wire_test.go checks it on a real switch). What this file does
// not know how to encode (a field or action Loom's compiler does not
// emit, an importance, which OpenFlow 1.3 lacks) is
// errUnencodable: the bundle then goes through ovs-ofctl.

// errUnencodable is a flow this encoder does not write.
type errUnencodable struct{ what string }

func (e *errUnencodable) Error() string {
	return "not encodable for the own OpenFlow sender: " + e.what
}

// OpenFlow 1.3 and Nicira extension numbers.
const (
	ofp13Version     = 4
	ofptHelloT       = 0
	ofptErrorT       = 1
	ofptEchoReqT     = 2
	ofptEchoReplyT   = 3
	ofptExperimentT  = 4
	ofptFlowModT     = 14
	ofptBarrierReqT  = 20
	ofptBarrierRepT  = 21
	onfExperimenterT = 0x4F4E4600 // ONF: the bundle extension of OpenFlow 1.3 (EXT-230)
	onftBundleCtrlT  = 2300
	onftBundleAddT   = 2301
	nxVendor         = 0x00002320

	classNXM0 = 0x0000 // NXM_OF_*
	classNXM1 = 0x0001 // NXM_NX_*
	classOXM  = 0x8000 // OXM_OF_*
	classPkt  = 0x8001 // OXM_OF_PKT_REG*
	classEric = 0x1000 // ERICOXM_OF_* (nd_reserved, nd_options_type)

	ofppAny = 0xffffffff
	ofpgAny = 0xffffffff
)

// oxmOf is the NXM/OXM header of f (without mask), as the flow of proto
// p names it, and its width in bytes.
func oxmOf(f flows.Field, p flows.Proto) (uint32, int, error) {
	h := func(class uint16, field uint8, n int) (uint32, int, error) {
		return uint32(class)<<16 | uint32(field)<<9 | uint32(n), n, nil
	}
	switch {
	case f >= flows.FieldReg0 && f <= flows.FieldReg5:
		return h(classNXM1, uint8(f-flows.FieldReg0), 4)
	case f >= flows.FieldReg6 && f <= flows.FieldReg15:
		return h(classNXM1, 6+uint8(f-flows.FieldReg6), 4)
	case f >= flows.FieldXReg0 && f <= flows.FieldXReg7:
		return h(classPkt, uint8(f-flows.FieldXReg0), 8)
	}
	v6 := p.EthType == flows.EthTypeIPv6
	switch f {
	case flows.FieldInPort:
		return h(classNXM0, 0, 2)
	case flows.FieldTunID:
		return h(classNXM1, 16, 8)
	case flows.FieldTunSrc:
		return h(classNXM1, 31, 4)
	case flows.FieldTunDst:
		return h(classNXM1, 32, 4)
	case flows.FieldVLANTCI:
		return h(classNXM0, 4, 2)
	case flows.FieldMetadata:
		return h(classOXM, 2, 8)
	case flows.FieldVLANVID:
		return h(classOXM, 6, 2)
	case flows.FieldEthDst:
		return h(classNXM0, 1, 6)
	case flows.FieldEthSrc:
		return h(classNXM0, 2, 6)
	case flows.FieldEthType:
		return h(classNXM0, 3, 2)
	case flows.FieldIPProto:
		return h(classNXM0, 6, 1)
	case flows.FieldIPSrc:
		return h(classNXM0, 7, 4)
	case flows.FieldIPDst:
		return h(classNXM0, 8, 4)
	case flows.FieldARPOp:
		return h(classNXM0, 15, 2)
	case flows.FieldARPSPA:
		return h(classNXM0, 16, 4)
	case flows.FieldARPTPA:
		return h(classNXM0, 17, 4)
	case flows.FieldARPSHA:
		return h(classNXM1, 17, 6)
	case flows.FieldARPTHA:
		return h(classNXM1, 18, 6)
	case flows.FieldIPv6Src:
		return h(classNXM1, 19, 16)
	case flows.FieldIPv6Dst:
		return h(classNXM1, 20, 16)
	case flows.FieldNDTarget:
		return h(classNXM1, 23, 16)
	case flows.FieldNDSLL:
		return h(classNXM1, 24, 6)
	case flows.FieldNDTLL:
		return h(classNXM1, 25, 6)
	case flows.FieldNDReserved:
		return h(classEric, 1, 4)
	case flows.FieldNDOptionsType:
		return h(classEric, 2, 1)
	case flows.FieldICMPType:
		if v6 {
			return h(classNXM1, 21, 1)
		}
		return h(classNXM0, 13, 1)
	case flows.FieldICMPCode:
		if v6 {
			return h(classNXM1, 22, 1)
		}
		return h(classNXM0, 14, 1)
	case flows.FieldTpSrc, flows.FieldTpDst:
		dst := uint8(0)
		if f == flows.FieldTpDst {
			dst = 1
		}
		switch p.IPProto {
		case flows.ProtoTCP:
			return h(classNXM0, 9+dst, 2)
		case flows.ProtoUDP:
			return h(classNXM0, 11+dst, 2)
		case flows.ProtoSCTP:
			return h(classOXM, 17+dst, 2)
		}
	}
	return 0, 0, &errUnencodable{"field " + f.String()}
}

// appendValue appends the n low bytes of v, big-endian.
func appendValue(b []byte, v flows.Value, n int) []byte {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], v.Hi)
	binary.BigEndian.PutUint64(buf[8:], v.Lo)
	return append(b, buf[16-n:]...)
}

// appendMatch appends m's entries (NXM/OXM TLVs).
func appendMatch(b []byte, m flows.Match, p flows.Proto) ([]byte, error) {
	for _, mf := range m {
		h, n, err := oxmOf(mf.Field, p)
		if err != nil {
			return b, err
		}
		full := flows.Ones(mf.Field.Bits())
		if mf.Mask == full {
			b = binary.BigEndian.AppendUint32(b, h)
			b = appendValue(b, mf.Value, n)
			continue
		}
		if !mf.Field.Maskable() {
			return b, &errUnencodable{"mask on " + mf.Field.String()}
		}
		b = binary.BigEndian.AppendUint32(b, h&^0xff|1<<8|uint32(2*n))
		b = appendValue(b, mf.Value, n)
		b = appendValue(b, mf.Mask, n)
	}
	return b, nil
}

func pad8(b []byte, from int) []byte {
	for (len(b)-from)%8 != 0 {
		b = append(b, 0)
	}
	return b
}

// nxAction starts a Nicira action of subtype; its length is set by
// endAction.
func nxAction(b []byte, subtype uint16) ([]byte, int) {
	at := len(b)
	b = append(b, 0xff, 0xff, 0, 0)
	b = binary.BigEndian.AppendUint32(b, nxVendor)
	b = binary.BigEndian.AppendUint16(b, subtype)
	return b, at
}

// endAction pads the action that starts at at to 8 bytes and sets its
// length.
func endAction(b []byte, at int) []byte {
	b = pad8(b, at)
	binary.BigEndian.PutUint16(b[at+2:], uint16(len(b)-at))
	return b
}

func ofsNbits(ofs, n uint8) uint16 { return uint16(ofs)<<6 | uint16(n-1) }

// appendActions appends as (OpenFlow actions, not instructions); it
// returns how many entries of as it used (a clone's nested ones count).
func appendActions(b []byte, as flows.Actions, p flows.Proto) ([]byte, error) {
	for i := 0; i < len(as); i++ {
		a := &as[i]
		switch a.Op {
		case flows.OpOutput:
			port := a.Port
			switch port {
			case flows.PortInPort:
				port = 0xfffffff8
			case flows.PortLocal:
				port = 0xfffffffe
			default:
				if port >= 0xff00 {
					return b, &errUnencodable{fmt.Sprintf("output to reserved port %#x", port)}
				}
			}
			b = binary.BigEndian.AppendUint16(b, 0) // OFPAT_OUTPUT
			b = binary.BigEndian.AppendUint16(b, 16)
			b = binary.BigEndian.AppendUint32(b, port)
			b = binary.BigEndian.AppendUint16(b, 0) // max_len, as ovs-ofctl for a port
			b = append(b, 0, 0, 0, 0, 0, 0)
		case flows.OpOutputField:
			h, _, err := oxmOf(a.Field, p)
			if err != nil {
				return b, err
			}
			var at int
			b, at = nxAction(b, 15) // NXAST_OUTPUT_REG
			b = binary.BigEndian.AppendUint16(b, ofsNbits(a.Ofs, a.Bits))
			b = binary.BigEndian.AppendUint32(b, h)
			b = binary.BigEndian.AppendUint16(b, 0) // max_len
			b = endAction(b, at)
		case flows.OpLoad:
			h, _, err := oxmOf(a.Field, p)
			if err != nil {
				return b, err
			}
			if a.Bits == 0 || a.Bits > 64 {
				return b, &errUnencodable{"load of more than 64 bits"}
			}
			var at int
			b, at = nxAction(b, 7) // NXAST_REG_LOAD
			b = binary.BigEndian.AppendUint16(b, ofsNbits(a.Ofs, a.Bits))
			b = binary.BigEndian.AppendUint32(b, h)
			b = binary.BigEndian.AppendUint64(b, a.Value.Lo)
			b = endAction(b, at)
		case flows.OpSetField:
			h, n, err := oxmOf(a.Field, p)
			if err != nil {
				return b, err
			}
			at := len(b)
			b = binary.BigEndian.AppendUint16(b, 25) // OFPAT_SET_FIELD
			b = binary.BigEndian.AppendUint16(b, 0)
			b = binary.BigEndian.AppendUint32(b, h)
			b = appendValue(b, a.Value, n)
			b = endAction(b, at)
		case flows.OpMove:
			hs, _, err := oxmOf(a.Src, p)
			if err != nil {
				return b, err
			}
			hd, _, err := oxmOf(a.Field, p)
			if err != nil {
				return b, err
			}
			var at int
			b, at = nxAction(b, 6) // NXAST_REG_MOVE
			b = binary.BigEndian.AppendUint16(b, uint16(a.Bits))
			b = binary.BigEndian.AppendUint16(b, uint16(a.SrcOfs))
			b = binary.BigEndian.AppendUint16(b, uint16(a.Ofs))
			b = binary.BigEndian.AppendUint32(b, hs)
			b = binary.BigEndian.AppendUint32(b, hd)
			b = endAction(b, at)
		case flows.OpPushVLAN:
			b = binary.BigEndian.AppendUint16(b, 17) // OFPAT_PUSH_VLAN
			b = binary.BigEndian.AppendUint16(b, 8)
			b = binary.BigEndian.AppendUint16(b, uint16(a.Port))
			b = append(b, 0, 0)
		case flows.OpPopVLAN:
			b = binary.BigEndian.AppendUint16(b, 18) // OFPAT_POP_VLAN
			b = binary.BigEndian.AppendUint16(b, 8)
			b = append(b, 0, 0, 0, 0)
		case flows.OpResubmit:
			port := uint16(a.Port)
			if a.Port == 0 {
				port = 0xfff8 // OFPP_IN_PORT (OpenFlow 1.0 numbering)
			} else if a.Port > 0xff00 && a.Port != flows.PortLocal {
				return b, &errUnencodable{fmt.Sprintf("resubmit from port %#x", a.Port)}
			}
			var at int
			if a.Table == flows.TableCurrent {
				b, at = nxAction(b, 1) // NXAST_RESUBMIT
				b = binary.BigEndian.AppendUint16(b, port)
			} else {
				b, at = nxAction(b, 14) // NXAST_RESUBMIT_TABLE
				b = binary.BigEndian.AppendUint16(b, port)
				b = append(b, a.Table)
			}
			b = endAction(b, at)
		case flows.OpClone:
			n := int(a.Port)
			if i+1+n > len(as) {
				return b, &errUnencodable{"clone longer than its flow's actions"}
			}
			var at int
			b, at = nxAction(b, 42) // NXAST_CLONE
			b = append(b, 0, 0, 0, 0, 0, 0)
			var err error
			if b, err = appendActions(b, as[i+1:i+1+n], p); err != nil {
				return b, err
			}
			b = endAction(b, at)
			i += n
		case flows.OpNote:
			if a.Bits > 16 {
				return b, &errUnencodable{"note of more than 16 bytes"}
			}
			var at int
			b, at = nxAction(b, 8) // NXAST_NOTE
			var buf [16]byte
			binary.BigEndian.PutUint64(buf[:8], a.Value.Hi)
			binary.BigEndian.PutUint64(buf[8:], a.Value.Lo)
			b = append(b, buf[:a.Bits]...)
			b = endAction(b, at)
		default:
			return b, &errUnencodable{fmt.Sprintf("action %d inside a clone or out of place", a.Op)}
		}
	}
	return b, nil
}

// appendInstructions appends f's actions as OpenFlow 1.3 instructions:
// apply-actions, write-metadata, goto-table, in that order (OpenFlow's).
func appendInstructions(b []byte, as flows.Actions, p flows.Proto) ([]byte, error) {
	var apply flows.Actions
	var meta, goTo *flows.Action
	for i := range as {
		switch as[i].Op {
		case flows.OpWriteMetadata:
			if meta != nil || goTo != nil {
				return b, &errUnencodable{"write_metadata twice or after goto_table"}
			}
			meta = &as[i]
		case flows.OpGotoTable:
			if goTo != nil {
				return b, &errUnencodable{"goto_table twice"}
			}
			goTo = &as[i]
		default:
			if meta != nil || goTo != nil {
				return b, &errUnencodable{"an action after write_metadata or goto_table"}
			}
			apply = as[:i+1]
		}
	}
	if len(apply) > 0 {
		at := len(b)
		b = binary.BigEndian.AppendUint16(b, 4) // OFPIT_APPLY_ACTIONS
		b = append(b, 0, 0, 0, 0, 0, 0)
		var err error
		if b, err = appendActions(b, apply, p); err != nil {
			return b, err
		}
		binary.BigEndian.PutUint16(b[at+2:], uint16(len(b)-at))
	}
	if meta != nil {
		b = binary.BigEndian.AppendUint16(b, 2) // OFPIT_WRITE_METADATA
		b = binary.BigEndian.AppendUint16(b, 24)
		b = append(b, 0, 0, 0, 0)
		b = binary.BigEndian.AppendUint64(b, meta.Value.Lo)
		b = binary.BigEndian.AppendUint64(b, meta.Value.Hi)
	}
	if goTo != nil {
		b = binary.BigEndian.AppendUint16(b, 1) // OFPIT_GOTO_TABLE
		b = binary.BigEndian.AppendUint16(b, 8)
		b = append(b, goTo.Table, 0, 0, 0)
	}
	return b, nil
}

// appendOFHeader appends an OpenFlow 1.3 header of length 0 (set by the
// caller) and xid.
func appendOFHeader(b []byte, typ uint8, xid uint32) []byte {
	b = append(b, ofp13Version, typ, 0, 0)
	return binary.BigEndian.AppendUint32(b, xid)
}

func setLength(b []byte, at int) { binary.BigEndian.PutUint16(b[at+2:], uint16(len(b)-at)) }

// appendFlowAdd appends f as an OFPFC_ADD flow mod with xid.
func appendFlowAdd(b []byte, f *flows.Flow, xid uint32) ([]byte, error) {
	if f.Importance != 0 {
		return b, &errUnencodable{"importance (OpenFlow 1.4)"}
	}
	at := len(b)
	b = appendOFHeader(b, ofptFlowModT, xid)
	b = binary.BigEndian.AppendUint64(b, f.Cookie)
	b = binary.BigEndian.AppendUint64(b, 0) // cookie mask
	b = append(b, f.Table, 0)               // OFPFC_ADD
	b = binary.BigEndian.AppendUint16(b, f.IdleTimeout)
	b = binary.BigEndian.AppendUint16(b, f.HardTimeout)
	b = binary.BigEndian.AppendUint16(b, f.Priority)
	b = binary.BigEndian.AppendUint32(b, ofppAny) // buffer id: none
	b = binary.BigEndian.AppendUint32(b, ofppAny)
	b = binary.BigEndian.AppendUint32(b, ofpgAny)
	b = append(b, 0, 0, 0, 0) // flags, pad
	m := len(b)
	b = append(b, 0, 1, 0, 0) // OFPMT_OXM, length
	p := f.Match.Proto()
	var err error
	if b, err = appendMatch(b, f.Match, p); err != nil {
		return b, err
	}
	binary.BigEndian.PutUint16(b[m+2:], uint16(len(b)-m))
	b = pad8(b, m)
	if b, err = appendInstructions(b, f.Actions, p); err != nil {
		return b, err
	}
	if len(b)-at > 0xffff {
		return b, &errUnencodable{"flow mod longer than 64 KiB"}
	}
	setLength(b, at)
	return b, nil
}

// appendFlowDelete appends an OFPFC_DELETE of the flows of cookie in
// table (a flow group) with xid.
func appendFlowDelete(b []byte, table uint8, cookie uint64, xid uint32) []byte {
	at := len(b)
	b = appendOFHeader(b, ofptFlowModT, xid)
	b = binary.BigEndian.AppendUint64(b, cookie)
	b = binary.BigEndian.AppendUint64(b, ^uint64(0))
	b = append(b, table, 3) // OFPFC_DELETE
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, ofppAny)
	b = binary.BigEndian.AppendUint32(b, ofppAny)
	b = binary.BigEndian.AppendUint32(b, ofpgAny)
	b = append(b, 0, 0, 0, 0)
	b = append(b, 0, 1, 0, 4, 0, 0, 0, 0) // an empty OXM match
	setLength(b, at)
	return b
}
