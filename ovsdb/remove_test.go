package ovsdb

import (
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

func planRemove(t *testing.T, c *Client, bridge string) *RemovePlan {
	t.Helper()
	p, err := c.PlanRemove(ctxT(t), bridge)
	if err != nil {
		t.Fatalf("PlanRemove: %v", err)
	}
	return p
}

// A bridge that holds only Loom's things goes whole; someone else's
// bridge beside it stays.
func TestRemoveWholeBridge(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	apply(t, c, baseSpec())
	s.Vsctl(t, "add-br", "br-other", "--", "add-port", "br-other", "eth9", "--", "set", "Interface", "eth9", "type=internal")
	// Positive control: the plan sees Loom's bridge and ports.
	p := planRemove(t, c, "br-int")
	if !p.Exists || !p.DeletesBridge || !slices.Equal(p.Ports, []string{"gre-h2", "lm-web1"}) {
		t.Fatalf("plan = %+v %q", p, p.Changes)
	}
	wantChanges(t, p.Plan, "delete bridge br-int with its 2 ports (gre-h2, lm-web1)")
	if err := c.Apply(ctxT(t), p.Plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := s.Vsctl(t, "list-br"); got != "br-other" {
		t.Errorf("bridges after removal = %q, want br-other only", got)
	}
	for _, table := range []string{"Port", "Interface", "Controller"} {
		col := "--columns=name"
		if table == "Controller" {
			col = "--columns=target"
		}
		rows := s.Vsctl(t, "--bare", col, "list", table)
		if strings.Contains(rows, "br-int") || strings.Contains(rows, "lm-web1") || strings.Contains(rows, "gre-h2") || strings.Contains(rows, "ptcp") {
			t.Errorf("%s rows left: %q", table, rows)
		}
	}
	if got := s.Vsctl(t, "list-ports", "br-other"); got != "eth9" {
		t.Errorf("br-other ports = %q", got)
	}
	// Again: nothing left to remove.
	if p := planRemove(t, c, "br-int"); !p.Empty() || p.Exists {
		t.Errorf("second plan = %q", p.Changes)
	}
}

// A Loom bridge with someone else's port keeps the bridge and that port;
// Loom's ports and controller go.
func TestRemoveKeepsForeign(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	apply(t, c, baseSpec())
	s.Vsctl(t, "add-port", "br-int", "eth9", "--", "set", "Interface", "eth9", "type=internal")
	p := planRemove(t, c, "br-int")
	if p.DeletesBridge {
		t.Fatalf("plan deletes the bridge with a foreign port on it: %q", p.Changes)
	}
	wantChanges(t, p.Plan, "delete port gre-h2", "delete port lm-web1", "delete controller ptcp:6653:127.0.0.1",
		"keep bridge br-int: it holds what is not Loom's (port eth9)")
	if err := c.Apply(ctxT(t), p.Plan); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got := s.Vsctl(t, "list-ports", "br-int"); got != "eth9" {
		t.Errorf("ports left = %q, want eth9", got)
	}
	if got := s.Vsctl(t, "get-controller", "br-int"); got != "" {
		t.Errorf("controller left = %q", got)
	}
	if p := planRemove(t, c, "br-int"); !p.Empty() {
		t.Errorf("second plan = %q", p.Changes)
	}
}

// A bridge of Loom's name that is not Loom's is not touched.
func TestRemoveForeignBridge(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	s.Vsctl(t, "add-br", "br-int")
	p := planRemove(t, c, "br-int")
	if !p.Empty() || p.Exists || !slices.Equal(p.Foreign, []string{"bridge br-int"}) {
		t.Fatalf("plan = %q foreign %q", p.Changes, p.Foreign)
	}
}

// A port added after the plan fails the guard: nothing is deleted.
func TestRemoveStale(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	apply(t, c, baseSpec())
	p := planRemove(t, c, "br-int")
	s.Vsctl(t, "add-port", "br-int", "eth9", "--", "set", "Interface", "eth9", "type=internal")
	err := c.Apply(ctxT(t), p.Plan)
	if err == nil || !strings.Contains(err.Error(), ErrStale.Error()) {
		t.Fatalf("Apply of a stale removal: %v, want ErrStale", err)
	}
	if got := s.Vsctl(t, "list-br"); got != "br-int" {
		t.Errorf("bridges = %q", got)
	}
}
