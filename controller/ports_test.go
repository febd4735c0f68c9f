package controller

import (
	"testing"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ovsdb"
)

func TestPortProblems(t *testing.T) {
	hs := &flows.HostState{Host: "h2", Ports: []flows.Port{
		{Name: "lm-web9", ExternalIDs: map[string]string{flows.ExtIDObject: "port/web9"}},
		{Name: "eth9", ExternalIDs: map[string]string{flows.ExtIDObject: "physnet/phys1"}},
		{Name: "gre-h3", Type: "gre", ExternalIDs: map[string]string{flows.ExtIDObject: "host/h3"}},
	}}
	noDev := func(name string) *ovsdb.InterfaceError {
		return &ovsdb.InterfaceError{Interface: name, Ofport: -1, Message: "could not open network device " + name + " (No such device)"}
	}
	got := portProblems(hs, []*ovsdb.InterfaceError{
		noDev("lm-web9"),
		noDev("eth9"),
		{Interface: "gre-h3", Ofport: -1, Message: "gre-h3: bad remote_ip"},
		{Interface: "lm-stray", Ofport: -1},
		noDev("tap-vm1"),
	}, []ovsdb.Adoption{
		{AdoptSpec: ovsdb.AdoptSpec{IfaceID: "vm1", OfportRequest: 7, Object: "port/vm1"}, Interface: "tap-vm1"},
		{AdoptSpec: ovsdb.AdoptSpec{IfaceID: "c2", OfportRequest: 8, Object: "port/c2"}},
		{AdoptSpec: ovsdb.AdoptSpec{IfaceID: "c3", OfportRequest: 9, Object: "port/c3"}, Claimants: []string{"va", "vb"}},
		{AdoptSpec: ovsdb.AdoptSpec{IfaceID: "c4", OfportRequest: 10, Object: "port/c4"}, Interface: "vd", Claimants: []string{"vc", "vd"}},
		{AdoptSpec: ovsdb.AdoptSpec{IfaceID: "c5", OfportRequest: 11, Object: "port/c5"}, Interface: "ve"},
	})
	want := []api.PortProblem{
		{Object: "", Interface: "lm-stray", Problem: "port lm-stray: OVS on host h2 could not set up interface lm-stray: no reason given (see ovs-vswitchd's log on the host)"},
		{Object: "host/h3", Interface: "gre-h3", Problem: "tunnel to host h3: OVS on host h2 could not set up interface gre-h3: gre-h3: bad remote_ip",
			OVSError: "gre-h3: bad remote_ip"},
		{Object: "physnet/phys1", Interface: "eth9", Problem: "uplink of physnet phys1: interface eth9 does not exist on host h2 (bring up the NIC, or fix the host's physnets)",
			OVSError: "could not open network device eth9 (No such device)"},
		{Object: "port/c2", Problem: `port c2: waiting for interface with iface-id "c2" on host h2 (ovs-vsctl add-port BRIDGE IF -- set Interface IF external_ids:iface-id=c2)`},
		{Object: "port/c3", Problem: `port c3: interfaces va, vb on host h2 all have iface-id "c3": none is bound (remove the iface-id from all but one)`},
		{Object: "port/c4", Interface: "vd", Problem: `port c4: interfaces vc, vd on host h2 all have iface-id "c4": vd stays bound, the others are not (remove the iface-id from vc)`},
		{Object: "port/vm1", Interface: "tap-vm1", Problem: "port vm1: interface tap-vm1 does not exist on host h2 (start the workload, or fix the port's interface or host)",
			OVSError: "could not open network device tap-vm1 (No such device)"},
		{Object: "port/web9", Interface: "lm-web9", Problem: "port web9: interface lm-web9 does not exist on host h2 (start the workload, or fix the port's interface or host)",
			OVSError: "could not open network device lm-web9 (No such device)"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("problem %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	if portProblems(hs, nil, nil) != nil {
		t.Error("no interface down: want nil")
	}
}

func TestWithPorts(t *testing.T) {
	down := []api.PortProblem{{Object: "port/web9", Interface: "lm-web9", Problem: "x"}}
	s := api.HostStatus{State: api.StateInSync, Revision: 3, Desired: 3}
	s = withPorts(s, down)
	if s.State != api.StateDegraded || len(s.PortsDown) != 1 || !s.AtRevision() {
		t.Errorf("with a port down: %+v", s)
	}
	s = withPorts(s, nil)
	if s.State != api.StateInSync || s.PortsDown != nil || !s.AtRevision() {
		t.Errorf("port back: %+v", s)
	}
	for _, st := range []api.HostStatus{
		{State: api.StateDegraded, Revision: 2, Desired: 3},
		{State: api.StateError, Revision: 3, Desired: 3},
		{State: api.StateApplying, Revision: 3, Desired: 3},
	} {
		if st.AtRevision() {
			t.Errorf("%+v: AtRevision", st)
		}
	}
}
