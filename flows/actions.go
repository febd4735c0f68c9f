package flows

import (
	"fmt"
	"strconv"

	"github.com/digitalocean/go-openvswitch/ovs"
)

// gotoTable is the OpenFlow 1.1+ goto_table instruction, which the ovs
// package does not offer. It must be the last action of a flow.
type gotoTable int

var _ ovs.Action = gotoTable(0)

func (g gotoTable) MarshalText() ([]byte, error) {
	if g < 0 || g > 254 {
		return nil, fmt.Errorf("goto_table: invalid table %d", int(g))
	}
	return []byte("goto_table:" + strconv.Itoa(int(g))), nil
}

func (g gotoTable) GoString() string { return fmt.Sprintf("flows.gotoTable(%d)", int(g)) }

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// Actions and matches of the logical context, named for what they mean.
func setSwitch(id uint32) ovs.Action   { return ovs.SetField(hex(uint64(id)), "metadata") }
func setInPort(key uint32) ovs.Action  { return ovs.Load(hex(uint64(key)), regInPort+"[]") }
func setOutPort(key uint32) ovs.Action { return ovs.Load(hex(uint64(key)), regOutPort+"[]") }
func setFromTunnel() ovs.Action        { return ovs.Load("1", regFlags+"[0]") }
func setTunnelKey(k uint32) ovs.Action { return ovs.SetField(hex(uint64(k)), "tun_id") }

func matchSwitch(id uint32) ovs.Match   { return ovs.Metadata(uint64(id)) }
func matchInPort(key uint32) ovs.Match  { return ovs.FieldMatch("reg6", hex(uint64(key))) }
func matchOutPort(key uint32) ovs.Match { return ovs.FieldMatch("reg7", hex(uint64(key))) }
func matchFromTunnel(yes bool) ovs.Match {
	if yes {
		return ovs.FieldMatch("reg5", "0x1/0x1")
	}
	return ovs.FieldMatch("reg5", "0/0x1")
}

// matchMulticast matches broadcast and multicast destinations (the group bit).
func matchMulticast() ovs.Match {
	return ovs.FieldMatch("dl_dst", "01:00:00:00:00:00/01:00:00:00:00:00")
}
