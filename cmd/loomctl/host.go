package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/topology/edit"
)

// newHostCmd makes `host add|del|set`: edits of the hosts of the topology
// loomd stores (edit.go).
func newHostCmd(g *globals) *cobra.Command {
	var add editOptions
	cmd := &cobra.Command{
		Use:   "host add|del|set",
		Short: "Add, delete or change a host of the topology loomd stores",
		Long:  "Add, delete or change a host (an Open vSwitch that Loom programs) of the topology loomd stores.\n\n" + editLong,
		Example: "  loomctl host add h3 ovsdb=tcp:198.18.0.13:6640 tunnelIP=198.19.0.13\n" +
			"  loomctl host set h3 physnets.physnet1=eth1\n" +
			"  loomctl host del h3 --cascade --dry-run",
	}
	addCmd := &cobra.Command{
		Use:   "add NAME key=value...",
		Short: "Add a host: its fields as key=value (ovsdb, tunnelIP, physnets...)",
		Long:  "Add a host to the topology loomd stores; its fields are key=value, with the keys of the topology files.\n\n" + editLong,
		Example: "  loomctl host add h3 ovsdb=tcp:198.18.0.13:6640 tunnelIP=198.19.0.13\n" +
			"  loomctl host add h4 ovsdb=ssl:198.18.0.14:6640 tunnelIP=198.19.0.14 --dry-run",
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			fields, err := edit.ParseFields(args[1:])
			if err != nil {
				return err
			}
			return runEdit(cmd, g, &add, edit.Op{Action: edit.ActionAdd, Kind: "host", Name: args[0], Position: -1, Fields: fields})
		},
	}
	add.flags(addCmd)
	cmd.AddCommand(addCmd,
		newDelCmd(g, edit.Hosts, "  loomctl host del h3\n  loomctl host del h3 --cascade --dry-run   # with the ports and L2 gateways on it"),
		newSetCmd(g, edit.Hosts, "  loomctl host set h3 tunnelIP=198.19.0.33\n  loomctl host set h3 physnets.physnet1=eth1"),
		newHostForgetCmd(g))
	return cmd
}

// newHostForgetCmd makes `host forget`: loomd stops cleaning a host
// removed from the topology.
func newHostForgetCmd(g *globals) *cobra.Command {
	var out output
	cmd := &cobra.Command{
		Use:   "forget NAME",
		Short: "Stop cleaning a host removed from the topology that will never be reachable again",
		Long: "loomd deletes Loom's bridge, ports and flows from a host removed from the topology, and shows it as\n" +
			"removing in its status until it has. For a host that will never be reachable again (the machine is gone),\n" +
			"forget stops that: the host leaves the status, and whatever Loom made on it stays there.",
		Example: "  loomctl host forget h3\n  loomctl host forget h3 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			client, err := g.remote.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			res, err := client.ForgetRemoval(ctx, args[0])
			if err != nil {
				return err
			}
			if ok, err := out.structured(cmd.OutOrStdout(), res); ok {
				return err
			}
			if !res.Forgotten {
				fmt.Fprintf(cmd.OutOrStdout(), "host %s is not being removed: nothing to forget\n", res.Host)
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "host %s forgotten: loomd no longer cleans it; what Loom made on it stays\n", res.Host)
			return nil
		},
	}
	out.flag(cmd, "text", "json", "yaml")
	return cmd
}
