package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/flows/sim"
	"github.com/loom-sdn/loom/topology"
)

// TestSimParity holds loomctl trace to the truth: every host of several
// topologies gets its compiled flows on a real bridge (ovs-vswitchd,
// userspace datapath, every port the host would have), and a corpus of
// packets (each local port to every port of its switch by ICMP, ARP, TCP
// and UDP on the ACLs' ports, IPv6 neighbour discovery, spoofed sources,
// broadcasts, unknown destinations; from each tunnel, endpoint and VLAN
// uplink) goes through both flows/sim and OVS's own ofproto/trace. They
// must agree on every lookup (table, priority, cookie; misses too) and on
// the ports the packet leaves by. Every stage of the pipeline must be
// crossed by the corpus.
func TestSimParity(t *testing.T) {
	t.Parallel()
	l := NewLab(t, "lm-t27-", 1)
	o := labOVS(t, l, "h1")
	files := []string{
		"flows/testdata/full/topology.yaml",
		"deploy/examples/vlan-trunk.yaml",
		"deploy/examples/l2-gateway.yaml",
		"deploy/examples/external-vtep.yaml",
		"deploy/examples/acls.yaml",
		"deploy/examples/three-hosts-overlay.yaml",
	}
	tables := map[int]int{}
	packets := 0
	for _, f := range files {
		topo, err := topology.Load(filepath.Join(repoRoot(), f))
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range topo.Hosts {
			hs, sw := o.loadHost(t, topo, h.Name)
			for _, pr := range parityCorpus(topo, hs) {
				packets++
				want, err := sw.Run(pr.p)
				if err != nil {
					t.Errorf("%s host %s, %s: the simulator cannot run it: %v", f, h.Name, pr.name, err)
					continue
				}
				got := o.trace(t, pr.p)
				if d := parityDiff(want, got); d != "" {
					t.Errorf("%s host %s, %s (%s): flows/sim and ofproto/trace differ: %s\nsimulator:\n%s\novs:\n%s",
						f, h.Name, pr.name, pr.p, d, want, got.raw)
					continue
				}
				for _, s := range want.Steps {
					tables[s.Table]++
				}
			}
		}
	}
	t.Logf("%d packets through %d topologies; lookups per table: %v", packets, len(files), tables)

	// The comparison can fail: with one flow missing from OVS's copy, the
	// packet that used it walks otherwise there.
	topo, err := topology.Load(filepath.Join(repoRoot(), files[0]))
	if err != nil {
		t.Fatal(err)
	}
	hs, sw := o.loadHost(t, topo, topo.Hosts[0].Name)
	probe := parityCorpus(topo, hs)[0]
	want, err := sw.Run(probe.p)
	if err != nil {
		t.Fatal(err)
	}
	if d := parityDiff(want, o.trace(t, probe.p)); d != "" {
		t.Fatalf("control: %s differs before any flow is removed: %s", probe.name, d)
	}
	first := want.Steps[0]
	o.run(t, nil, "ovs-ofctl", "-O", "OpenFlow13", "del-flows", "unix:"+filepath.Join(o.rundir, parityBridge+".mgmt"),
		fmt.Sprintf("cookie=%#x/-1,table=%d", first.Cookie, first.Table))
	if d := parityDiff(want, o.trace(t, probe.p)); d == "" {
		t.Errorf("%s: no difference found with the flow of its first lookup deleted from OVS", probe.name)
	}
	for _, tb := range flows.Pipeline {
		if tables[tb.ID] == 0 {
			t.Errorf("no packet of the corpus crossed table %d (%s)", tb.ID, tb.Name)
		}
	}
}

// labOVSHost is a lab host's OVS, reached through its sockets (no shell per
// call: the corpus is thousands of traces).
type labOVSHost struct {
	rundir, vswitchd string
}

func labOVS(t *testing.T, l *Lab, host string) *labOVSHost {
	t.Helper()
	out := l.MustExec(host, "sh", "-c", "echo $OVS_RUNDIR")
	o := &labOVSHost{rundir: strings.TrimSpace(out)}
	ctl, _ := filepath.Glob(filepath.Join(o.rundir, "ovs-vswitchd.*.ctl"))
	if len(ctl) != 1 {
		t.Fatalf("ovs-vswitchd's control socket in %s: %v", o.rundir, ctl)
	}
	o.vswitchd = ctl[0]
	return o
}

const parityBridge = "lm-par"

func (o *labOVSHost) run(t *testing.T, stdin []byte, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Env = append(os.Environ(), "OVS_RUNDIR="+o.rundir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// loadHost compiles a host of topo, loads it on the bridge and returns
// its state and its simulated switch.
func (o *labOVSHost) loadHost(t *testing.T, topo *topology.Topology, host string) (*flows.HostState, *sim.Switch) {
	t.Helper()
	hs, err := flows.CompileHost(topo, host)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := sim.New(hs.Flows())
	if err != nil {
		t.Fatal(err)
	}
	o.load(t, hs)
	return hs, sw
}

// load makes the bridge anew with every port of hs at its OpenFlow port
// (workloads and uplinks as internal ports, tunnels as themselves) and
// hs's flows.
func (o *labOVSHost) load(t *testing.T, hs *flows.HostState) {
	t.Helper()
	db := "--db=unix:" + filepath.Join(o.rundir, "db.sock")
	args := []string{db, "--", "--if-exists", "del-br", parityBridge, "--", "add-br", parityBridge,
		"--", "set", "bridge", parityBridge, "datapath_type=netdev", "protocols=OpenFlow13", "fail_mode=secure"}
	for _, p := range hs.Ports {
		typ := p.Type
		if typ == "" || typ == "system" {
			typ = "internal"
		}
		args = append(args, "--", "add-port", parityBridge, p.Name, "--", "set", "interface", p.Name,
			"type="+typ, fmt.Sprintf("ofport_request=%d", p.Ofport))
		for k, v := range p.Options {
			args = append(args, fmt.Sprintf("options:%s=%s", k, v))
		}
	}
	o.run(t, nil, "ovs-vsctl", args...)
	// The bridge deleted and added in one transaction is the same switch
	// to ovs-vswitchd, flows and all: replace them.
	o.run(t, hs.FlowText(), "ovs-ofctl", "-O", "OpenFlow13", "--bundle", "replace-flows", "unix:"+filepath.Join(o.rundir, parityBridge+".mgmt"), "-")
}

// ovsTrace is what ofproto/trace reported.
type ovsTrace struct {
	steps   []paritySteps
	outputs []int
	raw     string
}

type paritySteps struct {
	table, priority int // priority -1: no flow matched
	cookie          uint64
}

var (
	traceLookup  = regexp.MustCompile(`^\s*(\d+)\. (?:.*?)(?:, )?priority (\d+)(?:, cookie (0x[0-9a-f]+))?$`)
	traceNoMatch = regexp.MustCompile(`^\s*(\d+)\. No match\.?$`)
	traceOutput  = regexp.MustCompile(`^\s*(?:output:(\d+)|(IN_PORT))$`)
)

func (o *labOVSHost) trace(t *testing.T, p sim.Packet) ovsTrace {
	t.Helper()
	raw := o.run(t, nil, "ovs-appctl", "-t", o.vswitchd, "ofproto/trace", parityBridge, ovsFlow(p))
	tr := ovsTrace{raw: raw}
	lines := bufio.NewScanner(strings.NewReader(raw))
	var prev []string
	for lines.Scan() {
		prev = append(prev, lines.Text())
	}
	for i, line := range prev {
		if strings.HasPrefix(line, "Final flow:") {
			break
		}
		if m := traceNoMatch.FindStringSubmatch(line); m != nil {
			tb, _ := strconv.Atoi(m[1])
			tr.steps = append(tr.steps, paritySteps{table: tb, priority: -1})
			continue
		}
		if m := traceLookup.FindStringSubmatch(line); m != nil {
			tb, _ := strconv.Atoi(m[1])
			pr, _ := strconv.Atoi(m[2])
			var c uint64
			if m[3] != "" {
				c, _ = strconv.ParseUint(m[3][2:], 16, 64)
			}
			tr.steps = append(tr.steps, paritySteps{table: tb, priority: pr, cookie: c})
			continue
		}
		if m := traceOutput.FindStringSubmatch(line); m != nil {
			if i+1 < len(prev) && strings.Contains(prev[i+1], ">> skipping output to input port") {
				continue
			}
			port := p.InPort
			if m[1] != "" {
				port, _ = strconv.Atoi(m[1])
			}
			tr.outputs = append(tr.outputs, port)
		}
	}
	return tr
}

// parityDiff says how the simulator's walk and OVS's differ ("" if not).
func parityDiff(want sim.Result, got ovsTrace) string {
	var ws []paritySteps
	for _, s := range want.Steps {
		ps := paritySteps{table: s.Table, priority: s.Priority, cookie: s.Cookie}
		if s.Miss {
			ps = paritySteps{table: s.Table, priority: -1}
		}
		ws = append(ws, ps)
	}
	if !slices.Equal(ws, got.steps) {
		return fmt.Sprintf("lookups %v (simulator) against %v (ovs)", ws, got.steps)
	}
	if !slices.Equal(want.Ports(), got.outputs) {
		return fmt.Sprintf("outputs %v (simulator) against %v (ovs)", want.Ports(), got.outputs)
	}
	if strings.Contains(got.raw, "Nonexistent output port") {
		return "ovs sent to a port the bridge does not have"
	}
	return ""
}

// ovsFlow writes a packet in the flow syntax of ofproto/trace.
func ovsFlow(p sim.Packet) string {
	var f []string
	add := func(format string, args ...any) { f = append(f, fmt.Sprintf(format, args...)) }
	add("in_port=%d", p.InPort)
	if p.TunID != 0 {
		add("tun_id=%#x", p.TunID)
	}
	if p.VLAN != 0 {
		add("dl_vlan=%d", p.VLAN)
	}
	mac := func(m net.HardwareAddr) string {
		if m == nil {
			return "00:00:00:00:00:00"
		}
		return m.String()
	}
	add("dl_src=%s,dl_dst=%s,dl_type=%#04x", mac(p.EthSrc), mac(p.EthDst), p.EthType)
	addr := func(a netip.Addr, v6 bool) string {
		if !a.IsValid() {
			if v6 {
				return "::"
			}
			return "0.0.0.0"
		}
		return a.String()
	}
	switch p.EthType {
	case sim.EthTypeARP, sim.EthTypeRARP:
		add("arp_op=%d,arp_spa=%s,arp_tpa=%s,arp_sha=%s,arp_tha=%s", p.ARPOp, addr(p.ARPSpa, false), addr(p.ARPTpa, false), mac(p.ARPSha), mac(p.ARPTha))
	case sim.EthTypeIPv4:
		add("nw_src=%s,nw_dst=%s,nw_proto=%d,nw_ttl=64", addr(p.IPSrc, false), addr(p.IPDst, false), p.Proto)
	case sim.EthTypeIPv6:
		add("ipv6_src=%s,ipv6_dst=%s,nw_proto=%d,nw_ttl=64", addr(p.IPSrc, true), addr(p.IPDst, true), p.Proto)
	}
	switch {
	case p.Proto == sim.ProtoTCP:
		add("tcp_src=%d,tcp_dst=%d", p.TPSrc, p.TPDst)
	case p.Proto == sim.ProtoUDP:
		add("udp_src=%d,udp_dst=%d", p.TPSrc, p.TPDst)
	case p.Proto == sim.ProtoSCTP:
		add("sctp_src=%d,sctp_dst=%d", p.TPSrc, p.TPDst)
	case p.Proto == sim.ProtoICMP && p.EthType == sim.EthTypeIPv4:
		add("icmp_type=%d,icmp_code=%d", p.ICMPType, p.ICMPCode)
	case p.Proto == sim.ProtoICMPv6 && p.EthType == sim.EthTypeIPv6:
		add("icmpv6_type=%d,icmpv6_code=%d", p.ICMPType, p.ICMPCode)
		if p.ICMPType == sim.ICMPv6NS || p.ICMPType == sim.ICMPv6NA {
			add("nd_target=%s", addr(p.NDTarget, true))
			if p.NDSLL != nil {
				add("nd_sll=%s", p.NDSLL)
			}
			if p.NDTLL != nil {
				add("nd_tll=%s", p.NDTLL)
			}
		}
	}
	return strings.Join(f, ",")
}

type parityProbe struct {
	name string
	p    sim.Packet
}

// parityCorpus is the packets to send into one host's switch.
func parityCorpus(t *topology.Topology, hs *flows.HostState) []parityProbe {
	var out []parityProbe
	add := func(name string, p sim.Packet) { out = append(out, parityProbe{name, p}) }
	ports := map[string]topology.Port{}
	bySwitch := map[string][]topology.Port{}
	for _, p := range t.Ports {
		ports[p.Name] = p
		bySwitch[p.Switch] = append(bySwitch[p.Switch], p)
	}
	first := func(ips []netip.Addr, v6 bool) netip.Addr {
		for _, a := range ips {
			if a.Is6() == v6 {
				return a
			}
		}
		return netip.Addr{}
	}
	dports, sports := []uint16{22, 80}, []uint16{40000}
	for _, a := range t.ACLs {
		for _, r := range a.Rules {
			for _, s := range []struct {
				span topology.PortSpan
				to   *[]uint16
			}{{r.DstPorts, &dports}, {r.SrcPorts, &sports}} {
				if s.span.Any() {
					continue
				}
				*s.to = append(*s.to, s.span.Lo, s.span.Hi, s.span.Hi+1)
				if s.span.Lo > 0 {
					*s.to = append(*s.to, s.span.Lo-1)
				}
			}
		}
	}
	slices.Sort(dports)
	dports = slices.Compact(dports)
	slices.Sort(sports)
	sports = slices.Compact(sports)
	unknownMAC := sim.MustMAC("02:00:00:00:ee:ee")
	for _, bp := range hs.Ports {
		kind, name, _ := strings.Cut(bp.ExternalIDs[flows.ExtIDObject], "/")
		in := bp.Ofport
		switch kind {
		case "port":
			me := ports[name]
			v4, v6 := first(me.IPs, false), first(me.IPs, true)
			add(name+" broadcast", sim.Broadcast(me.MAC).At(in))
			if v4.IsValid() {
				add(name+" to an unknown MAC", sim.ICMPEcho(me.MAC, unknownMAC, v4, netip.MustParseAddr("192.0.2.250")).At(in))
				add(name+" ARP for an unknown address", sim.ARPRequest(me.MAC, v4, netip.MustParseAddr("192.0.2.250")).At(in))
				add(name+" spoofing its MAC", sim.ICMPEcho(unknownMAC, sim.BroadcastMAC, v4, v4.Next()).At(in))
				add(name+" spoofing its address", sim.ARPRequest(me.MAC, netip.MustParseAddr("192.0.2.251"), v4).At(in))
			}
			for _, q := range bySwitch[me.Switch] {
				if q.Name == me.Name {
					continue
				}
				q4, q6 := first(q.IPs, false), first(q.IPs, true)
				if v4.IsValid() && q4.IsValid() {
					add(name+" ping "+q.Name, sim.ICMPEcho(me.MAC, q.MAC, v4, q4).At(in))
					add(name+" ARP for "+q.Name, sim.ARPRequest(me.MAC, v4, q4).At(in))
					for _, d := range dports {
						add(fmt.Sprintf("%s tcp to %s:%d", name, q.Name, d), sim.TCP(me.MAC, q.MAC, netip.AddrPortFrom(v4, 40000), netip.AddrPortFrom(q4, d)).At(in))
					}
					for _, s := range sports {
						add(fmt.Sprintf("%s udp from %d to %s", name, s, q.Name), sim.UDP(me.MAC, q.MAC, netip.AddrPortFrom(v4, s), netip.AddrPortFrom(q4, 53)).At(in))
					}
				}
				if v6.IsValid() && q6.IsValid() {
					add(name+" NS for "+q.Name, sim.NeighborSolicitation(me.MAC, v6, q6).At(in))
					add(name+" ping6 "+q.Name, sim.IP(me.MAC, q.MAC, v6, q6, sim.ProtoICMPv6, 0, 0).At(in))
				}
			}
		case "host", "endpoint":
			for _, sw := range t.Switches {
				key := uint64(sw.TunnelKey)
				if kind == "endpoint" {
					e, ok := endpoint(t, name)
					if !ok || e.Switch != sw.Name {
						continue
					}
					key = uint64(e.Key)
				}
				if !sw.Overlay() || sw.Encapsulation != bp.Type {
					continue
				}
				src := sim.MustMAC("02:00:00:00:ee:01")
				srcIP := netip.MustParseAddr("192.0.2.249")
				for _, q := range bySwitch[sw.Name] {
					if q.Host == name {
						src, srcIP = q.MAC, first(q.IPs, false)
						break
					}
				}
				if !srcIP.IsValid() {
					srcIP = netip.MustParseAddr("192.0.2.249")
				}
				for _, q := range bySwitch[sw.Name] {
					if q4 := first(q.IPs, false); q.Host == hs.Host && q4.IsValid() {
						add(fmt.Sprintf("%s %s to %s", kind, name, q.Name), sim.ICMPEcho(src, q.MAC, srcIP, q4).FromTunnel(bp.Ofport, key))
					}
				}
				add(fmt.Sprintf("%s %s broadcast on %s", kind, name, sw.Name), sim.ARPRequest(src, srcIP, netip.MustParseAddr("192.0.2.250")).FromTunnel(bp.Ofport, key))
			}
			add(kind+" "+name+" unknown key", sim.Broadcast(unknownMAC).FromTunnel(bp.Ofport, 0xabcdef))
		case "physnet":
			vlans := map[int]string{}
			for _, sw := range t.Switches {
				if !sw.Overlay() && sw.Physnet == name {
					vlans[sw.VLAN] = sw.Name
				}
			}
			for _, g := range t.L2Gateways {
				if g.Host == hs.Host && g.Physnet == name {
					vlans[g.VLAN] = g.Switch
				}
			}
			for vid, swName := range vlans {
				for _, q := range bySwitch[swName] {
					if q4 := first(q.IPs, false); q4.IsValid() {
						add(fmt.Sprintf("uplink %s vlan %d to %s", name, vid, q.Name),
							sim.ICMPEcho(unknownMAC, q.MAC, netip.MustParseAddr("192.0.2.249"), q4).At(in).Tagged(vid))
					}
				}
				add(fmt.Sprintf("uplink %s vlan %d broadcast", name, vid), sim.Broadcast(unknownMAC).At(in).Tagged(vid))
			}
			add("uplink "+name+" unknown vlan", sim.Broadcast(unknownMAC).At(in).Tagged(4000))
			add("uplink "+name+" untagged", sim.Broadcast(unknownMAC).At(in))
		}
	}
	return out
}

func endpoint(t *topology.Topology, name string) (topology.ExternalEndpoint, bool) {
	for _, e := range t.ExternalEndpoints {
		if e.Name == name {
			return e, true
		}
	}
	return topology.ExternalEndpoint{}, false
}
