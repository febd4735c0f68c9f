package topology

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
)

// ValidName tells whether s may name an object (a port): lower-case
// letters, digits and '-', at most 63, starting and ending with a letter
// or digit.
func ValidName(s string) bool { return len(s) <= maxNameLen && validName(s) }

// ValidInterface tells whether s may name an OVS interface.
func ValidInterface(s string) bool { return len(s) <= maxIfaceLen && ifaceRE.MatchString(s) }

// Resolve is t as loomd compiles it: the ports written with ips: auto
// get the addresses auto holds for them (by port name), and the ports
// container runtimes made through loomd's API (extra, each with its
// Runtime set) join the ones written in the files. The result is checked
// as validation checks ports written in files (names, switches, hosts,
// interfaces, one MAC and one IP per switch), and every problem is listed
// with the ports it concerns; t is not changed.
//
// Resolve hands nothing out: which addresses are free is loomd's to
// decide (it keeps them); Resolve only checks and assembles.
func Resolve(t *Topology, auto map[string][]netip.Addr, extra []Port) (*Topology, error) {
	var errs problems
	out := *t
	out.Ports = make([]Port, 0, len(t.Ports)+len(extra))
	label := func(p *Port) string {
		if p.Runtime != nil {
			return fmt.Sprintf("runtime port %q (%s)", p.Name, p.Runtime)
		}
		return fmt.Sprintf("port %q", p.Name)
	}
	for _, p := range t.Ports {
		if p.IPsAuto {
			ips, ok := auto[p.Name]
			if !ok {
				errs.add(p.Pos, "loomd hands them out; loomctl without loomd cannot", "port %q: ips: auto: no addresses given to it yet", p.Name)
			}
			p.IPs = append([]netip.Addr(nil), ips...)
		}
		out.Ports = append(out.Ports, p)
	}
	names := make(map[string]*Port, len(t.Ports)+len(extra))
	for i := range out.Ports {
		names[out.Ports[i].Name] = &out.Ports[i]
	}
	hostPorts := map[string]int{}
	for _, p := range t.Ports {
		hostPorts[p.Host]++
	}
	for i := range extra {
		p := extra[i]
		l := label(&p)
		if p.Runtime == nil {
			errs.add(Pos{}, "", "%s: not made by a runtime", l)
			continue
		}
		n := errs.n
		if len(p.Name) > maxNameLen || !validName(p.Name) {
			errs.add(Pos{}, "use lower-case letters, digits and '-', at most 63", "%s: invalid name", l)
		}
		if o, taken := names[p.Name]; taken {
			errs.add(o.Pos, "", "%s: the name is taken by %s (%s)", l, label(o), o.Origin())
		}
		sw, sok := t.Switch(p.Switch)
		if !sok {
			errs.add(Pos{}, "", "%s: no switch named %q", l, p.Switch)
		}
		h, hok := t.Host(p.Host)
		if !hok {
			errs.add(Pos{}, "", "%s: no host named %q", l, p.Host)
		}
		if sok && hok {
			limit := h.UnderlayMTU
			if sw.Overlay() {
				limit -= EncapOverhead(sw.Encapsulation, h.TunnelIP.Is6())
			}
			if sw.MTU > limit {
				errs.add(h.Pos, "", "%s: switch %q's MTU %d does not fit the underlay of host %q (at most %d)", l, sw.Name, sw.MTU, h.Name, limit)
			}
			switch {
			case sw.Overlay() && !h.TunnelIP.IsValid():
				errs.add(h.Pos, "", "%s: host %q has no tunnelIP, and switch %q is an overlay", l, h.Name, sw.Name)
			case !sw.Overlay():
				if _, ok := h.Physnets[sw.Physnet]; !ok {
					errs.add(h.Pos, "", "%s: host %q does not reach physnet %q of VLAN-backed switch %q", l, h.Name, sw.Physnet, sw.Name)
				}
			}
		}
		switch {
		case (p.Interface == "") == (p.IfaceID == ""):
			errs.add(Pos{}, "", "%s: give exactly one of interface and ifaceID", l)
		case p.Interface != "":
			if len(p.Interface) > maxIfaceLen || !ifaceRE.MatchString(p.Interface) {
				errs.add(Pos{}, "letters, digits, '-', '_' and '.', at most 15", "%s: invalid interface name %q", l, p.Interface)
			} else if hok {
				if p.Interface == h.Bridge {
					errs.add(Pos{}, "", "%s: interface %q is the integration bridge of host %q", l, p.Interface, h.Name)
				}
				for _, pn := range sortedKeys(h.Physnets) {
					if h.Physnets[pn] == p.Interface {
						errs.add(Pos{}, "", "%s: interface %q is the NIC of physnet %q on host %q", l, p.Interface, pn, h.Name)
					}
				}
			}
		}
		switch {
		case len(p.MAC) != 6:
			errs.add(Pos{}, "", "%s: invalid MAC %q", l, p.MAC)
		case p.MAC[0]&1 == 1:
			errs.add(Pos{}, "", "%s: MAC %s is a multicast address", l, p.MAC)
		case p.MAC.String() == "00:00:00:00:00:00":
			errs.add(Pos{}, "", "%s: MAC is all zeros", l)
		}
		if sok && len(sw.Subnets) > 0 {
			seen := map[netip.Addr]bool{}
			for _, ip := range p.IPs {
				inside := false
				for _, s := range sw.Subnets {
					inside = inside || s.Contains(ip)
				}
				switch {
				case seen[ip]:
					errs.add(Pos{}, "", "%s: IP %s given twice", l, ip)
				case !inside:
					errs.add(Pos{}, "", "%s: IP %s is outside the subnets of switch %q (%s)", l, ip, sw.Name, prefixes(sw.Subnets))
				}
				seen[ip] = true
			}
		}
		if errs.n != n {
			continue
		}
		p.PortSecurity = true
		out.Ports = append(out.Ports, p)
		names[p.Name] = &out.Ports[len(out.Ports)-1]
		hostPorts[p.Host]++
	}
	// One interface per host, one MAC and one IP per switch, over all
	// ports (the files' own repeats were refused when they were loaded).
	ifaces, macs, ips := map[string]*Port{}, map[string]*Port{}, map[string]*Port{}
	clash := func(seen map[string]*Port, key string, p *Port, what func() string) {
		o, dup := seen[key]
		if !dup {
			seen[key] = p
			return
		}
		if o.Runtime == nil && p.Runtime == nil {
			return // both from the files: refused (or allowed) there
		}
		at := o.Pos
		if o.Runtime != nil {
			at = p.Pos
		}
		errs.add(at, "", "%s is taken by both %s (%s) and %s (%s)", what(), label(o), o.Origin(), label(p), p.Origin())
	}
	for i := range out.Ports {
		p := &out.Ports[i]
		if p.Interface != "" {
			clash(ifaces, p.Host+"\x00"+p.Interface, p, func() string { return fmt.Sprintf("interface %q on host %q", p.Interface, p.Host) })
		} else {
			clash(ifaces, p.Host+"\x00id\x00"+p.IfaceID, p, func() string { return fmt.Sprintf("iface-id %q on host %q", p.IfaceID, p.Host) })
		}
		clash(macs, p.Switch+"\x00"+string(p.MAC), p, func() string { return "MAC " + p.MAC.String() + " on switch " + strconv.Quote(p.Switch) })
		for _, ip := range p.IPs {
			clash(ips, p.Switch+"\x00"+string(ip.AsSlice()), p, func() string { return "IP " + ip.String() + " on switch " + strconv.Quote(p.Switch) })
		}
	}
	for _, e := range t.ExternalEndpoints {
		for _, st := range e.Behind {
			if p, ok := macs[e.Switch+"\x00"+string(st.MAC)]; ok && p.Runtime != nil {
				errs.add(st.Pos, "", "%s: MAC %s is also a station's behind external endpoint %q", label(p), st.MAC, e.Name)
			}
			for _, ip := range st.IPs {
				if p, ok := ips[e.Switch+"\x00"+string(ip.AsSlice())]; ok && p.Runtime != nil {
					errs.add(st.Pos, "", "%s: IP %s is also a station's behind external endpoint %q", label(p), ip, e.Name)
				}
			}
		}
	}
	for _, h := range t.Hosts {
		if n := hostPorts[h.Name]; n > MaxPortsPerHost {
			errs.add(h.Pos, "spread the workloads over more hosts", "host %q: %d ports: at most %d per host are supported", h.Name, n, MaxPortsPerHost)
		}
	}
	if errs.n > 0 {
		return nil, errs.sorted("problems", false)
	}
	if len(extra) == 0 {
		return &out, nil // the files' names and keys stand
	}
	sort.Slice(out.Ports, func(i, j int) bool { return out.Ports[i].Name < out.Ports[j].Name })
	pn := make([]string, len(out.Ports))
	for i := range out.Ports {
		pn[i] = out.Ports[i].Name
	}
	keys, err := AssignIDs(pn, MaxPortKey)
	if err != nil {
		return nil, ErrorList{{Msg: fmt.Sprintf("ports: %v", err)}}
	}
	for i := range out.Ports {
		out.Ports[i].Key = keys[i]
	}
	return &out, nil
}
