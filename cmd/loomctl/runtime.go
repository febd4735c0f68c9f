package main

import (
	"fmt"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/controller/ipam"
	"github.com/loom-sdn/loom/topology"
)

// origin is where a port comes from, as get and show print it.
func origin(p *topology.Port) string {
	if p.Runtime != nil {
		return "runtime " + p.Runtime.String()
	}
	return p.Pos.String()
}

// autoPorts are the names of t's ports written with ips: auto.
func autoPorts(t *topology.Topology) []string {
	var out []string
	for _, p := range t.Ports {
		if p.IPsAuto {
			out = append(out, p.Name)
		}
	}
	return out
}

// loadOffline loads -f files for commands that compile them without
// loomd (compile, explain, trace, get): ports with ips: auto get the
// addresses a loomd holding none would hand out, and a note says so
// (loomd keeps its own: `loomctl get ports` without -f shows them).
func loadOffline(cmd *cobra.Command, files []string) (*topology.Topology, error) {
	t, err := loadTopology(cmd, files)
	if err != nil {
		return nil, err
	}
	auto := autoPorts(t)
	if len(auto) == 0 {
		return t, nil
	}
	a := ipam.New(t, nil)
	for _, p := range t.Ports {
		for _, ip := range p.IPs {
			a.Take(p.Switch, ip, p.Name) //nolint:errcheck // unique in a valid topology
		}
	}
	got := map[string][]netip.Addr{}
	for _, p := range t.Ports {
		if p.IPsAuto {
			ips, err := a.Next(p.Switch, p.Name)
			if err != nil {
				return nil, fmt.Errorf("port %q (ips: auto): %w", p.Name, err)
			}
			got[p.Name] = ips
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "note: ports %s have ips: auto: shown with the addresses a loomd holding none would hand out; loomd keeps its own\n", strings.Join(auto, ", "))
	return topology.Resolve(t, got, nil)
}

// newRuntimePortCmd makes `runtime-port add|del|ls`: the ports container
// runtimes make through loomd (the CNI plugin, the Docker driver and
// attach call the same API), by hand.
func newRuntimePortCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "runtime-port add|del|ls",
		Aliases: []string{"rp"},
		Short:   "Add, delete or list the ports container runtimes make through loomd",
		Long: "Runtime ports are the ports container runtimes make and delete through loomd's API, at\n" +
			"container speed, kept by loomd apart from the topology's files: an apply of the files never\n" +
			"removes them. Each is named for a container's interface (container id and interface name):\n" +
			"adding it again answers with the same port. loomd hands out its MAC and addresses (one of\n" +
			"each subnet of the switch) unless they are given. See docs/containers.md.",
		Example: "  loomctl runtime-port add blue --host h2 --container-id c0ffee --ifname eth0 --interface veth-c0ffee\n" +
			"  loomctl runtime-port ls\n" +
			"  loomctl runtime-port del --container-id c0ffee --ifname eth0",
	}
	cmd.AddCommand(newRuntimePortAddCmd(g), newRuntimePortDelCmd(g), newRuntimePortLsCmd(g))
	return cmd
}

func newRuntimePortAddCmd(g *globals) *cobra.Command {
	var (
		r   api.RuntimePortRequest
		out output
	)
	cmd := &cobra.Command{
		Use:   "add SWITCH --host H --container-id ID --ifname NAME (--interface IF | --iface-id ID) [--mac MAC] [--ip IP]...",
		Short: "Add a runtime port (or show the one the container's interface has)",
		Example: "  loomctl runtime-port add blue --host h2 --container-id c0ffee --ifname eth0 --interface veth-c0ffee\n" +
			"  loomctl runtime-port add blue --host h2 --container-id c0ffee --ifname eth0 --interface veth-c0ffee --ip 10.1.0.50 -o json",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeNames(0, "switches"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			r.Switch = args[0]
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			res, err := c.AddRuntimePort(cmd.Context(), r)
			if err != nil {
				return apiProblems(cmd, err)
			}
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, res); ok {
				return err
			}
			what := "added"
			if !res.Created {
				what = "already there"
			}
			fmt.Fprintf(w, "runtime port %s %s (revision %d): switch %s, host %s, mac %s, ips %s, gateways %s, mtu %d\n",
				res.Name, what, res.Revision, res.Switch, res.Host, res.MAC, orNone(strings.Join(res.IPs, " ")), orNone(strings.Join(res.Gateways, " ")), res.MTU)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&r.Host, "host", "", "the host the container runs on")
	f.StringVar(&r.ContainerID, "container-id", "", "the container's id (with --ifname, names the port for its runtime)")
	f.StringVar(&r.IfName, "ifname", "eth0", "the interface's name inside the container")
	f.StringVar(&r.Interface, "interface", "", "the host-side OVS interface that carries the port")
	f.StringVar(&r.IfaceID, "iface-id", "", "or the external_ids:iface-id of that interface")
	f.StringVar(&r.MAC, "mac", "", "the port's MAC (default: loomd makes one)")
	f.StringSliceVar(&r.IPs, "ip", nil, "the port's addresses (default: loomd hands out one of each subnet)")
	f.StringVar(&r.Runtime, "runtime", api.RuntimeAttach, "the runtime: cni, docker or attach")
	f.StringVar(&r.Name, "name", "", "the port's name (default: RUNTIME-CONTAINER-IFNAME)")
	cmd.RegisterFlagCompletionFunc("host", func(cmd *cobra.Command, _ []string, s string) ([]string, cobra.ShellCompDirective) { //nolint:errcheck
		return g.completeNames(0, "hosts")(cmd, nil, s)
	})
	cmd.RegisterFlagCompletionFunc("runtime", cobra.FixedCompletions([]string{api.RuntimeCNI, api.RuntimeDocker, api.RuntimeAttach}, cobra.ShellCompDirectiveNoFileComp)) //nolint:errcheck
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}

func newRuntimePortDelCmd(g *globals) *cobra.Command {
	var (
		cid, ifn string
		out      output
	)
	cmd := &cobra.Command{
		Use:               "del [NAME | --container-id ID --ifname NAME]",
		Short:             "Delete a runtime port and free its addresses (deleting one not there is no error)",
		Example:           "  loomctl runtime-port del cni-c0ffee-eth0\n  loomctl runtime-port del --container-id c0ffee --ifname eth0",
		Args:              cobra.MaximumNArgs(1),
		ValidArgsFunction: g.completeNames(0, "runtime-ports"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if (len(args) == 1) == (cid != "") {
				return fmt.Errorf("name the port, or its container with --container-id (and --ifname)")
			}
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			var res *api.RuntimePortDeleted
			if len(args) == 1 {
				res, err = c.DeleteRuntimePort(cmd.Context(), args[0])
			} else {
				res, err = c.DeleteContainerPort(cmd.Context(), cid, ifn)
			}
			if err != nil {
				return apiProblems(cmd, err)
			}
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, res); ok {
				return err
			}
			if res.Deleted {
				fmt.Fprintf(w, "runtime port %s deleted (revision %d)\n", res.Name, res.Revision)
			} else {
				fmt.Fprintln(w, "no such runtime port: nothing to delete")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cid, "container-id", "", "the container's id")
	cmd.Flags().StringVar(&ifn, "ifname", "eth0", "the interface's name inside the container")
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}

func newRuntimePortLsCmd(g *globals) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List the runtime ports",
		Example: "  loomctl runtime-port ls\n  loomctl runtime-port ls -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			res, err := c.RuntimePorts(cmd.Context())
			if err != nil {
				return apiProblems(cmd, err)
			}
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, res); ok {
				return err
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSWITCH\tHOST\tMAC\tIPS\tINTERFACE\tRUNTIME\tCONTAINER\tIFNAME")
			for _, p := range res.Ports {
				bind := p.Interface
				if bind == "" {
					bind = "iface-id " + p.IfaceID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Switch, p.Host, p.MAC, strings.Join(p.IPs, ","), bind, p.Runtime, p.ContainerID, p.IfName)
			}
			return tw.Flush()
		},
	}
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}
