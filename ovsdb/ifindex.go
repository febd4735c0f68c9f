package ovsdb

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/model"
	"github.com/ovn-org/libovsdb/ovsdb"
	"go.uber.org/zap"

	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

// A system interface (a veth, a tap) deleted and made again under the same
// name, as when a container or a VM is restarted, is a new device with a
// new ifindex. On a netdev bridge ovs-vswitchd keeps the old device open:
// the port keeps its ofport and shows no error, and not one packet passes
// (OVS-NOTES.md). OVSDB shows it all the same: the Interface's ifindex
// goes to 0 when the device goes, and to the new device's ifindex when it
// comes back. Deleting the port and adding it again, in two transactions,
// makes ovs-vswitchd open the new device.

// ifaceSeen is what is known of one interface's device.
type ifaceSeen struct {
	ifindex int  // the ifindex of the device OVS holds open (0: not known)
	gone    bool // OVS holds the port open, but its device is gone (ifindex 0)
}

// seeIfindex takes what was known of an interface and its ofport and
// ifindex columns now, and returns what is known now and whether its
// device was made anew under a port that OVS held open (OVS still holds the
// old device: the port must be deleted and added again). It is a pure
// function.
func seeIfindex(prev ifaceSeen, ofport, ifindex *int) (ifaceSeen, bool) {
	switch {
	case ofport == nil || *ofport <= 0:
		// OVS holds no device (not yet, or it gave up on it): it opens
		// the next one by itself, afresh.
		return ifaceSeen{}, false
	case ifindex == nil:
		return prev, false // not reported yet
	case *ifindex == 0:
		prev.gone = true
		return prev, false
	}
	recreated := prev.gone || (prev.ifindex != 0 && prev.ifindex != *ifindex)
	return ifaceSeen{ifindex: *ifindex}, recreated
}

// recreatedTracker applies seeIfindex to every Loom system interface, by
// row UUID.
type recreatedTracker struct {
	mu   sync.Mutex
	seen map[string]ifaceSeen
}

// watched tells whether an interface is one the tracker follows: Loom's,
// and a system interface (tunnels have no device; internal ports' devices
// are ovs-vswitchd's own).
func watched(i *vswitchd.Interface) bool {
	return i.Type == "" && owned(i.ExternalIDs)
}

// observe records a row as reported by an update and tells whether its
// device was made anew.
func (t *recreatedTracker) observe(i *vswitchd.Interface) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	next, recreated := seeIfindex(t.seen[i.UUID], i.Ofport, i.Ifindex)
	t.seen[i.UUID] = next
	return recreated
}

// seed records a row of the cache as it was when the watch began, unless
// an update about it came first.
func (t *recreatedTracker) seed(i *vswitchd.Interface) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.seen[i.UUID]; !ok {
		t.seen[i.UUID], _ = seeIfindex(ifaceSeen{}, i.Ofport, i.Ifindex)
	}
}

func (t *recreatedTracker) forget(uuid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.seen, uuid)
}

// WatchRecreated calls fn with the name of each of Loom's system
// interfaces whose device is made anew under the same name while OVS holds
// the old one (see [Client.RecreatePorts]). A device that is already gone
// when the watch begins counts: its next one is new. fn runs on libovsdb's
// event loop: it must not block.
func (c *Client) WatchRecreated(fn func(iface string)) {
	t := &recreatedTracker{seen: map[string]ifaceSeen{}}
	see := func(table string, m model.Model) {
		if i, ok := m.(*vswitchd.Interface); ok && table == vswitchd.InterfaceTable && watched(i) && t.observe(i) {
			fn(i.Name)
		}
	}
	c.ovs.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    see,
		UpdateFunc: func(table string, _, m model.Model) { see(table, m) },
		DeleteFunc: func(table string, m model.Model) {
			if i, ok := m.(*vswitchd.Interface); ok && table == vswitchd.InterfaceTable {
				t.forget(i.UUID)
			}
		},
	})
	// The rows cached before the handler was added may have gone by
	// without an event.
	var ifaces []vswitchd.Interface
	if err := c.ovs.List(context.Background(), &ifaces); err != nil {
		c.log.Warn("ovsdb: read interfaces to watch their devices", zap.Error(err))
		return
	}
	for i := range ifaces {
		if watched(&ifaces[i]) {
			t.seed(&ifaces[i])
		}
	}
}

// RecreatePorts makes ovs-vswitchd open anew the devices of the named
// ports of spec's bridge (Loom's ports only; other names are ignored): it
// deletes the ports in one transaction, waits until ovs-vswitchd has
// applied it (and so let the old devices go), then adds them back as spec
// has them (the ofports they asked for, so flows stay right) in a second
// transaction, and waits for their ofports. One transaction doing both
// would not do: ovs-vswitchd would keep the old devices. Flows that name
// the ports survive the deletion. It returns the interfaces OVS could not
// set up again.
func (c *Client) RecreatePorts(ctx context.Context, spec BridgeSpec, names []string) ([]*InterfaceError, error) {
	wrap := func(err error) error {
		return fmt.Errorf("ovsdb %s: recreate ports %v of bridge %q: %w", c.addr, names, spec.Name, err)
	}
	if err := c.sync(ctx); err != nil {
		return nil, wrap(err)
	}
	s, err := c.snapshot(ctx)
	if err != nil {
		return nil, wrap(err)
	}
	br := s.bridgeByName(spec.Name)
	if s.root == nil || br == nil || !owned(br.ExternalIDs) {
		return nil, nil // nothing of Loom's to recreate: a reconcile makes it
	}
	var del []string
	want := map[string]int{}
	for _, u := range br.Ports {
		if p := s.ports[u]; p != nil && owned(p.ExternalIDs) && slices.Contains(names, p.Name) {
			del = append(del, u)
		}
	}
	for _, ps := range spec.Ports {
		if slices.Contains(names, ps.Name) {
			want[ps.Name] = ps.OfportRequest
		}
	}
	if len(del) == 0 {
		return nil, nil
	}
	start := time.Now()
	mut := &vswitchd.Bridge{UUID: br.UUID}
	ops, err := c.ovs.Where(mut).Mutate(mut, model.Mutation{Field: &mut.Ports, Mutator: ovsdb.MutateOperationDelete, Value: del})
	if err != nil {
		return nil, wrap(fmt.Errorf("build delete: %w", err))
	}
	root := &vswitchd.OpenvSwitch{UUID: s.root.UUID}
	bump, err := c.ovs.Where(root).Mutate(root, model.Mutation{Field: &root.NextCfg, Mutator: ovsdb.MutateOperationAdd, Value: 1})
	if err != nil {
		return nil, wrap(fmt.Errorf("build next_cfg increment: %w", err))
	}
	ops = append(ops, bump...)
	results, err := c.ovs.Transact(ctx, ops...)
	if err == nil {
		_, err = ovsdb.CheckOperationResults(results, ops)
	}
	if err != nil {
		return nil, wrap(fmt.Errorf("delete: %w", err))
	}
	if err := c.waitCurCfg(ctx); err != nil {
		return nil, wrap(err)
	}
	deleted := time.Since(start)
	p, err := c.Plan(ctx, spec)
	if err == nil {
		err = c.Apply(ctx, p)
	}
	if err != nil {
		return nil, wrap(fmt.Errorf("add back: %w", err))
	}
	down, err := c.WaitPorts(ctx, spec.Name, want)
	if err != nil {
		return nil, wrap(err)
	}
	c.log.Debug("ovsdb ports recreated", zap.Strings("ports", names),
		zap.Duration("deleted_in", deleted), zap.Duration("took", time.Since(start)))
	return down, nil
}

// WaitApplied waits until ovs-vswitchd has applied every transaction
// committed so far (cur_cfg caught up with next_cfg). Before a port is
// added, it makes sure that a deletion of the same port a moment before
// (by hand, or by RecreatePorts) reached ovs-vswitchd on its own: seen
// together, the two would leave it holding the port's old device.
func (c *Client) WaitApplied(ctx context.Context) error {
	if err := c.waitCurCfg(ctx); err != nil {
		return fmt.Errorf("ovsdb %s: %w", c.addr, err)
	}
	return nil
}

// waitCurCfg is WaitApplied.
func (c *Client) waitCurCfg(ctx context.Context) error {
	if err := c.sync(ctx); err != nil {
		return err
	}
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var target int
	for first := true; ; first = false {
		changed := c.changes()
		var roots []vswitchd.OpenvSwitch
		if err := c.ovs.List(ctx, &roots); err != nil {
			return fmt.Errorf("read cache: %w", err)
		}
		if len(roots) == 0 {
			return ErrNotInitialized
		}
		if first {
			target = roots[0].NextCfg
		}
		if roots[0].CurCfg >= target {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting for ovs-vswitchd to apply the configuration (cur_cfg %d < next_cfg %d; is it running?)",
				ctx.Err(), roots[0].CurCfg, target)
		case <-changed:
		case <-ticker.C:
		}
	}
}
