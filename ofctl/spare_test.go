package ofctl

import (
	"testing"
	"time"

	"github.com/loom-sdn/loom/flows"
)

// A bundle through a spare process (started ahead, connected, waiting for
// its flows) lands as one through a new process; a spare for another
// switch, an expired one or one whose process died is not used, and the
// bundle goes through a new process.
func TestSpare(t *testing.T) {
	r := newMonitorRig(t)
	c := New(r.target)
	r.clearLoom()
	f := func(n uint64) flows.Flow {
		return flows.Flow{Table: 0, Priority: 100, Cookie: flows.CookieSpace | n,
			Match: flows.Match{flows.Exact(flows.Reg(1), n)}, Actions: flows.Actions{flows.Output(uint32(n))}}
	}
	sp := Spare{noWire: true} // the processes (the own connection: wire_test.go)
	defer sp.Stop()
	sp.Start(c)
	time.Sleep(50 * time.Millisecond) // let it connect
	p := PlanEmpty([]flows.Flow{f(1), f(2)})
	if sp.p == nil {
		t.Fatal("no spare process")
	}
	waiting := sp.p
	if err := c.ApplySpare(t.Context(), p, &sp); err != nil {
		t.Fatal(err)
	}
	if sp.p != nil {
		t.Error("the spare process was not used")
	}
	<-waiting.done
	if n, err := c.FlowCount(t.Context()); err != nil || n != 2 {
		t.Fatalf("after a bundle through the spare: %d flows, %v", n, err)
	}

	// A spare whose process died (killed: as if the switch had dropped
	// it): the bundle goes through a new process.
	sp.Start(c)
	sp.p.kill()
	<-sp.p.done
	want := []flows.Flow{f(1), f(2), f(3)}
	flows.Sort(want)
	if err := c.ApplySpare(t.Context(), PlanDelta([]flows.Flow{f(1), f(2)}, want), &sp); err != nil {
		t.Fatal(err)
	}
	if n, err := c.FlowCount(t.Context()); err != nil || n != 3 {
		t.Fatalf("after a bundle past a dead spare: %d flows, %v", n, err)
	}

	// A spare for another switch is left alone.
	other := New("unix:/nonexistent/br.mgmt")
	sp.Start(other)
	if err := c.ApplySpare(t.Context(), PlanEmpty([]flows.Flow{f(4)}), &sp); err != nil {
		t.Fatal(err)
	}
	if n, err := c.FlowCount(t.Context()); err != nil || n != 4 {
		t.Fatalf("past a spare for another switch: %d flows, %v", n, err)
	}
}

// A kept spare is replaced when it expires, until Keep's time is up or
// Stop.
func TestSpareKeep(t *testing.T) {
	r := newMonitorRig(t)
	c := New(r.target)
	life := SpareLife
	SpareLife = 100 * time.Millisecond
	defer func() { SpareLife = life }()
	sp := Spare{noWire: true}
	sp.Keep(c, 350*time.Millisecond)
	current := func() *spareProc {
		sp.mu.Lock()
		defer sp.mu.Unlock()
		return sp.p
	}
	first := current()
	if first == nil {
		t.Fatal("no spare")
	}
	<-first.done // expired
	time.Sleep(20 * time.Millisecond)
	second := current()
	if second == nil || second == first {
		t.Fatalf("the expired spare was not replaced: %v", second)
	}
	// Keep's time runs out: the last one is not replaced.
	time.Sleep(600 * time.Millisecond)
	if p := current(); p != nil {
		t.Fatalf("a spare still kept after Keep's time: %v", p)
	}
	sp.Keep(c, time.Minute)
	p := current()
	sp.Stop()
	<-p.done
	time.Sleep(150 * time.Millisecond)
	if current() != nil {
		t.Fatal("a spare after Stop")
	}
}
