package controller

import (
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/ovsdb"
)

// The runtime's results as the wire types of controller/api carry them.

// PlanOf is the plan of a dry-run result (or the record of a run), with
// the flows it changes listed when withFlows, counted always.
func PlanOf(r HostResult, withFlows bool) api.HostPlan {
	h := api.HostPlan{Host: r.Host, OVSDB: r.OVSDB, Foreign: r.Foreign, DesiredFlows: r.DesiredFlows, PortsDown: r.PortsDown, NotContacted: r.NotContacted}
	add, mod, del := FlowChanges(r.Flows)
	h.Adds, h.Modifies, h.Deletes = len(add), len(mod), len(del)
	if withFlows {
		h.FlowsAdd, h.FlowsModify, h.FlowsDelete = add, mod, del
	}
	if r.Flows != nil {
		h.FlowMods = r.Flows.FlowMods()
		for _, u := range r.Flows.Unknown {
			h.FlowsUnknown = append(h.FlowsUnknown, u.Text)
		}
	}
	if r.Err != nil {
		h.Error = r.Err.Error()
	}
	return h
}

// interfacesOf is what OVS reported of a bridge's interfaces, for the API.
func interfacesOf(in []ovsdb.InterfaceState) []api.Interface {
	if in == nil {
		return nil
	}
	out := make([]api.Interface, len(in))
	for i, s := range in {
		out[i] = api.Interface{Port: s.Port, Name: s.Name, Type: s.Type, Ofport: s.Ofport,
			AdminState: s.AdminState, LinkState: s.LinkState, Error: s.Error, Loom: s.Loom}
	}
	return out
}
