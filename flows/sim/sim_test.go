package sim_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/go-openvswitch/ovs"

	"github.com/loom-sdn/loom/flows/sim"
)

var (
	macA  = sim.MustMAC("02:00:00:00:00:0a")
	macB  = sim.MustMAC("02:00:00:00:00:0b")
	macR  = sim.MustMAC("02:00:00:00:00:ff")
	ipA   = netip.MustParseAddr("10.0.0.1")
	ipB   = netip.MustParseAddr("10.0.0.2")
	ip6A  = netip.MustParseAddr("2001:db8::a")
	ip6B  = netip.MustParseAddr("2001:db8::b")
	llA   = netip.MustParseAddr("fe80::a")
	tunIP = netip.MustParseAddr("198.19.0.12")
)

func parse(t *testing.T, text string) *sim.Switch {
	t.Helper()
	sw, err := sim.Parse(text)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return sw
}

func run(t *testing.T, text string, p sim.Packet) sim.Result {
	t.Helper()
	res, err := parse(t, text).Run(p)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, res)
	}
	return res
}

// lines joins flows one per line.
func lines(flows ...string) string { return strings.Join(flows, "\n") }

func TestMatchFields(t *testing.T) {
	arpReq := sim.ARPRequest(macA, ipA, ipB)
	tcp := sim.TCP(macA, macB, netip.AddrPortFrom(ipA, 40000), netip.AddrPortFrom(ipB, 80))
	udp := sim.UDP(macA, macB, netip.AddrPortFrom(ipA, 5353), netip.AddrPortFrom(ipB, 53))
	tcp6 := sim.TCP(macA, macB, netip.AddrPortFrom(ip6A, 40000), netip.AddrPortFrom(ip6B, 443))
	sctp := sim.IP(macA, macB, ipA, ipB, sim.ProtoSCTP, 1, 9)
	echo := sim.ICMPEcho(macA, macB, ipA, ipB)
	echo6 := sim.ICMPEcho(macA, macB, ip6A, ip6B)
	ns := sim.NeighborSolicitation(macA, llA, ip6B)
	na := sim.NeighborAdvertisement(macB, macA, ip6B, llA, ip6B)
	bcast := sim.Broadcast(macA)
	tunneled := tcp.FromTunnel(7, 0x164)
	tunneled.TunSrc = tunIP

	for _, c := range []struct {
		match string
		p     sim.Packet
		regs  sim.Regs
		want  bool
	}{
		{"in_port=1", tcp.At(1), sim.Regs{}, true},
		{"in_port=1", tcp.At(2), sim.Regs{}, false},
		{"in_port=LOCAL", tcp.At(sim.PortLocal), sim.Regs{}, true},
		{"dl_src=02:00:00:00:00:0a", tcp, sim.Regs{}, true},
		{"dl_src=02:00:00:00:00:0b", tcp, sim.Regs{}, false},
		{"eth_dst=02:00:00:00:00:0b", tcp, sim.Regs{}, true},
		{"dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", bcast, sim.Regs{}, true},
		{"dl_dst=01:00:00:00:00:00/01:00:00:00:00:00", tcp, sim.Regs{}, false},
		{"dl_src=02:00:00:00:00:00/ff:ff:ff:ff:ff:00", tcp, sim.Regs{}, true},
		{"dl_type=0x0806", arpReq, sim.Regs{}, true},
		{"dl_type=0x0806", tcp, sim.Regs{}, false},
		{"dl_type=2054", arpReq, sim.Regs{}, true},
		{"arp", arpReq, sim.Regs{}, true},
		{"ip", arpReq, sim.Regs{}, false},
		{"ipv6", tcp6, sim.Regs{}, true},
		{"tcp", tcp6, sim.Regs{}, false},
		{"tcp6", tcp6, sim.Regs{}, true},
		{"dl_vlan=200", tcp.Tagged(200), sim.Regs{}, true},
		{"dl_vlan=200", tcp.Tagged(201), sim.Regs{}, false},
		{"dl_vlan=200", tcp, sim.Regs{}, false},
		{"dl_vlan=0xffff", tcp, sim.Regs{}, true},
		{"dl_vlan=0xffff", tcp.Tagged(5), sim.Regs{}, false},
		{"vlan_tci=0x1000/0x1000", tcp.Tagged(5), sim.Regs{}, true},
		{"vlan_tci=0x1000/0x1000", tcp, sim.Regs{}, false},
		{"vlan_tci=0", tcp, sim.Regs{}, true},
		{"vlan_vid=4296", tcp.Tagged(200), sim.Regs{}, true},
		{"vlan_vid=0x1000/0x1000", tcp, sim.Regs{}, false},
		{"metadata=0xfbf650", tcp, sim.Regs{Metadata: 0xfbf650}, true},
		{"metadata=0x5/0xf", tcp, sim.Regs{Metadata: 0x1235}, true},
		{"metadata=0x5/0xf", tcp, sim.Regs{Metadata: 0x1236}, false},
		{"reg6=0x24b8c4", tcp, sim.Regs{Reg: [16]uint32{6: 0x24b8c4}}, true},
		{"reg6=2406596", tcp, sim.Regs{Reg: [16]uint32{6: 0x24b8c4}}, true},
		{"reg5=0x4/0x4", tcp, sim.Regs{Reg: [16]uint32{5: 5}}, true},
		{"reg5=0x4/0x4", tcp, sim.Regs{Reg: [16]uint32{5: 1}}, false},
		{"reg5=0/0x1", tcp, sim.Regs{Reg: [16]uint32{5: 4}}, true},
		{"reg5[2]=1", tcp, sim.Regs{Reg: [16]uint32{5: 4}}, true},
		{"reg5[0..1]=2", tcp, sim.Regs{Reg: [16]uint32{5: 6}}, true},
		{"reg5[0..1]=2", tcp, sim.Regs{Reg: [16]uint32{5: 5}}, false},
		{"reg15=1", tcp, sim.Regs{Reg: [16]uint32{15: 1}}, true},
		{"xreg0=0x100000002", tcp, sim.Regs{Reg: [16]uint32{0: 1, 1: 2}}, true},
		{"tun_id=0x164", tunneled, sim.Regs{}, true},
		{"tun_id=0x64/0xff", tunneled, sim.Regs{}, true},
		{"tun_id=0x64", tunneled, sim.Regs{}, false},
		{"tun_id=0", tcp, sim.Regs{}, true},
		{"tun_src=198.19.0.12", tunneled, sim.Regs{}, true},
		{"tun_src=198.19.0.0/24", tunneled, sim.Regs{}, true},
		{"tun_src=198.19.1.0/24", tunneled, sim.Regs{}, false},
		{"arp,arp_op=1", arpReq, sim.Regs{}, true},
		{"arp,arp_op=2", arpReq, sim.Regs{}, false},
		{"arp,arp_spa=10.0.0.1", arpReq, sim.Regs{}, true},
		{"arp,arp_spa=10.0.0.0/8", arpReq, sim.Regs{}, true},
		{"arp,arp_tpa=10.0.0.2", arpReq, sim.Regs{}, true},
		{"arp,arp_tpa=10.0.0.3", arpReq, sim.Regs{}, false},
		{"arp,arp_sha=02:00:00:00:00:0a", arpReq, sim.Regs{}, true},
		{"arp,arp_tha=00:00:00:00:00:00", arpReq, sim.Regs{}, true}, // unset reads as zero
		{"ip,nw_src=10.0.0.1", tcp, sim.Regs{}, true},
		{"ip,nw_src=10.0.0.0/8", tcp, sim.Regs{}, true},
		{"ip,nw_src=10.0.1.0/24", tcp, sim.Regs{}, false},
		{"ip,ip_dst=10.0.0.2/255.255.0.255", tcp, sim.Regs{}, true},
		{"ip,nw_proto=17", udp, sim.Regs{}, true},
		{"ip,nw_proto=17", tcp, sim.Regs{}, false},
		{"dl_type=0x0800,nw_proto=6,tp_dst=80", tcp, sim.Regs{}, true},
		{"ipv6,ipv6_src=2001:db8::/32", tcp6, sim.Regs{}, true},
		{"ipv6,ipv6_src=fe80::/10", tcp6, sim.Regs{}, false},
		{"ipv6,ipv6_dst=2001:db8::b", tcp6, sim.Regs{}, true},
		{"ipv6,ipv6_src=::", ns.Tagged(0), sim.Regs{}, false},
		{"tcp,tp_dst=80", tcp, sim.Regs{}, true},
		{"tcp,tp_dst=81", tcp, sim.Regs{}, false},
		{"tcp,tp_src=40000", tcp, sim.Regs{}, true},
		{"tcp,tp_dst=0x0050/0xfff0", tcp, sim.Regs{}, true},
		{"tcp,tp_dst=0x0060/0xfff0", tcp, sim.Regs{}, false},
		{"tcp,tcp_dst=80", tcp, sim.Regs{}, true},
		{"udp,tp_dst=53", udp, sim.Regs{}, true},
		{"udp,udp_dst=53", udp, sim.Regs{}, true},
		{"udp,udp_src=5353", udp, sim.Regs{}, true},
		{"tcp6,tp_dst=443", tcp6, sim.Regs{}, true},
		{"sctp,sctp_dst=9", sctp, sim.Regs{}, true},
		{"icmp,icmp_type=8,icmp_code=0", echo, sim.Regs{}, true},
		{"icmp,icmp_type=0", echo, sim.Regs{}, false},
		{"icmp6,icmpv6_type=128", echo6, sim.Regs{}, true},
		{"icmp6,icmp_type=128", echo6, sim.Regs{}, true}, // as ovs-ofctl dump-flows prints it
		{"icmp6,icmpv6_type=135,nd_target=2001:db8::b", ns, sim.Regs{}, true},
		{"icmp6,icmpv6_type=135,nd_target=2001:db8::/64", ns, sim.Regs{}, true},
		{"icmp6,icmpv6_type=135,nd_target=2001:db8::a", ns, sim.Regs{}, false},
		{"icmp6,icmpv6_type=135,nd_sll=02:00:00:00:00:0a", ns, sim.Regs{}, true},
		{"icmp6,icmpv6_type=135,nd_sll=00:00:00:00:00:00", ns, sim.Regs{}, false},
		{"icmp6,icmpv6_type=136,nd_tll=02:00:00:00:00:0b", na, sim.Regs{}, true},
		{"icmp6,icmpv6_type=135,nd_options_type=1", ns, sim.Regs{}, true},
		{"icmp6,icmpv6_type=136,nd_reserved=0", na, sim.Regs{}, true},
	} {
		name := fmt.Sprintf("%s/%s", c.match, c.p)
		t.Run(name, func(t *testing.T) {
			sw := parse(t, lines("priority=10,"+c.match+",actions=output:99", "priority=0,actions=drop"))
			res, err := sw.RunFrom(0, c.p, c.regs)
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Equal(res.Ports(), []int{99}); got != c.want {
				t.Errorf("matched = %v, want %v\n%s", got, c.want, res)
			}
		})
	}
}

func TestPriorityAndMiss(t *testing.T) {
	sw := parse(t, lines(
		"priority=10,ip,actions=output:1",
		"priority=20,ip,nw_dst=10.0.0.2,actions=output:2",
		"priority=0,actions=drop",
		"table=5,priority=10,in_port=9,actions=output:3",
	))
	for _, c := range []struct {
		p    sim.Packet
		want []int
	}{
		{sim.ICMPEcho(macA, macB, ipA, ipB), []int{2}},
		{sim.ICMPEcho(macA, macB, ipB, ipA), []int{1}},
		{sim.ARPRequest(macA, ipA, ipB), nil},
	} {
		res, err := sw.Run(c.p.At(4))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(res.Ports(), c.want) {
			t.Errorf("%s: went to %v, want %v\n%s", c.p, res.Ports(), c.want, res)
		}
	}

	// A real table miss drops and says so.
	res, err := sw.RunFrom(5, sim.ARPRequest(macA, ipA, ipB).At(4), sim.Regs{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Dropped || len(res.Steps) != 1 || !res.Steps[0].Miss || res.Steps[0].Table != 5 {
		t.Errorf("want one missed lookup in table 5 and a drop\n%s", res)
	}
	if !strings.Contains(res.String(), "table miss") {
		t.Errorf("trace does not mention the miss:\n%s", res)
	}
}

func TestAmbiguousMatch(t *testing.T) {
	sw := parse(t, lines(
		"priority=10,ip,actions=output:1",
		"priority=10,ip,nw_src=10.0.0.1,actions=output:2",
	))
	if _, err := sw.Run(sim.ICMPEcho(macA, macB, ipB, ipA).At(4)); err != nil {
		t.Errorf("one flow matches, got %v", err)
	}
	_, err := sw.Run(sim.ICMPEcho(macA, macB, ipA, ipB).At(4))
	if err == nil || !strings.Contains(err.Error(), "line 1, line 2") {
		t.Errorf("want an ambiguity error naming lines 1 and 2, got %v", err)
	}
}

func TestOutputInPort(t *testing.T) {
	p := sim.ICMPEcho(macA, macB, ipA, ipB).At(1)
	for _, c := range []struct {
		flow string
		want []int
	}{
		// OVS never echoes a packet out of the port it came in on...
		{"actions=output:1,output:2,output:3", []int{2, 3}},
		{"actions=3,1,2", []int{3, 2}},
		{"actions=load:1->NXM_NX_REG7[],output:NXM_NX_REG7[0..15]", nil},
		{"actions=load:5->NXM_NX_REG7[],output:NXM_NX_REG7[]", []int{5}},
		// ...unless told to.
		{"actions=in_port", []int{1}},
		{"actions=output:in_port", []int{1}},
		{"actions=output:2,IN_PORT", []int{2, 1}},
		// Changing in_port lifts the rule (the usual hairpin trick).
		{"actions=load:0->NXM_OF_IN_PORT[],output:1", []int{1}},
		{"actions=output:LOCAL", []int{sim.PortLocal}},
		{"actions=LOCAL", []int{sim.PortLocal}},
		{"actions=drop", nil},
	} {
		res := run(t, c.flow, p)
		if !slices.Equal(res.Ports(), c.want) {
			t.Errorf("%s: went to %v, want %v\n%s", c.flow, res.Ports(), c.want, res)
		}
	}
	res := run(t, "actions=output:1,output:2", p)
	if !strings.Contains(res.String(), "skipped: the packet came in on port 1") {
		t.Errorf("trace does not explain the skipped output:\n%s", res)
	}
}

func TestSetActions(t *testing.T) {
	p := sim.ICMPEcho(macA, macB, ipA, ipB).At(1)
	check := func(flows string, test func(o sim.Output) error) {
		t.Helper()
		res := run(t, flows, p)
		if len(res.Outputs) != 1 {
			t.Fatalf("%s: want one output, got %v\n%s", flows, res.Ports(), res)
		}
		if err := test(res.Outputs[0]); err != nil {
			t.Errorf("%s: %v\n%s", flows, err, res)
		}
	}
	check(lines(
		"actions=load:1->NXM_NX_REG5[2],load:0x3->NXM_NX_REG5[4..5],load:0x24b8c4->NXM_NX_REG6[],set_field:0xfbf650->metadata,goto_table:1",
		"table=1,reg5=0x34,reg6=0x24b8c4,metadata=0xfbf650,actions=output:2",
	), func(o sim.Output) error {
		if o.Regs.Reg[5] != 0x34 || o.Regs.Reg[6] != 0x24b8c4 || o.Regs.Metadata != 0xfbf650 {
			return fmt.Errorf("registers %s", o.Regs)
		}
		return nil
	})
	check("actions=set_field:0x1/0x1->reg5,set_field:0x10/0xf0->reg5,load:0xff->reg5[8..15],output:2", func(o sim.Output) error {
		if o.Regs.Reg[5] != 0xff11 {
			return fmt.Errorf("reg5 = %#x, want 0xff11", o.Regs.Reg[5])
		}
		return nil
	})
	check("actions=load:0xabcd->NXM_NX_REG0[],move:NXM_NX_REG0[0..7]->NXM_NX_REG1[8..15],move:reg0[8..15]->reg1[0..7],output:2", func(o sim.Output) error {
		if o.Regs.Reg[1] != 0xcdab {
			return fmt.Errorf("reg1 = %#x, want 0xcdab", o.Regs.Reg[1])
		}
		return nil
	})
	check("actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],mod_dl_src:02:00:00:00:00:ff,output:2", func(o sim.Output) error {
		if !slices.Equal(o.Packet.EthDst, macA) || !slices.Equal(o.Packet.EthSrc, macR) {
			return fmt.Errorf("got %s", o.Packet)
		}
		return nil
	})
	check("actions=set_field:02:00:00:00:00:ff->eth_dst,mod_dl_src:02:00:00:00:00:0b,output:2", func(o sim.Output) error {
		if !slices.Equal(o.Packet.EthDst, macR) || !slices.Equal(o.Packet.EthSrc, macB) {
			return fmt.Errorf("got %s", o.Packet)
		}
		return nil
	})
	check("ip,actions=mod_nw_src:10.9.9.9,set_field:10.8.8.8->nw_dst,output:2", func(o sim.Output) error {
		if o.Packet.IPSrc != netip.MustParseAddr("10.9.9.9") || o.Packet.IPDst != netip.MustParseAddr("10.8.8.8") {
			return fmt.Errorf("got %s", o.Packet)
		}
		return nil
	})
	check("actions=set_field:0x64->tun_id,output:2", func(o sim.Output) error {
		if o.Packet.TunID != 100 {
			return fmt.Errorf("tun_id %#x", o.Packet.TunID)
		}
		return nil
	})
	check("actions=set_tunnel:0x65,output:2", func(o sim.Output) error {
		if o.Packet.TunID != 101 {
			return fmt.Errorf("tun_id %#x", o.Packet.TunID)
		}
		return nil
	})
	check("actions=load:0x66->NXM_NX_TUN_ID[],output:2", func(o sim.Output) error {
		if o.Packet.TunID != 102 {
			return fmt.Errorf("tun_id %#x", o.Packet.TunID)
		}
		return nil
	})
	check(lines("actions=write_metadata:0x5/0xff,goto_table:1", "table=1,metadata=0x5,actions=note:00.01,output:2"), func(o sim.Output) error {
		if o.Regs.Metadata != 5 {
			return fmt.Errorf("metadata %#x", o.Regs.Metadata)
		}
		return nil
	})
}

func TestVLANActions(t *testing.T) {
	p := sim.ICMPEcho(macA, macB, ipA, ipB).At(1)
	vlans := func(res sim.Result) []int {
		var v []int
		for _, o := range res.Outputs {
			v = append(v, o.Packet.VLAN)
		}
		return v
	}
	for _, c := range []struct {
		flow string
		p    sim.Packet
		want []int
	}{
		{"actions=mod_vlan_vid:200,output:2,mod_vlan_vid:300,output:3,strip_vlan,output:4", p, []int{200, 300, 0}},
		{"actions=push_vlan:0x8100,set_field:4296->vlan_vid,output:2,pop_vlan,output:3", p, []int{200, 0}},
		{"dl_vlan=200,actions=strip_vlan,output:2", p.Tagged(200), []int{0}},
		{"dl_vlan=200,actions=set_field:4396->vlan_vid,output:2", p.Tagged(200), []int{300}},
		{"dl_vlan=200,actions=set_vlan_vid:5,output:2", p.Tagged(200), []int{5}},
		{"vlan_tci=0x1000/0x1000,actions=mod_vlan_vid:7,output:2", p.Tagged(200), []int{7}},
		{"actions=load:0x1064->NXM_OF_VLAN_TCI[],output:2", p, []int{100}},
		// clone works on a copy: the tag does not outlive it.
		{"actions=clone(mod_vlan_vid:200,output:2),output:3", p, []int{200, 0}},
	} {
		res := run(t, c.flow, c.p)
		if got := vlans(res); !slices.Equal(got, c.want) {
			t.Errorf("%s: VLANs %v, want %v\n%s", c.flow, got, c.want, res)
		}
	}
	// A tag with VID 0 (push_vlan alone) cannot be represented by Packet.
	if _, err := parse(t, "actions=push_vlan:0x8100,output:2").Run(p); err == nil {
		t.Error("want an error for a priority-tagged output")
	}
}

func TestClone(t *testing.T) {
	res := run(t, lines(
		"actions=load:1->NXM_NX_REG0[],clone(load:2->NXM_NX_REG0[],mod_dl_dst:02:00:00:00:00:ff,resubmit(,1)),resubmit(,1)",
		"table=1,reg0=1,actions=output:3",
		"table=1,reg0=2,actions=output:2",
	), sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
	if !slices.Equal(res.Ports(), []int{2, 3}) {
		t.Fatalf("went to %v, want [2 3]\n%s", res.Ports(), res)
	}
	if o := res.Outputs[0]; o.Regs.Reg[0] != 2 || !slices.Equal(o.Packet.EthDst, macR) {
		t.Errorf("inside the clone: %s %s", o.Regs, o.Packet)
	}
	if o := res.Outputs[1]; o.Regs.Reg[0] != 1 || !slices.Equal(o.Packet.EthDst, macB) {
		t.Errorf("after the clone: %s %s", o.Regs, o.Packet)
	}
}

// goto_table continues in a later table and ends the flow; resubmit runs
// another table (and whatever goto_table chain it starts) and comes back.
func TestResubmitVersusGoto(t *testing.T) {
	res := run(t, lines(
		"table=0,actions=resubmit(,10),resubmit(,30),output:4",
		"table=10,actions=load:1->NXM_NX_REG0[],goto_table:20",
		"table=20,reg0=1,actions=output:2",
		"table=30,reg0=1,actions=output:3",
	), sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
	if !slices.Equal(res.Ports(), []int{2, 3, 4}) {
		t.Errorf("went to %v, want [2 3 4]: the goto_table inside the first resubmit ends only that resubmit; registers persist\n%s", res.Ports(), res)
	}
	var got []string
	for _, s := range res.Steps {
		got = append(got, fmt.Sprintf("%d/%s/%d", s.Table, s.Via, s.Depth))
	}
	want := []string{"0/start/0", "10/resubmit/1", "20/goto_table/1", "30/resubmit/1"}
	if !slices.Equal(got, want) {
		t.Errorf("steps %v, want %v", got, want)
	}

	// A miss inside a resubmit returns to the next action; a miss after
	// goto_table drops.
	res = run(t, "actions=resubmit(,10),output:2", sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
	if !slices.Equal(res.Ports(), []int{2}) || !res.Steps[1].Miss {
		t.Errorf("resubmit miss: went to %v\n%s", res.Ports(), res)
	}
	res = run(t, "actions=goto_table:10", sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
	if !res.Dropped || !res.Steps[1].Miss {
		t.Errorf("goto_table miss: want a drop\n%s", res)
	}
}

// resubmit(P,T) looks up as if from port P, but the actions run with the
// real in_port (OVS restores it after the lookup).
func TestResubmitInPort(t *testing.T) {
	res := run(t, lines(
		"table=0,in_port=1,actions=resubmit(5,10)",
		"table=10,priority=10,in_port=5,actions=output:1,output:5,output:6",
		"table=10,priority=0,actions=drop",
	), sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
	if !slices.Equal(res.Ports(), []int{5, 6}) {
		t.Errorf("went to %v, want [5 6]\n%s", res.Ports(), res)
	}
	if res.Steps[1].InPort != 5 {
		t.Errorf("lookup in_port %d, want 5", res.Steps[1].InPort)
	}
	// resubmit:P is resubmit(P,) : the current table.
	res = run(t, lines(
		"priority=10,in_port=1,actions=resubmit:7",
		"priority=10,in_port=7,actions=output:2",
	), sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
	if !slices.Equal(res.Ports(), []int{2}) {
		t.Errorf("resubmit:7 went to %v, want [2]\n%s", res.Ports(), res)
	}
}

func TestLoops(t *testing.T) {
	for _, flows := range []string{
		"actions=resubmit(,0)",
		lines("actions=resubmit(,1)", "table=1,actions=resubmit(,0)"),
		lines("actions=goto_table:1", "table=1,actions=resubmit(,0)"),
	} {
		_, err := parse(t, flows).Run(sim.ICMPEcho(macA, macB, ipA, ipB).At(1))
		if err == nil || !strings.Contains(err.Error(), "depth") {
			t.Errorf("%q: want a depth error, got %v", flows, err)
		}
	}
	// A long chain to later tables is not a loop.
	var chain []string
	for i := range 200 {
		chain = append(chain, fmt.Sprintf("table=%d,actions=resubmit(,%d)", i, i+1))
	}
	chain = append(chain, "table=200,actions=output:2")
	if res := run(t, lines(chain...), sim.ICMPEcho(macA, macB, ipA, ipB).At(1)); !slices.Equal(res.Ports(), []int{2}) {
		t.Errorf("chain went to %v", res.Ports())
	}
}

// Port ranges as the compiler renders them (go-openvswitch's
// TransportDestinationPortRange(...).MaskedPorts()).
func TestMaskedPortRanges(t *testing.T) {
	for _, r := range [][2]uint16{{1000, 1999}, {80, 80}, {1, 65535}, {5001, 5002}, {1024, 2047}} {
		masked, err := ovs.TransportDestinationPortRange(r[0], r[1]).MaskedPorts()
		if err != nil {
			t.Fatal(err)
		}
		var fl []string
		for _, m := range masked {
			text, err := m.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			fl = append(fl, "priority=10,tcp,"+string(text)+",actions=output:2",
				"priority=10,udp,"+string(text)+",actions=output:3")
		}
		fl = append(fl, "priority=0,actions=drop")
		sw := parse(t, lines(fl...))
		for _, port := range []int{0, 1, 79, 80, 81, 999, 1000, 1001, 1023, 1024, 1500, 1999, 2000, 2047, 2048, 5000, 5001, 5002, 5003, 65535} {
			in := port >= int(r[0]) && port <= int(r[1])
			for proto, out := range map[uint8]int{sim.ProtoTCP: 2, sim.ProtoUDP: 3} {
				res, err := sw.Run(sim.IP(macA, macB, ipA, ipB, proto, 1234, uint16(port)).At(1))
				if err != nil {
					t.Fatalf("range %v port %d: %v", r, port, err)
				}
				if got := slices.Equal(res.Ports(), []int{out}); got != in {
					t.Errorf("range %d-%d, proto %d, port %d: matched %v, want %v", r[0], r[1], proto, port, got, in)
				}
			}
		}
	}
}

// Set-field on a field the packet does not have is ignored at run time
// (OVS: "unmet prerequisites, set_field ignored").
func TestSetFieldUnmetAtRunTime(t *testing.T) {
	ns := sim.NeighborSolicitation(macA, llA, ip6B)
	res := run(t, "icmp6,icmpv6_type=135,actions=set_field:136->icmpv6_type,set_field:02:00:00:00:00:ff->nd_sll,output:2", ns.At(1))
	o := res.Outputs[0].Packet
	if o.ICMPType != sim.ICMPv6NA || !slices.Equal(o.NDSLL, macA) {
		t.Errorf("got %s", o)
	}
	if !strings.Contains(res.String(), "ignored") {
		t.Errorf("trace does not say the set_field was ignored:\n%s", res)
	}
}

// The responders Loom builds: ARP reply and neighbour advertisement made
// from the request, sent back where it came from.
func TestResponders(t *testing.T) {
	res := run(t, "arp,arp_op=1,arp_tpa=10.0.0.2,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:0b->eth_src,load:0x2->NXM_OF_ARP_OP[],move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],set_field:02:00:00:00:00:0b->arp_sha,move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:10.0.0.2->arp_spa,in_port",
		sim.ARPRequest(macA, ipA, ipB).At(3))
	want := sim.ARPReply(macB, ipB, macA, ipA).At(3)
	if len(res.Outputs) != 1 || res.Outputs[0].Port != 3 || fmt.Sprint(res.Outputs[0].Packet) != fmt.Sprint(want) {
		t.Errorf("ARP reply: got %v %v, want %s\n%s", res.Ports(), res.Outputs, want, res)
	}

	res = run(t, lines(
		"priority=100,icmp6,icmpv6_type=135,nd_target=2001:db8::b,actions=move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:0b->eth_src,move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],set_field:2001:db8::b->ipv6_src,set_field:136->icmpv6_type,set_field:0x60000000->nd_reserved,set_field:2->nd_options_type,goto_table:31",
		"table=31,priority=100,icmp6,icmpv6_type=136,nd_target=2001:db8::b,actions=set_field:02:00:00:00:00:0b->nd_tll,in_port",
	), sim.NeighborSolicitation(macA, llA, ip6B).At(3))
	if !slices.Equal(res.Ports(), []int{3}) {
		t.Fatalf("NA went to %v\n%s", res.Ports(), res)
	}
	o := res.Outputs[0].Packet
	if o.ICMPType != sim.ICMPv6NA || o.IPSrc != ip6B || o.IPDst != llA || !slices.Equal(o.EthDst, macA) ||
		!slices.Equal(o.EthSrc, macB) || !slices.Equal(o.NDTLL, macB) || o.NDSLL != nil ||
		o.NDReserved != 0x60000000 || o.NDOptionsType != 2 || o.NDTarget != ip6B {
		t.Errorf("NA: %s", o)
	}
}

func TestOutputsAreCopies(t *testing.T) {
	p := sim.ICMPEcho(macA, macB, ipA, ipB).At(1)
	res := run(t, "actions=output:2,mod_dl_dst:02:00:00:00:00:ff,output:3", p)
	if !slices.Equal(res.Outputs[0].Packet.EthDst, macB) || !slices.Equal(res.Outputs[1].Packet.EthDst, macR) {
		t.Fatalf("outputs: %v", res.Outputs)
	}
	res.Outputs[0].Packet.EthSrc[0] = 0xee
	if res.Outputs[1].Packet.EthSrc[0] == 0xee || p.EthSrc[0] == 0xee || macA[0] == 0xee {
		t.Error("outputs share memory with each other or with the input")
	}
}

func TestDumpSyntax(t *testing.T) {
	dump := `OFPST_FLOW reply (OF1.3) (xid=0x2):
 cookie=0x4c4d03030024b8c4, duration=5.123s, table=0, n_packets=3, n_bytes=180, idle_age=1, priority=100,in_port=1 actions=load:0x24b8c4->NXM_NX_REG6[],set_field:0xfbf650->metadata,goto_table:10
 cookie=0x4c4d000100000000, duration=5.123s, table=0, n_packets=0, n_bytes=0, idle_age=5, priority=0 actions=drop
NXST_FLOW reply (xid=0x4):
 cookie=0x4c4d03060024b8c4, table=10, priority=90,arp,reg6=0x24b8c4,metadata=0xfbf650,dl_src=02:00:00:00:00:0a,arp_spa=10.0.0.1,arp_sha=02:00:00:00:00:0a actions=resubmit(,20),resubmit(,30)
 table=20, reset_counts actions=output:2
 cookie=0x1, table=30, hard_timeout=10, importance=5, send_flow_rem priority=5,icmp6,icmp_type=135 actions=output:3
`
	sw := parse(t, dump)
	if sw.Len() != 5 || !slices.Equal(sw.Tables(), []int{0, 10, 20, 30}) {
		t.Errorf("parsed %d flows in tables %v", sw.Len(), sw.Tables())
	}
	res, err := sw.Run(sim.ARPRequest(macA, ipA, ipB).At(1))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Ports(), []int{2}) {
		t.Errorf("went to %v\n%s", res.Ports(), res)
	}
	if s := res.Steps[0]; s.Cookie != 0x4c4d03030024b8c4 || s.Priority != 100 || s.Line != 2 {
		t.Errorf("first step %+v", s)
	}
	if s, _ := res.StepIn(20); s.Priority != 32768 {
		t.Errorf("a flow without priority= has OVS's default 32768, got %d", s.Priority)
	}
	if s, _ := res.StepIn(30); !s.Miss {
		t.Errorf("an ARP packet does not match icmp6 in table 30: %+v", s)
	}
}

func TestParseSkips(t *testing.T) {
	sw := parse(t, "\n# a comment\n  # an indented comment\n\npriority=1,actions=drop\n\n")
	if sw.Len() != 1 {
		t.Errorf("parsed %d flows, want 1", sw.Len())
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ flow, want string }{
		{"priority=1,foo=1,actions=drop", `"foo"`},
		{"priority=1,dl_vlan_pcp=3,actions=drop", `"dl_vlan_pcp"`},
		{"priority=1,ct_state=+trk,actions=drop", `"ct_state"`},
		{"priority=1,bogus,actions=drop", `"bogus"`},
		{"priority=1,actions=frobnicate", `"frobnicate"`},
		{"priority=1,actions=NORMAL", `"NORMAL"`},
		{"priority=1,actions=controller", `"controller"`},
		{"priority=1,actions=ct(commit,zone=1)", `ct(commit,zone=1)`},
		{"priority=1,actions=learn(table=1,NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[])", "learn("},
		{"priority=1,NXM_NX_REG6=1,actions=drop", "OVS name (e.g. reg6)"},
		{"priority=1,in_port", `"in_port"`},
		{"priority=1,in_port=1", "no actions"},
		{"priority=1,actions=", "empty actions"},
		{"priority=1,nw_src=10.0.0.1,actions=drop", "nw_src needs ip"},
		{"priority=1,ip,tp_dst=80,actions=drop", "tp_dst needs tcp, udp or sctp"},
		{"priority=1,tcp,udp_dst=80,actions=drop", "udp_dst needs udp"},
		{"priority=1,arp_tpa=10.0.0.1,actions=drop", "arp_tpa needs arp"},
		{"priority=1,ipv6,ipv6_src=::1,nw_proto=6,icmp_type=1,actions=drop", "icmp_type needs icmp or icmp6"},
		{"priority=1,icmp6,nd_target=::1,actions=drop", "nd_target needs icmp6 with icmp_type=135 or 136"},
		{"priority=1,icmp6,icmpv6_type=135,nd_tll=00:00:00:00:00:01,actions=drop", "nd_tll needs icmp6 with icmp_type=136"},
		{"priority=1,ip,actions=set_field:10.0.0.1->arp_tpa", "writing arp_tpa needs arp"},
		{"priority=1,ip,actions=move:NXM_OF_ARP_SPA[]->NXM_NX_REG0[]", "reading arp_spa needs arp"},
		{"priority=1,icmp6,icmpv6_type=135,actions=set_field:136->icmpv6_type,set_field:02:00:00:00:00:01->nd_tll", "writing nd_tll needs icmp6 with icmp_type=136"},
		{"priority=1,actions=load:1->NXM_OF_ETH_TYPE[]", "read-only"},
		{"priority=1,actions=set_field:1->NXM_NX_REG0", "OVS field names (reg0)"},
		{"priority=1,actions=set_field:1->nonesuch", `"nonesuch"`},
		{"priority=1,actions=load:0x100->NXM_NX_REG0[0..7]", "does not fit into 8 bits"},
		{"priority=1,actions=load:1->NXM_NX_REG0[40]", "outside"},
		{"priority=1,actions=move:NXM_NX_REG0[0..3]->NXM_NX_REG1[0..7]", "4 bits, destination 8"},
		{"table=10,priority=1,actions=goto_table:10", "later table"},
		{"table=10,priority=1,actions=goto_table:5", "later table"},
		{"priority=1,actions=goto_table:10,output:1", "order"},
		{"priority=1,actions=goto_table:10,write_metadata:0x1", "order"},
		{"priority=1,actions=goto_table:10,goto_table:11", "order"},
		{"priority=1,actions=clone(goto_table:5)", "not allowed inside clone"},
		{"priority=1,actions=drop,output:1", `"drop" must not be accompanied`},
		{"priority=1,actions=strip_vlan", "does not guarantee a VLAN tag"},
		{"priority=1,actions=set_vlan_vid:5", "does not guarantee a VLAN tag"},
		{"priority=1,actions=set_field:4296->vlan_vid", "needs a VLAN tag"},
		{"priority=1,dl_vlan=5,actions=set_field:200->vlan_vid", "present bit"},
		{"priority=1,actions=push_vlan:0x8100,set_field:200->vlan_vid", "present bit"},
		{"priority=1,actions=push_vlan:0x0800", "not a VLAN ethertype"},
		{"priority=1,dl_vlan=5,actions=push_vlan:0x8100", "double tagging"},
		{"priority=1,ip,arp,actions=drop", "conflicts"},
		{"priority=1,reg0=1,reg0=2,actions=drop", "conflicts"},
		{"priority=1,actions=output:lm-a1", "--no-names"},
		{"priority=1,actions=output:0", "not an OpenFlow port"},
		{"priority=1,actions=resubmit(,)", "at least one"},
		{"priority=1,actions=resubmit(,1,ct)", "ct variant"},
		{"priority=1,in_port=1/1,actions=drop", "cannot be masked"},
		{"priority=1,dl_vlan=5000,actions=drop", "dl_vlan"},
		{"priority=1,tcp,tp_dst=70000,actions=drop", "does not fit"},
		{"priority=1,ip,nw_src=10.0.0.0/33,actions=drop", "prefix length"},
		{"priority=1,dl_src=02:00:00:00:00,actions=drop", "not an Ethernet address"},
		{"priority=1,ipv6,ipv6_src=10.0.0.1,actions=drop", "not an IPv6 address"},
		{"table=255,actions=drop", "table=255"},
		{"priority=70000,actions=drop", "priority=70000"},
		{"priority=1,priority=2,actions=drop", "priority=2"},
		{"priority=1,actions=set_tunnel:0x100000000", "set_tunnel64"},
		{"priority=1,actions=strip_vlan:1", "takes no argument"},
		{"priority=1,actions=goto_table", "needs an argument"},
	} {
		_, err := sim.Parse("# flow under test:\n" + c.flow)
		switch {
		case err == nil:
			t.Errorf("%s: no error, want one containing %q", c.flow, c.want)
		case !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "line 2: "):
			t.Errorf("%s:\n got error %q\nwant it on line 2 and containing %q", c.flow, err, c.want)
		}
	}

	// Two flows with the same identity: one would replace the other.
	_, err := sim.Parse(lines("priority=5,ip,nw_src=10.0.0.1,actions=drop", "priority=5,nw_src=10.0.0.1,ip,actions=output:1"))
	if err == nil || !strings.Contains(err.Error(), "line 2: same table, priority and match as line 1") {
		t.Errorf("duplicate: got %v", err)
	}
	// ...but the same match at another priority or table is fine.
	parse(t, lines("priority=5,ip,actions=drop", "priority=6,ip,actions=drop", "table=1,priority=5,ip,actions=drop"))
}

func TestPacketChecks(t *testing.T) {
	sw := parse(t, "actions=output:2")
	bad := map[string]sim.Packet{
		"IP fields on ARP":     {EthType: sim.EthTypeARP, IPSrc: ipA},
		"ARP fields on IP":     {EthType: sim.EthTypeIPv4, ARPOp: 1},
		"ports on ICMP":        {EthType: sim.EthTypeIPv4, Proto: sim.ProtoICMP, TPDst: 80},
		"ICMP on TCP":          {EthType: sim.EthTypeIPv4, Proto: sim.ProtoTCP, ICMPType: 8},
		"IPv6 address in IPv4": {EthType: sim.EthTypeIPv4, IPSrc: ip6A},
		"ND on echo":           sim.Packet{EthType: sim.EthTypeIPv6, Proto: sim.ProtoICMPv6, ICMPType: 128, NDTarget: ip6B},
		"short MAC":            {EthSrc: macA[:3]},
		"VLAN 5000":            {VLAN: 5000},
		"reserved in_port":     {InPort: 0xfff0},
		"forgotten EthType":    {IPSrc: ipA, IPDst: ipB},
	}
	for name, p := range bad {
		if _, err := sw.Run(p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	for name, p := range map[string]sim.Packet{
		"ARP":       sim.ARPRequest(macA, ipA, ipB),
		"NS":        sim.NeighborSolicitation(macA, llA, ip6B),
		"NA":        sim.NeighborAdvertisement(macB, macA, ip6B, llA, ip6B),
		"UDP6":      sim.UDP(macA, macB, netip.AddrPortFrom(ip6A, 1), netip.AddrPortFrom(ip6B, 2)),
		"broadcast": sim.Broadcast(macA),
		"empty":     {},
	} {
		if _, err := sw.Run(p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestRunFromStage(t *testing.T) {
	// One stage in isolation: what table 60 does with a given reg7.
	sw := parse(t, lines(
		"table=60,priority=100,reg7=0x24b8c4,actions=output:5",
		"table=60,priority=100,metadata=0xfbf650,reg7=0x400009dc,actions=set_field:0x64->tun_id,output:60001",
		"table=60,priority=0,actions=drop",
	))
	res, err := sw.RunFrom(60, sim.Broadcast(macA).At(1), sim.Regs{Metadata: 0xfbf650, Reg: [16]uint32{7: 0x400009dc}})
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := res.OutputTo(60001); !ok || o.Packet.TunID != 0x64 || len(res.Outputs) != 1 {
		t.Errorf("got %v\n%s", res.Outputs, res)
	}
	if s := res.Steps[0]; s.Regs.Reg[7] != 0x400009dc || s.Regs.Metadata != 0xfbf650 {
		t.Errorf("step registers %s", s.Regs)
	}
}
