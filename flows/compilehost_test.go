package flows

import (
	"testing"

	"github.com/loom-sdn/loom/topology"
)

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
