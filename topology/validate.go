package topology

import (
	"fmt"
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
)

const (
	maxNameLen  = 63
	maxIfaceLen = 15 // Linux IFNAMSIZ - 1
)

// at is the position of field f of an object, or of the object itself when
// the field was not written.
func at(obj Pos, fields map[string]Pos, f string) Pos {
	if p, ok := fields[f]; ok {
		return p
	}
	return obj
}

func (d *decoder) name(kind string, obj Pos, fields map[string]Pos, v string) {
	switch {
	case v == "":
		if _, written := fields["name"]; !written {
			d.errs.add(obj, "", "%s has no name", kind)
		}
	case len(v) > maxNameLen || !nameRE.MatchString(v):
		d.errs.add(at(obj, fields, "name"), "use lower-case letters, digits and '-', at most 63", "invalid %s name %q", kind, v)
	}
}

func (d *decoder) required(kind, name string, obj Pos, fields map[string]Pos, f string) bool {
	if _, ok := fields[f]; !ok {
		d.errs.add(obj, "", "%s %q: missing field %q", kind, name, f)
		return false
	}
	return true
}

// unique reports each name seen more than once, at every repeat.
func unique[T any](d *decoder, kind string, items []T, key func(T) (string, Pos)) {
	first := map[string]Pos{}
	for _, it := range items {
		k, p := key(it)
		if k == "" {
			continue
		}
		if f, dup := first[k]; dup {
			d.errs.add(p, "", "%s %q defined twice (first at %s)", kind, k, f)
			continue
		}
		first[k] = p
	}
}

func (d *decoder) validate() *Topology {
	t := &Topology{}
	unique(d, "host", d.hosts, func(h *rawHost) (string, Pos) { return h.name, h.pos })
	unique(d, "switch", d.switches, func(s *rawSwitch) (string, Pos) { return s.name, s.pos })
	unique(d, "port", d.ports, func(p *rawPort) (string, Pos) { return p.name, p.pos })

	for _, r := range d.hosts {
		if h, ok := d.checkHost(r); ok {
			t.Hosts = append(t.Hosts, h)
		}
	}
	unique(d, "tunnel IP", d.hosts, func(h *rawHost) (string, Pos) {
		return h.tunnelIP, at(h.pos, h.fields, "tunnelIP")
	})
	for _, r := range d.switches {
		if s, ok := d.checkSwitch(r); ok {
			t.Switches = append(t.Switches, s)
		}
	}
	unique(d, "tunnel key", d.switches, func(s *rawSwitch) (string, Pos) {
		if s.tunnelKey == 0 {
			return "", Pos{}
		}
		return strconv.FormatInt(s.tunnelKey, 10), at(s.pos, s.fields, "tunnelKey")
	})

	hosts, switches := map[string]bool{}, map[string]bool{}
	var hostNames, switchNames []string
	for _, r := range d.hosts {
		if r.name != "" && !hosts[r.name] {
			hosts[r.name] = true
			hostNames = append(hostNames, r.name)
		}
	}
	for _, r := range d.switches {
		if r.name != "" && !switches[r.name] {
			switches[r.name] = true
			switchNames = append(switchNames, r.name)
		}
	}
	for _, r := range d.ports {
		if p, ok := d.checkPort(r, hosts, hostNames, switches, switchNames); ok {
			t.Ports = append(t.Ports, p)
		}
	}
	unique(d, "interface", d.ports, func(p *rawPort) (string, Pos) {
		if p.iface == "" {
			return "", Pos{}
		}
		return p.host + "/" + p.iface, at(p.pos, p.fields, "interface")
	})
	unique(d, "MAC address", d.ports, func(p *rawPort) (string, Pos) {
		mac, err := net.ParseMAC(p.mac)
		if err != nil {
			return "", Pos{}
		}
		return p.sw + " " + mac.String(), at(p.pos, p.fields, "mac")
	})
	unique(d, "IP address", d.ports, func(p *rawPort) (string, Pos) {
		ip, err := netip.ParseAddr(p.ip)
		if err != nil {
			return "", Pos{}
		}
		return p.sw + " " + ip.String(), at(p.pos, p.fields, "ip")
	})
	if len(d.hosts) > MaxHostKey {
		d.errs.add(Pos{}, "", "%d hosts: at most %d are supported", len(d.hosts), MaxHostKey)
	}
	if len(d.ports) > MaxPortKey {
		d.errs.add(Pos{}, "", "%d ports: at most %d are supported", len(d.ports), MaxPortKey)
	}
	if len(d.errs) > 0 {
		return nil
	}

	sort.Slice(t.Hosts, func(i, j int) bool { return t.Hosts[i].Name < t.Hosts[j].Name })
	sort.Slice(t.Switches, func(i, j int) bool { return t.Switches[i].Name < t.Switches[j].Name })
	sort.Slice(t.Ports, func(i, j int) bool { return t.Ports[i].Name < t.Ports[j].Name })
	names := func(n int, f func(int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	for i, id := range assignIDs(names(len(t.Hosts), func(i int) string { return t.Hosts[i].Name }), MaxHostKey) {
		t.Hosts[i].Key = id
	}
	for i, id := range assignIDs(names(len(t.Switches), func(i int) string { return t.Switches[i].Name }), MaxSwitchID) {
		t.Switches[i].ID = id
	}
	for i, id := range assignIDs(names(len(t.Ports), func(i int) string { return t.Ports[i].Name }), MaxPortKey) {
		t.Ports[i].Key = id
	}
	return t
}

func (d *decoder) checkHost(r *rawHost) (Host, bool) {
	n := len(d.errs)
	h := Host{Name: r.name, Pos: r.pos, DatapathType: DefaultDatapathType, Bridge: DefaultBridge}
	d.name("host", r.pos, r.fields, r.name)
	var mgmt netip.Addr
	if d.required("host", r.name, r.pos, r.fields, "ovsdb") {
		p := at(r.pos, r.fields, "ovsdb")
		switch {
		case strings.HasPrefix(r.ovsdb, "tcp:"):
			ap, err := netip.ParseAddrPort(strings.TrimPrefix(r.ovsdb, "tcp:"))
			if err != nil {
				d.errs.add(p, "write tcp:IP:PORT, e.g. tcp:192.0.2.10:6640", "host %q: invalid ovsdb address %q", r.name, r.ovsdb)
			} else {
				mgmt = ap.Addr()
				h.OVSDB = "tcp:" + ap.String()
			}
		case strings.HasPrefix(r.ovsdb, "unix:") && len(r.ovsdb) > len("unix:"):
			h.OVSDB = r.ovsdb
		case strings.HasPrefix(r.ovsdb, "ssl:"):
			d.errs.add(p, "use tcp: for now", "host %q: ssl: OVSDB connections are not supported yet", r.name)
		default:
			d.errs.add(p, "write tcp:IP:PORT or unix:PATH", "host %q: invalid ovsdb address %q", r.name, r.ovsdb)
		}
	}
	p := at(r.pos, r.fields, "openflow")
	switch {
	case r.openflow != "":
		ap, err := netip.ParseAddrPort(strings.TrimPrefix(r.openflow, "tcp:"))
		if !strings.HasPrefix(r.openflow, "tcp:") || err != nil {
			d.errs.add(p, "write tcp:IP:PORT, the address the bridge listens on", "host %q: invalid openflow address %q", r.name, r.openflow)
		} else {
			h.OpenFlow = "tcp:" + ap.String()
		}
	case mgmt.IsValid():
		h.OpenFlow = "tcp:" + netip.AddrPortFrom(mgmt, DefaultOpenFlowPort).String()
	case h.OVSDB != "":
		d.errs.add(p, "with a unix: ovsdb address Loom cannot derive it", "host %q: missing field \"openflow\"", r.name)
	}
	if d.required("host", r.name, r.pos, r.fields, "tunnelIP") {
		ip, err := netip.ParseAddr(r.tunnelIP)
		if err != nil || !ip.Is4() {
			d.errs.add(at(r.pos, r.fields, "tunnelIP"), "GRE tunnels run over IPv4", "host %q: invalid tunnel IP %q", r.name, r.tunnelIP)
		}
		h.TunnelIP = ip
	}
	if r.datapathType != "" {
		if r.datapathType != "system" && r.datapathType != "netdev" {
			d.errs.add(at(r.pos, r.fields, "datapathType"), "system or netdev", "host %q: unknown datapath type %q", r.name, r.datapathType)
		}
		h.DatapathType = r.datapathType
	}
	if _, ok := r.fields["bridge"]; ok {
		if r.bridge == "" || len(r.bridge) > maxIfaceLen || !ifaceRE.MatchString(r.bridge) {
			d.errs.add(at(r.pos, r.fields, "bridge"), "", "host %q: invalid bridge name %q", r.name, r.bridge)
		}
		h.Bridge = r.bridge
	}
	return h, len(d.errs) == n
}

func (d *decoder) checkSwitch(r *rawSwitch) (Switch, bool) {
	n := len(d.errs)
	d.name("switch", r.pos, r.fields, r.name)
	if d.required("switch", r.name, r.pos, r.fields, "tunnelKey") &&
		(r.tunnelKey < 1 || r.tunnelKey > 1<<32-1) {
		d.errs.add(at(r.pos, r.fields, "tunnelKey"), "a GRE key is 1..4294967295", "switch %q: tunnel key %d out of range", r.name, r.tunnelKey)
	}
	return Switch{Name: r.name, TunnelKey: uint32(r.tunnelKey), Pos: r.pos}, len(d.errs) == n
}

func (d *decoder) checkPort(r *rawPort, hosts map[string]bool, hostNames []string, switches map[string]bool, switchNames []string) (Port, bool) {
	n := len(d.errs)
	p := Port{Name: r.name, Switch: r.sw, Host: r.host, Interface: r.iface, Pos: r.pos}
	d.name("port", r.pos, r.fields, r.name)
	ref := func(field, kind, v string, known map[string]bool, names []string) {
		if d.required("port", r.name, r.pos, r.fields, field) && v != "" && !known[v] {
			hint := didYouMean(v, names)
			if hint == "" && len(names) > 0 {
				hint = fmt.Sprintf("known %ss: %s", kind, strings.Join(names, ", "))
			}
			d.errs.add(at(r.pos, r.fields, field), hint, "port %q: no %s named %q", r.name, kind, v)
		}
	}
	ref("switch", "switch", r.sw, switches, switchNames)
	ref("host", "host", r.host, hosts, hostNames)
	if d.required("port", r.name, r.pos, r.fields, "mac") {
		mac, err := net.ParseMAC(r.mac)
		switch {
		case err != nil || len(mac) != 6:
			d.errs.add(at(r.pos, r.fields, "mac"), "write six hex bytes, e.g. 02:00:00:00:00:01", "port %q: invalid MAC %q", r.name, r.mac)
		case mac[0]&1 == 1:
			d.errs.add(at(r.pos, r.fields, "mac"), "the first byte must be even", "port %q: MAC %s is a multicast address", r.name, mac)
		case mac.String() == "00:00:00:00:00:00":
			d.errs.add(at(r.pos, r.fields, "mac"), "", "port %q: MAC is all zeros", r.name)
		}
		p.MAC = mac
	}
	if d.required("port", r.name, r.pos, r.fields, "ip") {
		ip, err := netip.ParseAddr(r.ip)
		if err != nil || !ip.Is4() {
			d.errs.add(at(r.pos, r.fields, "ip"), "an IPv4 address such as 192.0.2.10", "port %q: invalid IP %q", r.name, r.ip)
		}
		p.IP = ip
	}
	if d.required("port", r.name, r.pos, r.fields, "interface") &&
		(len(r.iface) > maxIfaceLen || !ifaceRE.MatchString(r.iface)) {
		d.errs.add(at(r.pos, r.fields, "interface"), "an interface name of at most 15 characters", "port %q: invalid interface name %q", r.name, r.iface)
	}
	return p, len(d.errs) == n
}
