package topology

// Validation of L2 gateways and external endpoints, and the endpoints
// together.

import (
	"fmt"
	"net/netip"
)

func (v *validation) gateway(gs *L2GatewaySpec) (L2Gateway, bool) {
	n := v.errs.n
	o := obj{"l2 gateway", gs.Name, gs.Src}
	v.checkName(o)
	g := L2Gateway{Name: gs.Name, Switch: gs.Switch, Host: gs.Host, Physnet: gs.Physnet, VLAN: gs.VLAN, Pos: gs.Src.Pos}
	sw := v.overlayRef(o, gs.Switch)
	if prev, dup := v.gwOfSwitch[gs.Switch]; dup && sw != nil {
		v.err(o, "switch", "a second gateway would bridge the switch to its VLAN twice, a loop", "switch %q already has l2 gateway %q", gs.Switch, prev)
	} else if sw != nil {
		if v.gwOfSwitch == nil {
			v.gwOfSwitch = map[string]string{}
		}
		v.gwOfSwitch[gs.Switch] = gs.Name
	}
	h, known := v.hosts.byName[gs.Host]
	if !known {
		v.err(o, "host", v.refHint(gs.Host, "host", v.hosts.sorted), "no host named %q", gs.Host)
	} else if h != nil {
		if _, ok := h.Physnets[gs.Physnet]; !ok && gs.Src.has("physnet") {
			v.err(o, "physnet", fmt.Sprintf("add %s: NIC to the physnets of host %q", gs.Physnet, h.Name), "host %q does not reach physnet %q", h.Name, gs.Physnet)
		}
		if sw != nil && !h.TunnelIP.IsValid() {
			v.needTunnelIP(h, fmt.Sprintf("it is the gateway of overlay switch %q", sw.Name))
		}
	}
	if gs.Src.has("vlan") && (gs.VLAN < 1 || gs.VLAN > 4094) {
		v.err(o, "vlan", "a VLAN id is 1..4094", "VLAN %d out of range", gs.VLAN)
	}
	if v.gwVLANPos == nil {
		v.gwVLANPos = map[string]Pos{}
	}
	v.gwVLANPos[g.Name] = gs.Src.at("vlan")
	return g, v.errs.n == n
}

func (v *validation) endpoint(es *ExternalEndpointSpec) (ExternalEndpoint, bool) {
	n := v.errs.n
	o := obj{"external endpoint", es.Name, es.Src}
	v.checkName(o)
	e := ExternalEndpoint{Name: es.Name, Encapsulation: es.Encapsulation, Switch: es.Switch, Pos: es.Src.Pos}
	if es.Src.has("ip") {
		ip, err := netip.ParseAddr(es.IP)
		switch {
		case err != nil || ip.Zone() != "":
			v.err(o, "ip", "", "invalid IP %q", es.IP)
		case ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback():
			v.err(o, "ip", "", "%s is not a unicast address", ip)
		default:
			e.IP = ip.Unmap()
			if v.hostOfIP == nil {
				v.hostOfIP = map[netip.Addr]string{}
				for _, h := range v.t.Hosts {
					if _, dup := v.hostOfIP[h.TunnelIP]; !dup && h.TunnelIP.IsValid() {
						v.hostOfIP[h.TunnelIP] = h.Name
					}
				}
			}
			if h, ok := v.hostOfIP[e.IP]; ok {
				v.err(o, "ip", "an external endpoint is not one of Loom's hosts", "%s is the tunnel IP of host %q", ip, h)
			}
		}
	}
	sw := v.overlayRef(o, es.Switch)
	key := es.Key
	if !es.Src.has("key") && sw != nil {
		key = int64(sw.TunnelKey)
	}
	if max := MaxKey(es.Encapsulation); (es.Src.has("key") || sw != nil) && (key < 1 || key > max) {
		v.err(o, "key", fmt.Sprintf("a %s key is 1..%d", es.Encapsulation, max), "key %d out of range", key)
	}
	e.Key = uint32(key)
	if es.Src.has("behind") && len(es.Behind) == 0 {
		v.err(o, "behind", "", "no stations behind the endpoint")
	}
	for i := range es.Behind {
		bs := &es.Behind[i]
		so := obj{kind: fmt.Sprintf("%s station %d", o.label(), i+1), src: bs.Src}
		st := Station{Pos: bs.Src.Pos}
		if mac, ok := v.mac(so, "mac", bs.MAC, false); ok {
			st.MAC = mac
		}
		st.IPs = v.ips(so, "ips", bs.IPs, sw)
		if v.stationIPs == nil {
			v.stationIPs = map[Pos]Src{}
		}
		v.stationIPs[st.Pos] = bs.Src
		e.Behind = append(e.Behind, st)
	}
	return e, v.errs.n == n
}

// endpointsTogether: endpoints that share a tunnel (same IP and
// encapsulation) must use different keys, or their traffic could not be
// told apart.
func (v *validation) endpointsTogether() {
	keys := v.uniq("tunnel key")
	for _, e := range v.t.ExternalEndpoints {
		k := fmt.Sprintf("%s/%s/%d", e.IP, e.Encapsulation, e.Key)
		keys.see(k, e.Pos, func() string {
			return fmt.Sprintf("%d of %s endpoint %s (external endpoint %q)", e.Key, e.Encapsulation, e.IP, e.Name)
		})
	}
}
