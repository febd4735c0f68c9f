package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// row is one object as get prints it: its columns in order, for tables,
// and, for json and yaml, the object as a topology file writes it (its
// spec: typed values, lists, nested objects) with where it comes from.
type row struct {
	cols   []string
	vals   []string
	spec   any    // a topology.*Spec
	source string // file:line:col, or the runtime that made it
}

func addrs(ips []netip.Addr) string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return strings.Join(s, ",")
}

// kinds maps what get can list to its rows.
var kinds = map[string]func(t *topology.Topology) []row{
	"hosts": func(t *topology.Topology) []row {
		var out []row
		for _, h := range t.Hosts {
			var pn []string
			for _, k := range sortedMapKeys(h.Physnets) {
				pn = append(pn, k+"="+h.Physnets[k])
			}
			tip := "-"
			if h.TunnelIP.IsValid() {
				tip = h.TunnelIP.String()
			}
			out = append(out, row{[]string{"NAME", "OVSDB", "OPENFLOW", "TUNNEL-IP", "DATAPATH", "BRIDGE", "PHYSNETS"},
				[]string{h.Name, h.OVSDB, h.OpenFlow, tip, h.DatapathType, h.Bridge, strings.Join(pn, ",")},
				topology.HostSpecOf(h), h.Pos.String()})
		}
		return out
	},
	"switches": func(t *topology.Topology) []row {
		var out []row
		for _, s := range t.Switches {
			kind := fmt.Sprintf("%s key %d", s.Encapsulation, s.TunnelKey)
			if !s.Overlay() {
				kind = fmt.Sprintf("vlan %d on %s", s.VLAN, s.Physnet)
			}
			var sub []string
			for _, p := range s.Subnets {
				sub = append(sub, p.String())
			}
			out = append(out, row{[]string{"NAME", "KIND", "SUBNETS", "MTU", "ACL-DEFAULT", "SOURCE"},
				[]string{s.Name, kind, strings.Join(sub, ","), fmt.Sprint(s.MTU), s.ACLDefault, s.Pos.String()},
				topology.SwitchSpecOf(s), s.Pos.String()})
		}
		return out
	},
	"ports": func(t *topology.Topology) []row {
		var out []row
		for _, p := range t.Ports {
			bind := p.Interface
			if bind == "" {
				bind = "iface-id " + p.IfaceID
			}
			out = append(out, row{[]string{"NAME", "SWITCH", "HOST", "MAC", "IPS", "INTERFACE", "SOURCE"},
				[]string{p.Name, p.Switch, p.Host, p.MAC.String(), addrs(p.IPs), bind, origin(&p)},
				topology.PortSpecOf(p), origin(&p)})
		}
		return out
	},
	"acls": func(t *topology.Topology) []row {
		var out []row
		for _, a := range t.ACLs {
			out = append(out, row{[]string{"NAME", "RULES", "SOURCE"}, []string{a.Name, fmt.Sprint(len(a.Rules)), a.Pos.String()},
				topology.ACLSpecOf(a), a.Pos.String()})
		}
		return out
	},
	"l2gateways": func(t *topology.Topology) []row {
		var out []row
		for _, g := range t.L2Gateways {
			out = append(out, row{[]string{"NAME", "SWITCH", "HOST", "PHYSNET", "VLAN", "SOURCE"},
				[]string{g.Name, g.Switch, g.Host, g.Physnet, fmt.Sprint(g.VLAN), g.Pos.String()},
				topology.L2GatewaySpecOf(g), g.Pos.String()})
		}
		return out
	},
	"endpoints": func(t *topology.Topology) []row {
		var out []row
		for _, e := range t.ExternalEndpoints {
			out = append(out, row{[]string{"NAME", "SWITCH", "IP", "ENCAPSULATION", "STATIONS", "SOURCE"},
				[]string{e.Name, e.Switch, e.IP.String(), e.Encapsulation, fmt.Sprint(len(e.Behind)), e.Pos.String()},
				topology.EndpointSpecOf(e), e.Pos.String()})
		}
		return out
	},
}

// getSingular names one object of what get lists.
var getSingular = map[string]string{"hosts": "host", "switches": "switch", "ports": "port", "acls": "acl",
	"l2gateways": "l2 gateway", "endpoints": "external endpoint"}

func sortedMapKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func newGetCmd(g *globals) *cobra.Command {
	var (
		files []string
		out   output
	)
	cmd := &cobra.Command{
		Use:   "get hosts|switches|ports|acls|l2gateways|endpoints|topology [NAME] [-f FILE]",
		Short: "List the objects of a topology, or export the topology loomd holds",
		Long: "List the objects of a topology (loomd's, or that of -f). With -o json or yaml each object is\n" +
			"written as a topology file writes it (numbers, lists, nested objects), with its source.\n\n" +
			"get topology prints the files loomd holds as they were written (comments kept), each after\n" +
			"a line naming it, then, as comments, the runtime ports containers made (not in the files);\n" +
			"-o json gives loomd's whole answer.",
		Example: "  loomctl get ports -f topology.yaml\n  loomctl get hosts h1 -f topology.yaml -o yaml\n" +
			"  loomctl get topology > topology.yaml     # what imperative edits left, to keep in git",
		Args: cobra.RangeArgs(1, 2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []string{"hosts", "switches", "ports", "acls", "l2gateways", "endpoints", "topology"}, cobra.ShellCompDirectiveNoFileComp
			}
			return g.completeNames(1, "")(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "topology" {
				return getTopology(cmd, g, files, out.format)
			}
			if err := out.check(); err != nil {
				return err
			}
			list, ok := kinds[args[0]]
			if !ok {
				return fmt.Errorf("get %q: want hosts, switches, ports, acls, l2gateways, endpoints or topology", args[0])
			}
			t, err := g.load(cmd, files)
			if err != nil {
				return err
			}
			rows := list(t)
			if len(args) == 2 {
				var one []row
				for _, r := range rows {
					if r.vals[0] == args[1] {
						one = append(one, r)
					}
				}
				if len(one) == 0 {
					return fmt.Errorf("no %s named %q", getSingular[args[0]], args[1])
				}
				rows = one
			}
			return printRows(cmd.OutOrStdout(), rows, out.format)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable); default: the topology loomd holds")
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}

// specNode is r's object as a topology file writes it, with its source
// last.
func (r row) specNode() (*yaml.Node, error) {
	b, err := topology.SpecYAML(r.spec)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	m := &yaml.Node{Kind: yaml.MappingNode}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		m = doc.Content[0]
	}
	if r.source != "" {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "source"},
			&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: r.source})
	}
	return m, nil
}

func printRows(w io.Writer, rows []row, format string) error {
	switch format {
	case "json", "yaml":
		list := &yaml.Node{Kind: yaml.SequenceNode}
		for _, r := range rows {
			n, err := r.specNode()
			if err != nil {
				return err
			}
			list.Content = append(list.Content, n)
		}
		if format == "yaml" {
			enc := yaml.NewEncoder(w)
			enc.SetIndent(2)
			return enc.Encode(list)
		}
		var v []any
		if err := list.Decode(&v); err != nil {
			return err
		}
		if v == nil {
			v = []any{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, r := range rows {
		if i == 0 {
			fmt.Fprintln(tw, strings.Join(r.cols, "\t"))
		}
		fmt.Fprintln(tw, strings.Join(r.vals, "\t"))
	}
	return tw.Flush()
}

// getTopology prints the topology's files as they were written: loomd's
// (and its runtime ports, as comments), or those of -f.
func getTopology(cmd *cobra.Command, g *globals, paths []string, format string) error {
	w := cmd.OutOrStdout()
	var st *api.Topology
	if len(paths) > 0 {
		files, err := readFiles(paths)
		if err != nil {
			return err
		}
		st = &api.Topology{Files: files}
	} else {
		c, err := g.remote.client()
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
		defer cancel()
		if st, err = c.Topology(ctx); err != nil {
			return err
		}
	}
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	case "yaml", "table":
	default:
		return fmt.Errorf("-o %q: want yaml or json for get topology", format)
	}
	if len(st.Files) == 0 {
		return fmt.Errorf("loomd holds no topology yet (revision %d)", st.Revision)
	}
	writeFiles(w, st.Files)
	writeRuntimePorts(w, st.RuntimePorts)
	return nil
}

// writeFiles writes topology files verbatim; several are each written as
// a YAML document headed by its name.
func writeFiles(w io.Writer, files map[string]string) {
	names := sortedMapKeys(files)
	for _, name := range names {
		if len(names) > 1 {
			fmt.Fprintf(w, "--- # file %s\n", name)
		}
		s := files[name]
		fmt.Fprint(w, s)
		if s != "" && !strings.HasSuffix(s, "\n") {
			fmt.Fprintln(w)
		}
	}
}

// writeRuntimePorts lists the runtime ports as YAML comments, apart from
// the files: they are not part of them, loomd keeps them beside.
func writeRuntimePorts(w io.Writer, ports []api.RuntimePort) {
	if len(ports) == 0 {
		return
	}
	fmt.Fprintln(w, "# Runtime ports: made by container runtimes through loomd, kept beside the files (loomctl runtime-port):")
	for _, p := range ports {
		bind := "interface: " + p.Interface
		if p.Interface == "" {
			bind = "ifaceID: " + p.IfaceID
		}
		fmt.Fprintf(w, "#   - {name: %s, switch: %s, host: %s, mac: %q, ips: [%s], %s, runtime: %s %s %s}\n",
			p.Name, p.Switch, p.Host, p.MAC, strings.Join(p.IPs, ", "), bind, p.Runtime, p.ContainerID, p.IfName)
	}
}
