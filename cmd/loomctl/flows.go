package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
)

func newFlowsCmd(g *globals) *cobra.Command {
	var (
		files   []string
		direct  bool
		engine  directFlags
		timeout time.Duration
		out     output
	)
	cmd := &cobra.Command{
		Use:   "flows HOST",
		Short: "Show the flows a host's switch holds, each with the topology object behind it, and any drift",
		Long: "Read the flows in Loom's cookie space from HOST's switch (no change is made), print each\n" +
			"with the topology object, file:line and rule that made it, then what differs from the\n" +
			"topology: flows missing on the switch and flows it should not hold. Exit status 1 on drift.\n\n" +
			"loomd reads the switch and explains with the topology it holds; with --direct -f FILE,\n" +
			"loomctl reads the switch itself and explains with FILE.",
		Example:           "  loomctl flows h1\n  loomctl flows h1 -o json | jq '.flows[].explain'\n  loomctl flows --direct -f topology.yaml h1",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeNames(0, "hosts"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			var rep *api.HostFlows
			if direct {
				t, err := loadTopology(cmd, files)
				if err != nil {
					return err
				}
				if rep, err = directFlows(ctx, &engine, t, args[0]); err != nil {
					return err
				}
			} else {
				if len(files) > 0 {
					return fmt.Errorf("-f goes with --direct: loomd explains with the topology it holds")
				}
				c, err := g.remote.client()
				if err != nil {
					return err
				}
				if rep, err = c.Flows(ctx, args[0]); err != nil {
					return err
				}
			}
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, rep); !ok {
				printFlows(w, g.colors(w), rep)
			} else if err != nil {
				return err
			}
			if len(rep.Missing)+len(rep.Extra) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "with --direct: topology file or folder (repeatable)")
	cmd.Flags().BoolVar(&direct, "direct", false, "no loomd: read the switch from here")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time allowed")
	out.flag(cmd, "table", "json", "yaml")
	addDirectFlags(cmd, &engine, 0, false)
	return cmd
}

func printFlows(w io.Writer, col colors, r *api.HostFlows) {
	for _, f := range r.Flows {
		fmt.Fprintf(w, "%s\n    # %s\n", f.String(), f.Explain)
	}
	fmt.Fprintf(w, "# %s: %d flows of Loom's on the switch, %d in the topology\n", r.Host, len(r.Flows), r.Desired)
	for _, n := range hostNotes(r.Status, r.Revision) {
		fmt.Fprintf(w, "# %s\n", col.yellow(n))
	}
	if len(r.Missing)+len(r.Extra) == 0 {
		fmt.Fprintln(w, "# no drift: the switch holds exactly the topology's flows")
		return
	}
	for _, f := range r.Missing {
		fmt.Fprintf(w, "%s %s\n#     %s\n", col.red("# missing on the switch:"), f.String(), f.Explain)
	}
	for _, f := range r.Extra {
		fmt.Fprintf(w, "%s %s\n#     %s\n", col.red("# on the switch but not in the topology:"), f.String(), f.Explain)
	}
	repair := "loomd repairs it at its next reconcile"
	if h := r.Status; h != nil && (h.State == api.StateError || h.State == api.StateUnreachable) {
		repair = "loomd repairs it once a reconcile of the host succeeds; the last failed (above)"
	}
	fmt.Fprintf(w, "# drift: %d missing, %d extra (%s)\n", len(r.Missing), len(r.Extra), repair)
}

// hostNotes says, from its status, what a host's switch may not hold of
// revision rev of the topology: nothing when it is in sync at rev.
func hostNotes(h *api.HostStatus, rev int64) []string {
	if h == nil {
		return nil
	}
	var notes []string
	why := ""
	if h.LastError != "" {
		why = ": " + h.LastError
	}
	switch {
	case h.Revision != rev:
		notes = append(notes, fmt.Sprintf("host %s is not at revision %d: it is at revision %d, %s%s; its switch may not do what the topology says",
			h.Host, rev, h.Revision, h.State, why))
	case !h.AtRevision():
		notes = append(notes, fmt.Sprintf("host %s is not in sync (%s) at revision %d%s; its switch may not do what the topology says",
			h.Host, h.State, rev, why))
	}
	for _, p := range h.PortsDown {
		notes = append(notes, fmt.Sprintf("host %s has a port down: %s; its flows are on the switch but no packet enters or leaves by it", h.Host, p.Problem))
	}
	return notes
}
