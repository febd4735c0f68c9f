package sim

import (
	"errors"
	"fmt"
	"sort"

	"github.com/loom-sdn/loom/flows"
)

// Switch is a set of flows: the OpenFlow tables of one bridge.
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
	match    flows.Match
	actions  flows.Actions
	proto    flows.Proto // what the match pins, for the actions' texts
}

func (f *flowEntry) matches(s *state) bool {
	for _, c := range f.match {
		if read(c.Field, s).And(c.Mask) != c.Value {
			return false
		}
	}
	return true
}

// New builds a switch of typed flows, e.g. a host's compiled flows (line
// numbers in results count from 1 in fs). It checks each flow the way OVS
// does when it is added to an OpenFlow 1.3 bridge (flows.Flow.Validate),
// refuses what the simulator does not model (VLAN priorities, two VLAN
// tags, moves into vlan_vid), and refuses two flows with the same table,
// priority and match (on a switch one would replace the other). Every
// error names its line ("line 7: ..."); all are reported.
func New(fs []flows.Flow) (*Switch, error) {
	lines := make([]int, len(fs))
	for i := range lines {
		lines[i] = i + 1
	}
	return build(fs, lines, nil)
}

// Parse reads flows in the syntax ovs-ofctl add-flows takes (one flow per
// line, as flows.HostState.FlowText renders them) or the output of
// ovs-ofctl dump-flows (with or without --no-stats; numeric ports, i.e.
// --no-names), through flows.ParseText, and builds the switch as New does.
// Blank lines, lines starting with '#' (after white space) and the
// "NXST_FLOW reply"/"OFPST_FLOW reply" header lines are skipped.
//
// The parser is strict, so that what the simulator accepts is what OVS
// installs unchanged: unknown or unsupported keywords, fields and actions
// are errors, and so is every flow OVS would refuse or silently change
// (see flows.ParseFlow and flows.Flow.Validate).
func Parse(text string) (*Switch, error) {
	fs, lines, err := flows.ParseText(text)
	return build(fs, lines, err)
}

func build(fs []flows.Flow, lines []int, parseErr error) (*Switch, error) {
	sw := &Switch{tables: map[int][]*flowEntry{}}
	seen := map[flows.Identity]int{} // -> line
	var errs []error
	if parseErr != nil {
		errs = append(errs, parseErr)
	}
	for i := range fs {
		f := &fs[i]
		line := lines[i]
		if err := f.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		if err := simulable(f); err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		id := f.Identity()
		if prev, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("line %d: same table, priority and match as line %d (on a switch one would replace the other)", line, prev))
			continue
		}
		seen[id] = line
		e := &flowEntry{line: line, text: f.String(), table: int(f.Table), priority: int(f.Priority),
			cookie: f.Cookie, match: f.Match, actions: f.Actions, proto: f.Match.Proto()}
		sw.tables[e.table] = append(sw.tables[e.table], e)
		sw.n++
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, es := range sw.tables {
		sort.SliceStable(es, func(i, j int) bool {
			if es[i].priority != es[j].priority {
				return es[i].priority > es[j].priority
			}
			return es[i].line < es[j].line
		})
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

// simulable refuses what OVS accepts but the simulator does not model.
func simulable(f *flows.Flow) error {
	tagged := false
	if e, ok := f.Match.Get(flows.FieldVLANTCI); ok {
		if e.Mask.Lo&0xe000 != 0 && e.Value.Lo&0xe000 != 0 {
			return fmt.Errorf(`match on "dl_vlan_pcp" (VLAN priority %d): priorities are not simulated`, e.Value.Lo>>13)
		}
		tagged = e.Mask.Lo&0x1000 != 0 && e.Value.Lo&0x1000 != 0
	}
	p := f.Match.Proto()
	var check func(acts flows.Actions) error
	check = func(acts flows.Actions) error {
		for i := 0; i < len(acts); i++ {
			a := &acts[i]
			switch {
			case a.Op == flows.OpPushVLAN:
				if tagged {
					return fmt.Errorf("%s: the packet may already carry a VLAN tag; double tagging is not simulated", a.Text(p))
				}
				tagged = true
			case a.Op == flows.OpPopVLAN:
				tagged = false
			case a.Op == flows.OpMove && a.Field == flows.FieldVLANVID:
				return fmt.Errorf("%s: move into vlan_vid is not simulated", a.Text(p))
			case a.Op == flows.OpSetField && a.Field == flows.FieldVLANTCI:
				tagged = a.Value.Lo&0x1000 != 0
			case a.Op == flows.OpClone:
				n := min(int(a.Port), len(acts)-i-1)
				saved := tagged
				if err := check(acts[i+1 : i+1+n]); err != nil {
					return err
				}
				tagged = saved
				i += n
			}
		}
		return nil
	}
	return check(f.Actions)
}
