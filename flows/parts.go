package flows

import (
	"fmt"
	"slices"
	"sync"
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
}

// newBuilder makes a builder for a part of about hint flows.
func newBuilder(budget, hint int) *builder {
	b := &builder{budget: budget}
	if s := scratchPool.Get(); s != nil {
		sc := s.(*scratch)
		b.flows, b.tags = sc.flows[:0], sc.tags[:0]
	}
	// Matches and actions take about 3 entries a flow.
	b.mslab = make([]MatchField, 0, min(max(3*hint, 16), slabSize))
	b.aslab = make([]Action, 0, min(max(3*hint, 16), slabSize))
	return b
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
		b.mslab = make([]MatchField, 0, max(min(2*cap(b.mslab), slabSize), len(fs)))
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
		b.aslab = make([]Action, 0, max(min(2*cap(b.aslab), slabSize), len(as)))
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
	p := &part{flows: make([]Flow, n)}
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

	once sync.Once
	all  []Flow
}

func (h *hostFlows) get() []Flow {
	h.once.Do(func() { h.all = merge(h.parts, h.me, h.n) })
	return h.all
}

// merge puts sorted parts together into one sorted list, leaving out the
// flows tagged with me: a k-way merge through a binary heap of cursors.
func merge(parts []*part, me uint32, n int) []Flow {
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
