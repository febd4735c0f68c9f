package topology

import (
	"net"
	"net/netip"
)

// APIVersion is the only version of the language this Loom reads.
const APIVersion = "loom/v1"

// Defaults for fields a topology may leave out.
const (
	DefaultBridge       = "br-int"
	DefaultDatapathType = "system"
	DefaultOpenFlowPort = 6653
)

// Topology is a validated, frozen network description. Slices are sorted by
// name. Do not modify it.
type Topology struct {
	Hosts    []Host
	Switches []Switch
	Ports    []Port
}

// Host is one Open vSwitch host Loom programs.
type Host struct {
	Name string
	// OVSDB is the host's ovsdb-server address as Loom dials it:
	// "tcp:IP:PORT" or "unix:PATH".
	OVSDB string
	// OpenFlow is the address of the bridge's passive OpenFlow listener as
	// Loom dials it ("tcp:IP:PORT"). Loom creates the listener itself.
	OpenFlow     string
	TunnelIP     netip.Addr
	DatapathType string // "system" or "netdev"
	Bridge       string // the integration bridge Loom owns
	// Key is the host's small stable id (1..MaxHostKey), derived from its
	// name; it numbers the tunnel ports that lead to the host.
	Key uint32
	Pos Pos
}

// Switch is a logical switch: one L2 broadcast domain spanning hosts.
type Switch struct {
	Name      string
	TunnelKey uint32 // the GRE key of its traffic between hosts
	// ID is the switch's stable id (1..MaxSwitchID), derived from its name;
	// the pipeline carries it in the OpenFlow metadata field.
	ID  uint32
	Pos Pos
}

// Port is a workload's attachment to a logical switch on one host.
type Port struct {
	Name      string
	Switch    string
	Host      string
	MAC       net.HardwareAddr
	IP        netip.Addr
	Interface string // the OVS interface (e.g. a veth) that carries it
	// Key is the port's stable id (1..MaxPortKey), derived from its name,
	// unique across the topology. Flows carry it in registers.
	Key uint32
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
