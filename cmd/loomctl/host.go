package main

import (
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
		newSetCmd(g, edit.Hosts, "  loomctl host set h3 tunnelIP=198.19.0.33\n  loomctl host set h3 physnets.physnet1=eth1"))
	return cmd
}
