package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/flows/ofctl"
	"github.com/loom-sdn/loom/topology"
)

var dumpCookieRE = regexp.MustCompile(`cookie=(0x[0-9a-f]+)`)

func newFlowsCmd() *cobra.Command {
	var (
		files   []string
		tls     controller.TLS
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "flows -f FILE HOST",
		Short: "Show the flows a host's switch holds, each with the topology object behind it, and any drift",
		Long: "Read the flows in Loom's cookie space from HOST's switch (no change is made), print each\n" +
			"with the topology object, file:line and rule that made it, then what differs from the\n" +
			"topology: flows missing on the switch and flows it should not hold.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := tls.Check(); err != nil {
				return err
			}
			t, err := loadTopology(cmd, files)
			if err != nil {
				return err
			}
			hs, err := flows.CompileHost(t, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			observed, err := tls.OpenFlow(hs.OpenFlow).Dump(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			n := 0
			for _, line := range strings.Split(strings.TrimSpace(string(observed)), "\n") {
				m := dumpCookieRE.FindStringSubmatch(line)
				if m == nil {
					continue
				}
				c, _ := strconv.ParseUint(m[1], 0, 64)
				fmt.Fprintf(out, "%s\n    # %s\n", strings.TrimSpace(line), flows.Explain(t, c))
				n++
			}
			plan, err := ofctl.PlanFlows(ctx, hs, observed)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "# %s: %d flows of Loom's on the switch, %d in the topology\n", hs.Host, n, len(hs.Flows))
			if plan.Empty() {
				fmt.Fprintln(out, "# no drift: the switch holds exactly the topology's flows")
				return nil
			}
			for _, l := range plan.Missing {
				fmt.Fprintf(out, "# missing on the switch: %s\n#     %s\n", l, explainLine(t, l))
			}
			for _, l := range plan.Extra {
				fmt.Fprintf(out, "# on the switch but not in the topology: %s\n#     %s\n", l, explainLine(t, l))
			}
			fmt.Fprintf(out, "# drift: %d missing, %d extra (loomctl apply repairs it)\n", len(plan.Missing), len(plan.Extra))
			return exitError{1}
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time allowed")
	addTLSFlags(cmd, &tls)
	return cmd
}

// explainLine explains the cookie of a flow line, as OVS prints it.
func explainLine(t *topology.Topology, line string) string {
	m := dumpCookieRE.FindStringSubmatch(line)
	if m == nil {
		return "no cookie"
	}
	c, _ := strconv.ParseUint(m[1], 0, 64)
	return flows.Explain(t, c)
}
