package topology

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

var (
	nameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)
	ifaceRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	labelRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]*[A-Za-z0-9])?$`)
)

const (
	maxNameLen  = 63
	maxIfaceLen = 15 // Linux IFNAMSIZ - 1
)

// obj is a spec object during validation: its kind, name and source.
type obj struct {
	kind, name string
	src        Src
}

func (o obj) label() string {
	if o.name == "" {
		return o.kind
	}
	return o.kind + " " + strconv.Quote(o.name)
}

// err reports a problem with field f of o (at the field's value, or at the
// object when f is "" or was not written).
func (d *decoder) err(o obj, f, hint, format string, args ...any) {
	d.errAt(o.src.at(f), o, hint, format, args...)
}

// errAt reports a problem with o at p (an entry of a list, a key).
func (d *decoder) errAt(p Pos, o obj, hint, format string, args ...any) {
	if d.errs.full() {
		d.errs.add(p, "", "")
		return
	}
	d.errs.add(p, hint, "%s: %s", o.label(), fmt.Sprintf(format, args...))
}

// validName tells whether s is a name: lower-case letters, digits and
// '-', starting and ending with a letter or digit (nameRE, without the
// cost of a regular expression for every object).
func validName(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func (d *decoder) checkName(o obj) {
	if o.name != "" && (len(o.name) > maxNameLen || !validName(o.name)) {
		d.err(o, "name", "use lower-case letters, digits and '-', at most 63", "invalid name")
	}
}

// unique reports every repeat of a key, at the repeat, naming the first.
type uniq struct {
	d     *decoder
	what  string
	first map[string]Pos
}

func (d *decoder) uniq(what string) *uniq { return &uniq{d, what, map[string]Pos{}} }

// see records key at p; shown (called only for a repeat) is how the
// message names it.
func (u *uniq) see(key string, p Pos, shown func() string) bool {
	if key == "" {
		return true
	}
	if f, dup := u.first[key]; dup {
		if u.d.errs.full() {
			u.d.errs.add(p, "", "")
		} else if f == p {
			u.d.errs.add(p, "", "%s %s defined twice (an alias repeats it)", u.what, shown())
		} else {
			u.d.errs.add(p, "", "%s %s defined twice (first at %s)", u.what, shown(), f)
		}
		return false
	}
	u.first[key] = p
	return true
}

// refHint suggests a known name for an unknown reference.
func refHint(got, kind string, known []string) string {
	if h := didYouMean(got, known); h != "" {
		return h
	}
	if len(known) == 0 {
		return "there are no " + plural(kind)
	}
	if len(known) > 8 {
		return ""
	}
	return "known " + plural(kind) + ": " + strings.Join(known, ", ")
}

// refHint is refHint of the names known() returns, unless the problem
// will not be listed.
func (d *decoder) refHint(got, kind string, known func() []string) string {
	if d.errs.full() {
		return ""
	}
	return refHint(got, kind, known())
}

// plural is the plural of a kind of object ("switch" → "switches").
func plural(kind string) string {
	if strings.HasSuffix(kind, "ch") || strings.HasSuffix(kind, "s") {
		return kind + "es"
	}
	return kind + "s"
}

// catalog is the names of one kind, for references.
type catalog[T any] struct {
	byName   map[string]*T
	names    []string
	isSorted bool
}

func newCatalog[T any]() *catalog[T] { return &catalog[T]{byName: map[string]*T{}} }

func (c *catalog[T]) add(name string, v *T) {
	if _, dup := c.byName[name]; !dup && name != "" {
		c.byName[name] = v
		c.names = append(c.names, name)
		c.isSorted = false
	}
}

func (c *catalog[T]) sorted() []string {
	if !c.isSorted {
		sort.Strings(c.names)
		c.isSorted = true
	}
	return c.names
}

type validation struct {
	*decoder
	def      DefaultsSpec
	hosts    *catalog[Host]
	switches *catalog[Switch]
	acls     *catalog[ACL]
	t        *Topology
	// stationIPs is where the stations behind external endpoints were
	// written, by station.
	stationIPs  map[Pos]Src
	hostOfIP    map[netip.Addr]string          // tunnel IP -> the first host with it
	endpointsOf map[string][]*ExternalEndpoint // switch -> its external endpoints
	// shadowChecks is how many more pairs of rules may be compared to
	// warn of rules that can never match (quadratic in an ACL's rules).
	shadowChecks int
}

func (d *decoder) validate() *Topology {
	v := &validation{decoder: d, hosts: newCatalog[Host](), switches: newCatalog[Switch](), acls: newCatalog[ACL](), t: &Topology{},
		shadowChecks: maxShadowChecks}
	v.defaults()

	var nHosts, nSwitches, nPorts int
	for _, f := range d.specs {
		nHosts, nSwitches, nPorts = nHosts+len(f.Hosts), nSwitches+len(f.Switches), nPorts+len(f.Ports)
	}
	v.t.Hosts = make([]Host, 0, nHosts)
	v.t.Switches = make([]Switch, 0, nSwitches)
	v.t.Ports = make([]Port, 0, nPorts)
	hostNames, swNames, portNames := d.uniq("host"), d.uniq("switch"), d.uniq("port")
	aclNames, gwNames, epNames := d.uniq("acl"), d.uniq("l2 gateway"), d.uniq("external endpoint")
	for _, f := range d.specs {
		for i := range f.Hosts {
			h := &f.Hosts[i]
			if hostNames.see(h.Name, h.Src.Pos, func() string { return strconv.Quote(h.Name) }) {
				if x, ok := v.host(h); ok {
					v.t.Hosts = append(v.t.Hosts, x)
				}
			}
		}
		for i := range f.Switches {
			s := &f.Switches[i]
			if swNames.see(s.Name, s.Src.Pos, func() string { return strconv.Quote(s.Name) }) {
				if x, ok := v.sw(s); ok {
					v.t.Switches = append(v.t.Switches, x)
				}
			}
		}
		for i := range f.ACLs {
			a := &f.ACLs[i]
			if aclNames.see(a.Name, a.Src.Pos, func() string { return strconv.Quote(a.Name) }) {
				if x, ok := v.acl(a); ok {
					v.t.ACLs = append(v.t.ACLs, x)
				}
			}
		}
	}
	// Register names even of objects with errors, so that references to
	// them are not reported as unknown as well.
	for _, f := range d.specs {
		for i := range f.Hosts {
			v.hosts.add(f.Hosts[i].Name, nil)
		}
		for i := range f.Switches {
			v.switches.add(f.Switches[i].Name, nil)
		}
		for i := range f.ACLs {
			v.acls.add(f.ACLs[i].Name, nil)
		}
	}
	for i := range v.t.Hosts {
		v.hosts.byName[v.t.Hosts[i].Name] = &v.t.Hosts[i]
	}
	for i := range v.t.Switches {
		v.switches.byName[v.t.Switches[i].Name] = &v.t.Switches[i]
	}
	for i := range v.t.ACLs {
		v.acls.byName[v.t.ACLs[i].Name] = &v.t.ACLs[i]
	}
	v.hostsTogether()
	v.switchesTogether()

	for _, f := range d.specs {
		for i := range f.Ports {
			p := &f.Ports[i]
			if portNames.see(p.Name, p.Src.Pos, func() string { return strconv.Quote(p.Name) }) {
				if x, ok := v.port(p); ok {
					v.t.Ports = append(v.t.Ports, x)
				}
			}
		}
		for i := range f.L2Gateways {
			g := &f.L2Gateways[i]
			if gwNames.see(g.Name, g.Src.Pos, func() string { return strconv.Quote(g.Name) }) {
				if x, ok := v.gateway(g); ok {
					v.t.L2Gateways = append(v.t.L2Gateways, x)
				}
			}
		}
		for i := range f.ExternalEndpoints {
			e := &f.ExternalEndpoints[i]
			if epNames.see(e.Name, e.Src.Pos, func() string { return strconv.Quote(e.Name) }) {
				if x, ok := v.endpoint(e); ok {
					v.t.ExternalEndpoints = append(v.t.ExternalEndpoints, x)
				}
			}
		}
	}
	v.portsTogether()
	v.vlansTogether()
	v.endpointsTogether()
	v.mtus()
	// Counts the ids must number, each reported at the first object over.
	for _, n := range []struct {
		count, max int
		what       string
		at         func(int) Pos
	}{
		{len(v.t.Hosts), MaxHostKey, "hosts", func(i int) Pos { return v.t.Hosts[i].Pos }},
		{len(v.t.Ports), MaxPortKey, "ports", func(i int) Pos { return v.t.Ports[i].Pos }},
		{len(v.t.ACLs), MaxACLID, "ACLs", func(i int) Pos { return v.t.ACLs[i].Pos }},
		{len(v.t.L2Gateways), MaxGatewayID, "l2 gateways", func(i int) Pos { return v.t.L2Gateways[i].Pos }},
		{len(v.t.ExternalEndpoints), MaxEndpointID, "external endpoints", func(i int) Pos { return v.t.ExternalEndpoints[i].Pos }},
	} {
		if n.count > n.max {
			d.errs.add(n.at(n.max), "", "%d %s: at most %d are supported", n.count, n.what, n.max)
		}
	}
	v.perHost()
	if d.errs.n > 0 {
		return nil
	}
	if err := v.freeze(); err != nil {
		d.errs.add(Pos{}, "", "%v", err)
		return nil
	}
	return v.t
}

// perHost checks what the compiler numbers on each host: its workload
// ports (its physnets are checked with the host).
func (v *validation) perHost() {
	ports := map[string]int{}
	for _, p := range v.t.Ports {
		ports[p.Host]++
	}
	for _, h := range v.t.Hosts {
		if n := ports[h.Name]; n > MaxPortsPerHost {
			v.errs.add(h.Pos, "spread the workloads over more hosts", "host %q: %d ports: at most %d per host are supported", h.Name, n, MaxPortsPerHost)
		}
	}
}

// defaults merges the defaults section (at most one) over the built-ins.
func (v *validation) defaults() {
	v.def = DefaultsSpec{Encapsulation: DefaultEncapsulation, UnderlayMTU: DefaultUnderlayMTU,
		DatapathType: DefaultDatapathType, Bridge: DefaultBridge, ACLDefault: "allow"}
	var first *DefaultsSpec
	for _, f := range v.specs {
		ds := f.Defaults
		if ds == nil {
			continue
		}
		if first != nil {
			v.errs.add(ds.Src.Pos, "keep the defaults in one file", "defaults set twice (first at %s)", first.Src.Pos)
			continue
		}
		first = ds
		o := obj{kind: "defaults", src: ds.Src}
		if ds.Src.has("encapsulation") {
			v.def.Encapsulation = ds.Encapsulation
		}
		if ds.Src.has("underlayMTU") {
			if v.checkMTU(o, "underlayMTU", ds.UnderlayMTU, 576) {
				v.def.UnderlayMTU = ds.UnderlayMTU
			}
		}
		if ds.Src.has("datapathType") {
			v.def.DatapathType = ds.DatapathType
		}
		if ds.Src.has("bridge") {
			if v.checkIface(o, "bridge", ds.Bridge) {
				v.def.Bridge = ds.Bridge
			}
		}
		if ds.Src.has("aclDefault") {
			v.def.ACLDefault = ds.ACLDefault
		}
	}
}

func (v *validation) checkMTU(o obj, f string, mtu, lo int) bool {
	if mtu < lo || mtu > 9216 {
		v.err(o, f, "", "MTU %d outside %d..9216", mtu, lo)
		return false
	}
	return true
}

func (v *validation) checkIface(o obj, f, name string) bool {
	return v.checkIfaceAt(o.src.at(f), o, name)
}

func (v *validation) checkIfaceAt(p Pos, o obj, name string) bool {
	if name == "" || len(name) > maxIfaceLen || !ifaceRE.MatchString(name) {
		v.errAt(p, o, "letters, digits, '-', '_' and '.', at most 15", "invalid interface name %q", name)
		return false
	}
	return true
}

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

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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

// maxShadowChecks bounds the comparisons of rules for warnings of rules
// that can never match: an ACL of 2,800 rules, or many smaller ones.
const maxShadowChecks = 4_000_000

// ethTypes and protocols known by name.
var (
	ethTypes = map[string]uint16{"ipv4": ethIPv4, "ipv6": ethIPv6, "arp": ethARP}
	protos   = map[string]int{"icmp": ProtoICMP, "tcp": ProtoTCP, "udp": ProtoUDP, "icmpv6": ProtoICMPv6, "sctp": ProtoSCTP}
)

// EtherTypes a rule names.
const (
	ethIPv4 = 0x0800
	ethIPv6 = 0x86dd
	ethARP  = 0x0806
)

// IP protocol numbers a rule names (Rule.Proto).
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

func (v *validation) acl(as *ACLSpec) (ACL, bool) {
	n := v.errs.n
	o := obj{"acl", as.Name, as.Src}
	v.checkName(o)
	a := ACL{Name: as.Name, Pos: as.Src.Pos}
	if as.Src.has("rules") && len(as.Rules) == 0 {
		v.err(o, "rules", "", "no rules")
	}
	if len(as.Rules) > MaxACLRules {
		v.err(o, "rules", "split it into several ACLs", "%d rules: at most %d are supported", len(as.Rules), MaxACLRules)
		return a, false
	}
	for i := range as.Rules {
		if r, ok := v.rule(o, i, &as.Rules[i]); ok {
			a.Rules = append(a.Rules, r)
		}
	}
	if v.errs.n != n {
		return a, false
	}
	for j := range a.Rules {
		if v.shadowChecks < j {
			v.warns.add(a.Rules[j].Pos, "", "acl %q: rules from %s on were not checked for rules that can never match (too many rules in the topology)", a.Name, ruleLabel(&a.Rules[j]))
			v.shadowChecks = 0
			break
		}
		v.shadowChecks -= j
		for i := 0; i < j; i++ {
			if covers(&a.Rules[i], &a.Rules[j]) {
				v.warns.add(a.Rules[j].Pos, "remove it, or move it above the rule that covers it",
					"acl %q: %s can never match: %s (at line %d) matches every packet it does",
					a.Name, ruleLabel(&a.Rules[j]), ruleLabel(&a.Rules[i]), a.Rules[i].Pos.Line)
				break
			}
		}
	}
	return a, true
}

func ruleLabel(r *Rule) string {
	s := fmt.Sprintf("rule %d", r.Index+1)
	if r.Name != "" {
		s += " (" + r.Name + ")"
	}
	return s
}

func (v *validation) rule(acl obj, i int, rs *RuleSpec) (Rule, bool) {
	n := v.errs.n
	label := fmt.Sprintf("%s rule %d", acl.label(), i+1)
	if rs.Name != "" {
		label += fmt.Sprintf(" (%s)", rs.Name)
	}
	o := obj{kind: label, src: rs.Src}
	r := Rule{Name: rs.Name, Index: i, Allow: rs.Action == "allow", Proto: -1, ICMPType: -1, ICMPCode: -1, Pos: rs.Src.Pos}
	if rs.Src.has("ethType") {
		if et, ok := ethTypes[string(rs.EthType)]; ok {
			r.EthType = et
		} else if x, err := strconv.ParseUint(string(rs.EthType), 0, 16); err == nil && x >= 0x600 {
			r.EthType = uint16(x)
		} else {
			v.err(o, "ethType", "ipv4, ipv6, arp or a number such as 0x88cc", "invalid ethType %q", rs.EthType)
		}
	}
	protoBad := false
	if rs.Src.has("proto") {
		protoBad = true
		if p, ok := protos[string(rs.Proto)]; ok {
			r.Proto, protoBad = p, false
		} else if x, err := strconv.ParseUint(string(rs.Proto), 10, 8); err == nil {
			r.Proto, protoBad = int(x), false
		} else {
			hint := didYouMean(string(rs.Proto), []string{"icmp", "icmpv6", "sctp", "tcp", "udp"})
			if hint == "" {
				hint = "tcp, udp, icmp, icmpv6, sctp or a number 0..255"
			}
			v.err(o, "proto", hint, "invalid proto %q", rs.Proto)
		}
	}
	fam := 0 // 4 or 6 once known
	switch r.EthType {
	case ethIPv4:
		fam = 4
	case ethIPv6:
		fam = 6
	}
	if r.EthType != 0 && fam == 0 && (r.Proto >= 0 || rs.SrcIP != "" || rs.DstIP != "") {
		v.err(o, "ethType", "proto, src and dst need ethType ipv4 or ipv6 (or no ethType)", "ethType %s is not IP", rs.EthType)
	}
	switch r.Proto {
	case ProtoICMP:
		if fam == 6 {
			v.err(o, "proto", "use icmpv6 for IPv6", "proto icmp with IPv6")
		}
		fam = 4
	case ProtoICMPv6:
		if fam == 4 {
			v.err(o, "proto", "use icmp for IPv4", "proto icmpv6 with IPv4")
		}
		fam = 6
	}
	for _, f := range []struct {
		key, val string
		dst      *netip.Prefix
	}{{"src", rs.SrcIP, &r.Src}, {"dst", rs.DstIP, &r.Dst}} {
		if !rs.Src.has(f.key) {
			continue
		}
		p, err := parseCIDR(f.val)
		if err != nil {
			v.err(o, f.key, "an address or CIDR such as 192.0.2.0/24", "invalid %s %q", f.key, f.val)
			continue
		}
		pf := 4
		if p.Addr().Is6() {
			pf = 6
		}
		if fam != 0 && fam != pf {
			v.err(o, f.key, "", "%s %s is IPv%d but the rule matches IPv%d", f.key, f.val, pf, fam)
			continue
		}
		fam = pf
		*f.dst = p
	}
	l4 := r.Proto == ProtoTCP || r.Proto == ProtoUDP || r.Proto == ProtoSCTP
	for _, f := range []struct {
		key string
		val PortRange
		dst *PortSpan
	}{{"srcPorts", rs.SrcPorts, &r.SrcPorts}, {"dstPorts", rs.DstPorts, &r.DstPorts}} {
		if !rs.Src.has(f.key) {
			continue
		}
		span, err := parsePortRange(string(f.val))
		if err != nil {
			v.err(o, f.key, "a port such as 80 or a range such as 8000-8080, within 0..65535", "invalid %s %q: %v", f.key, f.val, err)
			continue
		}
		if !l4 && !protoBad {
			v.err(o, f.key, "add proto: tcp, udp or sctp", "%s without a TCP, UDP or SCTP proto", f.key)
			continue
		}
		*f.dst = span
	}
	icmp := r.Proto == ProtoICMP || r.Proto == ProtoICMPv6
	if rs.ICMPType != nil {
		switch {
		case !icmp && protoBad:
		case !icmp:
			v.err(o, "icmpType", "add proto: icmp or icmpv6", "icmpType without an ICMP proto")
		case *rs.ICMPType < 0 || *rs.ICMPType > 255:
			v.err(o, "icmpType", "", "icmpType %d outside 0..255", *rs.ICMPType)
		default:
			r.ICMPType = *rs.ICMPType
		}
	}
	if rs.ICMPCode != nil {
		switch {
		case rs.ICMPType == nil:
			v.err(o, "icmpCode", "", "icmpCode without icmpType")
		case *rs.ICMPCode < 0 || *rs.ICMPCode > 255:
			v.err(o, "icmpCode", "", "icmpCode %d outside 0..255", *rs.ICMPCode)
		default:
			r.ICMPCode = *rs.ICMPCode
		}
	}
	if r.EthType == 0 && fam != 0 {
		r.EthType = map[int]uint16{4: ethIPv4, 6: ethIPv6}[fam]
	}
	return r, v.errs.n == n
}

// parseCIDR accepts an address (a host) or a CIDR without host bits.
func parseCIDR(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return p, err
	}
	if p.Masked() != p {
		return p, fmt.Errorf("host bits set")
	}
	return p, nil
}

func parsePortRange(s string) (PortSpan, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	}
	switch {
	case err1 != nil || err2 != nil:
		return PortSpan{}, fmt.Errorf("not a port number")
	case a > b:
		return PortSpan{}, fmt.Errorf("%d > %d", a, b)
	case a == 0 && b == 65535:
		return PortSpan{}, nil
	case b == 0:
		// PortSpan{} means any port: port 0 alone (reserved, used by no
		// service) cannot be told from it. Ranges from 0 are fine.
		return PortSpan{}, fmt.Errorf("port 0 alone cannot be matched; leave the field out to match any port")
	}
	return PortSpan{uint16(a), uint16(b)}, nil
}

// covers tells whether every packet rule b matches is matched by rule a.
func covers(a, b *Rule) bool {
	if a.EthType != 0 && a.EthType != b.EthType {
		return false
	}
	if a.Proto >= 0 && a.Proto != b.Proto {
		return false
	}
	pre := func(x, y netip.Prefix) bool {
		return !x.IsValid() || y.IsValid() && x.Bits() <= y.Bits() && x.Contains(y.Addr())
	}
	span := func(x, y PortSpan) bool { return x.Any() || !y.Any() && x.Lo <= y.Lo && y.Hi <= x.Hi }
	num := func(x, y int) bool { return x < 0 || x == y }
	return pre(a.Src, b.Src) && pre(a.Dst, b.Dst) && span(a.SrcPorts, b.SrcPorts) &&
		span(a.DstPorts, b.DstPorts) && num(a.ICMPType, b.ICMPType) && num(a.ICMPCode, b.ICMPCode)
}

// LastAddr is the last address of p (its broadcast address for IPv4).
func LastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		bits := p.Bits() - i*8
		switch {
		case bits <= 0:
			b[i] = 0xff
		case bits < 8:
			b[i] |= 0xff >> bits
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// ParseIPRange reads an address (192.0.2.7), a range of one family
// (192.0.2.2-192.0.2.9) or a CIDR (192.0.2.128/28).
func ParseIPRange(s string) (IPRange, error) {
	if from, to, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(from))
		if err != nil {
			return IPRange{}, err
		}
		b, err := netip.ParseAddr(strings.TrimSpace(to))
		if err != nil {
			return IPRange{}, err
		}
		a, b = a.Unmap(), b.Unmap()
		switch {
		case a.BitLen() != b.BitLen():
			return IPRange{}, fmt.Errorf("%s and %s are of two families", a, b)
		case b.Less(a):
			return IPRange{}, fmt.Errorf("%s comes after %s", a, b)
		}
		return IPRange{a, b}, nil
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return IPRange{}, err
		}
		p = p.Masked()
		return IPRange{p.Addr().Unmap(), LastAddr(p).Unmap()}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return IPRange{}, err
	}
	if a.Zone() != "" {
		return IPRange{}, fmt.Errorf("zone %q not allowed", a.Zone())
	}
	a = a.Unmap()
	return IPRange{a, a}, nil
}

// AutoMAC is the MAC a port named name gets with mac: auto: locally
// administered, unicast, from a hash of the name.
func AutoMAC(name string) net.HardwareAddr {
	h := fnv.New64a()
	h.Write([]byte("loom/port/" + name))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], h.Sum64())
	return net.HardwareAddr{0x02, b[0], b[1], b[2], b[3], b[4]}
}

func (v *validation) mac(o obj, f, s string, auto bool) (net.HardwareAddr, bool) {
	if auto && s == "auto" {
		return AutoMAC(o.name), true
	}
	mac, err := net.ParseMAC(s)
	switch {
	case err != nil || len(mac) != 6:
		hint := "six hex bytes, e.g. 02:00:00:00:00:01"
		if auto {
			hint += ", or auto"
		}
		v.err(o, f, hint, "invalid MAC %q", s)
	case mac[0]&1 == 1:
		v.err(o, f, "the first byte must be even; 02:... is a safe choice", "MAC %s is a multicast address", mac)
	case mac.String() == "00:00:00:00:00:00":
		v.err(o, f, "", "MAC is all zeros")
	default:
		return mac, true
	}
	return nil, false
}

// ips parses addresses, each inside one of the switch's subnets (when the
// switch has subnets).
func (v *validation) ips(o obj, f string, list []string, sw *Switch) []netip.Addr {
	var out []netip.Addr
	seen := map[netip.Addr]bool{}
	for i, s := range list {
		at := o.src.item(f, i)
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			hint := "an address such as 192.0.2.10 or 2001:db8::10"
			if strings.Contains(s, "/") {
				hint = "write the address without a prefix length; the switch's subnets give it"
			}
			if s == "auto" {
				hint = "write ips: auto alone, not in a list of addresses"
			}
			v.errAt(at, o, hint, "invalid IP %q", s)
			continue
		}
		ip = ip.Unmap()
		if seen[ip] {
			v.errAt(at, o, "", "IP %s listed twice", ip)
			continue
		}
		seen[ip] = true
		if sw != nil && len(sw.Subnets) > 0 {
			inside, family := false, false
			for _, p := range sw.Subnets {
				family = family || p.Addr().Is4() == ip.Is4()
				inside = inside || p.Contains(ip)
			}
			switch {
			case !family:
				v.errAt(at, o, "", "IP %s: switch %q has no IPv%d subnet", ip, sw.Name, map[bool]int{true: 4, false: 6}[ip.Is4()])
			case !inside:
				v.errAt(at, o, "", "IP %s is outside the subnets of switch %q (%s)", ip, sw.Name, prefixes(sw.Subnets))
			}
		}
		out = append(out, ip)
	}
	return out
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

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

// freeze sorts everything and gives objects their ids.
func (v *validation) freeze() error {
	t := v.t
	sort.Slice(t.Hosts, func(i, j int) bool { return t.Hosts[i].Name < t.Hosts[j].Name })
	sort.Slice(t.Switches, func(i, j int) bool { return t.Switches[i].Name < t.Switches[j].Name })
	sort.Slice(t.Ports, func(i, j int) bool { return t.Ports[i].Name < t.Ports[j].Name })
	sort.Slice(t.ACLs, func(i, j int) bool { return t.ACLs[i].Name < t.ACLs[j].Name })
	sort.Slice(t.L2Gateways, func(i, j int) bool { return t.L2Gateways[i].Name < t.L2Gateways[j].Name })
	sort.Slice(t.ExternalEndpoints, func(i, j int) bool { return t.ExternalEndpoints[i].Name < t.ExternalEndpoints[j].Name })
	var err error
	ids := func(n int, name func(int) string, max uint32, set func(int, uint32)) {
		names := make([]string, n)
		for i := range names {
			names[i] = name(i)
		}
		list, e := AssignIDs(names, max)
		if e != nil && err == nil {
			err = e
		}
		for i, id := range list {
			set(i, id)
		}
	}
	ids(len(t.Hosts), func(i int) string { return t.Hosts[i].Name }, MaxHostKey, func(i int, id uint32) { t.Hosts[i].Key = id })
	ids(len(t.Switches), func(i int) string { return t.Switches[i].Name }, MaxSwitchID, func(i int, id uint32) { t.Switches[i].ID = id })
	ids(len(t.Ports), func(i int) string { return t.Ports[i].Name }, MaxPortKey, func(i int, id uint32) { t.Ports[i].Key = id })
	ids(len(t.ACLs), func(i int) string { return t.ACLs[i].Name }, MaxACLID, func(i int, id uint32) { t.ACLs[i].ID = id })
	ids(len(t.L2Gateways), func(i int) string { return t.L2Gateways[i].Name }, MaxGatewayID, func(i int, id uint32) { t.L2Gateways[i].ID = id })
	ids(len(t.ExternalEndpoints), func(i int) string { return t.ExternalEndpoints[i].Name }, MaxEndpointID, func(i int, id uint32) { t.ExternalEndpoints[i].ID = id })
	return err
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
