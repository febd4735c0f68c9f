package ovsdb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

func TestDiffPorts(t *testing.T) {
	from := baseSpec()
	to := baseSpec()
	to.Ports = append(to.Ports, PortSpec{Name: "lm-new", OfportRequest: 20})
	to.Ports[1].Options = map[string]string{"remote_ip": "198.19.0.12", "key": "flow"}
	to.Ports = slices.Delete(to.Ports, 0, 1)
	d := DiffPorts(from, to)
	want := PortDelta{Added: []string{"lm-new"}, Deleted: []string{"lm-web1"}, Changed: []string{"gre-h2"}}
	if fmt.Sprint(d) != fmt.Sprint(want) {
		t.Fatalf("DiffPorts = %+v, want %+v", d, want)
	}
	if !DiffPorts(from, baseSpec()).Empty() {
		t.Fatal("DiffPorts of equal specs is not empty")
	}
}

// A change of ports planned from the changed ports alone leaves the
// bridge as a whole plan would: the whole plan is empty afterwards.
func TestPlanChange(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	from := baseSpec()
	for i := 0; i < 40; i++ {
		from.Ports = append(from.Ports, PortSpec{Name: fmt.Sprintf("lm-x%d", i), OfportRequest: 100 + i,
			ExternalIDs: map[string]string{"loom-object": fmt.Sprintf("port/p%d", i)}})
	}
	apply(t, c, from)
	s.Vsctl(t, "add-port", "br-int", "eth9") // someone else's: left alone

	to := baseSpec()
	to.Ports[1].Options = map[string]string{"remote_ip": "198.19.0.12", "key": "flow"}
	for i := 1; i < 40; i++ { // lm-x0 goes
		to.Ports = append(to.Ports, from.Ports[2+i])
	}
	to.Ports = append(to.Ports, PortSpec{Name: "lm-new", OfportRequest: 20, ExternalIDs: map[string]string{"loom-object": "port/new"}})
	p, err := c.PlanChange(ctxT(t), from, to)
	if err != nil {
		t.Fatalf("PlanChange: %v", err)
	}
	wantChanges(t, p, "add port lm-new (ofport 20)", "delete port lm-x0",
		"update port gre-h2: options:remote_ip 198.19.0.11 -> 198.19.0.12")
	if err := c.Apply(ctxT(t), p); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantEmpty(t, c, to)
	if out := s.Vsctl(t, "list-ports", "br-int"); !slices.Contains(splitLines(out), "eth9") {
		t.Fatalf("eth9 is gone: %q", out)
	}

	// No change: nothing to send.
	if p, err := c.PlanChange(ctxT(t), to, to); err != nil || !p.Empty() {
		t.Fatalf("PlanChange of no change: %v, %v", p, err)
	}

	// A port to add that is there already, not Loom's: the whole plan says
	// what is wrong.
	s.Vsctl(t, "add-port", "br-int", "lm-hand")
	// PlanChange reads the client's cache: wait for the port's update to
	// reach it (ovs-vsctl returns when the server has it).
	deadline := time.Now().Add(5 * time.Second)
	for {
		in, err := c.Interfaces(ctxT(t), "br-int")
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(in, func(i InterfaceState) bool { return i.Name == "lm-hand" }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("lm-hand never reached the client's cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	more := to
	more.Ports = append(slices.Clone(to.Ports), PortSpec{Name: "lm-hand", OfportRequest: 21})
	if _, err := c.PlanChange(ctxT(t), to, more); !errors.Is(err, ErrWholePlan) {
		t.Fatalf("PlanChange adding a port that exists: err = %v, want ErrWholePlan", err)
	}
	// The bridge itself changes.
	moved := to
	moved.ControllerTarget = "ptcp:6654:127.0.0.1"
	if _, err := c.PlanChange(ctxT(t), to, moved); !errors.Is(err, ErrWholePlan) {
		t.Fatalf("PlanChange of the controller: err = %v, want ErrWholePlan", err)
	}

	// A stale change (the bridge no longer Loom's when it runs) writes
	// nothing.
	gone := to
	gone.Ports = slices.Clone(to.Ports[:len(to.Ports)-1])
	p, err = c.PlanChange(ctxT(t), to, gone)
	if err != nil {
		t.Fatalf("PlanChange: %v", err)
	}
	s.Vsctl(t, "br-set-external-id", "br-int", OwnerKey, "someone")
	if err := c.Apply(ctxT(t), p); !errors.Is(err, ErrStale) {
		t.Fatalf("Apply on a bridge taken over: err = %v, want ErrStale", err)
	}
	if out := s.Vsctl(t, "list-ports", "br-int"); !slices.Contains(splitLines(out), "lm-new") {
		t.Fatalf("lm-new was deleted from a bridge not Loom's: %q", out)
	}
}

func splitLines(s string) []string {
	var out []string
	for _, l := range slices.Collect(strings.Lines(s)) {
		out = append(out, strings.TrimSpace(l))
	}
	return out
}

// Check says, from one read of the cache, what Plan, PortsNow and
// Interfaces say.
func TestCheck(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	apply(t, c, spec)
	more := spec
	more.Ports = append(slices.Clone(spec.Ports), PortSpec{Name: "lm-more", OfportRequest: 30})
	want := map[string]int{"lm-web1": 17, "gre-h2": 3}
	p, pending, down, ifaces, err := c.Check(ctxT(t), more, want)
	if err != nil {
		t.Fatal(err)
	}
	p2 := plan(t, c, more)
	pending2, down2, err := c.PortsNow(ctxT(t), "br-int", want)
	if err != nil {
		t.Fatal(err)
	}
	ifaces2, err := c.Interfaces(ctxT(t), "br-int")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Changes, p2.Changes) || fmt.Sprint(pending) != fmt.Sprint(pending2) ||
		fmt.Sprint(down) != fmt.Sprint(down2) || fmt.Sprint(ifaces) != fmt.Sprint(ifaces2) {
		t.Fatalf("Check: %v %v %v %v\nwant %v %v %v %v", p.Changes, pending, down, ifaces, p2.Changes, pending2, down2, ifaces2)
	}
	if len(p.Changes) != 1 || len(ifaces) != 3 {
		t.Fatalf("Check: changes %v, interfaces %v", p.Changes, ifaces)
	}
}
