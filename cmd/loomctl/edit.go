package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
)

// The imperative edits (switch.go, port.go, acl.go) change the topology
// loomd stores as ovn-nbctl changes its database, but client-side and
// optimistically, as kubectl edit does: get the files and their
// revision, edit the YAML (topology/edit), validate it here with the
// loader, and put it back with the revision it was made on. If another
// change came first, loomd answers 409 Conflict and the edit is made
// again on the new files, up to editTries times.

const editTries = 5

// editOptions are the flags every edit command has.
type editOptions struct {
	dryRun bool
	wait   time.Duration
	out    output
}

func (o *editOptions) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "validate the edit and show the change of the files; store nothing")
	cmd.Flags().DurationVar(&o.wait, "wait", 0, "follow the hosts until they reach the new revision, for at most this long (as apply does); 0: return once loomd stored it")
	o.out.flag(cmd, "table", "json", "yaml")
}

// editChange is one edit of the stored topology. apply makes it on the
// files of one revision (again on fresh files after a conflict) and says
// what it did after the subject ("added to switch blue on host h2").
type editChange struct {
	action  string // add, delete, set
	kind    string // switch, port, acl, rule
	name    string
	acl     string // of a rule
	subject string // "port web3"
	apply   func(edit.Files) (edit.Files, string, error)
}

// editResult is what an edit prints with -o json or yaml.
type editResult struct {
	Action  string `json:"action"`
	Kind    string `json:"kind"`
	Name    string `json:"name,omitempty"`
	ACL     string `json:"acl,omitempty"`
	Message string `json:"message"`
	// Files are the files the edit changed (or would change).
	Files []string `json:"files"`
	// FromRevision is the stored revision the edit was made on; Tries
	// counts the attempts (more than 1 after conflicts).
	FromRevision int64 `json:"fromRevision"`
	Tries        int   `json:"tries"`
	DryRun       bool  `json:"dryRun,omitempty"`
	// Diff is the change of the files, with --dry-run.
	Diff string `json:"diff,omitempty"`
	// Warnings of the edited topology, with --dry-run (loomd's are in
	// Applied).
	Warnings []api.Problem `json:"warnings,omitempty"`
	Applied  *api.Applied  `json:"applied,omitempty"`
	// Hosts are the hosts' states at the end of --wait.
	Hosts []controller.HostStatus `json:"hosts,omitempty"`
}

// runEdit gets, edits, validates and puts back the topology, retrying on
// conflicts, and prints the outcome.
func runEdit(cmd *cobra.Command, g *globals, o *editOptions, c editChange) error {
	if err := o.out.check(); err != nil {
		return err
	}
	client, err := g.remote.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute) // loomd compiles the whole topology for each change
	defer cancel()
	res := editResult{Action: c.action, Kind: c.kind, Name: c.name, ACL: c.acl, DryRun: o.dryRun}
	for try := 1; ; try++ {
		res.Tries = try
		cur, err := client.Topology(ctx)
		if err != nil {
			return err
		}
		if cur.Source == api.SourceFiles {
			return fmt.Errorf("loomd reads its topology from files (%s): edit them there; loomctl %s %s edits a topology stored through the API", cur.Path, c.kind, c.action)
		}
		before := edit.Files(api.BytesOf(cur.Files))
		after, did, err := c.apply(before)
		if err != nil {
			return err
		}
		res.FromRevision, res.Files = cur.Revision, changedFiles(before, after)
		t, err := topology.LoadBytes(after)
		if err != nil {
			return printProblems(cmd, api.Problems(err), "nothing was changed")
		}
		if o.dryRun {
			res.Message = c.subject + " would be " + did
			for _, n := range res.Files {
				res.Diff += editDiff(n, before[n], after[n])
			}
			if len(t.Warnings) > 0 {
				res.Warnings = api.Problems(t.Warnings)
			}
			return printEdit(cmd, o, res, "dry run: "+res.Message+"; nothing was stored")
		}
		res.Message = c.subject + " " + did
		if len(res.Files) == 0 {
			res.Applied = &api.Applied{Revision: cur.Revision, Summary: api.Summarize(t), Unchanged: true}
			return printEdit(cmd, o, res, fmt.Sprintf("%s: nothing to change (revision %d)", c.subject, cur.Revision))
		}
		sent := time.Now()
		applied, err := client.PutTopology(ctx, api.TopologyUpdate{Revision: cur.Revision, Files: api.FilesOf(after)})
		if api.IsConflict(err) {
			if try < editTries {
				g.log.Debug("topology changed meanwhile, editing again", zap.Int64("revision", cur.Revision), zap.Int("try", try))
				continue
			}
			return fmt.Errorf("the topology changed %d times while this edit was being made (another client is writing it): nothing was changed, try again", editTries)
		}
		var ae *api.Error
		if errors.As(err, &ae) && len(ae.Problems) > 0 {
			return printProblems(cmd, ae.Problems, "loomd rejected the change, nothing was changed")
		}
		if err != nil {
			return err
		}
		res.Applied = applied
		line := fmt.Sprintf("%s (revision %d)", res.Message, applied.Revision)
		if applied.Unchanged {
			line = fmt.Sprintf("%s: nothing to change (revision %d)", c.subject, applied.Revision)
		}
		if o.wait <= 0 || applied.Unchanged {
			return printEdit(cmd, o, res, line)
		}
		w := cmd.OutOrStdout()
		var progress io.Writer = w
		if o.out.format != "table" {
			progress = io.Discard
		} else {
			fmt.Fprintln(w, line)
		}
		if res.Hosts, err = follow(cmd.Context(), client, applied.Revision, sent, o.wait, progress, g.colors(w)); err != nil {
			return err
		}
		if o.out.format != "table" {
			if _, err := o.out.structured(w, res); err != nil {
				return err
			}
		}
		for _, h := range res.Hosts {
			if h.State != controller.StateInSync || h.Revision < applied.Revision {
				return exitError{1}
			}
		}
		return nil
	}
}

// printEdit prints res as -o asks, or, for tables, the diff of a dry
// run, the warnings on stderr and line.
func printEdit(cmd *cobra.Command, o *editOptions, res editResult, line string) error {
	w := cmd.OutOrStdout()
	if ok, err := o.out.structured(w, res); ok {
		return err
	}
	fmt.Fprint(w, res.Diff)
	warns := res.Warnings
	if res.Applied != nil {
		warns = res.Applied.Warnings
	}
	for _, p := range warns {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", p)
	}
	fmt.Fprintln(w, line)
	return nil
}

// changedFiles are the names of the files that differ, sorted.
func changedFiles(before, after edit.Files) []string {
	out := []string{}
	for n, b := range after {
		if a, ok := before[n]; !ok || string(a) != string(b) {
			out = append(out, n)
		}
	}
	for n := range before {
		if _, ok := after[n]; !ok {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// yamlString is s as YAML text that reads back as the string s.
func yamlString(s string) string {
	b, err := yaml.Marshal(&yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
	if err != nil {
		return s
	}
	return strings.TrimSuffix(string(b), "\n")
}

// yamlList is ss as a YAML flow list of strings: [a, b].
func yamlList(ss []string) string {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range ss {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
	}
	b, err := yaml.Marshal(n)
	if err != nil {
		return "[" + strings.Join(ss, ", ") + "]"
	}
	return strings.TrimSuffix(string(b), "\n")
}

// editDiff is a unified diff of one file, with three lines of context.
func editDiff(name string, a, b []byte) string {
	al, bl := diffLines(a), diffLines(b)
	ops := diffOps(al, bl)
	from, to := "a/"+name, "b/"+name
	if a == nil {
		from = "/dev/null"
	}
	if b == nil {
		to = "/dev/null"
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", from, to)
	// an[i] and bn[i] count the lines of a and b before ops[i].
	an, bn := make([]int, len(ops)+1), make([]int, len(ops)+1)
	for i, op := range ops {
		an[i+1], bn[i+1] = an[i], bn[i]
		if op[0] != '+' {
			an[i+1]++
		}
		if op[0] != '-' {
			bn[i+1]++
		}
	}
	const ctx = 3
	for i := 0; i < len(ops); {
		for i < len(ops) && ops[i][0] == ' ' {
			i++
		}
		if i == len(ops) {
			break
		}
		start, end := max(i-ctx, 0), i
		for j := i; j < len(ops); {
			if ops[j][0] != ' ' {
				j++
				end = j
				continue
			}
			k := j
			for k < len(ops) && ops[k][0] == ' ' {
				k++
			}
			if k == len(ops) || k-j > 2*ctx {
				break
			}
			j = k
		}
		end = min(end+ctx, len(ops))
		na, nb := an[end]-an[start], bn[end]-bn[start]
		sa, sb := an[start]+1, bn[start]+1
		if na == 0 {
			sa--
		}
		if nb == 0 {
			sb--
		}
		fmt.Fprintf(&out, "@@ -%d,%d +%d,%d @@\n", sa, na, sb, nb)
		for _, op := range ops[start:end] {
			out.WriteString(op)
		}
		i = end
	}
	return out.String()
}

func diffLines(b []byte) []string {
	if len(b) == 0 {
		return nil
	}
	l := strings.SplitAfter(string(b), "\n")
	if l[len(l)-1] == "" {
		l = l[:len(l)-1]
	} else {
		l[len(l)-1] += "\n"
	}
	return l
}

// diffOps are the lines of a and b as a unified diff prints them: " "
// kept, "-" removed, "+" added. Edits touch a few lines: the common head
// and tail are kept as they are, and the middle is compared by longest
// common subsequence (or replaced whole, if large).
func diffOps(a, b []string) []string {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	var ops []string
	for _, l := range a[:p] {
		ops = append(ops, " "+l)
	}
	ma, mb := a[p:len(a)-s], b[p:len(b)-s]
	if len(ma)*len(mb) > 1<<20 {
		for _, l := range ma {
			ops = append(ops, "-"+l)
		}
		for _, l := range mb {
			ops = append(ops, "+"+l)
		}
	} else {
		// lcs[i][j] is the longest common subsequence of ma[i:] and mb[j:].
		lcs := make([][]int, len(ma)+1)
		for i := range lcs {
			lcs[i] = make([]int, len(mb)+1)
		}
		for i := len(ma) - 1; i >= 0; i-- {
			for j := len(mb) - 1; j >= 0; j-- {
				if ma[i] == mb[j] {
					lcs[i][j] = lcs[i+1][j+1] + 1
				} else {
					lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
				}
			}
		}
		i, j := 0, 0
		for i < len(ma) || j < len(mb) {
			switch {
			case i < len(ma) && j < len(mb) && ma[i] == mb[j]:
				ops = append(ops, " "+ma[i])
				i++
				j++
			case j < len(mb) && (i == len(ma) || lcs[i][j+1] > lcs[i+1][j]):
				ops = append(ops, "+"+mb[j])
				j++
			default:
				ops = append(ops, "-"+ma[i])
				i++
			}
		}
	}
	for _, l := range a[len(a)-s:] {
		ops = append(ops, " "+l)
	}
	return ops
}

// editLong is the part of every edit command's help that says how edits
// work.
const editLong = `The edit is made on the topology loomd stores: loomctl gets its files and
revision, edits the YAML (keeping comments and layout), validates the result
as "loomctl validate" would, and stores it with the revision it started from.
If another change came first, the edit is made again on the new topology (up
to 5 times). An invalid result is reported as FILE:LINE:COL: message, and
nothing is stored. --dry-run shows the change of the files and stores nothing.

Fields are key=value, with the keys of the topology files (docs/topology.md):
the value is YAML, so ips=[192.0.2.5,192.0.2.6], portSecurity=false and
tunnelKey=100 are a list, a boolean and a number; dotted keys reach into a
mapping (acls.toPort=[basics,web-in]); key= removes the key.`

// newDelCmd makes `KIND del NAME`.
func newDelCmd(g *globals, kind edit.Kind, example string) *cobra.Command {
	var o editOptions
	word := kind.Singular()
	cmd := &cobra.Command{
		Use:               "del NAME",
		Short:             "Delete a " + word,
		Long:              "Delete a " + word + " from the topology loomd stores.\n\n" + editLong,
		Example:           example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeNames(0, string(kind)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			return runEdit(cmd, g, &o, editChange{
				action: "delete", kind: strings.ToLower(word), name: name, subject: word + " " + name,
				apply: func(f edit.Files) (edit.Files, string, error) {
					out, err := edit.Delete(f, kind, name)
					return out, "deleted", err
				},
			})
		},
	}
	o.flags(cmd)
	return cmd
}

// newSetCmd makes `KIND set NAME key=value...`.
func newSetCmd(g *globals, kind edit.Kind, example string) *cobra.Command {
	var o editOptions
	word := kind.Singular()
	cmd := &cobra.Command{
		Use:               "set NAME key=value...",
		Short:             "Set or remove (key=) fields of a " + word,
		Long:              "Set or remove fields of a " + word + " of the topology loomd stores.\n\n" + editLong,
		Example:           example,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: g.completeNames(0, string(kind)),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			fields, err := edit.ParseFields(args[1:])
			if err != nil {
				return err
			}
			return runEdit(cmd, g, &o, editChange{
				action: "set", kind: strings.ToLower(word), name: name, subject: word + " " + name,
				apply: func(f edit.Files) (edit.Files, string, error) {
					out, err := edit.Set(f, kind, name, fields)
					return out, "updated: " + strings.Join(args[1:], " "), err
				},
			})
		},
	}
	o.flags(cmd)
	return cmd
}
