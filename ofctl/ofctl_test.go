package ofctl

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// needOfctl: tests that check Loom against OVS's own parser.
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
	topo, err := topology.Load("../flows/testdata/three-ports/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hs, err := flows.CompileHost(topo, "h1")
	if err != nil {
		t.Fatal(err)
	}
	return hs
}

func mustDump(t *testing.T, text string) *Observed {
	t.Helper()
	obs, err := ParseDump([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

func TestPlanEqualIsEmpty(t *testing.T) {
	hs := compileH1(t)
	p, err := PlanFlows(hs.Flows(), mustDump(t, string(hs.FlowText())))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() || p.FlowMods() != 0 {
		t.Fatalf("plan of a switch that holds the desired flows: %+v", p)
	}
}

// The same flow written the way ovs-ofctl dump-flows prints it (another
// field order, reg values in hex, load:1 as load:0x1, icmp_type for
// icmpv6_type, the table first) compares equal.
func TestPlanNormalises(t *testing.T) {
	hs := compileH1(t)
	observed := `NXST_FLOW reply (xid=0x4):
 cookie=0x4c4d00020000000a, table=10, priority=65000,reg5=0/0x4 actions=goto_table:20
`
	var one []flows.Flow
	for _, f := range hs.Flows() {
		if f.Origin.Rule == flows.RuleNotFromVIF && f.Table == flows.TablePortSecurity {
			one = append(one, f)
		}
	}
	p, err := PlanFlows(one, mustDump(t, observed))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("equal flows in another spelling differ: missing %v extra %v", p.Missing, p.Extra)
	}
}

func TestPlanChanges(t *testing.T) {
	hs := compileH1(t)
	lines := strings.Split(strings.TrimSpace(string(hs.FlowText())), "\n")

	// The switch lacks the first flow, holds a changed copy of the second
	// and a stale Loom flow of an object that no longer exists.
	changed := strings.Replace(lines[1], "goto_table:10", "goto_table:40", 1)
	if changed == lines[1] {
		t.Fatalf("no goto_table:10 in %s", lines[1])
	}
	stale := "cookie=0x4c4d030700000007,table=40,priority=100,metadata=0x1,dl_dst=02:00:00:00:00:07,actions=drop"
	observed := strings.Join(append([]string{changed, stale}, lines[2:]...), "\n")

	p, err := PlanFlows(hs.Flows(), mustDump(t, observed))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Missing) != 2 || len(p.Extra) != 2 {
		t.Errorf("missing %d %v, extra %d %v; want 2 and 2", len(p.Missing), p.Missing, len(p.Extra), p.Extra)
	}
	want := []Group{
		{0, hs.Flows()[0].Cookie},
		{0, hs.Flows()[1].Cookie},
		{40, 0x4c4d030700000007},
	}
	slices.SortFunc(want, compareGroups)
	if !slices.Equal(p.Groups, want) {
		t.Fatalf("groups %v, want %v", p.Groups, want)
	}
	// Deletes only for groups with stale flows; adds for every flow of the
	// dirty groups that are desired.
	if len(p.Deletes) != 2 || len(p.Adds) != 2 {
		t.Errorf("bundle: %d deletes, %d adds; want 2 and 2", len(p.Deletes), len(p.Adds))
	}
	for _, a := range p.Adds {
		if !slices.ContainsFunc(hs.Flows(), func(f flows.Flow) bool { return f.Equal(&a) }) {
			t.Errorf("an add that is not desired: %s", &a)
		}
	}
}

func TestPlanRefusesForeignCookies(t *testing.T) {
	hs := compileH1(t)
	for _, extra := range []string{
		"cookie=0x99,table=0,priority=5,in_port=1,actions=drop",
		"cookie=0x99,table=0,priority=5,in_port=1,actions=ct(commit)",
	} {
		observed := string(hs.FlowText()) + extra + "\n"
		if _, err := PlanFlows(hs.Flows(), mustDump(t, observed)); err == nil {
			t.Errorf("a foreign flow in the observed set was accepted into a plan: %s", extra)
		}
	}
}

// A flow of Loom's cookie space that Loom's parser does not read (someone
// else's) is replaced with its group; a line without a cookie is an
// error.
func TestPlanUnknownFlows(t *testing.T) {
	hs := compileH1(t)
	g := Group{hs.Flows()[3].Table, hs.Flows()[3].Cookie}
	unknown := " cookie=" + hex(g.Cookie) + ", table=" + itoa(int(g.Table)) + ", priority=7,tcp actions=ct(commit,zone=5),output:1"
	obs := mustDump(t, string(hs.FlowText())+unknown+"\n")
	if len(obs.Unknown) != 1 || obs.Unknown[0].Group != g || obs.Unknown[0].Err == nil {
		t.Fatalf("unknown flows: %+v", obs.Unknown)
	}
	p, err := PlanFlows(hs.Flows(), obs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Groups, []Group{g}) || !slices.Equal(p.Deletes, []Group{g}) || len(p.Unknown) != 1 || len(p.Extra) != 0 {
		t.Errorf("plan: %+v", p)
	}
	if _, err := ParseDump([]byte(" table=3, priority=7 actions=ct(commit)\n")); err == nil {
		t.Error("a flow Loom does not read, without a cookie, was accepted")
	}
}

func hex(v uint64) string { return "0x" + strconvFormat(v, 16) }
func itoa(v int) string   { return strconvFormat(uint64(v), 10) }

// Every flow the compiler emits for the test topologies is valid for
// OVS's own parser (ovs-ofctl diff-flows parses both sides).
func TestCompiledFlowsParse(t *testing.T) {
	needOfctl(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range topologies(t) {
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
			file := filepath.Join(dir, "flows")
			if err := os.WriteFile(file, hs.FlowText(), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command("ovs-ofctl", "-O", "OpenFlow13", "diff-flows", file, empty).CombinedOutput()
			if n := strings.Count("\n"+string(out), "\n-"); n != hs.NumFlows() {
				t.Errorf("%s host %s: OVS read %d of %d flows (%v)\n%s", f, hs.Host, n, hs.NumFlows(), err, out)
			}
		}
	}
}

// topologies are the golden topologies and the examples.
func topologies(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../flows/testdata/*/topology.yaml")
	examples, _ := filepath.Glob("../deploy/examples/*.yaml")
	if len(files) == 0 || len(examples) == 0 {
		t.Fatal("no topologies found")
	}
	return append(files, examples...)
}

// On a switch with none of Loom's flows, the plan adds every flow, each
// group once, and deletes nothing; it is what the comparison with an empty
// switch plans.
func TestPlanEmptyEqualsPlanFromEmpty(t *testing.T) {
	hs := compileH1(t)
	all := PlanEmpty(hs.Flows())
	compared, err := PlanFlows(hs.Flows(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Adds) != hs.NumFlows() || len(all.Deletes) != 0 || len(all.Missing) != len(compared.Missing) ||
		!slices.Equal(all.Groups, compared.Groups) || all.FlowMods() != compared.FlowMods() {
		t.Errorf("PlanEmpty: %d adds, %d deletes, %d groups; PlanFlows from empty: %d adds, %d deletes, %d groups",
			len(all.Adds), len(all.Deletes), len(all.Groups), len(compared.Adds), len(compared.Deletes), len(compared.Groups))
	}
}

func TestKnown(t *testing.T) {
	hs := compileH1(t)
	var k *Known
	k.reached(hs.Flows(), nil) // a nil Known remembers nothing
	if k.indexOf(hs.Flows()) != nil {
		t.Error("a nil Known has an index")
	}
	k = &Known{}
	ix := flows.NewIndex(hs.Flows())
	k.reached(hs.Flows(), ix)
	if !same(k.desired, hs.Flows()) || k.indexOf(hs.Flows()) != ix {
		t.Error("the desired state reached, or its index, is not remembered")
	}
	k.reached(hs.Flows(), nil)
	if k.indexOf(hs.Flows()) != ix {
		t.Error("the index is lost when the same state is reached again")
	}
	other := compileH1(t).Flows()
	if same(k.desired, other) || k.indexOf(other) != nil {
		t.Error("another (equal) desired state counts as the same")
	}
	k.reached(other, nil)
	if k.indexOf(other) != nil || k.indexOf(hs.Flows()) != nil {
		t.Error("an index of another state is kept")
	}
	k.forget()
	if k.desired != nil || k.index != nil {
		t.Error("a forgotten state is remembered")
	}
}

// PlanDelta, from two desired states alone, plans what the comparison of
// the new state with a switch holding the old one (dumped) plans.
func TestPlanDeltaEqualsPlanFlows(t *testing.T) {
	src, err := os.ReadFile("../flows/testdata/full/topology.yaml")
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
		changed := 0
		for host, hs := range after {
			delta := PlanDelta(before[host].Flows(), hs.Flows())
			viaDump, err := PlanFlows(hs.Flows(), mustDump(t, string(before[host].FlowText())))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(delta.Groups, viaDump.Groups) || !slices.Equal(delta.Deletes, viaDump.Deletes) ||
				!equalFlows(delta.Adds, viaDump.Adds) || !equalFlows(delta.Missing, viaDump.Missing) || !equalFlows(delta.Extra, viaDump.Extra) {
				t.Errorf("%s, %s: PlanDelta %d groups, %d deletes, %d adds, %d missing, %d extra; PlanFlows %d, %d, %d, %d, %d",
					c.name, host, len(delta.Groups), len(delta.Deletes), len(delta.Adds), len(delta.Missing), len(delta.Extra),
					len(viaDump.Groups), len(viaDump.Deletes), len(viaDump.Adds), len(viaDump.Missing), len(viaDump.Extra))
			}
			if !delta.Empty() {
				changed++
			}
		}
		if changed == 0 {
			t.Errorf("%s: no host changes", c.name)
		}
	}
}

func equalFlows(a, b []flows.Flow) bool {
	return slices.EqualFunc(a, b, func(x, y flows.Flow) bool { return x.Equal(&y) })
}

func strconvFormat(v uint64, base int) string { return strconv.FormatUint(v, base) }
