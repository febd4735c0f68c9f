package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
			"tunnels and physnets to the hosts it reaches, printing every table it passes with the topology\n" +
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
				t, err = loadOffline(cmd, files)
			} else {
				t, stored, err = g.stored(cmd)
			}
			if err != nil {
				return err
			}
			pr := sim.Probe{From: from, To: to, Proto: proto, DPort: dport}
			if to == "" && dst != "" {
				if pr.Dst, err = netip.ParseAddr(dst); err != nil {
					return fmt.Errorf("--dst %q: %w", dst, err)
				}
			}
			if to == "" && dst == "" {
				return fmt.Errorf("give --to PORT or --dst IP")
			}
			doc, err := trace(t, pr)
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
	g.completeFlag(cmd, "from", "ports")
	g.completeFlag(cmd, "to", "ports")
	cmd.Flags().StringVar(&dst, "dst", "", "or the destination IP (its MAC from the topology, if known)")
	cmd.Flags().StringVar(&proto, "proto", "icmp", "icmp (echo request), tcp, udp or arp (a request for the destination IP)")
	out.flag(cmd, "text", "json", "yaml")
	cmd.Flags().Uint16Var(&dport, "dport", 80, "destination port for tcp and udp")
	return cmd
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
			byHost := map[string]*api.HostStatus{}
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

// trace follows the probe through the network and puts its path in the
// user's terms: the topology object behind every flow and every exit.
func trace(t *topology.Topology, pr sim.Probe) (*traceDoc, error) {
	n := sim.NewNetwork(t, func(host string) (*flows.HostState, error) { return flows.CompileHost(t, host) })
	pkt, note, err := n.Packet(pr)
	if err != nil {
		return nil, err
	}
	tr, err := n.FromPort(pr.From, pkt)
	if err != nil {
		return nil, err
	}
	doc := &traceDoc{Note: note, Hops: []traceHop{}}
	for _, h := range tr.Hops {
		th := traceHop{Host: h.Host, Via: via(h.Entry), Packet: h.Packet.String(), Steps: []traceStep{}, Dropped: h.Drop != nil}
		for _, s := range h.Steps {
			st := traceStep{Depth: s.Depth, Table: s.Table, TableName: flows.TableName(s.Table), Miss: s.Miss}
			if !s.Miss {
				st.Priority, st.Explain = s.Priority, flows.Explain(t, s.Cookie)
			}
			th.Steps = append(th.Steps, st)
		}
		for _, x := range h.Exits {
			th.Outputs = append(th.Outputs, exitText(x))
		}
		doc.Hops = append(doc.Hops, th)
	}
	return doc, nil
}

func via(e sim.Entry) string {
	switch e.Where {
	case sim.AtPort:
		return "from port " + e.Object
	case sim.AtTunnel:
		return "from the tunnel of host " + e.Object
	case sim.AtPhysnet:
		return "from the uplink of physnet " + e.Object
	}
	return fmt.Sprintf("from OpenFlow port %d", e.Ofport)
}

func exitText(x sim.Exit) string {
	switch x.Where {
	case sim.AtPort:
		return fmt.Sprintf("out of port %s (%s): %s", x.Object, x.Interface, x.Packet)
	case sim.AtTunnel:
		return fmt.Sprintf("into the %s tunnel %s to host %s, key %d", x.Type, x.Interface, x.Object, x.Packet.TunID)
	case sim.AtEndpoint:
		return fmt.Sprintf("into the %s tunnel %s to external endpoint %s, key %d", x.Type, x.Interface, x.Object, x.Packet.TunID)
	case sim.AtPhysnet:
		return fmt.Sprintf("out of the uplink %s of physnet %s, VLAN %d", x.Interface, x.Object, x.Packet.VLAN)
	case sim.AtInPort:
		return fmt.Sprintf("back out of the port it came in on (%d): %s", x.Ofport, x.Packet)
	}
	return fmt.Sprintf("out of OpenFlow port %d", x.Ofport)
}
