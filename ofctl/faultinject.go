//go:build faultinject

package ofctl

import (
	"fmt"
	"os"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/flows"
)

// In a test build, while the file named by LOOM_FAULT_BAD_FLOW exists, every
// bundle carries one more flow, which the switch refuses (its group does
// not exist): the end-to-end tests use it to check that a refused bundle
// changes nothing and is retried.
func init() {
	faultHook = func(adds []*ovs.Flow) []*ovs.Flow {
		f := os.Getenv("LOOM_FAULT_BAD_FLOW")
		if f == "" {
			return adds
		}
		if _, err := os.Stat(f); err != nil {
			return adds
		}
		bad := &ovs.Flow{Table: flows.TableOutput, Priority: 1, Cookie: flows.CookieSpace | 0xfa17,
			Actions: []ovs.Action{groupAction(77)}}
		return append(append([]*ovs.Flow(nil), adds...), bad)
	}
}

type groupAction int

func (g groupAction) MarshalText() ([]byte, error) {
	return []byte(fmt.Sprintf("group:%d", int(g))), nil
}
func (g groupAction) GoString() string { return fmt.Sprintf("groupAction(%d)", int(g)) }
