package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
)

func newStatusCmd(g *globals) *cobra.Command {
	var (
		out   output
		watch bool
	)
	cmd := &cobra.Command{
		Use:   "status [--watch]",
		Short: "Show loomd's topology and every host's state",
		Long: "Ask loomd for its topology (source, revision, counts, and why newer files were rejected)\n" +
			"and every host's state: pending, applying, in sync, degraded (at the revision, with ports\n" +
			"down: each is listed with what is wrong), unreachable or error (with the last error), the\n" +
			"revision it reached, its flows and its last reconcile. Exit status 1 when a host is not in\n" +
			"sync or no topology is in force. --watch prints each change as it happens, until interrupted.",
		Example: "  loomctl status\n  loomctl status --watch\n" +
			"  loomctl status --server https://10.0.0.5:9477 --token-file ~/.config/loom/token -o json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			c, err := g.remote.client()
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			col := g.colors(w)
			if watch {
				return watchStatus(cmd.Context(), c, cmd.ErrOrStderr(), func(ev api.Event) error {
					if ok, err := out.structured(w, ev); ok {
						return err
					}
					switch {
					case ev.Status != nil:
						printStatus(w, col, ev.Status)
					case ev.Host != nil:
						fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05"), hostLine(col, *ev.Host))
					case ev.Topology != nil:
						fmt.Fprintf(w, "%s  %s\n", time.Now().Format("15:04:05"), topologyLine(ev.Topology))
					}
					return nil
				})
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			st, err := c.Status(ctx)
			if err != nil {
				return err
			}
			if ok, err := out.structured(w, st); !ok {
				printStatus(w, col, st)
			} else if err != nil {
				return err
			}
			if !st.Topology.Loaded {
				return exitError{1}
			}
			for _, h := range st.Hosts {
				if h.State != api.StateInSync {
					return exitError{1}
				}
			}
			return nil
		},
	}
	out.flag(cmd, "table", "json", "yaml")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "follow changes as they happen")
	return cmd
}

func topologyLine(t *api.TopologyState) string {
	src := "written through the API"
	if t.Source == api.SourceFiles {
		src = "from " + t.Path
	}
	s := fmt.Sprintf("topology %s: none in force", src)
	if t.Loaded {
		ports := fmt.Sprintf("%d ports", t.Ports)
		if t.RuntimePorts > 0 {
			ports += fmt.Sprintf(" (%d from runtimes)", t.RuntimePorts)
		}
		s = fmt.Sprintf("topology revision %d, %s: %d hosts, %d switches, %s, %d ACLs, since %s",
			t.Revision, src, t.Hosts, t.Switches, ports, t.ACLs, t.WrittenAt.Local().Format(time.RFC3339))
	}
	if t.Rejected != "" {
		s += fmt.Sprintf("\n%s, the topology above stays:", t.Rejected)
		for _, p := range t.Problems {
			s += "\n  " + p.String()
		}
	}
	return s
}

func stateColor(col colors, state string) string {
	switch state {
	case api.StateInSync:
		return col.green(state)
	case api.StateError, api.StateUnreachable, portDown:
		return col.red(state)
	}
	return col.yellow(state)
}

func hostLine(col colors, h api.HostStatus) string {
	return h.Host + ": " + hostState(col, h)
}

// hostState is a host's state, the revision it reached and its flows, and
// its ports down.
func hostState(col colors, h api.HostStatus) string {
	switch h.State {
	case api.StateRemoved:
		return col.green("removed") + fmt.Sprintf(" from the topology (revision %d) and cleaned", h.Revision)
	case api.StateRemoving:
		s := col.yellow("removing") + fmt.Sprintf(": removed from the topology (revision %d), Loom's bridge to delete", h.Revision)
		if h.LastError != "" {
			s += ": " + h.LastError
		}
		return s
	}
	s := fmt.Sprintf("%s, revision %d of %d, %d flows", stateColor(col, h.State), h.Revision, h.Desired, h.Flows)
	if h.LastError != "" {
		s += ": " + h.LastError
	}
	for _, p := range h.PortsDown {
		s += "\n    " + col.red("down:") + " " + p.Problem
	}
	return s
}

// portDown is the state show gives a port that its host lists as down.
const portDown = "down"

// portsDownText counts a host's ports down, for a table cell.
func portsDownText(h api.HostStatus) string {
	switch n := len(h.PortsDown); n {
	case 0:
		return ""
	case 1:
		return "1 port down (below)"
	default:
		return fmt.Sprintf("%d ports down (below)", n)
	}
}

func printStatus(out io.Writer, col colors, st *api.Status) {
	fmt.Fprintln(out, topologyLine(&st.Topology))
	if len(st.Hosts) == 0 {
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tSTATE\tREVISION\tFLOWS\tRECONCILES\tREPAIRS\tLAST\tERROR")
	for _, h := range st.Hosts {
		last := "-"
		if !h.LastReconcile.IsZero() {
			last = fmt.Sprintf("%s ago (%v)", time.Since(h.LastReconcile).Round(time.Second), h.LastDuration.Round(time.Millisecond))
		}
		errText := h.LastError
		if errText == "" {
			errText = portsDownText(h)
		}
		if len(errText) > 80 {
			errText = errText[:77] + "..."
		}
		rev := fmt.Sprint(h.Revision)
		if h.Revision != h.Desired {
			rev = fmt.Sprintf("%d→%d", h.Revision, h.Desired)
		}
		// Every color code has the same length, so tabwriter's columns stay
		// aligned.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", h.Host, stateColor(col, h.State), rev, h.Flows, h.Reconciles, h.Repairs, last, errText)
	}
	tw.Flush()
	for _, h := range st.Hosts {
		for _, p := range h.PortsDown {
			fmt.Fprintf(out, "%s %s: %s\n", col.red("down:"), h.Host, p.Problem)
		}
	}
}

// watchStatus follows loomd's status stream until ctx ends. loomd ends a
// stream when its watcher falls behind (or when it stops): the watch then
// starts again, with a fresh snapshot, as long as loomd answers.
func watchStatus(ctx context.Context, c *api.Client, stderr io.Writer, fn func(api.Event) error) error {
	for {
		err := c.Watch(ctx, fn)
		if !errors.Is(err, api.ErrStreamClosed) {
			return err
		}
		fmt.Fprintln(stderr, "loomd ended the status stream (a watcher that fell behind, or loomd stopping): watching again")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
