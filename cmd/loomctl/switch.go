package main

import (
	"strconv"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/topology/edit"
)

// newSwitchCmd makes `switch add|del|set`: edits of the logical switches
// of the topology loomd stores (edit.go).
func newSwitchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "switch add|del|set",
		Short: "Add, delete or change a logical switch of the topology loomd stores",
		Long:  "Add, delete or change a logical switch of the topology loomd stores.\n\n" + editLong,
		Example: "  loomctl switch add blue --tunnel-key 100 --subnet 192.0.2.0/24\n" +
			"  loomctl switch set blue mtu=1400 floodUnknown=true\n" +
			"  loomctl switch del blue",
	}
	cmd.AddCommand(newSwitchAddCmd(g),
		newDelCmd(g, edit.Switches, "  loomctl switch del blue\n  loomctl switch del blue --dry-run"),
		newSetCmd(g, edit.Switches, "  loomctl switch set blue mtu=1400 subnets=[192.0.2.0/24,2001:db8::/64]\n"+
			"  loomctl switch set blue aclDefault=deny\n  loomctl switch set blue mtu=          # back to the default"))
	return cmd
}

// switchAddOptions are the flags of `switch add`.
type switchAddOptions struct {
	tunnelKey int64
	encap     string
	vlan      int
	physnet   string
	subnets   []string
	edit      editOptions
}

func newSwitchAddCmd(g *globals) *cobra.Command {
	var o switchAddOptions
	cmd := &cobra.Command{
		Use:   "add NAME [--tunnel-key N] [--encapsulation gre|vxlan|geneve] [--vlan N --physnet P] [--subnet CIDR]... [key=value...]",
		Short: "Add a logical switch: overlay (--tunnel-key) or VLAN-backed (--vlan and --physnet)",
		Long: "Add a logical switch to the topology loomd stores: an overlay switch has a tunnel key,\n" +
			"a VLAN-backed one a VLAN on a physical network. Other fields are key=value.\n\n" + editLong,
		Example: "  loomctl switch add blue --tunnel-key 100 --subnet 192.0.2.0/24\n" +
			"  loomctl switch add green --tunnel-key 5000 --encapsulation vxlan mtu=1400\n" +
			"  loomctl switch add office --vlan 10 --physnet physnet1 --subnet 198.51.100.0/24\n" +
			"  loomctl switch add blue --tunnel-key 100 --dry-run -o yaml",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			fields, err := o.fields(cmd, args[1:])
			if err != nil {
				return err
			}
			return runEdit(cmd, g, &o.edit, edit.Op{Action: edit.ActionAdd, Kind: "switch", Name: name, Position: -1, Fields: fields})
		},
	}
	f := cmd.Flags()
	f.Int64Var(&o.tunnelKey, "tunnel-key", 0, "overlay switch: its GRE key or VXLAN/Geneve VNI (tunnelKey)")
	f.StringVar(&o.encap, "encapsulation", "", "overlay switch: gre, vxlan or geneve (default: the topology's defaults)")
	f.IntVar(&o.vlan, "vlan", 0, "VLAN-backed switch: its VLAN id, 1..4094 (vlan)")
	f.StringVar(&o.physnet, "physnet", "", "VLAN-backed switch: the physical network that carries the VLAN (physnet)")
	f.StringSliceVar(&o.subnets, "subnet", nil, "a subnet (CIDR) of the switch, at most one IPv4 and one IPv6 (repeatable; subnets)")
	o.edit.flags(cmd)
	return cmd
}

// fields are the flags given, then the key=value arguments.
func (o *switchAddOptions) fields(cmd *cobra.Command, args []string) ([]edit.Field, error) {
	var fs []edit.Field
	flag := cmd.Flags().Changed
	if flag("tunnel-key") {
		fs = append(fs, edit.Field{Key: "tunnelKey", Value: strconv.FormatInt(o.tunnelKey, 10)})
	}
	if flag("encapsulation") {
		fs = append(fs, edit.Field{Key: "encapsulation", Value: yamlString(o.encap)})
	}
	if flag("vlan") {
		fs = append(fs, edit.Field{Key: "vlan", Value: strconv.Itoa(o.vlan)})
	}
	if flag("physnet") {
		fs = append(fs, edit.Field{Key: "physnet", Value: yamlString(o.physnet)})
	}
	if len(o.subnets) > 0 {
		fs = append(fs, edit.Field{Key: "subnets", Value: yamlList(o.subnets)})
	}
	more, err := edit.ParseFields(args)
	return append(fs, more...), err
}
