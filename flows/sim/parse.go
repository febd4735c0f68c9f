package sim

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Switch is a parsed set of flows: the OpenFlow tables of one bridge.
type Switch struct {
	tables map[int][]*flowEntry // by table; priority high first, then line
	n      int
}

// Len is the number of flows.
func (sw *Switch) Len() int { return sw.n }

// Tables lists the tables that hold at least one flow, ascending.
func (sw *Switch) Tables() []int {
	var t []int
	for id := range sw.tables {
		t = append(t, id)
	}
	sort.Ints(t)
	return t
}

type flowEntry struct {
	line     int
	text     string
	table    int
	priority int
	cookie   uint64
	match    []constraint // sorted by field storage key
	actions  []action
}

// constraint is one field of a match: (field & mask) == value.
type constraint struct {
	f           *field
	value, mask u128
}

func (f *flowEntry) matches(s *state) bool {
	for _, c := range f.match {
		if c.f.read(s).and(c.mask) != c.value {
			return false
		}
	}
	return true
}

type actKind uint8

const (
	aOutput       actKind = iota // port
	aOutputInPort                // in_port, output:in_port
	aOutputReg                   // output:FIELD[...] (src)
	aSet                         // f, value, mask: set_field, load, mod_dl_*, set_tunnel, write_metadata...
	aMove                        // src -> dst
	aSetVLANVID                  // vid; push if untagged when push
	aPushVLAN
	aPopVLAN
	aGoto     // table
	aResubmit // port (-1: the packet's in_port), table (-1: the current table)
	aClone    // nested, on a copy of the packet and registers
	aNote
)

type subfield struct {
	f      *field
	ofs, n int
}

func (sf subfield) mask() u128 { return ones(sf.n).shl(sf.ofs) }

type action struct {
	kind        actKind
	text        string // as written
	port, table int
	f           *field
	value, mask u128
	src, dst    subfield
	vid         uint16
	push        bool
	nested      []action
}

// Parse reads flows in the syntax ovs-ofctl add-flows takes (one flow per
// line, as flows.HostState.FlowText renders them) or the output of
// ovs-ofctl dump-flows (with or without --no-stats; numeric ports, i.e.
// --no-names). Blank lines, lines starting with '#' (after white space)
// and the "NXST_FLOW reply"/"OFPST_FLOW reply" header lines are skipped.
//
// Parse checks each flow the way OVS does when it is added to an
// OpenFlow 1.3 bridge, and refuses what OVS would refuse or silently
// change: unknown or unsupported keywords, fields and actions; matches on
// fields whose prerequisites the match does not pin (OVS would drop such a
// field and match more than intended); set_field, load and move on fields
// the match does not guarantee (nd_tll needs icmpv6_type=136 in the match
// even after a set_field:136->icmpv6_type); strip_vlan, pop_vlan,
// set_vlan_vid and set_field to vlan_vid without a tag the match or an
// earlier push_vlan/mod_vlan_vid guarantees; a vlan_vid written without
// the present bit 0x1000; goto_table not to a later table; instructions
// out of order; "drop" with other actions. It also refuses two flows with
// the same table, priority and match (one would replace the other on the
// switch). Every error names its line ("line 7: ..."); all are reported.
func Parse(text string) (*Switch, error) {
	sw := &Switch{tables: map[int][]*flowEntry{}}
	seen := map[string]int{} // identity -> line
	var errs []error
	for i, line := range strings.Split(text, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") ||
			strings.HasPrefix(t, "NXST_FLOW reply") || strings.HasPrefix(t, "OFPST_FLOW reply") {
			continue
		}
		f, err := parseFlow(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", i+1, err))
			continue
		}
		f.line = i + 1
		id := f.identity()
		if prev, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("line %d: same table, priority and match as line %d (on a switch one would replace the other)", f.line, prev))
			continue
		}
		seen[id] = f.line
		sw.tables[f.table] = append(sw.tables[f.table], f)
		sw.n++
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, fs := range sw.tables {
		sort.SliceStable(fs, func(i, j int) bool { return fs[i].priority > fs[j].priority })
	}
	return sw, nil
}

// MustParse is Parse for tests: it panics on an error.
func MustParse(text string) *Switch {
	sw, err := Parse(text)
	if err != nil {
		panic("sim.MustParse: " + err.Error())
	}
	return sw
}

func (f *flowEntry) identity() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d", f.table, f.priority)
	for _, c := range f.match {
		fmt.Fprintf(&b, " %s=%s/%s", c.f.key, c.value.hex(), c.mask.hex())
	}
	return b.String()
}

// scanner splits flow text into keywords the way ovs-ofctl does
// (ofputil_parse_key_value): items are separated by commas or white
// space; a key ends at ':', '=' or '('; a value after ':' or '=' runs to the
// next comma or white space outside parentheses, one after '(' to the
// matching ')'.
type scanner struct {
	s string
	i int
}

type item struct {
	key, value string
	delim      byte // ':', '=', '(' or 0 (no value)
	hasValue   bool
	valueAt    int // offset of value in s
	start, end int // the whole item is s[start:end]
}

func (sc *scanner) next() (item, bool) {
	s := sc.s
	for sc.i < len(s) && strings.IndexByte(", \t\r\n", s[sc.i]) >= 0 {
		sc.i++
	}
	if sc.i >= len(s) {
		return item{}, false
	}
	j := sc.i
	for j < len(s) && strings.IndexByte(":=(, \t\r\n", s[j]) < 0 {
		j++
	}
	it := item{key: s[sc.i:j], start: sc.i, end: j}
	if j >= len(s) || strings.IndexByte(":=(", s[j]) < 0 {
		sc.i = j
		return it, true
	}
	it.delim = s[j]
	delims := ", \t\r\n"
	if it.delim == '(' {
		delims = ")"
	}
	j++
	k := valueEnd(s, j, delims)
	it.value, it.hasValue, it.valueAt, it.end = s[j:k], true, j, k
	if k < len(s) {
		if it.delim == '(' {
			it.end = k + 1
		}
		k++ // the delimiter
	}
	sc.i = k
	return it, true
}

// valueEnd is the end of a value starting at i: the first delimiter outside
// parentheses (OVS's parse_value).
func valueEnd(s string, i int, delims string) int {
	for i < len(s) && strings.IndexByte(delims, s[i]) < 0 {
		if s[i] == '(' {
			level := 0
			for i < len(s) {
				switch s[i] {
				case '(':
					level++
				case ')':
					level--
				}
				i++
				if level == 0 {
					break
				}
			}
			continue
		}
		i++
	}
	return i
}

var protocols = map[string]struct {
	ethType uint16
	proto   uint8
}{
	"ip": {EthTypeIPv4, 0}, "ipv4": {EthTypeIPv4, 0}, "ip4": {EthTypeIPv4, 0},
	"arp": {EthTypeARP, 0}, "rarp": {EthTypeRARP, 0},
	"icmp": {EthTypeIPv4, ProtoICMP}, "tcp": {EthTypeIPv4, ProtoTCP},
	"udp": {EthTypeIPv4, ProtoUDP}, "sctp": {EthTypeIPv4, ProtoSCTP},
	"ipv6": {EthTypeIPv6, 0}, "ip6": {EthTypeIPv6, 0},
	"icmp6": {EthTypeIPv6, ProtoICMPv6}, "tcp6": {EthTypeIPv6, ProtoTCP},
	"udp6": {EthTypeIPv6, ProtoUDP}, "sctp6": {EthTypeIPv6, ProtoSCTP},
}

// Keywords of a flow that are not matches: ignored (as ovs-ofctl ignores
// the statistics of a dump fed back to it) or flags.
var ignored = map[string]bool{
	"idle_timeout": true, "hard_timeout": true, "importance": true,
	"duration": true, "n_packets": true, "n_bytes": true, "idle_age": true, "hard_age": true,
	"send_flow_rem": true, "check_overlap": true, "reset_counts": true,
	"no_packet_counts": true, "no_byte_counts": true, "no_readonly_table": true,
	"allow_hidden_fields": true, "eth": true,
}

type matchBuilder struct {
	byKey   map[string]*constraint
	written []written // every field named, for the prerequisite check
}

type written struct {
	f    *field
	name string // as the flow wrote it
}

func (m *matchBuilder) add(f *field, value, mask u128, as string) error {
	value = value.and(mask)
	name, _, _ := strings.Cut(as, "=")
	m.written = append(m.written, written{f, name})
	c, ok := m.byKey[f.key]
	if !ok {
		m.byKey[f.key] = &constraint{f: f, value: value, mask: mask}
		return nil
	}
	both := c.mask.and(mask)
	if c.value.and(both) != value.and(both) {
		return fmt.Errorf("%s conflicts with an earlier match on the same field", as)
	}
	c.value, c.mask = c.value.or(value), c.mask.or(mask)
	return nil
}

// pinned is the exact value of a matched field (0 if wildcarded), as
// OVS's prerequisite check reads a match.
func (m *matchBuilder) pinned(key string) uint64 {
	if c, ok := m.byKey[key]; ok {
		return c.value.lo
	}
	return 0
}

func (m *matchBuilder) proto() proto {
	return proto{
		ethType:  uint16(m.pinned("eth_type")),
		nwProto:  uint8(m.pinned("nw_proto")),
		icmpType: uint8(m.pinned("icmp_type")),
		icmpCode: uint8(m.pinned("icmp_code")),
	}
}

// tagged tells whether the match guarantees a VLAN tag.
func (m *matchBuilder) tagged() bool {
	c, ok := m.byKey["vlan_tci"]
	return ok && c.mask.lo&0x1000 != 0 && c.value.lo&0x1000 != 0
}

func parseFlow(text string) (*flowEntry, error) {
	f := &flowEntry{text: text, priority: 32768} // OVS's default priority
	m := &matchBuilder{byKey: map[string]*constraint{}}
	sc := &scanner{s: text}
	var actionsText string
	haveActions, haveTable, havePriority, haveCookie := false, false, false, false
	for {
		it, ok := sc.next()
		if !ok {
			break
		}
		k, v := it.key, it.value
		if k == "actions" || k == "action" {
			if !it.hasValue {
				return nil, fmt.Errorf("%s without =", k)
			}
			actionsText, haveActions = text[it.valueAt:], true
			break
		}
		if p, ok := protocols[k]; ok && !it.hasValue {
			if err := m.add(fieldsByName["eth_type"], u64(uint64(p.ethType)), ones(16), k); err != nil {
				return nil, err
			}
			if p.proto != 0 {
				if err := m.add(fieldsByName["nw_proto"], u64(uint64(p.proto)), ones(8), k); err != nil {
					return nil, err
				}
			}
			continue
		}
		if ignored[k] {
			continue
		}
		if !it.hasValue {
			return nil, fmt.Errorf("unknown or unsupported keyword %q", k)
		}
		switch k {
		case "table":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 254 || haveTable {
				return nil, fmt.Errorf("table=%s: want one table number 0..254", v)
			}
			f.table, haveTable = n, true
			continue
		case "priority":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 || havePriority {
				return nil, fmt.Errorf("priority=%s: want one priority 0..65535", v)
			}
			f.priority, havePriority = n, true
			continue
		case "cookie":
			c, _, _ := strings.Cut(v, "/")
			n, err := parseInt(c)
			if err != nil || n.hi != 0 || haveCookie {
				return nil, fmt.Errorf("cookie=%s: want one 64-bit cookie", v)
			}
			f.cookie, haveCookie = n.lo, true
			continue
		case "dl_vlan":
			n, err := parseInt(v)
			switch {
			case err != nil || (n.lo > 4095 && n.lo != 0xffff) || n.hi != 0:
				return nil, fmt.Errorf("dl_vlan=%s: want a VID 0..4095, or 0xffff for untagged", v)
			case n.lo == 0xffff:
				err = m.add(fieldsByName["vlan_tci"], u128{}, u64(0x1fff), "dl_vlan="+v)
			default:
				err = m.add(fieldsByName["vlan_tci"], u64(0x1000|n.lo), u64(0x1fff), "dl_vlan="+v)
			}
			if err != nil {
				return nil, err
			}
			continue
		}
		var fl *field
		var value, mask u128
		if strings.Contains(k, "[") {
			sf, err := parseSubfield(k)
			if err != nil {
				return nil, err
			}
			n, err := parseInt(v)
			if err != nil {
				return nil, fmt.Errorf("%s=%s: %w", k, v, err)
			}
			if n.bitLen() > sf.n {
				return nil, fmt.Errorf("%s=%s: value does not fit in %d bits", k, v, sf.n)
			}
			fl, value, mask = sf.f, n.shl(sf.ofs), sf.mask()
		} else {
			fl = fieldsByName[k]
			if fl == nil {
				if fieldsByNXM[k] != nil {
					return nil, fmt.Errorf("%s=%s: a match names a field by its OVS name (e.g. %s), not its NXM/OXM name", k, v, fieldsByNXM[k].name)
				}
				return nil, fmt.Errorf("unknown or unsupported match field %q", k)
			}
			var err error
			if value, mask, err = fl.parseValue(v); err != nil {
				return nil, err
			}
		}
		if fl.name == "vlan_vid" {
			fl = fieldsByName["vlan_tci"] // the same low 13 bits
		}
		if err := m.add(fl, value, mask, k+"="+v); err != nil {
			return nil, err
		}
	}
	if !haveActions {
		return nil, fmt.Errorf("no actions=")
	}
	view := m.proto()
	for _, w := range m.written {
		if pr := w.f.matchPrereq(); !pr.ok(view) {
			return nil, fmt.Errorf("match on %s needs %s in the same match (OVS would ignore the field and match more than intended)", w.name, prereqText[pr])
		}
	}
	for _, c := range m.byKey {
		f.match = append(f.match, *c)
	}
	sort.Slice(f.match, func(i, j int) bool { return f.match[i].f.key < f.match[j].f.key })

	acts, err := parseActions(actionsText, f.table, m)
	if err != nil {
		return nil, err
	}
	f.actions = acts
	return f, nil
}

// parseSubfield parses FIELD, FIELD[], FIELD[i] or FIELD[i..j], where FIELD
// is an NXM/OXM name or an OVS field name.
func parseSubfield(s string) (subfield, error) {
	name, rest, hasBits := strings.Cut(s, "[")
	f := fieldsByNXM[name]
	if f == nil {
		f = fieldsByName[name]
	}
	if f == nil {
		return subfield{}, fmt.Errorf("%s: unknown or unsupported field %q", s, name)
	}
	sf := subfield{f: f, ofs: 0, n: f.bits}
	if !hasBits {
		return sf, nil
	}
	inner, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return subfield{}, fmt.Errorf("%s: want [], [bit] or [start..end]", s)
	}
	if inner == "" {
		return sf, nil
	}
	lo, hi, isRange := strings.Cut(inner, "..")
	start, err1 := strconv.Atoi(lo)
	end := start
	var err2 error
	if isRange {
		end, err2 = strconv.Atoi(hi)
	}
	switch {
	case err1 != nil || err2 != nil:
		return subfield{}, fmt.Errorf("%s: want [], [bit] or [start..end]", s)
	case start < 0 || start > end:
		return subfield{}, fmt.Errorf("%s: starting bit %d is after ending bit %d", s, start, end)
	case end >= f.bits:
		return subfield{}, fmt.Errorf("%s: bit %d is outside %s, which has %d bits", s, end, name, f.bits)
	}
	return subfield{f: f, ofs: start, n: end - start + 1}, nil
}

// actionCheck is the state OVS's ofpacts_check carries through a flow's
// actions: the match's protocol view and whether a VLAN tag is known to be
// present.
type actionCheck struct {
	table  int
	proto  proto
	tagged bool
}

func (c *actionCheck) writable(f *field, as string) error {
	if !f.writable {
		return fmt.Errorf("%s: %s is read-only", as, f.name)
	}
	if !f.prereq.ok(c.proto) {
		return fmt.Errorf("%s: writing %s needs %s in the flow's match (OVS refuses the flow: OFPBAC_MATCH_INCONSISTENT)", as, f.name, prereqText[f.prereq])
	}
	return nil
}

func parseActions(text string, table int, m *matchBuilder) ([]action, error) {
	return parseActionList(text, &actionCheck{table: table, proto: m.proto(), tagged: m.tagged()}, false)
}

// parseActionList parses the actions of a flow or, nested, of a clone.
func parseActionList(text string, chk *actionCheck, nested bool) ([]action, error) {
	table := chk.table
	sc := &scanner{s: text}
	var acts []action
	drop := false
	const (
		stApply = iota
		stWriteMetadata
		stGoto
	)
	stage := stApply
	for {
		it, ok := sc.next()
		if !ok {
			break
		}
		k, v := strings.ToLower(it.key), it.value
		as := text[it.start:it.end]
		a := action{text: as}
		var err error
		inst := stApply
		switch k {
		case "drop", "in_port", "strip_vlan", "pop_vlan", "local":
			if it.hasValue {
				return nil, fmt.Errorf("%s: %s takes no argument", as, k)
			}
		case "output", "load", "set_field", "move", "mod_dl_src", "mod_dl_dst", "mod_nw_src", "mod_nw_dst",
			"mod_tp_src", "mod_tp_dst", "set_tunnel", "set_tunnel64", "mod_vlan_vid", "set_vlan_vid",
			"push_vlan", "resubmit", "goto_table", "write_metadata", "clone":
			if !it.hasValue {
				return nil, fmt.Errorf("%s: %s needs an argument", as, k)
			}
		}
		switch k {
		case "drop":
			drop = true
			continue
		case "output":
			a, err = parseOutput(v, a)
		case "in_port":
			a.kind = aOutputInPort
		case "local":
			a.kind, a.port = aOutput, PortLocal
		case "load":
			a, err = chk.parseLoad(v, a)
		case "set_field":
			a, err = chk.parseSetField(v, a)
		case "move":
			a, err = chk.parseMove(v, a)
		case "mod_dl_src", "mod_dl_dst":
			fl := fieldsByName["eth_"+k[7:]]
			a.kind, a.f, a.mask = aSet, fl, ones(48)
			a.value, err = parseMAC(v)
		case "mod_nw_src", "mod_nw_dst":
			fl := fieldsByName["nw_"+k[7:]]
			a.kind, a.f, a.mask = aSet, fl, ones(32)
			if a.value, a.mask, err = fl.parseValue(v); err == nil {
				if a.mask != ones(32) {
					err = fmt.Errorf("%s: want an address without mask", as)
				} else {
					err = chk.writable(fl, as)
				}
			}
		case "mod_tp_src", "mod_tp_dst":
			fl := *fieldsByName["tcp_"+k[7:]]
			fl.prereq = pL4
			a.kind, a.f = aSet, &fl
			if a.value, a.mask, err = fl.parseValue(v); err == nil {
				if a.mask != ones(16) {
					err = fmt.Errorf("%s: want a port without mask", as)
				} else {
					err = chk.writable(&fl, as)
				}
			}
		case "set_tunnel", "set_tunnel64":
			a.kind, a.f, a.mask = aSet, fieldsByName["tun_id"], ones(64)
			a.value, err = parseInt(v)
			switch {
			case err == nil && k == "set_tunnel" && a.value.bitLen() > 32:
				err = fmt.Errorf("%s: set_tunnel takes 32 bits (use set_tunnel64)", as)
			case err == nil && a.value.bitLen() > 64:
				err = fmt.Errorf("%s: a tunnel id has 64 bits", as)
			}
		case "mod_vlan_vid", "set_vlan_vid":
			a.kind, a.push = aSetVLANVID, k == "mod_vlan_vid"
			var n u128
			if n, err = parseInt(v); err == nil && (n.hi != 0 || n.lo > 4095) {
				err = fmt.Errorf("%s: %s is not a VID (0..4095)", as, v)
			}
			a.vid = uint16(n.lo)
			if err == nil && !chk.tagged && !a.push {
				err = fmt.Errorf("%s: the match does not guarantee a VLAN tag (use mod_vlan_vid, which adds one; OVS accepts set_vlan_vid here only for OpenFlow 1.0)", as)
			}
			chk.tagged = true
		case "push_vlan":
			a.kind = aPushVLAN
			var n u128
			if n, err = parseInt(v); err == nil && n != u64(0x8100) && n != u64(0x88a8) {
				err = fmt.Errorf("%s: %s is not a VLAN ethertype (0x8100 or 0x88a8)", as, v)
			}
			if err == nil && chk.tagged {
				err = fmt.Errorf("%s: the packet may already carry a VLAN tag; double tagging is not simulated", as)
			}
			chk.tagged = true
		case "strip_vlan", "pop_vlan":
			a.kind = aPopVLAN
			if !chk.tagged {
				err = fmt.Errorf("%s: the match does not guarantee a VLAN tag (OVS accepts this only for OpenFlow 1.0; Loom's bridges speak OpenFlow13: match dl_vlan or vlan_tci=0x1000/0x1000)", as)
			}
			chk.tagged = false
		case "resubmit":
			a, err = parseResubmit(it, a)
		case "goto_table":
			a.kind, inst = aGoto, stGoto
			a.table, err = strconv.Atoi(v)
			switch {
			case err != nil || a.table < 0 || a.table > 254:
				err = fmt.Errorf("%s: want a table number 0..254", as)
			case a.table <= table:
				err = fmt.Errorf("%s: goto_table must go to a later table than this flow's table %d (OVS: OFPBIC_BAD_TABLE_ID); use resubmit to go back", as, table)
			}
		case "write_metadata":
			a.kind, a.f, inst = aSet, fieldsByName["metadata"], stWriteMetadata
			a.value, a.mask, err = a.f.parseValue(v)
		case "note":
			a.kind = aNote
		case "clone":
			if it.delim != '(' {
				return nil, fmt.Errorf("%s: want clone(actions)", as)
			}
			sub := *chk // the clone's VLAN changes do not outlive it
			a.kind = aClone
			a.nested, err = parseActionList(v, &sub, true)
		default:
			if n, perr := parseInt(k); perr == nil && !it.hasValue {
				a, err = parseOutput(strconv.FormatUint(n.lo, 10), a)
				break
			}
			return nil, fmt.Errorf("unknown or unsupported action %q", as)
		}
		if err != nil {
			return nil, err
		}
		if nested && inst != stApply {
			return nil, fmt.Errorf("%s: instructions (goto_table, write_metadata) are not allowed inside clone()", as)
		}
		if inst < stage || (inst == stage && inst != stApply) {
			return nil, fmt.Errorf("%s: instructions go in the order actions, write_metadata, goto_table, each at most once", as)
		}
		stage = inst
		acts = append(acts, a)
	}
	switch {
	case drop && len(acts) > 0:
		return nil, fmt.Errorf("\"drop\" must not be accompanied by any other action or instruction")
	case !drop && len(acts) == 0 && !nested:
		return nil, fmt.Errorf("empty actions= (write actions=drop)")
	}
	return acts, nil
}

func parseOutput(v string, a action) (action, error) {
	switch {
	case strings.EqualFold(v, "in_port"):
		a.kind = aOutputInPort
		return a, nil
	case strings.EqualFold(v, "LOCAL"):
		a.kind, a.port = aOutput, PortLocal
		return a, nil
	case strings.Contains(v, "[") || fieldsByNXM[v] != nil || fieldsByName[v] != nil:
		sf, err := parseSubfield(v)
		if err != nil {
			return a, err
		}
		a.kind, a.src = aOutputReg, sf
		return a, nil
	}
	n, err := parseInt(v)
	switch {
	case err != nil:
		return a, fmt.Errorf("%s: unknown or unsupported output port %q (ports by name are not supported: dump with --no-names)", a.text, v)
	case n.isZero() || n.hi != 0 || n.lo >= 0xff00:
		return a, fmt.Errorf("%s: %s is not an OpenFlow port (1..65279, LOCAL, in_port)", a.text, v)
	}
	a.kind, a.port = aOutput, int(n.lo)
	return a, nil
}

func parseResubmit(it item, a action) (action, error) {
	a.kind, a.port, a.table = aResubmit, -1, -1
	var port, table string
	if it.delim != '(' {
		port = it.value // resubmit:PORT
	} else {
		var ok bool
		port, table, ok = strings.Cut(it.value, ",")
		if !ok || strings.Contains(table, ",") {
			return a, fmt.Errorf("%s: want resubmit(port,table) (the ct variant is not supported)", a.text)
		}
	}
	if port != "" {
		if strings.EqualFold(port, "in_port") {
			port = ""
		} else {
			n, err := strconv.Atoi(port)
			if err != nil || n <= 0 || n >= 0xff00 {
				return a, fmt.Errorf("%s: %q is not an OpenFlow port number", a.text, port)
			}
			a.port = n
		}
	}
	if table != "" {
		n, err := strconv.Atoi(table)
		if err != nil || n < 0 || n > 254 {
			return a, fmt.Errorf("%s: want a table number 0..254", a.text)
		}
		a.table = n
	}
	if port == "" && table == "" {
		return a, fmt.Errorf("%s: at least one of port and table must be given", a.text)
	}
	return a, nil
}

// parseLoad parses load:VALUE->DST[bits] (VALUE an integer).
func (c *actionCheck) parseLoad(v string, a action) (action, error) {
	val, dst, ok := strings.Cut(v, "->")
	if !ok {
		return a, fmt.Errorf("%s: want load:value->field[bits]", a.text)
	}
	sf, err := parseSubfield(dst)
	if err != nil {
		return a, fmt.Errorf("%s: %w", a.text, err)
	}
	n, err := parseInt(val)
	if err != nil {
		return a, fmt.Errorf("%s: %w", a.text, err)
	}
	if n.bitLen() > sf.n {
		return a, fmt.Errorf("%s: value %s does not fit into %d bits", a.text, val, sf.n)
	}
	if err := c.writable(sf.f, a.text); err != nil {
		return a, err
	}
	a.kind, a.f, a.value, a.mask = aSet, sf.f, n.shl(sf.ofs), sf.mask()
	return a, c.vlanWrite(a)
}

// parseSetField parses set_field:VALUE[/MASK]->FIELD (FIELD an OVS field
// name, VALUE in the field's syntax).
func (c *actionCheck) parseSetField(v string, a action) (action, error) {
	i := strings.LastIndex(v, "->")
	if i < 0 {
		return a, fmt.Errorf("%s: want set_field:value->field", a.text)
	}
	val, name := v[:i], v[i+2:]
	f := fieldsByName[name]
	if f == nil {
		if g := fieldsByNXM[strings.TrimSuffix(name, "[]")]; g != nil {
			return a, fmt.Errorf("%s: set_field takes OVS field names (%s), not NXM/OXM names", a.text, g.name)
		}
		return a, fmt.Errorf("%s: unknown or unsupported field %q", a.text, name)
	}
	value, mask, err := f.parseValue(val)
	if err != nil {
		return a, fmt.Errorf("%s: %w", a.text, err)
	}
	if err := c.writable(f, a.text); err != nil {
		return a, err
	}
	if f.name == "vlan_vid" && !c.tagged {
		return a, fmt.Errorf("%s: set_field to vlan_vid needs a VLAN tag the match guarantees or a push_vlan before it (OVS: OFPBAC_MATCH_INCONSISTENT)", a.text)
	}
	a.kind, a.f, a.value, a.mask = aSet, f, value.and(mask), mask
	return a, c.vlanWrite(a)
}

// vlanWrite applies OVS's rules for writes to the VLAN header.
func (c *actionCheck) vlanWrite(a action) error {
	switch a.f.name {
	case "vlan_vid":
		// OpenFlow 1.2+: the OFPVID_PRESENT bit must be written as 1.
		if a.mask.lo&0x1000 == 0 || a.value.lo&0x1000 == 0 {
			return fmt.Errorf("%s: a write to vlan_vid must set the present bit 0x1000 (VID 200 is 4296); OVS refuses it otherwise (OFPBAC_BAD_SET_ARGUMENT)", a.text)
		}
	case "vlan_tci":
		if a.mask.lo&0x1000 != 0 {
			c.tagged = a.value.lo&0x1000 != 0
		}
	}
	return nil
}

// parseMove parses move:SRC[bits]->DST[bits].
func (c *actionCheck) parseMove(v string, a action) (action, error) {
	s, d, ok := strings.Cut(v, "->")
	if !ok {
		return a, fmt.Errorf("%s: want move:src[bits]->dst[bits]", a.text)
	}
	src, err := parseSubfield(s)
	if err != nil {
		return a, fmt.Errorf("%s: %w", a.text, err)
	}
	dst, err := parseSubfield(d)
	if err != nil {
		return a, fmt.Errorf("%s: %w", a.text, err)
	}
	if src.n != dst.n {
		return a, fmt.Errorf("%s: source has %d bits, destination %d", a.text, src.n, dst.n)
	}
	if !src.f.prereq.ok(c.proto) && !src.f.matchPrereq().ok(c.proto) {
		return a, fmt.Errorf("%s: reading %s needs %s in the flow's match (OVS refuses the flow: OFPBAC_MATCH_INCONSISTENT)", a.text, src.f.name, prereqText[src.f.prereq])
	}
	if err := c.writable(dst.f, a.text); err != nil {
		return a, err
	}
	if dst.f.name == "vlan_vid" {
		return a, fmt.Errorf("%s: move into vlan_vid is not simulated", a.text)
	}
	if dst.f.name == "vlan_tci" && dst.mask().lo&0x1000 != 0 {
		c.tagged = false // unknown: be conservative for later checks
	}
	a.kind, a.src, a.dst = aMove, src, dst
	return a, nil
}
