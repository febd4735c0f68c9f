package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/topology"
)

// row is one object as get prints it: its columns in order, for tables,
// and as a map for json and yaml.
type row struct {
	cols []string
	vals []string
}

func (r row) m() map[string]string {
	m := make(map[string]string, len(r.cols))
	for i, c := range r.cols {
		m[strings.ToLower(c)] = r.vals[i]
	}
	return m
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
				[]string{h.Name, h.OVSDB, h.OpenFlow, tip, h.DatapathType, h.Bridge, strings.Join(pn, ",")}})
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
				[]string{s.Name, kind, strings.Join(sub, ","), fmt.Sprint(s.MTU), s.ACLDefault, s.Pos.String()}})
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
				[]string{p.Name, p.Switch, p.Host, p.MAC.String(), addrs(p.IPs), bind, origin(&p)}})
		}
		return out
	},
	"acls": func(t *topology.Topology) []row {
		var out []row
		for _, a := range t.ACLs {
			out = append(out, row{[]string{"NAME", "RULES", "SOURCE"}, []string{a.Name, fmt.Sprint(len(a.Rules)), a.Pos.String()}})
		}
		return out
	},
}

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
		files  []string
		output string
	)
	cmd := &cobra.Command{
		Use:     "get hosts|switches|ports|acls [NAME] [-f FILE]",
		Short:   "List the objects of a topology",
		Example: "  loomctl get ports -f topology.yaml\n  loomctl get hosts h1 -f topology.yaml -o yaml",
		Args:    cobra.RangeArgs(1, 2),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				return []string{"hosts", "switches", "ports", "acls"}, cobra.ShellCompDirectiveNoFileComp
			}
			return g.completeNames(1, "")(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			list, ok := kinds[args[0]]
			if !ok {
				return fmt.Errorf("get %q: want hosts, switches, ports or acls", args[0])
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
					return fmt.Errorf("no %s named %q", strings.TrimSuffix(strings.TrimSuffix(args[0], "es"), "s"), args[1])
				}
				rows = one
			}
			return printRows(cmd.OutOrStdout(), rows, output)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable); default: the topology loomd holds")
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table, json or yaml")
	return cmd
}

func printRows(w io.Writer, rows []row, output string) error {
	maps := make([]map[string]string, len(rows))
	for i, r := range rows {
		maps[i] = r.m()
	}
	switch output {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(maps)
	case "yaml":
		return yaml.NewEncoder(w).Encode(maps)
	case "table":
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i, r := range rows {
			if i == 0 {
				fmt.Fprintln(tw, strings.Join(r.cols, "\t"))
			}
			fmt.Fprintln(tw, strings.Join(r.vals, "\t"))
		}
		return tw.Flush()
	}
	return fmt.Errorf("-o %q: want table, json or yaml", output)
}
