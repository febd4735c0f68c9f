package controller

import (
	"reflect"
	"testing"

	"github.com/loom-sdn/loom/flows/ofctl"
)

func TestFlowChanges(t *testing.T) {
	// As ovs-ofctl diff-flows prints them.
	p := &ofctl.Plan{
		Missing: []string{
			"table=10 priority=100,in_port=1 cookie=0x4c4d000000000001 actions=output:2",
			"table=40 priority=50,dl_dst=02:00:00:00:00:01 cookie=0x4c4d000000000002 actions=output:1",
		},
		Extra: []string{
			"table=10 priority=100,in_port=1 cookie=0x4c4d000000000001 actions=drop",
			"table=40 priority=50,dl_dst=02:00:00:00:00:09 cookie=0x4c4d000000000003 actions=output:9",
		},
	}
	add, mod, del := FlowChanges(p)
	if !reflect.DeepEqual(add, p.Missing[1:]) || !reflect.DeepEqual(mod, p.Missing[:1]) || !reflect.DeepEqual(del, p.Extra[1:]) {
		t.Errorf("add %q\nmodify %q\ndelete %q", add, mod, del)
	}
	if a, m, d := FlowChanges(nil); a != nil || m != nil || d != nil {
		t.Error("a nil plan has changes")
	}
}
