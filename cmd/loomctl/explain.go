package main

import (
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/flows"
)

func newExplainCmd() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "explain -f FILE COOKIE...",
		Short: "Name the topology object and rule behind a flow's cookie",
		Example: `  loomctl explain -f topology.yaml 0x4c4d0303002c2549
  ovs-ofctl dump-flows br-int | grep -o 'cookie=0x[0-9a-f]*' | cut -d= -f2 | xargs loomctl explain -f topology.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := loadTopology(cmd, files)
			if err != nil {
				return err
			}
			for _, a := range args {
				c, err := strconv.ParseUint(a, 0, 64)
				if err != nil {
					return fmt.Errorf("cookie %q: want a number such as 0x4c4d0303002c2549", a)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%#x  %s\n", c, flows.Explain(t, c))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	return cmd
}
