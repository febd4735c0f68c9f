package topology

import (
	"fmt"
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

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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
