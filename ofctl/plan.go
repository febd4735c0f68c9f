package ofctl

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/loom-sdn/loom/flows"
)

// Group is a flow group: the flows of one cookie in one table.
type Group struct {
	Table  uint8
	Cookie uint64
}

func groupOf(f *flows.Flow) Group { return Group{f.Table, f.Cookie} }

func compareGroups(a, b Group) int {
	if a.Table != b.Table {
		return cmp.Compare(a.Table, b.Table)
	}
	return cmp.Compare(a.Cookie, b.Cookie)
}

// Plan is what it takes to bring a switch's flows to the desired state.
type Plan struct {
	// Missing are the desired flows the switch lacks; Extra the flows it
	// holds but should not; both sorted (flows.Compare).
	Missing, Extra []flows.Flow
	// Unknown are flows of Loom's cookie space on the switch that Loom's
	// parser does not read (someone else's, with fields or actions Loom
	// never writes): they cannot be desired, so their groups are replaced.
	Unknown []Unknown
	// Groups are the flow groups to replace, sorted.
	Groups []Group
	// Deletes are the groups the bundle deletes first (by table and
	// cookie), sorted; Adds are the desired flows of every group it
	// replaces, in the desired order.
	Deletes []Group
	Adds    []flows.Flow
}

// Empty tells whether the switch already holds the desired flows.
func (p *Plan) Empty() bool { return len(p.Groups) == 0 }

// FlowMods is the size of the bundle.
func (p *Plan) FlowMods() int { return len(p.Deletes) + len(p.Adds) }

// Unknown is a line of a dump that the parser refused: its group, its
// text as the switch printed it, and why.
type Unknown struct {
	Group Group
	Text  string
	Err   error
}

// Observed is what a dump found of Loom's flows on a switch.
type Observed struct {
	Flows   []flows.Flow
	Unknown []Unknown
}

// Len is how many flows the switch holds.
func (o *Observed) Len() int {
	if o == nil {
		return 0
	}
	return len(o.Flows) + len(o.Unknown)
}

// ParseDump parses the output of ovs-ofctl dump-flows.
func ParseDump(dump []byte) (*Observed, error) {
	obs := &Observed{}
	for len(dump) > 0 {
		line := dump
		if i := bytes.IndexByte(dump, '\n'); i >= 0 {
			line, dump = dump[:i], dump[i+1:]
		} else {
			dump = nil
		}
		if err := obs.add(line); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// add parses one line of a dump: a flow, a flow Loom does not know, or
// nothing (a header, a blank line).
func (o *Observed) add(line []byte) error {
	f, u, ok, err := parseDumpLine(line)
	switch {
	case err != nil || !ok:
		return err
	case u != nil:
		o.Unknown = append(o.Unknown, *u)
	default:
		o.Flows = append(o.Flows, f)
	}
	return nil
}

// parseDumpLine parses one line of a dump: a flow, a flow Loom does not
// know (u), or nothing (ok false: a header, a blank line).
func parseDumpLine(line []byte) (f flows.Flow, u *Unknown, ok bool, err error) {
	s := string(line)
	if flows.SkipLine(s) {
		return f, nil, false, nil
	}
	f, perr := flows.ParseFlow(s)
	if perr == nil {
		return f, nil, true, nil
	}
	table, cookie, found := flows.GroupOf(s)
	if !found {
		return f, nil, false, fmt.Errorf("a flow without a cookie in the dump: %q", strings.TrimSpace(s))
	}
	return f, &Unknown{Group: Group{table, cookie}, Text: strings.TrimSpace(s), Err: perr}, true, nil
}

// PlanFlows computes the plan that turns the observed flows (a Dump) into
// the desired ones, comparing them as values (flows.Diff). It contacts no
// switch.
func PlanFlows(desired []flows.Flow, observed *Observed) (*Plan, error) {
	if observed == nil {
		observed = &Observed{}
	}
	missing, extra := flows.Diff(desired, observed.Flows)
	held := make([]bool, len(desired))
	for i := range held {
		held[i] = true
	}
	for _, i := range missing {
		held[i] = false
	}
	stale := make([]flows.Flow, len(extra))
	for k, j := range extra {
		stale[k] = observed.Flows[j]
	}
	return planFrom(desired, held, stale, observed.Unknown)
}

// planFrom builds the plan from the desired flows, which of them the
// switch holds (held[i]), the flows it holds that are not desired, and
// those Loom cannot read.
func planFrom(desired []flows.Flow, held []bool, extra []flows.Flow, unknown []Unknown) (*Plan, error) {
	p := &Plan{Extra: extra, Unknown: unknown}
	// A group with a stale flow on the switch is deleted whole and re-added;
	// a group that only lacks flows is added (an add of a flow the switch
	// already holds identically replaces it with itself).
	dirty := map[Group]bool{} // value: the group has stale flows
	for i := range desired {
		if held[i] {
			continue
		}
		f := &desired[i]
		p.Missing = append(p.Missing, *f)
		if _, ok := dirty[groupOf(f)]; !ok {
			dirty[groupOf(f)] = false
		}
	}
	for i := range extra {
		f := &extra[i]
		if f.Cookie&flows.CookieMask != flows.CookieSpace {
			return nil, fmt.Errorf("flow outside Loom's cookie space in the comparison: %s", f)
		}
		dirty[groupOf(f)] = true
	}
	for _, u := range unknown {
		if u.Group.Cookie&flows.CookieMask != flows.CookieSpace {
			return nil, fmt.Errorf("flow outside Loom's cookie space in the comparison: %s", u.Text)
		}
		dirty[u.Group] = true
	}
	flows.Sort(p.Missing)
	flows.Sort(p.Extra)
	p.bundle(dirty, desired)
	return p, nil
}

// plan compares desired with held, the flows a switch holds (two desired
// states: they cannot hold unknown flows or others' cookies).
func plan(desired, held []flows.Flow) *Plan {
	p, _ := PlanFlows(desired, &Observed{Flows: held})
	return p
}

// bundle fills in the plan's groups and its bundle from the groups to
// replace (true: the group has a flow to remove, so it is deleted first)
// and the desired flows they take their flows from.
func (p *Plan) bundle(dirty map[Group]bool, desired []flows.Flow) {
	if len(dirty) == 0 {
		return
	}
	for g, del := range dirty {
		p.Groups = append(p.Groups, g)
		if del {
			p.Deletes = append(p.Deletes, g)
		}
	}
	slices.SortFunc(p.Groups, compareGroups)
	slices.SortFunc(p.Deletes, compareGroups)
	n := 0
	for i := range desired {
		if _, ok := dirty[groupOf(&desired[i])]; ok {
			n++
		}
	}
	if n == len(desired) {
		p.Adds = desired // every group: share the desired flows
		return
	}
	p.Adds = make([]flows.Flow, 0, n)
	for i := range desired {
		if _, ok := dirty[groupOf(&desired[i])]; ok {
			p.Adds = append(p.Adds, desired[i])
		}
	}
}

// PlanEmpty is the plan for a switch that holds none of Loom's flows: add
// them all (no comparison needed).
func PlanEmpty(desired []flows.Flow) *Plan {
	p := &Plan{Missing: desired}
	dirty := make(map[Group]bool, len(desired)/4)
	for i := range desired {
		dirty[groupOf(&desired[i])] = false // nothing to delete
	}
	p.bundle(dirty, desired)
	return p
}

// PlanDelta is the plan from a switch that holds from's flows to to's,
// computed from the two desired states alone: flow groups whose flows
// differ are replaced (deleted first if they lose a flow), new groups are
// added, groups that go away are deleted.
func PlanDelta(from, to []flows.Flow) *Plan { return plan(to, from) }

// Known remembers, for one host, which desired flows its switch was last
// brought to: a new desired state is then sent as the difference from the
// old one, without reading the switch. The zero value knows nothing; a
// Known is used by one goroutine at a time.
type Known struct {
	desired []flows.Flow
	index   *flows.Index // of desired, once built
}

// same tells whether a and b are the same desired state (the same slice,
// as the compiler made it), not only equal ones.
func same(a, b []flows.Flow) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// reached records that the switch was brought to desired (ix, if set,
// indexes it).
func (k *Known) reached(desired []flows.Flow, ix *flows.Index) {
	if k == nil {
		return
	}
	if !same(k.desired, desired) || ix != nil {
		k.index = ix
	}
	k.desired = desired
}

func (k *Known) forget() {
	if k != nil {
		k.desired, k.index = nil, nil
	}
}

// indexOf is the index of desired that k holds, if any.
func (k *Known) indexOf(desired []flows.Flow) *flows.Index {
	if k != nil && k.index != nil && same(k.index.Flows(), desired) {
		return k.index
	}
	return nil
}

// Sync brings the switch's flows to the desired flows (a host's, as
// compiled: sorted, one flow per identity) and returns the plan it applied
// (empty when the switch was already right). known (may be nil) is what
// the caller remembers of the switch:
//
//   - when the switch was last brought to another desired state, only the
//     difference is sent (PlanDelta), without reading the switch;
//   - otherwise Sync dumps the switch and compares it with the desired
//     flows, by value; a switch that holds none of Loom's flows gets them
//     all.
//
// The plan goes as one bundle (OVS applies it whole or not at all); then
// the switch must hold as many of Loom's flows as it should. A difference
// sent to a switch that turns out not to have held the old state (its
// count is off) is followed at once by the full path.
func (c *Client) Sync(ctx context.Context, desired []flows.Flow, known *Known) (*Plan, error) {
	if known != nil && known.desired != nil && !same(known.desired, desired) {
		p := PlanDelta(known.desired, desired)
		if p.Empty() {
			known.reached(desired, nil) // the same flows
			return p, nil
		}
		known.forget()
		if err := c.Apply(ctx, p); err != nil {
			return p, err
		}
		if n, err := c.FlowCount(ctx); err == nil && n == len(desired) {
			known.reached(desired, nil)
			return p, nil
		}
		// The switch did not hold what Loom last left there: compare it.
	}
	p, ix, _, err := c.compare(ctx, desired, known.indexOf(desired))
	if err != nil {
		return nil, err
	}
	if p.Empty() {
		known.reached(desired, ix) // the index serves the next audit
		return p, nil
	}
	known.forget()
	if err := c.Apply(ctx, p); err != nil {
		return p, err
	}
	// The bundle was applied whole or not at all; what is left to check is
	// that nothing else changed the table meanwhile. The next reconcile
	// compares the whole table again.
	count, err := c.FlowCount(ctx)
	if err != nil {
		return p, fmt.Errorf("verify: %w", err)
	}
	if count != len(desired) {
		return p, fmt.Errorf("verify: the switch holds %d of Loom's flows after the bundle, not %d", count, len(desired))
	}
	known.reached(desired, nil)
	return p, nil
}

// ErrNotKnown is SendDelta's error when known holds no earlier state of
// the switch to send the difference from.
var ErrNotKnown = errors.New("the switch's flows are not known: compare it whole (Sync)")

// Knows tells whether k remembers the switch as brought to flows (the
// same desired state, as the compiler made it).
func (k *Known) Knows(desired []flows.Flow) bool {
	return k != nil && k.desired != nil && same(k.desired, desired)
}

// Forget makes k know nothing: the next Sync compares the whole switch.
func (k *Known) Forget() { k.forget() }

// SendDelta sends the difference between the flows the switch was last
// brought to (known) and desired as one bundle, without reading the
// switch or counting its flows afterwards, and then knows the switch as
// brought to desired: OVS applies a bundle whole or not at all. Checking
// that nobody else changed the switch meanwhile is the caller's (the flow
// monitor's echo of the bundle; a Sync otherwise). On an error known
// knows nothing.
// spare (may be nil) may hold an ovs-ofctl process waiting for the bundle.
func (c *Client) SendDelta(ctx context.Context, desired []flows.Flow, known *Known, spare *Spare) (*Plan, error) {
	if known == nil || known.desired == nil {
		return nil, ErrNotKnown
	}
	p := PlanDelta(known.desired, desired)
	if p.Empty() {
		known.reached(desired, nil)
		return p, nil
	}
	known.forget()
	if err := c.ApplySpare(ctx, p, spare); err != nil {
		return p, err
	}
	known.reached(desired, nil)
	return p, nil
}
