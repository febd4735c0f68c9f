package controller

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// changeHost is a host state of hand-made ports (veths in ovs-vswitchd's
// namespace, or none: a port down) and one flow per port.
func changeHost(dbAddr, dir string, ports ...string) *flows.HostState {
	hs := &flows.HostState{Host: "h1", OVSDB: dbAddr,
		OpenFlow: "unix:" + filepath.Join(dir, "lmc-br.of"), Bridge: "lmc-br", DatapathType: "netdev",
		ControllerTarget: "punix:" + filepath.Join(dir, "lmc-br.of")}
	var fs []flows.Flow
	for _, name := range ports {
		var n int
		fmt.Sscanf(name[len(name)-1:], "%x", &n)
		n += 10
		hs.Ports = append(hs.Ports, flows.Port{Name: name, Ofport: n, ExternalIDs: map[string]string{flows.ExtIDObject: "port/" + name}})
		fs = append(fs, flows.Flow{Table: 0, Priority: 100, Cookie: flows.CookieSpace | uint64(n),
			Match: flows.Match{flows.Exact(flows.FieldInPort, uint64(n))}, Actions: flows.Actions{flows.Output(uint32(n))}})
	}
	flows.Sort(fs)
	return hs.WithFlows(fs)
}

// A worker sends a change of ports as the difference (the change path):
// one transaction of the ports that change, one bundle of their flows,
// confirmed by the flow monitor's echo; the host ends as a whole
// reconcile would leave it. A change the path does not make (the bridge's
// listener moves) is reconciled whole.
func TestChangePath(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("ovs-ofctl not installed (make deps)")
	}
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	for _, v := range []string{"lmc-a", "lmc-b", "lmc-c"} {
		s.InVswitchd(t, "ip", "link", "add", v, "type", "veth", "peer", "name", v+"p")
		s.InVswitchd(t, "ip", "link", "set", v, "up")
	}
	dir := s.Dir
	core, logs := observer.New(zap.DebugLevel)
	statuses := make(chan api.HostStatus, 100)
	r := NewReconciler(zap.New(core), Config{}, func(st api.HostStatus) { statuses <- st })
	t.Cleanup(func() {
		if t.Failed() || testing.Verbose() {
			for _, e := range logs.All() {
				t.Logf("%s %v", e.Message, e.ContextMap())
			}
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// reach waits for the host at rev and returns the status.
	reach := func(rev int64, state string) api.HostStatus {
		t.Helper()
		for {
			select {
			case st := <-statuses:
				if st.Revision == rev && st.Desired == rev && (st.State == state) {
					return st
				}
				if st.State == api.StateError {
					t.Logf("host in error: %s", st.LastError)
				}
			case <-ctx.Done():
				t.Fatalf("host not %s at revision %d", state, rev)
			}
		}
	}
	// check compares the host with hs as a whole reconcile would.
	check := func(hs *flows.HostState) {
		t.Helper()
		db, err := ovsdb.Dial(ctx, hs.OVSDB, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if p, err := db.Plan(ctx, BridgeSpec(hs)); err != nil || !p.Empty() {
			t.Fatalf("ovsdb differs after the change: %v %v", p, err)
		}
		obs, err := ofctl.New(hs.OpenFlow).Dump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := ofctl.PlanFlows(hs.Flows(), obs); err != nil || !p.Empty() {
			t.Fatalf("flows differ after the change: missing %v, extra %v (%v)", p.Missing, p.Extra, err)
		}
	}
	// delta tells whether a reconcile logged since entry from went by the
	// change path (another may follow it: an OVSDB update, the flow
	// monitor's reconnect).
	delta := func(from int) bool {
		t.Helper()
		for _, e := range logs.All()[from:] {
			if e.Message == "reconciled" && e.ContextMap()["trigger"] == "change (delta)" {
				return true
			}
		}
		return false
	}

	hs1 := changeHost(s.Addr, dir, "lmc-a", "lmc-b")
	r.SetDesired([]*flows.HostState{hs1}, 1)
	reach(1, api.StateInSync)
	check(hs1)
	// The flow monitor connects to the bridge the first reconcile made,
	// and the worker reconciles again at once (whatever happened before
	// it watched is unknown). Until then a change is not sent by the
	// change path (its echo could not be checked). The log of a reconcile
	// is written before its status is published.
	for !slices.ContainsFunc(logs.All(), func(e observer.LoggedEntry) bool {
		return e.Message == "reconciled" && e.ContextMap()["trigger"] == "openflow reconnect"
	}) {
		select {
		case <-statuses:
		case <-ctx.Done():
			t.Fatal("no reconcile after the flow monitor connected")
		}
	}

	// One port added: the change path.
	hs2 := changeHost(s.Addr, dir, "lmc-a", "lmc-b", "lmc-c")
	mark := logs.Len()
	r.SetDesired([]*flows.HostState{hs2}, 2)
	st := reach(2, api.StateInSync)
	check(hs2)
	if !delta(mark) {
		t.Error("port added: not by the change path")
	}
	if st.LastChanges != 1+1 { // one OVSDB change, one flow mod
		t.Errorf("port added: %d changes, want 2 (a port and its flow)", st.LastChanges)
	}

	// One port deleted, one added whose device does not exist: degraded.
	hs3 := changeHost(s.Addr, dir, "lmc-b", "lmc-c", "lmc-d")
	mark = logs.Len()
	r.SetDesired([]*flows.HostState{hs3}, 3)
	st = reach(3, api.StateDegraded)
	if !delta(mark) {
		t.Error("ports changed: not by the change path")
	}
	if len(st.PortsDown) != 1 || st.PortsDown[0].Interface != "lmc-d" {
		t.Errorf("ports down = %+v, want lmc-d", st.PortsDown)
	}
	if out := s.Vsctl(t, "list-ports", "lmc-br"); slices.Contains(strings.Fields(out), "lmc-a") {
		t.Errorf("lmc-a still on the bridge: %q", out)
	}
	// Its flow is gone too (check compares every flow).
	checkFlows := func(hs *flows.HostState) {
		obs, err := ofctl.New(hs.OpenFlow).Dump(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := ofctl.PlanFlows(hs.Flows(), obs); !p.Empty() {
			t.Fatalf("flows differ: missing %v, extra %v", p.Missing, p.Extra)
		}
	}
	checkFlows(hs3)

	// The port down is dropped: in sync again.
	hs4 := changeHost(s.Addr, dir, "lmc-b", "lmc-c")
	mark = logs.Len()
	r.SetDesired([]*flows.HostState{hs4}, 4)
	reach(4, api.StateInSync)
	check(hs4)
	if !delta(mark) {
		t.Error("port down dropped: not by the change path")
	}

	// A port deleted by hand while the host is in sync, then a change: the
	// change path leaves it as the whole reconcile would (the hand edit is
	// repaired either way).
	s.Vsctl(t, "del-port", "lmc-br", "lmc-b")
	hs5 := changeHost(s.Addr, dir, "lmc-a", "lmc-b", "lmc-c")
	r.SetDesired([]*flows.HostState{hs5}, 5)
	reach(5, api.StateInSync)
	deadline := time.Now().Add(10 * time.Second)
	for {
		db, err := ovsdb.Dial(ctx, hs5.OVSDB, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := db.Plan(ctx, BridgeSpec(hs5))
		db.Close()
		if err == nil && p.Empty() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hand deletion was not repaired: %v %v", p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkFlows(hs5)

	// The listener moves: not a change of ports, the whole host.
	hs6 := changeHost(s.Addr, dir, "lmc-a", "lmc-b", "lmc-c")
	hs6.OpenFlow = "unix:" + filepath.Join(dir, "lmc-br.of2")
	hs6.ControllerTarget = "punix:" + filepath.Join(dir, "lmc-br.of2")
	mark = logs.Len()
	r.SetDesired([]*flows.HostState{hs6}, 6)
	reach(6, api.StateInSync)
	if delta(mark) {
		t.Error("listener moved: sent by the change path, want a whole reconcile")
	}
	check(hs6)
}

// A bridge of Loom's name that is not Loom's is an error retrying cannot
// fix: the host shows it (terminal, no retry on a timer), keeps its OVSDB
// connection, and is reconciled as soon as someone hands the bridge over
// (an OVSDB update), without a new desired state.
func TestTerminalError(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("ovs-ofctl not installed (make deps)")
	}
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	s.Vsctl(t, "add-br", "lmc-br", "--", "set", "bridge", "lmc-br", "datapath_type=netdev")
	statuses := make(chan api.HostStatus, 100)
	r := NewReconciler(zap.NewNop(), Config{BackoffMin: time.Hour, BackoffMax: time.Hour}, func(st api.HostStatus) { statuses <- st })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	r.SetDesired([]*flows.HostState{changeHost(s.Addr, s.Dir, "lmc-a")}, 1)
	var st api.HostStatus
	for st.State != api.StateError {
		select {
		case st = <-statuses:
		case <-ctx.Done():
			t.Fatal("no error for a bridge that is not Loom's")
		}
	}
	if !st.Terminal || !st.NextRetry.IsZero() || !strings.Contains(st.LastError, "not owned by loom") {
		t.Fatalf("status = %+v, want a terminal error without a retry", st)
	}
	// Handed over: the OVSDB update wakes the worker (the backoff of an
	// hour would otherwise hold it).
	s.Vsctl(t, "br-set-external-id", "lmc-br", ovsdb.OwnerKey, ovsdb.OwnerValue)
	for !st.AtRevision() { // degraded: lmc-a has no device
		select {
		case st = <-statuses:
		case <-ctx.Done():
			t.Fatalf("not at its revision after the bridge was handed over: %+v", st)
		}
	}
	if st.Terminal {
		t.Errorf("at its revision and still terminal: %+v", st)
	}
}
