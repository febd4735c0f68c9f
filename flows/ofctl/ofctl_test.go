package ofctl

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// needOfctl: PlanFlows compares with OVS's own parser, offline.
func needOfctl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ovs-ofctl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ovs-ofctl missing in CI")
		}
		t.Skip("ovs-ofctl not installed (make deps)")
	}
}

func compileH1(t *testing.T) *flows.HostState {
	t.Helper()
	topo, err := topology.Load("../testdata/three-ports/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := flows.CompileHost(topo, "h1")
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func TestPlanEqualIsEmpty(t *testing.T) {
	needOfctl(t)
	hs := compileH1(t)
	text, _ := hs.FlowText()
	p, err := PlanFlows(context.Background(), hs, text)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || p.FlowMods() != 0 {
		t.Fatalf("plan of a switch that holds the desired flows: %+v", p)
	}
}

// OVS's parser normalises both sides: the same flow written the way
// ovs-ofctl dump-flows prints it (different field order, reg values in
// hex, load:1 as load:0x1) compares equal.
func TestPlanNormalises(t *testing.T) {
	needOfctl(t)
	hs := compileH1(t)
	observed := `
 cookie=0x4c4d00020000000a, table=10, priority=65000,reg5=0/0x4 actions=goto_table:20
`
	var one []*flows.Flow
	for _, f := range hs.Flows {
		if f.Origin.Rule == flows.RuleNotFromVIF && f.Table == flows.TablePortSecurity {
			one = append(one, f)
		}
	}
	hs.Flows = one
	p, err := PlanFlows(context.Background(), hs, []byte(observed))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("equal flows in another spelling differ: missing %v extra %v", p.Missing, p.Extra)
	}
}

func TestPlanChanges(t *testing.T) {
	needOfctl(t)
	hs := compileH1(t)
	text, _ := hs.FlowText()
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")

	// The switch lacks the first flow, holds a changed copy of the second
	// and a stale Loom flow of an object that no longer exists.
	changed := strings.Replace(lines[1], "goto_table:10", "goto_table:40", 1)
	stale := "cookie=0x4c4d030700000007,table=40,priority=100,metadata=0x1,dl_dst=02:00:00:00:00:07,actions=drop"
	observed := strings.Join(append([]string{changed, stale}, lines[2:]...), "\n")

	p, err := PlanFlows(context.Background(), hs, []byte(observed))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Missing) != 2 || len(p.Extra) != 2 {
		t.Errorf("missing %d %v, extra %d %v; want 2 and 2", len(p.Missing), p.Missing, len(p.Extra), p.Extra)
	}
	want := map[Group]bool{
		{0, hs.Flows[0].Cookie}:  true,
		{0, hs.Flows[1].Cookie}:  true,
		{40, 0x4c4d030700000007}: true,
	}
	if len(p.Groups) != len(want) {
		t.Fatalf("groups %v, want %v", p.Groups, want)
	}
	for _, g := range p.Groups {
		if !want[g] {
			t.Errorf("unexpected group %+v", g)
		}
	}
	// Deletes only for groups with stale flows; adds for every flow of the
	// dirty groups that are desired.
	if len(p.Deletes) != 2 || len(p.Adds) != 2 {
		t.Errorf("bundle: %d deletes, %d adds; want 2 and 2", len(p.Deletes), len(p.Adds))
	}
	for _, d := range p.Deletes {
		b, _ := d.MarshalText()
		if !strings.Contains(string(b), "/0xffffffffffffffff") {
			t.Errorf("delete is not by exact cookie: %s", b)
		}
	}
}

func TestPlanRefusesForeignCookies(t *testing.T) {
	needOfctl(t)
	hs := compileH1(t)
	text, _ := hs.FlowText()
	observed := string(text) + "cookie=0x99,table=0,priority=5,in_port=1,actions=drop\n"
	if _, err := PlanFlows(context.Background(), hs, []byte(observed)); err == nil {
		t.Fatal("a foreign flow in the observed set was accepted into a plan")
	}
}

func TestDiffReportsParseErrors(t *testing.T) {
	needOfctl(t)
	_, _, err := Diff(context.Background(), []byte("table=0,priority=1,frobnicate=1,actions=drop\n"), nil)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("want OVS's parse error, got %v", err)
	}
}

// Every flow the compiler emits for the test topologies is valid for
// OVS's own parser (ovs-ofctl diff-flows parses both sides).
func TestCompiledFlowsParse(t *testing.T) {
	needOfctl(t)
	files, _ := filepath.Glob("../testdata/*/topology.yaml")
	examples, _ := filepath.Glob("../../deploy/examples/*.yaml")
	for _, f := range append(files, examples...) {
		topo, err := topology.Load(f)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		states, err := flows.Compile(topo)
		if err != nil {
			t.Logf("%s: not compiled: %v", f, err)
			continue
		}
		for _, hs := range states {
			text, _ := hs.FlowText()
			missing, extra, err := Diff(context.Background(), text, nil)
			if err != nil {
				t.Errorf("%s host %s: %v", f, hs.Host, err)
				continue
			}
			if len(missing) != len(hs.Flows) || len(extra) != 0 {
				t.Errorf("%s host %s: OVS read %d of %d flows", f, hs.Host, len(missing), len(hs.Flows))
			}
		}
	}
}

// On a switch with none of Loom's flows, the plan adds every flow, each
// group once, and deletes nothing; it matches what OVS's comparison says.
func TestPlanEmptyEqualsPlanFromEmpty(t *testing.T) {
	needOfctl(t)
	hs := compileH1(t)
	all, err := PlanEmpty(hs)
	if err != nil {
		t.Fatal(err)
	}
	viaOVS, err := PlanFlows(context.Background(), hs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Adds) != len(hs.Flows) || len(all.Deletes) != 0 || len(all.Missing) != len(viaOVS.Missing) ||
		!slices.Equal(all.Groups, viaOVS.Groups) || all.FlowMods() != viaOVS.FlowMods() {
		t.Errorf("PlanEmpty: %d adds, %d deletes, %d groups; PlanFlows from empty: %d adds, %d deletes, %d groups",
			len(all.Adds), len(all.Deletes), len(all.Groups), len(viaOVS.Adds), len(viaOVS.Deletes), len(viaOVS.Groups))
	}
}

func TestKnown(t *testing.T) {
	hs := compileH1(t)
	dump := []byte("NXST_FLOW reply (xid=0x4):\n cookie=0x4c4d000000000002, table=10, priority=1 actions=drop\n cookie=0x4c4d000000000001, priority=0 actions=drop\n")
	lines := flowLines(dump)
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "cookie=0x4c4d000000000001") {
		t.Fatalf("flowLines = %q", lines)
	}
	var k *Known
	if k.matches(hs, lines) {
		t.Error("a nil Known matches")
	}
	k = &Known{}
	k.remember(hs, lines)
	if !k.matches(hs, flowLines(dump)) {
		t.Error("the same dump does not match")
	}
	if k.matches(compileH1(t), lines) {
		t.Error("another desired state matches")
	}
	if k.matches(hs, lines[:1]) {
		t.Error("another dump matches")
	}
	k.forget()
	if k.matches(hs, lines) {
		t.Error("a forgotten dump matches")
	}
}

// PlanDelta, from two desired states alone, plans what OVS's comparison of
// the new state with a switch holding the old one plans.
func TestPlanDeltaEqualsPlanFlows(t *testing.T) {
	needOfctl(t)
	src, err := os.ReadFile("../testdata/full/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	compile := func(files map[string][]byte) map[string]*flows.HostState {
		topo, err := topology.LoadBytes(files)
		if err != nil {
			t.Fatal(err)
		}
		states, err := flows.Compile(topo)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]*flows.HostState{}
		for _, hs := range states {
			m[hs.Host] = hs
		}
		return m
	}
	base := map[string][]byte{"full.yaml": src}
	before := compile(base)
	for _, c := range []struct{ name, old, new string }{
		{"a port added", "ports:\n", "ports:\n  - {name: g3, switch: green, host: h1, mac: auto, ips: [192.0.2.3], interface: lm-g3}\n"},
		{"a port's IP changed", "ips: [192.0.2.1]", "ips: [192.0.2.9]"},
		{"an ACL rule dropped", "      - {name: no-5001, action: drop, proto: tcp, dstPorts: 5001}\n", ""},
		{"a switch's key", "tunnelKey: 20", "tunnelKey: 21"},
		{"a port removed", "  - {name: b3, switch: blue, host: h3, mac: \"02:00:00:00:20:03\", ips: [192.0.2.67, \"2001:db8:20::3\"], interface: lm-b3}\n", ""},
	} {
		edited := strings.Replace(string(src), c.old, c.new, 1)
		if edited == string(src) {
			t.Fatalf("%s: the edit changed nothing", c.name)
		}
		after := compile(map[string][]byte{"full.yaml": []byte(edited)})
		for host, hs := range after {
			delta, err := PlanDelta(before[host], hs)
			if err != nil {
				t.Fatal(err)
			}
			old, _ := before[host].FlowText()
			viaOVS, err := PlanFlows(context.Background(), hs, old)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(delta.Groups, viaOVS.Groups) || len(delta.Deletes) != len(viaOVS.Deletes) || len(delta.Adds) != len(viaOVS.Adds) ||
				len(delta.Missing) != len(viaOVS.Missing) || len(delta.Extra) != len(viaOVS.Extra) {
				t.Errorf("%s, %s: PlanDelta %d groups, %d deletes, %d adds, %d missing, %d extra; PlanFlows %d, %d, %d, %d, %d",
					c.name, host, len(delta.Groups), len(delta.Deletes), len(delta.Adds), len(delta.Missing), len(delta.Extra),
					len(viaOVS.Groups), len(viaOVS.Deletes), len(viaOVS.Adds), len(viaOVS.Missing), len(viaOVS.Extra))
			}
		}
	}
}
