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
// name the topology object (a host key, a switch id, a port key), rule the
// reason the flow exists. A (table, cookie) pair is a flow group: the unit
// in which Loom compares and replaces flows on a switch.
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
)

var kindNames = [...]string{"pipeline", "host", "switch", "port"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind%d", k)
}

// Rule is the reason a flow exists, within its object.
type Rule uint8

const (
	RuleTableMiss Rule = iota + 1
	RuleTunnelTrusted
	RuleClassifyVIF
	RuleClassifyTunnel
	RulePortSecurityIP
	RulePortSecurityARP
	RuleL2Local
	RuleL2Remote
	RuleFloodFromVIF
	RuleFloodFromTunnel
	RuleOutputLocal
	RuleOutputRemote
	RuleOutputFloodTunnel
	RulePortSecurityOff
	RuleFloodUnknownFromVIF
	RuleFloodUnknownFromTunnel
)

var ruleNames = map[Rule]string{
	RuleTableMiss:              "table miss: drop",
	RuleTunnelTrusted:          "tunnel traffic was checked at its ingress host",
	RuleClassifyVIF:            "packets from the port's interface enter its switch",
	RuleClassifyTunnel:         "packets from remote hosts with the switch's tunnel key enter the switch",
	RulePortSecurityIP:         "the port may send IPv4 from its own MAC and IP",
	RulePortSecurityARP:        "the port may send ARP for its own MAC and IP",
	RuleL2Local:                "frames to the port's MAC go to the port",
	RuleL2Remote:               "frames to the remote port's MAC go to its host",
	RuleFloodFromVIF:           "broadcast from a local port: every other local port and every remote host of the switch",
	RuleFloodFromTunnel:        "broadcast from a remote host: every local port of the switch",
	RuleOutputLocal:            "egress to the port's interface",
	RuleOutputRemote:           "egress through the tunnel to the port's host, with the switch's key",
	RuleOutputFloodTunnel:      "flood copies through the tunnels to the switch's hosts, with its key",
	RulePortSecurityOff:        "port security is off: the port may send anything",
	RuleFloodUnknownFromVIF:    "unknown unicast from a local port floods like broadcast (floodUnknown)",
	RuleFloodUnknownFromTunnel: "unknown unicast from a remote host floods to local ports (floodUnknown)",
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
}

func (o Origin) String() string {
	s := o.Kind.String()
	if o.Name != "" {
		s += " " + o.Name
	}
	if o.Pos.File != "" {
		s += " (" + o.Pos.String() + ")"
	}
	return s + ": " + o.Rule.String()
}

// Explain names the topology object and rule behind a flow cookie seen on a
// switch, by the topology t. It says so when the cookie is not Loom's or
// names nothing in t (a stale flow).
func Explain(t *topology.Topology, cookie uint64) string {
	k, r, id, ok := SplitCookie(cookie)
	if !ok {
		return "not Loom's (outside its cookie space)"
	}
	o := Origin{Kind: k, Rule: r}
	found := k == KindPipeline
	switch k {
	case KindHost:
		for _, h := range t.Hosts {
			if h.Key == id {
				o.Name, o.Pos, found = h.Name, h.Pos, true
			}
		}
	case KindSwitch:
		for _, s := range t.Switches {
			if s.ID == id {
				o.Name, o.Pos, found = s.Name, s.Pos, true
			}
		}
	case KindPort:
		for _, p := range t.Ports {
			if p.Key == id {
				o.Name, o.Pos, found = p.Name, p.Pos, true
			}
		}
	}
	if !found {
		return fmt.Sprintf("%s with id %d: not in the topology (stale)", k, id)
	}
	return o.String()
}
