package ovsdb

import (
	"context"
	"testing"
	"time"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
	"github.com/loom-sdn/loom/ovsdb/vswitchd"
)

func TestSeeIfindex(t *testing.T) {
	n := func(v int) *int { return &v }
	type step struct {
		ofport, ifindex *int
		recreated       bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"port added for a device that exists", []step{{nil, nil, false}, {n(17), n(7), false}}},
		{"device missing, then made: OVS opens it by itself", []step{{n(-1), nil, false}, {n(17), n(7), false}}},
		{"recreated: gone, then a new device", []step{{n(17), n(7), false}, {n(17), n(0), false}, {n(17), n(9), true}, {n(17), n(9), false}}},
		{"recreated in one update", []step{{n(17), n(7), false}, {n(17), n(9), true}}},
		{"already gone when first seen", []step{{n(17), n(0), false}, {n(17), n(9), true}}},
		{"gone, and OVS let go of it: the next device is opened afresh", []step{{n(17), n(7), false}, {n(17), n(0), false}, {n(-1), nil, false}, {n(17), n(9), false}}},
		{"other columns change", []step{{n(17), n(7), false}, {n(17), n(7), false}, {n(17), nil, false}, {n(17), n(7), false}}},
		{"ofport renumbered, same device", []step{{n(17), n(7), false}, {n(18), n(7), false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen ifaceSeen
			for i, s := range tc.steps {
				var got bool
				seen, got = seeIfindex(seen, s.ofport, s.ifindex)
				if got != s.recreated {
					t.Errorf("step %d: recreated = %v, want %v", i, got, s.recreated)
				}
			}
		})
	}
}

// TestWatchRecreated runs real ovs-vswitchd with veths: a port added, a
// device that appears after its port and a device recreated under the same
// name raise exactly one event, for the last; RecreatePorts then brings
// the port back on the new device, with the same ofport.
func TestWatchRecreated(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	veth := func(name string) {
		s.InVswitchd(t, "ip", "link", "add", name, "type", "veth", "peer", "name", name+"p")
		s.InVswitchd(t, "ip", "link", "set", name, "up")
		s.InVswitchd(t, "ip", "link", "set", name+"p", "up")
	}
	veth("lmo-v0")
	veth("lmo-v1")
	c := dial(t, s.Addr)
	spec := BridgeSpec{
		Name: "lmo-br", DatapathType: "netdev", ControllerTarget: "ptcp:0:127.0.0.1",
		Ports: []PortSpec{{Name: "lmo-v0", OfportRequest: 10}, {Name: "lmo-v1", OfportRequest: 11}},
	}
	apply(t, c, spec)
	ctx := ctxT(t)
	if err := c.WaitOfports(ctx, "lmo-br", map[string]int{"lmo-v0": 10, "lmo-v1": 11}); err != nil {
		t.Fatal(err)
	}
	// lmo-v1's device goes before the watch begins.
	s.InVswitchd(t, "ip", "link", "del", "lmo-v1")
	waitIfindex(t, c, "lmo-v1", func(i int) bool { return i == 0 })

	events := make(chan string, 10)
	c.WatchRecreated(func(name string) { events <- name })

	// A port whose device comes later: no event, OVS opens it itself.
	spec.Ports = append(spec.Ports, PortSpec{Name: "lmo-late", OfportRequest: 12})
	apply(t, c, spec)
	down, err := c.WaitPorts(ctx, "lmo-br", map[string]int{"lmo-late": 12})
	if err != nil || len(down) != 1 || !down[0].NoDevice() {
		t.Fatalf("WaitPorts for a port without its device: %v, %v", down, err)
	}
	veth("lmo-late")
	if _, err := c.WaitPorts(ctx, "lmo-br", map[string]int{"lmo-late": 12}); err != nil {
		t.Fatal(err)
	}
	waitIfindex(t, c, "lmo-late", func(i int) bool { return i > 0 })

	// lmo-v0 recreated under its name.
	old := ifindexOf(t, c, "lmo-v0")
	s.InVswitchd(t, "ip", "link", "del", "lmo-v0")
	veth("lmo-v0")
	got := nextEvent(t, events)
	if got != "lmo-v0" {
		t.Fatalf("first event: %q, want lmo-v0 (no event for a port added or a device that came late)", got)
	}
	if now := ifindexOf(t, c, "lmo-v0"); now == old || now == 0 {
		t.Errorf("ifindex %d -> %d", old, now)
	}
	oldUUID := ifaceUUID(t, c, "lmo-v0")
	start := time.Now()
	down, err = c.RecreatePorts(ctx, spec, []string{"lmo-v0"})
	if err != nil || len(down) > 0 {
		t.Fatalf("RecreatePorts: %v, %v", down, err)
	}
	t.Logf("recreated in %v", time.Since(start))
	if ifaceUUID(t, c, "lmo-v0") == oldUUID {
		t.Error("the interface row was not made anew")
	}
	if err := c.WaitOfports(ctx, "lmo-br", map[string]int{"lmo-v0": 10, "lmo-late": 12}); err != nil {
		t.Fatal(err)
	}
	wantEmpty(t, c, spec)

	// lmo-v1, gone before the watch began, comes back.
	veth("lmo-v1")
	if got := nextEvent(t, events); got != "lmo-v1" {
		t.Fatalf("event: %q, want lmo-v1 (its device was gone when the watch began)", got)
	}
	select {
	case e := <-events:
		t.Errorf("one event too many: %q", e)
	default:
	}
}

func nextEvent(t *testing.T, events <-chan string) string {
	t.Helper()
	select {
	case e := <-events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
		return ""
	}
}

func ifaceRow(t *testing.T, c *Client, name string) *vswitchd.Interface {
	t.Helper()
	if err := c.sync(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	var ifaces []vswitchd.Interface
	if err := c.ovs.List(context.Background(), &ifaces); err != nil {
		t.Fatal(err)
	}
	for i := range ifaces {
		if ifaces[i].Name == name {
			return &ifaces[i]
		}
	}
	return nil
}

func ifaceUUID(t *testing.T, c *Client, name string) string {
	t.Helper()
	if i := ifaceRow(t, c, name); i != nil {
		return i.UUID
	}
	t.Fatalf("no interface %s", name)
	return ""
}

func ifindexOf(t *testing.T, c *Client, name string) int {
	t.Helper()
	if i := ifaceRow(t, c, name); i != nil && i.Ifindex != nil {
		return *i.Ifindex
	}
	return -1
}

func waitIfindex(t *testing.T, c *Client, name string, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(ifindexOf(t, c, name)) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: ifindex %d", name, ifindexOf(t, c, name))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
