package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// applyOptions are the flags of apply and plan.
type applyOptions struct {
	files   []string
	direct  bool
	force   bool // remove the runtime ports of switches and hosts the files remove
	yes     bool
	wait    time.Duration
	verbose bool
	engine  directFlags
	out     output
}

// newApplyCmd makes `apply` or, with dry, `plan`.
func newApplyCmd(g *globals, dry bool) *cobra.Command {
	o := &applyOptions{}
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR [--yes]",
		Short: "Make a topology the one loomd keeps every host equal to: plan, confirm, apply, follow",
		Long: "Send the topology to loomd: it is validated (every error with its position), planned on\n" +
			"every host (flows to add, modify and delete, OVSDB changes), shown, and after confirmation\n" +
			"(--yes to skip it) stored as loomd's next revision. loomctl then follows each host until it\n" +
			"reaches the revision or fails. Exit status 1 if a host failed, did not get there in --wait,\n" +
			"or got there with ports down (degraded: each is listed with what is wrong).\n\n" +
			"With --direct, no loomd is involved: loomctl itself connects to every host once, applies,\n" +
			"verifies and reports (the one-shot mode).",
		Example: "  loomctl apply -f topology.yaml\n  loomctl apply -f topology/ --yes --wait 5m\n" +
			"  loomctl apply --direct -f topology.yaml        # no loomd: one pass over the hosts",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd, g, dry) },
	}
	if dry {
		cmd.Use = "plan [-f FILE|DIR]"
		cmd.Short = "Show what each host needs to match a topology (flows, OVSDB), changing nothing"
		cmd.Long = "Ask every host what it would take to match the topology of -f (or, without -f, the one\n" +
			"loomd holds: then the plan is the hosts' drift). Per host: OVSDB changes and flows to add (+),\n" +
			"modify (~) and delete (-), then a summary line. Nothing is changed anywhere.\n\n" +
			"With --direct, loomctl asks the hosts itself instead of through loomd."
		cmd.Example = "  loomctl plan -f topology.yaml\n  loomctl plan                       # drift of the hosts from loomd's topology\n" +
			"  loomctl plan -f topology.yaml -v -o yaml\n  loomctl plan --direct -f topology.yaml"
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "topology file or folder (repeatable)")
	f.BoolVar(&o.direct, "direct", false, "no loomd: connect to the hosts from here, once")
	f.BoolVar(&o.force, "force", false, "remove the runtime ports on switches or hosts the topology no longer has (refused without it, naming them)")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list every flow of the plan, not only their counts")
	o.out.flag(cmd, "table", "json", "yaml")
	if !dry {
		f.BoolVarP(&o.yes, "yes", "y", false, "apply without asking")
		f.DurationVar(&o.wait, "wait", 2*time.Minute, "how long to follow the hosts after loomd took the topology; 0: do not follow")
	}
	addDirectFlags(cmd, &o.engine, 60*time.Second, true)
	return cmd
}

func (o *applyOptions) run(cmd *cobra.Command, g *globals, dry bool) error {
	if err := o.out.check(); err != nil {
		return err
	}
	if o.direct {
		return o.runDirect(cmd, g, dry)
	}
	if len(o.files) == 0 && !dry {
		return fmt.Errorf("no topology given: use -f FILE|DIR")
	}
	var (
		files map[string]string
		next  *topology.Topology
	)
	if len(o.files) > 0 {
		// Every error here, with the paths as the operator wrote them.
		var err error
		if next, err = loadTopology(cmd, o.files); err != nil {
			return err
		}
		if files, err = readFiles(o.files); err != nil {
			return err
		}
	}
	c, err := g.remote.client()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	cur, err := c.Topology(ctx)
	if err != nil {
		return err
	}
	if !dry && cur.Source == api.SourceFiles {
		return fmt.Errorf("loomd reads its topology from files (%s): edit them there, loomd takes them as they change", cur.Path)
	}
	// The flows themselves only when they are printed: a new host's
	// plan lists all of its flows (20 MB of JSON at 2,000 ports).
	plan, err := c.PlanFiles(ctx, api.Files{Files: files, Force: o.force, Flows: o.verbose || o.out.format != "table"})
	if err != nil {
		return apiProblems(cmd, err)
	}
	out := cmd.OutOrStdout()
	col := g.colors(out)
	if next != nil && o.out.format == "table" {
		// First what changes in the topology, object by object, as the
		// YAML writes them (as diff shows it, the fields of objects added
		// with -v); then what the hosts need.
		printChanges(out, col, diffTopologies(storedTopology(cur), next), o.verbose)
	}
	if dry {
		if ok, err := o.out.structured(out, plan); !ok {
			printPlan(out, col, plan, o.verbose, planned)
		} else if err != nil {
			return err
		}
		for _, h := range plan.Hosts {
			if h.Error != "" {
				return exitError{1} // as apply: a host that cannot answer fails the command
			}
		}
		return nil
	}
	structured := o.out.format != "table"
	if !structured {
		printPlan(out, col, plan, o.verbose, planned)
	}
	if !o.yes && !maps.Equal(files, cur.Files) {
		if !isTerminal(cmd.InOrStdin()) {
			return fmt.Errorf("not applied: confirm with --yes when not at a terminal")
		}
		fmt.Fprintf(out, "Make this revision %d of loomd's topology? Only 'yes' goes on: ", cur.Revision+1)
		line, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if strings.TrimSpace(line) != "yes" {
			fmt.Fprintln(out, "not applied")
			return exitError{1}
		}
	}
	sent := time.Now()
	applied, err := c.PutTopology(ctx, api.TopologyUpdate{Revision: cur.Revision, Files: files, Force: o.force})
	if api.IsConflict(err) {
		return fmt.Errorf("%w\n(someone changed loomd's topology after this plan: run apply again to see the new plan)", err)
	}
	if err != nil {
		return apiProblems(cmd, err)
	}
	res := &applyResult{Applied: applied, Plan: plan}
	if !structured {
		if applied.Unchanged {
			fmt.Fprintf(out, "loomd already holds these files: revision %d stays\n", applied.Revision)
		} else {
			fmt.Fprintf(out, "loomd took the topology as revision %d\n", applied.Revision)
		}
	}
	if o.wait > 0 {
		var log io.Writer = out
		if structured {
			log = io.Discard
		}
		res.Hosts, err = follow(ctx, c, applied.Revision, sent, o.wait, log, col)
		if err != nil {
			return err
		}
	}
	if structured {
		if _, err := o.out.structured(out, res); err != nil {
			return err
		}
	}
	for _, h := range res.Hosts {
		if h.State != api.StateInSync || h.Revision != applied.Revision {
			return exitError{1}
		}
	}
	return nil
}

// applyResult is what apply -o json|yaml prints, through loomd and with
// --direct alike: the plan (for --direct, what was done), and what loomd
// made of it (its revision; the hosts' states at the end of --wait).
type applyResult struct {
	Applied *api.Applied     `json:"applied,omitempty"`
	Plan    *api.Plan        `json:"plan"`
	Hosts   []api.HostStatus `json:"hosts,omitempty"`
}

// apiProblems prints a topology rejected by loomd like one rejected here.
func apiProblems(cmd *cobra.Command, err error) error {
	if e, ok := err.(*api.Error); ok && len(e.Problems) > 0 {
		what := "the topology is invalid, nothing was applied"
		if e.Code == http.StatusConflict {
			what = e.Message // it does not fit what loomd holds: runtime ports, addresses
		}
		return printProblems(cmd, e.Problems, what)
	}
	return err
}

// follow watches loomd's status stream until every host reached revision
// rev (sent to loomd at sent) or failed trying, or wait passed; it prints
// each host as it gets there and returns the last status of every host.
func follow(ctx context.Context, c *api.Client, rev int64, sent time.Time, wait time.Duration, out io.Writer, col colors) ([]api.HostStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	hosts := map[string]api.HostStatus{}
	done := map[string]bool{}
	start := sent
	applying := map[string]bool{}
	report := func(h api.HostStatus) {
		if h.State == api.StateRemoving || h.State == api.StateRemoved {
			delete(hosts, h.Host) // left the topology: not to wait for
			return
		}
		hosts[h.Host] = h
		if done[h.Host] || h.Desired < rev {
			return
		}
		switch {
		case h.State == api.StateApplying && !applying[h.Host]:
			applying[h.Host] = true
			fmt.Fprintf(out, "  %s %s: applying revision %d (%d flows)\n", col.yellow("…"), h.Host, rev, h.Flows)
			return
		case h.State == api.StateInSync && h.Revision >= rev:
			what := fmt.Sprintf("%d changes", h.LastChanges)
			if !h.LastReconcile.After(start) {
				what = "nothing to change for it" // the revision left this host as it was
			}
			fmt.Fprintf(out, "  %s %s: %s at revision %d after %v (%s)\n", col.green("✓"), h.Host, col.green(h.State),
				h.Revision, time.Since(start).Round(10*time.Millisecond), what)
		case h.State == api.StateDegraded && h.Revision >= rev:
			fmt.Fprintf(out, "  %s %s: %s at revision %d after %v, with %d port(s) down:\n", col.yellow("!"), h.Host, col.yellow(h.State),
				h.Revision, time.Since(start).Round(10*time.Millisecond), len(h.PortsDown))
			for _, p := range h.PortsDown {
				fmt.Fprintf(out, "      %s\n", p.Problem)
			}
		case (h.State == api.StateError || h.State == api.StateUnreachable) && h.Failures > 0 && h.LastReconcile.After(start):
			fmt.Fprintf(out, "  %s %s: %s: %s (loomd retries it)\n", col.red("✗"), h.Host, col.red(h.State), h.LastError)
		default:
			return
		}
		done[h.Host] = true
	}
	finished := false
	for !finished && ctx.Err() == nil {
		err := c.Watch(ctx, func(ev api.Event) error {
			switch {
			case ev.Status != nil:
				for _, h := range ev.Status.Hosts {
					report(h)
				}
			case ev.Host != nil:
				report(*ev.Host)
			}
			if len(done) == len(hosts) { // every host there (or none in the topology)
				finished = true
				return api.ErrStop
			}
			return nil
		})
		switch {
		case finished, ctx.Err() != nil:
		case errors.Is(err, api.ErrStreamClosed):
			// loomd cuts off a watcher that falls behind (a burst of many
			// hosts' events): watch again, its snapshot says where all are.
			time.Sleep(100 * time.Millisecond)
		case err != nil:
			return nil, err
		}
	}
	names := make([]string, 0, len(hosts))
	for n := range hosts {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]api.HostStatus, 0, len(names))
	for _, n := range names {
		list = append(list, hosts[n])
		if !done[n] {
			fmt.Fprintf(out, "  %s %s: %s, not at revision %d after %v\n", col.yellow("…"), n, hosts[n].State, rev, wait)
		}
	}
	return list, nil
}

// runDirect is apply and plan with --direct: the engine runs here, and
// its answer is printed as loomd's plan is.
func (o *applyOptions) runDirect(cmd *cobra.Command, g *globals, dry bool) error {
	t, err := loadTopology(cmd, o.files)
	if err != nil {
		return err
	}
	p, err := directPlan(cmd.Context(), g.log, &o.engine, t, !dry)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	var doc any = p // plan: loomd's plan document
	if !dry {
		doc = &applyResult{Plan: p} // apply: as apply through loomd prints it
	}
	if ok, err := o.out.structured(out, doc); !ok {
		mode := planned
		if !dry {
			mode = applied
		}
		printPlan(out, g.colors(out), p, o.verbose, mode)
	} else if err != nil {
		return err
	}
	if planFailed(p) {
		return exitError{1} // as apply through loomd: a failed or degraded host is not done
	}
	return nil
}
