package sim

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/loom-sdn/loom/flows"
)

// Limits of one packet's translation, as OVS's (ofproto-dpif-xlate.c):
// depth counts nested lookups in a table not after the current one (a
// chain of goto_table or resubmits to later tables is finite and does not
// count); resubmits counts every lookup after the first.
const (
	MaxDepth     = 64
	MaxResubmits = MaxDepth * MaxDepth
)

// Output is one copy of the packet leaving the switch.
type Output struct {
	Port   int
	Packet Packet // as it leaves: VLAN, tun_id, addresses as the actions left them
	Regs   Regs   // the registers at the output action
	Step   int    // index in Result.Steps of the flow whose action output it
}

// Step is one table lookup.
type Step struct {
	Table int
	// Via is how the lookup was reached: "start", "goto_table" or
	// "resubmit".
	Via string
	// Depth is the resubmit nesting: 0 in the main pipeline, 1 inside a
	// resubmit, and so on.
	Depth int
	// InPort is the in_port the lookup matched against (resubmit(P,T)
	// uses P for the lookup only).
	InPort int
	Regs   Regs // metadata and registers at the lookup
	// Miss: no flow matched; the packet is dropped (a resubmit's miss just
	// returns to the action after the resubmit).
	Miss     bool
	Priority int
	Cookie   uint64
	Line     int    // of the matched flow in Parse's input
	Flow     string // the matched flow's text
	// Packet is the packet as a missed lookup saw it (set on a miss only).
	Packet Packet
}

// Result is what became of one packet.
type Result struct {
	Outputs []Output
	Steps   []Step
	// Trace is a readable account of the walk, one line per lookup and per
	// noteworthy action (outputs, skipped outputs, ignored set_fields).
	Trace   []string
	Dropped bool // no output at all
}

// Ports lists the ports of the outputs, in order.
func (r Result) Ports() []int {
	var ps []int
	for _, o := range r.Outputs {
		ps = append(ps, o.Port)
	}
	return ps
}

// OutputTo returns the first output to port.
func (r Result) OutputTo(port int) (Output, bool) {
	for _, o := range r.Outputs {
		if o.Port == port {
			return o, true
		}
	}
	return Output{}, false
}

// Tables lists the tables looked up, in order.
func (r Result) Tables() []int {
	var ts []int
	for _, s := range r.Steps {
		ts = append(ts, s.Table)
	}
	return ts
}

// StepIn returns the first lookup in table.
func (r Result) StepIn(table int) (Step, bool) {
	for _, s := range r.Steps {
		if s.Table == table {
			return s, true
		}
	}
	return Step{}, false
}

// String is the trace.
func (r Result) String() string { return strings.Join(r.Trace, "\n") }

// Run sends p through the switch from table 0 with all registers zero.
func (sw *Switch) Run(p Packet) (Result, error) {
	return sw.RunFrom(0, p, Regs{})
}

// RunFrom sends p through the switch from table with the given metadata
// and registers, for testing one stage of a pipeline. On an error (an
// ambiguous match, a loop, something not simulated) the Result holds the
// walk up to the error.
func (sw *Switch) RunFrom(table int, p Packet, regs Regs) (Result, error) {
	if err := p.check(); err != nil {
		return Result{}, fmt.Errorf("packet: %w", err)
	}
	if table < 0 || table > 254 {
		return Result{}, fmt.Errorf("table %d: want 0..254", table)
	}
	r := &runner{sw: sw, s: newState(p, regs), res: &Result{}}
	r.logf(0, "packet: %s", p)
	err := r.lookup(table, -1, "start", -1)
	r.res.Dropped = len(r.res.Outputs) == 0
	if r.res.Dropped && err == nil {
		r.logf(0, "dropped: no output")
	}
	return *r.res, err
}

type runner struct {
	sw        *Switch
	s         *state
	res       *Result
	depth     int // OVS's translation depth
	resubmits int
	nest      int // resubmit nesting, for Step.Depth and the trace
}

func (r *runner) logf(indent int, format string, args ...any) {
	r.res.Trace = append(r.res.Trace, strings.Repeat("    ", indent)+fmt.Sprintf(format, args...))
}

// find returns the flow of table that matches the current state, with
// in_port as given.
func (sw *Switch) find(table int, s *state) (*flowEntry, error) {
	var hits []*flowEntry
	for _, f := range sw.tables[table] {
		if len(hits) > 0 && f.priority < hits[0].priority {
			break
		}
		if f.matches(s) {
			hits = append(hits, f)
		}
	}
	switch len(hits) {
	case 0:
		return nil, nil
	case 1:
		return hits[0], nil
	}
	var lines []string
	for _, f := range hits {
		lines = append(lines, fmt.Sprintf("line %d", f.line))
	}
	return nil, fmt.Errorf("table %d: the packet matches %d flows of priority %d (%s); OVS would pick one arbitrarily",
		table, len(hits), hits[0].priority, strings.Join(lines, ", "))
}

// lookup looks the packet up in table and runs the flow it matches. inPort
// >= 0 replaces in_port for the lookup only (resubmit(P,T)); from is the
// table of the flow that sent the packet here (-1 at the start).
func (r *runner) lookup(table, inPort int, via string, from int) error {
	if r.depth >= MaxDepth {
		return fmt.Errorf("table %d: over the maximum translation depth %d (a resubmit loop?)", table, MaxDepth)
	}
	if r.resubmits >= MaxResubmits {
		return fmt.Errorf("table %d: over %d resubmits", table, MaxResubmits)
	}
	saved := r.s.p.InPort
	if inPort >= 0 {
		r.s.p.InPort = inPort
	}
	step := Step{Table: table, Via: via, Depth: r.nest, InPort: r.s.p.InPort, Regs: r.s.regs}
	f, err := r.sw.find(table, r.s)
	r.s.p.InPort = saved
	if err != nil {
		return err
	}
	idx := len(r.res.Steps)
	portNote := ""
	if inPort >= 0 {
		portNote = fmt.Sprintf(" (as from port %d)", inPort)
	}
	if f == nil {
		step.Miss = true
		if p, err := r.s.packet(); err == nil {
			p.InPort = step.InPort
			step.Packet = p
		}
		r.res.Steps = append(r.res.Steps, step)
		if r.nest > 0 {
			r.logf(r.nest, "table %d%s: no flow matches (table miss): nothing to do", table, portNote)
		} else {
			r.logf(r.nest, "table %d%s: no flow matches (table miss): drop", table, portNote)
		}
		return nil
	}
	step.Priority, step.Cookie, step.Line, step.Flow = f.priority, f.cookie, f.line, f.text
	r.res.Steps = append(r.res.Steps, step)
	r.logf(r.nest, "table %d%s: %s", table, portNote, f.text)

	deepens := 0
	if from >= 0 {
		r.resubmits++
		if table <= from {
			deepens = 1
		}
	}
	r.depth += deepens
	err = r.exec(f, table, idx)
	r.depth -= deepens
	return err
}

func (r *runner) exec(f *flowEntry, table, step int) error {
	return r.actions(f.actions, f.proto, table, step)
}

func (r *runner) actions(acts flows.Actions, p flows.Proto, table, step int) error {
	ind := r.nest + 1
	for i := 0; i < len(acts); i++ {
		a := &acts[i]
		text := func() string { return a.Text(p) }
		switch a.Op {
		case flows.OpOutput:
			if err := r.output(int(a.Port), text(), step); err != nil {
				return err
			}
		case flows.OpOutputField:
			v := read(a.Field, r.s).Shr(int(a.Ofs)).And(flows.Ones(int(a.Bits)))
			if v.Hi != 0 || v.Lo > 0xffff {
				r.logf(ind, "%s: port %#x is out of range: nothing sent", text(), v.Lo)
				continue
			}
			if err := r.output(int(v.Lo), text(), step); err != nil {
				return err
			}
		case flows.OpLoad, flows.OpSetField:
			if pr := a.Field.Prereq(); !pr.OK(r.s.proto()) {
				r.logf(ind, "%s: ignored: the packet has no %s (needs %s)", text(), a.Field, pr)
				continue
			}
			ofs, n := int(a.Ofs), int(a.Bits)
			if a.Op == flows.OpSetField {
				ofs, n = 0, a.Field.Bits()
			}
			write(a.Field, r.s, a.Value.Shl(ofs), flows.Ones(n).Shl(ofs))
		case flows.OpMove:
			v := r.s.proto()
			for _, f := range []flows.Field{a.Src, a.Field} {
				if !f.Prereq().OK(v) && !f.MatchPrereq().OK(v) {
					return fmt.Errorf("%s: the packet has no %s (needs %s); OVS would use the bits of another field stored in the same place: not simulated",
						text(), f, f.Prereq())
				}
			}
			bits := read(a.Src, r.s).Shr(int(a.SrcOfs)).And(flows.Ones(int(a.Bits)))
			write(a.Field, r.s, bits.Shl(int(a.Ofs)), flows.Ones(int(a.Bits)).Shl(int(a.Ofs)))
		case flows.OpPushVLAN:
			if r.s.tci&0x1000 != 0 {
				return fmt.Errorf("%s: the packet already has a VLAN tag; double tagging is not simulated", text())
			}
			r.s.tci = 0x1000
		case flows.OpPopVLAN:
			r.s.tci = 0
		case flows.OpGotoTable:
			return r.lookup(int(a.Table), -1, "goto_table", table)
		case flows.OpResubmit:
			t := int(a.Table)
			if a.Table == flows.TableCurrent {
				t = table
			}
			port := -1
			if a.Port != 0 {
				port = int(a.Port)
			}
			r.nest++
			err := r.lookup(t, port, "resubmit", table)
			r.nest--
			if err != nil {
				return err
			}
		case flows.OpClone:
			n := min(int(a.Port), len(acts)-i-1)
			saved := *r.s
			saved.p = r.s.p.clone()
			err := r.actions(acts[i+1:i+1+n], p, table, step)
			*r.s = saved
			if err != nil {
				return err
			}
			i += n
		case flows.OpWriteMetadata:
			r.s.regs.Metadata = r.s.regs.Metadata&^a.Value.Hi | a.Value.Lo&a.Value.Hi
		case flows.OpNote:
		default:
			return fmt.Errorf("%s: not simulated", text())
		}
	}
	return nil
}

// output is output:PORT: OVS never sends a packet back out of the port it
// came in on unless asked with in_port.
func (r *runner) output(port int, how string, step int) error {
	ind := r.nest + 1
	switch {
	case port == 0xfff8: // OFPP_IN_PORT, from a register
		if r.s.p.InPort == 0 {
			r.logf(ind, "%s: the packet has no in_port: nothing sent", how)
			return nil
		}
		return r.emit(r.s.p.InPort, how, step)
	case port == 0 || port == 0xffff:
		r.logf(ind, "%s: port %d: nothing sent", how, port)
		return nil
	case port >= 0xff00 && port != PortLocal:
		return fmt.Errorf("%s: reserved port %#x (NORMAL, FLOOD, ALL, CONTROLLER, TABLE) is not simulated", how, port)
	case port == r.s.p.InPort:
		r.logf(ind, "%s: skipped: the packet came in on port %d (OVS never sends it back out unless told in_port)", how, port)
		return nil
	}
	return r.emit(port, how, step)
}

func (r *runner) emit(port int, how string, step int) error {
	p, err := r.s.packet()
	if err != nil {
		return fmt.Errorf("%s: %w", how, err)
	}
	r.res.Outputs = append(r.res.Outputs, Output{Port: port, Packet: p, Regs: r.s.regs, Step: step})
	r.logf(r.nest+1, "%s -> port %d: %s", how, port, p)
	return nil
}

// String renders the packet's non-zero fields, e.g.
// "in_port=5 02:00:00:00:0a:01>ff:ff:ff:ff:ff:ff arp op=1 192.0.2.1>192.0.2.2".
func (p Packet) String() string {
	var f []string
	add := func(format string, args ...any) { f = append(f, fmt.Sprintf(format, args...)) }
	mac := func(m net.HardwareAddr) string {
		if m == nil {
			return "00:00:00:00:00:00"
		}
		return m.String()
	}
	addr := func(a netip.Addr) string {
		if !a.IsValid() {
			return "unset"
		}
		return a.String()
	}
	if p.InPort != 0 {
		add("in_port=%d", p.InPort)
	}
	if p.TunID != 0 || p.TunSrc.IsValid() || p.TunDst.IsValid() {
		add("tun_id=%#x", p.TunID)
		if p.TunSrc.IsValid() || p.TunDst.IsValid() {
			add("tun=%s>%s", addr(p.TunSrc), addr(p.TunDst))
		}
	}
	if p.VLAN != 0 {
		add("vlan=%d", p.VLAN)
	}
	add("%s>%s", mac(p.EthSrc), mac(p.EthDst))
	switch {
	case isARP(p.EthType):
		add("arp op=%d %s>%s sha=%s tha=%s", p.ARPOp, addr(p.ARPSpa), addr(p.ARPTpa), mac(p.ARPSha), mac(p.ARPTha))
	case isIP(p.EthType):
		add("%s>%s proto=%d", addr(p.IPSrc), addr(p.IPDst), p.Proto)
		switch {
		case p.Proto == ProtoTCP || p.Proto == ProtoUDP || p.Proto == ProtoSCTP:
			add("ports=%d>%d", p.TPSrc, p.TPDst)
		case p.Proto == ProtoICMP || p.Proto == ProtoICMPv6:
			add("icmp=%d/%d", p.ICMPType, p.ICMPCode)
			if p.NDTarget.IsValid() {
				add("nd_target=%s", p.NDTarget)
			}
			if p.NDSLL != nil {
				add("nd_sll=%s", p.NDSLL)
			}
			if p.NDTLL != nil {
				add("nd_tll=%s", p.NDTLL)
			}
			if p.NDReserved != 0 || p.NDOptionsType != 0 {
				add("nd_reserved=%#x nd_options_type=%d", p.NDReserved, p.NDOptionsType)
			}
		}
	default:
		add("eth_type=%#04x", p.EthType)
	}
	return strings.Join(f, " ")
}
