package daemon

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/controller/ipam"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// Runtime ports and addresses. loomd keeps, with the topology's files
// and in the same stored document (one atomic write), what is not in
// them: the ports runtimes made (POST runtime-ports), the addresses it
// handed out to them and to the ports written with ips: auto, and where
// each subnet's last address was handed out. Every change of either
// (files or runtime ports) goes through resolve, which makes the
// topology the compiler sees: the files' ports with their auto addresses
// filled in, and the runtime ports.

// rtPort is a runtime port as loomd stores it.
type rtPort struct {
	Name        string       `json:"name"`
	Switch      string       `json:"switch"`
	Host        string       `json:"host"`
	Runtime     string       `json:"runtime"`
	ContainerID string       `json:"containerID"`
	IfName      string       `json:"ifName"`
	Interface   string       `json:"interface,omitempty"`
	IfaceID     string       `json:"ifaceID,omitempty"`
	MAC         string       `json:"mac,omitempty"` // "" until resolve makes one
	IPs         []netip.Addr `json:"ips,omitempty"` // none until resolve hands them out
	IPsGiven    bool         `json:"ipsGiven,omitempty"`
	// Ofport is the OpenFlow port loomd chose for it, free on its host
	// when it was made (topology.Port.Ofport); 0 for a port stored before
	// loomd chose them (its number then comes from its name).
	Ofport    uint32    `json:"ofport,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

func (p *rtPort) label() string {
	o := &topology.RuntimeOrigin{Runtime: p.Runtime, ContainerID: p.ContainerID, IfName: p.IfName}
	return fmt.Sprintf("runtime port %q (%s)", p.Name, o)
}

// runtimeState is what loomd keeps besides the files.
type runtimeState struct {
	Ports []rtPort `json:"ports,omitempty"` // sorted by name
	// Auto are the addresses of the files' ips: auto ports, by name.
	Auto map[string][]netip.Addr `json:"auto,omitempty"`
	// Cursors are where each subnet's last address was handed out
	// ("SWITCH PREFIX").
	Cursors map[string]netip.Addr `json:"cursors,omitempty"`
	// Networks are the runtimes' networks (networks.go), sorted by
	// runtime and id.
	Networks []rtNetwork `json:"networks,omitempty"`
}

func (rs runtimeState) clone() runtimeState {
	out := runtimeState{Ports: slices.Clone(rs.Ports), Auto: maps.Clone(rs.Auto), Cursors: maps.Clone(rs.Cursors), Networks: slices.Clone(rs.Networks)}
	return out
}

func (rs runtimeState) equal(o runtimeState) bool {
	eqPort := func(a, b rtPort) bool {
		return a.Name == b.Name && a.Switch == b.Switch && a.Host == b.Host && a.Runtime == b.Runtime &&
			a.ContainerID == b.ContainerID && a.IfName == b.IfName && a.Interface == b.Interface && a.IfaceID == b.IfaceID &&
			a.MAC == b.MAC && slices.Equal(a.IPs, b.IPs) && a.IPsGiven == b.IPsGiven && a.Ofport == b.Ofport && a.CreatedAt.Equal(b.CreatedAt)
	}
	return slices.EqualFunc(rs.Ports, o.Ports, eqPort) &&
		maps.EqualFunc(rs.Auto, o.Auto, func(a, b []netip.Addr) bool { return slices.Equal(a, b) }) &&
		maps.Equal(rs.Cursors, o.Cursors) &&
		slices.EqualFunc(rs.Networks, o.Networks, func(a, b rtNetwork) bool {
			return a.Runtime == b.Runtime && a.ID == b.ID && a.Switch == b.Switch && a.Host == b.Host && a.CreatedAt.Equal(b.CreatedAt)
		})
}

// resolution is what resolve made.
type resolution struct {
	topo    *topology.Topology
	rs      runtimeState
	removed []string // runtime ports forced out, as labels
}

// resolve makes the topology loomd compiles from the files' topology t
// and the runtime state rs: it hands out the addresses the ips: auto
// ports and the runtime ports lack (and MACs to runtime ports without
// one), keeps those they hold, and refuses, naming both, a static
// address of the files that another port holds. Runtime ports whose
// switch or host t lacks are refused, naming them, or with force
// removed. Nothing of rs is changed.
func resolve(t *topology.Topology, rs runtimeState, force bool) (resolution, error) {
	rs = rs.clone()
	a := ipam.New(t, rs.Cursors)
	var ps []api.Problem
	fail := func(format string, args ...any) { ps = append(ps, api.Problem{Message: fmt.Sprintf(format, args...)}) }
	label := func(p *topology.Port) string { return "port " + strconv.Quote(p.Name) }
	for i := range t.Ports {
		p := &t.Ports[i]
		if len(p.IPs) == 0 {
			continue
		}
		l := label(p)
		for _, ip := range p.IPs {
			a.Take(p.Switch, ip, l) //nolint:errcheck // the files' addresses are unique (validated)
		}
	}
	// Runtime ports that lost their switch or host.
	var res resolution
	kept := rs.Ports[:0:0]
	var orphans []api.Problem
	for _, p := range rs.Ports {
		_, sok := t.Switch(p.Switch)
		_, hok := t.Host(p.Host)
		if sok && hok {
			kept = append(kept, p)
			continue
		}
		what := fmt.Sprintf("switch %q", p.Switch)
		if !hok {
			what = fmt.Sprintf("host %q", p.Host)
			if !sok {
				what = fmt.Sprintf("switch %q and host %q", p.Switch, p.Host)
			}
		}
		orphans = append(orphans, api.Problem{Object: "runtime port " + strconv.Quote(p.Name),
			Message: fmt.Sprintf("%s is on %s, which the topology would no longer have", p.label(), what)})
		res.removed = append(res.removed, p.label())
	}
	if len(orphans) > 0 && !force {
		names := make([]string, len(orphans))
		for i, o := range orphans {
			names[i] = o.Object
		}
		return resolution{}, &api.Error{Code: http.StatusConflict, Problems: orphans,
			Message: fmt.Sprintf("the change would remove the switch or host of %d runtime port(s) (%s): nothing was changed; remove them first (loomctl runtime-port del), or force the change (--force) to remove them with it",
				len(orphans), strings.Join(names, ", "))}
	}
	rs.Ports = kept
	// What is held stays held: runtime ports' addresses, then the auto
	// ports' (a static address of the files that collides with them is
	// refused, naming both).
	for i := range rs.Ports {
		p := &rs.Ports[i]
		for _, ip := range p.IPs {
			if err := a.Take(p.Switch, ip, p.label()); err != nil {
				fail("%v", err)
			}
		}
	}
	auto := map[string][]netip.Addr{}
	sws := map[string]topology.Switch{}
	for _, s := range t.Switches {
		sws[s.Name] = s
	}
	// An auto port keeps, of the addresses it holds, each that is still
	// in one of its switch's subnets, and is handed one for each subnet
	// it has none in (a subnet added to the switch).
	type need struct {
		p      *topology.Port
		subnet netip.Prefix
	}
	var needs []need
	for i := range t.Ports {
		p := &t.Ports[i]
		if !p.IPsAuto {
			continue
		}
		var keep []netip.Addr
		for _, sn := range sws[p.Switch].Subnets {
			found := false
			for _, ip := range rs.Auto[p.Name] {
				if !found && sn.Contains(ip) {
					if err := a.Take(p.Switch, ip, label(p)+" (ips: auto)"); err != nil {
						fail("%v", err)
					}
					keep, found = append(keep, ip), true
				}
			}
			if !found {
				needs = append(needs, need{p, sn})
			}
		}
		auto[p.Name] = keep
	}
	if len(ps) > 0 {
		return resolution{}, &api.Error{Code: http.StatusConflict, Problems: ps,
			Message: "an address would be held twice on a switch: nothing was changed"}
	}
	for _, n := range needs {
		ip, err := a.NextIn(n.p.Switch, n.subnet, label(n.p)+" (ips: auto)")
		if err != nil {
			return resolution{}, exhausted(err, fmt.Sprintf("port %q (ips: auto)", n.p.Name))
		}
		ips := append(auto[n.p.Name], ip)
		sort.Slice(ips, func(i, j int) bool { return ips[i].Is4() && !ips[j].Is4() })
		auto[n.p.Name] = ips
	}
	// MACs on each switch, for the runtime ports that need one.
	macs := map[string]bool{}
	for _, p := range t.Ports {
		macs[p.Switch+" "+p.MAC.String()] = true
	}
	for _, e := range t.ExternalEndpoints {
		for _, st := range e.Behind {
			macs[e.Switch+" "+st.MAC.String()] = true
		}
	}
	for _, p := range rs.Ports {
		if p.MAC != "" {
			macs[p.Switch+" "+p.MAC] = true
		}
	}
	extra := make([]topology.Port, 0, len(rs.Ports))
	for i := range rs.Ports {
		p := &rs.Ports[i]
		if len(p.IPs) == 0 && !p.IPsGiven && len(sws[p.Switch].Subnets) > 0 {
			ips, err := a.Next(p.Switch, p.label())
			if err != nil {
				return resolution{}, exhausted(err, p.label())
			}
			p.IPs = ips
		}
		if p.MAC == "" {
			for n := 0; ; n++ {
				seed := p.Name
				if n > 0 {
					seed += "/" + strconv.Itoa(n)
				}
				if m := topology.AutoMAC(seed).String(); !macs[p.Switch+" "+m] {
					p.MAC = m
					macs[p.Switch+" "+m] = true
					break
				}
			}
		}
		mac, err := net.ParseMAC(p.MAC)
		if err != nil {
			return resolution{}, badRequest("%s: mac %q: %v", p.label(), p.MAC, err)
		}
		extra = append(extra, topology.Port{Name: p.Name, Switch: p.Switch, Host: p.Host, MAC: mac, IPs: p.IPs,
			Interface: p.Interface, IfaceID: p.IfaceID, PortSecurity: true, Ofport: p.Ofport,
			Runtime: &topology.RuntimeOrigin{Runtime: p.Runtime, ContainerID: p.ContainerID, IfName: p.IfName}})
	}
	m, err := topology.Resolve(t, auto, extra)
	if err != nil {
		p, n := problems(err)
		return resolution{}, &api.Error{Code: http.StatusConflict, Problems: p,
			Message: fmt.Sprintf("the runtime ports do not fit the topology (%d problems): nothing was changed", n)}
	}
	rs.Auto = auto
	if len(rs.Auto) == 0 {
		rs.Auto = nil
	}
	rs.Cursors = a.Cursors()
	if len(rs.Cursors) == 0 {
		rs.Cursors = nil
	}
	res.topo, res.rs = m, rs
	return res, nil
}

func exhausted(err error, who string) *api.Error {
	if errors.Is(err, ipam.ErrExhausted) {
		return &api.Error{Code: http.StatusConflict, Message: fmt.Sprintf("%s: no address to hand out: %v; nothing was changed (free addresses: remove ports, shrink excludeIPs or widen the subnet)", who, err)}
	}
	return &api.Error{Code: http.StatusBadRequest, Message: fmt.Sprintf("%s: %v; nothing was changed", who, err)}
}

// view is p as the API shows it, with the prefix lengths, gateways and
// MTU of its switch in t.
func view(p rtPort, t *topology.Topology) api.RuntimePort {
	v := api.RuntimePort{Name: p.Name, Switch: p.Switch, Host: p.Host, Runtime: p.Runtime, ContainerID: p.ContainerID,
		IfName: p.IfName, Interface: p.Interface, IfaceID: p.IfaceID, MAC: p.MAC, IPs: []string{}, IPsGiven: p.IPsGiven, Ofport: p.Ofport, CreatedAt: p.CreatedAt}
	var sw topology.Switch
	if t != nil {
		sw, _ = t.Switch(p.Switch)
	}
	v.MTU = sw.MTU
	for _, ip := range p.IPs {
		bits := ip.BitLen()
		for _, s := range sw.Subnets {
			if s.Contains(ip) {
				bits = s.Bits()
			}
		}
		v.IPs = append(v.IPs, netip.PrefixFrom(ip, bits).String())
	}
	for _, g := range sw.Gateways {
		v.Gateways = append(v.Gateways, g.String())
	}
	return v
}

// rtCall is one runtime call waiting for, or being made in, a batch.
type rtCall struct {
	add    *api.RuntimePortRequest
	delBy  string // the port's name, or "" for the container's interface
	delCID string
	delIf  string
	queued time.Time
	res    any
	err    error
	done   chan struct{}
	// changed: the call changes the runtime state (set by the batch).
	changed bool
	name    string
	created bool
}

// checkAdd checks a request's own fields.
func checkAdd(r *api.RuntimePortRequest) *api.Error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"switch", r.Switch}, {"host", r.Host}, {"runtime", r.Runtime}, {"containerID", r.ContainerID}, {"ifName", r.IfName}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return badRequest("missing %s", strings.Join(missing, ", "))
	}
	switch r.Runtime {
	case api.RuntimeCNI, api.RuntimeDocker, api.RuntimeAttach:
	default:
		return badRequest("runtime %q: want cni, docker or attach", r.Runtime)
	}
	if (r.Interface == "") == (r.IfaceID == "") {
		return badRequest("give exactly one of interface (the host-side OVS interface) and ifaceID")
	}
	if len(r.ContainerID) > 256 || len(r.IfName) > 15 {
		return badRequest("containerID (at most 256 bytes) or ifName (at most 15) too long")
	}
	if r.Interface != "" && !topology.ValidInterface(r.Interface) {
		return badRequest("interface %q: letters, digits, '-', '_' and '.', at most 15", r.Interface)
	}
	if r.Name != "" && !topology.ValidName(r.Name) {
		return badRequest("name %q: lower-case letters, digits and '-', at most 63", r.Name)
	}
	if r.MAC != "" {
		m, err := net.ParseMAC(r.MAC)
		if err != nil || len(m) != 6 {
			return badRequest("mac %q: six hex bytes, e.g. 02:00:00:00:00:01", r.MAC)
		}
		r.MAC = m.String()
	}
	seen := map[netip.Addr]bool{}
	for _, s := range r.IPs {
		ip, err := netip.ParseAddr(s)
		if err != nil || ip.Zone() != "" {
			return badRequest("ip %q: an address such as 192.0.2.10, without prefix length", s)
		}
		if seen[ip.Unmap()] {
			return badRequest("ip %s given twice", ip)
		}
		seen[ip.Unmap()] = true
	}
	return nil
}

// portName makes the name of a runtime port: runtime-container-ifname,
// in the letters names may have, not one of taken.
func portName(r *api.RuntimePortRequest, taken func(string) bool) string {
	id := r.ContainerID
	if len(id) > 12 {
		id = id[:12]
	}
	clean := func(s string) string {
		var b strings.Builder
		for _, c := range strings.ToLower(s) {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
				b.WriteRune(c)
			} else {
				b.WriteByte('-')
			}
		}
		return strings.Trim(b.String(), "-")
	}
	base := clean(r.Runtime + "-" + clean(id) + "-" + clean(r.IfName))
	for strings.Contains(base, "--") {
		base = strings.ReplaceAll(base, "--", "-")
	}
	if len(base) > 56 {
		base = strings.Trim(base[:56], "-")
	}
	name := base
	for n := 2; taken(name); n++ {
		name = base + "-" + strconv.Itoa(n)
	}
	return name
}

// AddRuntimePort adds a runtime port, or answers with the one the
// container's interface has.
func (d *Daemon) AddRuntimePort(r api.RuntimePortRequest) (*api.RuntimePortResult, error) {
	if err := checkAdd(&r); err != nil {
		return nil, err
	}
	c := d.runRuntime(&rtCall{add: &r})
	if c.err != nil {
		return nil, c.err
	}
	return c.res.(*api.RuntimePortResult), nil
}

// DeleteRuntimePort removes the runtime port named name, or (name "") the
// one of a container's interface; one that is not there is no error.
func (d *Daemon) DeleteRuntimePort(name, containerID, ifName string) (*api.RuntimePortDeleted, error) {
	if name == "" && (containerID == "" || ifName == "") {
		return nil, badRequest("name the port, or the container's interface: ?containerID=ID&ifName=NAME")
	}
	c := d.runRuntime(&rtCall{delBy: name, delCID: containerID, delIf: ifName})
	if c.err != nil {
		return nil, c.err
	}
	return c.res.(*api.RuntimePortDeleted), nil
}

// RuntimePorts lists the runtime ports.
func (d *Daemon) RuntimePorts() api.RuntimePorts {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := api.RuntimePorts{Revision: d.st.Revision, Ports: []api.RuntimePort{}}
	for _, p := range d.st.Runtime.Ports {
		out.Ports = append(out.Ports, view(p, d.topo))
	}
	return out
}

// runRuntime makes c in the next batch of runtime calls (group commit,
// as Edit does): a burst of container starts costs one compile and one
// store, not one each.
func (d *Daemon) runRuntime(c *rtCall) *rtCall {
	c.queued, c.done = time.Now(), make(chan struct{})
	groupCommit(d, &d.rtPending, c, func(c *rtCall) chan struct{} { return c.done }, d.commitRuntime)
	return c
}

// commitRuntime makes a batch of runtime calls, each on the result of
// those before it, and installs the result once; if the result is
// refused, each call is made again alone, for its own answer. The caller
// holds d.writeMu.
func (d *Daemon) commitRuntime(batch []*rtCall) {
	if d.base == nil {
		for _, c := range batch {
			c.err = &api.Error{Code: http.StatusConflict, Message: "no topology in force yet: runtime ports need its switches and hosts"}
		}
		return
	}
	rs := d.st.Runtime.clone()
	now := time.Now()
	byName := func(name string) int {
		i, ok := slices.BinarySearchFunc(rs.Ports, name, func(p rtPort, n string) int { return strings.Compare(p.Name, n) })
		if !ok {
			return -1
		}
		return i
	}
	byContainer := func(cid, ifn string) int {
		for i := range rs.Ports {
			if rs.Ports[i].ContainerID == cid && rs.Ports[i].IfName == ifn {
				return i
			}
		}
		return -1
	}
	ofports := d.usedOfports(&rs)
	var changing []*rtCall
	for _, c := range batch {
		c.err, c.changed, c.created, c.name = nil, false, false, ""
		if r := c.add; r != nil {
			if i := byContainer(r.ContainerID, r.IfName); i >= 0 {
				p := rs.Ports[i]
				if p.Switch != r.Switch || p.Host != r.Host || p.Interface != r.Interface || p.IfaceID != r.IfaceID || p.Runtime != r.Runtime {
					c.err = &api.Error{Code: http.StatusConflict, Message: fmt.Sprintf("container %s interface %s already has %s on switch %q, host %q, interface %q: delete it first",
						r.ContainerID, r.IfName, p.label(), p.Switch, p.Host, p.Interface+p.IfaceID)}
					continue
				}
				c.name = p.Name
				continue
			}
			if err := d.switchAndHost(r.Switch, r.Host); err != nil {
				c.err = err
				continue
			}
			taken := func(n string) bool {
				if byName(n) >= 0 {
					return true
				}
				_, ok := d.base.Port(n)
				return ok
			}
			name := r.Name
			if name == "" {
				name = portName(r, taken)
			} else if taken(name) {
				c.err = &api.Error{Code: http.StatusConflict, Message: fmt.Sprintf("port name %q is taken", name)}
				continue
			}
			p := rtPort{Name: name, Switch: r.Switch, Host: r.Host, Runtime: r.Runtime, ContainerID: r.ContainerID, IfName: r.IfName,
				Interface: r.Interface, IfaceID: r.IfaceID, MAC: r.MAC, IPsGiven: len(r.IPs) > 0, CreatedAt: now}
			if p.Ofport = ofports.free(name, r.Host); p.Ofport == 0 {
				c.err = &api.Error{Code: http.StatusConflict, Message: fmt.Sprintf("host %q has no OpenFlow port free for another port (%d at most)", r.Host, flows.MaxWorkloadOfport)}
				continue
			}
			for _, s := range r.IPs {
				p.IPs = append(p.IPs, netip.MustParseAddr(s).Unmap())
			}
			sort.Slice(p.IPs, func(i, j int) bool { return p.IPs[i].Is4() && !p.IPs[j].Is4() })
			i, _ := slices.BinarySearchFunc(rs.Ports, name, func(p rtPort, n string) int { return strings.Compare(p.Name, n) })
			rs.Ports = slices.Insert(rs.Ports, i, p)
			c.name, c.created, c.changed = name, true, true
			changing = append(changing, c)
			continue
		}
		i := -1
		if c.delBy != "" {
			i = byName(c.delBy)
		} else {
			i = byContainer(c.delCID, c.delIf)
		}
		if i < 0 {
			continue
		}
		c.name, c.changed = rs.Ports[i].Name, true
		ofports.release(rs.Ports[i].Host, rs.Ports[i].Ofport)
		rs.Ports = slices.Delete(rs.Ports, i, i+1)
		changing = append(changing, c)
	}
	answer := func() {
		for _, c := range batch {
			if c.err != nil {
				continue
			}
			tm := []api.Timing{{Step: "queue", Ms: ms(now.Sub(c.queued))}}
			if c.changed {
				tm = append(tm, d.steps.list...)
			}
			if c.add != nil {
				res := &api.RuntimePortResult{Created: c.created, Revision: d.st.Revision, Timings: tm}
				for _, p := range d.st.Runtime.Ports {
					if p.Name == c.name {
						res.RuntimePort = view(p, d.topo)
					}
				}
				c.res = res
			} else {
				c.res = &api.RuntimePortDeleted{Name: c.name, Deleted: c.changed, Revision: d.st.Revision, Timings: tm}
			}
		}
	}
	if len(changing) == 0 {
		answer()
		return
	}
	st := d.st
	st.Revision++
	st.Runtime = rs
	st.UpdatedAt = now
	rejected := d.state.Rejected != ""
	if err := d.install(d.base, st, false); err != nil {
		if len(changing) > 1 {
			for _, c := range changing {
				d.commitRuntime([]*rtCall{c})
			}
			// The calls that changed nothing answer from the state now.
			var rest []*rtCall
			for _, c := range batch {
				if !c.changed && c.err == nil {
					rest = append(rest, c)
				}
			}
			if len(rest) > 0 {
				d.commitRuntime(rest)
			}
			return
		}
		c := changing[0]
		if e, ok := err.(*api.Error); ok {
			c.err = e
		} else {
			c.err = &api.Error{Code: http.StatusBadRequest, Message: err.Error()}
		}
		for _, o := range batch {
			if o != c && o.err == nil && !o.changed {
				d.commitRuntime([]*rtCall{o})
			}
		}
		return
	}
	if rejected && d.cfg.TopologyPath != "" {
		// Files refused for the runtime ports they did not fit (their
		// switch removed) are judged again at the next look: the ports
		// may be gone now.
		d.lastJudged = nil
	}
	answer()
}

// ofportsInUse are the workload OpenFlow ports taken on each host, for
// choosing a new runtime port's (topology.Port.Ofport): read, for a host
// a batch touches, from the last compilation, with the fixed ones of the
// runtime ports as the batch changes them.
type ofportsInUse struct {
	compiled *flows.Compiled
	rs       *runtimeState
	hosts    map[string]map[uint32]bool
}

func (d *Daemon) usedOfports(rs *runtimeState) *ofportsInUse {
	return &ofportsInUse{compiled: d.compiled, rs: rs, hosts: map[string]map[uint32]bool{}}
}

// of is host's set, made at its first use.
func (u *ofportsInUse) of(host string) map[uint32]bool {
	if m, ok := u.hosts[host]; ok {
		return m
	}
	m := map[uint32]bool{}
	if hs := u.compiled.Host(host); hs != nil {
		for _, p := range hs.Ports {
			if p.Ofport >= 1 && p.Ofport <= flows.MaxWorkloadOfport {
				m[uint32(p.Ofport)] = true
			}
		}
	}
	for _, p := range u.rs.Ports {
		if p.Host == host && p.Ofport != 0 {
			m[p.Ofport] = true
		}
	}
	u.hosts[host] = m
	return m
}

// release frees a deleted port's number; only for a number fixed by
// loomd: one derived from a name is the compiler's to move.
func (u *ofportsInUse) release(host string, ofport uint32) {
	if ofport != 0 {
		delete(u.of(host), ofport)
	}
}

// free chooses the port of a new runtime port on host, and takes it (0:
// none is free).
func (u *ofportsInUse) free(name, host string) uint32 {
	m := u.of(host)
	n := topology.FreeID(name, flows.MaxWorkloadOfport, func(id uint32) bool { return m[id] })
	if n != 0 {
		m[n] = true
	}
	return n
}

// switchAndHost is a 404 naming sw or host if the files' topology in
// force lacks it (the caller holds d.writeMu).
func (d *Daemon) switchAndHost(sw, host string) *api.Error {
	if _, ok := d.base.Switch(sw); !ok {
		return &api.Error{Code: http.StatusNotFound, Message: fmt.Sprintf("no switch named %q in the topology (revision %d)", sw, d.st.Revision)}
	}
	if _, ok := d.base.Host(host); !ok {
		return &api.Error{Code: http.StatusNotFound, Message: fmt.Sprintf("no host named %q in the topology (revision %d)", host, d.st.Revision)}
	}
	return nil
}
