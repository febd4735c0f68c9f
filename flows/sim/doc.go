// Package sim simulates the OpenFlow tables Loom programs: it takes typed
// flows (sim.New: a host's compiled flows) or flow text (sim.Parse, through
// flows.ParseText: what flows.HostState.FlowText renders, or what
// ovs-ofctl dump-flows prints) and walks a packet through them as Open
// vSwitch would, recording every lookup and every copy of the packet that
// leaves the switch. It is pure: no I/O, no logging, deterministic.
//
//	sw, err := sim.New(hs.Flows()) // or sim.Parse(string(text))
//	res, err := sw.Run(sim.ARPRequest(mac, ip, target).At(ofport))
//	res.Ports()   // where copies went, in order
//	res.Steps     // every lookup: table, flow, line, cookie, registers
//	res.String()  // a trace for humans
//
// RunFrom starts at any table with given metadata and registers, to test
// one stage. An Output's Packet is a valid input, so a copy that leaves
// through a tunnel can be fed to the switch of the host at the other end.
//
// # Semantics
//
// They follow OVS (ofproto-dpif-xlate.c) on an OpenFlow 1.3 bridge:
//
//   - The highest-priority matching flow of a table wins. Two matching
//     flows of the same top priority are an error (OVS would pick one
//     arbitrarily); no match is a table miss: drop.
//   - Actions run in order on one packet state. goto_table continues in a
//     later table and ends the flow. resubmit(P,T) looks the current
//     packet up in table T (P replaces in_port for that lookup only; the
//     actions then run with the real in_port), runs what it matches,
//     including any goto_table chain, and returns to the action after the
//     resubmit; a miss there does nothing. clone(...) runs its actions on
//     a copy of the packet and registers. Field changes, metadata and
//     registers persist across goto_table and resubmit.
//   - output:P to the port the packet came in on is skipped, as OVS does
//     (in_port and output:in_port send it back). Each Output records the
//     packet as it is at that action.
//   - set_field and load on a field the packet does not have (arp_tpa of
//     an IP packet) are ignored, as OVS ignores them at run time.
//   - Translation depth and the number of resubmits are limited as in OVS
//     (64 nested lookups in a table not after the current one; 4096
//     lookups): a loop is an error.
//
// Tunnel metadata (TunID, TunSrc, TunDst) stays with the packet to every
// output, as in OVS; it only means something on a tunnel port.
//
// # Syntax
//
// New and Parse are strict, so that what the simulator accepts is what OVS
// installs unchanged: unknown keywords, fields and actions are errors
// (flows.ParseFlow), and so is every flow OVS would refuse or silently
// alter (flows.Flow.Validate), or that the simulator does not model.
//
// Matches: the protocols ip ipv4 ip4 arp rarp icmp tcp udp sctp ipv6 ip6
// icmp6 tcp6 udp6 sctp6; in_port (number or LOCAL); dl_src/eth_src,
// dl_dst/eth_dst (MAC[/mask]); dl_type/eth_type; dl_vlan (VID, 0xffff for
// untagged), vlan_tci[/mask], vlan_vid[/mask] (0x1000 = present);
// metadata, reg0..reg15, xreg0..xreg7, tun_id/tunnel_id (value[/mask],
// hex or decimal); tun_src, tun_dst; arp_op, arp_spa, arp_tpa (IPv4 or
// CIDR), arp_sha, arp_tha; nw_src/ip_src, nw_dst/ip_dst (IPv4, CIDR or
// address/mask); ipv6_src, ipv6_dst (IPv6 or CIDR); nw_proto/ip_proto;
// tp_src, tp_dst, tcp_*, udp_*, sctp_* (port or value/mask); icmp_type, icmp_code (also for
// ICMPv6, as dump-flows prints them), icmpv6_type, icmpv6_code; nd_target,
// nd_sll, nd_tll, nd_reserved, nd_options_type; subfields such as
// reg5[2]=1 or reg5[0..3]=0x5. Ignored: idle_timeout, hard_timeout,
// importance, the statistics of a dump (duration, n_packets, n_bytes,
// idle_age, hard_age) and flow flags.
//
// Actions: drop; output:P, P alone, output:in_port, in_port, LOCAL,
// output:FIELD[bits]; load:V->FIELD[bits] (NXM/OXM or OVS names);
// set_field:V[/M]->FIELD (OVS names); move:SRC[bits]->DST[bits];
// mod_dl_src, mod_dl_dst, mod_nw_src, mod_nw_dst, mod_tp_src, mod_tp_dst;
// set_tunnel, set_tunnel64; mod_vlan_vid (a push_vlan and a set_field, as
// OVS holds it on an OpenFlow 1.3 bridge: a push_vlan unless the packet is
// known to carry a tag), set_vlan_vid, push_vlan, strip_vlan, pop_vlan;
// resubmit(P,T),
// resubmit(,T), resubmit:P; clone(...); note; and the instructions
// write_metadata:V[/M] and goto_table:T.
//
// These are what flows.ParseFlow reads (see docs/design.md); the parser
// holds each action as OVS holds it (mod_dl_src as set_field, and so on).
//
// Not simulated (errors): NORMAL, FLOOD, ALL, CONTROLLER and other
// reserved ports, groups, meters, conntrack (ct, ct_state...), learn,
// multipath, bundle, dec_ttl, MPLS, NSH, tunnel options and flags,
// write_actions/clear_actions, IPv6 flow labels, nw_tos/ecn/ttl,
// tcp_flags, ip_frag, VLAN priorities (dl_vlan_pcp), two VLAN tags, moves
// into vlan_vid, and port names (dump with --no-names).
//
// A Network joins the switches of a topology's hosts: it follows a packet
// from a port through every host it reaches (tunnels to other Loom hosts,
// physnets shared by hosts) and returns a typed Trace: per host, the
// lookups, the exits named by the topology object behind each bridge port,
// and where a packet that left nothing ended (the table, whether no flow
// matched, and the packet as the missed lookup saw it). loomctl trace only
// prints it.
//
// Owns: the simulation of a packet through a host's flows (loomctl trace).
// May import, of Loom's packages: flows, topology (imports_test.go at the
// module's root holds these rules).
package sim
