package controller

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
	"github.com/loom-sdn/loom/topology"
)

// waitState reads statuses until one of host says state.
func waitState(t *testing.T, ctx context.Context, statuses <-chan api.HostStatus, host, state string) api.HostStatus {
	t.Helper()
	for {
		select {
		case st := <-statuses:
			if st.Host == host && st.State == state {
				return st
			}
		case <-ctx.Done():
			t.Fatalf("%s never %s", host, state)
		}
	}
}

// A host that leaves the desired state and is named by SetRemovals is
// cleaned: its worker stops first, then Loom's bridge goes (someone
// else's bridge beside it stays) and its last status says removed. A
// removal of a host that cannot be reached is retried, and reported.
func TestRemoval(t *testing.T) {
	if _, err := exec.LookPath("ovs-ofctl"); err != nil && os.Getenv("CI") != "true" {
		t.Skip("ovs-ofctl not installed (make deps)")
	}
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	s.Vsctl(t, "add-br", "lmc-other", "--", "set", "bridge", "lmc-other", "datapath_type=netdev")
	statuses := make(chan api.HostStatus, 1000)
	r := NewReconciler(zap.NewNop(), Config{BackoffMin: 20 * time.Millisecond, BackoffMax: 50 * time.Millisecond},
		func(st api.HostStatus) { statuses <- st })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	hs := changeHost(s.Addr, s.Dir, "lmc-a")
	r.SetDesired([]*flows.HostState{hs}, 1)
	waitState(t, ctx, statuses, "h1", api.StateDegraded) // lmc-a has no device
	if got := s.Vsctl(t, "list-br"); got != "lmc-br\nlmc-other" {
		t.Fatalf("bridges before = %q", got)
	}

	// h1 leaves; h9, which cannot be reached, is being removed too.
	gone := Removal{Host: "h9", OVSDB: "tcp:127.0.0.1:1", OpenFlow: "tcp:127.0.0.1:1", Bridge: "br-int", Revision: 2}
	r.SetDesired(nil, 2)
	r.SetRemovals([]Removal{{Host: hs.Host, OVSDB: hs.OVSDB, OpenFlow: hs.OpenFlow, Bridge: hs.Bridge, Revision: 2}, gone})
	st := waitState(t, ctx, statuses, "h1", api.StateRemoved)
	if st.Revision != 2 {
		t.Errorf("removed status = %+v, want revision 2", st)
	}
	if got := s.Vsctl(t, "list-br"); got != "lmc-other" {
		t.Errorf("bridges after = %q, want lmc-other only", got)
	}
	for _, h := range r.Status() {
		if h.Host == "h1" {
			t.Errorf("h1 still in the status: %+v", h)
		}
	}
	var h9 api.HostStatus
	for h9.Failures < 2 {
		h9 = waitState(t, ctx, statuses, "h9", api.StateRemoving)
	}
	if h9.LastError == "" || h9.NextRetry.IsZero() {
		t.Errorf("h9 = %+v, want an error and a retry", h9)
	}
	if list := r.Status(); len(list) != 1 || list[0].Host != "h9" || list[0].State != api.StateRemoving {
		t.Errorf("status = %+v, want h9 removing", list)
	}
	// h9 back in the topology: its removal stops.
	r.SetDesired([]*flows.HostState{{Host: "h9", OVSDB: "tcp:127.0.0.1:1", OpenFlow: "tcp:127.0.0.1:1", Bridge: "br-int"}}, 3)
	r.SetRemovals([]Removal{gone})
	for _, h := range r.Status() {
		if h.State == api.StateRemoving {
			t.Errorf("h9 in the topology and still removing: %+v", h)
		}
	}
}

func TestRemovalOf(t *testing.T) {
	h := topology.Host{Name: "h3", OVSDB: "ssl:10.0.0.3:6640", OpenFlow: "ssl:10.0.0.3:6653", Bridge: "br-int", TLS: topology.CertPin{CommonName: "h3"}}
	rm := RemovalOf(h, 7)
	hs := rm.hostState()
	if hs.Host != "h3" || hs.OVSDB != h.OVSDB || hs.OpenFlow != h.OpenFlow || hs.Bridge != "br-int" || hs.TLS != h.TLS || rm.Revision != 7 {
		t.Errorf("removal %+v, host state %+v", rm, hs)
	}
	if !strings.Contains(api.HostRemoval{Host: "h3", Bridge: "br-int", Found: true, DeletesBridge: true, Ports: []string{"a", "b"}, Flows: 14}.String(),
		"host h3: removed from the topology; Loom's bridge br-int and its 2 ports and 14 flows will be deleted") {
		t.Error("HostRemoval.String")
	}
}
