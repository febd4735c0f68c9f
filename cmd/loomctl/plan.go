package main

import (
	"fmt"
	"io"

	"github.com/loom-sdn/loom/controller/api"
)

// planMode says what a printed plan is: a plan (nothing changed yet) or
// the record of a run that changed the hosts (apply --direct).
type planMode int

const (
	planned planMode = iota // plan, or apply before it is confirmed
	applied                 // apply --direct: changed and verified
)

// printPlan prints a plan (api.Plan: the one loomd answers and the one
// --direct makes) like terraform's: per host, then a summary line. Both
// front doors print through it. It returns the number of hosts that
// failed.
func printPlan(w io.Writer, col colors, p *api.Plan, verbose bool, mode planMode) (failed int) {
	for _, r := range p.RuntimePortsRemoved {
		fmt.Fprintf(w, "%s %s goes (forced): its switch or host is removed\n", col.red("-"), r)
	}
	for _, h := range p.HostsRemoved {
		fmt.Fprintf(w, "%s %s\n", col.red("-"), h)
		for _, c := range h.OVSDB {
			fmt.Fprintf(w, "    ovsdb: %s\n", c)
		}
	}
	var changed, add, mod, del, db, down int
	skipped := 0 // not contacted: planned as new, counted as changed
	for _, h := range p.Hosts {
		switch {
		case h.Error != "":
			failed++
			fmt.Fprintf(w, "%s %s: %s\n", col.red("✗"), h.Host, h.Error)
			continue
		case !h.Changed():
			fmt.Fprintf(w, "  %s: in sync (%d flows)\n", h.Host, h.DesiredFlows)
		default:
			changed++
			add, mod, del, db = add+h.Adds, mod+h.Modifies, del+h.Deletes, db+len(h.OVSDB)
			done := ""
			if mode == applied {
				done = ", applied and verified"
			}
			fmt.Fprintf(w, "%s %s: %d flows to add, %d to modify, %d to delete; %d OVSDB changes (a bundle of %d flow mods)%s\n",
				col.yellow("~"), col.bold(h.Host), h.Adds, h.Modifies, h.Deletes, len(h.OVSDB), h.FlowMods, done)
		}
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
		if len(h.PortsDown) > 0 {
			down++
		}
		for _, d := range h.PortsDown {
			fmt.Fprintf(w, "    %s down: %s\n", col.yellow("!"), d.Problem)
		}
		if verbose {
			printPlanFlows(w, col, h)
		}
	}
	for _, warn := range p.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	if mode == applied {
		fmt.Fprintf(w, "Applied: %d hosts changed (%d flows added, %d modified, %d deleted, %d OVSDB changes), %d in sync, %d failed",
			changed, add, mod, del, db, len(p.Hosts)-changed-failed, failed)
	} else {
		fmt.Fprintf(w, "Plan: %d hosts to change (%d flows to add, %d to modify, %d to delete, %d OVSDB changes), %d in sync, %d failed",
			changed, add, mod, del, db, len(p.Hosts)-changed-failed, failed)
	}
	if down > 0 {
		fmt.Fprintf(w, ", %d with ports down", down)
	}
	fmt.Fprintln(w)
	if n := len(p.HostsRemoved); n > 0 {
		fmt.Fprintf(w, "%d hosts removed from the topology: Loom's bridge, ports and flows to delete from them\n", n)
	}
	if skipped > 0 {
		fmt.Fprintf(w, "%d hosts not contacted: loomd asks only the hosts of its topology in force, at the addresses they have there; the others are planned as new hosts\n", skipped)
	}
	if changed == 0 && failed == 0 {
		fmt.Fprintln(w, "nothing changed on any switch")
	}
	return failed
}

// printPlanFlows lists every flow of a host's plan.
func printPlanFlows(w io.Writer, col colors, h api.HostPlan) {
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

// planFailed tells whether a plan or run leaves a host short of the
// topology: a host that failed or has ports down.
func planFailed(p *api.Plan) bool {
	for _, h := range p.Hosts {
		if h.Error != "" || len(h.PortsDown) > 0 {
			return true
		}
	}
	return false
}
