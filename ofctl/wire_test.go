package ofctl

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
)

// dumpLoom is the switch's flows of Loom's cookie space as ovs-ofctl
// prints them (no statistics), sorted.
func (r *monitorRig) dumpLoom() []string {
	r.t.Helper()
	var out []string
	for _, l := range strings.Split(r.ofctl("dump-flows", "--no-stats", "--no-names", r.target, cookieSpace), "\n") {
		if l = strings.TrimSpace(l); strings.Contains(l, "cookie=") {
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return out
}

// Parity: every golden host's flows sent from empty through Loom's own
// OpenFlow connection (one bundle) and through ovs-ofctl (Sync) leave
// the same dump-flows on a real switch; the groups deleted the same way
// leave none of them. A host with a flow encode.go does not write (its
// bundles would go through ovs-ofctl in loomd) fails the test: the
// encoder must know every flow the compiler emits.
func TestWireParityOnOVS(t *testing.T) {
	r := newMonitorRig(t)
	c := New(r.target)
	var s Spare
	defer s.Stop()
	sent, skipped := 0, map[string]int{}
	for _, hs := range goldenHosts(t) {
		fs := hs.Flows()
		if _, err := encodeBundle(&Plan{Adds: fs}); err != nil {
			skipped[err.Error()]++
			continue
		}
		r.clearLoom()
		if _, err := c.Sync(t.Context(), fs, nil); err != nil {
			t.Fatalf("%s: through ovs-ofctl: %v", hs.Host, err)
		}
		want := r.dumpLoom()
		r.clearLoom()
		if err := s.sendWire(t.Context(), r.target, &Plan{Adds: fs}); err != nil {
			t.Fatalf("%s: through the own connection: %v", hs.Host, err)
		}
		got := r.dumpLoom()
		if !slices.Equal(got, want) {
			for _, l := range got {
				if !slices.Contains(want, l) {
					t.Errorf("%s: own connection only: %s", hs.Host, l)
				}
			}
			for _, l := range want {
				if !slices.Contains(got, l) {
					t.Errorf("%s: ovs-ofctl only: %s", hs.Host, l)
				}
			}
			continue
		}
		if len(got) != hs.NumFlows() {
			t.Errorf("%s: %d flows on the switch, %d compiled", hs.Host, len(got), hs.NumFlows())
		}
		var groups []Group
		for i := range fs {
			g := Group{Table: fs[i].Table, Cookie: fs[i].Cookie}
			if !slices.Contains(groups, g) {
				groups = append(groups, g)
			}
		}
		if err := s.sendWire(t.Context(), r.target, &Plan{Deletes: groups}); err != nil {
			t.Fatalf("%s: delete through the own connection: %v", hs.Host, err)
		}
		if left := r.dumpLoom(); len(left) > 0 {
			t.Errorf("%s: %d flows left after deleting every group, e.g. %s", hs.Host, len(left), left[0])
		}
		sent++
	}
	t.Logf("%d golden hosts sent both ways; not encodable: %v", sent, skipped)
	if sent == 0 || len(skipped) > 0 {
		t.Fatalf("golden hosts not encodable for the own OpenFlow sender: %v (%d sent)", skipped, sent)
	}
}

// A bundle the switch refuses (a goto_table backwards) is refused whole:
// the good flow before it is not applied, the error says so, and the
// connection serves the next bundle.
func TestWireRefusedOnOVS(t *testing.T) {
	r := newMonitorRig(t)
	var s Spare
	defer s.Stop()
	good := flows.Flow{Cookie: flows.CookieSpace | 1, Table: 1, Priority: 10, Actions: flows.Actions{flows.Output(1)}}
	bad := flows.Flow{Cookie: flows.CookieSpace | 2, Table: 5, Priority: 10, Actions: flows.Actions{flows.GotoTable(2)}}
	err := s.sendWire(t.Context(), r.target, &Plan{Adds: []flows.Flow{good, bad}})
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("bundle with a goto_table backwards: %v, want a RefusedError", err)
	}
	if got := r.dumpLoom(); len(got) != 0 {
		t.Fatalf("refused bundle left flows: %v", got)
	}
	// Positive control: the good flow alone goes, on the same connection.
	w := s.wire
	if err := s.sendWire(t.Context(), r.target, &Plan{Adds: []flows.Flow{good}}); err != nil {
		t.Fatal(err)
	}
	if s.wire != w {
		t.Error("a refused bundle closed the connection")
	}
	if got := r.dumpLoom(); len(got) != 1 {
		t.Fatalf("after the good bundle: %v", got)
	}
}

// A Spare for a plain target keeps Loom's own connection instead of an
// ovs-ofctl process, and ApplySpare's bundles go on it; a connection
// the switch dropped is dialled anew for the next bundle.
func TestWireSpareOnOVS(t *testing.T) {
	r := newMonitorRig(t)
	c := New(r.target)
	var s Spare
	defer s.Stop()
	f := func(n uint64) flows.Flow {
		return flows.Flow{Table: 0, Priority: 100, Cookie: flows.CookieSpace | n,
			Match: flows.Match{flows.Exact(flows.Reg(1), n)}, Actions: flows.Actions{flows.Output(uint32(n))}}
	}
	s.Start(c)
	if s.p != nil {
		t.Fatal("a spare ovs-ofctl for a plain target")
	}
	if err := c.ApplySpare(t.Context(), PlanEmpty([]flows.Flow{f(1), f(2)}), &s); err != nil {
		t.Fatal(err)
	}
	s.wmu.Lock()
	w := s.wire
	s.wmu.Unlock()
	if w == nil {
		t.Fatal("no own connection after a bundle")
	}
	if n, err := c.FlowCount(t.Context()); err != nil || n != 2 {
		t.Fatalf("after a bundle on the own connection: %d flows, %v", n, err)
	}
	w.close() // as if the switch had dropped it
	<-w.done
	if err := c.ApplySpare(t.Context(), PlanDelta([]flows.Flow{f(1), f(2)}, []flows.Flow{f(1), f(2), f(3)}), &s); err != nil {
		t.Fatal(err)
	}
	if s.wire == nil || s.wire == w {
		t.Error("the dropped connection was not replaced")
	}
	if n, err := c.FlowCount(t.Context()); err != nil || n != 3 {
		t.Fatalf("after a bundle past a dropped connection: %d flows, %v", n, err)
	}
}
