package ovsdb

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// ErrWholePlan is PlanChange's answer when the change is not one it makes
// from the changed ports alone (the bridge itself changes, a port to add
// is in the way, a row is not as Loom left it): plan the whole bridge
// (Plan), which also says what is wrong.
var ErrWholePlan = errors.New("the change needs a plan of the whole bridge")

// PortDelta is how a BridgeSpec's ports differ from another's, by name.
type PortDelta struct {
	Added, Deleted, Changed []string // sorted
}

// Empty tells whether the ports are the same.
func (d PortDelta) Empty() bool {
	return len(d.Added) == 0 && len(d.Deleted) == 0 && len(d.Changed) == 0
}

// DiffPorts compares the ports of two specs of one bridge.
func DiffPorts(from, to BridgeSpec) PortDelta {
	var d PortDelta
	old := make(map[string]*PortSpec, len(from.Ports))
	for i := range from.Ports {
		old[from.Ports[i].Name] = &from.Ports[i]
	}
	for i := range to.Ports {
		p := &to.Ports[i]
		o, ok := old[p.Name]
		switch {
		case !ok:
			d.Added = append(d.Added, p.Name)
		case !samePort(o, p):
			d.Changed = append(d.Changed, p.Name)
		}
		delete(old, p.Name)
	}
	d.Deleted = slices.Collect(maps.Keys(old))
	slices.Sort(d.Added)
	slices.Sort(d.Deleted)
	slices.Sort(d.Changed)
	return d
}

func samePort(a, b *PortSpec) bool {
	return a.Name == b.Name && a.Type == b.Type && a.OfportRequest == b.OfportRequest &&
		maps.Equal(a.Options, b.Options) && maps.Equal(a.ExternalIDs, b.ExternalIDs)
}

// PlanChange plans the transaction that takes Loom's bridge from the spec
// it was last brought to (from) to another (to) that differs only in its
// ports, reading from the cache only the rows of the ports that change:
// its cost grows with the change, not with the bridge. The plan adds,
// deletes and updates those ports, guarded (the bridge is still Loom's),
// and, as every plan, moves next_cfg on. Whatever else the host holds is
// not read: the whole-bridge Plan of the next audit finds drift.
//
// It fails with ErrWholePlan when the change is not that kind of change,
// or the rows it reads are not as Loom left them (a port to add exists
// already, one to change is not Loom's): Plan the whole bridge then.
func (c *Client) PlanChange(ctx context.Context, from, to BridgeSpec) (*Plan, error) {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: plan a change of bridge %q: %w", c.addr, to.Name, err)
	}
	if from.Name != to.Name || datapathType(from.DatapathType) != datapathType(to.DatapathType) ||
		from.ControllerTarget != to.ControllerTarget {
		return nil, wrap(fmt.Errorf("%w: the bridge itself changes", ErrWholePlan))
	}
	if !slices.Equal(from.Adopt, to.Adopt) {
		// Which interface has an iface-id takes a look at every interface.
		return nil, wrap(fmt.Errorf("%w: the interfaces bound by iface-id change", ErrWholePlan))
	}
	if err := to.validate(); err != nil {
		return nil, wrap(err)
	}
	d := DiffPorts(from, to)
	p := &Plan{Bridge: to.Name, guard: -1}
	if d.Empty() {
		return p, nil
	}
	var names []string
	names = append(append(append(names, d.Added...), d.Deleted...), d.Changed...)
	s, err := c.portRows(ctx, to.Name, names)
	switch {
	case err != nil:
		return nil, wrap(err)
	case s == nil:
		return nil, wrap(fmt.Errorf("%w: a port of the change is on another bridge", ErrWholePlan))
	case s.root == nil:
		return nil, wrap(ErrNotInitialized)
	}
	var br *vswitchd.Bridge
	for _, b := range s.bridges {
		br = b
	}
	if br == nil || !owned(br.ExternalIDs) {
		return nil, wrap(fmt.Errorf("%w: bridge missing or not Loom's", ErrWholePlan))
	}
	byName := map[string]*vswitchd.Port{}
	for _, port := range s.ports {
		byName[port.Name] = port
	}
	pl := &planner{c: c, spec: to, s: s, plan: p}
	// The guard first: the bridge is still Loom's (a port's name clash is
	// the server's to find: names are unique indexes).
	guard := &vswitchd.Bridge{UUID: br.UUID, ExternalIDs: br.ExternalIDs}
	zero := 0
	ops, err := c.ovs.Where(&vswitchd.Bridge{UUID: br.UUID}).Wait(ovsdb.WaitConditionEqual, &zero, guard, &guard.ExternalIDs)
	if err := pl.add("check bridge "+strconv.Quote(to.Name)+" is still Loom's", ops, err); err != nil {
		return nil, wrap(err)
	}
	p.guard = 0

	specs := map[string]PortSpec{}
	for _, ps := range to.Ports {
		specs[ps.Name] = ps
	}
	var add, del []string
	for _, name := range d.Added {
		if byName[name] != nil {
			return nil, wrap(fmt.Errorf("%w: port %q to add exists", ErrWholePlan, name))
		}
		i := &vswitchd.Interface{Name: name}
		if err := c.ovs.Get(ctx, i); !errors.Is(err, client.ErrNotFound) {
			return nil, wrap(fmt.Errorf("%w: interface %q to add exists", ErrWholePlan, name))
		}
		u, err := pl.addPort(specs[name])
		if err != nil {
			return nil, wrap(err)
		}
		add = append(add, u)
	}
	for _, name := range d.Deleted {
		port := byName[name]
		if port == nil || !owned(port.ExternalIDs) {
			continue // gone already, or not Loom's to delete
		}
		del = append(del, port.UUID)
		pl.change("delete port %s", name)
	}
	for _, name := range d.Changed {
		port := byName[name]
		if port == nil || !owned(port.ExternalIDs) {
			return nil, wrap(fmt.Errorf("%w: port %q to change is missing or not Loom's", ErrWholePlan, name))
		}
		if err := pl.updatePort(port, specs[name]); err != nil {
			return nil, wrap(err)
		}
	}
	if len(add) > 0 || len(del) > 0 {
		mut := &vswitchd.Bridge{UUID: br.UUID}
		var muts []model.Mutation
		if len(add) > 0 {
			muts = append(muts, model.Mutation{Field: &mut.Ports, Mutator: ovsdb.MutateOperationInsert, Value: add})
		}
		if len(del) > 0 {
			muts = append(muts, model.Mutation{Field: &mut.Ports, Mutator: ovsdb.MutateOperationDelete, Value: del})
		}
		ops, err := c.ovs.Where(mut).Mutate(mut, muts...)
		if err := pl.add("change ports of bridge "+strconv.Quote(to.Name), ops, err); err != nil {
			return nil, wrap(err)
		}
	}
	if len(p.ops) == 1 {
		return &Plan{Bridge: to.Name, guard: -1}, nil // the guard alone: nothing to do
	}
	if err := pl.bumpNextCfg(); err != nil {
		return nil, wrap(err)
	}
	slices.Sort(p.Changes)
	return p, nil
}
