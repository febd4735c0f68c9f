package flows

import "fmt"

// Validate checks f the way OVS does when the flow is added to an
// OpenFlow 1.3 bridge, and returns the first problem: a match on a field
// whose prerequisites the match does not pin (OVS would drop the field and
// match more than intended); set_field, load and move on fields the match
// does not guarantee, or that cannot be written; pop_vlan and writes to
// vlan_vid without a tag the match or an earlier push_vlan guarantees; a
// vlan_vid written without the present bit 0x1000; goto_table not to a
// later table; instructions out of order (actions, write_metadata,
// goto_table, each at most once) or inside a clone; output to port 0 or a
// reserved port other than LOCAL and IN_PORT.
//
// The parser already refuses some of these by the names a text used; the
// compiler's flows are checked here.
func (f *Flow) Validate() error {
	p := f.Match.Proto()
	for _, e := range f.Match {
		if !e.Field.InMatch() {
			return fmt.Errorf("match on %s: not a field of a match", e.Field)
		}
		if pr := e.Field.MatchPrereq(); !pr.OK(p) {
			return fmt.Errorf("match on %s needs %s in the same match (OVS would ignore the field and match more than intended)", matchName(e.Field, p), pr)
		}
		if e.Mask != Ones(e.Field.Bits()) && !e.Field.Maskable() {
			return fmt.Errorf("match on %s: the field cannot be masked", matchName(e.Field, p))
		}
	}
	v := validator{f: f, proto: p}
	if e, ok := f.Match.Get(FieldVLANTCI); ok && e.Mask.Lo&0x1000 != 0 && e.Value.Lo&0x1000 != 0 {
		v.tagged = true
	}
	_, err := v.actions(f.Actions, false)
	return err
}

type validator struct {
	f      *Flow
	proto  Proto
	tagged bool
}

// actions checks acts (a clone's if nested) and returns how many it read.
func (v *validator) actions(acts Actions, nested bool) (int, error) {
	const (
		stApply = iota
		stWriteMetadata
		stGoto
	)
	stage := stApply
	i := 0
	for i < len(acts) {
		a := &acts[i]
		i++
		as := actionText(a, v.proto)
		inst := stApply
		switch a.Op {
		case OpOutput:
			if a.Port == 0 || (a.Port >= 0xff00 && a.Port != PortLocal && a.Port != PortInPort) {
				return i, fmt.Errorf("%s: %d is not an OpenFlow port (1..65279, LOCAL, in_port)", as, a.Port)
			}
		case OpOutputField:
			if err := v.subfield(a.Field, a.Ofs, a.Bits, as); err != nil {
				return i, err
			}
		case OpLoad, OpSetField:
			if err := v.write(a, as); err != nil {
				return i, err
			}
		case OpMove:
			if err := v.subfield(a.Src, a.SrcOfs, a.Bits, as); err != nil {
				return i, err
			}
			if !a.Src.Prereq().OK(v.proto) && !a.Src.MatchPrereq().OK(v.proto) {
				return i, fmt.Errorf("%s: reading %s needs %s in the flow's match (OVS refuses the flow: OFPBAC_MATCH_INCONSISTENT)", as, setName(a.Src, v.proto), a.Src.Prereq())
			}
			if err := v.write(a, as); err != nil {
				return i, err
			}
		case OpPushVLAN:
			if a.Port != 0x8100 && a.Port != 0x88a8 {
				return i, fmt.Errorf("%s: %#x is not a VLAN ethertype (0x8100 or 0x88a8)", as, a.Port)
			}
			v.tagged = true
		case OpPopVLAN:
			if !v.tagged {
				return i, fmt.Errorf("%s: the match does not guarantee a VLAN tag (OVS accepts this only for OpenFlow 1.0; Loom's bridges speak OpenFlow13: match dl_vlan or vlan_tci=0x1000/0x1000)", as)
			}
			v.tagged = false
		case OpResubmit, OpNote:
		case OpClone:
			tagged := v.tagged
			n, err := v.actions(acts[i:min(i+int(a.Port), len(acts))], true)
			if err != nil {
				return i, err
			}
			i += n
			v.tagged = tagged // the clone's VLAN changes do not outlive it
		case OpWriteMetadata:
			inst = stWriteMetadata
		case OpGotoTable:
			inst = stGoto
			if a.Table <= v.f.Table || a.Table > 254 {
				return i, fmt.Errorf("%s: goto_table must go to a later table than this flow's table %d (OVS: OFPBIC_BAD_TABLE_ID); use resubmit to go back", as, v.f.Table)
			}
		default:
			return i, fmt.Errorf("%s: unknown action", as)
		}
		if nested && inst != stApply {
			return i, fmt.Errorf("%s: instructions (goto_table, write_metadata) are not allowed inside clone()", as)
		}
		if inst < stage || (inst == stage && inst != stApply) {
			return i, fmt.Errorf("%s: instructions go in the order actions, write_metadata, goto_table, each at most once", as)
		}
		stage = inst
	}
	return i, nil
}

func (v *validator) subfield(f Field, ofs, n uint8, as string) error {
	if f == FieldNone || f >= numFields || n == 0 || int(ofs)+int(n) > f.Bits() {
		return fmt.Errorf("%s: bits %d..%d are outside %s, which has %d bits", as, ofs, int(ofs)+int(n)-1, f, f.Bits())
	}
	return nil
}

// write checks a write of a.Field by a load, set_field or move.
func (v *validator) write(a *Action, as string) error {
	f := a.Field
	switch a.Op {
	case OpSetField:
		if f == FieldNone || f >= numFields || a.Value.AndNot(Ones(f.Bits())) != (Value{}) {
			return fmt.Errorf("%s: the value does not fit in %s", as, f)
		}
	case OpLoad:
		if err := v.subfield(f, a.Ofs, a.Bits, as); err != nil {
			return err
		}
		if a.Bits > 64 || a.Value.BitLen() > int(a.Bits) {
			return fmt.Errorf("%s: the value does not fit into %d bits", as, a.Bits)
		}
	case OpMove:
		if err := v.subfield(f, a.Ofs, a.Bits, as); err != nil {
			return err
		}
	}
	name := setName(f, v.proto)
	if !f.Writable() {
		return fmt.Errorf("%s: %s is read-only", as, name)
	}
	if pr := f.Prereq(); !pr.OK(v.proto) {
		return fmt.Errorf("%s: writing %s needs %s in the flow's match (OVS refuses the flow: OFPBAC_MATCH_INCONSISTENT)", as, name, pr)
	}
	switch f {
	case FieldVLANVID:
		if !v.tagged {
			return fmt.Errorf("%s: writing vlan_vid needs a VLAN tag, and the match does not guarantee a VLAN tag nor does a push_vlan come first (OVS: OFPBAC_MATCH_INCONSISTENT)", as)
		}
		// OpenFlow 1.2+: the OFPVID_PRESENT bit must be written as 1.
		switch {
		case a.Op == OpSetField && a.Value.Lo&0x1000 == 0,
			a.Op == OpLoad && int(a.Ofs) <= 12 && int(a.Ofs+a.Bits) > 12 && a.Value.Lo>>(12-a.Ofs)&1 == 0:
			return fmt.Errorf("%s: a write to vlan_vid must set the present bit 0x1000 (VID 200 is 4296); OVS refuses it otherwise (OFPBAC_BAD_SET_ARGUMENT)", as)
		}
	case FieldVLANTCI:
		covers := int(a.Ofs) <= 12 && int(a.Ofs+a.Bits) > 12
		switch {
		case a.Op == OpSetField:
			v.tagged = a.Value.Lo&0x1000 != 0
		case a.Op == OpLoad && covers:
			v.tagged = a.Value.Lo>>(12-a.Ofs)&1 != 0
		case a.Op == OpMove && covers:
			v.tagged = false // unknown: be conservative for later checks
		}
	}
	return nil
}
