package ovsdb

import (
	"context"
	"fmt"
	"sort"
)

// InterfaceState is what OVS reports of one interface on a bridge.
type InterfaceState struct {
	Port       string `json:"port"`
	Name       string `json:"name"`
	Type       string `json:"type,omitempty"` // "" for a system interface (veth, tap, NIC)
	Ofport     int    `json:"ofport"`         // -1: OVS could not open it
	AdminState string `json:"adminState,omitempty"`
	LinkState  string `json:"linkState,omitempty"`
	Error      string `json:"error,omitempty"`
	Loom       bool   `json:"loom"` // the port is Loom's (external_ids:loom-owner)
}

// Interfaces reads, from the cache, the interfaces of bridge's ports,
// sorted by port and interface name.
func (c *Client) Interfaces(ctx context.Context, bridge string) ([]InterfaceState, error) {
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("ovsdb %s: %w", c.addr, err)
	}
	return interfacesIn(s, bridge), nil
}

// interfacesIn is Interfaces on the snapshot s.
func interfacesIn(s *snapshot, bridge string) []InterfaceState {
	br := s.bridgeByName(bridge)
	if br == nil {
		return nil
	}
	var out []InterfaceState
	for _, pu := range br.Ports {
		p := s.ports[pu]
		if p == nil {
			continue
		}
		for _, iu := range p.Interfaces {
			i := s.ifaces[iu]
			if i == nil {
				continue
			}
			st := InterfaceState{Port: p.Name, Name: i.Name, Type: i.Type, Ofport: -1, Loom: p.ExternalIDs[OwnerKey] == OwnerValue}
			if i.Ofport != nil {
				st.Ofport = *i.Ofport
			}
			if i.AdminState != nil {
				st.AdminState = *i.AdminState
			}
			if i.LinkState != nil {
				st.LinkState = *i.LinkState
			}
			if i.Error != nil {
				st.Error = *i.Error
			}
			out = append(out, st)
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Port != out[b].Port {
			return out[a].Port < out[b].Port
		}
		return out[a].Name < out[b].Name
	})
	return out
}
