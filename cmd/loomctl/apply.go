package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
)

// applyOptions are the flags of apply and plan.
type applyOptions struct {
	files    []string
	direct   bool
	force    bool // remove the runtime ports of switches and hosts the files remove
	yes      bool
	wait     time.Duration
	timeout  time.Duration
	parallel int
	verbose  bool
	tls      controller.TLS
	out      output
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
	f.DurationVar(&o.timeout, "host-timeout", 60*time.Second, "with --direct: time allowed for each host")
	f.IntVar(&o.parallel, "parallel", 8, "with --direct: hosts worked on at once")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "list every flow of the plan, not only their counts")
	o.out.flag(cmd, "table", "json", "yaml")
	if !dry {
		f.BoolVarP(&o.yes, "yes", "y", false, "apply without asking")
		f.DurationVar(&o.wait, "wait", 2*time.Minute, "how long to follow the hosts after loomd took the topology; 0: do not follow")
	}
	addTLSFlags(cmd, &o.tls)
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
	var files map[string]string
	if len(o.files) > 0 {
		// Every error here, with the paths as the operator wrote them.
		if _, err := loadTopology(cmd, o.files); err != nil {
			return err
		}
		var err error
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
	plan, err := c.PlanFiles(ctx, api.Files{Files: files, Force: o.force})
	if err != nil {
		return apiProblems(cmd, err)
	}
	out := cmd.OutOrStdout()
	col := g.colors(out)
	if dry {
		if ok, err := o.out.structured(out, plan); !ok {
			printPlan(out, col, plan, o.verbose)
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
		printPlan(out, col, plan, o.verbose)
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
	res := &applyResult{Applied: *applied, Plan: plan}
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
		if h.State != controller.StateInSync || h.Revision != applied.Revision {
			return exitError{1}
		}
	}
	return nil
}

// applyResult is what apply -o json|yaml prints.
type applyResult struct {
	Applied api.Applied             `json:"applied"`
	Plan    *api.Plan               `json:"plan"`
	Hosts   []controller.HostStatus `json:"hosts,omitempty"`
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
func follow(ctx context.Context, c *api.Client, rev int64, sent time.Time, wait time.Duration, out io.Writer, col colors) ([]controller.HostStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	hosts := map[string]controller.HostStatus{}
	done := map[string]bool{}
	start := sent
	applying := map[string]bool{}
	report := func(h controller.HostStatus) {
		hosts[h.Host] = h
		if done[h.Host] || h.Desired < rev {
			return
		}
		switch {
		case h.State == controller.StateApplying && !applying[h.Host]:
			applying[h.Host] = true
			fmt.Fprintf(out, "  %s %s: applying revision %d (%d flows)\n", col.yellow("…"), h.Host, rev, h.Flows)
			return
		case h.State == controller.StateInSync && h.Revision >= rev:
			what := fmt.Sprintf("%d changes", h.LastChanges)
			if !h.LastReconcile.After(start) {
				what = "nothing to change for it" // the revision left this host as it was
			}
			fmt.Fprintf(out, "  %s %s: %s at revision %d after %v (%s)\n", col.green("✓"), h.Host, col.green(h.State),
				h.Revision, time.Since(start).Round(10*time.Millisecond), what)
		case h.State == controller.StateDegraded && h.Revision >= rev:
			fmt.Fprintf(out, "  %s %s: %s at revision %d after %v, with %d port(s) down:\n", col.yellow("!"), h.Host, col.yellow(h.State),
				h.Revision, time.Since(start).Round(10*time.Millisecond), len(h.PortsDown))
			for _, p := range h.PortsDown {
				fmt.Fprintf(out, "      %s\n", p.Problem)
			}
		case (h.State == controller.StateError || h.State == controller.StateUnreachable) && h.Failures > 0 && h.LastReconcile.After(start):
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
	list := make([]controller.HostStatus, 0, len(names))
	for _, n := range names {
		list = append(list, hosts[n])
		if !done[n] {
			fmt.Fprintf(out, "  %s %s: %s, not at revision %d after %v\n", col.yellow("…"), n, hosts[n].State, rev, wait)
		}
	}
	return list, nil
}

// printPlan prints a plan like terraform's: per host, then a summary
// line. It returns the number of hosts that failed.
func printPlan(w io.Writer, col colors, p *api.Plan, verbose bool) (failed int) {
	for _, r := range p.RuntimePortsRemoved {
		fmt.Fprintf(w, "%s %s goes (forced): its switch or host is removed\n", col.red("-"), r)
	}
	var changed, add, mod, del, db int
	skipped := 0 // not contacted: planned as new, counted as changed
	for _, h := range p.Hosts {
		switch {
		case h.Error != "":
			failed++
			fmt.Fprintf(w, "%s %s: %s\n", col.red("✗"), h.Host, h.Error)
			continue
		case !h.Changed():
			fmt.Fprintf(w, "  %s: in sync (%d flows)\n", h.Host, h.DesiredFlows)
			continue
		}
		changed++
		add, mod, del, db = add+len(h.FlowsAdd), mod+len(h.FlowsModify), del+len(h.FlowsDelete), db+len(h.OVSDB)
		fmt.Fprintf(w, "%s %s: %d flows to add, %d to modify, %d to delete; %d OVSDB changes (a bundle of %d flow mods)\n",
			col.yellow("~"), col.bold(h.Host), len(h.FlowsAdd), len(h.FlowsModify), len(h.FlowsDelete), len(h.OVSDB), h.FlowMods)
		if h.NotContacted != "" {
			skipped++
			fmt.Fprintf(w, "    %s: not contacted (%s): planned as a new host\n", col.yellow("?"), h.NotContacted)
		}
		for _, c := range h.OVSDB {
			fmt.Fprintf(w, "    ovsdb: %s\n", c)
		}
		for _, f := range h.Foreign {
			fmt.Fprintf(w, "    ovsdb: left alone (not Loom's): %s\n", f)
		}
		if verbose {
			for _, f := range h.FlowsAdd {
				fmt.Fprintf(w, "    %s %s\n", col.green("+"), f)
			}
			for _, f := range h.FlowsModify {
				fmt.Fprintf(w, "    %s %s\n", col.yellow("~"), f)
			}
			for _, f := range h.FlowsDelete {
				fmt.Fprintf(w, "    %s %s\n", col.red("-"), f)
			}
			for _, f := range h.FlowsUnknown {
				fmt.Fprintf(w, "    %s %s (not Loom's syntax)\n", col.red("-"), f)
			}
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	fmt.Fprintf(w, "Plan: %d hosts to change (%d flows to add, %d to modify, %d to delete, %d OVSDB changes), %d in sync, %d failed\n",
		changed, add, mod, del, db, len(p.Hosts)-changed-failed, failed)
	if skipped > 0 {
		fmt.Fprintf(w, "%d hosts not contacted: loomd asks only the hosts of its topology in force, at the addresses they have there; the others are planned as new hosts\n", skipped)
	}
	if changed == 0 && failed == 0 {
		fmt.Fprintln(w, "nothing changed on any switch")
	}
	return failed
}

func (o *applyOptions) runDirect(cmd *cobra.Command, g *globals, dry bool) error {
	// Unreadable key files stop the run before any host is touched.
	if err := o.tls.Check(); err != nil {
		return err
	}
	t, err := loadTopology(cmd, o.files)
	if err != nil {
		return err
	}
	if auto := autoPorts(t); len(auto) > 0 {
		return fmt.Errorf("ports %s have ips: auto: only loomd hands out addresses (and keeps them); apply them through loomd, or give them addresses for --direct", strings.Join(auto, ", "))
	}
	e := &controller.Engine{Log: g.log, Opts: controller.Options{
		HostTimeout: o.timeout, Parallel: o.parallel, DryRun: dry, TLS: o.tls,
	}}
	results, err := e.Apply(cmd.Context(), t)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.out.format != "table" {
		p := &api.Plan{Hosts: make([]api.HostPlan, len(results)), Warnings: api.Problems(t.Warnings)}
		if len(t.Warnings) == 0 {
			p.Warnings = nil
		}
		failed := 0
		for i, r := range results {
			p.Hosts[i] = api.PlanOf(r)
			if r.Err != nil || len(r.PortsDown) > 0 {
				failed++
			}
		}
		if _, err := o.out.structured(out, p); err != nil {
			return err
		}
		if failed > 0 {
			return exitError{1}
		}
		return nil
	}
	if failed := report(out, results, dry); failed > 0 {
		return exitError{1}
	}
	for _, r := range results {
		if len(r.PortsDown) > 0 {
			return exitError{1} // as apply through loomd: degraded is not done
		}
	}
	return nil
}

// addTLSFlags adds the flags of the files used with ssl: hosts.
func addTLSFlags(cmd *cobra.Command, tls *controller.TLS) {
	cmd.Flags().StringVar(&tls.PrivateKey, "private-key", os.Getenv("LOOM_PRIVATE_KEY"),
		"with --direct: controller's private key (PEM) for hosts with ssl: addresses (env LOOM_PRIVATE_KEY)")
	cmd.Flags().StringVar(&tls.Certificate, "certificate", os.Getenv("LOOM_CERTIFICATE"),
		"with --direct: controller's certificate (PEM), e.g. from ovs-pki req+sign NAME controller (env LOOM_CERTIFICATE)")
	cmd.Flags().StringVar(&tls.CACert, "ca-cert", os.Getenv("LOOM_CA_CERT"),
		"with --direct: CA certificate (PEM) that signed the switches' certificates, e.g. ovs-pki's switchca/cacert.pem (env LOOM_CA_CERT)")
}

// report prints one block per host and a summary; it returns how many
// hosts failed.
func report(w io.Writer, results []controller.HostResult, dry bool) (failed int) {
	changed := 0
	verb := "changed"
	if dry {
		verb = "would change"
	}
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(w, "%s: FAILED: %v\n", r.Host, r.Err)
		case !r.Changed() && len(r.PortsDown) > 0:
			fmt.Fprintf(w, "%s: no changes (%d flows), %d port(s) down\n", r.Host, r.DesiredFlows, len(r.PortsDown))
		case !r.Changed():
			fmt.Fprintf(w, "%s: in sync, no changes (%d flows)\n", r.Host, r.DesiredFlows)
		default:
			changed++
			fmt.Fprintf(w, "%s: %s\n", r.Host, verb)
		}
		for _, c := range r.OVSDB {
			fmt.Fprintf(w, "  ovsdb: %s\n", c)
		}
		for _, f := range r.Foreign {
			fmt.Fprintf(w, "  ovsdb: left alone (not Loom's): %s\n", f)
		}
		for _, p := range r.PortsDown {
			fmt.Fprintf(w, "  down: %s\n", p.Problem)
		}
		if p := r.Flows; p != nil && !p.Empty() {
			fmt.Fprintf(w, "  flows: %d missing, %d stale, in %d groups: one bundle of %d flow mods",
				len(p.Missing), len(p.Extra), len(p.Groups), p.FlowMods())
			if dry {
				fmt.Fprintln(w)
			} else {
				fmt.Fprintln(w, ", verified")
			}
		}
	}
	unchanged := len(results) - changed - failed
	fmt.Fprintf(w, "%d hosts: %d %s, %d unchanged, %d failed\n", len(results), changed, verb, unchanged, failed)
	if changed == 0 && failed == 0 {
		fmt.Fprintln(w, "nothing changed on any switch")
	}
	return failed
}
