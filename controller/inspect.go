package controller

import (
	"context"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/topology"
)

// InspectFlows reads the flows in Loom's cookie space from hs's switch (it
// changes nothing) and explains each with t.
func InspectFlows(ctx context.Context, t *topology.Topology, hs *flows.HostState, of *ofctl.Client) (*api.HostFlows, error) {
	observed, err := of.Dump(ctx)
	if err != nil {
		return nil, err
	}
	r := &api.HostFlows{Host: hs.Host, Desired: hs.NumFlows(), Flows: []api.Flow{}}
	flows.Sort(observed.Flows)
	for i := range observed.Flows {
		r.Flows = append(r.Flows, explained(t, observed.Flows[i]))
	}
	unknown := make([]api.Flow, len(observed.Unknown))
	for i, u := range observed.Unknown {
		unknown[i] = explainedUnknown(t, u)
	}
	r.Flows = append(r.Flows, unknown...)
	plan, err := ofctl.PlanFlows(hs.Flows(), observed)
	if err != nil {
		return nil, err
	}
	for _, f := range plan.Missing {
		r.Missing = append(r.Missing, explained(t, f))
	}
	for _, f := range plan.Extra {
		r.Extra = append(r.Extra, explained(t, f))
	}
	r.Extra = append(r.Extra, unknown...)
	return r, nil
}

// explained explains the cookie of a flow.
func explained(t *topology.Topology, f flows.Flow) api.Flow {
	return api.Flow{Flow: f, Explain: flows.Explain(t, f.Cookie)}
}

func explainedUnknown(t *topology.Topology, u ofctl.Unknown) api.Flow {
	return api.Flow{Flow: flows.Flow{Table: u.Group.Table, Cookie: u.Group.Cookie}, Unknown: u.Text,
		Explain: flows.Explain(t, u.Group.Cookie) + "; a flow Loom does not read (" + u.Err.Error() + ")"}
}

// FlowChanges splits a flow plan's missing and stale flows into flows to
// add, to modify (same table, priority and match, other actions: given as
// the new flow) and to delete, each in the plan's order. Flows Loom does
// not read are not among them.
func FlowChanges(p *ofctl.Plan) (add, modify, del []flows.Flow) {
	if p == nil {
		return nil, nil, nil
	}
	stale := map[flows.Identity]bool{}
	for i := range p.Extra {
		stale[p.Extra[i].Identity()] = true
	}
	replaced := map[flows.Identity]bool{}
	for i := range p.Missing {
		id := p.Missing[i].Identity()
		if stale[id] {
			modify = append(modify, p.Missing[i])
			replaced[id] = true
		} else {
			add = append(add, p.Missing[i])
		}
	}
	for i := range p.Extra {
		if !replaced[p.Extra[i].Identity()] {
			del = append(del, p.Extra[i])
		}
	}
	return add, modify, del
}
