package ovsdb

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// Binding by iface-id. A runtime (OVN, OpenStack, KubeVirt, an operator's
// `ovs-vsctl add-port br-int veth0 -- set Interface veth0
// external_ids:iface-id=ID`) makes the Port and Interface rows; Loom
// adopts the interface: it sets the interface's ofport_request to the
// OpenFlow port its flows name, and BoundKey to the object it binds the
// interface for. That is all Loom writes on such a row: the row is not
// Loom's (no OwnerKey), Loom never creates nor deletes it, and when it
// lets the interface go (the port left the topology, the iface-id
// changed) it removes its two marks and leaves the rest.
const (
	// IfaceIDKey is the external id runtimes name an interface with.
	IfaceIDKey = "iface-id"
	// BoundKey is the external id Loom writes on an interface it adopted:
	// the object it is bound for ("port/web1").
	BoundKey = "loom-bound"
)

// AdoptSpec is an interface Loom binds by its external_ids:iface-id.
type AdoptSpec struct {
	IfaceID       string
	OfportRequest int    // the OpenFlow port Loom's flows name
	Object        string // what it is bound for, e.g. "port/web1" (BoundKey's value)
}

// Adoption is what a plan found for an AdoptSpec.
type Adoption struct {
	AdoptSpec
	// Interface is the interface bound (after the plan is applied); ""
	// when none is.
	Interface string
	// Claimants are the interfaces of the bridge with the iface-id when
	// there is more than one (sorted): Loom keeps the one it had bound,
	// if any, and binds no other.
	Claimants []string
	// Blocker is another interface of the bridge that asks for the same
	// OpenFlow port (its ofport_request): OVS would leave the interface
	// with the iface-id on another number, so Loom binds none.
	Blocker string
}

// Problem describes, for the operator, why the adoption is not a single
// bound interface ("" when it is).
func (a *Adoption) Problem(host string) string {
	switch {
	case a.Blocker != "":
		return fmt.Sprintf("interface %s on host %s asks for OpenFlow port %d (ofport_request), which the port's flows use: the interface with iface-id %q is not bound (clear %s's ofport_request)",
			a.Blocker, host, a.OfportRequest, a.IfaceID, a.Blocker)
	case len(a.Claimants) > 1 && a.Interface != "":
		others := slices.DeleteFunc(slices.Clone(a.Claimants), func(n string) bool { return n == a.Interface })
		return fmt.Sprintf("interfaces %s on host %s all have iface-id %q: %s stays bound, the others are not (remove the iface-id from %s)",
			strings.Join(a.Claimants, ", "), host, a.IfaceID, a.Interface, strings.Join(others, ", "))
	case len(a.Claimants) > 1:
		return fmt.Sprintf("interfaces %s on host %s all have iface-id %q: none is bound (remove the iface-id from all but one)",
			strings.Join(a.Claimants, ", "), host, a.IfaceID)
	case a.Interface == "":
		return fmt.Sprintf("waiting for interface with iface-id %q on host %s (ovs-vsctl add-port BRIDGE IF -- set Interface IF external_ids:iface-id=%s)",
			a.IfaceID, host, a.IfaceID)
	}
	return ""
}

// adopt plans the bindings of the spec's AdoptSpecs on the bridge br (nil:
// the bridge is still to be made, and holds nothing to adopt), and lets go
// of the interfaces Loom bound that no spec binds any more. Only the
// interfaces of ports that are not Loom's are candidates.
func (pl *planner) adopt(br *vswitchd.Bridge) error {
	var marked []*vswitchd.Interface
	byID := map[string][]*vswitchd.Interface{}
	requested := map[int][]*vswitchd.Interface{} // ofport_request -> the foreign interfaces asking for it
	if br != nil {
		for _, pu := range br.Ports {
			p := pl.s.ports[pu]
			if p == nil || owned(p.ExternalIDs) || p.Name == pl.spec.Name {
				continue
			}
			for _, iu := range p.Interfaces {
				i := pl.s.ifaces[iu]
				if i == nil {
					continue
				}
				if i.OfportRequest != nil {
					requested[*i.OfportRequest] = append(requested[*i.OfportRequest], i)
				}
				if id := i.ExternalIDs[IfaceIDKey]; id != "" {
					byID[id] = append(byID[id], i)
				}
				if _, ok := i.ExternalIDs[BoundKey]; ok {
					marked = append(marked, i)
				}
			}
		}
	}
	keep := map[string]bool{}
	specs := slices.Clone(pl.spec.Adopt)
	slices.SortFunc(specs, func(a, b AdoptSpec) int { return strings.Compare(a.IfaceID, b.IfaceID) })
	for _, as := range specs {
		a := Adoption{AdoptSpec: as}
		cands := byID[as.IfaceID]
		slices.SortFunc(cands, func(a, b *vswitchd.Interface) int { return strings.Compare(a.Name, b.Name) })
		var chosen *vswitchd.Interface
		switch {
		case len(cands) == 1:
			chosen = cands[0]
		case len(cands) > 1:
			// Two claim the iface-id: the one bound stays (no flapping,
			// no outage of a working port), no other is taken.
			for _, i := range cands {
				a.Claimants = append(a.Claimants, i.Name)
				if i.ExternalIDs[BoundKey] == as.Object && (chosen == nil || i.OfportRequest != nil && *i.OfportRequest == as.OfportRequest) {
					chosen = i
				}
			}
		}
		if chosen != nil {
			for _, o := range requested[as.OfportRequest] {
				if o != chosen && o.ExternalIDs[IfaceIDKey] != as.IfaceID {
					a.Blocker, chosen = o.Name, nil
					break
				}
			}
		}
		if chosen != nil {
			a.Interface = chosen.Name
			keep[chosen.UUID] = true
			if port := pl.s.ports[pl.s.ifacePort[chosen.UUID]]; port != nil {
				if k := slices.Index(pl.plan.Foreign, "port "+port.Name); k >= 0 {
					pl.plan.Foreign[k] += " (bound by iface-id " + as.IfaceID + " for " + as.Object + ")"
				}
			}
			if err := pl.bind(chosen, as); err != nil {
				return err
			}
		}
		pl.plan.Adopted = append(pl.plan.Adopted, a)
	}
	for _, i := range marked {
		if !keep[i.UUID] {
			if err := pl.release(i); err != nil {
				return err
			}
		}
	}
	return nil
}

// bind sets i's ofport_request and Loom's mark, where they differ.
func (pl *planner) bind(i *vswitchd.Interface, as AdoptSpec) error {
	what := fmt.Sprintf("bind interface %s (iface-id %s) for %s", i.Name, as.IfaceID, as.Object)
	if i.OfportRequest == nil || *i.OfportRequest != as.OfportRequest {
		pl.change("%s: ofport_request %s -> %d", what, ptrInt(i.OfportRequest), as.OfportRequest)
		n := as.OfportRequest
		upd := &vswitchd.Interface{UUID: i.UUID, OfportRequest: &n}
		ops, err := pl.c.ovs.Where(upd).Update(upd, &upd.OfportRequest)
		if err := pl.add("bind interface "+strconv.Quote(i.Name), ops, err); err != nil {
			return err
		}
	}
	if v, ok := i.ExternalIDs[BoundKey]; !ok || v != as.Object {
		pl.change("%s: external_ids:%s %s -> %s", what, BoundKey, optString(v, ok), as.Object)
		return pl.mark(i, map[string]string{BoundKey: as.Object})
	}
	return nil
}

// release removes Loom's marks from i: its ofport_request (Loom's while
// the interface was bound) and BoundKey. The row and its other columns
// stay as they are.
func (pl *planner) release(i *vswitchd.Interface) error {
	pl.change("release interface %s (iface-id %s, bound for %s)", i.Name, optString(i.ExternalIDs[IfaceIDKey], true), i.ExternalIDs[BoundKey])
	if i.OfportRequest != nil {
		upd := &vswitchd.Interface{UUID: i.UUID}
		ops, err := pl.c.ovs.Where(upd).Update(upd, &upd.OfportRequest)
		if err := pl.add("release interface "+strconv.Quote(i.Name), ops, err); err != nil {
			return err
		}
	}
	return pl.mark(i, nil)
}

// mark replaces BoundKey in i's external_ids by set's (nil: removes it),
// by mutation: the other keys, the runtime's, are not written.
func (pl *planner) mark(i *vswitchd.Interface, set map[string]string) error {
	mut := &vswitchd.Interface{UUID: i.UUID}
	var muts []model.Mutation
	if _, ok := i.ExternalIDs[BoundKey]; ok {
		muts = append(muts, model.Mutation{Field: &mut.ExternalIDs, Mutator: ovsdb.MutateOperationDelete, Value: []string{BoundKey}})
	}
	if set != nil {
		muts = append(muts, model.Mutation{Field: &mut.ExternalIDs, Mutator: ovsdb.MutateOperationInsert, Value: set})
	}
	if len(muts) == 0 {
		return nil
	}
	ops, err := pl.c.ovs.Where(mut).Mutate(mut, muts...)
	return pl.add("mark interface "+strconv.Quote(i.Name), ops, err)
}

// adoptedWant adds to want the interfaces the plan binds, each with the
// OpenFlow port it must reach.
func (p *Plan) adoptedWant(want map[string]int) {
	for _, a := range p.Adopted {
		if a.Interface != "" {
			want[a.Interface] = a.OfportRequest
		}
	}
}

// Want is the OpenFlow port each interface of the spec must reach once
// the plan is applied: the ports of the spec, by name, and the interfaces
// the plan binds by iface-id.
func (p *Plan) Want(spec BridgeSpec) map[string]int {
	want := make(map[string]int, len(spec.Ports)+len(spec.Adopt))
	for _, ps := range spec.Ports {
		want[ps.Name] = ps.OfportRequest
	}
	if p != nil {
		p.adoptedWant(want)
	}
	return want
}
