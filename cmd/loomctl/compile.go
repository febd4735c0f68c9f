package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/flows"
)

func newCompileCmd() *cobra.Command {
	var (
		files []string
		host  string
	)
	cmd := &cobra.Command{
		Use:   "compile -f FILE [--host H]",
		Short: "Print the bridge, ports and flows a topology gives each host, offline",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := loadTopology(cmd, files)
			if err != nil {
				return err
			}
			states, err := flows.Compile(t)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			found := false
			for _, hs := range states {
				if host != "" && hs.Host != host {
					continue
				}
				found = true
				fmt.Fprintf(out, "# host %s: bridge %s, datapath %s, OpenFlow listener %s, OVSDB %s\n",
					hs.Host, hs.Bridge, hs.DatapathType, hs.ControllerTarget, hs.OVSDB)
				for _, p := range hs.Ports {
					kind := p.Type
					if kind == "" {
						kind = "system"
					}
					fmt.Fprintf(out, "# port %s (%s, ofport %d) %v\n", p.Name, kind, p.Ofport, p.Options)
				}
				for _, f := range hs.Flows {
					s, err := f.Text()
					if err != nil {
						return err
					}
					fmt.Fprintf(out, "%s\n    # %s\n", s, f.Origin)
				}
			}
			if !found {
				return fmt.Errorf("no host named %q in the topology", host)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	cmd.Flags().StringVar(&host, "host", "", "only this host")
	return cmd
}
