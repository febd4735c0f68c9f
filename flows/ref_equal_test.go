package flows

import (
	"reflect"
	"testing"

	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/topotest"
)

// sameAsReference fails t unless the states equal the reference
// compiler's, flow for flow (text and origin) and port for port.
func sameAsReference(t *testing.T, what string, topo *topology.Topology) {
	t.Helper()
	want, werr := refCompile(topo)
	got, gerr := Compile(topo)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%s: error %v, reference %v", what, gerr, werr)
	}
	if werr != nil {
		return
	}
	for i, w := range want {
		g := got[i]
		if string(AppendFlows(nil, g.Flows())) != string(AppendFlows(nil, w.Flows)) {
			t.Errorf("%s: host %s: flows differ from the reference (%d, want %d)", what, w.Host, g.NumFlows(), len(w.Flows))
			continue
		}
		gf := g.Flows()
		for j := range w.Flows {
			if gf[j].Origin != w.Flows[j].Origin {
				t.Errorf("%s: host %s: flow %d: origin %v, want %v", what, w.Host, j, gf[j].Origin, w.Flows[j].Origin)
				break
			}
		}
		if g.Host != w.Host || g.OVSDB != w.OVSDB || g.OpenFlow != w.OpenFlow || g.Bridge != w.Bridge ||
			g.DatapathType != w.DatapathType || g.ControllerTarget != w.ControllerTarget || g.TLS != w.TLS ||
			!reflect.DeepEqual(g.Ports, w.Ports) {
			t.Errorf("%s: host %s: state differs from the reference", what, w.Host)
		}
	}
}

func TestSameAsReference(t *testing.T) {
	for name, file := range cases(t) {
		topo, err := topology.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		sameAsReference(t, name, topo)
	}
	for _, g := range [][3]int{{3, 10, 5}, {20, 10, 20}, {40, 10, 5}} {
		topo, err := topology.LoadBytes(map[string][]byte{"big.yaml": topotest.Generate(g[0], g[1], g[2])})
		if err != nil {
			t.Fatal(err)
		}
		sameAsReference(t, "generated", topo)
	}
}

// CompileHost gives a host the state Compile gives it.
func TestCompileHostIsCompile(t *testing.T) {
	for name, file := range cases(t) {
		topo, err := topology.Load(file)
		if err != nil {
			t.Fatal(err)
		}
		all, err := Compile(topo)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range all {
			got, err := CompileHost(topo, want.Host)
			if err != nil {
				t.Fatalf("%s: %s: %v", name, want.Host, err)
			}
			sameStates(t, name+" "+want.Host, []*HostState{got}, []*HostState{want})
		}
	}
}
