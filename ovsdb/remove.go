package ovsdb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// RemovePlan is what PlanRemove found of Loom's on a host that left the
// topology, and the transaction that deletes it.
type RemovePlan struct {
	*Plan
	// Exists is set when the host has a bridge of that name that is Loom's.
	Exists bool
	// DeletesBridge is set when the whole bridge goes (it holds nothing
	// that is not Loom's): its ports, interfaces, controller and flows go
	// with it.
	DeletesBridge bool
	// Ports are Loom's ports deleted (the bridge's own port not counted),
	// sorted.
	Ports []string
}

// PlanRemove plans the removal of what Loom owns on bridge: the bridge
// itself when everything on it is Loom's; otherwise (someone else's port
// or controller sits on it) only Loom's ports and controllers, and the
// bridge stays with the rest. A bridge of that name that is not Loom's,
// or no bridge, gives an empty plan. It writes nothing.
//
// When the bridge stays, its flows do not go with it: the caller deletes
// Loom's flows first, while Loom's controller (the OpenFlow listener) is
// still there.
func (c *Client) PlanRemove(ctx context.Context, bridge string) (*RemovePlan, error) {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: plan removal of bridge %q: %w", c.addr, bridge, err)
	}
	if err := c.sync(ctx); err != nil {
		return nil, wrap(err)
	}
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	rp := &RemovePlan{Plan: &Plan{Bridge: bridge, guard: -1}}
	br := s.bridgeByName(bridge)
	if s.root == nil || br == nil {
		return rp, nil
	}
	if !owned(br.ExternalIDs) {
		rp.Foreign = []string{"bridge " + bridge}
		return rp, nil
	}
	rp.Exists = true
	pl := &planner{c: c, spec: BridgeSpec{Name: bridge}, s: s, plan: rp.Plan}
	var loomPorts, loomCtls []string
	for _, u := range br.Ports {
		p := s.ports[u]
		switch {
		case p == nil:
			return nil, wrap(fmt.Errorf("%w: port %s of bridge %q is not in the cache", ErrStale, u, bridge))
		case p.Name == bridge:
			// the bridge's own port: goes with the bridge
		case owned(p.ExternalIDs):
			loomPorts = append(loomPorts, u)
			rp.Ports = append(rp.Ports, p.Name)
		default:
			rp.Foreign = append(rp.Foreign, "port "+p.Name)
		}
	}
	var ctlTargets []string
	for _, u := range br.Controller {
		ctl := s.ctls[u]
		switch {
		case ctl == nil:
			return nil, wrap(fmt.Errorf("%w: controller %s of bridge %q is not in the cache", ErrStale, u, bridge))
		case owned(ctl.ExternalIDs):
			loomCtls = append(loomCtls, u)
			ctlTargets = append(ctlTargets, ctl.Target)
		default:
			rp.Foreign = append(rp.Foreign, "controller "+ctl.Target)
		}
	}
	slices.Sort(rp.Ports)
	slices.Sort(rp.Foreign)
	slices.Sort(ctlTargets)

	root := &vswitchd.OpenvSwitch{UUID: s.root.UUID}
	if len(rp.Foreign) == 0 {
		// Dropping the reference deletes the bridge: OVSDB
		// garbage-collects it and, through it, its ports, interfaces and
		// controllers.
		rp.DeletesBridge = true
		what := "no ports"
		if n := len(rp.Ports); n > 0 {
			what = fmt.Sprintf("its %d ports (%s)", n, strings.Join(rp.Ports, ", "))
		}
		pl.change("delete bridge %s with %s", bridge, what)
		ops, err := c.ovs.Where(root).Mutate(root, model.Mutation{
			Field: &root.Bridges, Mutator: ovsdb.MutateOperationDelete, Value: []string{br.UUID}})
		if err := pl.add("delete bridge "+strconv.Quote(bridge), ops, err); err != nil {
			return nil, wrap(err)
		}
	} else {
		m := &vswitchd.Bridge{UUID: br.UUID}
		var muts []model.Mutation
		if len(loomPorts) > 0 {
			muts = append(muts, model.Mutation{Field: &m.Ports, Mutator: ovsdb.MutateOperationDelete, Value: loomPorts})
			for _, p := range rp.Ports {
				pl.change("delete port %s", p)
			}
		}
		if len(loomCtls) > 0 {
			muts = append(muts, model.Mutation{Field: &m.Controller, Mutator: ovsdb.MutateOperationDelete, Value: loomCtls})
			for _, t := range ctlTargets {
				pl.change("delete controller %s", t)
			}
		}
		if len(muts) == 0 {
			return rp, nil
		}
		pl.change("keep bridge %s: it holds what is not Loom's (%s)", bridge, strings.Join(rp.Foreign, ", "))
		ops, err := c.ovs.Where(m).Mutate(m, muts...)
		if err := pl.add("delete Loom's ports and controllers of bridge "+strconv.Quote(bridge), ops, err); err != nil {
			return nil, wrap(err)
		}
	}
	// Guard, first: the bridge is still Loom's, with the ports and
	// controllers the plan saw (a port added meanwhile, Loom's or not,
	// must not be deleted unseen).
	guard := &vswitchd.Bridge{UUID: br.UUID, ExternalIDs: br.ExternalIDs, Ports: br.Ports, Controller: br.Controller}
	zero := 0
	gops, err := c.ovs.Where(&vswitchd.Bridge{UUID: br.UUID}).Wait(ovsdb.WaitConditionEqual, &zero,
		guard, &guard.ExternalIDs, &guard.Ports, &guard.Controller)
	if err != nil {
		return nil, wrap(fmt.Errorf("build guard: %w", err))
	}
	rp.ops = append(gops, rp.ops...)
	rp.descs = append([]string{"check bridge " + strconv.Quote(bridge) + " is unchanged since the plan"}, rp.descs...)
	rp.guard = 0
	if err := pl.bumpNextCfg(); err != nil {
		return nil, wrap(err)
	}
	return rp, nil
}
