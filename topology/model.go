package topology

import (
	"net"
	"net/netip"
	"sort"
)

// APIVersion is the only version of the language this Loom reads.
const APIVersion = "loom/v1"

// Defaults for what a topology may leave out.
const (
	DefaultBridge        = "br-int"
	DefaultDatapathType  = "system"
	DefaultEncapsulation = "gre"
	DefaultUnderlayMTU   = 1500
	DefaultOpenFlowPort  = 6653
)

// Encapsulations and their overhead over an IPv4 underlay: outer IPv4 (20),
// the encapsulation's own header (GRE with key 8; UDP 8 + VXLAN or Geneve 8)
// and the inner Ethernet header (14). An IPv6 underlay adds 20.
var encapOverhead = map[string]int{"gre": 42, "vxlan": 50, "geneve": 50}

// EncapOverhead is the bytes an encapsulation adds to a workload's IP
// packet on an underlay of the given family.
func EncapOverhead(encap string, underlayV6 bool) int {
	o := encapOverhead[encap]
	if underlayV6 {
		o += 20
	}
	return o
}

// MaxKey is the largest tunnel key or VNI of an encapsulation.
func MaxKey(encap string) int64 {
	if encap == "gre" {
		return 1<<32 - 1
	}
	return 1<<24 - 1
}

// Topology is a validated, frozen network description. Slices are sorted by
// name. Do not modify it.
type Topology struct {
	Hosts             []Host
	Switches          []Switch
	Ports             []Port
	ACLs              []ACL
	L2Gateways        []L2Gateway
	ExternalEndpoints []ExternalEndpoint
	// Warnings are problems that do not stop the topology from being
	// applied (e.g. an ACL rule that can never match), sorted.
	Warnings ErrorList
}

// Host is one Open vSwitch host Loom programs.
type Host struct {
	Name string
	// OVSDB is the host's ovsdb-server address as Loom dials it:
	// "tcp:IP:PORT", "ssl:IP:PORT" or "unix:PATH".
	OVSDB string
	// OpenFlow is the address of the bridge's passive OpenFlow listener as
	// Loom dials it ("tcp:IP:PORT" or "ssl:IP:PORT").
	OpenFlow     string
	TunnelIP     netip.Addr // invalid when the host carries no overlay
	DatapathType string     // "system" or "netdev"
	Bridge       string     // the integration bridge Loom owns
	UnderlayMTU  int
	Physnets     map[string]string // physnet -> NIC
	Labels       map[string]string
	// Key is the host's small stable id (1..MaxHostKey), derived from its
	// name; it numbers the tunnel ports that lead to the host.
	Key uint32
	// TLS is the certificate the host must present (zero: any the CA
	// signed).
	TLS CertPin
	Pos Pos
}

// CertPin names the certificate a host must present on ssl: addresses.
// Empty fields check nothing.
type CertPin struct {
	SHA256     string // fingerprint of the DER certificate: 64 lower-case hex digits
	CommonName string // the subject's common name, exactly
}

// Switch is a logical switch: one L2 broadcast domain spanning hosts.
type Switch struct {
	Name string
	// Overlay switches have a TunnelKey and an Encapsulation; VLAN-backed
	// ones a VLAN on a Physnet.
	TunnelKey     uint32
	Encapsulation string // "gre", "vxlan", "geneve"; "" for VLAN-backed
	VLAN          int
	Physnet       string
	Subnets       []netip.Prefix // at most one per family, IPv4 first
	// Gateways are the subnets' router addresses (at most one per
	// subnet, IPv4 first); loomd never hands them out.
	Gateways []netip.Addr
	// Exclude are the ranges of the subnets loomd never hands out.
	Exclude      []IPRange
	MTU          int
	FloodUnknown bool
	ARPResponder bool
	ACLDefault   string // "allow" or "deny"
	// ID is the switch's stable id (1..MaxSwitchID), derived from its name.
	ID  uint32
	Pos Pos
}

// Overlay tells whether the switch is carried by tunnels (not a VLAN).
func (s *Switch) Overlay() bool { return s.VLAN == 0 }

// Port is a workload's attachment to a logical switch on one host.
type Port struct {
	Name    string
	Switch  string
	Host    string
	MAC     net.HardwareAddr
	MACAuto bool // MAC was derived from the name (mac: auto)
	IPs     []netip.Addr
	// IPsAuto: the port was written with ips: auto. Its IPs are empty in
	// a topology as loaded; loomd fills them (Resolve) before compiling.
	IPsAuto bool
	// Exactly one of Interface (an OVS interface name) and IfaceID (the
	// value of an interface's external_ids:iface-id) is set.
	Interface    string
	IfaceID      string
	PortSecurity bool
	ACLsFromPort []string // applied to traffic the workload sends
	ACLsToPort   []string // applied to traffic delivered to the workload
	// Runtime is set on ports a container runtime made through loomd's
	// API (not written in the files; Pos is zero then).
	Runtime *RuntimeOrigin
	// Key is the port's stable id (1..MaxPortKey), derived from its name,
	// unique across the topology.
	Key uint32
	// Ofport, if not 0, is the port's OpenFlow port, fixed: loomd chooses
	// one free on the host when a runtime makes the port, so that no port
	// made or removed later moves it (one derived from the name moves
	// when a port whose name hashes to the same number comes or goes).
	// 0: derived from the name among the host's ports.
	Ofport uint32
	Pos    Pos
}

// IPRange is an inclusive range of addresses of one family.
type IPRange struct{ From, To netip.Addr }

// Contains tells whether ip lies in the range.
func (r IPRange) Contains(ip netip.Addr) bool {
	return ip.BitLen() == r.From.BitLen() && r.From.Compare(ip) <= 0 && ip.Compare(r.To) <= 0
}

func (r IPRange) String() string {
	if r.From == r.To {
		return r.From.String()
	}
	return r.From.String() + "-" + r.To.String()
}

// RuntimeOrigin says which runtime made a port, for which container.
type RuntimeOrigin struct {
	Runtime     string // cni, docker or attach
	ContainerID string
	IfName      string // the interface's name inside the container
}

func (o *RuntimeOrigin) String() string {
	if o == nil {
		return ""
	}
	id := o.ContainerID
	if len(id) > 12 {
		id = id[:12]
	}
	return o.Runtime + " " + id + " " + o.IfName
}

// Origin is where a port comes from, as people read it: its file:line,
// or its runtime, container and interface.
func (p *Port) Origin() string {
	if p.Runtime != nil {
		return p.Runtime.String()
	}
	return p.Pos.String()
}

// ACL is an ordered list of rules.
type ACL struct {
	Name  string
	Rules []Rule
	// ID is the ACL's stable id (1..MaxACLID), derived from its name.
	ID  uint32
	Pos Pos
}

// Rule is one ACL rule. A zero field matches anything.
type Rule struct {
	Name     string
	Index    int    // 0-based place in its ACL
	Allow    bool   // the action: allow (true) or drop
	EthType  uint16 // 0: any
	Proto    int    // IP protocol; -1: any
	Src, Dst netip.Prefix
	SrcPorts PortSpan
	DstPorts PortSpan
	ICMPType int // -1: any
	ICMPCode int // -1: any
	Pos      Pos
}

// PortSpan is an inclusive L4 port range; the zero value is any port.
type PortSpan struct{ Lo, Hi uint16 }

// Any tells whether the span matches every port.
func (s PortSpan) Any() bool { return s == PortSpan{} }

// L2Gateway bridges an overlay switch to a VLAN on a physnet of a host.
type L2Gateway struct {
	Name    string
	Switch  string
	Host    string
	Physnet string
	VLAN    int
	// ID is the gateway's stable id (1..MaxGatewayID), derived from its name.
	ID  uint32
	Pos Pos
}

// ExternalEndpoint is a tunnel endpoint Loom does not manage.
type ExternalEndpoint struct {
	Name          string
	IP            netip.Addr
	Encapsulation string
	Switch        string
	Key           uint32
	Behind        []Station
	// ID is the endpoint's stable id (1..MaxEndpointID), derived from its
	// name; the compiler numbers the tunnel port to it after it.
	ID  uint32
	Pos Pos
}

// Station is a MAC (and its IPs) behind an external endpoint.
type Station struct {
	MAC net.HardwareAddr
	IPs []netip.Addr
	Pos Pos
}

// Host returns the named host.
func (t *Topology) Host(name string) (Host, bool) {
	for _, h := range t.Hosts {
		if h.Name == name {
			return h, true
		}
	}
	return Host{}, false
}

// Switch returns the named switch.
func (t *Topology) Switch(name string) (Switch, bool) {
	for _, s := range t.Switches {
		if s.Name == name {
			return s, true
		}
	}
	return Switch{}, false
}

// Port returns the named port.
func (t *Topology) Port(name string) (Port, bool) {
	i := sort.Search(len(t.Ports), func(i int) bool { return t.Ports[i].Name >= name })
	if i < len(t.Ports) && t.Ports[i].Name == name {
		return t.Ports[i], true
	}
	return Port{}, false
}

// ACL returns the named ACL.
func (t *Topology) ACL(name string) (ACL, bool) {
	for _, a := range t.ACLs {
		if a.Name == name {
			return a, true
		}
	}
	return ACL{}, false
}
