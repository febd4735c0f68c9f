package flows

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// A host's flows are made of parts: sorted blocks of flows that several
// hosts may share. A logical switch's part holds what every host carrying
// it has alike: the ARP/ND answers for its addresses, the flows to its
// ports and tunnels on every host (each tagged with that host, which
// leaves it out: a host has no tunnel to itself). A host's own part for a
// switch holds what only it has: its local ports (numbered on this host),
// its flood sets, its uplinks. So a switch's flows are computed once for
// all its hosts (work and memory grow with switches and ports, not hosts
// × ports), and a host's flows are a merge of its parts, made when asked
// (HostState.Flows).

// part is a sorted block of flows (Compare), no two of one identity.
// Parts are not modified once built.
type part struct {
	flows []Flow
	// excl[i] is the key of the host whose instance of the part leaves
	// flows[i] out (0: none); nil when it leaves none out.
	excl []uint32
	// nexcl counts the flows left out, by host key.
	nexcl map[uint32]int
}

// size is the number of flows the part gives the host with key me.
func (p *part) size(me uint32) int {
	if p == nil {
		return 0
	}
	return len(p.flows) - p.nexcl[me]
}

// same tells whether p and q hold the same flows, tags and origins.
func (p *part) same(q *part) bool {
	if p == q {
		return true
	}
	if p == nil || q == nil || len(p.flows) != len(q.flows) || !slices.Equal(p.excl, q.excl) {
		return false
	}
	for i := range p.flows {
		a, b := &p.flows[i], &q.flows[i]
		if !a.Equal(b) || a.Origin != b.Origin {
			return false
		}
	}
	return true
}

// sameFor tells whether p and q give the host with key me the same
// flows, with the same origins.
func (p *part) sameFor(q *part, me uint32) bool {
	if p == q {
		return true
	}
	if p.size(me) != q.size(me) {
		return false
	}
	i, j := 0, 0
	for {
		for i < len(p.flows) && p.excl != nil && p.excl[i] == me {
			i++
		}
		for j < len(q.flows) && q.excl != nil && q.excl[j] == me {
			j++
		}
		if i == len(p.flows) || j == len(q.flows) {
			return i == len(p.flows) && j == len(q.flows)
		}
		a, b := &p.flows[i], &q.flows[j]
		if !a.Equal(b) || a.Origin != b.Origin {
			return false
		}
		i, j = i+1, j+1
	}
}

// builder makes a part: flows are added in any order, then sorted.
type builder struct {
	// excl tags the flows added from now on (see part.excl).
	excl    uint32
	anyExcl bool
	flows   []Flow
	tags    []uint32
	// budget is how many flows may still be added.
	budget int
	// err is the first problem met; once it is set nothing more is added.
	err error
	// Slabs the flows' matches and actions are cut from: a few large
	// allocations instead of two small ones per flow.
	mslab []MatchField
	aslab []Action
	// arena, if not nil, is where the parts' flows are cut from (a host's
	// own parts share one; see follow).
	arena []Flow
}

// newBuilder makes a builder for a part of about hint flows (0: slabs
// come from follow, or grow from small).
func newBuilder(budget, hint int) *builder {
	b := &builder{budget: budget}
	if s := scratchPool.Get(); s != nil {
		sc := s.(*scratch)
		b.flows, b.tags = sc.flows[:0], sc.tags[:0]
	}
	if hint > 0 {
		// Matches and actions take about 3 entries a flow.
		b.mslab = make([]MatchField, 0, min(max(3*hint, 16), slabSize))
		b.aslab = make([]Action, 0, min(max(3*hint, 16), slabSize))
	}
	return b
}

// follow makes b cut from the slabs and flow arena of prev, a builder
// of the same host that is done: a host's own parts share a few large
// allocations instead of four small ones each.
func (b *builder) follow(prev *builder) {
	if prev != nil {
		b.mslab, b.aslab, b.arena = prev.mslab, prev.aslab, prev.arena
	}
	if b.arena == nil {
		b.arena = make([]Flow, 0, 256)
	}
}

// reserve returns an empty Actions with room for n, cut from the slab.
func (b *builder) reserve(n int) Actions {
	if cap(b.aslab)-len(b.aslab) < n {
		b.aslab = make([]Action, 0, max(min(2*cap(b.aslab), slabSize), 64, n))
	}
	start := len(b.aslab)
	b.aslab = b.aslab[:start+n]
	return b.aslab[start : start : start+n]
}

// scratch is the room a builder collects flows in before they are
// sorted into a part, kept for the next builder.
type scratch struct {
	flows []Flow
	tags  []uint32
}

var scratchPool sync.Pool

// MaxFlowsPerHost bounds what one host's compilation may produce (and so
// its time and memory): a topology that expands to more, typically
// through ACL rules with port ranges on many ports, is refused.
const MaxFlowsPerHost = 1_000_000

// flowBudget is MaxFlowsPerHost; tests lower it.
var flowBudget = MaxFlowsPerHost

// SetFlowBudgetForTest makes n the most flows a host may have, instead of
// MaxFlowsPerHost, and returns a function that puts the budget back. It is
// for tests of the compiler's callers that need a topology the compiler
// (and not validation) refuses; it must not be called while a compilation
// runs.
func SetFlowBudgetForTest(n int) (restore func()) {
	old := flowBudget
	flowBudget = n
	return func() { flowBudget = old }
}

// fail records the first problem.
func (b *builder) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *builder) add(o Origin, id uint32, f Flow) {
	if b.err != nil {
		return
	}
	if len(b.flows) >= b.budget {
		b.fail(fmt.Errorf("more than %d flows (the last one for %s): split the host's ports or ACLs", flowBudget, o))
		return
	}
	f.Cookie = MakeCookie(o.Kind, o.Rule, id)
	f.Origin = o
	b.flows = append(b.flows, f)
	b.tags = append(b.tags, b.excl)
	if b.excl != 0 {
		b.anyExcl = true
	}
}

const slabSize = 4096

// match returns fs as a canonical match, cut from the slab. Slabs start
// at the size the part's flows need (most parts are small) and grow to
// slabSize.
func (b *builder) match(fs ...MatchField) Match {
	if cap(b.mslab)-len(b.mslab) < len(fs) {
		b.mslab = make([]MatchField, 0, max(min(2*cap(b.mslab), slabSize), 64, len(fs)))
	}
	start := len(b.mslab)
	b.mslab = append(b.mslab, fs...)
	m, err := NewMatch(b.mslab[start:])
	if err != nil {
		b.fail(fmt.Errorf("internal error: %w", err))
	}
	b.mslab = b.mslab[:start+len(m)]
	return m[:len(m):len(m)]
}

// actions returns as, cut from the slab.
func (b *builder) actions(as ...Action) Actions {
	if len(as) == 0 {
		return nil
	}
	if cap(b.aslab)-len(b.aslab) < len(as) {
		b.aslab = make([]Action, 0, max(min(2*cap(b.aslab), slabSize), 64, len(as)))
	}
	start := len(b.aslab)
	b.aslab = append(b.aslab, as...)
	return b.aslab[start:len(b.aslab):len(b.aslab)]
}

// part sorts the flows (Compare) and checks that no two share an
// identity (table, priority, match), which would make one silently
// replace the other on the switch. prev, if it holds the same flows, is
// returned instead, so that what did not change keeps its pointer.
func (b *builder) part(prev *part) (*part, error) {
	if b.err != nil {
		return nil, b.err
	}
	n := len(b.flows)
	idx := make([]int32, n)
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int { return Compare(&b.flows[i], &b.flows[j]) })
	p := &part{}
	if b.arena != nil {
		if cap(b.arena)-len(b.arena) < n {
			b.arena = make([]Flow, 0, max(n, 256))
		}
		start := len(b.arena)
		b.arena = b.arena[:start+n]
		p.flows = b.arena[start : start+n : start+n]
	} else {
		p.flows = make([]Flow, n)
	}
	if b.anyExcl {
		p.excl = make([]uint32, n)
		p.nexcl = map[uint32]int{}
	}
	for k, i := range idx {
		p.flows[k] = b.flows[i]
		if b.anyExcl {
			p.excl[k] = b.tags[i]
			if t := b.tags[i]; t != 0 {
				p.nexcl[t]++
			}
		}
	}
	for i := 1; i < n; i++ {
		if x, y := &p.flows[i-1], &p.flows[i]; SameIdentity(x, y) {
			return nil, fmt.Errorf("two flows with table=%d priority=%d %s: %s and %s", y.Table, y.Priority,
				y.Match.appendText(nil), x.Origin, y.Origin)
		}
	}
	clear(b.flows) // drop the references to matches, actions, origins
	scratchPool.Put(&scratch{flows: b.flows[:0], tags: b.tags[:0]})
	b.flows, b.tags = nil, nil
	if prev != nil && prev.same(p) {
		return prev, nil
	}
	return p, nil
}

// hostFlows are a host's flows as parts, merged once when asked.
type hostFlows struct {
	me    uint32 // the host's key: flows tagged with it are left out
	parts []*part
	n     int // the number of flows, without merging
	// base are the host's flows in the previous compilation, already
	// merged: asked for, these flows are base's patched with the parts
	// that differ (a copy, no merge). Dropped once used.
	base *hostFlows

	once sync.Once
	all  []Flow
	done atomic.Bool // all is set
}

func (h *hostFlows) get() []Flow {
	h.once.Do(func() {
		ok := false
		if b := h.base; b != nil && b.done.Load() {
			del, add := partDelta(b, h, true)
			h.all, ok = patch(b.all, del, add)
		}
		if !ok {
			h.all = merge(h.parts, h.me, h.n)
		}
		h.base = nil
		h.done.Store(true)
	})
	return h.all
}

// baseFor is what a host's next flows may be patched from: h if it is
// merged already, nil if not (a chain of states never merged would keep
// them all).
func (h *hostFlows) baseFor() *hostFlows {
	if h != nil && h.done.Load() {
		return h
	}
	return nil
}

// partDelta returns the flows of a's host that b's lacks (del) and those
// of b's that a's lacks (add), each sorted, from the parts that differ:
// a part both hold gives both the same flows. Flows that are the same
// in both (Equal and, with origins, the same Origin) are left out.
func partDelta(a, b *hostFlows, origins bool) (del, add []Flow) {
	inA := make(map[*part]bool, len(a.parts))
	for _, p := range a.parts {
		inA[p] = true
	}
	inB := make(map[*part]bool, len(b.parts))
	var added []*part
	for _, p := range b.parts {
		inB[p] = true
		if !inA[p] {
			added = append(added, p)
		}
	}
	var removed []*part
	for _, p := range a.parts {
		if !inB[p] {
			removed = append(removed, p)
		}
	}
	d := merge(removed, a.me, -1)
	ad := merge(added, b.me, -1)
	// Leave out what is the same in both.
	i, j := 0, 0
	for i < len(d) && j < len(ad) {
		switch c := Compare(&d[i], &ad[j]); {
		case c < 0:
			del = append(del, d[i])
			i++
		case c > 0:
			add = append(add, ad[j])
			j++
		default:
			if !d[i].Equal(&ad[j]) || (origins && d[i].Origin != ad[j].Origin) {
				del, add = append(del, d[i]), append(add, ad[j])
			}
			i, j = i+1, j+1
		}
	}
	return append(del, d[i:]...), append(add, ad[j:]...)
}

// patch returns all (sorted) without the flows of del's identities and
// with add's, sorted; false if a flow of del is not in all.
func patch(all, del, add []Flow) ([]Flow, bool) {
	out := make([]Flow, 0, len(all)-len(del)+len(add))
	i := 0
	for len(del) > 0 || len(add) > 0 {
		isDel := len(del) > 0 && (len(add) == 0 || Compare(&del[0], &add[0]) <= 0)
		var f *Flow
		if isDel {
			f = &del[0]
		} else {
			f = &add[0]
		}
		j := i + sort.Search(len(all)-i, func(k int) bool { return Compare(&all[i+k], f) >= 0 })
		out = append(out, all[i:j]...)
		i = j
		if isDel {
			if i == len(all) || !SameIdentity(&all[i], f) {
				return nil, false
			}
			i++
			del = del[1:]
			continue
		}
		out = append(out, *f)
		add = add[1:]
	}
	return append(out, all[i:]...), true
}

// HostDelta is how a host's state changes from one compilation to the
// next.
type HostDelta struct {
	// Add are the flows of new identities (table, priority, match),
	// Modify the new version of flows whose identity stays but whose
	// cookie or actions change, Delete the flows whose identity goes.
	// Each is sorted by Compare.
	Add, Modify, Delete []Flow
	// AddPorts are the port rows that are new or changed, DeletePorts
	// those that go or change, each sorted by name.
	AddPorts, DeletePorts []Port
}

// Empty tells whether nothing changes.
func (d *HostDelta) Empty() bool {
	return len(d.Add)+len(d.Modify)+len(d.Delete)+len(d.AddPorts)+len(d.DeletePorts) == 0
}

// Delta is what changes from old to new, two states of one host: for
// two states of one compiler, computed from the parts that differ
// (proportional to the change, without putting either host's flows
// together); otherwise from their flows.
func Delta(old, new *HostState) HostDelta {
	var d HostDelta
	var del, add []Flow
	if old.flows != nil && new.flows != nil && old.flows.me == new.flows.me {
		del, add = partDelta(old.flows, new.flows, false)
	} else {
		a, b := old.Flows(), new.Flows()
		onlyA, onlyB := Diff(a, b)
		for _, i := range onlyA {
			del = append(del, a[i])
		}
		for _, j := range onlyB {
			add = append(add, b[j])
		}
	}
	i, j := 0, 0
	for i < len(del) || j < len(add) {
		c := 0
		switch {
		case i == len(del):
			c = 1
		case j == len(add):
			c = -1
		default:
			c = Compare(&del[i], &add[j])
		}
		switch {
		case c < 0:
			d.Delete = append(d.Delete, del[i])
			i++
		case c > 0:
			d.Add = append(d.Add, add[j])
			j++
		default:
			d.Modify = append(d.Modify, add[j])
			i, j = i+1, j+1
		}
	}
	i, j = 0, 0
	for i < len(old.Ports) || j < len(new.Ports) {
		c := 0
		switch {
		case i == len(old.Ports):
			c = 1
		case j == len(new.Ports):
			c = -1
		default:
			c = cmp.Compare(old.Ports[i].Name, new.Ports[j].Name)
		}
		switch {
		case c < 0:
			d.DeletePorts = append(d.DeletePorts, old.Ports[i])
			i++
		case c > 0:
			d.AddPorts = append(d.AddPorts, new.Ports[j])
			j++
		default:
			if !samePort(&old.Ports[i], &new.Ports[j]) {
				d.DeletePorts = append(d.DeletePorts, old.Ports[i])
				d.AddPorts = append(d.AddPorts, new.Ports[j])
			}
			i, j = i+1, j+1
		}
	}
	return d
}

func samePort(x, y *Port) bool {
	return x.Name == y.Name && x.Type == y.Type && x.Ofport == y.Ofport && x.IfaceID == y.IfaceID &&
		maps.Equal(x.Options, y.Options) && maps.Equal(x.ExternalIDs, y.ExternalIDs)
}

// merge puts sorted parts together into one sorted list, leaving out the
// flows tagged with me: a k-way merge through a binary heap of cursors.
func merge(parts []*part, me uint32, n int) []Flow {
	if n < 0 {
		n = 0
		for _, p := range parts {
			n += p.size(me)
		}
	}
	out := make([]Flow, 0, n)
	type cursor struct {
		p *part
		i int
	}
	// skip moves c to its next flow for me; false at the end.
	skip := func(c *cursor) bool {
		for c.i < len(c.p.flows) {
			if c.p.excl == nil || c.p.excl[c.i] != me || me == 0 {
				return true
			}
			c.i++
		}
		return false
	}
	heap := make([]cursor, 0, len(parts))
	for _, p := range parts {
		if p == nil {
			continue
		}
		c := cursor{p: p}
		if skip(&c) {
			heap = append(heap, c)
		}
	}
	less := func(a, b int) bool {
		return Compare(&heap[a].p.flows[heap[a].i], &heap[b].p.flows[heap[b].i]) < 0
	}
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(heap) {
				return
			}
			m := l
			if r := l + 1; r < len(heap) && less(r, l) {
				m = r
			}
			if !less(m, i) {
				return
			}
			heap[i], heap[m] = heap[m], heap[i]
			i = m
		}
	}
	for i := len(heap)/2 - 1; i >= 0; i-- {
		down(i)
	}
	for len(heap) > 0 {
		c := &heap[0]
		out = append(out, c.p.flows[c.i])
		c.i++
		if !skip(c) {
			last := len(heap) - 1
			heap[0] = heap[last]
			heap = heap[:last]
		}
		down(0)
	}
	return out
}
