package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/flows"
)

func newExplainCmd(g *globals) *cobra.Command {
	var (
		files []string
		out   output
	)
	cmd := &cobra.Command{
		Use:   "explain [-f FILE] COOKIE...",
		Short: "Name the topology object and rule behind a flow's cookie",
		Example: `  loomctl explain 0x4c4d0303002c2549              # with the topology loomd holds
  loomctl explain -f topology.yaml 0x4c4d0303002c2549 -o json
  ovs-ofctl dump-flows br-int | grep -o 'cookie=0x[0-9a-f]*' | cut -d= -f2 | xargs loomctl explain -f topology.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			t, err := g.load(cmd, files)
			if err != nil {
				return err
			}
			type explained struct {
				Cookie  string `json:"cookie"`
				Explain string `json:"explain"`
			}
			var list []explained
			for _, a := range args {
				c, err := strconv.ParseUint(a, 0, 64)
				if err != nil {
					return fmt.Errorf("cookie %q: want a number such as 0x4c4d0303002c2549", a)
				}
				list = append(list, explained{fmt.Sprintf("%#x", c), flows.Explain(t, c)})
			}
			if ok, err := out.structured(cmd.OutOrStdout(), list); ok {
				return err
			}
			for _, e := range list {
				fmt.Fprintf(cmd.OutOrStdout(), "%s  %s\n", e.Cookie, e.Explain)
			}
			return nil
		},
	}
	out.flag(cmd, "table", "json", "yaml")
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable); default: the topology loomd holds")
	return cmd
}
