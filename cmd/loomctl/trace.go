package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/flows/sim"
	"github.com/loom-sdn/loom/topology"
)

func newTraceCmd(g *globals) *cobra.Command {
	var (
		files         []string
		from, to, dst string
		proto         string
		dport         uint16
		out           output
	)
	cmd := &cobra.Command{
		Use:   "trace [-f FILE] --from PORT (--to PORT | --dst IP)",
		Short: "Follow a packet through the flows of every host it crosses, offline",
		Long: "Follow a packet from a port through the compiled flows of its host, and through the\n" +
			"tunnels to the hosts it reaches, printing every table it passes with the topology\n" +
			"object and rule behind each flow, and where it ends. No host is contacted. With loomd's\n" +
			"topology (no -f), a note says when a host on the way is not at that revision, or has ports\n" +
			"down: its switch may not do what the trace shows.",
		Example: `  loomctl trace -f topology.yaml --from web1 --to db1
  loomctl trace -f topology.yaml --from web1 --dst 192.0.2.12 --proto tcp --dport 5432
  loomctl trace -f topology.yaml --from web1 --dst 192.0.2.99 --proto arp`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			var (
				t      *topology.Topology
				stored *api.Topology
				err    error
			)
			if len(files) > 0 {
				t, err = loadTopology(cmd, files)
			} else {
				t, stored, err = g.stored(cmd)
			}
			if err != nil {
				return err
			}
			tr := &tracer{t: t, sims: map[string]*sim.Switch{}, states: map[string]*flows.HostState{}}
			doc, err := tr.run(from, to, dst, proto, dport)
			if err != nil {
				return err
			}
			if stored != nil {
				doc.HostNotes = g.traceNotes(cmd.Context(), doc, stored.Revision)
			}
			if ok, err := out.structured(cmd.OutOrStdout(), doc); ok {
				return err
			}
			printTrace(cmd.OutOrStdout(), doc)
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable); default: the topology loomd holds")
	cmd.Flags().StringVar(&from, "from", "", "the port the packet is sent from")
	cmd.Flags().StringVar(&to, "to", "", "the port it is sent to (its MAC and first IP)")
	cmd.Flags().StringVar(&dst, "dst", "", "or the destination IP (its MAC from the topology, if known)")
	cmd.Flags().StringVar(&proto, "proto", "icmp", "icmp (echo request), tcp, udp or arp (a request for the destination IP)")
	out.flag(cmd, "text", "json", "yaml")
	cmd.Flags().Uint16Var(&dport, "dport", 80, "destination port for tcp and udp")
	return cmd
}

type tracer struct {
	t      *topology.Topology
	sims   map[string]*sim.Switch
	states map[string]*flows.HostState
}

func (tr *tracer) host(name string) (*flows.HostState, *sim.Switch, error) {
	if sw, ok := tr.sims[name]; ok {
		return tr.states[name], sw, nil
	}
	hs, err := flows.CompileHost(tr.t, name)
	if err != nil {
		return nil, nil, err
	}
	sw, err := sim.New(hs.Flows())
	if err != nil {
		return nil, nil, err
	}
	tr.states[name], tr.sims[name] = hs, sw
	return hs, sw, nil
}

func (tr *tracer) port(name string) (topology.Port, error) {
	for _, p := range tr.t.Ports {
		if p.Name == name {
			return p, nil
		}
	}
	return topology.Port{}, fmt.Errorf("no port named %q", name)
}

// ofport is the OpenFlow port of the named object on a host's bridge.
func ofport(hs *flows.HostState, object string) int {
	for _, p := range hs.Ports {
		if p.ExternalIDs[flows.ExtIDObject] == object {
			return p.Ofport
		}
	}
	return 0
}

// traceDoc is a packet's path, as trace -o json|yaml prints it.
type traceDoc struct {
	Note string `json:"note,omitempty"`
	// HostNotes say which hosts on the way are not at the revision traced,
	// or have ports down (tracing loomd's topology).
	HostNotes []string   `json:"hostNotes,omitempty"`
	Hops      []traceHop `json:"hops"`
}

// traceNotes asks loomd for the status of the hosts a trace crossed and
// says which may not do what the trace shows (see hostNotes).
func (g *globals) traceNotes(ctx context.Context, doc *traceDoc, rev int64) []string {
	c, err := g.remote.client()
	if err == nil {
		var st *api.Status
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if st, err = c.Status(ctx); err == nil {
			byHost := map[string]*controller.HostStatus{}
			for i := range st.Hosts {
				byHost[st.Hosts[i].Host] = &st.Hosts[i]
			}
			var notes []string
			seen := map[string]bool{}
			for _, h := range doc.Hops {
				if !seen[h.Host] {
					seen[h.Host] = true
					notes = append(notes, hostNotes(byHost[h.Host], rev)...)
				}
			}
			return notes
		}
	}
	return []string{fmt.Sprintf("the hosts' status could not be read (%v): whether their switches hold revision %d is unknown", err, rev)}
}

type traceHop struct {
	Host    string      `json:"host"`
	Via     string      `json:"via"`
	Packet  string      `json:"packet"`
	Steps   []traceStep `json:"steps"`
	Dropped bool        `json:"dropped,omitempty"`
	Outputs []string    `json:"outputs,omitempty"`
}

type traceStep struct {
	Depth     int    `json:"depth,omitempty"` // inside how many clone actions
	Table     int    `json:"table"`
	TableName string `json:"tableName"`
	Priority  int    `json:"priority,omitempty"`
	Miss      bool   `json:"miss,omitempty"` // no flow matched: dropped
	Explain   string `json:"explain,omitempty"`
}

func printTrace(w io.Writer, doc *traceDoc) {
	if doc.Note != "" {
		fmt.Fprintf(w, "note: %s\n", doc.Note)
	}
	for _, n := range doc.HostNotes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, h := range doc.Hops {
		fmt.Fprintf(w, "== host %s, %s: %s\n", h.Host, h.Via, h.Packet)
		for _, s := range h.Steps {
			ind := strings.Repeat("  ", s.Depth+1)
			if s.Miss {
				fmt.Fprintf(w, "%stable %d %s: no flow matches: dropped\n", ind, s.Table, s.TableName)
				continue
			}
			fmt.Fprintf(w, "%stable %d %s, priority %d: %s\n", ind, s.Table, s.TableName, s.Priority, s.Explain)
		}
		if h.Dropped {
			fmt.Fprintln(w, "  => dropped")
		}
		for _, o := range h.Outputs {
			fmt.Fprintf(w, "  => %s\n", o)
		}
	}
}

func (tr *tracer) run(from, to, dst, proto string, dport uint16) (*traceDoc, error) {
	doc := &traceDoc{Hops: []traceHop{}}
	src, err := tr.port(from)
	if err != nil {
		return nil, err
	}
	var srcIP netip.Addr
	for _, ip := range src.IPs {
		if ip.Is4() {
			srcIP = ip
			break
		}
	}
	var dstMAC net.HardwareAddr
	var dstIP netip.Addr
	switch {
	case to != "":
		p, err := tr.port(to)
		if err != nil {
			return nil, err
		}
		dstMAC = p.MAC
		for _, ip := range p.IPs {
			if ip.Is4() {
				dstIP = ip
				break
			}
		}
	case dst != "":
		if dstIP, err = netip.ParseAddr(dst); err != nil {
			return nil, fmt.Errorf("--dst %q: %w", dst, err)
		}
		dstMAC = tr.macOf(dstIP)
	default:
		return nil, fmt.Errorf("give --to PORT or --dst IP")
	}
	if !srcIP.IsValid() || !dstIP.Is4() {
		return nil, fmt.Errorf("trace needs IPv4 addresses on both ends")
	}
	var pkt sim.Packet
	switch proto {
	case "icmp":
		pkt = sim.ICMPEcho(src.MAC, dstMAC, srcIP, dstIP)
	case "tcp":
		pkt = sim.TCP(src.MAC, dstMAC, netip.AddrPortFrom(srcIP, 40000), netip.AddrPortFrom(dstIP, dport))
	case "udp":
		pkt = sim.UDP(src.MAC, dstMAC, netip.AddrPortFrom(srcIP, 40000), netip.AddrPortFrom(dstIP, dport))
	case "arp":
		pkt = sim.ARPRequest(src.MAC, srcIP, dstIP)
	default:
		return nil, fmt.Errorf("--proto %q: want icmp, tcp, udp or arp", proto)
	}
	if dstMAC[0] == 0xff && proto != "arp" {
		doc.Note = fmt.Sprintf("%s is not in the topology; the packet is sent to the broadcast MAC", dstIP)
	}
	hs, _, err := tr.host(src.Host)
	if err != nil {
		return nil, err
	}
	type hop struct {
		host string
		pkt  sim.Packet
		via  string
	}
	queue := []hop{{src.Host, pkt.At(ofport(hs, "port/"+src.Name)), "from port " + src.Name}}
	for n := 0; len(queue) > 0; n++ {
		if n == 16 {
			return nil, fmt.Errorf("more than 16 hops: giving up")
		}
		h := queue[0]
		queue = queue[1:]
		hs, sw, err := tr.host(h.host)
		if err != nil {
			return nil, err
		}
		th := traceHop{Host: h.host, Via: h.via, Packet: h.pkt.String(), Steps: []traceStep{}}
		res, err := sw.Run(h.pkt)
		if err != nil {
			return nil, err
		}
		for _, s := range res.Steps {
			st := traceStep{Depth: s.Depth, Table: s.Table, TableName: flows.TableName(s.Table), Miss: s.Miss}
			if !s.Miss {
				st.Priority, st.Explain = s.Priority, flows.Explain(tr.t, s.Cookie)
			}
			th.Steps = append(th.Steps, st)
		}
		th.Dropped = res.Dropped
		for _, o := range res.Outputs {
			what, next, nextPkt := tr.where(hs, o)
			th.Outputs = append(th.Outputs, what)
			if next != "" {
				queue = append(queue, hop{next, nextPkt, "from the tunnel of host " + h.host})
			}
		}
		doc.Hops = append(doc.Hops, th)
	}
	return doc, nil
}

// macOf finds the MAC of an IP in the topology (ports and stations).
func (tr *tracer) macOf(ip netip.Addr) net.HardwareAddr {
	for _, p := range tr.t.Ports {
		for _, a := range p.IPs {
			if a == ip {
				return p.MAC
			}
		}
	}
	for _, e := range tr.t.ExternalEndpoints {
		for _, st := range e.Behind {
			for _, a := range st.IPs {
				if a == ip {
					return st.MAC
				}
			}
		}
	}
	return net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
}

// where says where an output went and, for a tunnel to another Loom host,
// which host receives it and as what.
func (tr *tracer) where(hs *flows.HostState, o sim.Output) (string, string, sim.Packet) {
	for _, p := range hs.Ports {
		if p.Ofport != o.Port {
			continue
		}
		obj := p.ExternalIDs[flows.ExtIDObject]
		kind, name, _ := strings.Cut(obj, "/")
		switch kind {
		case "port":
			return fmt.Sprintf("out of port %s (%s): %s", name, p.Name, o.Packet), "", sim.Packet{}
		case "host":
			me, _ := tr.t.Host(hs.Host)
			back := flows.TunnelPortBase(p.Type) + int(me.Key)
			return fmt.Sprintf("into the %s tunnel %s to host %s, key %d", p.Type, p.Name, name, o.Packet.TunID),
				name, o.Packet.FromTunnel(back, o.Packet.TunID)
		case "endpoint":
			return fmt.Sprintf("into the %s tunnel %s to external endpoint %s, key %d", p.Type, p.Name, name, o.Packet.TunID), "", sim.Packet{}
		case "physnet":
			return fmt.Sprintf("out of the uplink %s of physnet %s, VLAN %d", p.Name, name, o.Packet.VLAN), "", sim.Packet{}
		}
	}
	if o.Port == o.Packet.InPort {
		return fmt.Sprintf("back out of the port it came in on (%d): %s", o.Port, o.Packet), "", sim.Packet{}
	}
	return fmt.Sprintf("out of OpenFlow port %d", o.Port), "", sim.Packet{}
}
