package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/topology/edit"
)

// newACLCmd makes `acl add|del`: edits of the ACLs of the topology loomd
// stores, a rule at a time (edit.go).
func newACLCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acl add|del|set|rule",
		Short: "Add or delete ACL rules (and ACLs) of the topology loomd stores",
		Long: "Add or delete a rule of an ACL of the topology loomd stores, or a whole ACL; set an ACL's fields. Ports name\n" +
			"the ACLs they apply (loomctl port set NAME acls.toPort=[...]). acl rule add|del are acl add|del\n" +
			"of one rule, by name.\n\n" + editLong,
		Example: "  loomctl acl add web-in name=http action=allow proto=tcp dstPorts=80\n" +
			"  loomctl acl rule del web-in http\n" +
			"  loomctl acl set web-in name=web-ingress\n" +
			"  loomctl acl del web-in --cascade    # and out of the acls of the ports that apply it",
	}
	rule := &cobra.Command{
		Use:     "rule add|del",
		Short:   "Add or delete one rule of an ACL",
		Example: "  loomctl acl rule add web-in name=http action=allow proto=tcp dstPorts=80\n  loomctl acl rule del web-in http",
	}
	ruleDel := newACLDelCmd(g)
	ruleDel.Use, ruleDel.Short, ruleDel.Args = "del ACL RULE", "Delete a rule of an ACL (by name or index from 0)", cobra.ExactArgs(2)
	ruleDel.Example = "  loomctl acl rule del web-in http\n  loomctl acl rule del web-in 0"
	rule.AddCommand(newACLAddCmd(g), ruleDel)
	cmd.AddCommand(rule, newACLAddCmd(g), newACLDelCmd(g),
		newSetCmd(g, edit.ACLs, "  loomctl acl set web-in name=web-ingress\n  loomctl acl set web-in rules=[{action: allow, proto: tcp, dstPorts: 443}]"))
	return cmd
}

// aclAddOptions are the flags of `acl add`.
type aclAddOptions struct {
	position int
	edit     editOptions
}

func newACLAddCmd(g *globals) *cobra.Command {
	var o aclAddOptions
	cmd := &cobra.Command{
		Use:   "add ACL key=value... [--position N]",
		Short: "Add a rule to an ACL (making the ACL if there is none)",
		Long: "Add a rule, made of key=value fields (name, action, ethType, proto, src, dst, srcPorts,\n" +
			"dstPorts, icmpType, icmpCode), to an ACL: at the end, or at index --position (0 is\n" +
			"first; the first rule that matches decides). An ACL that does not exist is made.\n\n" + editLong,
		Example: "  loomctl acl add web-in name=http action=allow proto=tcp dstPorts=80\n" +
			"  loomctl acl add web-in name=admin action=allow proto=tcp src=203.0.113.0/24 dstPorts=8000-8099 --position 0\n" +
			"  loomctl acl add basics name=arp action=allow ethType=arp\n" +
			"  loomctl acl add web-in action=drop proto=udp --dry-run",
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: g.completeNames(0, "acls"),
		RunE: func(cmd *cobra.Command, args []string) error {
			acl := args[0]
			rule, err := edit.ParseFields(args[1:])
			if err != nil {
				return err
			}
			return runEdit(cmd, g, &o.edit, edit.Op{Action: edit.ActionAdd, Kind: edit.KindRule, ACL: acl, Position: o.position, Fields: rule})
		},
	}
	cmd.Flags().IntVar(&o.position, "position", -1, "index the rule takes in the ACL, 0 for first (default: last)")
	o.edit.flags(cmd)
	return cmd
}

func newACLDelCmd(g *globals) *cobra.Command {
	var o editOptions
	cmd := &cobra.Command{
		Use:   "del ACL [RULE]",
		Short: "Delete a rule of an ACL (by name or index from 0), or the whole ACL",
		Long:  "Delete a rule of an ACL, named or counted from 0, or, with no RULE, the whole ACL.\n\n" + editLong,
		Example: "  loomctl acl del web-in http\n" +
			"  loomctl acl del web-in 0\n" +
			"  loomctl acl del web-in",
		Args:              cobra.RangeArgs(1, 2),
		ValidArgsFunction: g.completeNames(0, "acls"),
		RunE: func(cmd *cobra.Command, args []string) error {
			acl := args[0]
			if len(args) == 1 {
				return runEdit(cmd, g, &o, edit.Op{Action: edit.ActionDel, Kind: "acl", Name: acl, Position: -1})
			}
			if o.cascade {
				return fmt.Errorf("--cascade goes with deleting a whole ACL, not a rule")
			}
			return runEdit(cmd, g, &o, edit.Op{Action: edit.ActionDel, Kind: edit.KindRule, ACL: acl, Name: args[1], Position: -1})
		},
	}
	o.flags(cmd)
	o.cascadeFlag(cmd)
	return cmd
}
