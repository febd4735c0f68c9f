package controller

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/ovsdb/ovsdbtest"
	"github.com/loom-sdn/loom/topology"
)

// engineTopology is a topology of three hosts: h1 on db (its OpenFlow
// listener does not exist yet), h2 on an address where nothing listens,
// h3 anywhere (the tests skip it).
func engineTopology(t *testing.T, db string) *topology.Topology {
	t.Helper()
	y := fmt.Sprintf(`apiVersion: loom/v1
kind: Topology
hosts:
  - name: h1
    ovsdb: %s
    openflow: tcp:127.0.0.1:1
    tunnelIP: 198.19.0.11
    datapathType: netdev
  - name: h2
    ovsdb: tcp:127.0.0.1:1
    tunnelIP: 198.19.0.12
  - name: h3
    ovsdb: tcp:198.18.0.13:6640
    tunnelIP: 198.19.0.13
switches:
  - name: blue
    tunnelKey: 100
ports:
  - {name: a1, switch: blue, host: h1, mac: "02:00:00:00:0a:01", ips: [192.0.2.1], interface: lm-a1}
  - {name: b1, switch: blue, host: h2, mac: "02:00:00:00:0b:01", ips: [192.0.2.2], interface: lm-b1}
  - {name: c1, switch: blue, host: h3, mac: "02:00:00:00:0c:01", ips: [192.0.2.3], interface: lm-c1}
`, db)
	p := filepath.Join(t.TempDir(), "topology.yaml")
	if err := os.WriteFile(p, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	topo, err := topology.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// A dry run (loomctl apply --direct's plan) plans each host by itself: a
// host with an empty OVSDB gets its bridge, ports and every flow to add,
// and nothing is changed on it; a host that does not answer fails alone,
// with its address in the error; a host not to be contacted is planned as
// new, with the reason.
func TestEngineDryRun(t *testing.T) {
	s := ovsdbtest.StartServer(t)
	topo := engineTopology(t, s.Addr)
	core, logs := observer.New(zapcore.DebugLevel)
	e := &Engine{Log: zap.New(core), Opts: Options{DryRun: true, HostTimeout: 10 * time.Second,
		Skip: map[string]string{"h3": "down for maintenance"}}}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	res, err := e.Apply(ctx, topo)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].Host != "h1" || res[1].Host != "h2" || res[2].Host != "h3" {
		t.Fatalf("results = %+v, want h1, h2, h3", res)
	}
	h1, h2, h3 := res[0], res[1], res[2]

	if h1.Err != nil || !h1.Changed() || h1.Flows == nil {
		t.Fatalf("h1: %+v", h1)
	}
	if !slices.Contains(h1.OVSDB, "create bridge br-int") || len(h1.Flows.Missing) != h1.DesiredFlows || h1.DesiredFlows == 0 {
		t.Errorf("h1 planned as %v with %d of %d flows missing, want its bridge created and every flow added", h1.OVSDB, len(h1.Flows.Missing), h1.DesiredFlows)
	}
	if out := strings.TrimSpace(s.Vsctl(t, "list-br")); out != "" {
		t.Errorf("a dry run made bridges: %q", out)
	}
	p1 := PlanOf(h1, true)
	if p1.Error != "" || len(p1.FlowsAdd) != h1.DesiredFlows || p1.Adds != h1.DesiredFlows || p1.FlowMods != h1.DesiredFlows {
		t.Errorf("h1's plan for the API: %d flows to add (%d listed), %d flow mods, error %q", p1.Adds, len(p1.FlowsAdd), p1.FlowMods, p1.Error)
	}
	if p := PlanOf(h1, false); p.Adds != h1.DesiredFlows || len(p.FlowsAdd) != 0 {
		t.Errorf("h1's plan without the flows: %d to add, %d listed; want them counted, not listed", p.Adds, len(p.FlowsAdd))
	}

	if h2.Err == nil || !strings.Contains(h2.Err.Error(), "tcp:127.0.0.1:1") || h2.Changed() {
		t.Errorf("h2 (nothing listens): %+v, want an error naming its address", h2)
	}
	if p := PlanOf(h2, false); p.Error == "" {
		t.Error("h2's plan for the API shows no error")
	}

	if h3.NotContacted != "down for maintenance" || h3.Err != nil || !h3.Changed() ||
		len(h3.Flows.Missing) != h3.DesiredFlows || !slices.Contains(h3.OVSDB, "add port lm-c1") {
		t.Errorf("h3 (skipped): %+v, want planned as new", h3)
	}
	if p := PlanOf(h3, false); p.NotContacted != "down for maintenance" {
		t.Errorf("h3's plan for the API: %+v", p)
	}

	if n := logs.FilterMessage("host failed").FilterField(zap.String("host", "h2")).Len(); n != 1 {
		t.Errorf("h2's failure logged %d times", n)
	}
	if n := logs.FilterMessage("host planned").Len(); n != 1 {
		t.Errorf("%d hosts logged as planned, want 1 (h1; h3 was not contacted)", n)
	}
}

// SetTopology compiles the topology into each host's desired state; the
// Reconciler then knows each host as pending.
func TestSetTopology(t *testing.T) {
	topo := engineTopology(t, "unix:/nonexistent/db.sock")
	r := NewReconciler(zap.NewNop(), Config{}, nil)
	if err := r.SetTopology(topo); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"h1", "h2", "h3"} {
		hs := r.Desired(h)
		if hs == nil || hs.Host != h || hs.Bridge != "br-int" || hs.NumFlows() == 0 {
			t.Errorf("desired state of %s: %+v", h, hs)
		}
	}
	st := r.Status()
	if len(st) != 3 || st[0].State != api.StatePending || st[0].Flows != r.Desired("h1").NumFlows() {
		t.Errorf("Status() = %+v", st)
	}
}
