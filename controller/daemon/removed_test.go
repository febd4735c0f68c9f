package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
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

// statusOf is a host's status as GET status answers (false: not listed).
func statusOf(f *fixture, host string) (api.HostStatus, bool) {
	var st api.Status
	f.call("GET", "/api/v1/status", token, "", &st)
	for _, h := range st.Hosts {
		if h.Host == host {
			return h, true
		}
	}
	return api.HostStatus{}, false
}

// A host a PUT removes is reported removing, stored as such, still known
// after a restart, and no longer removing once put back; a host removed
// from the files while loomd was down is found by comparing them with the
// stored topology.
func TestRemovedHostsKept(t *testing.T) {
	dir := t.TempDir()
	f := newFixture(t, dir, "")
	// h2 at an address of its own (a host at h1's address and bridge
	// would be h1's bridge: not removed).
	h2 := "  - name: h2\n    ovsdb: tcp:127.0.0.2:1\n    tunnelIP: 192.0.2.2\n"
	withH2 := map[string]string{"net.yaml": strings.Replace(topo, "  - name: h2\n    ovsdb: tcp:127.0.0.1:1\n    tunnelIP: 192.0.2.2\n", h2, 1)}
	noH2 := map[string]string{"net.yaml": strings.Replace(withH2["net.yaml"], h2, "", 1)}
	if !strings.Contains(withH2["net.yaml"], h2) || strings.Contains(noH2["net.yaml"], "h2") {
		t.Fatal("the topologies with and without h2 are not")
	}
	var a api.Applied
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(0, withH2), &a); code != 200 {
		t.Fatalf("PUT: %d %s", code, raw)
	}
	if h, ok := statusOf(f, "h2"); !ok || h.State == api.StateRemoving {
		t.Fatalf("h2 before its removal: %+v (listed %v)", h, ok)
	}
	// The plan says so first (h2 cannot be reached: it says so too).
	var p api.Plan
	body, _ := json.Marshal(api.Files{Files: noH2})
	if code, raw := f.call("POST", "/api/v1/plan", token, string(body), &p); code != 200 || len(p.HostsRemoved) != 1 ||
		p.HostsRemoved[0].Host != "h2" || p.HostsRemoved[0].Error == "" ||
		!strings.HasPrefix(p.HostsRemoved[0].String(), "host h2: removed from the topology; Loom's bridge br-int, its ports and flows will be deleted once it can be reached") {
		t.Fatalf("plan: %d %s", code, raw)
	}
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(1, noH2), &a); code != 200 || len(a.HostsRemoved) != 1 || !strings.HasPrefix(a.HostsRemoved[0], "host h2: removed") {
		t.Fatalf("PUT without h2: %d %s", code, raw)
	}
	if h, ok := statusOf(f, "h2"); !ok || h.State != api.StateRemoving || h.Revision != 2 {
		t.Errorf("h2 after its removal: %+v (listed %v)", h, ok)
	}
	// The plan of the hosts' drift lists it still.
	p = api.Plan{}
	if code, raw := f.call("POST", "/api/v1/plan", token, "", &p); code != 200 || len(p.HostsRemoved) != 1 || p.HostsRemoved[0].Host != "h2" {
		t.Errorf("plan of the drift while h2 is being removed: %d %s", code, raw)
	}
	st, err := f.d.store.load()
	if err != nil || len(st.Removing) != 1 || st.Removing[0].Host != "h2" || st.Removing[0].Revision != 2 || st.Removing[0].OVSDB != "tcp:127.0.0.2:1" {
		t.Fatalf("stored removals: %+v %v", st.Removing, err)
	}

	// Restarted: still removing.
	g := newFixture(t, dir, "")
	if h, ok := statusOf(g, "h2"); !ok || h.State != api.StateRemoving {
		t.Errorf("h2 after a restart: %+v (listed %v)", h, ok)
	}
	// Back in the topology: its worker has it, nothing to remove.
	var back api.Applied
	if code, raw := g.call("PUT", "/api/v1/topology", token, put(2, withH2), &back); code != 200 || len(back.HostsRemoved) != 0 {
		t.Fatalf("PUT with h2 again: %d %s", code, raw)
	}
	if h, ok := statusOf(g, "h2"); !ok || h.State == api.StateRemoving {
		t.Errorf("h2 back: %+v (listed %v)", h, ok)
	}
	if st, err := g.d.store.load(); err != nil || len(st.Removing) != 0 {
		t.Errorf("stored removals with h2 back: %+v %v", st.Removing, err)
	}

	// Files without h2, written while loomd was down.
	path := filepath.Join(t.TempDir(), "net.yaml")
	if err := os.WriteFile(path, []byte(noH2["net.yaml"]), 0o644); err != nil {
		t.Fatal(err)
	}
	h := newFixture(t, dir, path)
	if s, ok := statusOf(h, "h2"); !ok || s.State != api.StateRemoving {
		t.Errorf("h2 removed from the files while loomd was down: %+v (listed %v)", s, ok)
	}
}

// A host being removed can be given up on: it leaves the status and the
// store; forgetting it again is no error.
func TestForgetRemoval(t *testing.T) {
	f := newFixture(t, t.TempDir(), "")
	h2 := "  - name: h2\n    ovsdb: tcp:127.0.0.1:1\n    tunnelIP: 192.0.2.2\n"
	noH2 := map[string]string{"net.yaml": strings.Replace(topo, h2, "", 1)}
	var a api.Applied
	f.call("PUT", "/api/v1/topology", token, put(0, map[string]string{"net.yaml": strings.Replace(topo, h2, strings.Replace(h2, "127.0.0.1", "127.0.0.2", 1), 1)}), &a)
	if code, raw := f.call("PUT", "/api/v1/topology", token, put(1, noH2), &a); code != 200 || len(a.HostsRemoved) != 1 {
		t.Fatalf("PUT without h2: %d %s", code, raw)
	}
	if h, ok := statusOf(f, "h2"); !ok || h.State != api.StateRemoving {
		t.Fatalf("h2 removed: %+v (listed %v)", h, ok)
	}
	var fg api.RemovalForgotten
	if code, raw := f.call("DELETE", "/api/v1/removals/h2", token, "", &fg); code != 200 || !fg.Forgotten || fg.Host != "h2" {
		t.Errorf("forget h2: %d %s", code, raw)
	}
	if _, ok := statusOf(f, "h2"); ok {
		t.Error("h2 forgotten and still in the status")
	}
	if st, err := f.d.store.load(); err != nil || len(st.Removing) != 0 {
		t.Errorf("stored removals after forget: %+v %v", st.Removing, err)
	}
	fg = api.RemovalForgotten{}
	if code, raw := f.call("DELETE", "/api/v1/removals/h2", token, "", &fg); code != 200 || fg.Forgotten {
		t.Errorf("forget h2 again: %d %s", code, raw)
	}
	if code, _ := f.call("DELETE", "/api/v1/removals/h2", "", "", nil); code != 401 {
		t.Errorf("forget without the token: %d, want 401", code)
	}
}
