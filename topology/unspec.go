package topology

import (
	"fmt"
	"net/netip"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v4"
)

// The way back: a topology's objects as a topology file writes them, for
// the views that show objects in the operator's own terms (loomctl diff,
// get -o yaml) rather than as the compiler holds them. Every setting is
// written resolved (a switch's encapsulation, MTU and aclDefault, a
// host's bridge, whatever defaults gave them), so that a file of
// SpecOf's objects loads back to the same topology, positions and
// warnings aside (a test holds this for every example).

// SpecOf is t as one topology file.
func SpecOf(t *Topology) FileSpec {
	f := FileSpec{APIVersion: "loom/v1", Kind: "Topology"}
	for _, h := range t.Hosts {
		f.Hosts = append(f.Hosts, HostSpecOf(h))
	}
	for _, s := range t.Switches {
		f.Switches = append(f.Switches, SwitchSpecOf(s))
	}
	for _, p := range t.Ports {
		f.Ports = append(f.Ports, PortSpecOf(p))
	}
	for _, a := range t.ACLs {
		f.ACLs = append(f.ACLs, ACLSpecOf(a))
	}
	for _, g := range t.L2Gateways {
		f.L2Gateways = append(f.L2Gateways, L2GatewaySpecOf(g))
	}
	for _, e := range t.ExternalEndpoints {
		f.ExternalEndpoints = append(f.ExternalEndpoints, EndpointSpecOf(e))
	}
	return f
}

// HostSpecOf is a host as a file writes it.
func HostSpecOf(h Host) HostSpec {
	s := HostSpec{Name: h.Name, OVSDB: h.OVSDB, OpenFlow: h.OpenFlow, DatapathType: h.DatapathType,
		Bridge: h.Bridge, UnderlayMTU: h.UnderlayMTU, Physnets: h.Physnets, Labels: h.Labels}
	if h.TunnelIP.IsValid() {
		s.TunnelIP = h.TunnelIP.String()
	}
	if h.TLS != (CertPin{}) {
		s.TLS = &TLS{SHA256: h.TLS.SHA256, CommonName: h.TLS.CommonName}
	}
	return s
}

// SwitchSpecOf is a switch as a file writes it.
func SwitchSpecOf(sw Switch) SwitchSpec {
	s := SwitchSpec{Name: sw.Name, MTU: sw.MTU, ACLDefault: sw.ACLDefault,
		FloodUnknown: &sw.FloodUnknown, ARPResponder: &sw.ARPResponder}
	if sw.Overlay() {
		s.TunnelKey, s.Encapsulation = int64(sw.TunnelKey), sw.Encapsulation
	} else {
		s.VLAN, s.Physnet = sw.VLAN, sw.Physnet
	}
	for _, p := range sw.Subnets {
		s.Subnets = append(s.Subnets, p.String())
	}
	for _, g := range sw.Gateways {
		s.Gateways = append(s.Gateways, g.String())
	}
	for _, r := range sw.Exclude {
		if r.From == r.To {
			s.ExcludeIPs = append(s.ExcludeIPs, r.From.String())
		} else {
			s.ExcludeIPs = append(s.ExcludeIPs, r.From.String()+"-"+r.To.String())
		}
	}
	return s
}

// PortSpecOf is a port as a file writes it.
func PortSpecOf(p Port) PortSpec {
	s := PortSpec{Name: p.Name, Switch: p.Switch, Host: p.Host, Interface: p.Interface, IfaceID: p.IfaceID,
		PortSecurity: &p.PortSecurity, MAC: "auto"}
	if !p.MACAuto {
		s.MAC = p.MAC.String()
	}
	for _, a := range p.IPs {
		s.IPs = append(s.IPs, a.String())
	}
	if len(p.ACLsFromPort) > 0 || len(p.ACLsToPort) > 0 {
		s.ACLs = &PortACLs{FromPort: p.ACLsFromPort, ToPort: p.ACLsToPort}
	}
	return s
}

// ACLSpecOf is an ACL as a file writes it.
func ACLSpecOf(a ACL) ACLSpec {
	s := ACLSpec{Name: a.Name}
	for _, r := range a.Rules {
		s.Rules = append(s.Rules, RuleSpecOf(r))
	}
	return s
}

// RuleSpecOf is an ACL rule as a file writes it: protocols and EtherTypes
// by name where they have one, an ethType left out where the protocol or
// the addresses imply it, one address for a host prefix.
func RuleSpecOf(r Rule) RuleSpec {
	s := RuleSpec{Name: r.Name, Action: "drop"}
	if r.Allow {
		s.Action = "allow"
	}
	fam := 0
	switch {
	case r.Proto == ProtoICMP:
		fam = 4
	case r.Proto == ProtoICMPv6:
		fam = 6
	case r.Src.IsValid():
		fam = map[bool]int{true: 4, false: 6}[r.Src.Addr().Is4()]
	case r.Dst.IsValid():
		fam = map[bool]int{true: 4, false: 6}[r.Dst.Addr().Is4()]
	}
	implied := map[int]uint16{4: ethIPv4, 6: ethIPv6}[fam]
	if r.EthType != 0 && r.EthType != implied {
		s.EthType = NumOrName(fmt.Sprintf("%#04x", r.EthType))
		for name, v := range ethTypes {
			if v == r.EthType {
				s.EthType = NumOrName(name)
			}
		}
	}
	if r.Proto >= 0 {
		s.Proto = NumOrName(strconv.Itoa(r.Proto))
		for name, v := range protos {
			if v == r.Proto {
				s.Proto = NumOrName(name)
			}
		}
	}
	s.SrcIP, s.DstIP = cidrText(r.Src), cidrText(r.Dst)
	s.SrcPorts, s.DstPorts = spanText(r.SrcPorts), spanText(r.DstPorts)
	if r.ICMPType >= 0 {
		t := r.ICMPType
		s.ICMPType = &t
	}
	if r.ICMPCode >= 0 {
		c := r.ICMPCode
		s.ICMPCode = &c
	}
	return s
}

func cidrText(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return ""
	case p.Bits() == p.Addr().BitLen():
		return p.Addr().String()
	}
	return p.String()
}

func spanText(s PortSpan) PortRange {
	switch {
	case s.Any():
		return ""
	case s.Lo == s.Hi:
		return PortRange(strconv.Itoa(int(s.Lo)))
	}
	return PortRange(fmt.Sprintf("%d-%d", s.Lo, s.Hi))
}

// L2GatewaySpecOf is an L2 gateway as a file writes it.
func L2GatewaySpecOf(g L2Gateway) L2GatewaySpec {
	return L2GatewaySpec{Name: g.Name, Switch: g.Switch, Host: g.Host, Physnet: g.Physnet, VLAN: g.VLAN}
}

// EndpointSpecOf is an external endpoint as a file writes it.
func EndpointSpecOf(e ExternalEndpoint) ExternalEndpointSpec {
	s := ExternalEndpointSpec{Name: e.Name, IP: e.IP.String(), Encapsulation: e.Encapsulation, Switch: e.Switch, Key: int64(e.Key)}
	for _, st := range e.Behind {
		b := BehindSpec{MAC: st.MAC.String()}
		for _, a := range st.IPs {
			b.IPs = append(b.IPs, a.String())
		}
		s.Behind = append(s.Behind, b)
	}
	return s
}

// SpecYAML writes a spec (a FileSpec or one object's) as YAML, in the
// order of its fields, leaving out the fields it does not set.
func SpecYAML(v any) ([]byte, error) {
	n := specNode(reflect.ValueOf(v))
	if n == nil {
		n = &yaml.Node{Kind: yaml.MappingNode}
	}
	return yaml.Marshal(n)
}

// SpecFields flattens a spec into its fields as the YAML writes them,
// keyed by path ("mtu", "acls.fromPort", "physnets.phys1", "rules[2]"):
// scalars as written, lists of scalars comma separated, each entry of a
// list of objects as one flow-style map. Fields not set are absent.
func SpecFields(v any) map[string]string {
	out := map[string]string{}
	flattenSpec(reflect.ValueOf(v), "", out)
	return out
}

func flattenSpec(v reflect.Value, prefix string, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v.Kind() {
	case reflect.Pointer:
		switch {
		case v.IsNil():
		case v.Elem().Kind() != reflect.Struct:
			out[prefix] = fmt.Sprint(v.Elem().Interface()) // set, even to its zero
		default:
			flattenSpec(v.Elem(), prefix, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			key := yamlKey(t.Field(i))
			if key == "" {
				continue
			}
			flattenSpec(v.Field(i), join(key), out)
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			out[join(k.String())] = fmt.Sprint(v.MapIndex(k).Interface())
		}
	case reflect.Slice:
		if v.Len() == 0 {
			return
		}
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := 0; i < v.Len(); i++ {
				b, _ := yaml.Marshal(flowStyle(specNode(v.Index(i))))
				out[fmt.Sprintf("%s[%d]", prefix, i+1)] = strings.TrimSpace(string(b))
			}
			return
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		out[prefix] = strings.Join(parts, ", ")
	default:
		if !v.IsZero() {
			out[prefix] = fmt.Sprint(v.Interface())
		}
	}
}

func yamlKey(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if key == "-" {
		return ""
	}
	return key
}

// specNode is v as a YAML node, nil when v sets nothing.
func specNode(v reflect.Value) *yaml.Node {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		if e := v.Elem(); e.Kind() != reflect.Struct {
			return scalarNode(e) // set, even to its zero: portSecurity: false, icmpType: 0
		}
		return specNode(v.Elem())
	case reflect.Struct:
		m := &yaml.Node{Kind: yaml.MappingNode}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			key := yamlKey(t.Field(i))
			if key == "" {
				continue
			}
			if n := specNode(v.Field(i)); n != nil {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, n)
			}
		}
		if len(m.Content) == 0 {
			return nil
		}
		return m
	case reflect.Map:
		if v.Len() == 0 {
			return nil
		}
		m := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k.String()}, scalarNode(v.MapIndex(k)))
		}
		return m
	case reflect.Slice:
		if v.Len() == 0 {
			return nil
		}
		s := &yaml.Node{Kind: yaml.SequenceNode}
		for i := 0; i < v.Len(); i++ {
			n := specNode(v.Index(i))
			if n == nil {
				n = &yaml.Node{Kind: yaml.MappingNode}
			}
			s.Content = append(s.Content, n)
		}
		return s
	}
	if v.IsZero() {
		return nil
	}
	return scalarNode(v)
}

// scalarNode is a value as a YAML scalar. Strings that would read as
// another type ("true", "null", a number) are quoted by the encoder, but
// for port ranges and protocols, which the language reads as numbers
// written plain (dstPorts: 80, ethType: 0x88cc).
func scalarNode(v reflect.Value) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: fmt.Sprint(v.Interface())}
	switch v.Type() {
	case reflect.TypeFor[PortRange](), reflect.TypeFor[NumOrName]():
	default:
		if v.Kind() == reflect.String {
			n.Tag = "!!str"
		}
	}
	return n
}

func flowStyle(n *yaml.Node) *yaml.Node {
	if n == nil {
		return &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
	}
	n.Style |= yaml.FlowStyle
	return n
}
