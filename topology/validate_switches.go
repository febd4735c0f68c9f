package topology

// Validation of switches: each switch and its address pool, the switches and
// VLANs together, references to overlay switches, and tunnel address
// families.

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
)

func (v *validation) sw(ss *SwitchSpec) (Switch, bool) {
	n := v.errs.n
	o := obj{"switch", ss.Name, ss.Src}
	v.checkName(o)
	s := Switch{Name: ss.Name, Pos: ss.Src.Pos, FloodUnknown: false, ARPResponder: true, ACLDefault: v.def.ACLDefault}
	overlay, vlan := ss.Src.has("tunnelKey"), ss.Src.has("vlan") || ss.Src.has("physnet")
	switch {
	case overlay && vlan:
		v.err(o, "vlan", "a switch is an overlay (tunnelKey) or VLAN-backed (vlan and physnet), not both", "both tunnelKey and vlan/physnet")
	case !overlay && !vlan:
		v.err(o, "", "an overlay switch has a tunnelKey; a VLAN-backed one has vlan and physnet", "needs tunnelKey, or vlan and physnet")
	case overlay:
		s.Encapsulation = v.def.Encapsulation
		if ss.Src.has("encapsulation") {
			s.Encapsulation = ss.Encapsulation
		}
		if max := MaxKey(s.Encapsulation); ss.TunnelKey < 1 || ss.TunnelKey > max {
			v.err(o, "tunnelKey", fmt.Sprintf("a %s key is 1..%d", s.Encapsulation, max), "tunnel key %d out of range", ss.TunnelKey)
		}
		s.TunnelKey = uint32(ss.TunnelKey)
	default:
		if ss.Src.has("encapsulation") {
			v.err(o, "encapsulation", "VLAN-backed switches are not encapsulated", "encapsulation on a VLAN-backed switch")
		}
		switch {
		case !ss.Src.has("vlan"):
			v.err(o, "", "", "physnet given without vlan")
		case ss.VLAN < 1 || ss.VLAN > 4094:
			v.err(o, "vlan", "a VLAN id is 1..4094", "VLAN %d out of range", ss.VLAN)
		}
		if !ss.Src.has("physnet") {
			v.err(o, "", "", "vlan given without physnet")
		}
		s.VLAN, s.Physnet = ss.VLAN, ss.Physnet
	}
	var v4, v6 bool
	for i, c := range ss.Subnets {
		p, err := netip.ParsePrefix(c)
		at := ss.Src.item("subnets", i)
		switch {
		case err != nil:
			v.errAt(at, o, "write a CIDR such as 192.0.2.0/24 or 2001:db8::/64", "invalid subnet %q", c)
			continue
		case p.Masked() != p:
			v.errAt(at, o, fmt.Sprintf("did you mean %s?", p.Masked()), "subnet %s has host bits set", c)
			continue
		case p.Addr().Is4() && v4, p.Addr().Is6() && v6:
			v.errAt(at, o, "", "more than one IPv%d subnet", map[bool]int{true: 4, false: 6}[p.Addr().Is4()])
			continue
		}
		v4, v6 = v4 || p.Addr().Is4(), v6 || p.Addr().Is6()
		s.Subnets = append(s.Subnets, p)
	}
	sort.Slice(s.Subnets, func(i, j int) bool { return s.Subnets[i].Addr().Is4() && !s.Subnets[j].Addr().Is4() })
	v.pool(o, ss, &s)
	if ss.Src.has("mtu") && v.checkMTU(o, "mtu", ss.MTU, 68) {
		s.MTU = ss.MTU
	}
	if ss.FloodUnknown != nil {
		s.FloodUnknown = *ss.FloodUnknown
	}
	if ss.ARPResponder != nil {
		s.ARPResponder = *ss.ARPResponder
	}
	if ss.Src.has("aclDefault") {
		s.ACLDefault = ss.ACLDefault
	}
	return s, v.errs.n == n
}

// pool reads a switch's gateways and excluded addresses: each inside one
// of its subnets, one gateway per subnet.
func (v *validation) pool(o obj, ss *SwitchSpec, s *Switch) {
	if (len(ss.Gateways) > 0 || len(ss.ExcludeIPs) > 0) && len(ss.Subnets) == 0 {
		v.err(o, "", "add subnets: the gateways and excluded addresses lie in them", "gateways or excludeIPs without subnets")
		return
	}
	subnetOf := func(ip netip.Addr) (netip.Prefix, bool) {
		for _, p := range s.Subnets {
			if p.Contains(ip) {
				return p, true
			}
		}
		return netip.Prefix{}, false
	}
	gw := map[netip.Prefix]netip.Addr{}
	for i, g := range ss.Gateways {
		at := ss.Src.item("gateways", i)
		ip, err := netip.ParseAddr(g)
		if err != nil || ip.Zone() != "" {
			v.errAt(at, o, "an address such as 192.0.2.1 or 2001:db8::1", "invalid gateway %q", g)
			continue
		}
		ip = ip.Unmap()
		p, ok := subnetOf(ip)
		switch {
		case !ok:
			v.errAt(at, o, "", "gateway %s is outside the switch's subnets (%s)", ip, prefixes(s.Subnets))
			continue
		case gw[p].IsValid():
			v.errAt(at, o, "", "subnet %s has two gateways, %s and %s", p, gw[p], ip)
			continue
		case ip == p.Addr() || ip.Is4() && ip == LastAddr(p):
			v.errAt(at, o, "", "gateway %s is the network or broadcast address of %s", ip, p)
			continue
		}
		gw[p] = ip
		s.Gateways = append(s.Gateways, ip)
	}
	sort.Slice(s.Gateways, func(i, j int) bool { return s.Gateways[i].Is4() && !s.Gateways[j].Is4() })
	for i, x := range ss.ExcludeIPs {
		at := ss.Src.item("excludeIPs", i)
		r, err := ParseIPRange(x)
		if err != nil {
			v.errAt(at, o, "an address (192.0.2.7), a range (192.0.2.2-192.0.2.9) or a CIDR (192.0.2.128/28)", "invalid excludeIPs entry %q: %v", x, err)
			continue
		}
		p, ok := subnetOf(r.From)
		if !ok || !p.Contains(r.To) {
			v.errAt(at, o, "", "excluded %s is not inside one of the switch's subnets (%s)", r, prefixes(s.Subnets))
			continue
		}
		s.Exclude = append(s.Exclude, r)
	}
}

// switchesTogether: no two overlay switches with one key, no two users of
// one VLAN on one physnet (see vlansTogether for gateways).
func (v *validation) switchesTogether() {
	keys := v.uniq("tunnel key")
	for _, f := range v.specs {
		for i := range f.Switches {
			ss := &f.Switches[i]
			if s := v.switches.byName[ss.Name]; s != nil && s.Pos == ss.Src.Pos && s.Overlay() {
				k := strconv.FormatUint(uint64(s.TunnelKey), 10)
				keys.see(k, ss.Src.at("tunnelKey"), func() string { return k })
			}
		}
	}
}

// vlansTogether: a VLAN of a physnet is used by one switch or gateway.
func (v *validation) vlansTogether() {
	type use struct {
		label string
		pos   Pos
	}
	first := map[string]use{}
	see := func(physnet string, vlan int, label string, p Pos) {
		k := physnet + "/" + strconv.Itoa(vlan)
		if f, dup := first[k]; dup {
			v.errs.add(p, "", "%s: VLAN %d on physnet %q is already used by %s (at %s)", label, vlan, physnet, f.label, f.pos)
			return
		}
		first[k] = use{label, p}
	}
	for _, f := range v.specs {
		for i := range f.Switches {
			ss := &f.Switches[i]
			if s := v.switches.byName[ss.Name]; s != nil && s.Pos == ss.Src.Pos && !s.Overlay() {
				see(s.Physnet, s.VLAN, "switch "+strconv.Quote(s.Name), ss.Src.at("vlan"))
			}
		}
	}
	for _, g := range v.t.L2Gateways {
		see(g.Physnet, g.VLAN, "l2 gateway "+strconv.Quote(g.Name), v.gwVLANPos[g.Name])
	}
}

func (v *validation) overlayRef(o obj, name string) *Switch {
	sw, known := v.switches.byName[name]
	switch {
	case !known:
		v.err(o, "switch", v.refHint(name, "switch", v.switches.sorted), "no switch named %q", name)
	case sw != nil && !sw.Overlay():
		v.err(o, "switch", "", "switch %q is VLAN-backed, not an overlay", name)
	default:
		return sw
	}
	return nil
}

// tunnelFamilies: the tunnel endpoints of an overlay switch (its hosts and
// external endpoints) all use one IP family.
func (v *validation) tunnelFamilies(s *Switch, ss *SwitchSpec, hosts []string) {
	if !s.Overlay() {
		return
	}
	first, firstWhat := netip.Addr{}, ""
	check := func(ip netip.Addr, what string) {
		switch {
		case !ip.IsValid():
		case !first.IsValid():
			first, firstWhat = ip, what
		case ip.Is4() != first.Is4():
			v.err(obj{"switch", s.Name, ss.Src}, "", "tunnels need one IP family on both ends",
				"%s has tunnel IP %s but %s has %s", what, ip, firstWhat, first)
		}
	}
	for _, hn := range hosts {
		if h := v.hosts.byName[hn]; h != nil {
			check(h.TunnelIP, "host "+strconv.Quote(hn))
		}
	}
	if v.endpointsOf == nil {
		v.endpointsOf = map[string][]*ExternalEndpoint{}
		for i := range v.t.ExternalEndpoints {
			e := &v.t.ExternalEndpoints[i]
			v.endpointsOf[e.Switch] = append(v.endpointsOf[e.Switch], e)
		}
	}
	for _, e := range v.endpointsOf[s.Name] {
		check(e.IP, "external endpoint "+strconv.Quote(e.Name))
	}
}
