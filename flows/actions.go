package flows

import (
	"fmt"
	"strconv"
	"strings"

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

// cloneAction is OVS's clone(...): its actions work on a copy of the packet,
// so a VLAN pushed for one flood copy does not stay on the next.
type cloneAction []ovs.Action

var _ ovs.Action = cloneAction(nil)

func (c cloneAction) MarshalText() ([]byte, error) {
	parts := make([]string, len(c))
	for i, a := range c {
		b, err := a.MarshalText()
		if err != nil {
			return nil, err
		}
		parts[i] = string(b)
	}
	return []byte("clone(" + strings.Join(parts, ",") + ")"), nil
}

func (c cloneAction) GoString() string { return fmt.Sprintf("flows.cloneAction(%d actions)", len(c)) }

func hex(v uint64) string { return "0x" + strconv.FormatUint(v, 16) }

// Actions and matches of the logical context, named for what they mean.
func setSwitch(id uint32) ovs.Action   { return ovs.SetField(hex(uint64(id)), "metadata") }
func setInPort(key uint32) ovs.Action  { return ovs.Load(hex(uint64(key)), regInPort+"[]") }
func setOutPort(key uint32) ovs.Action { return ovs.Load(hex(uint64(key)), regOutPort+"[]") }

// setFlag sets one flag bit of reg5.
func setFlag(bit int) ovs.Action {
	return ovs.Load("1", fmt.Sprintf("%s[%d]", regFlags, flagBit(bit)))
}
func setTunnelKey(k uint32) ovs.Action { return ovs.SetField(hex(uint64(k)), "tun_id") }

func flagBit(bit int) int {
	for i := 0; i < 32; i++ {
		if bit == 1<<i {
			return i
		}
	}
	panic("flows: not a single flag bit")
}

func matchSwitch(id uint32) ovs.Match   { return ovs.Metadata(uint64(id)) }
func matchInPort(key uint32) ovs.Match  { return ovs.FieldMatch("reg6", hex(uint64(key))) }
func matchOutPort(key uint32) ovs.Match { return ovs.FieldMatch("reg7", hex(uint64(key))) }

// matchFlag matches packets with (set) or without (!set) the flag.
func matchFlag(bit int, set bool) ovs.Match {
	v := uint64(0)
	if set {
		v = uint64(bit)
	}
	return ovs.FieldMatch("reg5", hex(v)+"/"+hex(uint64(bit)))
}

// matchMulticast matches broadcast and multicast destinations (the group bit).
func matchMulticast() ovs.Match {
	return ovs.FieldMatch("dl_dst", "01:00:00:00:00:00/01:00:00:00:00:00")
}

// rawAction is an action written as OVS prints it under OpenFlow 1.3, where
// the ovs package's spelling differs from what OVS dumps back (strip_vlan
// is dumped as pop_vlan, mod_vlan_vid as push_vlan and set_field): Loom
// writes flows the way the switch will show them.
type rawAction string

func (a rawAction) MarshalText() ([]byte, error) { return []byte(a), nil }
func (a rawAction) GoString() string             { return fmt.Sprintf("flows.rawAction(%q)", string(a)) }

func popVLAN() ovs.Action { return rawAction("pop_vlan") }

// pushVLAN tags the packet with vid (802.1Q).
func pushVLAN(vid int) []ovs.Action {
	return []ovs.Action{rawAction("push_vlan:0x8100"), ovs.SetField(strconv.Itoa(0x1000|vid), "vlan_vid")}
}
