package controller

import (
	"reflect"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
)

func mustFlows(t *testing.T, lines ...string) []flows.Flow {
	t.Helper()
	var fs []flows.Flow
	for _, l := range lines {
		f, err := flows.ParseFlow(l)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

func TestFlowChanges(t *testing.T) {
	p := &ofctl.Plan{
		Missing: mustFlows(t,
			"table=10,priority=100,in_port=1,cookie=0x4c4d000000000001,actions=output:2",
			"table=40,priority=50,dl_dst=02:00:00:00:00:01,cookie=0x4c4d000000000002,actions=output:1",
		),
		// As ovs-ofctl dump-flows prints them.
		Extra: mustFlows(t,
			" cookie=0x4c4d000000000001, table=10, priority=100,in_port=1 actions=drop",
			" cookie=0x4c4d000000000003, table=40, priority=50,dl_dst=02:00:00:00:00:09 actions=output:9",
		),
	}
	add, mod, del := FlowChanges(p)
	if !reflect.DeepEqual(add, p.Missing[1:]) || !reflect.DeepEqual(mod, p.Missing[:1]) || !reflect.DeepEqual(del, p.Extra[1:]) {
		t.Errorf("add %v\nmodify %v\ndelete %v", add, mod, del)
	}
	if a, m, d := FlowChanges(nil); a != nil || m != nil || d != nil {
		t.Error("a nil plan has changes")
	}
}
