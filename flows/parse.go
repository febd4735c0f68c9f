package flows

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The one parser of flow text: what ovs-ofctl add-flows reads (Loom's own
// rendering among it) and what a switch prints (ovs-ofctl dump-flows, and
// the flow updates of ovs-ofctl monitor). It is the only place in Loom
// where text becomes flows. It reads every spelling OVS 3.1 reads or
// prints for the fields and actions Loom knows (field aliases, NXM and
// OXM names, protocol shorthands, decimal or hexadecimal, prefixes or
// masks, subfield matches such as reg5[2]=1) into the canonical Flow, and
// writes an action the way OVS holds it on an OpenFlow 1.3 bridge (so
// mod_dl_src:M is set_field:M->eth_src, strip_vlan is pop_vlan, a masked
// set_field is one load per run of its mask), so that equal flows compare
// equal whatever wrote them. It refuses what it does not know and what OVS
// itself refuses to parse (fields without their prerequisites, values that
// do not fit, "drop" with other actions); Validate checks the rest of
// what OVS refuses when a flow is added.

// ParseFlow parses one flow in ovs-ofctl syntax: a line of add-flows, or a
// line of dump-flows (statistics and the default priority 32768 as OVS
// prints them).
func ParseFlow(s string) (Flow, error) { return parseFlow(s, false) }

// ParseUpdate parses the flow of a flow monitor's update, as ovs-ofctl
// monitor prints it after "event=... [reason=...]": "table=T
// [idle_timeout=N] [hard_timeout=N] cookie=C MATCH [actions=A]". OVS
// leaves the priority out of updates (the Flow's Priority is 0: compare
// with EqualUpdate or UpdateKey) and the actions of a flow that drops.
func ParseUpdate(s string) (Flow, error) { return parseFlow(s, true) }

// ParseText parses text, one flow a line, as ParseFlow. Blank lines,
// comments (# ...) and the header lines of a dump (NXST_FLOW reply,
// OFPST_FLOW reply) are skipped. lines gives each flow's line (from 1).
// Every error names its line ("line 7: ..."); all are reported.
func ParseText(text string) (fs []Flow, lines []int, err error) {
	var errs []error
	n := 0
	for len(text) > 0 {
		n++
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		t := strings.TrimSpace(line)
		if skipLine(t) {
			continue
		}
		f, err := ParseFlow(t)
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		}
		fs = append(fs, f)
		lines = append(lines, n)
	}
	return fs, lines, errors.Join(errs...)
}

// skipLine tells whether a trimmed line of flow text holds no flow.
func skipLine(t string) bool {
	return t == "" || t[0] == '#' || strings.HasPrefix(t, "NXST_FLOW reply") || strings.HasPrefix(t, "OFPST_FLOW reply")
}

// SkipLine tells whether a line of a dump holds no flow (blank, a comment
// or a header).
func SkipLine(line string) bool { return skipLine(strings.TrimSpace(line)) }

// GroupOf reads only the table and cookie of a flow line, skipping the
// rest: for a line the parser refuses (a flow someone else added, with
// fields or actions Loom does not know), which must still be placed in its
// group. ok is false when the line names no cookie, or a table or cookie
// that is not a number.
func GroupOf(s string) (table uint8, cookie uint64, ok bool) {
	sc := scanner{s: s}
	for {
		it, more := sc.next()
		if !more || it.key == "actions" || it.key == "action" {
			return table, cookie, ok
		}
		switch it.key {
		case "table":
			n, err := strconv.ParseUint(it.value, 10, 8)
			if err != nil || n > 254 {
				return 0, 0, false
			}
			table = uint8(n)
		case "cookie":
			c, _, _ := strings.Cut(it.value, "/")
			n, err := parseUint(c)
			if err != nil || n.Hi != 0 {
				return 0, 0, false
			}
			cookie, ok = n.Lo, true
		}
	}
}

// scanner splits flow text into items the way ovs-ofctl does
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

// Byte classes of the scanner.
const (
	cSep    = 1 << iota // ',' or white space: ends an item
	cKeyEnd             // ':', '=' or '(': ends a key
	cParen              // '('
)

var class = func() (t [256]uint8) {
	for _, c := range ", \t\r\n" {
		t[c] = cSep
	}
	t[':'], t['='], t['('] = cKeyEnd, cKeyEnd, cKeyEnd|cParen
	return t
}()

func isSep(c byte) bool { return class[c]&cSep != 0 }

func (sc *scanner) next() (item, bool) {
	s := sc.s
	for sc.i < len(s) && isSep(s[sc.i]) {
		sc.i++
	}
	if sc.i >= len(s) {
		return item{}, false
	}
	j := sc.i
	for j < len(s) && class[s[j]]&(cSep|cKeyEnd) == 0 {
		j++
	}
	it := item{key: s[sc.i:j], start: sc.i, end: j}
	if j >= len(s) || isSep(s[j]) {
		sc.i = j
		return it, true
	}
	it.delim = s[j]
	j++
	var k int
	if it.delim == '(' {
		k = parenEnd(s, j)
	} else {
		k = valueEnd(s, j)
	}
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

// valueEnd is the end of a value starting at i: the first separator
// outside parentheses (OVS's parse_value).
func valueEnd(s string, i int) int {
	for i < len(s) {
		c := class[s[i]]
		switch {
		case c&cSep != 0:
			return i
		case c&cParen != 0:
			i = parenEnd(s, i+1)
			if i < len(s) {
				i++
			}
		default:
			i++
		}
	}
	return i
}

// parenEnd is the index of the ')' that closes a '(' just before i (or
// len(s)).
func parenEnd(s string, i int) int {
	level := 1
	for ; i < len(s); i++ {
		switch s[i] {
		case '(':
			level++
		case ')':
			level--
			if level == 0 {
				return i
			}
		}
	}
	return i
}

// nameInfo is what a field's name means: the field, and the
// prerequisites of that name in a match and in a write.
type nameInfo struct {
	f         Field
	pre, wpre Prereq
	view      Field // a match on a view: FieldVLANVID or an xreg
}

var (
	byName = map[string]nameInfo{} // OVS names and their aliases
	byNXM  = map[string]nameInfo{} // NXM and OXM names
)

func init() {
	add := func(f Field, names, nxms []string) {
		ni := nameInfo{f: f, pre: f.MatchPrereq(), wpre: f.Prereq()}
		for _, n := range names {
			byName[n] = ni
		}
		for _, n := range nxms {
			byNXM[n] = ni
		}
	}
	add(FieldInPort, []string{"in_port"}, []string{"NXM_OF_IN_PORT", "OXM_OF_IN_PORT"})
	add(FieldTunID, []string{"tun_id", "tunnel_id"}, []string{"NXM_NX_TUN_ID", "OXM_OF_TUNNEL_ID"})
	add(FieldTunSrc, []string{"tun_src"}, []string{"NXM_NX_TUN_IPV4_SRC"})
	add(FieldTunDst, []string{"tun_dst"}, []string{"NXM_NX_TUN_IPV4_DST"})
	add(FieldVLANTCI, []string{"vlan_tci"}, []string{"NXM_OF_VLAN_TCI"})
	add(FieldMetadata, []string{"metadata"}, []string{"OXM_OF_METADATA"})
	for i := 0; i < 16; i++ {
		add(Reg(i), []string{"reg" + itoa(i)}, []string{"NXM_NX_REG" + itoa(i)})
	}
	add(FieldEthSrc, []string{"eth_src", "dl_src"}, []string{"NXM_OF_ETH_SRC", "OXM_OF_ETH_SRC"})
	add(FieldEthDst, []string{"eth_dst", "dl_dst"}, []string{"NXM_OF_ETH_DST", "OXM_OF_ETH_DST"})
	add(FieldEthType, []string{"eth_type", "dl_type"}, []string{"NXM_OF_ETH_TYPE", "OXM_OF_ETH_TYPE"})
	add(FieldIPProto, []string{"ip_proto", "nw_proto"}, []string{"NXM_OF_IP_PROTO", "OXM_OF_IP_PROTO"})
	add(FieldARPOp, []string{"arp_op"}, []string{"NXM_OF_ARP_OP", "OXM_OF_ARP_OP"})
	add(FieldARPSPA, []string{"arp_spa"}, []string{"NXM_OF_ARP_SPA", "OXM_OF_ARP_SPA"})
	add(FieldARPTPA, []string{"arp_tpa"}, []string{"NXM_OF_ARP_TPA", "OXM_OF_ARP_TPA"})
	add(FieldARPSHA, []string{"arp_sha"}, []string{"NXM_NX_ARP_SHA", "OXM_OF_ARP_SHA"})
	add(FieldARPTHA, []string{"arp_tha"}, []string{"NXM_NX_ARP_THA", "OXM_OF_ARP_THA"})
	add(FieldIPSrc, []string{"ip_src", "nw_src"}, []string{"NXM_OF_IP_SRC", "OXM_OF_IPV4_SRC"})
	add(FieldIPDst, []string{"ip_dst", "nw_dst"}, []string{"NXM_OF_IP_DST", "OXM_OF_IPV4_DST"})
	add(FieldIPv6Src, []string{"ipv6_src"}, []string{"NXM_NX_IPV6_SRC", "OXM_OF_IPV6_SRC"})
	add(FieldIPv6Dst, []string{"ipv6_dst"}, []string{"NXM_NX_IPV6_DST", "OXM_OF_IPV6_DST"})
	add(FieldNDTarget, []string{"nd_target"}, []string{"NXM_NX_ND_TARGET", "OXM_OF_IPV6_ND_TARGET"})
	add(FieldNDSLL, []string{"nd_sll"}, []string{"NXM_NX_ND_SLL", "OXM_OF_IPV6_ND_SLL"})
	add(FieldNDTLL, []string{"nd_tll"}, []string{"NXM_NX_ND_TLL", "OXM_OF_IPV6_ND_TLL"})
	add(FieldNDReserved, []string{"nd_reserved"}, []string{"ERICOXM_OF_ICMPV6_ND_RESERVED"})
	add(FieldNDOptionsType, []string{"nd_options_type"}, []string{"ERICOXM_OF_ICMPV6_ND_OPTIONS_TYPE"})
	// Names of shared fields, each with its own prerequisites: tp_src and
	// tp_dst are OVS's aliases of tcp_src and tcp_dst (as actions they
	// need TCP), any L4 protocol in a match; icmp_type and icmp_code are
	// what dump-flows prints for ICMPv6 too.
	for _, x := range []struct {
		f         Field
		name      string
		pre, wpre Prereq
		nxm       []string
	}{
		{FieldTpSrc, "tp_src", PrereqL4, PrereqTCP, nil},
		{FieldTpDst, "tp_dst", PrereqL4, PrereqTCP, nil},
		{FieldTpSrc, "tcp_src", PrereqTCP, PrereqTCP, []string{"NXM_OF_TCP_SRC", "OXM_OF_TCP_SRC"}},
		{FieldTpDst, "tcp_dst", PrereqTCP, PrereqTCP, []string{"NXM_OF_TCP_DST", "OXM_OF_TCP_DST"}},
		{FieldTpSrc, "udp_src", PrereqUDP, PrereqUDP, []string{"NXM_OF_UDP_SRC", "OXM_OF_UDP_SRC"}},
		{FieldTpDst, "udp_dst", PrereqUDP, PrereqUDP, []string{"NXM_OF_UDP_DST", "OXM_OF_UDP_DST"}},
		{FieldTpSrc, "sctp_src", PrereqSCTP, PrereqSCTP, []string{"OXM_OF_SCTP_SRC"}},
		{FieldTpDst, "sctp_dst", PrereqSCTP, PrereqSCTP, []string{"OXM_OF_SCTP_DST"}},
		{FieldICMPType, "icmp_type", PrereqICMP, PrereqICMPv4, []string{"NXM_OF_ICMP_TYPE", "OXM_OF_ICMPV4_TYPE"}},
		{FieldICMPCode, "icmp_code", PrereqICMP, PrereqICMPv4, []string{"NXM_OF_ICMP_CODE", "OXM_OF_ICMPV4_CODE"}},
		{FieldICMPType, "icmpv6_type", PrereqICMPv6, PrereqICMPv6, []string{"NXM_NX_ICMPV6_TYPE", "OXM_OF_ICMPV6_TYPE"}},
		{FieldICMPCode, "icmpv6_code", PrereqICMPv6, PrereqICMPv6, []string{"NXM_NX_ICMPV6_CODE", "OXM_OF_ICMPV6_CODE"}},
	} {
		ni := nameInfo{f: x.f, pre: x.pre, wpre: x.wpre}
		byName[x.name] = ni
		for _, n := range x.nxm {
			byNXM[n] = ni
		}
	}
	// Views: in a match they are the fields they are part of.
	vid := nameInfo{f: FieldVLANTCI, view: FieldVLANVID}
	byName["vlan_vid"], byNXM["OXM_OF_VLAN_VID"] = vid, vid
	for i := 0; i < 8; i++ {
		x := nameInfo{f: Reg(2 * i), view: XReg(i)}
		byName["xreg"+itoa(i)], byNXM["OXM_OF_PKT_REG"+itoa(i)] = x, x
	}
}

// actionField is the field a write or read in an action names: views are
// themselves there.
func (ni nameInfo) actionField() Field {
	if ni.view != FieldNone {
		return ni.view
	}
	return ni.f
}

// Keywords of a flow that are flags or statistics: skipped (as ovs-ofctl
// skips the statistics of a dump fed back to it).
var skipped = map[string]bool{
	"duration": true, "n_packets": true, "n_bytes": true, "idle_age": true, "hard_age": true,
	"send_flow_rem": true, "check_overlap": true, "reset_counts": true,
	"no_packet_counts": true, "no_byte_counts": true, "no_readonly_table": true,
	"allow_hidden_fields": true, "eth": true,
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

// written is a match field as the flow named it, for the prerequisite
// check.
type written struct {
	name string
	pre  Prereq
}

// flowParser holds one flow's parse. The match is gathered in a fixed
// array (spilling into more), so that parsing a flow allocates little: its
// match and its actions, once each.
type flowParser struct {
	f     Flow
	ms    [16]MatchField // the match as written
	ws    [16]written    // each entry's name
	n     int
	more  []MatchField
	wmore []written
}

func (p *flowParser) addMatch(e MatchField, name string, pre Prereq) {
	if p.n < len(p.ms) {
		p.ms[p.n], p.ws[p.n] = e, written{name, pre}
		p.n++
		return
	}
	p.more = append(p.more, e)
	p.wmore = append(p.wmore, written{name, pre})
}

func parseFlow(s string, update bool) (Flow, error) {
	var p flowParser
	p.f.Priority = DefaultPriority
	if update {
		p.f.Priority = 0
	}
	sc := scanner{s: s}
	actionsAt, haveActions := 0, false
	haveTable, havePriority, haveCookie := false, false, false
	for {
		it, ok := sc.next()
		if !ok {
			break
		}
		k, v := it.key, it.value
		if k == "actions" || k == "action" {
			if !it.hasValue {
				return p.f, fmt.Errorf("%s without =", k)
			}
			actionsAt, haveActions = it.valueAt, true
			break
		}
		if !it.hasValue {
			if pr, ok := protocols[k]; ok {
				p.addMatch(Exact(FieldEthType, uint64(pr.ethType)), k, PrereqNone)
				if pr.proto != 0 {
					p.addMatch(Exact(FieldIPProto, uint64(pr.proto)), k, PrereqNone)
				}
				continue
			}
			if skipped[k] {
				continue
			}
			return p.f, fmt.Errorf("unknown or unsupported keyword %q", k)
		}
		switch k {
		case "table":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil || n > 254 || haveTable {
				return p.f, fmt.Errorf("table=%s: want one table number 0..254", v)
			}
			p.f.Table, haveTable = uint8(n), true
			continue
		case "priority":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil || n > 65535 || havePriority {
				return p.f, fmt.Errorf("priority=%s: want one priority 0..65535", v)
			}
			p.f.Priority, havePriority = uint16(n), true
			continue
		case "cookie":
			c, _, _ := strings.Cut(v, "/")
			n, err := parseUint(c)
			if err != nil || n.Hi != 0 || haveCookie {
				return p.f, fmt.Errorf("cookie=%s: want one 64-bit cookie", v)
			}
			p.f.Cookie, haveCookie = n.Lo, true
			continue
		case "idle_timeout", "hard_timeout", "importance":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return p.f, fmt.Errorf("%s=%s: want a number 0..65535", k, v)
			}
			switch k {
			case "idle_timeout":
				p.f.IdleTimeout = uint16(n)
			case "hard_timeout":
				p.f.HardTimeout = uint16(n)
			default:
				p.f.Importance = uint16(n)
			}
			continue
		}
		if err := p.matchItem(k, v); err != nil {
			return p.f, err
		}
	}
	// The match: canonical, and every field named with its prerequisites.
	var all []MatchField
	if len(p.more) == 0 {
		all = make([]MatchField, p.n)
		copy(all, p.ms[:p.n])
	} else {
		all = append(append([]MatchField(nil), p.ms[:]...), p.more...)
	}
	m, err := NewMatch(all)
	if err != nil {
		return p.f, err
	}
	proto := m.Proto()
	for _, w := range append(p.ws[:p.n:p.n], p.wmore...) {
		if !w.pre.OK(proto) {
			return p.f, fmt.Errorf("match on %s needs %s in the same match (OVS would ignore the field and match more than intended)", w.name, w.pre)
		}
	}
	if len(m) > 0 {
		p.f.Match = m[:len(m):len(m)]
	}
	if !haveActions {
		if update {
			return p.f, nil // no actions: the flow drops
		}
		return p.f, fmt.Errorf("no actions=")
	}
	acts, err := parseActions(s[actionsAt:], p.f.Match)
	if err != nil {
		return p.f, err
	}
	p.f.Actions = acts
	return p.f, nil
}

// matchItem parses one KEY=VALUE of a match.
func (p *flowParser) matchItem(k, v string) error {
	switch k {
	case "dl_vlan":
		n, err := parseUint(v)
		switch {
		case err != nil || (n.Lo > 4095 && n.Lo != 0xffff) || n.Hi != 0:
			return fmt.Errorf("dl_vlan=%s: want a VID 0..4095, or 0xffff for untagged", v)
		case n.Lo == 0xffff:
			p.addMatch(Masked(FieldVLANTCI, 0, 0x1fff), k, PrereqNone)
		default:
			p.addMatch(Masked(FieldVLANTCI, 0x1000|n.Lo, 0x1fff), k, PrereqNone)
		}
		return nil
	case "dl_vlan_pcp":
		n, err := parseUint(v)
		if err != nil || n.Hi != 0 || n.Lo > 7 {
			return fmt.Errorf("dl_vlan_pcp=%s: want a priority 0..7", v)
		}
		p.addMatch(Masked(FieldVLANTCI, 0x1000|n.Lo<<13, 0xf000), k, PrereqNone)
		return nil
	}
	if strings.IndexByte(k, '[') >= 0 {
		sf, ni, err := parseSubfield(k)
		if err != nil {
			return err
		}
		n, err := parseUint(v)
		if err != nil {
			return fmt.Errorf("%s=%s: %w", k, v, err)
		}
		if n.BitLen() > sf.n {
			return fmt.Errorf("%s=%s: value does not fit in %d bits", k, v, sf.n)
		}
		p.addView(ni, n.Shl(sf.ofs), Ones(sf.n).Shl(sf.ofs), k, ni.pre)
		return nil
	}
	ni, ok := byName[k]
	if !ok {
		if skipped[k] {
			return nil // statistics
		}
		if g, ok := byNXM[k]; ok {
			return fmt.Errorf("%s=%s: a match names a field by its OVS name (e.g. %s), not its NXM/OXM name", k, v, g.actionField())
		}
		return fmt.Errorf("unknown or unsupported match field %q", k)
	}
	f := ni.actionField()
	value, mask, err := parseValue(f, v)
	if err != nil {
		return fmt.Errorf("%s=%s: %w", k, v, err)
	}
	if !f.Maskable() && mask != Ones(f.Bits()) {
		return fmt.Errorf("%s=%s: %s cannot be masked", k, v, k)
	}
	p.addView(ni, value, mask, k, ni.pre)
	return nil
}

// addView adds a match on a field or a view (value and mask in the view's
// bits) as matches on the fields it is.
func (p *flowParser) addView(ni nameInfo, value, mask Value, name string, pre Prereq) {
	switch {
	case ni.view >= FieldXReg0 && ni.view <= FieldXReg7:
		hi := Reg(2 * int(ni.view-FieldXReg0))
		lo := Reg(2*int(ni.view-FieldXReg0) + 1)
		p.addMatch(MatchField{Field: hi, Value: U64(value.Lo >> 32), Mask: U64(mask.Lo >> 32)}, name, pre)
		p.addMatch(MatchField{Field: lo, Value: U64(value.Lo & 0xffffffff), Mask: U64(mask.Lo & 0xffffffff)}, name, pre)
	default: // vlan_vid is the low 13 bits of the TCI
		p.addMatch(MatchField{Field: ni.f, Value: value, Mask: mask}, name, pre)
	}
}

// subfield is FIELD[ofs..ofs+n-1].
type subfield struct {
	f      Field // the field named (a view in actions)
	ofs, n int
}

// parseSubfield parses FIELD, FIELD[], FIELD[i] or FIELD[i..j], FIELD an
// NXM/OXM name or an OVS name.
func parseSubfield(s string) (subfield, nameInfo, error) {
	name, rest, hasBits := strings.Cut(s, "[")
	ni, ok := byNXM[name]
	if !ok {
		ni, ok = byName[name]
	}
	if !ok {
		return subfield{}, ni, fmt.Errorf("%s: unknown or unsupported field %q", s, name)
	}
	f := ni.actionField()
	sf := subfield{f: f, n: f.Bits()}
	if !hasBits {
		return sf, ni, nil
	}
	inner, ok := strings.CutSuffix(rest, "]")
	if !ok {
		return subfield{}, ni, fmt.Errorf("%s: want [], [bit] or [start..end]", s)
	}
	if inner == "" {
		return sf, ni, nil
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
		return subfield{}, ni, fmt.Errorf("%s: want [], [bit] or [start..end]", s)
	case start < 0 || start > end:
		return subfield{}, ni, fmt.Errorf("%s: starting bit %d is after ending bit %d", s, start, end)
	case end >= f.Bits():
		return subfield{}, ni, fmt.Errorf("%s: bit %d is outside %s, which has %d bits", s, end, name, f.Bits())
	}
	return subfield{f: f, ofs: start, n: end - start + 1}, ni, nil
}

// parseValue parses v, a value of f with an optional /mask (all ones when
// there is none).
func parseValue(f Field, v string) (value, mask Value, err error) {
	val, m, hasMask := strings.Cut(v, "/")
	full := Ones(f.Bits())
	fm := fmtHex
	if f < numFields {
		fm = fieldInfos[f].format
	}
	switch fm {
	case fmtMAC:
		value, err = parseMAC(val)
		if err == nil && hasMask {
			mask, err = parseMAC(m)
		}
	case fmtIPv4, fmtIPv6:
		value, mask, err = parseIPMasked(val, m, hasMask, fm == fmtIPv6)
	case fmtPort:
		if strings.EqualFold(val, "LOCAL") {
			value = U64(PortLocal)
		} else {
			value, err = parseUint(val)
			if err == nil && (value.BitLen() > 16 || (value.Lo >= 0xff00 && value.Lo != PortLocal)) {
				err = fmt.Errorf("%s is not an OpenFlow port number (1..65279 or LOCAL)", val)
			}
		}
		if err == nil && hasMask {
			mask, err = parseUint(m)
		}
	default:
		value, err = parseUint(val)
		if err == nil && hasMask {
			mask, err = parseUint(m)
		}
	}
	if err != nil {
		return Value{}, Value{}, err
	}
	if !hasMask {
		mask = full
	}
	if value.AndNot(full) != (Value{}) || mask.AndNot(full) != (Value{}) {
		return Value{}, Value{}, fmt.Errorf("does not fit in the field's %d bits", f.Bits())
	}
	return value.And(mask), mask, nil
}

// parseUint parses an unsigned integer as OVS's parse_int_string does:
// hexadecimal with 0x, otherwise decimal; up to 128 bits.
func parseUint(s string) (Value, error) {
	if s == "" {
		return Value{}, fmt.Errorf("empty number")
	}
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		h := s[2:]
		var v Value
		digits := 0
		for i := 0; i < len(h); i++ {
			c := h[i]
			var d byte
			switch {
			case c >= '0' && c <= '9':
				d = c - '0'
			case c >= 'a' && c <= 'f':
				d = c - 'a' + 10
			case c >= 'A' && c <= 'F':
				d = c - 'A' + 10
			default:
				return Value{}, fmt.Errorf("%q is not a hexadecimal number", s)
			}
			if digits > 0 || d != 0 {
				digits++
			}
			if digits > 32 {
				return Value{}, fmt.Errorf("%q is not a number of at most 128 bits", s)
			}
			v = Value{Hi: v.Hi<<4 | v.Lo>>60, Lo: v.Lo<<4 | uint64(d)}
		}
		return v, nil
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || n > (^uint64(0)-9)/10 {
			if c >= '0' && c <= '9' {
				return Value{}, fmt.Errorf("%q is out of range", s)
			}
			return Value{}, fmt.Errorf("%q is not a number (decimal, or hexadecimal with 0x)", s)
		}
		n = n*10 + uint64(c-'0')
	}
	return U64(n), nil
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseMAC parses xx:xx:xx:xx:xx:xx.
func parseMAC(s string) (Value, error) {
	if len(s) != 17 {
		return Value{}, fmt.Errorf("%q is not an Ethernet address (xx:xx:xx:xx:xx:xx)", s)
	}
	var v uint64
	for i := 0; i < 6; i++ {
		hi, ok1 := hexNibble(s[3*i])
		lo, ok2 := hexNibble(s[3*i+1])
		if !ok1 || !ok2 || (i < 5 && s[3*i+2] != ':') {
			return Value{}, fmt.Errorf("%q is not an Ethernet address (xx:xx:xx:xx:xx:xx)", s)
		}
		v = v<<8 | uint64(hi<<4|lo)
	}
	return U64(v), nil
}

// parseIP parses an address of one family.
func parseIP(s string, six bool) (Value, error) {
	if !six {
		var v uint64
		parts := 0
		for i := 0; i < len(s); {
			j := i
			var n uint64
			for j < len(s) && s[j] >= '0' && s[j] <= '9' && j-i < 3 {
				n = n*10 + uint64(s[j]-'0')
				j++
			}
			if j == i || n > 255 || (j-i > 1 && s[i] == '0') {
				return Value{}, fmt.Errorf("%q is not an IPv4 address", s)
			}
			v = v<<8 | n
			parts++
			i = j
			if i < len(s) {
				if s[i] != '.' || parts == 4 || i == len(s)-1 {
					return Value{}, fmt.Errorf("%q is not an IPv4 address", s)
				}
				i++
			}
		}
		if parts != 4 {
			return Value{}, fmt.Errorf("%q is not an IPv4 address", s)
		}
		return U64(v), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is6() || a.Zone() != "" {
		return Value{}, fmt.Errorf("%q is not an IPv6 address", s)
	}
	return IPValue(a), nil
}

// parseIPMasked parses an address with an optional /prefix-length or
// /address mask.
func parseIPMasked(val, m string, hasMask, six bool) (value, mask Value, err error) {
	if value, err = parseIP(val, six); err != nil {
		return
	}
	bitsN := 32
	if six {
		bitsN = 128
	}
	if !hasMask {
		return value, Ones(bitsN), nil
	}
	if n, perr := parseUint(m); perr == nil && !strings.ContainsAny(m, ".:") {
		if n.Hi != 0 || n.Lo > uint64(bitsN) {
			family := "IPv4"
			if six {
				family = "IPv6"
			}
			return Value{}, Value{}, fmt.Errorf("/%s is not a prefix length of an %s address", m, family)
		}
		mask = Ones(bitsN).AndNot(Ones(bitsN - int(n.Lo)))
	} else if mask, err = parseIP(m, six); err != nil {
		return
	}
	return value.And(mask), mask, nil
}

// actionParser holds what the parse of a flow's actions needs. The
// actions are gathered in a fixed array (spilling into more).
type actionParser struct {
	proto  Proto
	tagged bool // a VLAN tag is known to be there (for mod_vlan_vid)
	buf    [32]Action
	n      int
	more   Actions
}

func (ap *actionParser) add(a Action) {
	if ap.n < len(ap.buf) {
		ap.buf[ap.n] = a
	} else {
		ap.more = append(ap.more, a)
	}
	ap.n++
}

func (ap *actionParser) at(i int) *Action {
	if i < len(ap.buf) {
		return &ap.buf[i]
	}
	return &ap.more[i-len(ap.buf)]
}

func parseActions(text string, m Match) (Actions, error) {
	var ap actionParser
	ap.proto = m.Proto()
	if e, ok := m.Get(FieldVLANTCI); ok && e.Mask.Lo&0x1000 != 0 && e.Value.Lo&0x1000 != 0 {
		ap.tagged = true
	}
	drop, err := ap.list(text, false)
	if err != nil {
		return nil, err
	}
	switch {
	case drop && ap.n > 0:
		return nil, fmt.Errorf("\"drop\" must not be accompanied by any other action or instruction")
	case !drop && ap.n == 0:
		return nil, fmt.Errorf("empty actions= (write actions=drop)")
	}
	if ap.n == 0 {
		return nil, nil
	}
	out := make(Actions, ap.n)
	copy(out, ap.buf[:min(ap.n, len(ap.buf))])
	copy(out[min(ap.n, len(ap.buf)):], ap.more)
	return out, nil
}

// list parses a list of actions (a flow's, or a clone's) onto ap.out.
func (ap *actionParser) list(text string, nested bool) (drop bool, err error) {
	sc := scanner{s: text}
	for {
		it, ok := sc.next()
		if !ok {
			return drop, nil
		}
		as := text[it.start:it.end]
		k := strings.ToLower(it.key)
		if k == "drop" {
			if it.hasValue {
				return drop, fmt.Errorf("%s: drop takes no argument", as)
			}
			drop = true
			continue
		}
		if err := ap.action(k, it, as); err != nil {
			return drop, err
		}
	}
}

func (ap *actionParser) action(k string, it item, as string) error {
	v := it.value
	switch k {
	case "in_port", "strip_vlan", "pop_vlan", "local":
		if it.hasValue {
			return fmt.Errorf("%s: %s takes no argument", as, k)
		}
	case "output", "load", "set_field", "move", "mod_dl_src", "mod_dl_dst", "mod_nw_src", "mod_nw_dst",
		"mod_tp_src", "mod_tp_dst", "set_tunnel", "set_tunnel64", "mod_vlan_vid", "set_vlan_vid",
		"push_vlan", "resubmit", "goto_table", "write_metadata", "clone", "note":
		if !it.hasValue {
			return fmt.Errorf("%s: %s needs an argument", as, k)
		}
	}
	switch k {
	case "output":
		return ap.output(v, as)
	case "in_port":
		ap.add(OutputInPort())
	case "local":
		ap.add(Output(PortLocal))
	case "load":
		return ap.load(v, as)
	case "set_field":
		return ap.setField(v, as)
	case "move":
		return ap.move(v, as)
	case "mod_dl_src", "mod_dl_dst":
		val, err := parseMAC(v)
		if err != nil {
			return fmt.Errorf("%s: %w", as, err)
		}
		f := FieldEthSrc
		if k == "mod_dl_dst" {
			f = FieldEthDst
		}
		ap.add(SetField(f, val))
	case "mod_nw_src", "mod_nw_dst":
		val, err := parseIP(v, false)
		if err != nil {
			return fmt.Errorf("%s: %w", as, err)
		}
		f := FieldIPSrc
		if k == "mod_nw_dst" {
			f = FieldIPDst
		}
		return ap.write(SetField(f, val), f.Prereq(), as)
	case "mod_tp_src", "mod_tp_dst":
		val, err := parseUint(v)
		if err != nil || val.BitLen() > 16 {
			return fmt.Errorf("%s: want a port 0..65535", as)
		}
		f := FieldTpSrc
		if k == "mod_tp_dst" {
			f = FieldTpDst
		}
		return ap.write(SetField(f, val), PrereqL4, as)
	case "set_tunnel", "set_tunnel64":
		val, err := parseUint(v)
		switch {
		case err != nil:
			return fmt.Errorf("%s: %w", as, err)
		case k == "set_tunnel" && val.BitLen() > 32:
			return fmt.Errorf("%s: set_tunnel takes 32 bits (use set_tunnel64)", as)
		case val.BitLen() > 64:
			return fmt.Errorf("%s: a tunnel id has 64 bits", as)
		}
		ap.add(SetField(FieldTunID, val))
	case "mod_vlan_vid", "set_vlan_vid":
		n, err := parseUint(v)
		if err != nil || n.Hi != 0 || n.Lo > 4095 {
			return fmt.Errorf("%s: %s is not a VID (0..4095)", as, v)
		}
		// Under OpenFlow 1.3, OVS sends mod_vlan_vid as a push_vlan (if
		// the packet is not known to be tagged) and a set_field.
		if k == "mod_vlan_vid" && !ap.tagged {
			ap.add(PushVLAN(0x8100))
		}
		ap.tagged = true
		ap.add(SetField(FieldVLANVID, U64(0x1000|n.Lo)))
	case "push_vlan":
		n, err := parseUint(v)
		if err != nil || n.Hi != 0 || n.Lo > 0xffff {
			return fmt.Errorf("%s: want an EtherType", as)
		}
		ap.tagged = true
		ap.add(PushVLAN(uint16(n.Lo)))
	case "strip_vlan", "pop_vlan":
		ap.tagged = false
		ap.add(PopVLAN())
	case "resubmit":
		return ap.resubmit(it, as)
	case "goto_table":
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil || n > 254 {
			return fmt.Errorf("%s: want a table number 0..254", as)
		}
		ap.add(GotoTable(int(n)))
	case "write_metadata":
		val, mask, err := parseValue(FieldMetadata, v)
		if err != nil {
			return fmt.Errorf("%s: %w", as, err)
		}
		ap.add(Action{Op: OpWriteMetadata, Value: Value{Hi: mask.Lo, Lo: val.Lo}})
	case "note":
		return ap.note(v, as)
	case "clone":
		if it.delim != '(' {
			return fmt.Errorf("%s: want clone(actions)", as)
		}
		at := ap.n
		ap.add(Action{Op: OpClone})
		tagged := ap.tagged
		drop, err := ap.list(v, true)
		if err != nil {
			return err
		}
		if drop {
			return fmt.Errorf("%s: \"drop\" inside clone", as)
		}
		ap.tagged = tagged // the clone's VLAN changes do not outlive it
		ap.at(at).Port = uint32(ap.n - at - 1)
	default:
		if n, err := parseUint(k); err == nil && !it.hasValue {
			return ap.output(strconv.FormatUint(n.Lo, 10), as)
		}
		return fmt.Errorf("unknown or unsupported action %q", as)
	}
	return nil
}

// write adds a write of a field, checking the prerequisite of the name it
// was written by.
func (ap *actionParser) write(a Action, pre Prereq, as string) error {
	f := a.Field
	if !f.Writable() {
		return fmt.Errorf("%s: %s is read-only", as, setName(f, ap.proto))
	}
	if !pre.OK(ap.proto) {
		return fmt.Errorf("%s: writing %s needs %s in the flow's match (OVS refuses the flow: OFPBAC_MATCH_INCONSISTENT)", as, setName(f, ap.proto), pre)
	}
	if f == FieldVLANTCI && a.Op == OpSetField {
		ap.tagged = a.Value.Lo&0x1000 != 0
	}
	ap.add(a)
	return nil
}

func (ap *actionParser) output(v, as string) error {
	switch {
	case strings.EqualFold(v, "in_port"):
		ap.add(OutputInPort())
		return nil
	case strings.EqualFold(v, "LOCAL"):
		ap.add(Output(PortLocal))
		return nil
	}
	name, _, _ := strings.Cut(v, "[")
	if _, ok := byNXM[name]; ok || strings.IndexByte(v, '[') >= 0 || byName[name].f != FieldNone {
		sf, _, err := parseSubfield(v)
		if err != nil {
			return err
		}
		ap.add(Action{Op: OpOutputField, Field: sf.f, Ofs: uint8(sf.ofs), Bits: uint8(sf.n)})
		return nil
	}
	n, err := parseUint(v)
	switch {
	case err != nil:
		return fmt.Errorf("%s: unknown or unsupported output port %q (ports by name are not supported: dump with --no-names)", as, v)
	case n.IsZero() || n.Hi != 0 || n.Lo >= 0xff00:
		return fmt.Errorf("%s: %s is not an OpenFlow port (1..65279, LOCAL, in_port)", as, v)
	}
	ap.add(Output(uint32(n.Lo)))
	return nil
}

func (ap *actionParser) resubmit(it item, as string) error {
	var port, table string
	if it.delim != '(' {
		port = it.value // resubmit:PORT
	} else {
		var ok bool
		port, table, ok = strings.Cut(it.value, ",")
		if ok && strings.IndexByte(table, ',') >= 0 {
			return fmt.Errorf("%s: want resubmit(port,table) (the ct variant is not supported)", as)
		}
	}
	a := Action{Op: OpResubmit, Table: TableCurrent}
	if port != "" && !strings.EqualFold(port, "in_port") {
		if strings.EqualFold(port, "LOCAL") {
			a.Port = PortLocal
		} else {
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 || n >= 0xff00 {
				return fmt.Errorf("%s: %q is not an OpenFlow port number", as, port)
			}
			a.Port = uint32(n)
		}
	}
	if table != "" {
		n, err := strconv.ParseUint(table, 10, 16)
		if err != nil || n > 254 {
			return fmt.Errorf("%s: want a table number 0..254", as)
		}
		a.Table = uint8(n)
	}
	if port == "" && table == "" {
		return fmt.Errorf("%s: at least one of port and table must be given", as)
	}
	ap.add(a)
	return nil
}

// load parses load:VALUE->DST[bits]. Loads wider than 64 bits are split
// into 64-bit loads, as OVS prints them.
func (ap *actionParser) load(v, as string) error {
	val, dst, ok := strings.Cut(v, "->")
	if !ok {
		return fmt.Errorf("%s: want load:value->field[bits]", as)
	}
	sf, ni, err := parseSubfield(dst)
	if err != nil {
		return fmt.Errorf("%s: %w", as, err)
	}
	n, err := parseUint(val)
	if err != nil {
		return fmt.Errorf("%s: %w", as, err)
	}
	if n.BitLen() > sf.n {
		return fmt.Errorf("%s: value %s does not fit into %d bits", as, val, sf.n)
	}
	return ap.loads(sf.f, n.Shl(sf.ofs), Ones(sf.n).Shl(sf.ofs), ni.wpre, as)
}

// loads writes value into the bits of mask of f, one load per run of the
// mask, at most 64 bits each (OVS's reg_load segments).
func (ap *actionParser) loads(f Field, value, mask Value, pre Prereq, as string) error {
	for !mask.IsZero() {
		ofs, _, _ := mask.onesRun()
		run := mask.Shr(ofs)
		n := 0
		for n < 64 && run.Lo&1 == 1 {
			run = run.Shr(1)
			n++
		}
		seg := value.Shr(ofs).And(Ones(n))
		if err := ap.write(Action{Op: OpLoad, Field: f, Ofs: uint8(ofs), Bits: uint8(n), Value: seg}, pre, as); err != nil {
			return err
		}
		mask = mask.AndNot(Ones(n).Shl(ofs))
	}
	return nil
}

// setField parses set_field:VALUE[/MASK]->FIELD (FIELD an OVS name).
func (ap *actionParser) setField(v, as string) error {
	i := strings.LastIndex(v, "->")
	if i < 0 {
		return fmt.Errorf("%s: want set_field:value->field", as)
	}
	val, name := v[:i], v[i+2:]
	ni, ok := byName[name]
	if !ok {
		if g, ok := byNXM[strings.TrimSuffix(name, "[]")]; ok {
			return fmt.Errorf("%s: set_field takes OVS field names (%s), not NXM/OXM names", as, g.actionField())
		}
		return fmt.Errorf("%s: unknown or unsupported field %q", as, name)
	}
	f := ni.actionField()
	value, mask, err := parseValue(f, val)
	if err != nil {
		return fmt.Errorf("%s: %w", as, err)
	}
	if mask != Ones(f.Bits()) {
		// OVS holds a masked set_field as a reg_load: it prints loads.
		return ap.loads(f, value, mask, ni.wpre, as)
	}
	return ap.write(SetField(f, value), ni.wpre, as)
}

// move parses move:SRC[bits]->DST[bits].
func (ap *actionParser) move(v, as string) error {
	s, d, ok := strings.Cut(v, "->")
	if !ok {
		return fmt.Errorf("%s: want move:src[bits]->dst[bits]", as)
	}
	src, sni, err := parseSubfield(s)
	if err != nil {
		return fmt.Errorf("%s: %w", as, err)
	}
	dst, dni, err := parseSubfield(d)
	if err != nil {
		return fmt.Errorf("%s: %w", as, err)
	}
	if src.n != dst.n {
		return fmt.Errorf("%s: source has %d bits, destination %d", as, src.n, dst.n)
	}
	if !sni.wpre.OK(ap.proto) && !sni.pre.OK(ap.proto) {
		return fmt.Errorf("%s: reading %s needs %s in the flow's match (OVS refuses the flow: OFPBAC_MATCH_INCONSISTENT)", as, setName(src.f, ap.proto), sni.wpre)
	}
	a := Action{Op: OpMove, Src: src.f, SrcOfs: uint8(src.ofs), Field: dst.f, Ofs: uint8(dst.ofs), Bits: uint8(dst.n)}
	return ap.write(a, dni.wpre, as)
}

// note parses note:HEX[.HEX...] and pads it as OVS does (the action's
// length to a multiple of 8 bytes).
func (ap *actionParser) note(v, as string) error {
	var data []byte
	for i := 0; i < len(v); {
		if v[i] == '.' {
			i++
			continue
		}
		if i+1 >= len(v) {
			return fmt.Errorf("%s: want hexadecimal bytes", as)
		}
		hi, ok1 := hexNibble(v[i])
		lo, ok2 := hexNibble(v[i+1])
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: want hexadecimal bytes", as)
		}
		data = append(data, hi<<4|lo)
		i += 2
	}
	n := (len(data)+10+7)/8*8 - 10
	if n > 16 {
		return fmt.Errorf("%s: notes of more than 14 bytes are not supported", as)
	}
	var buf [16]byte
	copy(buf[:], data)
	var val Value
	for i := 0; i < 8; i++ {
		val.Hi = val.Hi<<8 | uint64(buf[i])
		val.Lo = val.Lo<<8 | uint64(buf[8+i])
	}
	ap.add(Action{Op: OpNote, Bits: uint8(n), Value: val})
	return nil
}
