package topology

// Validation of hosts: each host and its addresses, the hosts together, and
// the tunnel IP a host needs.

import (
	"net/netip"
	"strings"
)

// addr parses "tcp:IP:PORT" / "ssl:IP:PORT" (and "unix:PATH" if allowed).
func (v *validation) addr(o obj, f, s string, unix bool) (scheme string, ap netip.AddrPort, ok bool) {
	scheme, rest, _ := strings.Cut(s, ":")
	switch scheme {
	case "tcp", "ssl":
		ap, err := netip.ParseAddrPort(rest)
		if err != nil || ap.Port() == 0 {
			v.err(o, f, "write "+scheme+":IP:PORT, e.g. "+scheme+":192.0.2.10:6640 or "+scheme+":[2001:db8::10]:6640", "invalid %s address %q", f, s)
			return "", ap, false
		}
		return scheme, ap, true
	case "unix":
		if unix && rest != "" {
			return scheme, ap, true
		}
	}
	want := "tcp:IP:PORT or ssl:IP:PORT"
	if unix {
		want += " or unix:PATH"
	}
	v.err(o, f, "write "+want, "invalid %s address %q", f, s)
	return "", ap, false
}

func (v *validation) host(hs *HostSpec) (Host, bool) {
	n := v.errs.n
	o := obj{"host", hs.Name, hs.Src}
	v.checkName(o)
	h := Host{Name: hs.Name, Pos: hs.Src.Pos, OVSDB: hs.OVSDB, OpenFlow: hs.OpenFlow,
		DatapathType: v.def.DatapathType, Bridge: v.def.Bridge, UnderlayMTU: v.def.UnderlayMTU,
		Physnets: map[string]string{}, Labels: map[string]string{}}
	var mgmt netip.Addr
	dbScheme := ""
	if hs.Src.has("ovsdb") {
		if scheme, ap, ok := v.addr(o, "ovsdb", hs.OVSDB, true); ok {
			dbScheme, mgmt = scheme, ap.Addr()
			if scheme != "unix" {
				h.OVSDB = scheme + ":" + ap.String()
			}
		}
	}
	switch {
	case hs.Src.has("openflow"):
		if scheme, ap, ok := v.addr(o, "openflow", hs.OpenFlow, false); ok {
			h.OpenFlow = scheme + ":" + ap.String()
		}
	case mgmt.IsValid():
		h.OpenFlow = dbScheme + ":" + netip.AddrPortFrom(mgmt, DefaultOpenFlowPort).String()
	case dbScheme == "unix":
		v.err(o, "", "Loom cannot derive it from a unix: ovsdb address", "missing field \"openflow\"")
	}
	if hs.Src.has("tunnelIP") {
		ip, err := netip.ParseAddr(hs.TunnelIP)
		switch {
		case err != nil || ip.Zone() != "":
			v.err(o, "tunnelIP", "", "invalid tunnel IP %q", hs.TunnelIP)
		case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback():
			v.err(o, "tunnelIP", "", "tunnel IP %s is not a unicast address", ip)
		default:
			h.TunnelIP = ip.Unmap()
		}
	}
	if hs.Src.has("datapathType") {
		h.DatapathType = hs.DatapathType
	}
	if hs.Src.has("bridge") && v.checkIface(o, "bridge", hs.Bridge) {
		h.Bridge = hs.Bridge
	}
	if hs.Src.has("underlayMTU") {
		lo := 576
		if h.TunnelIP.Is6() {
			lo = 1280
		}
		if v.checkMTU(o, "underlayMTU", hs.UnderlayMTU, lo) {
			h.UnderlayMTU = hs.UnderlayMTU
		}
	}
	if len(hs.Physnets) > MaxPhysnetsPerHost {
		v.err(o, "physnets", "", "%d physnets: at most %d per host are supported", len(hs.Physnets), MaxPhysnetsPerHost)
	}
	nics := map[string]string{}
	for _, pn := range sortedKeys(hs.Physnets) {
		nic := hs.Physnets[pn]
		at := hs.Src.key("physnets", pn)
		if len(pn) > maxNameLen || !validName(pn) {
			v.errAt(at, o, "use lower-case letters, digits and '-'", "invalid physnet name %q", pn)
			continue
		}
		if !v.checkIfaceAt(at, o, nic) {
			continue
		}
		if nic == h.Bridge {
			v.errAt(at, o, "", "physnet %q: NIC %q is the integration bridge", pn, nic)
			continue
		}
		if other, dup := nics[nic]; dup {
			v.errAt(at, o, "a NIC carries one physnet; VLANs separate traffic within it", "physnets %q and %q both on NIC %q", other, pn, nic)
			continue
		}
		nics[nic] = pn
		h.Physnets[pn] = nic
	}
	for _, k := range sortedKeys(hs.Labels) {
		val := hs.Labels[k]
		at := hs.Src.key("labels", k)
		if len(k) > maxNameLen || !labelRE.MatchString(k) {
			v.errAt(at, o, "letters, digits, '.', '_', '/' and '-', at most 63", "invalid label key %q", k)
		} else if len(val) > maxNameLen {
			v.errAt(at, o, "", "label %q: value longer than 63 characters", k)
		} else {
			h.Labels[k] = val
		}
	}
	v.hostTLS(hs, &h)
	return h, v.errs.n == n
}

// hostsTogether checks what hosts must not share.
func (v *validation) hostsTogether() {
	ips := v.uniq("tunnel IP")
	for _, f := range v.specs {
		for i := range f.Hosts {
			hs := &f.Hosts[i]
			if h := v.hosts.byName[hs.Name]; h != nil && h.Pos == hs.Src.Pos && h.TunnelIP.IsValid() {
				ips.see(h.TunnelIP.String(), hs.Src.at("tunnelIP"), h.TunnelIP.String)
			}
		}
	}
}

// needTunnelIP reports, once per host, a host that carries an overlay but
// has no tunnel IP.
func (v *validation) needTunnelIP(h *Host, why string) {
	if v.tunnelIPReported == nil {
		v.tunnelIPReported = map[string]bool{}
	}
	if v.tunnelIPReported[h.Name] {
		return
	}
	v.tunnelIPReported[h.Name] = true
	v.errs.add(h.Pos, "", "host %q: missing field \"tunnelIP\" (%s)", h.Name, why)
}
