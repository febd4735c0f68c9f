package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"

	"github.com/loom-sdn/loom/topology"
)

// ErrExhausted is wrapped by Next's error when a subnet has no free
// address.
var ErrExhausted = errors.New("no free address")

// ErrTaken is wrapped by Take's error when another holds the address.
var ErrTaken = errors.New("address taken")

// Allocator holds, per switch, which addresses of its subnets are held
// and by whom.
type Allocator struct {
	switches map[string][]*pool
}

type pool struct {
	sw      string
	prefix  netip.Prefix
	first   netip.Addr // the first and last addresses that may be handed out
	last    netip.Addr
	gateway netip.Addr
	exclude []topology.IPRange // sorted by From
	held    map[netip.Addr]string
	cursor  netip.Addr // the last handed out (invalid: none yet)
}

// New makes an Allocator for t's switches, with nothing held; cursors
// (by subnet, as Cursors returns them) say where each subnet's last
// address was handed out.
func New(t *topology.Topology, cursors map[string]netip.Addr) *Allocator {
	a := &Allocator{switches: make(map[string][]*pool, len(t.Switches))}
	for _, s := range t.Switches {
		for _, p := range s.Subnets {
			pl := &pool{sw: s.Name, prefix: p, held: map[netip.Addr]string{}}
			pl.first, pl.last = p.Addr(), topology.LastAddr(p)
			if p.Addr().Is6() || p.Bits() <= 30 {
				// Not the network address (IPv6: the subnet-router
				// anycast address) nor the IPv4 broadcast address.
				pl.first = pl.first.Next()
				if p.Addr().Is4() {
					pl.last = pl.last.Prev()
				}
			}
			for _, g := range s.Gateways {
				if p.Contains(g) {
					pl.gateway = g
				}
			}
			for _, r := range s.Exclude {
				if p.Contains(r.From) {
					pl.exclude = append(pl.exclude, r)
				}
			}
			sort.Slice(pl.exclude, func(i, j int) bool { return pl.exclude[i].From.Less(pl.exclude[j].From) })
			if c, ok := cursors[key(s.Name, p)]; ok && p.Contains(c) {
				pl.cursor = c
			}
			a.switches[s.Name] = append(a.switches[s.Name], pl)
		}
	}
	return a
}

func key(sw string, p netip.Prefix) string { return sw + " " + p.String() }

// Cursors are where each subnet's last address was handed out, by
// "SWITCH PREFIX", for New to go on from.
func (a *Allocator) Cursors() map[string]netip.Addr {
	out := map[string]netip.Addr{}
	for _, pools := range a.switches {
		for _, p := range pools {
			if p.cursor.IsValid() {
				out[key(p.sw, p.prefix)] = p.cursor
			}
		}
	}
	return out
}

// Gateways are the gateways of sw's subnets, by subnet.
func (a *Allocator) Gateway(sw string, p netip.Prefix) netip.Addr {
	for _, pl := range a.switches[sw] {
		if pl.prefix == p {
			return pl.gateway
		}
	}
	return netip.Addr{}
}

func (a *Allocator) poolOf(sw string, ip netip.Addr) *pool {
	for _, p := range a.switches[sw] {
		if p.prefix.Contains(ip) {
			return p
		}
	}
	return nil
}

// Take records that owner holds ip on switch sw. An address outside the
// switch's subnets is not the allocator's (nothing is recorded); one
// another owner holds is an error (wrapping ErrTaken) naming both.
// Taking an excluded address or the gateway is allowed: they are kept
// from Next, not from those who write them.
func (a *Allocator) Take(sw string, ip netip.Addr, owner string) error {
	p := a.poolOf(sw, ip)
	if p == nil {
		return nil
	}
	if o, ok := p.held[ip]; ok && o != owner {
		return fmt.Errorf("switch %q: %s is held by both %s and %s: %w", sw, ip, o, owner, ErrTaken)
	}
	p.held[ip] = owner
	return nil
}

// Holder is who holds ip on sw ("" if free).
func (a *Allocator) Holder(sw string, ip netip.Addr) string {
	if p := a.poolOf(sw, ip); p != nil {
		return p.held[ip]
	}
	return ""
}

// Release frees ip on sw if owner holds it.
func (a *Allocator) Release(sw string, ip netip.Addr, owner string) {
	if p := a.poolOf(sw, ip); p != nil && p.held[ip] == owner {
		delete(p.held, ip)
	}
}

// Next hands owner one free address of each of sw's subnets (IPv4
// first), or none and an error naming the switch and the subnet that has
// no free address left (wrapping ErrExhausted).
func (a *Allocator) Next(sw, owner string) ([]netip.Addr, error) {
	pools := a.switches[sw]
	if len(pools) == 0 {
		return nil, fmt.Errorf("switch %q has no subnets to hand addresses out of", sw)
	}
	out := make([]netip.Addr, 0, len(pools))
	for _, p := range pools {
		ip, ok := p.next()
		if !ok {
			for i, got := range out {
				delete(pools[i].held, got)
			}
			return nil, fmt.Errorf("switch %q: subnet %s: %w (%d held, gateway and excluded addresses kept out)", sw, p.prefix, ErrExhausted, len(p.held))
		}
		p.held[ip] = owner
		p.cursor = ip
		out = append(out, ip)
	}
	return out, nil
}

// NextIn hands owner one free address of sw's subnet p (an error
// naming the switch and subnet, wrapping ErrExhausted, if none is free).
func (a *Allocator) NextIn(sw string, p netip.Prefix, owner string) (netip.Addr, error) {
	for _, pl := range a.switches[sw] {
		if pl.prefix != p {
			continue
		}
		ip, ok := pl.next()
		if !ok {
			return netip.Addr{}, fmt.Errorf("switch %q: subnet %s: %w (%d held, gateway and excluded addresses kept out)", sw, p, ErrExhausted, len(pl.held))
		}
		pl.held[ip] = owner
		pl.cursor = ip
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("switch %q has no subnet %s", sw, p)
}

// next finds the first free address after the cursor, wrapping around
// once.
func (p *pool) next() (netip.Addr, bool) {
	if p.last.Less(p.first) {
		return netip.Addr{}, false
	}
	start := p.first
	if p.cursor.IsValid() && p.cursor.Less(p.last) && !p.cursor.Less(p.first) {
		start = p.cursor.Next()
	}
	if ip, ok := p.scan(start, p.last); ok {
		return ip, true
	}
	if start == p.first {
		return netip.Addr{}, false
	}
	return p.scan(p.first, start.Prev())
}

// scan finds the first free address in [from, to].
func (p *pool) scan(from, to netip.Addr) (netip.Addr, bool) {
	ip := from
	for !to.Less(ip) && ip.IsValid() {
		if r, ok := p.excluded(ip); ok {
			if !r.To.Less(to) {
				return netip.Addr{}, false
			}
			ip = r.To.Next()
			continue
		}
		if _, held := p.held[ip]; !held && ip != p.gateway {
			return ip, true
		}
		if ip == to {
			break
		}
		ip = ip.Next()
	}
	return netip.Addr{}, false
}

func (p *pool) excluded(ip netip.Addr) (topology.IPRange, bool) {
	// Few ranges per subnet: a linear search.
	for _, r := range p.exclude {
		if r.Contains(ip) {
			return r, true
		}
	}
	return topology.IPRange{}, false
}

// Prefix is the subnet of sw that holds ip (invalid if none).
func (a *Allocator) Prefix(sw string, ip netip.Addr) netip.Prefix {
	if p := a.poolOf(sw, ip); p != nil {
		return p.prefix
	}
	return netip.Prefix{}
}
