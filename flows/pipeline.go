package flows

import "github.com/loom-sdn/loom/topology"

// Table is one stage of the pipeline.
type Table struct {
	ID      int
	Name    string
	Purpose string
	Miss    string // what happens to a packet no flow matches
}

// Table numbers, in packet order. Gaps leave room for stages to come.
const (
	TableClassify     = 0
	TablePortSecurity = 10
	TableIngressACL   = 20
	TableResponder    = 30
	TableNDReply      = 31
	TableL2Lookup     = 40
	TableEgressACL    = 50
	TableOutput       = 60
)

// Pipeline lists the tables in packet order.
var Pipeline = []Table{
	{TableClassify, "classify", "which logical port, tunnel (remote host or external endpoint) or VLAN uplink a packet came from; sets the logical context", "drop"},
	{TablePortSecurity, "port_security", "a workload may only send from its own MAC and IP addresses (ARP sender, IPv4/IPv6 source, ND target)", "drop"},
	{TableIngressACL, "ingress_acl", "the ACLs a port applies to what it sends (fromPort), then its switch's aclDefault", "drop"},
	{TableResponder, "arp_nd_responder", "answers ARP requests and IPv6 neighbour solicitations for known addresses on the ingress host", "goto l2_lookup"},
	{TableNDReply, "nd_reply", "completes the neighbour advertisements that arp_nd_responder makes (their target link-layer address)", "drop"},
	{TableL2Lookup, "l2_lookup", "destination MAC to a local port, a remote port's host, an external endpoint or the VLAN uplink; flood sets for broadcast, multicast and unknown unicast", "drop"},
	{TableEgressACL, "egress_acl", "the ACLs a local destination port applies to what it receives (toPort), per flooded copy", "drop"},
	{TableOutput, "output", "egress key to an OpenFlow port, a tunnel with the switch's key, or the uplink with the VLAN tag", "drop"},
}

// TableName returns the name of table id, or "" if the pipeline has none.
func TableName(id int) string {
	for _, t := range Pipeline {
		if t.ID == id {
			return t.Name
		}
	}
	return ""
}

// Registers of the logical context. metadata holds the logical switch id.
const (
	regFlags   = FieldReg5
	regInPort  = FieldReg6 // ingress logical port key; 0 if not from a VIF
	regOutPort = FieldReg7 // egress key (see the bases below)
)

// reg5 flag bits: where the packet entered the logical switch.
const (
	FlagFromOverlay  = 0x1 // from a remote host or an external endpoint through a tunnel
	FlagFromPhysical = 0x2 // from the VLAN uplink of a VLAN-backed switch
	FlagFromVIF      = 0x4 // from a local workload port
)

// OpenFlow port numbers. They are fixed through ofport_request, so flows can
// name them before OVS creates the ports, and stay stable as ports come and
// go:
//
//	1..MaxWorkloadOfport       workload ports: from the port's name among its host's ports, or
//	                           fixed (a runtime port's, chosen free by loomd: topology.Port.Ofport)
//	TunnelBase(encap) + key    the tunnel of an encapsulation to a remote host (host key)
//	EndpointPortBase + id      the tunnel to an external endpoint (endpoint id)
//	UplinkPortBase + n         a physnet's NIC (n from the physnet's name among the host's)
const (
	MaxWorkloadOfport = topology.MaxPortsPerHost // 39999
	EndpointPortBase  = 55000
	UplinkPortBase    = 65000
	maxUplinks        = topology.MaxPhysnetsPerHost // 279: up to OpenFlow's last port, 65279
)

var tunnelBase = map[string]int{"gre": 40000, "vxlan": 45000, "geneve": 50000}

// TunnelPortBase is the first OpenFlow port number of an encapsulation's
// tunnels; the tunnel to host H is TunnelPortBase + H's key.
func TunnelPortBase(encap string) int { return tunnelBase[encap] }

// Egress keys in reg7: a port key (below 1<<24), or one of these.
const (
	UplinkEgress       = 1 << 28 // the VLAN uplink of the switch in metadata
	EndpointEgressBase = 1 << 29 // + endpoint id: the tunnel to an external endpoint
	HostEgressBase     = 1 << 30 // + host key: a flood copy to a remote host
)
