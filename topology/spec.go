package topology

// The file format: what an operator writes. Each struct is decoded
// strictly from YAML by decode.go (unknown keys, wrong types and repeated
// keys are errors, with positions) and described by schema.go as JSON
// Schema; both read the same tags, so the language is declared once, here:
//
//	yaml:"key"          the key in YAML
//	doc:"..."           what it means (docs and schema)
//	required:"true"     must be written
//	enum:"a,b"          the only values allowed
//	default:"..."       the value when the key is left out (docs and schema)
//	format:"..."        a JSON Schema format / pattern hint
//
// A field of type Src receives the positions of the object and of each of
// its keys' values; it is not part of the language.

// Src is where an object and its fields were written.
type Src struct {
	Pos    Pos            // the object (the first key of a mapping)
	Fields map[string]Pos // each written key's value
	// Where each entry of a list field (of values, not objects) and each
	// key of a mapping field was written (an object has few such fields).
	parts []fieldParts
}

type fieldParts struct {
	field string
	items []Pos          // a list's entries
	keys  map[string]Pos // a mapping's keys
}

func (s Src) partsOf(f string) *fieldParts {
	for i := range s.parts {
		if s.parts[i].field == f {
			return &s.parts[i]
		}
	}
	return nil
}

// item is the position of entry i of list field f.
func (s Src) item(f string, i int) Pos {
	if p := s.partsOf(f); p != nil && i < len(p.items) {
		return p.items[i]
	}
	return s.at(f)
}

// key is the position of key k of mapping field f.
func (s Src) key(f, k string) Pos {
	if p := s.partsOf(f); p != nil {
		if at, ok := p.keys[k]; ok {
			return at
		}
	}
	return s.at(f)
}

// at is the position of field f, or of the object when f was not written.
func (s Src) at(f string) Pos {
	if p, ok := s.Fields[f]; ok {
		return p
	}
	return s.Pos
}

func (s Src) has(f string) bool { _, ok := s.Fields[f]; return ok }

// FileSpec is one topology file.
type FileSpec struct {
	Src               `yaml:"-"`
	APIVersion        string                 `yaml:"apiVersion" required:"true" enum:"loom/v1" doc:"Version of the topology language."`
	Kind              string                 `yaml:"kind" enum:"Topology" default:"Topology" doc:"What the file holds; only Topology."`
	Include           []string               `yaml:"include" doc:"Other topology files or folders merged into this topology, relative to this file."`
	Defaults          *DefaultsSpec          `yaml:"defaults" doc:"Settings for the whole topology. At most one file may set them."`
	Hosts             []HostSpec             `yaml:"hosts" doc:"Open vSwitch hosts that Loom programs."`
	Switches          []SwitchSpec           `yaml:"switches" doc:"Logical switches: L2 broadcast domains that span hosts."`
	Ports             []PortSpec             `yaml:"ports" doc:"Workloads' attachments to logical switches."`
	ACLs              []ACLSpec              `yaml:"acls" doc:"Ordered lists of rules that ports apply to their traffic."`
	L2Gateways        []L2GatewaySpec        `yaml:"l2Gateways" doc:"Overlay switches extended to a VLAN of a physical network through a gateway host."`
	ExternalEndpoints []ExternalEndpointSpec `yaml:"externalEndpoints" doc:"Tunnel endpoints that Loom does not manage (a hardware VTEP, a router), and the addresses behind them."`
}

// DefaultsSpec holds topology-wide settings.
type DefaultsSpec struct {
	Src           `yaml:"-"`
	Encapsulation string `yaml:"encapsulation" enum:"gre,vxlan,geneve" default:"gre" doc:"Encapsulation of overlay switches that do not name one."`
	UnderlayMTU   int    `yaml:"underlayMTU" default:"1500" doc:"MTU of the hosts' underlay network; overlay switch MTUs must leave room for the encapsulation within it."`
	DatapathType  string `yaml:"datapathType" enum:"system,netdev" default:"system" doc:"Datapath of hosts that do not name one."`
	Bridge        string `yaml:"bridge" default:"br-int" doc:"Integration bridge of hosts that do not name one."`
	ACLDefault    string `yaml:"aclDefault" enum:"allow,deny" default:"allow" doc:"What happens to traffic that no ACL rule of its port matched, on switches that do not say."`
}

// HostSpec is one Open vSwitch host.
type HostSpec struct {
	Src          `yaml:"-"`
	Name         string            `yaml:"name" required:"true" format:"name" doc:"Unique host name."`
	OVSDB        string            `yaml:"ovsdb" required:"true" format:"ovsdb" doc:"Address of the host's ovsdb-server as Loom dials it: tcp:IP:PORT, ssl:IP:PORT or unix:PATH."`
	OpenFlow     string            `yaml:"openflow" format:"openflow" doc:"Address of the integration bridge's OpenFlow listener as Loom dials it (tcp:IP:PORT or ssl:IP:PORT); Loom creates the listener. Default: the OVSDB address with port 6653."`
	TunnelIP     string            `yaml:"tunnelIP" format:"ip" doc:"Underlay IP address of the host's tunnel endpoint. Required when the host carries an overlay switch."`
	DatapathType string            `yaml:"datapathType" enum:"system,netdev" doc:"OVS datapath of the integration bridge; netdev is the userspace datapath. Default: defaults.datapathType."`
	Bridge       string            `yaml:"bridge" format:"ifname" doc:"Name of the integration bridge Loom owns on this host. Default: defaults.bridge."`
	UnderlayMTU  int               `yaml:"underlayMTU" doc:"MTU of this host's underlay. Default: defaults.underlayMTU."`
	Physnets     map[string]string `yaml:"physnets" doc:"Physical networks the host reaches, each mapped to the NIC (an OVS port) that carries it, e.g. physnet1: eth1."`
	Labels       map[string]string `yaml:"labels" doc:"Free key/value labels, for selecting hosts."`
	TLS          *TLS              `yaml:"tls" doc:"The certificate the host must present on its ssl: addresses, beyond being signed by the CA Loom trusts."`
}

// TLS pins the certificate a host presents on its ssl: addresses: Loom
// refuses a host whose certificate does not match, even one the CA
// signed (the CA signs every host's).
type TLS struct {
	Src        `yaml:"-"`
	SHA256     string `yaml:"sha256" doc:"SHA-256 fingerprint of the host's certificate, 64 hex digits, pairs optionally separated by ':' (openssl x509 -noout -fingerprint -sha256 -in CERT)."`
	CommonName string `yaml:"commonName" doc:"Subject common name (CN) the host's certificate must carry, exactly."`
}

// SwitchSpec is a logical switch: overlay (tunnelKey) or VLAN-backed
// (vlan and physnet).
type SwitchSpec struct {
	Src           `yaml:"-"`
	Name          string   `yaml:"name" required:"true" format:"name" doc:"Unique switch name."`
	TunnelKey     int64    `yaml:"tunnelKey" doc:"Overlay switch: the key (GRE) or VNI (VXLAN, Geneve) of its traffic between hosts; 1..4294967295 for GRE, 1..16777215 otherwise."`
	Encapsulation string   `yaml:"encapsulation" enum:"gre,vxlan,geneve" doc:"Overlay switch: its encapsulation. Default: defaults.encapsulation."`
	VLAN          int      `yaml:"vlan" doc:"VLAN-backed switch: the 802.1Q VLAN id (1..4094) on its physnet."`
	Physnet       string   `yaml:"physnet" doc:"VLAN-backed switch: the physical network (a key of the hosts' physnets) that carries its VLAN."`
	Subnets       []string `yaml:"subnets" format:"cidr" doc:"The switch's subnets: at most one IPv4 and one IPv6 CIDR. Port IPs must lie inside them. Each is also the pool loomd hands addresses out of (ips: auto, runtime ports)."`
	Gateways      []string `yaml:"gateways" format:"ip" doc:"The router address of each subnet (at most one per subnet): told to runtimes as the default gateway, never handed out by loomd."`
	ExcludeIPs    []string `yaml:"excludeIPs" format:"iprange" doc:"Addresses loomd never hands out: each an address (192.0.2.7), a range (192.0.2.2-192.0.2.9) or a CIDR (192.0.2.128/28) inside a subnet. Static port addresses may still use them."`
	MTU           int      `yaml:"mtu" doc:"MTU of the switch's workloads. Default: the underlay MTU less the encapsulation overhead (overlay) or the underlay MTU (VLAN)."`
	FloodUnknown  *bool    `yaml:"floodUnknown" default:"false" doc:"Flood unicast frames to unknown MACs to every port (true) or drop them (false)."`
	ARPResponder  *bool    `yaml:"arpResponder" default:"true" doc:"Answer ARP and IPv6 neighbour solicitations for known port addresses on the ingress host instead of flooding them."`
	ACLDefault    string   `yaml:"aclDefault" enum:"allow,deny" doc:"What happens to traffic that no ACL rule of its port matched. Default: defaults.aclDefault."`
}

// PortSpec is a workload's attachment to a logical switch on one host.
type PortSpec struct {
	Src          `yaml:"-"`
	Name         string    `yaml:"name" required:"true" format:"name" doc:"Unique port name."`
	Switch       string    `yaml:"switch" required:"true" doc:"The logical switch the port is on."`
	Host         string    `yaml:"host" required:"true" doc:"The host the workload runs on."`
	MAC          string    `yaml:"mac" required:"true" format:"mac-or-auto" doc:"The workload's MAC address, or auto for a stable locally administered MAC derived from the port's name."`
	IPs          IPList    `yaml:"ips" format:"ip" doc:"The workload's IP addresses: each inside one of the switch's subnets; or auto: loomd gives one free address of each of the switch's subnets, and keeps it."`
	Interface    string    `yaml:"interface" format:"ifname" doc:"Name of the OVS interface (e.g. a veth or tap) that carries the port. Exactly one of interface and ifaceID."`
	IfaceID      string    `yaml:"ifaceID" doc:"Bind the OVS interface whose external_ids:iface-id has this value (as set by a container or VM manager). Exactly one of interface and ifaceID."`
	PortSecurity *bool     `yaml:"portSecurity" default:"true" doc:"Drop frames the workload sends from another MAC or IP than its own."`
	ACLs         *PortACLs `yaml:"acls" doc:"ACLs applied to the port's traffic."`
}

// PortACLs names the ACLs of a port, per direction.
type PortACLs struct {
	Src      `yaml:"-"`
	FromPort []string `yaml:"fromPort" doc:"ACLs applied, in order, to traffic the workload sends."`
	ToPort   []string `yaml:"toPort" doc:"ACLs applied, in order, to traffic delivered to the workload."`
}

// ACLSpec is an ordered list of rules; the first rule that matches decides.
type ACLSpec struct {
	Src   `yaml:"-"`
	Name  string     `yaml:"name" required:"true" format:"name" doc:"Unique ACL name."`
	Rules []RuleSpec `yaml:"rules" required:"true" doc:"Rules in order; the first that matches a packet decides."`
}

// RuleSpec is one ACL rule: its match fields (all must match; a field left
// out matches anything) and its action.
type RuleSpec struct {
	Src      `yaml:"-"`
	Name     string    `yaml:"name" doc:"Optional rule name, shown in flow explanations."`
	Action   string    `yaml:"action" required:"true" enum:"allow,drop" doc:"What happens to a matching packet."`
	EthType  NumOrName `yaml:"ethType" format:"ethtype" doc:"ipv4, ipv6, arp or an EtherType number such as 0x88cc."`
	Proto    NumOrName `yaml:"proto" format:"proto" doc:"IP protocol: tcp, udp, icmp, icmpv6, sctp or a number 0..255. Implies IP."`
	SrcIP    string    `yaml:"src" format:"cidr" doc:"Source IP address or CIDR."`
	DstIP    string    `yaml:"dst" format:"cidr" doc:"Destination IP address or CIDR."`
	SrcPorts PortRange `yaml:"srcPorts" format:"portrange" doc:"Source TCP/UDP/SCTP port or range lo-hi (needs proto tcp, udp or sctp)."`
	DstPorts PortRange `yaml:"dstPorts" format:"portrange" doc:"Destination TCP/UDP/SCTP port or range lo-hi (needs proto tcp, udp or sctp)."`
	ICMPType *int      `yaml:"icmpType" doc:"ICMP or ICMPv6 type, 0..255 (needs proto icmp or icmpv6)."`
	ICMPCode *int      `yaml:"icmpCode" doc:"ICMP or ICMPv6 code, 0..255 (needs icmpType)."`
}

// IPList is a port's addresses as written: a list of addresses, or the
// word auto (kept as the one entry "auto").
type IPList []string

// Auto tells whether the list is the word auto.
func (l IPList) Auto() bool { return len(l) == 1 && l[0] == "auto" }

// PortRange is an L4 port (80) or range ("8000-8080") as written.
type PortRange string

// NumOrName is a value written as a name (tcp) or a number (6, 0x88cc).
type NumOrName string

// L2GatewaySpec extends an overlay switch to a VLAN on a gateway host.
type L2GatewaySpec struct {
	Src     `yaml:"-"`
	Name    string `yaml:"name" required:"true" format:"name" doc:"Unique gateway name."`
	Switch  string `yaml:"switch" required:"true" doc:"The overlay switch to extend."`
	Host    string `yaml:"host" required:"true" doc:"The gateway host: it bridges the switch to the VLAN."`
	Physnet string `yaml:"physnet" required:"true" doc:"The physical network on the gateway host (a key of its physnets)."`
	VLAN    int    `yaml:"vlan" required:"true" doc:"The VLAN id (1..4094) the switch appears as on the physnet."`
}

// ExternalEndpointSpec is a tunnel endpoint Loom does not manage.
type ExternalEndpointSpec struct {
	Src           `yaml:"-"`
	Name          string       `yaml:"name" required:"true" format:"name" doc:"Unique endpoint name."`
	IP            string       `yaml:"ip" required:"true" format:"ip" doc:"Tunnel IP address of the endpoint."`
	Encapsulation string       `yaml:"encapsulation" required:"true" enum:"gre,vxlan,geneve" doc:"Encapsulation the endpoint speaks."`
	Switch        string       `yaml:"switch" required:"true" doc:"The overlay switch the endpoint belongs to."`
	Key           int64        `yaml:"key" doc:"Tunnel key or VNI the endpoint uses for the switch. Default: the switch's tunnelKey."`
	Behind        []BehindSpec `yaml:"behind" required:"true" doc:"The stations behind the endpoint, reachable through it."`
}

// BehindSpec is a station behind an external endpoint.
type BehindSpec struct {
	Src `yaml:"-"`
	MAC string   `yaml:"mac" required:"true" format:"mac" doc:"The station's MAC address."`
	IPs []string `yaml:"ips" format:"ip" doc:"The station's IP addresses."`
}
