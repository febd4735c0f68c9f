package controller

import (
	"context"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/topology"
)

// ExplainedFlow is a flow and the topology object behind it (from its
// cookie).
type ExplainedFlow struct {
	Flow flows.Flow `json:"flow"`
	// Unknown is, for a flow Loom's parser does not read (someone else's
	// flow in Loom's cookie space), its text as the switch printed it;
	// Flow then holds only its table and cookie.
	Unknown string `json:"unknown,omitempty"`
	Explain string `json:"explain"`
}

// String is the flow's text (as the switch printed it, for an unknown
// flow).
func (e *ExplainedFlow) String() string {
	if e.Unknown != "" {
		return e.Unknown
	}
	return e.Flow.String()
}

// FlowReport is what a host's switch holds of Loom's flows, and how it
// differs from the topology.
type FlowReport struct {
	Host    string          `json:"host"`
	Flows   []ExplainedFlow `json:"flows"`
	Desired int             `json:"desired"`
	Missing []ExplainedFlow `json:"missing,omitempty"` // in the topology, not on the switch
	Extra   []ExplainedFlow `json:"extra,omitempty"`   // on the switch, not in the topology
}

// Drift tells whether the switch differs from the topology.
func (r *FlowReport) Drift() bool { return len(r.Missing)+len(r.Extra) > 0 }

// InspectFlows reads the flows in Loom's cookie space from hs's switch (it
// changes nothing) and explains each with t.
func InspectFlows(ctx context.Context, t *topology.Topology, hs *flows.HostState, of *ofctl.Client) (*FlowReport, error) {
	observed, err := of.Dump(ctx)
	if err != nil {
		return nil, err
	}
	r := &FlowReport{Host: hs.Host, Desired: hs.NumFlows(), Flows: []ExplainedFlow{}}
	flows.Sort(observed.Flows)
	for i := range observed.Flows {
		r.Flows = append(r.Flows, explained(t, observed.Flows[i]))
	}
	unknown := make([]ExplainedFlow, len(observed.Unknown))
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
func explained(t *topology.Topology, f flows.Flow) ExplainedFlow {
	return ExplainedFlow{Flow: f, Explain: flows.Explain(t, f.Cookie)}
}

func explainedUnknown(t *topology.Topology, u ofctl.Unknown) ExplainedFlow {
	return ExplainedFlow{Flow: flows.Flow{Table: u.Group.Table, Cookie: u.Group.Cookie}, Unknown: u.Text,
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
