package flows

// Table is one stage of the pipeline.
type Table struct {
	ID      int
	Name    string
	Purpose string
	Miss    string // what happens to a packet no flow matches
}

// Table numbers. Gaps leave room for stages to come (ACLs, ARP responder)
// without renumbering.
const (
	TableClassify     = 0
	TablePortSecurity = 10
	TableL2Lookup     = 40
	TableOutput       = 60
)

// Pipeline lists the tables in packet order.
var Pipeline = []Table{
	{TableClassify, "classify", "which logical port or tunnel key a packet came from; sets the logical context", "drop"},
	{TablePortSecurity, "port_security", "a workload may only send from its own MAC and IP", "drop"},
	{TableL2Lookup, "l2_lookup", "destination MAC to egress port, remote port or flood set", "drop"},
	{TableOutput, "output", "egress key to an OpenFlow port or a tunnel with the switch's key", "drop"},
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

// Registers of the logical context (OVS field names).
const (
	regFlags   = "NXM_NX_REG5"
	regInPort  = "NXM_NX_REG6"
	regOutPort = "NXM_NX_REG7"
	flagTunnel = 0x1 // reg5 bit 0: the packet came from a tunnel
)

// Port numbers. Workload ports use their topology key as OpenFlow port
// (1..topology.MaxPortKey); the tunnel to a remote host uses
// TunnelPortBase + the host's key. Egress keys for "the tunnel to host H"
// (flood copies) are HostEgressBase + the host's key, above every port key.
const (
	TunnelPortBase = 60000
	HostEgressBase = 0x10000
)
