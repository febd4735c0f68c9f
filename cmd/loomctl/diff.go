package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// change is one object that differs between two topologies.
type change struct {
	Kind   string               `json:"kind"`
	Name   string               `json:"name"`
	Change string               `json:"change"` // added, removed, changed
	Fields map[string][2]string `json:"fields,omitempty"`
}

func newDiffCmd(g *globals) *cobra.Command {
	var (
		files []string
		out   output
	)
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR",
		Short: "Show how a topology differs from the one loomd holds, object by object",
		Long: "Compare the topology of -f with the one loomd holds: the hosts, switches, ports, ACLs,\n" +
			"L2 gateways and external endpoints added, removed or changed, with each changed field's\n" +
			"old and new value. Nothing is changed and no host is contacted (plan says what the\n" +
			"hosts would need). Exit status 1 when they differ, as diff(1).",
		Example: "  loomctl diff -f topology.yaml\n  loomctl diff -f topology/ -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if len(files) == 0 {
				return fmt.Errorf("no topology given: use -f FILE|DIR")
			}
			next, err := loadTopology(cmd, files)
			if err != nil {
				return err
			}
			var cur *topology.Topology
			if cur, _, err = g.storedFiles(cmd); err != nil && !strings.Contains(err.Error(), "no topology yet") {
				return err
			}
			if cur == nil {
				cur = &topology.Topology{}
			}
			changes := diffTopologies(cur, next)
			w := cmd.OutOrStdout()
			if ok, err := out.structured(w, changes); !ok {
				printChanges(w, g.colors(w), changes, true)
			} else if err != nil {
				return err
			}
			if len(changes) > 0 {
				return exitError{1}
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	out.flag(cmd, "table", "json", "yaml")
	return cmd
}

// printChanges prints each object that changes, with its fields as the
// YAML writes them: the old and new value of each changed field, and,
// with added, every field of an object added.
func printChanges(w io.Writer, col colors, changes []change, added bool) {
	if len(changes) == 0 {
		fmt.Fprintln(w, "no differences: loomd holds this topology")
		return
	}
	counts := map[string]int{}
	for _, c := range changes {
		counts[c.Change]++
		switch c.Change {
		case "added":
			fmt.Fprintf(w, "%s %s %s\n", col.green("+"), c.Kind, c.Name)
		case "removed":
			fmt.Fprintf(w, "%s %s %s\n", col.red("-"), c.Kind, c.Name)
		default:
			fmt.Fprintf(w, "%s %s %s\n", col.yellow("~"), c.Kind, c.Name)
		}
		for _, f := range sortedFieldKeys(c.Fields) {
			v := c.Fields[f]
			switch {
			case c.Change == "added" && added:
				fmt.Fprintf(w, "    %s: %s\n", f, v[1])
			case c.Change == "changed":
				fmt.Fprintf(w, "    %s: %s → %s\n", f, orNone(v[0]), orNone(v[1]))
			}
		}
	}
	fmt.Fprintf(w, "%d added, %d changed, %d removed\n", counts["added"], counts["changed"], counts["removed"])
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func sortedFieldKeys(m map[string][2]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// diffTopologies lists the objects that differ, by kind then name, each
// field as a topology file writes it (topology.SpecOf).
func diffTopologies(a, b *topology.Topology) []change {
	sa, sb := topology.SpecOf(a), topology.SpecOf(b)
	var out []change
	for _, k := range []struct {
		kind string
		a, b map[string]map[string]string
	}{
		{"host", byName(sa.Hosts), byName(sb.Hosts)}, {"switch", byName(sa.Switches), byName(sb.Switches)},
		{"port", byName(sa.Ports), byName(sb.Ports)}, {"acl", byName(sa.ACLs), byName(sb.ACLs)},
		{"l2gateway", byName(sa.L2Gateways), byName(sb.L2Gateways)},
		{"endpoint", byName(sa.ExternalEndpoints), byName(sb.ExternalEndpoints)},
	} {
		old, next := k.a, k.b
		names := map[string]bool{}
		for n := range old {
			names[n] = true
		}
		for n := range next {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			o, ok1 := old[n]
			x, ok2 := next[n]
			c := change{Kind: k.kind, Name: n, Fields: map[string][2]string{}}
			switch {
			case !ok1:
				c.Change = "added"
				for f, v := range x {
					c.Fields[f] = [2]string{"", v}
				}
			case !ok2:
				c.Change, c.Fields = "removed", nil
			default:
				c.Change = "changed"
				for f := range mergeKeys(o, x) {
					if o[f] != x[f] {
						c.Fields[f] = [2]string{o[f], x[f]}
					}
				}
				if len(c.Fields) == 0 {
					continue
				}
			}
			out = append(out, c)
		}
	}
	return out
}

func mergeKeys(a, b map[string]string) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

// byName is each object's fields as the YAML writes them, by object name
// (the name itself left out).
func byName[T any](list []T) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, o := range list {
		fields := topology.SpecFields(o)
		out[fields["name"]] = fields
		delete(fields, "name")
	}
	return out
}

// storedTopology is the topology of loomd's files (empty when it holds
// none, or when they do not load here: then every object reads as new).
func storedTopology(st *api.Topology) *topology.Topology {
	if st == nil || len(st.Files) == 0 {
		return &topology.Topology{}
	}
	t, err := topology.LoadBytes(api.BytesOf(st.Files))
	if err != nil {
		return &topology.Topology{}
	}
	return t
}
