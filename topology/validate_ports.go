package topology

// Validation of ports: each port, and the ports together.

import (
	"fmt"
	"strconv"
)

func (v *validation) port(ps *PortSpec) (Port, bool) {
	n := v.errs.n
	o := obj{"port", ps.Name, ps.Src}
	v.checkName(o)
	p := Port{Name: ps.Name, Switch: ps.Switch, Host: ps.Host, Pos: ps.Src.Pos, PortSecurity: true,
		Interface: ps.Interface, IfaceID: ps.IfaceID}
	sw, sok := v.switches.byName[ps.Switch]
	if _, known := v.switches.byName[ps.Switch]; !known && ps.Src.has("switch") {
		v.err(o, "switch", v.refHint(ps.Switch, "switch", v.switches.sorted), "no switch named %q", ps.Switch)
	}
	h, hok := v.hosts.byName[ps.Host]
	if _, known := v.hosts.byName[ps.Host]; !known && ps.Src.has("host") {
		v.err(o, "host", v.refHint(ps.Host, "host", v.hosts.sorted), "no host named %q", ps.Host)
	}
	if ps.Src.has("mac") {
		if mac, ok := v.mac(o, "mac", ps.MAC, true); ok {
			p.MAC, p.MACAuto = mac, ps.MAC == "auto"
		}
	}
	if ps.IPs.Auto() {
		p.IPsAuto = true
		if sw != nil && len(sw.Subnets) == 0 {
			v.err(o, "ips", "give the switch subnets to hand addresses out of, or write the port's addresses", "ips: auto, but switch %q has no subnets", sw.Name)
		}
	} else {
		p.IPs = v.ips(o, "ips", ps.IPs, sw)
	}
	switch {
	case ps.Src.has("interface") && ps.Src.has("ifaceID"):
		v.err(o, "ifaceID", "bind the port by interface name or by iface-id, not both", "both interface and ifaceID")
	case ps.Src.has("interface"):
		if v.checkIface(o, "interface", ps.Interface) && hok && h != nil {
			if ps.Interface == h.Bridge {
				v.err(o, "interface", "", "interface %q is the integration bridge of host %q", ps.Interface, h.Name)
			}
			for _, pn := range sortedKeys(h.Physnets) {
				if h.Physnets[pn] == ps.Interface {
					v.err(o, "interface", "", "interface %q is the NIC of physnet %q on host %q", ps.Interface, pn, h.Name)
				}
			}
		}
	case ps.Src.has("ifaceID"):
		if ps.IfaceID == "" {
			v.err(o, "ifaceID", "", "empty ifaceID")
		}
	default:
		v.err(o, "", "interface: NAME binds an OVS interface by name; ifaceID: ID by its external_ids:iface-id", "missing field \"interface\" or \"ifaceID\"")
	}
	if ps.PortSecurity != nil {
		p.PortSecurity = *ps.PortSecurity
	}
	if ps.ACLs != nil {
		ao := obj{"port", ps.Name, ps.ACLs.Src}
		for _, f := range []struct {
			key  string
			list []string
			dst  *[]string
		}{{"fromPort", ps.ACLs.FromPort, &p.ACLsFromPort}, {"toPort", ps.ACLs.ToPort, &p.ACLsToPort}} {
			seen := map[string]bool{}
			rules := 0
			for i, name := range f.list {
				at := ps.ACLs.Src.item(f.key, i)
				if a := v.acls.byName[name]; a != nil && rules <= MaxACLRules {
					if rules += len(a.Rules); rules > MaxACLRules {
						v.errAt(at, ao, "", "the %s ACLs have more than %d rules in all: at most %d are supported", f.key, MaxACLRules, MaxACLRules)
					}
				}
				if _, ok := v.acls.byName[name]; !ok {
					v.errAt(at, ao, v.refHint(name, "acl", v.acls.sorted), "no acl named %q", name)
					continue
				}
				if seen[name] {
					v.errAt(at, ao, "", "acl %q listed twice", name)
					continue
				}
				seen[name] = true
				*f.dst = append(*f.dst, name)
			}
		}
	}
	if sok && hok && sw != nil && h != nil {
		switch {
		case sw.Overlay() && !h.TunnelIP.IsValid():
			v.needTunnelIP(h, fmt.Sprintf("its port %q is on overlay switch %q", p.Name, sw.Name))
		case !sw.Overlay():
			if _, ok := h.Physnets[sw.Physnet]; !ok {
				v.err(o, "host", fmt.Sprintf("add %s: NIC to the physnets of host %q", sw.Physnet, h.Name),
					"host %q does not reach physnet %q of VLAN-backed switch %q", h.Name, sw.Physnet, sw.Name)
			}
		}
	}
	return p, v.errs.n == n
}

// portsTogether: one interface per host, one MAC and one IP per switch.
func (v *validation) portsTogether() {
	ifaces, macs, ips := v.uniq("interface"), v.uniq("MAC"), v.uniq("IP")
	byPos := make(map[Pos]*Port, len(v.t.Ports))
	for j := range v.t.Ports {
		byPos[v.t.Ports[j].Pos] = &v.t.Ports[j]
	}
	for _, f := range v.specs {
		for i := range f.Ports {
			ps := &f.Ports[i]
			p := byPos[ps.Src.Pos]
			if p == nil {
				continue
			}
			if p.Interface != "" {
				ifaces.see(p.Host+"\x00"+p.Interface, ps.Src.at("interface"), func() string { return fmt.Sprintf("%q on host %q", p.Interface, p.Host) })
			} else {
				ifaces.see(p.Host+"\x00id\x00"+p.IfaceID, ps.Src.at("ifaceID"), func() string { return fmt.Sprintf("with iface-id %q on host %q", p.IfaceID, p.Host) })
			}
			macs.see(p.Switch+"\x00"+string(p.MAC), ps.Src.at("mac"), func() string {
				shown := p.MAC.String()
				if p.MACAuto {
					shown += " (auto)"
				}
				return shown + " on switch " + strconv.Quote(p.Switch)
			})
			for j, ip := range p.IPs {
				ips.see(p.Switch+"\x00"+string(ip.AsSlice()), ps.Src.item("ips", j), func() string { return ip.String() + " on switch " + strconv.Quote(p.Switch) })
			}
		}
	}
	for _, e := range v.t.ExternalEndpoints {
		for _, st := range e.Behind {
			macs.see(e.Switch+"\x00"+string(st.MAC), st.Pos, func() string { return st.MAC.String() + " on switch " + strconv.Quote(e.Switch) })
			for j, ip := range st.IPs {
				ips.see(e.Switch+"\x00"+string(ip.AsSlice()), v.stationIPs[st.Pos].item("ips", j), func() string { return ip.String() + " on switch " + strconv.Quote(e.Switch) })
			}
		}
	}
}
