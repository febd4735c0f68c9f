package flows

import (
	"fmt"

	"github.com/loom-sdn/loom/topology"
)

// Cookie layout, 64 bits:
//
//	| 0x4c4d ("LM") | kind (8) | rule (8) | object id (32) |
//
// The top 16 bits are Loom's cookie space: Loom only ever reads, changes or
// deletes flows whose cookie matches CookieSpace/CookieMask. kind and id
// name the topology object (a host key, a switch id, a port key, an ACL id
// with the rule's index, a gateway or endpoint id), rule the reason the
// flow exists. A (table, cookie) pair is a flow group: the unit in which
// Loom compares and replaces flows on a switch.
const (
	CookieSpace uint64 = 0x4c4d << 48
	CookieMask  uint64 = 0xffff << 48
)

// Kind is the kind of topology object behind a flow.
type Kind uint8

const (
	KindPipeline Kind = iota // the pipeline itself (table-miss, shared rules)
	KindHost
	KindSwitch
	KindPort
	KindACL // id: ACL id << 16 | rule index
	KindGateway
	KindEndpoint
)

var kindNames = [...]string{"pipeline", "host", "switch", "port", "acl", "l2 gateway", "external endpoint"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", k)
}

// Rule is the reason a flow exists, within its object. The numbers are
// part of the cookies on running switches: append, never renumber.
type Rule uint8

const (
	RuleTableMiss Rule = iota + 1
	RuleNotFromVIF
	RuleClassifyVIF
	RuleClassifyTunnel
	RulePortSecurityIP
	RulePortSecurityARP
	RuleL2Local
	RuleL2Remote
	RuleFloodFromLocal
	RuleFloodFromOverlay
	RuleOutputLocal
	RuleOutputRemote
	RuleOutputFloodTunnel
	RulePortSecurityOff
	RuleFloodUnknownFromLocal
	RuleFloodUnknownFromOverlay
	RulePortSecurityMAC
	RulePortSecurityIPv6
	RulePortSecurityND
	RuleACLFromPort
	RuleACLToPort
	RuleACLDefaultFromPort
	RuleACLDefaultToPort
	RuleARPReply
	RuleNDReply
	RuleResponderOwner
	RuleClassifyUplink
	RuleFloodFromPhysical
	RuleUnknownToUplink
	RuleOutputUplink
	RuleClassifyEndpoint
	RuleL2Station
	RuleOutputEndpoint
	RuleClassifyGateway
	RuleUnknownToGateway
	RuleResponderSkip
	RuleFloodUnknownFromPhysical
	RuleNDReplyTLL
)

var ruleNames = map[Rule]string{
	RuleTableMiss:                "table miss",
	RuleNotFromVIF:               "traffic that did not come from a local workload was checked where it entered",
	RuleClassifyVIF:              "packets from the port's interface enter its switch",
	RuleClassifyTunnel:           "packets from remote hosts with the switch's tunnel key enter the switch",
	RulePortSecurityIP:           "the port may send IPv4 from its own MAC and IP",
	RulePortSecurityARP:          "the port may send ARP for its own MAC and IP",
	RuleL2Local:                  "frames to the port's MAC go to the port",
	RuleL2Remote:                 "frames to the remote port's MAC go to its host",
	RuleFloodFromLocal:           "broadcast from this host: every other local port, every remote host, endpoint and uplink of the switch",
	RuleFloodFromOverlay:         "broadcast from a tunnel: local ports and the gateway uplink only (split horizon)",
	RuleOutputLocal:              "egress to the port's interface",
	RuleOutputRemote:             "egress through the tunnel to the port's host, with the switch's key",
	RuleOutputFloodTunnel:        "flood copies through the tunnels to the switch's hosts, with its key",
	RulePortSecurityOff:          "port security is off: the port may send anything",
	RuleFloodUnknownFromLocal:    "unknown unicast from this host floods like broadcast (floodUnknown)",
	RuleFloodUnknownFromOverlay:  "unknown unicast from a tunnel floods to local ports (floodUnknown)",
	RulePortSecurityMAC:          "the port has no IP addresses: it may send anything from its own MAC",
	RulePortSecurityIPv6:         "the port may send IPv6 from its own MAC and addresses (and link-local, DAD)",
	RulePortSecurityND:           "neighbour advertisements only for the port's own addresses",
	RuleACLFromPort:              "ACL rule applied to what the port sends",
	RuleACLToPort:                "ACL rule applied to what the port receives",
	RuleACLDefaultFromPort:       "what no ACL rule matched, as the switch's aclDefault says (sent by the port)",
	RuleACLDefaultToPort:         "what no ACL rule matched, as the switch's aclDefault says (received by the port)",
	RuleARPReply:                 "ARP requests for the address are answered on the ingress host",
	RuleNDReply:                  "neighbour solicitations for the address are answered on the ingress host",
	RuleResponderOwner:           "the owner's own ARP/ND for its address goes on unanswered",
	RuleClassifyUplink:           "frames with the switch's VLAN on the physnet uplink enter the switch",
	RuleFloodFromPhysical:        "broadcast from the VLAN uplink: local ports only",
	RuleUnknownToUplink:          "frames to MACs not on this host go to the VLAN uplink",
	RuleOutputUplink:             "egress to the physnet uplink with the VLAN tag",
	RuleClassifyEndpoint:         "packets from the external endpoint with its key enter its switch",
	RuleL2Station:                "frames to a station behind the endpoint go to the endpoint",
	RuleOutputEndpoint:           "egress through the tunnel to the external endpoint, with its key",
	RuleClassifyGateway:          "frames with the gateway's VLAN on the physnet uplink enter the overlay switch",
	RuleUnknownToGateway:         "frames to unknown MACs go to the gateway (the VLAN side)",
	RuleResponderSkip:            "DAD probes and solicitations without a source link-layer address are not answered",
	RuleFloodUnknownFromPhysical: "unknown unicast from the VLAN uplink floods to local ports (floodUnknown)",
	RuleNDReplyTLL:               "the advertisement for the address carries its MAC and goes back to the asker",
}

func (r Rule) String() string {
	if s, ok := ruleNames[r]; ok {
		return s
	}
	return fmt.Sprintf("rule %d", r)
}

// MakeCookie builds the cookie of a flow.
func MakeCookie(k Kind, r Rule, id uint32) uint64 {
	return CookieSpace | uint64(k)<<40 | uint64(r)<<32 | uint64(id)
}

// SplitCookie is the inverse of MakeCookie; ok is false outside Loom's
// cookie space.
func SplitCookie(c uint64) (k Kind, r Rule, id uint32, ok bool) {
	return Kind(c >> 40), Rule(c >> 32), uint32(c), c&CookieMask == CookieSpace
}

// Origin is the topology object and rule behind a flow.
type Origin struct {
	Kind Kind
	Name string // the object's name; "" for the pipeline
	Rule Rule
	Pos  topology.Pos
	Note string // detail, e.g. the table of a table-miss or an ACL rule's name
}

func (o Origin) String() string {
	s := o.Kind.String()
	if o.Name != "" {
		s += " " + o.Name
	}
	if o.Pos.File != "" {
		s += " (" + o.Pos.String() + ")"
	}
	s += ": " + o.Rule.String()
	if o.Note != "" {
		s += ": " + o.Note
	}
	return s
}

// Explain names the topology object and rule behind a flow cookie seen on a
// switch, by the topology t. It says so when the cookie is not Loom's or
// names nothing in t (a stale flow).
func Explain(t *topology.Topology, cookie uint64) string {
	k, r, id, ok := SplitCookie(cookie)
	if !ok {
		return "not Loom's (outside its cookie space)"
	}
	o, found := origin(t, k, r, id)
	if !found {
		return fmt.Sprintf("%s with id %d: not in the topology (stale)", k, id)
	}
	return o.String()
}

// origin finds the object behind (kind, rule, id) in t.
func origin(t *topology.Topology, k Kind, r Rule, id uint32) (Origin, bool) {
	o := Origin{Kind: k, Rule: r}
	switch k {
	case KindPipeline:
		if r == RuleTableMiss {
			o.Note = tableMissNote(int(id))
		}
		return o, true
	case KindHost:
		for _, h := range t.Hosts {
			if h.Key == id {
				o.Name, o.Pos = h.Name, h.Pos
				return o, true
			}
		}
	case KindSwitch:
		for _, s := range t.Switches {
			if s.ID == id {
				o.Name, o.Pos = s.Name, s.Pos
				return o, true
			}
		}
	case KindPort:
		for _, p := range t.Ports {
			if p.Key == id {
				o.Name, o.Pos = p.Name, p.Pos
				if r == RuleACLDefaultFromPort || r == RuleACLDefaultToPort {
					sw, _ := t.Switch(p.Switch)
					o.Note = sw.ACLDefault
				}
				return o, true
			}
		}
	case KindACL:
		for _, a := range t.ACLs {
			if a.ID == id>>16 && int(id&0xffff) < len(a.Rules) {
				ru := a.Rules[id&0xffff]
				o.Name, o.Pos, o.Note = a.Name, ru.Pos, aclRuleNote(&ru)
				return o, true
			}
		}
	case KindGateway:
		for _, g := range t.L2Gateways {
			if g.ID == id {
				o.Name, o.Pos = g.Name, g.Pos
				return o, true
			}
		}
	case KindEndpoint:
		for _, e := range t.ExternalEndpoints {
			if e.ID == id {
				o.Name, o.Pos = e.Name, e.Pos
				return o, true
			}
		}
	}
	return o, false
}

func tableMissNote(table int) string {
	for _, tb := range Pipeline {
		if tb.ID == table {
			return fmt.Sprintf("table %s (%d): %s", tb.Name, tb.ID, tb.Miss)
		}
	}
	return fmt.Sprintf("table %d", table)
}

func aclRuleNote(r *topology.Rule) string {
	s := fmt.Sprintf("rule %d", r.Index+1)
	if r.Name != "" {
		s += " (" + r.Name + ")"
	}
	if r.Allow {
		return s + ": allow"
	}
	return s + ": drop"
}
