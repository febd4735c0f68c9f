package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/topology/edit"
)

// newPortCmd makes `port add|del|set`: edits of the ports of the topology
// loomd stores (edit.go).
func newPortCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "port add|del|set",
		Short: "Add, delete or change a port of the topology loomd stores",
		Long:  "Add, delete or change a port (a workload's attachment to a logical switch) of the\ntopology loomd stores.\n\n" + editLong,
		Example: "  loomctl port add blue web3 --host h2 --ip 192.0.2.13 --interface lm-web3\n" +
			"  loomctl port set web3 ips=[192.0.2.14]\n" +
			"  loomctl port del web3",
	}
	cmd.AddCommand(newPortAddCmd(g),
		newDelCmd(g, edit.Ports, "  loomctl port del web3\n  loomctl port del web3 -o json"),
		newSetCmd(g, edit.Ports, "  loomctl port set web3 ips=[192.0.2.14,2001:db8::14]\n"+
			"  loomctl port set web3 acls.toPort=[basics,web-in] acls.fromPort=[basics,web-out]\n"+
			"  loomctl port set web3 portSecurity=false\n  loomctl port set web3 ips=          # no addresses"))
	return cmd
}

// portAddOptions are the flags of `port add`.
type portAddOptions struct {
	host, mac, iface, ifaceID string
	ips                       []string
	edit                      editOptions
}

func newPortAddCmd(g *globals) *cobra.Command {
	var o portAddOptions
	cmd := &cobra.Command{
		Use:   "add SWITCH NAME --host H [--mac auto] [--ip IP]... [--interface IF] [key=value...]",
		Short: "Add a port to a logical switch, on a host",
		Long: "Add a port to a logical switch of the topology loomd stores: the workload on host H\n" +
			"behind the OVS interface IF (or the one whose external_ids:iface-id is --iface-id).\n\n" + editLong,
		Example: "  loomctl port add blue web3 --host h2 --ip 192.0.2.13 --interface lm-web3\n" +
			"  loomctl port add shop web3 --host h1 --interface lm-web3 acls.toPort=[basics,web-in] acls.fromPort=[basics,web-out]\n" +
			"  loomctl port add blue web3 --host h2 --interface lm-web3 --dry-run",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: g.completeNames(0, "switches"),
		RunE: func(cmd *cobra.Command, args []string) error {
			sw, name := args[0], args[1]
			fields, err := o.fields(cmd, sw, args[2:])
			if err != nil {
				return err
			}
			host := o.host
			for _, f := range fields {
				if f.Key == "host" {
					host = f.Value
				}
			}
			if host == "" {
				return fmt.Errorf("port add: --host is required: the host the workload runs on")
			}
			return runEdit(cmd, g, &o.edit, edit.Op{Action: edit.ActionAdd, Kind: "port", Name: name, Position: -1, Fields: fields})
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.host, "host", "", "the host the workload runs on (host)")
	f.StringVar(&o.mac, "mac", "auto", "the workload's MAC, or auto for one derived from the port's name (mac)")
	f.StringSliceVar(&o.ips, "ip", nil, "an IP address of the workload, inside the switch's subnets (repeatable; ips)")
	f.StringVar(&o.iface, "interface", "", "the OVS interface that carries the port (interface)")
	f.StringVar(&o.ifaceID, "iface-id", "", "bind the OVS interface whose external_ids:iface-id is this, instead of --interface (ifaceID)")
	g.completeFlag(cmd, "host", "hosts")
	o.edit.flags(cmd)
	return cmd
}

// fields are the switch, the flags given, then the key=value arguments.
func (o *portAddOptions) fields(cmd *cobra.Command, sw string, args []string) ([]edit.Field, error) {
	fs := []edit.Field{{Key: "switch", Value: yamlString(sw)}}
	if o.host != "" {
		fs = append(fs, edit.Field{Key: "host", Value: yamlString(o.host)})
	}
	if o.mac != "" {
		fs = append(fs, edit.Field{Key: "mac", Value: yamlString(o.mac)})
	}
	if len(o.ips) > 0 {
		fs = append(fs, edit.Field{Key: "ips", Value: yamlList(o.ips)})
	}
	if o.iface != "" {
		fs = append(fs, edit.Field{Key: "interface", Value: yamlString(o.iface)})
	}
	if o.ifaceID != "" {
		fs = append(fs, edit.Field{Key: "ifaceID", Value: yamlString(o.ifaceID)})
	}
	more, err := edit.ParseFields(args)
	return append(fs, more...), err
}
