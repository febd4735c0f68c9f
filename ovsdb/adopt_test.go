package ovsdb

import (
	"errors"
	"slices"
	"testing"

	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
)

// An interface that someone else puts on Loom's bridge with an iface-id is
// bound (its ofport_request and Loom's mark set, nothing else written),
// a second claimant binds nothing more, another takes over once the first
// is gone, and a spec without it lets it go, leaving the row. A foreign
// port without an iface-id is never written.
func TestAdoptByIfaceID(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	s.StartVswitchd(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	spec.Adopt = []AdoptSpec{{IfaceID: "c1", OfportRequest: 40, Object: "port/c1"}}

	p := apply(t, c, spec)
	if len(p.Adopted) != 1 || p.Adopted[0].Interface != "" || p.Adopted[0].Problem("h1") == "" {
		t.Fatalf("adopted on a new bridge: %+v", p.Adopted)
	}
	for _, v := range []string{"va", "vb", "vx", "lm-web1"} {
		s.InVswitchd(t, "ip", "link", "add", v, "type", "veth", "peer", "name", v+"-p")
	}
	s.Vsctl(t, "add-port", "br-int", "vx")
	s.Vsctl(t, "--timeout=10", "wait-until", "Interface", "vx", "ofport>0")
	foreign := s.Vsctl(t, "--columns=_uuid,name,ofport,ofport_request,external_ids,options,other_config,mtu_request,type", "list", "Interface", "vx")
	s.Vsctl(t, "add-port", "br-int", "va", "--", "set", "Interface", "va", "external_ids:iface-id=c1", "external_ids:vm=keep")

	p = apply(t, c, spec)
	wantChanges(t, p,
		"bind interface va (iface-id c1) for port/c1: external_ids:loom-bound (none) -> port/c1",
		"bind interface va (iface-id c1) for port/c1: ofport_request (none) -> 40",
	)
	if a := p.Adopted; len(a) != 1 || a[0].Interface != "va" || a[0].Problem("h1") != "" {
		t.Fatalf("adopted: %+v", a)
	}
	if down, err := c.WaitPorts(ctxT(t), "br-int", p.Want(spec)); err != nil || len(down) > 0 {
		t.Fatalf("ports: %v %v", down, err)
	}
	wantGet(t, s, "40", "Interface", "va", "ofport") // OVS renumbered it
	if want := []string{"port va (bound by iface-id c1 for port/c1)", "port vx"}; !slices.Equal(p.Foreign, want) {
		t.Errorf("foreign: %q, want %q", p.Foreign, want)
	}
	wantGet(t, s, `{iface-id=c1, loom-bound="port/c1", vm=keep}`, "Interface", "va", "external_ids")
	wantGet(t, s, `{}`, "Port", "va", "external_ids")
	wantEmpty(t, c, spec)

	// A second claimant: the bound one stays, the other is not taken.
	s.Vsctl(t, "add-port", "br-int", "vb", "--", "set", "Interface", "vb", "external_ids:iface-id=c1")
	p = plan(t, c, spec)
	if !p.Empty() || len(p.Adopted) != 1 || p.Adopted[0].Interface != "va" || !slices.Equal(p.Adopted[0].Claimants, []string{"va", "vb"}) {
		t.Fatalf("two claimants: plan %s, adopted %+v", p, p.Adopted)
	}
	if got := p.Adopted[0].Problem("h1"); got != `interfaces va, vb on host h1 all have iface-id "c1": va stays bound, the others are not (remove the iface-id from vb)` {
		t.Errorf("problem: %s", got)
	}
	wantGet(t, s, `{iface-id=c1}`, "Interface", "vb", "external_ids")

	// The bound one goes: the other is the only one, and is bound.
	s.Vsctl(t, "del-port", "br-int", "va")
	p = apply(t, c, spec)
	wantChanges(t, p,
		"bind interface vb (iface-id c1) for port/c1: external_ids:loom-bound (none) -> port/c1",
		"bind interface vb (iface-id c1) for port/c1: ofport_request (none) -> 40",
	)
	if down, err := c.WaitPorts(ctxT(t), "br-int", p.Want(spec)); err != nil || len(down) > 0 {
		t.Fatalf("ports: %v %v", down, err)
	}
	wantGet(t, s, "40", "Interface", "vb", "ofport")

	// Not in the spec any more: Loom's marks go, the port stays.
	spec.Adopt = nil
	p = apply(t, c, spec)
	wantChanges(t, p, "release interface vb (iface-id c1, bound for port/c1)")
	wantGet(t, s, `{iface-id=c1}`, "Interface", "vb", "external_ids")
	wantGet(t, s, `[]`, "Interface", "vb", "ofport_request")
	if got := s.Vsctl(t, "list-ports", "br-int"); got != "gre-h2\nlm-web1\nvb\nvx" {
		t.Errorf("list-ports = %q", got)
	}
	wantEmpty(t, c, spec)
	if got := s.Vsctl(t, "--columns=_uuid,name,ofport,ofport_request,external_ids,options,other_config,mtu_request,type", "list", "Interface", "vx"); got != foreign {
		t.Errorf("the foreign interface changed:\n%s\n---\n%s", foreign, got)
	}
}

// A change of what is bound by iface-id is planned over the whole bridge.
func TestPlanChangeAdopt(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	from := baseSpec()
	apply(t, c, from)
	to := baseSpec()
	to.Adopt = []AdoptSpec{{IfaceID: "c1", OfportRequest: 40, Object: "port/c1"}}
	if _, err := c.PlanChange(ctxT(t), from, to); !errors.Is(err, ErrWholePlan) {
		t.Fatalf("PlanChange: %v, want ErrWholePlan", err)
	}
	bad := baseSpec()
	bad.Adopt = []AdoptSpec{{IfaceID: "c1", OfportRequest: 17, Object: "port/c1"}}
	if _, err := c.Plan(ctxT(t), bad); !errors.Is(err, ErrInvalidSpec) {
		t.Fatalf("Plan with a clashing ofport: %v, want ErrInvalidSpec", err)
	}
}

// An interface of someone else that asks for the OpenFlow port the
// port's flows use blocks the binding (OVS would give the interface with
// the iface-id another number): a problem naming it, nothing written.
func TestAdoptBlocked(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	spec.Adopt = []AdoptSpec{{IfaceID: "c1", OfportRequest: 40, Object: "port/c1"}}
	apply(t, c, spec)
	s.Vsctl(t, "add-port", "br-int", "vz", "--", "set", "Interface", "vz", "ofport_request=40")
	s.Vsctl(t, "add-port", "br-int", "va", "--", "set", "Interface", "va", "external_ids:iface-id=c1")
	p := plan(t, c, spec)
	if !p.Empty() || len(p.Adopted) != 1 || p.Adopted[0].Interface != "" || p.Adopted[0].Blocker != "vz" {
		t.Fatalf("plan %s, adopted %+v", p, p.Adopted)
	}
	if got := p.Adopted[0].Problem("h1"); got != `interface vz on host h1 asks for OpenFlow port 40 (ofport_request), which the port's flows use: the interface with iface-id "c1" is not bound (clear vz's ofport_request)` {
		t.Errorf("problem: %s", got)
	}
	s.Vsctl(t, "clear", "Interface", "vz", "ofport_request")
	p = apply(t, c, spec)
	if len(p.Adopted) != 1 || p.Adopted[0].Interface != "va" {
		t.Fatalf("once unblocked: plan %s, adopted %+v", p, p.Adopted)
	}
	wantGet(t, s, "40", "Interface", "va", "ofport_request")
}

// An interface whose iface-id someone changes is let go (Loom's marks
// removed), and the port waits again.
func TestAdoptIfaceIDChanged(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	c := dial(t, s.Addr)
	spec := baseSpec()
	spec.Adopt = []AdoptSpec{{IfaceID: "c1", OfportRequest: 40, Object: "port/c1"}}
	apply(t, c, spec)
	s.Vsctl(t, "add-port", "br-int", "va", "--", "set", "Interface", "va", "external_ids:iface-id=c1")
	apply(t, c, spec)
	wantGet(t, s, `{iface-id=c1, loom-bound="port/c1"}`, "Interface", "va", "external_ids")
	s.Vsctl(t, "set", "Interface", "va", "external_ids:iface-id=other")
	p := apply(t, c, spec)
	wantChanges(t, p, "release interface va (iface-id other, bound for port/c1)")
	if len(p.Adopted) != 1 || p.Adopted[0].Interface != "" {
		t.Errorf("adopted: %+v", p.Adopted)
	}
	wantGet(t, s, `{iface-id=other}`, "Interface", "va", "external_ids")
	wantGet(t, s, `[]`, "Interface", "va", "ofport_request")
	wantEmpty(t, c, spec)
}
