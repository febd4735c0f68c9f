package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/topology"
)

// loadTopology loads the files of -f and prints every problem, one per
// line, as FILE:LINE:COL: message.
func loadTopology(cmd *cobra.Command, files []string) (*topology.Topology, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no topology given: use -f FILE or -f DIR")
	}
	t, err := topology.Load(files...)
	if list, ok := err.(topology.ErrorList); ok {
		for _, e := range list {
			fmt.Fprintln(cmd.ErrOrStderr(), e)
		}
		n := len(list)
		fmt.Fprintf(cmd.ErrOrStderr(), "%d error%s: the topology is invalid, nothing was applied\n", n, plural(n))
		return nil, exitError{1}
	}
	return t, err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func newValidateCmd() *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR",
		Short: "Check a topology and report every error with its position",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := loadTopology(cmd, files)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "valid: %d hosts, %d switches, %d ports\n", len(t.Hosts), len(t.Switches), len(t.Ports))
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	return cmd
}
