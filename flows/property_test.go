package flows

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/topology"
)

// The property of Compiled.Update: after any edit, the state it gives
// equals a compilation from scratch, flow for flow and port for port
// (origins' positions aside, which keep the topology a flow was compiled
// from where a change did not reach it), a host whose state does not
// change keeps its *HostState, and Delta turns the old state into the
// new. Random topologies, random edit sequences; LOOM_PROPERTY_STEPS sets the number of edits per seed
// (default 60) and LOOM_PROPERTY_SEEDS the number of seeds (default 8).

// model is a topology as the test edits it; it renders to YAML.
type model struct {
	r         *rand.Rand
	next      int // counter for unique names, MACs, IPs, keys, VLANs
	hosts     []mHost
	switches  []mSwitch
	ports     []mPort
	acls      []mACL
	gateways  []mGateway
	endpoints []mEndpoint
}

type mHost struct {
	name, tunnelIP string
}

type mSwitch struct {
	name         string
	vlan, key    int // vlan > 0: VLAN-backed; else overlay with key
	encap        string
	flood, noARP bool
	deny         bool
}

type mPort struct {
	name, sw, host, mac string
	ips                 []string
	noSecurity          bool
	byID                bool // bound by ifaceID, not by interface name
	from, to            []string
}

type mACL struct {
	name  string
	rules []string
}

type mGateway struct {
	name, sw, host string
	vlan           int
}

type mEndpoint struct {
	name, ip, encap, sw string
	key                 int
	behind              []string // "mac ip"
}

func (m *model) uniq() int { m.next++; return m.next }

func (m *model) mac() string {
	n := m.uniq()
	return fmt.Sprintf("02:00:%02x:%02x:%02x:%02x", n>>24&0xff, n>>16&0xff, n>>8&0xff, n&0xff)
}

func (m *model) ip4() string {
	n := m.uniq()
	return fmt.Sprintf("10.%d.%d.%d", n>>16&0xff, n>>8&0xff, n&0xff|1)
}

func (m *model) ip6() string { return fmt.Sprintf("2001:db8::%x", m.uniq()) }

var rules = []string{
	"{action: allow}",
	"{action: drop, proto: tcp, dstPorts: 22}",
	"{name: web, action: allow, proto: tcp, dstPorts: 8000-8080}",
	"{action: allow, proto: icmp, icmpType: 8}",
	"{action: allow, ethType: arp}",
	"{action: drop, proto: udp, srcPorts: 1000-1999, dst: 10.0.0.0/8}",
	"{action: allow, proto: icmpv6}",
}

func (m *model) randomRules() []string {
	n := 1 + m.r.IntN(3)
	out := make([]string, n)
	for i := range out {
		out[i] = rules[m.r.IntN(len(rules))]
	}
	return out
}

func pick[T any](r *rand.Rand, l []T) (int, bool) {
	if len(l) == 0 {
		return 0, false
	}
	return r.IntN(len(l)), true
}

func (m *model) addHost() string {
	n := m.uniq()
	h := mHost{name: fmt.Sprintf("h%d", n), tunnelIP: fmt.Sprintf("198.19.%d.%d", n/250, n%250+1)}
	m.hosts = append(m.hosts, h)
	return "host added " + h.name
}

func (m *model) addSwitch() string {
	s := mSwitch{name: fmt.Sprintf("s%d", m.uniq()), encap: []string{"gre", "vxlan", "geneve"}[m.r.IntN(3)],
		flood: m.r.IntN(3) == 0, noARP: m.r.IntN(5) == 0, deny: m.r.IntN(4) == 0}
	if m.r.IntN(4) == 0 {
		s.vlan = 100 + m.uniq()%3000
	} else {
		s.key = m.uniq()
	}
	m.switches = append(m.switches, s)
	return "switch added " + s.name
}

func (m *model) addPort() string {
	si, ok1 := pick(m.r, m.switches)
	hi, ok2 := pick(m.r, m.hosts)
	if !ok1 || !ok2 {
		return ""
	}
	p := mPort{name: fmt.Sprintf("p%d", m.uniq()), sw: m.switches[si].name, host: m.hosts[hi].name, mac: m.mac(),
		noSecurity: m.r.IntN(6) == 0, byID: m.r.IntN(5) == 0}
	switch m.r.IntN(4) {
	case 0:
	case 1:
		p.ips = []string{m.ip4(), m.ip6()}
	default:
		p.ips = []string{m.ip4()}
	}
	if ai, ok := pick(m.r, m.acls); ok && m.r.IntN(3) == 0 {
		p.from = []string{m.acls[ai].name}
	}
	if ai, ok := pick(m.r, m.acls); ok && m.r.IntN(3) == 0 {
		p.to = []string{m.acls[ai].name}
	}
	m.ports = append(m.ports, p)
	return "port added " + p.name
}

// edit makes one random edit and says what it did ("" if it could not).
func (m *model) edit() string {
	r := m.r
	switch r.IntN(20) {
	case 0, 1, 2:
		return m.addPort()
	case 3, 4:
		if i, ok := pick(r, m.ports); ok {
			name := m.ports[i].name
			m.ports = slices.Delete(m.ports, i, i+1)
			return "port removed " + name
		}
	case 5, 6:
		if i, ok := pick(r, m.ports); ok {
			if h, ok := pick(r, m.hosts); ok {
				m.ports[i].host = m.hosts[h].name
				return "port moved " + m.ports[i].name + " to " + m.hosts[h].name
			}
		}
	case 7:
		if i, ok := pick(r, m.ports); ok {
			m.ports[i].mac = m.mac()
			return "port MAC " + m.ports[i].name
		}
	case 8:
		if i, ok := pick(r, m.ports); ok {
			m.ports[i].ips = []string{m.ip4()}
			if r.IntN(2) == 0 {
				m.ports[i].ips = append(m.ports[i].ips, m.ip6())
			}
			return "port IPs " + m.ports[i].name
		}
	case 9:
		return m.addSwitch()
	case 10:
		if i, ok := pick(r, m.switches); ok {
			name := m.switches[i].name
			m.switches = slices.Delete(m.switches, i, i+1)
			m.ports = slices.DeleteFunc(m.ports, func(p mPort) bool { return p.sw == name })
			m.gateways = slices.DeleteFunc(m.gateways, func(g mGateway) bool { return g.sw == name })
			m.endpoints = slices.DeleteFunc(m.endpoints, func(e mEndpoint) bool { return e.sw == name })
			return "switch removed " + name
		}
	case 11:
		if i, ok := pick(r, m.switches); ok {
			s := &m.switches[i]
			switch r.IntN(4) {
			case 0:
				s.flood = !s.flood
			case 1:
				s.noARP = !s.noARP
			case 2:
				s.deny = !s.deny
			default:
				if s.vlan == 0 {
					s.key = m.uniq()
				}
			}
			return "switch settings " + s.name
		}
	case 12:
		a := mACL{name: fmt.Sprintf("a%d", m.uniq()), rules: m.randomRules()}
		m.acls = append(m.acls, a)
		if i, ok := pick(r, m.ports); ok {
			m.ports[i].to = append(m.ports[i].to, a.name)
		}
		return "acl added " + a.name
	case 13:
		if i, ok := pick(r, m.acls); ok {
			if r.IntN(3) == 0 {
				name := m.acls[i].name
				m.acls = slices.Delete(m.acls, i, i+1)
				for j := range m.ports {
					m.ports[j].from = slices.DeleteFunc(slices.Clone(m.ports[j].from), func(s string) bool { return s == name })
					m.ports[j].to = slices.DeleteFunc(slices.Clone(m.ports[j].to), func(s string) bool { return s == name })
				}
				return "acl removed " + name
			}
			m.acls[i].rules = m.randomRules()
			return "acl rules " + m.acls[i].name
		}
	case 14:
		if i, ok := pick(r, m.ports); ok {
			if a, ok := pick(r, m.acls); ok && r.IntN(3) != 0 {
				p := &m.ports[i]
				if len(p.from) > 0 && r.IntN(2) == 0 {
					p.from = nil
				} else {
					p.from = []string{m.acls[a].name}
				}
				return "port acls " + p.name
			}
			p := &m.ports[i]
			p.byID = !p.byID
			return "port rebound " + p.name
		}
	case 15:
		if r.IntN(2) == 0 || len(m.hosts) < 2 {
			return m.addHost()
		}
		i := r.IntN(len(m.hosts))
		name := m.hosts[i].name
		m.hosts = slices.Delete(m.hosts, i, i+1)
		m.ports = slices.DeleteFunc(m.ports, func(p mPort) bool { return p.host == name })
		m.gateways = slices.DeleteFunc(m.gateways, func(g mGateway) bool { return g.host == name })
		return "host removed " + name
	case 16:
		if i, ok := pick(r, m.hosts); ok {
			n := m.uniq()
			m.hosts[i].tunnelIP = fmt.Sprintf("198.19.%d.%d", n/250, n%250+1)
			return "host tunnel IP " + m.hosts[i].name
		}
	case 17:
		if i, ok := pick(r, m.gateways); ok && r.IntN(2) == 0 {
			if r.IntN(2) == 0 {
				name := m.gateways[i].name
				m.gateways = slices.Delete(m.gateways, i, i+1)
				return "gateway removed " + name
			}
			m.gateways[i].vlan = 100 + m.uniq()%3000
			return "gateway VLAN " + m.gateways[i].name
		}
		si, ok1 := pick(r, m.switches)
		hi, ok2 := pick(r, m.hosts)
		if !ok1 || !ok2 || m.switches[si].vlan != 0 || slices.ContainsFunc(m.gateways, func(g mGateway) bool { return g.sw == m.switches[si].name }) {
			return ""
		}
		g := mGateway{name: fmt.Sprintf("g%d", m.uniq()), sw: m.switches[si].name, host: m.hosts[hi].name, vlan: 100 + m.uniq()%3000}
		m.gateways = append(m.gateways, g)
		return "gateway added " + g.name
	case 18:
		if i, ok := pick(r, m.endpoints); ok && r.IntN(2) == 0 {
			if r.IntN(2) == 0 {
				name := m.endpoints[i].name
				m.endpoints = slices.Delete(m.endpoints, i, i+1)
				return "endpoint removed " + name
			}
			m.endpoints[i].behind = append(m.endpoints[i].behind, m.mac()+" "+m.ip4())
			return "endpoint station " + m.endpoints[i].name
		}
		si, ok := pick(r, m.switches)
		if !ok || m.switches[si].vlan != 0 {
			return ""
		}
		e := mEndpoint{name: fmt.Sprintf("e%d", m.uniq()), encap: m.switches[si].encap, sw: m.switches[si].name,
			behind: []string{m.mac() + " " + m.ip4()}}
		// Sometimes one VTEP for endpoints of several switches.
		if j, ok := pick(r, m.endpoints); ok && r.IntN(2) == 0 && m.endpoints[j].encap == e.encap {
			e.ip = m.endpoints[j].ip
		} else {
			n := m.uniq()
			e.ip = fmt.Sprintf("198.20.%d.%d", n/250, n%250+1)
		}
		e.key = m.uniq()
		m.endpoints = append(m.endpoints, e)
		return "endpoint added " + e.name
	case 19:
		if i, ok := pick(r, m.ports); ok {
			m.ports[i].noSecurity = !m.ports[i].noSecurity
			return "port security " + m.ports[i].name
		}
	}
	return ""
}

func (m *model) yaml() []byte {
	var b strings.Builder
	b.WriteString("apiVersion: loom/v1\nhosts:\n")
	for i, h := range m.hosts {
		fmt.Fprintf(&b, "  - {name: %s, ovsdb: \"tcp:198.18.%d.%d:6640\", tunnelIP: %s, physnets: {phys1: lm-pn}}\n", h.name, i/250, i%250+1, h.tunnelIP)
	}
	if len(m.switches) > 0 {
		b.WriteString("switches:\n")
	}
	for _, s := range m.switches {
		fmt.Fprintf(&b, "  - {name: %s", s.name)
		if s.vlan > 0 {
			fmt.Fprintf(&b, ", vlan: %d, physnet: phys1", s.vlan)
		} else {
			fmt.Fprintf(&b, ", tunnelKey: %d, encapsulation: %s", s.key, s.encap)
		}
		if s.flood {
			b.WriteString(", floodUnknown: true")
		}
		if s.noARP {
			b.WriteString(", arpResponder: false")
		}
		if s.deny {
			b.WriteString(", aclDefault: deny")
		}
		b.WriteString("}\n")
	}
	if len(m.ports) > 0 {
		b.WriteString("ports:\n")
	}
	for _, p := range m.ports {
		bind := "interface: lm-"
		if p.byID {
			bind = "ifaceID: id-"
		}
		fmt.Fprintf(&b, "  - {name: %s, switch: %s, host: %s, mac: \"%s\", %s%s", p.name, p.sw, p.host, p.mac, bind, p.name)
		if len(p.ips) > 0 {
			fmt.Fprintf(&b, ", ips: [%s]", quoteAll(p.ips))
		}
		if p.noSecurity {
			b.WriteString(", portSecurity: false")
		}
		if len(p.from) > 0 || len(p.to) > 0 {
			fmt.Fprintf(&b, ", acls: {fromPort: [%s], toPort: [%s]}", strings.Join(p.from, ", "), strings.Join(p.to, ", "))
		}
		b.WriteString("}\n")
	}
	if len(m.acls) > 0 {
		b.WriteString("acls:\n")
	}
	for _, a := range m.acls {
		fmt.Fprintf(&b, "  - name: %s\n    rules:\n", a.name)
		for _, r := range a.rules {
			fmt.Fprintf(&b, "      - %s\n", r)
		}
	}
	if len(m.gateways) > 0 {
		b.WriteString("l2Gateways:\n")
	}
	for _, g := range m.gateways {
		fmt.Fprintf(&b, "  - {name: %s, switch: %s, host: %s, physnet: phys1, vlan: %d}\n", g.name, g.sw, g.host, g.vlan)
	}
	if len(m.endpoints) > 0 {
		b.WriteString("externalEndpoints:\n")
	}
	for _, e := range m.endpoints {
		fmt.Fprintf(&b, "  - name: %s\n    ip: %s\n    encapsulation: %s\n    switch: %s\n    key: %d\n    behind:\n", e.name, e.ip, e.encap, e.sw, e.key)
		for _, st := range e.behind {
			mac, ip, _ := strings.Cut(st, " ")
			fmt.Fprintf(&b, "      - {mac: \"%s\", ips: [%s]}\n", mac, ip)
		}
	}
	return []byte(b.String())
}

func quoteAll(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func (m *model) clone() *model {
	c := *m
	c.hosts = slices.Clone(m.hosts)
	c.switches = slices.Clone(m.switches)
	c.ports = slices.Clone(m.ports)
	c.acls = slices.Clone(m.acls)
	c.gateways = slices.Clone(m.gateways)
	c.endpoints = slices.Clone(m.endpoints)
	return &c
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func TestUpdateEqualsCompileProperty(t *testing.T) {
	steps := envInt("LOOM_PROPERTY_STEPS", 60)
	seeds := envInt("LOOM_PROPERTY_SEEDS", 8)
	accepted, refused := 0, 0
	for seed := range seeds {
		m := &model{r: rand.New(rand.NewPCG(uint64(seed), 13))}
		for range 2 + m.r.IntN(4) {
			m.addHost()
		}
		for range 1 + m.r.IntN(4) {
			m.addSwitch()
		}
		for range m.r.IntN(12) {
			m.addPort()
		}
		l := topology.NewLoader()
		topo, err := l.LoadBytes(map[string][]byte{"t.yaml": m.yaml()})
		if err != nil {
			t.Fatalf("seed %d: the first topology is invalid: %v\n%s", seed, err, m.yaml())
		}
		cur, err := (*Compiled)(nil).Update(topo)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for step := range steps {
			next := m.clone()
			what := next.edit()
			if what == "" {
				continue
			}
			topo, err := l.LoadBytes(map[string][]byte{"t.yaml": next.yaml()})
			if err != nil {
				refused++ // an edit the validator refuses (e.g. a MAC or VLAN clash): not taken
				continue
			}
			accepted++
			*m = *next
			label := fmt.Sprintf("seed %d step %d (%s)", seed, step, what)
			upd, uerr := cur.Update(topo)
			scratch, serr := Compile(topo)
			if (uerr == nil) != (serr == nil) {
				t.Fatalf("%s: update error %v, from scratch %v", label, uerr, serr)
			}
			if uerr != nil {
				continue // refused either way (e.g. a flow budget): the state in force stays
			}
			sameStates(t, label, upd.States(), scratch)
			// A host whose state did not change keeps its pointer; one
			// that changed is named by Changed.
			changed := map[string]bool{}
			for _, h := range upd.Changed() {
				changed[h] = true
			}
			for _, hs := range upd.States() {
				old := cur.Host(hs.Host)
				if !changed[hs.Host] && old != hs {
					t.Errorf("%s: host %s not in Changed but has a new state", label, hs.Host)
				}
				if changed[hs.Host] && old != nil && old == hs {
					t.Errorf("%s: host %s in Changed but kept its state", label, hs.Host)
				}
				if old != nil && old != hs && sameContent(old, hs) {
					t.Errorf("%s: host %s: a new *HostState for the same state", label, hs.Host)
				}
				if old != nil {
					checkDelta(t, label, old, hs)
				}
			}
			if t.Failed() {
				t.Fatalf("%s: topology:\n%s", label, m.yaml())
			}
			cur = upd
		}
	}
	t.Logf("%d edits taken, %d refused by validation", accepted, refused)
	if accepted < refused {
		t.Errorf("most edits were refused (%d of %d): the test tests little", refused, accepted+refused)
	}
}

// sameContent tells whether two states hold the same ports and flows
// (origins included).
func sameContent(a, b *HostState) bool {
	fa, fb := a.Flows(), b.Flows()
	if len(fa) != len(fb) || !sameState(&HostState{Host: a.Host, OVSDB: a.OVSDB, OpenFlow: a.OpenFlow, Bridge: a.Bridge,
		DatapathType: a.DatapathType, ControllerTarget: a.ControllerTarget, TLS: a.TLS, Ports: a.Ports, flows: &hostFlows{}},
		&HostState{Host: b.Host, OVSDB: b.OVSDB, OpenFlow: b.OpenFlow, Bridge: b.Bridge,
			DatapathType: b.DatapathType, ControllerTarget: b.ControllerTarget, TLS: b.TLS, Ports: b.Ports, flows: &hostFlows{}}) {
		return false
	}
	for i := range fa {
		if !fa[i].Equal(&fb[i]) || fa[i].Origin != fb[i].Origin {
			return false
		}
	}
	return true
}

// checkDelta fails t unless Delta(old, new) turns old into new: its
// flows (by value) and its port rows.
func checkDelta(t *testing.T, label string, old, new *HostState) {
	t.Helper()
	d := Delta(old, new)
	if old == new && !d.Empty() {
		t.Errorf("%s: host %s: a delta between a state and itself", label, new.Host)
	}
	got := map[Key]bool{}
	for _, f := range old.Flows() {
		got[f.Key()] = true
	}
	byIdentity := map[Identity]Key{}
	for _, f := range old.Flows() {
		byIdentity[f.Identity()] = f.Key()
	}
	for _, f := range d.Delete {
		if _, ok := byIdentity[f.Identity()]; !ok {
			t.Errorf("%s: host %s: delta deletes a flow the old state lacks: %s", label, new.Host, &f)
		}
		delete(got, byIdentity[f.Identity()])
	}
	for _, f := range d.Modify {
		if _, ok := byIdentity[f.Identity()]; !ok {
			t.Errorf("%s: host %s: delta modifies a flow the old state lacks: %s", label, new.Host, &f)
		}
		delete(got, byIdentity[f.Identity()])
		got[f.Key()] = true
	}
	for _, f := range d.Add {
		if _, ok := byIdentity[f.Identity()]; ok {
			t.Errorf("%s: host %s: delta adds a flow whose identity the old state has: %s", label, new.Host, &f)
		}
		got[f.Key()] = true
	}
	want := map[Key]bool{}
	for _, f := range new.Flows() {
		want[f.Key()] = true
	}
	if !maps.Equal(got, want) {
		t.Errorf("%s: host %s: old state and delta (%d/%d/%d) give %d flows, want the %d of the new state", label, new.Host,
			len(d.Add), len(d.Modify), len(d.Delete), len(got), len(want))
	}
	rows := map[string]Port{}
	for _, p := range old.Ports {
		rows[p.Name] = p
	}
	for _, p := range d.DeletePorts {
		delete(rows, p.Name)
	}
	for _, p := range d.AddPorts {
		rows[p.Name] = p
	}
	if len(rows) != len(new.Ports) {
		t.Errorf("%s: host %s: old ports and delta give %d ports, want %d", label, new.Host, len(rows), len(new.Ports))
	}
	for _, p := range new.Ports {
		if r, ok := rows[p.Name]; !ok || !samePort(&r, &p) {
			t.Errorf("%s: host %s: port %s not as the delta makes it", label, new.Host, p.Name)
		}
	}
}
