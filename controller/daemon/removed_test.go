package daemon

import (
	"slices"
	"testing"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/topology"
)

// The pending removals after an install: the pending ones and the hosts
// dropped, except a host the topology has (again) and one whose OVSDB
// server and bridge a host of the topology has (a rename).
func TestRemovals(t *testing.T) {
	host := func(name, ovsdb string) topology.Host {
		return topology.Host{Name: name, OVSDB: ovsdb, OpenFlow: "tcp:x:6653", Bridge: "br-int"}
	}
	next := &topology.Topology{Hosts: []topology.Host{host("h1", "tcp:a:6640"), host("h4", "tcp:d:6640")}}
	pending := []controller.Removal{
		controller.RemovalOf(host("h5", "tcp:e:6640"), 3), // still pending
		controller.RemovalOf(host("h1", "tcp:a:6640"), 3), // back in the topology
	}
	gone := []topology.Host{
		host("h2", "tcp:b:6640"),
		host("h3", "tcp:d:6640"), // renamed h4: same server and bridge
		host("h5", "tcp:e:6640"), // pending already: keeps its revision
	}
	got := removals(pending, gone, next, 9)
	var names []string
	for _, rm := range got {
		names = append(names, rm.Host)
	}
	if !slices.Equal(names, []string{"h2", "h5"}) {
		t.Fatalf("removals = %v, want h2 h5", names)
	}
	if got[0].Revision != 9 || got[1].Revision != 3 || got[0].OVSDB != "tcp:b:6640" {
		t.Errorf("removals = %+v", got)
	}
}

// The pending removals survive a restart: they are stored with the
// topology.
func TestRemovalsStored(t *testing.T) {
	s := store{dir: t.TempDir()}
	want := []controller.Removal{{Host: "h2", OVSDB: "ssl:b:6640", OpenFlow: "ssl:b:6653", Bridge: "br-int",
		TLS: topology.CertPin{CommonName: "h2"}, Revision: 4}}
	if err := s.save(stored{Revision: 4, Files: map[string]string{"a.yaml": "x"}, Removing: want}); err != nil {
		t.Fatal(err)
	}
	st, err := s.load()
	if err != nil || !slices.Equal(st.Removing, want) {
		t.Errorf("loaded %+v, %v; want %+v", st.Removing, err, want)
	}
}
