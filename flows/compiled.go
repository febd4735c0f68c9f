package flows

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sort"

	"github.com/loom-sdn/loom/topology"
)

// Compiled is the compiler's result for one topology: every host's state,
// and what the next compilation needs to redo only what a change reaches.
// A Compiled is not modified once returned: Update returns a new one that
// shares what did not change, and the old one stays valid (a dry run
// simply drops the new one).
//
// The nil *Compiled is the empty compilation: nil.Update(t) compiles t
// from scratch (and is what Compile does).
type Compiled struct {
	// The topology's objects, sorted by name: the compiler's own copies,
	// kept across updates while they are equal but for their positions.
	hosts     []*topology.Host
	switches  []*topology.Switch
	ports     []*topology.Port
	acls      []*topology.ACL
	gateways  []*topology.L2Gateway
	endpoints []*topology.ExternalEndpoint

	hostByName map[string]*topology.Host
	aclByName  map[string]*topology.ACL
	// aclUsers are the ports that use each ACL (in either direction).
	aclUsers map[string][]*topology.Port
	gwByHost map[string][]*topology.L2Gateway
	// tunnelMaps are the maps of the tunnel rows to each host.
	tunnelMaps map[*topology.Host]*tunnelMaps

	sw   map[string]*swState
	host map[string]*hostEntry

	states  []*HostState // by host name
	changed []string     // hosts whose state differs from the previous compilation's
}

// hostEntry is a host as the compiler keeps it.
type hostEntry struct {
	host     *topology.Host
	local    []*topology.Port      // its ports, by name
	gateways []*topology.L2Gateway // the gateways on it, by name
	carried  []string              // the switches it carries, by name
	ports    *hostPorts
	// own holds the host's own part of each switch it carries, in the
	// order of carried.
	own   []*part
	state *HostState
}

// Compile computes every host's desired state, sorted by host name.
func Compile(t *topology.Topology) ([]*HostState, error) {
	c, err := (*Compiled)(nil).Update(t)
	if err != nil {
		return nil, err
	}
	return c.States(), nil
}

// CompileHost computes the desired state of the named host. It compiles
// only what the host's state depends on: the switches it carries, their
// ports, gateways and endpoints, and the hosts of those (ids and keys are
// the topology's, so the state is the one Compile gives it).
func CompileHost(t *topology.Topology, host string) (*HostState, error) {
	if _, ok := t.Host(host); !ok {
		return nil, fmt.Errorf("no host named %q in the topology", host)
	}
	carried := map[string]bool{}
	for _, p := range t.Ports {
		if p.Host == host {
			carried[p.Switch] = true
		}
	}
	for _, g := range t.L2Gateways {
		if g.Host == host {
			carried[g.Switch] = true
		}
	}
	hosts := map[string]bool{host: true}
	sub := &topology.Topology{ACLs: t.ACLs}
	for _, p := range t.Ports {
		if carried[p.Switch] {
			sub.Ports = append(sub.Ports, p)
			hosts[p.Host] = true
		}
	}
	for _, g := range t.L2Gateways {
		if carried[g.Switch] {
			sub.L2Gateways = append(sub.L2Gateways, g)
			hosts[g.Host] = true
		}
	}
	for _, e := range t.ExternalEndpoints {
		if carried[e.Switch] {
			sub.ExternalEndpoints = append(sub.ExternalEndpoints, e)
		}
	}
	for _, s := range t.Switches {
		if carried[s.Name] {
			sub.Switches = append(sub.Switches, s)
		}
	}
	for _, h := range t.Hosts {
		if hosts[h.Name] {
			sub.Hosts = append(sub.Hosts, h)
		}
	}
	c, err := (*Compiled)(nil).Update(sub)
	if err != nil {
		return nil, err
	}
	return c.Host(host), nil
}

// States are every host's state, sorted by host name. The slice must not
// be modified.
func (c *Compiled) States() []*HostState {
	if c == nil {
		return nil
	}
	return c.states
}

// Host is the named host's state, nil if there is no such host.
func (c *Compiled) Host(name string) *HostState {
	if c == nil {
		return nil
	}
	if e := c.host[name]; e != nil {
		return e.state
	}
	return nil
}

// Changed names the hosts whose state differs from the compilation that
// Update started from (every host, from scratch), sorted: the others keep
// the same *HostState.
func (c *Compiled) Changed() []string {
	if c == nil {
		return nil
	}
	return c.changed
}

// change is one object of a kind that differs between two compilations:
// old nil when it was added, new nil when it was removed.
type change[T any] struct{ old, new *T }

// diffObjects walks the compiler's objects (old, sorted by name) and the
// topology's (cur, sorted by name) side by side. It returns the objects
// to keep (the old copy where equal, a new copy where not) and the
// changes, in name order. Large lists are compared in chunks, one per
// core.
func diffObjects[T any](old []*T, cur []T, name func(*T) string, equal func(a, b *T) bool) ([]*T, []change[T], error) {
	const chunk = 8192
	n := (len(cur) + chunk - 1) / chunk
	out := make([]*T, len(cur))
	if n <= 1 {
		changes := diffRange(old, cur, out, name, equal)
		return out, changes, nil
	}
	// Chunk k compares cur[k*chunk:(k+1)*chunk] with the old objects
	// named from its first name (the first chunk: from the start) to the
	// next chunk's first (the last: to the end).
	bound := func(k int) int {
		switch {
		case k == 0:
			return 0
		case k == n:
			return len(old)
		}
		first := name(&cur[k*chunk])
		return sort.Search(len(old), func(i int) bool { return name(old[i]) >= first })
	}
	changes := make([][]change[T], n)
	errs := parallel(n, func(k int, r any) error { return internalError("the topology's objects", r) }, func(k int) error {
		hi := min((k+1)*chunk, len(cur))
		changes[k] = diffRange(old[bound(k):bound(k+1)], cur[k*chunk:hi], out[k*chunk:hi], name, equal)
		return nil
	})
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	return out, slices.Concat(changes...), nil
}

// diffRange is diffObjects of one range: out (as long as cur) gets the
// objects to keep.
func diffRange[T any](old []*T, cur []T, out []*T, name func(*T) string, equal func(a, b *T) bool) []change[T] {
	out = out[:0]
	var changes []change[T]
	// From scratch, the copies are made in blocks, a port's MAC and
	// addresses with them: the next comparison walks them in order
	// instead of all over the heap.
	var block []T
	var macs []byte
	var addrs []netip.Addr
	copyOf := func(x *T) *T {
		if len(old) > 0 {
			n := new(T)
			*n = *x
			return n
		}
		if len(block) == 0 {
			block = make([]T, min(len(cur)-len(out), 1024))
		}
		n := &block[0]
		block = block[1:]
		*n = *x
		if p, ok := any(n).(*topology.Port); ok {
			if cap(macs)-len(macs) < len(p.MAC) {
				macs = make([]byte, 0, max(6*1024, len(p.MAC)))
			}
			macs = append(macs, p.MAC...)
			p.MAC = macs[len(macs)-len(p.MAC) : len(macs) : len(macs)]
			if cap(addrs)-len(addrs) < len(p.IPs) {
				addrs = make([]netip.Addr, 0, max(1024, len(p.IPs)))
			}
			addrs = append(addrs, p.IPs...)
			p.IPs = addrs[len(addrs)-len(p.IPs) : len(addrs) : len(addrs)]
		}
		return n
	}
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		var c int
		switch {
		case i == len(old):
			c = 1
		case j == len(cur):
			c = -1
		default:
			if a, b := name(old[i]), name(&cur[j]); a != b {
				c = cmp.Compare(a, b)
			}
		}
		switch {
		case c < 0:
			changes = append(changes, change[T]{old: old[i]})
			i++
		case c > 0:
			n := copyOf(&cur[j])
			out = append(out, n)
			changes = append(changes, change[T]{new: n})
			j++
		default:
			if equal(old[i], &cur[j]) {
				out = append(out, old[i])
			} else {
				n := copyOf(&cur[j])
				out = append(out, n)
				changes = append(changes, change[T]{old: old[i], new: n})
			}
			i, j = i+1, j+1
		}
	}
	return changes
}

// Update compiles t, redoing only what differs from c: the parts of the
// switches whose objects changed (the switch, its ports, gateways and
// endpoints, the hosts that carry it, the ACLs its ports use) and the
// hosts that carry them or whose own objects changed. Objects are
// compared by value without their positions, and an object that did not
// change keeps the copy the compiler has of it: the positions in flows'
// origins (Origin.Pos) are those of the topology in which their object
// last changed, not always t's (only `loomctl compile`, which compiles
// from scratch, prints them). Its output otherwise equals that of a
// compilation from scratch, flow for flow and port for port (the property
// test in property_test.go checks it). c is not modified: on an error,
// or for a dry run, the caller keeps c.
func (c *Compiled) Update(t *topology.Topology) (*Compiled, error) {
	var prev Compiled
	var err error
	if c != nil {
		prev = *c
	}
	n := &Compiled{}
	dirtySw := map[string]bool{}   // switches whose parts are redone
	dirtyHost := map[string]bool{} // hosts whose own parts are all redone
	touched := map[string]bool{}   // hosts whose ports or gateways changed

	var hc []change[topology.Host]
	n.hosts, hc, err = diffObjects(prev.hosts, t.Hosts, func(h *topology.Host) string { return h.Name }, equalHost)
	if err != nil {
		return nil, err
	}
	var sc []change[topology.Switch]
	n.switches, sc, err = diffObjects(prev.switches, t.Switches, func(s *topology.Switch) string { return s.Name }, equalSwitch)
	if err != nil {
		return nil, err
	}
	var pc []change[topology.Port]
	n.ports, pc, err = diffObjects(prev.ports, t.Ports, func(p *topology.Port) string { return p.Name }, equalPort)
	if err != nil {
		return nil, err
	}
	var ac []change[topology.ACL]
	n.acls, ac, err = diffObjects(prev.acls, t.ACLs, func(a *topology.ACL) string { return a.Name }, equalACL)
	if err != nil {
		return nil, err
	}
	var gc []change[topology.L2Gateway]
	n.gateways, gc, err = diffObjects(prev.gateways, t.L2Gateways, func(g *topology.L2Gateway) string { return g.Name }, equalGateway)
	if err != nil {
		return nil, err
	}
	var ec []change[topology.ExternalEndpoint]
	n.endpoints, ec, err = diffObjects(prev.endpoints, t.ExternalEndpoints, func(e *topology.ExternalEndpoint) string { return e.Name }, equalEndpoint)
	if err != nil {
		return nil, err
	}

	// Hosts: a changed host redoes its own parts and the switches it
	// carries (their tunnels to it).
	n.hostByName = prev.hostByName
	if len(hc) > 0 || n.hostByName == nil {
		n.hostByName = make(map[string]*topology.Host, len(n.hosts))
		for _, h := range n.hosts {
			n.hostByName[h.Name] = h
		}
	}
	n.tunnelMaps = maps.Clone(prev.tunnelMaps)
	if n.tunnelMaps == nil {
		n.tunnelMaps = make(map[*topology.Host]*tunnelMaps, len(n.hosts))
	}
	for _, ch := range hc {
		if ch.old != nil {
			delete(n.tunnelMaps, ch.old)
		}
		if ch.new != nil {
			n.tunnelMaps[ch.new] = newTunnelMaps(ch.new)
		}
	}
	for _, ch := range hc {
		name := nameOf(ch.old, ch.new, func(h *topology.Host) string { return h.Name })
		dirtyHost[name] = true
		if e := prev.host[name]; e != nil {
			for _, s := range e.carried {
				dirtySw[s] = true
			}
		}
	}
	for _, ch := range sc {
		dirtySw[nameOf(ch.old, ch.new, func(s *topology.Switch) string { return s.Name })] = true
	}
	// Ports: their switches, old and new, and their hosts.
	portsOf := map[string][]change[topology.Port]{} // by switch
	portsOn := map[string][]change[topology.Port]{} // by host
	for _, ch := range pc {
		for _, p := range []*topology.Port{ch.old, ch.new} {
			if p != nil {
				dirtySw[p.Switch] = true
				touched[p.Host] = true
				portsOf[p.Switch] = append(portsOf[p.Switch], ch)
				portsOn[p.Host] = append(portsOn[p.Host], ch)
			}
		}
	}
	// ACLs: the switches of the ports that use them.
	n.aclByName = prev.aclByName
	if len(ac) > 0 || n.aclByName == nil {
		n.aclByName = make(map[string]*topology.ACL, len(n.acls))
		for _, a := range n.acls {
			n.aclByName[a.Name] = a
		}
	}
	n.aclUsers = prev.aclUsers
	if len(pc) > 0 || n.aclUsers == nil {
		n.aclUsers = updateACLUsers(prev.aclUsers, pc)
	}
	for _, ch := range ac {
		name := nameOf(ch.old, ch.new, func(a *topology.ACL) string { return a.Name })
		for _, p := range n.aclUsers[name] {
			dirtySw[p.Switch] = true
		}
		for _, p := range prev.aclUsers[name] {
			dirtySw[p.Switch] = true
		}
	}
	for _, ch := range gc {
		for _, g := range []*topology.L2Gateway{ch.old, ch.new} {
			if g != nil {
				dirtySw[g.Switch] = true
				touched[g.Host] = true
			}
		}
	}
	n.gwByHost = prev.gwByHost
	if len(gc) > 0 || n.gwByHost == nil {
		n.gwByHost = map[string][]*topology.L2Gateway{}
		for _, g := range n.gateways {
			n.gwByHost[g.Host] = append(n.gwByHost[g.Host], g)
		}
	}
	for _, ch := range ec {
		for _, e := range []*topology.ExternalEndpoint{ch.old, ch.new} {
			if e != nil {
				dirtySw[e.Switch] = true
			}
		}
	}

	// Switches: redo the dirty ones.
	n.sw = maps.Clone(prev.sw)
	if n.sw == nil {
		n.sw = make(map[string]*swState, len(n.switches))
	}
	swByName := func(name string) *topology.Switch {
		i := sort.Search(len(n.switches), func(i int) bool { return n.switches[i].Name >= name })
		if i < len(n.switches) && n.switches[i].Name == name {
			return n.switches[i]
		}
		return nil
	}
	var gwOf, epOf map[string][]int // by switch, indexes in n.gateways / n.endpoints
	if len(dirtySw) > 0 {
		gwOf, epOf = map[string][]int{}, map[string][]int{}
		for i, g := range n.gateways {
			if dirtySw[g.Switch] {
				gwOf[g.Switch] = append(gwOf[g.Switch], i)
			}
		}
		for i, e := range n.endpoints {
			if dirtySw[e.Switch] {
				epOf[e.Switch] = append(epOf[e.Switch], i)
			}
		}
	}
	var redo []*swState
	var redoPrev []*swState
	var allPorts map[string][]*topology.Port
	if c == nil {
		// From scratch: group all ports at once.
		allPorts = make(map[string][]*topology.Port, len(n.switches))
		for _, p := range n.ports {
			allPorts[p.Switch] = append(allPorts[p.Switch], p)
		}
	}
	for _, name := range sortedKeys(dirtySw) {
		sw := swByName(name)
		old := prev.sw[name]
		if sw == nil {
			delete(n.sw, name)
			continue
		}
		s := &swState{sw: sw}
		if allPorts != nil {
			s.ports = allPorts[name]
		} else {
			var oldPorts []*topology.Port
			if old != nil {
				oldPorts = old.ports
			}
			s.ports = applyPorts(oldPorts, portsOf[name], func(p *topology.Port) bool { return p.Switch == name })
		}
		for _, i := range gwOf[name] {
			s.gateways = append(s.gateways, n.gateways[i])
		}
		for _, i := range epOf[name] {
			s.endpoints = append(s.endpoints, n.endpoints[i])
		}
		s.byHost = map[string][]*topology.Port{}
		for _, p := range s.ports {
			s.byHost[p.Host] = append(s.byHost[p.Host], p)
		}
		names := make([]string, 0, len(s.byHost)+len(s.gateways))
		for h := range s.byHost {
			names = append(names, h)
		}
		for _, g := range s.gateways {
			if _, ok := s.byHost[g.Host]; !ok {
				names = append(names, g.Host)
			}
		}
		sort.Strings(names)
		names = slices.Compact(names)
		s.hosts = make([]*topology.Host, len(names))
		for i, h := range names {
			s.hosts[i] = n.hostByName[h]
		}
		n.sw[name] = s
		redo = append(redo, s)
		redoPrev = append(redoPrev, old)
	}
	err = each(len(redo), func(i int) (string, topology.Pos) { return "switch " + redo[i].sw.Name, redo[i].sw.Pos },
		func(i int) error {
			if err := redo[i].build(redoPrev[i]); err != nil {
				return fmt.Errorf("switch %q: %w", redo[i].sw.Name, err)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}

	// Hosts: redo those that carry a dirty switch (before or now) or whose
	// objects changed.
	redoHost := map[string]bool{}
	for name := range dirtySw {
		for _, s := range []*swState{prev.sw[name], n.sw[name]} {
			if s != nil {
				for _, h := range s.hosts {
					redoHost[h.Name] = true
				}
			}
		}
	}
	for h := range dirtyHost {
		redoHost[h] = true
	}
	for h := range touched {
		redoHost[h] = true
	}
	n.host = maps.Clone(prev.host)
	if n.host == nil {
		n.host = make(map[string]*hostEntry, len(n.hosts))
	}
	var allLocal map[string][]*topology.Port
	if c == nil {
		allLocal = make(map[string][]*topology.Port, len(n.hosts))
		for _, p := range n.ports {
			allLocal[p.Host] = append(allLocal[p.Host], p)
		}
	}
	var hosts []*hostEntry
	var hostsPrev []*hostEntry
	for _, name := range sortedKeys(redoHost) {
		h := n.hostByName[name]
		old := prev.host[name]
		if h == nil {
			delete(n.host, name)
			continue
		}
		e := &hostEntry{host: h, gateways: n.gwByHost[name]}
		switch {
		case allLocal != nil:
			e.local = allLocal[name]
		case touched[name] || old == nil:
			var oldLocal []*topology.Port
			if old != nil {
				oldLocal = old.local
			}
			e.local = applyPorts(oldLocal, portsOn[name], func(p *topology.Port) bool { return p.Host == name })
		default:
			e.local = old.local
		}
		n.host[name] = e
		hosts = append(hosts, e)
		hostsPrev = append(hostsPrev, old)
	}
	err = each(len(hosts), func(i int) (string, topology.Pos) { return "host " + hosts[i].host.Name, hosts[i].host.Pos },
		func(i int) error {
			if err := n.buildHost(hosts[i], hostsPrev[i], dirtyHost[hosts[i].host.Name], dirtySw); err != nil {
				return fmt.Errorf("host %q: %w", hosts[i].host.Name, err)
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	n.states = make([]*HostState, len(n.hosts))
	for i, h := range n.hosts {
		e := n.host[h.Name]
		n.states[i] = e.state
		if old := prev.host[h.Name]; old == nil || old.state != e.state {
			n.changed = append(n.changed, h.Name)
		}
	}
	return n, nil
}

// buildHost makes host e's state; prev (nil: none) is its entry in the
// previous compilation, whose own parts are kept for the switches that
// are not dirty when the host's objects (dirty) and numbering did not
// change. Whatever comes out equal to prev's keeps prev's pointer.
func (n *Compiled) buildHost(e *hostEntry, prev *hostEntry, dirty bool, dirtySw map[string]bool) error {
	me := e.host
	target, err := controllerTarget(me)
	if err != nil {
		return err
	}
	if prev != nil && samePointers(e.local, prev.local) && samePointers(e.gateways, prev.gateways) {
		e.carried = prev.carried
	} else {
		set := map[string]bool{}
		for _, p := range e.local {
			set[p.Switch] = true
		}
		for _, g := range e.gateways {
			set[g.Switch] = true
		}
		e.carried = sortedKeys(set)
	}
	carried := make([]*swState, len(e.carried))
	for i, name := range e.carried {
		carried[i] = n.sw[name]
	}
	var prevPorts *hostPorts
	var prevLocal []*topology.Port
	if prev != nil && !dirty {
		prevPorts, prevLocal = prev.ports, prev.local
	}
	e.ports, err = makeHostPorts(me, e.local, carried, prevPorts, prevLocal, func(h *topology.Host) *tunnelMaps { return n.tunnelMaps[h] })
	if err != nil {
		return err
	}
	// The host's own parts of the switches that did not change can be
	// kept if the numbers they use did not change.
	keep := prev != nil && !dirty && maps.Equal(prev.ports.uplink, e.ports.uplink) && maps.Equal(prev.ports.epPort, e.ports.epPort)
	if keep && !maps.Equal(prev.ports.ofport, e.ports.ofport) {
		for name, of := range prev.ports.ofport {
			if x, ok := e.ports.ofport[name]; ok && x != of {
				keep = false // a collision moved a port
				break
			}
		}
	}
	// prevOwn is the previous own part of a switch (nil: none).
	prevOwn := func(i int, name string) *part { return nil }
	if prev != nil {
		if len(e.carried) > 0 && len(prev.carried) == len(e.carried) && &prev.carried[0] == &e.carried[0] {
			prevOwn = func(i int, _ string) *part { return prev.own[i] }
		} else {
			at := make(map[string]int, len(prev.carried))
			for i, name := range prev.carried {
				at[name] = i
			}
			prevOwn = func(_ int, name string) *part {
				if i, ok := at[name]; ok {
					return prev.own[i]
				}
				return nil
			}
		}
	}
	e.own = make([]*part, len(e.carried))
	hb := &hostBuild{me: me, ofport: e.ports.ofport, uplink: e.ports.uplink, epPort: e.ports.epPort,
		acl: func(name string) *topology.ACL { return n.aclByName[name] }}
	total := pipelinePart().size(me.Key)
	parts := make([]*part, 0, 1+3*len(e.carried))
	parts = append(parts, pipelinePart())
	for i, name := range e.carried {
		s := carried[i]
		var p *part
		// A switch that is not dirty has the same ports: the host's on
		// it did not change.
		if keep && !dirtySw[name] {
			p = prevOwn(i, name)
		}
		if p == nil {
			prevPart := prevOwn(i, name)
			last := hb.builder
			hb.builder = newBuilder(flowBudget-total, 0)
			hb.follow(last)
			hb.localSwitch(s.view(me.Name))
			if p, err = hb.part(prevPart); err != nil {
				return err
			}
		}
		e.own[i] = p
		for _, q := range []*part{s.shared, p} {
			if n := q.size(me.Key); n > 0 {
				parts = append(parts, q)
				total += n
			}
		}
		if n := s.responder.size(me.Key); n > 0 && len(s.byHost[me.Name]) > 0 {
			parts = append(parts, s.responder)
			total += n
		}
		if total > flowBudget {
			return fmt.Errorf("more than %d flows (the last ones for switch %s): split the host's ports or ACLs", flowBudget, name)
		}
	}
	hs := &HostState{
		Host: me.Name, OVSDB: me.OVSDB, OpenFlow: me.OpenFlow, TLS: me.TLS,
		Bridge: me.Bridge, DatapathType: me.DatapathType, ControllerTarget: target,
		Ports: e.ports.rows,
		flows: &hostFlows{me: me.Key, parts: parts, n: total},
	}
	if prev != nil && prev.state != nil {
		if sameState(prev.state, hs) {
			hs = prev.state
		} else if prev.state.flows.me == me.Key {
			hs.flows.base = prev.state.flows.baseFor()
		}
	}
	e.state = hs
	return nil
}

// sameState tells whether two states of a host are equal: parts that
// give the host the same flows, and equal ports.
func sameState(a, b *HostState) bool {
	if a.Host != b.Host || a.OVSDB != b.OVSDB || a.OpenFlow != b.OpenFlow || a.Bridge != b.Bridge ||
		a.DatapathType != b.DatapathType || a.ControllerTarget != b.ControllerTarget || a.TLS != b.TLS ||
		a.flows.me != b.flows.me || a.flows.n != b.flows.n ||
		!slices.EqualFunc(a.flows.parts, b.flows.parts, func(p, q *part) bool { return p.sameFor(q, a.flows.me) }) {
		return false
	}
	return slices.EqualFunc(a.Ports, b.Ports, func(x, y Port) bool { return samePort(&x, &y) })
}

// applyPorts is list (sorted by name) with the changes made: the old
// ports of the changes left out, their new ones added where keep says
// they belong.
func applyPorts(list []*topology.Port, changes []change[topology.Port], keep func(*topology.Port) bool) []*topology.Port {
	if len(changes) == 0 {
		return list
	}
	gone := map[*topology.Port]bool{}
	var added []*topology.Port
	for _, ch := range changes {
		if ch.old != nil {
			gone[ch.old] = true
		}
		if ch.new != nil && keep(ch.new) {
			added = append(added, ch.new)
		}
	}
	out := make([]*topology.Port, 0, len(list)+len(added))
	for _, p := range list {
		if !gone[p] {
			out = append(out, p)
		}
	}
	out = append(out, added...)
	slices.SortFunc(out, func(a, b *topology.Port) int { return cmp.Compare(a.Name, b.Name) })
	return slices.CompactFunc(out, func(a, b *topology.Port) bool { return a == b })
}

// updateACLUsers is users with the changed ports' uses updated.
func updateACLUsers(users map[string][]*topology.Port, changes []change[topology.Port]) map[string][]*topology.Port {
	out := maps.Clone(users)
	if out == nil {
		out = map[string][]*topology.Port{}
	}
	byACL := map[string][]change[topology.Port]{}
	for _, ch := range changes {
		for _, p := range []*topology.Port{ch.old, ch.new} {
			if p == nil {
				continue
			}
			for _, a := range p.ACLsFromPort {
				byACL[a] = append(byACL[a], ch)
			}
			for _, a := range p.ACLsToPort {
				byACL[a] = append(byACL[a], ch)
			}
		}
	}
	for a, chs := range byACL {
		out[a] = applyPorts(out[a], chs, func(p *topology.Port) bool {
			return slices.Contains(p.ACLsFromPort, a) || slices.Contains(p.ACLsToPort, a)
		})
		if len(out[a]) == 0 {
			delete(out, a)
		}
	}
	return out
}

func nameOf[T any](old, new *T, name func(*T) string) string {
	if new != nil {
		return name(new)
	}
	return name(old)
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
