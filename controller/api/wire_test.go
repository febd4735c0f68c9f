package api

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/loom-sdn/loom/flows"
)

var update = flag.Bool("update", false, "rewrite testdata/wire.json")

// wireValues are representative documents of the API, every field set
// that the wire carries (loomctl, scripts and the docs read these shapes).
func wireValues(t *testing.T) map[string]any {
	t.Helper()
	at := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	f1, err := flows.ParseFlow("cookie=0x1000000000000001,table=0,priority=100,in_port=3,dl_src=02:00:00:00:00:01,actions=resubmit(,10)")
	if err != nil {
		t.Fatal(err)
	}
	f2, err := flows.ParseFlow("cookie=0x1000000000000002,table=10,priority=50,dl_dst=02:00:00:00:00:02,actions=output:4")
	if err != nil {
		t.Fatal(err)
	}
	down := []PortProblem{{Object: "port/web9", Interface: "lm-web9", Problem: "no device lm-web9 on h2: create it", OVSError: "could not open network device lm-web9 (No such device)"}}
	host := HostStatus{Host: "h2", State: StateDegraded, LastError: "", LastReconcile: at, LastDuration: 12 * time.Millisecond,
		Flows: 40, Reconciles: 3, Failures: 0, Repairs: 1, LastChanges: 5, NextRetry: at.Add(time.Second),
		Revision: 7, Desired: 7, PortsDown: down}
	failing := HostStatus{Host: "h3", State: StateUnreachable, LastError: "ovsdb tcp:192.0.2.3:6640: connection refused", Failures: 2, Desired: 7}
	terminal := HostStatus{Host: "h4", State: StateError, LastError: "bridge lm-br on h4 is not Loom's", Terminal: true, Failures: 1, Reconciles: 1, Desired: 7}
	status := Status{Topology: TopologyState{Source: SourceAPI, Revision: 7, Loaded: true, LoadedAt: at, WrittenAt: at,
		Summary: Summary{Hosts: 2, Switches: 1, Ports: 3, ACLs: 1, RuntimePorts: 1}}, Hosts: []HostStatus{host, failing, terminal}}
	return map[string]any{
		"status":          status,
		"eventHost":       Event{Type: EventHost, Host: &failing},
		"interfaces":      HostInterfaces{Host: "h2", Observed: Observed{At: at, Interfaces: []Interface{{Port: "lm-web1", Name: "lm-web1", Ofport: 3, AdminState: "up", LinkState: "up", Loom: true}, {Port: "vx-h1", Name: "vx-h1", Type: "vxlan", Ofport: -1, Error: "could not add", Loom: true}}}},
		"interfacesNever": HostInterfaces{Host: "h3"},
		"flows": HostFlows{Host: "h2", Revision: 7, Status: &host, Flows: []Flow{{Flow: f1, Explain: "port web1: port security"}, {Flow: flows.Flow{Table: 10, Cookie: 0x1000000000000009}, Unknown: "cookie=0x1000000000000009, table=10, actions=learn(...)", Explain: "switch s1; a flow Loom does not read (x)"}},
			Desired: 2, Missing: []Flow{{Flow: f2, Explain: "port db1: delivery"}}},
		"plan": Plan{Revision: 7, Hosts: []HostPlan{{Host: "h2", OVSDB: []string{"add port lm-web9"}, Foreign: []string{"eth9"},
			Adds: 1, Modifies: 1, Deletes: 1, FlowsAdd: []flows.Flow{f1}, FlowsModify: []flows.Flow{f2}, FlowsDelete: []flows.Flow{f1}, FlowsUnknown: []string{"cookie=0x1000000000000009, table=10, actions=learn(...)"},
			FlowMods: 4, DesiredFlows: 40, PortsDown: down}, {Host: "h4", NotContacted: "not in the topology in force", Error: "x"}}},
	}
}

// TestWireJSON keeps the API's JSON as it is: field names and shapes
// that loomctl, scripts and the docs depend on (go test -update rewrites
// the golden file; review its diff).
func TestWireJSON(t *testing.T) {
	got, err := json.MarshalIndent(wireValues(t), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/wire.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the API's JSON changed (go test -update to accept, then review testdata/wire.json's diff):\n%s", got)
	}
}

// The documents read back as they were written.
func TestWireRoundTrip(t *testing.T) {
	var st Status
	b, _ := json.Marshal(wireValues(t)["status"])
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Hosts) != 3 || !st.Hosts[2].Terminal || !st.Hosts[0].AtRevision() || st.Hosts[1].AtRevision() || st.Hosts[0].PortsDown[0].Object != "port/web9" {
		t.Errorf("status read back as %+v", st)
	}
	var hf HostFlows
	b, _ = json.Marshal(wireValues(t)["flows"])
	if err := json.Unmarshal(b, &hf); err != nil {
		t.Fatal(err)
	}
	if !hf.Drift() || hf.Flows[0].Flow.String() == "" || hf.Flows[1].String() != hf.Flows[1].Unknown {
		t.Errorf("flows read back as %+v", hf)
	}
}
