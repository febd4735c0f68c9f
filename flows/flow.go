package flows

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// Flow is one OpenFlow flow: Loom's own type from the compiler to the
// switch and back. A flow compares as a value (Equal, Key): the same flow
// written by the compiler and printed by OVS (in its own spelling and
// order) parses to an equal Flow.
//
// A Flow's Match and Actions are never changed once the flow is built;
// flows may share them.
type Flow struct {
	Cookie   uint64
	Priority uint16
	Table    uint8
	// Timeouts in seconds (0: none) and importance, as OVS keeps them;
	// Loom's flows have none.
	IdleTimeout, HardTimeout, Importance uint16
	Match                                Match
	Actions                              Actions // empty: drop
	// Origin is the topology object and rule behind a compiled flow; zero
	// for flows read from a switch. It is not part of the flow's value.
	Origin Origin
}

// DefaultPriority is OpenFlow's priority of a flow written without one.
const DefaultPriority = 32768

// MatchField is one field of a match: the packet's field, masked, must
// equal Value.
type MatchField struct {
	Field       Field
	Value, Mask Value
}

// Match is a flow's match in canonical form: sorted by field, one entry
// per field, no entry with an empty mask, no value bit outside the mask.
// Protocol shorthands are their eth_type and nw_proto fields.
type Match []MatchField

// Op is the kind of an action.
type Op uint8

const (
	_ Op = iota
	// OpOutput: output to Port; OFPP_IN_PORT and OFPP_LOCAL as PortInPort
	// and PortLocal.
	OpOutput
	// OpOutputField: output to the port in the subfield Field[Ofs..+Bits].
	OpOutputField
	// OpLoad: Field[Ofs..+Bits] = Value (at most 64 bits; OVS's reg_load,
	// printed load:V->NXM_..[..]).
	OpLoad
	// OpSetField: the whole Field = Value (OpenFlow's set_field).
	OpSetField
	// OpMove: Field[Ofs..+Bits] = Src[SrcOfs..+Bits].
	OpMove
	// OpPushVLAN pushes a tag of EtherType Port (0x8100 or 0x88a8).
	OpPushVLAN
	// OpPopVLAN pops the outer tag.
	OpPopVLAN
	// OpResubmit looks the packet up in Table (TableCurrent: this table)
	// as if it came in on Port (0: its own in_port).
	OpResubmit
	// OpClone runs the next Port actions (nested ones included) on a copy
	// of the packet.
	OpClone
	// OpNote carries Bits bytes of Value (big-endian, the first byte in
	// the top bits of Hi), padded as OVS pads it.
	OpNote
	// OpWriteMetadata writes Value.Lo into metadata under the mask Value.Hi.
	OpWriteMetadata
	// OpGotoTable continues in Table.
	OpGotoTable
)

// Reserved OpenFlow ports.
const (
	PortInPort = 0xfff8
	PortLocal  = 0xfffe
	// TableCurrent is a resubmit's table when it names none.
	TableCurrent = 0xff
)

// Action is one action or instruction. Actions are values: two actions
// are equal when they do the same thing as OVS prints it.
type Action struct {
	Op     Op
	Field  Field // destination (OpLoad, OpSetField, OpMove) or source (OpOutputField)
	Ofs    uint8
	Bits   uint8
	Src    Field // OpMove
	SrcOfs uint8
	Table  uint8  // OpResubmit, OpGotoTable
	Port   uint32 // OpOutput, OpResubmit, OpPushVLAN's EtherType, OpClone's length
	Value  Value  // OpLoad, OpSetField, OpNote, OpWriteMetadata
}

// Actions are a flow's actions and instructions, in order; a clone's
// actions follow it (see OpClone).
type Actions []Action

// Action constructors, for the compiler and tests.

// Output sends the packet to port.
func Output(port uint32) Action { return Action{Op: OpOutput, Port: port} }

// OutputInPort sends the packet back out of the port it came in on.
func OutputInPort() Action { return Action{Op: OpOutput, Port: PortInPort} }

// Load writes v into bits [ofs, ofs+n) of f (n <= 64).
func Load(f Field, ofs, n int, v uint64) Action {
	return Action{Op: OpLoad, Field: f, Ofs: uint8(ofs), Bits: uint8(n), Value: U64(v)}
}

// LoadAll writes v into the whole of f (at most 64 bits wide).
func LoadAll(f Field, v uint64) Action { return Load(f, 0, f.Bits(), v) }

// SetField writes v into the whole of f.
func SetField(f Field, v Value) Action { return Action{Op: OpSetField, Field: f, Value: v} }

// SetFieldMAC writes a MAC address into f.
func SetFieldMAC(f Field, mac net.HardwareAddr) Action { return SetField(f, MACValue(mac)) }

// SetFieldIP writes an address into f.
func SetFieldIP(f Field, a netip.Addr) Action { return SetField(f, IPValue(a)) }

// MoveAll copies the whole of src into dst (of the same width).
func MoveAll(src, dst Field) Action {
	return Action{Op: OpMove, Src: src, Field: dst, Bits: uint8(min(src.Bits(), 255))}
}

// PushVLAN pushes an 802.1Q tag.
func PushVLAN(ethType uint16) Action { return Action{Op: OpPushVLAN, Port: uint32(ethType)} }

// PopVLAN pops the outer VLAN tag.
func PopVLAN() Action { return Action{Op: OpPopVLAN} }

// Resubmit looks the packet up in table as it is.
func Resubmit(table int) Action { return Action{Op: OpResubmit, Table: uint8(table)} }

// GotoTable continues in table; it comes last.
func GotoTable(table int) Action { return Action{Op: OpGotoTable, Table: uint8(table)} }

// Clone is OVS's clone(inner...): the actions work on a copy of the packet.
func Clone(inner ...Action) Actions {
	return append(Actions{{Op: OpClone, Port: uint32(len(inner))}}, inner...)
}

// Match constructors.

// Exact matches f == v.
func Exact(f Field, v uint64) MatchField {
	return MatchField{Field: f, Value: U64(v), Mask: Ones(f.Bits())}
}

// Masked matches f & mask == v & mask.
func Masked(f Field, v, mask uint64) MatchField {
	return MatchField{Field: f, Value: U64(v & mask), Mask: U64(mask)}
}

// MatchMAC matches f == mac.
func MatchMAC(f Field, mac net.HardwareAddr) MatchField {
	return MatchField{Field: f, Value: MACValue(mac), Mask: Ones(48)}
}

// MatchIP matches f == a.
func MatchIP(f Field, a netip.Addr) MatchField {
	return MatchField{Field: f, Value: IPValue(a), Mask: Ones(a.BitLen())}
}

// MatchPrefix matches f within p.
func MatchPrefix(f Field, p netip.Prefix) MatchField {
	n := p.Addr().BitLen()
	mask := Ones(n).AndNot(Ones(n - p.Bits()))
	return MatchField{Field: f, Value: IPValue(p.Addr()).And(mask), Mask: mask}
}

// MACValue is a MAC address as a value (0 if it is not 6 bytes).
func MACValue(mac net.HardwareAddr) Value {
	if len(mac) != 6 {
		return Value{}
	}
	return U64(uint64(mac[0])<<40 | uint64(mac[1])<<32 | uint64(mac[2])<<24 | uint64(mac[3])<<16 | uint64(mac[4])<<8 | uint64(mac[5]))
}

// IPValue is an address as a value: 32 bits for IPv4, 128 for IPv6.
func IPValue(a netip.Addr) Value {
	if a.Is4() {
		b := a.As4()
		return U64(uint64(binary.BigEndian.Uint32(b[:])))
	}
	b := a.As16()
	return Value{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

// NewMatch returns fs as a canonical match: sorted by field, masks within
// their field, values within their masks, entries with empty masks left
// out, two entries of one field merged (they must agree where both look).
// It reuses fs's array.
func NewMatch(fs []MatchField) (Match, error) {
	// Insertion sort: matches are short.
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].Field < fs[j-1].Field; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
	out := fs[:0]
	for _, e := range fs {
		if !e.Field.InMatch() {
			return nil, fmt.Errorf("%s cannot be matched", e.Field)
		}
		e.Mask = e.Mask.And(Ones(e.Field.Bits()))
		e.Value = e.Value.And(e.Mask)
		if e.Field == FieldVLANTCI && e.Mask.Lo&0x1000 != 0 && e.Value.Lo&0x1000 == 0 {
			// No tag: no priority either (OpenFlow 1.3 cannot say one,
			// and OVS drops it).
			e.Mask.Lo &= 0x1fff
		}
		if e.Mask.IsZero() {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Field == e.Field {
			prev := &out[n-1]
			both := prev.Mask.And(e.Mask)
			if prev.Value.And(both) != e.Value.And(both) {
				return nil, fmt.Errorf("a match on %s conflicts with an earlier match on the same field", e.Field)
			}
			prev.Value, prev.Mask = prev.Value.Or(e.Value), prev.Mask.Or(e.Mask)
			continue
		}
		out = append(out, e)
	}
	return Match(out), nil
}

// Get returns the entry of field f, if the match has one.
func (m Match) Get(f Field) (MatchField, bool) {
	for _, e := range m {
		if e.Field == f {
			return e, true
		}
		if e.Field > f {
			break
		}
	}
	return MatchField{}, false
}

// Proto is what the match pins of the packet's protocols (for
// prerequisites).
func (m Match) Proto() Proto {
	var p Proto
	for i := range m {
		e := &m[i]
		exact := e.Mask.Hi == 0 && e.Mask.Lo == 1<<e.Field.Bits()-1
		switch e.Field {
		case FieldEthType:
			if exact {
				p.EthType = uint16(e.Value.Lo)
			}
		case FieldIPProto:
			if exact {
				p.IPProto = uint8(e.Value.Lo)
			}
		case FieldICMPType:
			if exact {
				p.ICMPType = uint8(e.Value.Lo)
			}
		case FieldICMPCode:
			if exact {
				p.ICMPCode = uint8(e.Value.Lo)
			}
			return p // the last of them in a sorted match
		}
	}
	return p
}

// Compare orders matches: field by field, then value, then mask.
func (m Match) Compare(o Match) int {
	for i := 0; i < len(m) && i < len(o); i++ {
		a, b := &m[i], &o[i]
		if a.Field != b.Field {
			if a.Field < b.Field {
				return -1
			}
			return 1
		}
		if c := a.Value.Compare(b.Value); c != 0 {
			return c
		}
		if c := a.Mask.Compare(b.Mask); c != 0 {
			return c
		}
	}
	return len(m) - len(o)
}

// Equal tells whether two matches are the same.
func (m Match) Equal(o Match) bool { return slices.Equal(m, o) }

// Equal tells whether two actions lists are the same.
func (a Actions) Equal(b Actions) bool { return slices.Equal(a, b) }

// Compare orders flows by table, priority (high first), then match: the
// order of a host's flows, in which no two flows may be equal (the switch
// would keep only one of them).
func Compare(a, b *Flow) int {
	switch {
	case a.Table != b.Table:
		return int(a.Table) - int(b.Table)
	case a.Priority != b.Priority:
		return int(b.Priority) - int(a.Priority)
	}
	return a.Match.Compare(b.Match)
}

// SameIdentity tells whether a and b have the same table, priority and
// match: on a switch one replaces the other.
func SameIdentity(a, b *Flow) bool {
	return a.Table == b.Table && a.Priority == b.Priority && a.Match.Equal(b.Match)
}

// Equal tells whether a and b are the same flow: identity, cookie,
// timeouts and actions (not the origin). OVS's diff-flows compares flows
// the same way.
func (f *Flow) Equal(g *Flow) bool {
	return f.sameButPriority(g) && f.Priority == g.Priority
}

// EqualUpdate is Equal without the priority, which OVS leaves out of a
// flow monitor's updates.
func (f *Flow) EqualUpdate(g *Flow) bool { return f.sameButPriority(g) }

func (f *Flow) sameButPriority(g *Flow) bool {
	return f.Table == g.Table && f.Cookie == g.Cookie && f.IdleTimeout == g.IdleTimeout &&
		f.HardTimeout == g.HardTimeout && f.Importance == g.Importance &&
		f.Match.Equal(g.Match) && f.Actions.Equal(g.Actions)
}

// Identity is a flow's table, priority and match as a comparable value,
// for map keys.
type Identity string

// Key is all of a flow's value (Equal) as a comparable value, for map
// keys.
type Key string

// Identity returns f's identity key.
func (f *Flow) Identity() Identity {
	b := make([]byte, 0, 4+len(f.Match)*20)
	return Identity(f.appendIdentity(b))
}

// Key returns f's key.
func (f *Flow) Key() Key {
	b := make([]byte, 0, 16+len(f.Match)*20+len(f.Actions)*12)
	b = f.appendIdentity(b)
	return Key(f.appendRest(b))
}

// UpdateKey is Key without the priority (see EqualUpdate).
func (f *Flow) UpdateKey() Key {
	b := make([]byte, 0, 16+len(f.Match)*20+len(f.Actions)*12)
	b = append(b, f.Table)
	b = appendMatchKey(b, f.Match)
	return Key(f.appendRest(b))
}

func (f *Flow) appendIdentity(b []byte) []byte {
	b = append(b, f.Table, byte(f.Priority>>8), byte(f.Priority))
	return appendMatchKey(b, f.Match)
}

func appendMatchKey(b []byte, m Match) []byte {
	b = append(b, byte(len(m)))
	for i := range m {
		e := &m[i]
		b = append(b, byte(e.Field))
		b = appendValueKey(b, e.Value)
		b = appendValueKey(b, e.Mask)
	}
	return b
}

// appendValueKey writes v without its leading zero bytes, after their
// count: short for small values, unambiguous.
func appendValueKey(b []byte, v Value) []byte {
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], v.Hi)
	binary.BigEndian.PutUint64(buf[8:], v.Lo)
	i := 0
	for i < 16 && buf[i] == 0 {
		i++
	}
	b = append(b, byte(16-i))
	return append(b, buf[i:]...)
}

func (f *Flow) appendRest(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, f.Cookie)
	b = binary.BigEndian.AppendUint16(b, f.IdleTimeout)
	b = binary.BigEndian.AppendUint16(b, f.HardTimeout)
	b = binary.BigEndian.AppendUint16(b, f.Importance)
	for i := range f.Actions {
		a := &f.Actions[i]
		b = append(b, byte(a.Op), byte(a.Field), a.Ofs, a.Bits, byte(a.Src), a.SrcOfs, a.Table)
		b = binary.BigEndian.AppendUint32(b, a.Port)
		b = appendValueKey(b, a.Value)
	}
	return b
}

// hash is a 64-bit digest of f's value (with its priority or not), for
// hash tables that confirm with Equal.
func (f *Flow) hash(withPriority bool) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		h ^= v
		h *= 1099511628211
		h ^= h >> 29
	}
	mix(uint64(f.Table) | uint64(f.IdleTimeout)<<8 | uint64(f.HardTimeout)<<24 | uint64(f.Importance)<<40)
	if withPriority {
		mix(uint64(f.Priority) | 1<<20)
	}
	mix(f.Cookie)
	for i := range f.Match {
		e := &f.Match[i]
		mix(uint64(e.Field))
		mix(e.Value.Lo)
		mix(e.Value.Hi)
		mix(e.Mask.Lo)
		mix(e.Mask.Hi)
	}
	for i := range f.Actions {
		a := &f.Actions[i]
		mix(uint64(a.Op) | uint64(a.Field)<<8 | uint64(a.Ofs)<<16 | uint64(a.Bits)<<24 | uint64(a.Src)<<32 | uint64(a.SrcOfs)<<40 | uint64(a.Table)<<48)
		mix(uint64(a.Port))
		mix(a.Value.Lo)
		mix(a.Value.Hi)
	}
	return h
}

// Diff compares two sets of flows by value (Equal): it returns the
// indexes of the flows of a that b lacks and of those of b that a lacks,
// each ascending. A flow that appears twice in one set counts once. Two
// sets sorted by Compare (a host's compiled flows) are walked side by
// side; others go through a hash table of b, confirmed with Equal.
func Diff(a, b []Flow) (onlyA, onlyB []int) {
	if sortedUnique(a) && sortedUnique(b) {
		return diffSorted(a, b)
	}
	ix := NewIndex(b)
	seen := make([]bool, len(b))
	for i := range a {
		found := false
		for k := ix.first(&a[i]); k >= 0; k = ix.next[k] {
			if a[i].Equal(&b[k]) {
				seen[k], found = true, true
			}
		}
		if !found {
			onlyA = append(onlyA, i)
		}
	}
	for j, ok := range seen {
		if !ok {
			onlyB = append(onlyB, j)
		}
	}
	return onlyA, onlyB
}

// Index finds flows equal to a given one (Equal) in a set, through a
// chained hash table: no key is built and nothing is allocated per flow.
// The set must not change while the Index is used.
type Index struct {
	fs   []Flow
	head map[uint64]int32 // hash -> the last flow with it
	next []int32          // the flow before, with the same hash; -1 ends
}

// NewIndex indexes fs.
func NewIndex(fs []Flow) *Index {
	ix := &Index{fs: fs, head: make(map[uint64]int32, len(fs)), next: make([]int32, len(fs))}
	for j := range fs {
		h := fs[j].hash(true)
		if k, ok := ix.head[h]; ok {
			ix.next[j] = k
		} else {
			ix.next[j] = -1
		}
		ix.head[h] = int32(j)
	}
	return ix
}

// Flows is the indexed set.
func (ix *Index) Flows() []Flow { return ix.fs }

func (ix *Index) first(f *Flow) int32 {
	if k, ok := ix.head[f.hash(true)]; ok {
		return k
	}
	return -1
}

// Find returns the index of a flow of the set equal to f, -1 if there is
// none (the last one indexed, if several are).
func (ix *Index) Find(f *Flow) int {
	for k := ix.first(f); k >= 0; k = ix.next[k] {
		if f.Equal(&ix.fs[k]) {
			return int(k)
		}
	}
	return -1
}

// sortedUnique tells whether fs is sorted by Compare with no two flows of
// one identity.
func sortedUnique(fs []Flow) bool {
	for i := 1; i < len(fs); i++ {
		if Compare(&fs[i-1], &fs[i]) >= 0 {
			return false
		}
	}
	return true
}

// diffSorted is Diff of two sets sorted by Compare, one flow per identity.
func diffSorted(a, b []Flow) (onlyA, onlyB []int) {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := Compare(&a[i], &b[j]); {
		case c < 0:
			onlyA = append(onlyA, i)
			i++
		case c > 0:
			onlyB = append(onlyB, j)
			j++
		default: // one identity: equal or both differ
			if !a[i].Equal(&b[j]) {
				onlyA, onlyB = append(onlyA, i), append(onlyB, j)
			}
			i, j = i+1, j+1
		}
	}
	for ; i < len(a); i++ {
		onlyA = append(onlyA, i)
	}
	for ; j < len(b); j++ {
		onlyB = append(onlyB, j)
	}
	return onlyA, onlyB
}

// Sort sorts flows in Compare's order.
func Sort(fs []Flow) {
	sorted := true
	for i := 1; i < len(fs) && sorted; i++ {
		sorted = Compare(&fs[i-1], &fs[i]) <= 0
	}
	if sorted {
		return
	}
	// Sort indexes, not flows: a Flow is large to move.
	idx := make([]int32, len(fs))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int { return Compare(&fs[i], &fs[j]) })
	out := make([]Flow, len(fs))
	for k, i := range idx {
		out[k] = fs[i]
	}
	copy(fs, out)
}
