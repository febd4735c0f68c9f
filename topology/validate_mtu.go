package topology

// Validation of MTUs: a written MTU's range, and each overlay or VLAN
// switch's MTU against the underlay of the hosts that carry it.

import (
	"fmt"
	"sort"
)

func (v *validation) checkMTU(o obj, f string, mtu, lo int) bool {
	if mtu < lo || mtu > 9216 {
		v.err(o, f, "", "MTU %d outside %d..9216", mtu, lo)
		return false
	}
	return true
}

// mtus gives overlay and VLAN switches their MTU (when not written) and
// checks that a written one fits the underlay of every host that carries
// the switch, with the encapsulation's overhead.
func (v *validation) mtus() {
	carriers := map[string]map[string]bool{} // switch -> hosts
	carry := func(sw, host string) {
		if carriers[sw] == nil {
			carriers[sw] = map[string]bool{}
		}
		carriers[sw][host] = true
	}
	for _, p := range v.t.Ports {
		carry(p.Switch, p.Host)
	}
	for _, g := range v.t.L2Gateways {
		carry(g.Switch, g.Host)
	}
	for _, f := range v.specs {
		for i := range f.Switches {
			ss := &f.Switches[i]
			s := v.switches.byName[ss.Name]
			if s == nil || s.Pos != ss.Src.Pos { // a repeat of the name
				continue
			}
			limit, limitHost := 0, ""
			hosts := make([]string, 0, len(carriers[s.Name]))
			for h := range carriers[s.Name] {
				hosts = append(hosts, h)
			}
			sort.Strings(hosts)
			for _, hn := range hosts {
				h := v.hosts.byName[hn]
				if h == nil {
					continue
				}
				l := h.UnderlayMTU
				if s.Overlay() {
					l -= EncapOverhead(s.Encapsulation, h.TunnelIP.Is6())
				}
				if limitHost == "" || l < limit {
					limit, limitHost = l, hn
				}
			}
			if limitHost == "" {
				limit = v.def.UnderlayMTU
				if s.Overlay() {
					limit -= EncapOverhead(s.Encapsulation, false)
				}
			}
			switch {
			case s.MTU == 0:
				s.MTU = limit
			case s.MTU > limit:
				where := "defaults.underlayMTU"
				if limitHost != "" {
					where = fmt.Sprintf("host %q's underlay MTU", limitHost)
				}
				why := fmt.Sprintf("at most %d: %s", limit, where)
				if s.Overlay() {
					why += fmt.Sprintf(" less %s's overhead", s.Encapsulation)
				}
				v.err(obj{"switch", s.Name, ss.Src}, "mtu", why, "MTU %d does not fit the underlay", s.MTU)
			}
			v.tunnelFamilies(s, ss, hosts)
		}
	}
}
