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

// OpenFlow port numbers. A workload port gets a number in
// 1..MaxWorkloadOfport derived from its name among the ports of its host
// (stable as ports come and go); the tunnel to a remote host is
// TunnelPortBase + the host's key. Numbers are fixed through
// ofport_request, so flows can name them before OVS creates the ports.
//
// Egress keys in reg7 are port keys (below 1<<24) or, for flood copies to
// "the tunnel to host H", HostEgressBase + H's key.
const (
	MaxWorkloadOfport = 59999
	TunnelPortBase    = 60000
	HostEgressBase    = 1 << 30
)
