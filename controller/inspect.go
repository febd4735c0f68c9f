package controller

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/flows/ofctl"
	"github.com/loom-sdn/loom/topology"
)

// ExplainedFlow is a flow in OVS's syntax and the topology object behind
// it (from its cookie).
type ExplainedFlow struct {
	Flow    string `json:"flow"`
	Explain string `json:"explain"`
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
	r := &FlowReport{Host: hs.Host, Desired: len(hs.Flows), Flows: []ExplainedFlow{}}
	for _, line := range strings.Split(strings.TrimSpace(string(observed)), "\n") {
		if dumpCookieRE.MatchString(line) {
			r.Flows = append(r.Flows, explained(t, strings.TrimSpace(line)))
		}
	}
	plan, err := ofctl.PlanFlows(ctx, hs, observed)
	if err != nil {
		return nil, err
	}
	for _, l := range plan.Missing {
		r.Missing = append(r.Missing, explained(t, l))
	}
	for _, l := range plan.Extra {
		r.Extra = append(r.Extra, explained(t, l))
	}
	return r, nil
}

var dumpCookieRE = regexp.MustCompile(`cookie=(0x[0-9a-f]+)`)

// explained explains the cookie of a flow line, as OVS prints it.
func explained(t *topology.Topology, line string) ExplainedFlow {
	m := dumpCookieRE.FindStringSubmatch(line)
	if m == nil {
		return ExplainedFlow{Flow: line, Explain: "no cookie"}
	}
	c, _ := strconv.ParseUint(m[1], 0, 64)
	return ExplainedFlow{Flow: line, Explain: flows.Explain(t, c)}
}

// FlowChanges splits a flow plan's missing and stale flows into flows to
// add, to modify (same table, priority and match, other actions: given as
// the new flow) and to delete, each sorted.
func FlowChanges(p *ofctl.Plan) (add, modify, del []string) {
	if p == nil {
		return nil, nil, nil
	}
	stale := map[string]bool{}
	for _, l := range p.Extra {
		stale[flowIdentity(l)] = true
	}
	replaced := map[string]bool{}
	for _, l := range p.Missing {
		id := flowIdentity(l)
		if stale[id] {
			modify = append(modify, l)
			replaced[id] = true
		} else {
			add = append(add, l)
		}
	}
	for _, l := range p.Extra {
		if !replaced[flowIdentity(l)] {
			del = append(del, l)
		}
	}
	return add, modify, del
}

var cookieFieldRE = regexp.MustCompile(`\s*\bcookie=0x[0-9a-f]+,?`)

// flowIdentity is a flow line's table, priority and match: what OpenFlow
// identifies a flow by (the cookie and actions are not part of it).
func flowIdentity(line string) string {
	l := cookieFieldRE.ReplaceAllString(strings.TrimSpace(line), "")
	if i := strings.Index(l, " actions="); i >= 0 {
		l = l[:i]
	}
	return l
}
