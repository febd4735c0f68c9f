package flows

import (
	"maps"
	"slices"

	"github.com/loom-sdn/loom/topology"
)

// Equality of topology objects as the compiler sees them: every field but
// positions. TestEqualCoversEveryField keeps these in step with the
// model: a field added there and not here fails it.

func equalHost(a, b *topology.Host) bool {
	return a.Name == b.Name && a.OVSDB == b.OVSDB && a.OpenFlow == b.OpenFlow && a.TunnelIP == b.TunnelIP &&
		a.DatapathType == b.DatapathType && a.Bridge == b.Bridge && a.UnderlayMTU == b.UnderlayMTU &&
		maps.Equal(a.Physnets, b.Physnets) && maps.Equal(a.Labels, b.Labels) && a.Key == b.Key && a.TLS == b.TLS
}

func equalSwitch(a, b *topology.Switch) bool {
	return a.Name == b.Name && a.TunnelKey == b.TunnelKey && a.Encapsulation == b.Encapsulation && a.VLAN == b.VLAN &&
		a.Physnet == b.Physnet && slices.Equal(a.Subnets, b.Subnets) && a.MTU == b.MTU && a.FloodUnknown == b.FloodUnknown &&
		a.ARPResponder == b.ARPResponder && a.ACLDefault == b.ACLDefault && a.ID == b.ID &&
		slices.Equal(a.Gateways, b.Gateways) && slices.Equal(a.Exclude, b.Exclude)
}

func equalPort(a, b *topology.Port) bool {
	return a.Key == b.Key && a.Name == b.Name && a.Switch == b.Switch && a.Host == b.Host && equalMAC(a.MAC, b.MAC) &&
		a.MACAuto == b.MACAuto && slices.Equal(a.IPs, b.IPs) && a.Interface == b.Interface && a.IfaceID == b.IfaceID &&
		a.PortSecurity == b.PortSecurity && slices.Equal(a.ACLsFromPort, b.ACLsFromPort) &&
		slices.Equal(a.ACLsToPort, b.ACLsToPort) && a.IPsAuto == b.IPsAuto && equalOrigin(a.Runtime, b.Runtime) && a.Ofport == b.Ofport
}

func equalOrigin(a, b *topology.RuntimeOrigin) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// equalMAC is bytes.Equal for the few bytes of a MAC, without a call:
// comparing the ports of a large topology spends its time here.
func equalMAC(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalRule(a, b topology.Rule) bool {
	a.Pos, b.Pos = topology.Pos{}, topology.Pos{}
	return a == b
}

func equalACL(a, b *topology.ACL) bool {
	return a.Name == b.Name && slices.EqualFunc(a.Rules, b.Rules, equalRule) && a.ID == b.ID
}

func equalGateway(a, b *topology.L2Gateway) bool {
	return a.Name == b.Name && a.Switch == b.Switch && a.Host == b.Host && a.Physnet == b.Physnet &&
		a.VLAN == b.VLAN && a.ID == b.ID
}

func equalStation(a, b topology.Station) bool {
	return equalMAC(a.MAC, b.MAC) && slices.Equal(a.IPs, b.IPs)
}

func equalEndpoint(a, b *topology.ExternalEndpoint) bool {
	return a.Name == b.Name && a.IP == b.IP && a.Encapsulation == b.Encapsulation && a.Switch == b.Switch &&
		a.Key == b.Key && slices.EqualFunc(a.Behind, b.Behind, equalStation) && a.ID == b.ID
}
