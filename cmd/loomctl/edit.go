package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"gopkg.in/yaml.v3"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
	"github.com/loom-sdn/loom/topology/edit"
)

// The imperative edits (switch.go, port.go, acl.go) change the topology
// loomd stores as ovn-nbctl changes its database: each sends loomd the one
// object that changes (POST edits: {op, kind, name, fields}), and loomd
// makes the edit on its files (comments and the rest byte for byte),
// checks the result as a PUT of it would be checked, and stores and
// installs it as a new revision, or changes nothing. Edits of several
// clients at once take turns in loomd: none is lost, none needs retrying.
//
// With -f, the edit is made here, on topology files the operator keeps
// (those loomd reads in files mode, or applies with apply -f), with the
// same code; they are validated and written back.

// editOptions are the flags every edit command has.
type editOptions struct {
	dryRun  bool
	cascade bool // del: the object's users go too, or stop naming it
	force   bool // remove the runtime ports of a switch or host the edit deletes
	wait    time.Duration
	files   []string
	out     output
}

func (o *editOptions) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "check the edit and show the change of the files; store nothing")
	cmd.Flags().BoolVar(&o.force, "force", false, "remove the runtime ports on a switch or host the edit deletes (refused without it, naming them)")
	cmd.Flags().DurationVar(&o.wait, "wait", 0, "follow the hosts until they reach the new revision, for at most this long (as apply does); 0: return once loomd stored it")
	cmd.Flags().StringSliceVarP(&o.files, "filename", "f", nil, "edit these topology files or folders here instead of loomd's topology (repeatable)")
	o.out.flag(cmd, "table", "json", "yaml")
}

// cascadeFlag adds --cascade to a del command.
func (o *editOptions) cascadeFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.cascade, "cascade", false, "delete what uses the object too (the ports, L2 gateways and endpoints of a switch or host), "+
		"or, for an ACL, take it out of the acls of the ports that apply it; each is listed (see it first with --dry-run)")
}

// editResult is what an edit prints with -o json or yaml: the edit, and
// loomd's answer (or, with -f, the same fields for the files here).
type editResult struct {
	Action string `json:"action"`
	Kind   string `json:"kind"`
	Name   string `json:"name,omitempty"`
	ACL    string `json:"acl,omitempty"`
	api.EditResult
	// Hosts are the hosts' states at the end of --wait.
	Hosts []api.HostStatus `json:"hosts,omitempty"`
	local bool             // made on files here (-f), not by loomd
}

// runEdit makes op, through loomd or (-f) on local files, and prints the
// outcome.
func runEdit(cmd *cobra.Command, g *globals, o *editOptions, op edit.Op) error {
	if err := o.out.check(); err != nil {
		return err
	}
	op.Cascade = o.cascade
	res := editResult{Action: op.Action, Kind: op.Kind, Name: op.Name, ACL: op.ACL}
	if len(o.files) > 0 {
		if o.wait > 0 {
			return fmt.Errorf("--wait goes with loomd's topology, not with -f")
		}
		return editFiles(cmd, o, op, res)
	}
	client, err := g.remote.client()
	if err != nil {
		return err
	}
	req := api.EditRequest{DryRun: o.dryRun, Force: o.force, Edits: []api.Edit{{Op: op.Action, Kind: op.Kind, Name: op.Name, ACL: op.ACL, Cascade: op.Cascade}}}
	if op.Position >= 0 && op.Kind == edit.KindRule && op.Action == edit.ActionAdd {
		req.Edits[0].Position = &op.Position
	}
	for _, f := range op.Fields {
		v, err := f.JSON()
		if err != nil {
			return err
		}
		req.Edits[0].Fields = append(req.Edits[0].Fields, api.Field{Key: f.Key, Value: v})
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Minute) // loomd compiles the hosts the change reaches
	defer cancel()
	sent := time.Now()
	answer, err := client.Edit(ctx, req)
	var ae *api.Error
	if errors.As(err, &ae) && len(ae.Problems) > 0 {
		return printProblems(cmd, ae.Problems, "nothing was changed")
	}
	if err != nil {
		return err
	}
	res.EditResult = *answer
	g.log.Debug("edit", zap.Any("timings", answer.Timings))
	if o.wait <= 0 || answer.Unchanged || answer.DryRun {
		return printEdit(cmd, o, op, res)
	}
	w := cmd.OutOrStdout()
	var progress io.Writer = w
	if o.out.format != "table" {
		progress = io.Discard
	} else {
		fmt.Fprintln(w, editLine(op, res))
	}
	if res.Hosts, err = follow(cmd.Context(), client, answer.Revision, sent, o.wait, progress, g.colors(w)); err != nil {
		return err
	}
	if o.out.format != "table" {
		if _, err := o.out.structured(w, res); err != nil {
			return err
		}
	}
	for _, h := range res.Hosts {
		if h.State != api.StateInSync || h.Revision < answer.Revision {
			return exitError{1}
		}
	}
	return nil
}

// editFiles makes op on the topology files o.files, checks the result as
// loomctl validate does and writes the files that changed.
func editFiles(cmd *cobra.Command, o *editOptions, op edit.Op, res editResult) error {
	dir, rel, err := topology.ReadFilesIn(o.files...)
	if err != nil {
		return err
	}
	// The files by the paths a user would type, for positions and writing.
	cwd, _ := os.Getwd()
	before := edit.Files{}
	for n, b := range rel {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if r, err := filepath.Rel(cwd, p); err == nil && !strings.HasPrefix(r, "..") {
			p = r
		}
		before[p] = b
	}
	var was *topology.Topology // the files before the edit, for its users
	if op.Action == edit.ActionDel || op.Action == edit.ActionSet {
		was, _ = topology.LoadBytes(before)
	}
	ops := edit.Cascade(was, []edit.Op{op})
	after, done, err := edit.Apply(before, ops, edit.Options{Index: topology.NewLoader()})
	if err != nil {
		return err
	}
	t, err := topology.LoadBytes(after)
	if err != nil {
		ps := api.Problems(err)
		if used := edit.StillUsed(was, ops); len(used) > 0 {
			ps = ps[:0]
			for _, u := range used {
				ps = append(ps, api.Problem{Object: u.Object.String(), Message: u.Message(), Hint: u.Hint()})
			}
		}
		return printProblems(cmd, ps, "nothing was changed")
	}
	res.local = true
	res.Done, res.Files, res.DryRun = done, edit.Changed(before, after), o.dryRun
	res.Summary, res.Unchanged = api.Summarize(t), len(res.Files) == 0
	if len(t.Warnings) > 0 {
		res.Warnings = api.Problems(t.Warnings)
	}
	if o.dryRun {
		for _, n := range res.Files {
			res.Diff += edit.Diff(n, before[n], after[n])
		}
		return printEdit(cmd, o, op, res)
	}
	for _, n := range res.Files {
		if err := writeFile(n, after[n]); err != nil {
			return fmt.Errorf("%w (the files before it were written as the edit asked)", err)
		}
	}
	return printEdit(cmd, o, op, res)
}

// writeFile replaces a topology file at once, keeping its mode: loomd,
// watching it, reads the old file or the new one.
func writeFile(path string, b []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// editLine is the line an edit prints: what it did, and the revision.
func editLine(op edit.Op, res editResult) string {
	did := op.Subject()
	if len(res.Done) > 0 {
		did = res.Done[len(res.Done)-1] // after what --cascade did first
	}
	local := res.local
	switch {
	case res.DryRun:
		return "dry run, nothing was stored: " + did
	case res.Unchanged && local:
		return op.Subject() + ": nothing to change"
	case res.Unchanged:
		return fmt.Sprintf("%s: nothing to change (revision %d)", op.Subject(), res.Revision)
	case local:
		return did + " (" + strings.Join(res.Files, ", ") + ")"
	}
	return fmt.Sprintf("%s (revision %d)", did, res.Revision)
}

// printEdit prints res as -o asks, or, for tables, the diff of a dry
// run, the warnings on stderr and the edit's line.
func printEdit(cmd *cobra.Command, o *editOptions, op edit.Op, res editResult) error {
	w := cmd.OutOrStdout()
	if ok, err := o.out.structured(w, res); ok {
		return err
	}
	fmt.Fprint(w, res.Diff)
	for _, p := range res.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", p)
	}
	for _, r := range res.RuntimePortsRemoved {
		fmt.Fprintf(w, "%s removed with it (forced)\n", r)
	}
	if len(res.Done) > 1 {
		for _, d := range res.Done[:len(res.Done)-1] {
			fmt.Fprintf(w, "with it (--cascade): %s\n", d)
		}
	}
	fmt.Fprintln(w, editLine(op, res))
	for _, h := range res.HostsRemoved {
		fmt.Fprintln(w, h)
	}
	return nil
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

// editLong is the part of every edit command's help that says how edits
// work.
const editLong = `The edit is made on the topology loomd stores: loomctl sends loomd the object
that changes, and loomd edits its files (keeping comments and layout), checks
the result as it checks a topology applied whole, and stores it as a new
revision. Edits from several clients at once take turns; none is lost. An
edit that would make the topology invalid changes nothing, and its problems
name the objects involved. --dry-run shows the change of the files and stores
nothing. With -f FILE, the edit is made on topology files here instead (the
files loomd reads when it runs with --topology, or that apply -f sends),
validated as "loomctl validate" does and written back.

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
		Long:              "Delete a " + word + " from the topology loomd stores (or, with -f, from topology files).\n\n" + editLong,
		Example:           example,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: g.completeNames(0, string(kind)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEdit(cmd, g, &o, edit.Op{Action: edit.ActionDel, Kind: kind.Word(), Name: args[0], Position: -1})
		},
	}
	o.flags(cmd)
	o.cascadeFlag(cmd)
	return cmd
}

// newSetCmd makes `KIND set NAME key=value...`.
func newSetCmd(g *globals, kind edit.Kind, example string) *cobra.Command {
	var o editOptions
	word := kind.Singular()
	cmd := &cobra.Command{
		Use:               "set NAME key=value...",
		Short:             "Set or remove (key=) fields of a " + word,
		Long:              "Set or remove fields of a " + word + " of the topology loomd stores (or, with -f, of topology files).\n\n" + editLong,
		Example:           example,
		Args:              cobra.MinimumNArgs(2),
		ValidArgsFunction: g.completeNames(0, string(kind)),
		RunE: func(cmd *cobra.Command, args []string) error {
			fields, err := edit.ParseFields(args[1:])
			if err != nil {
				return err
			}
			return runEdit(cmd, g, &o, edit.Op{Action: edit.ActionSet, Kind: kind.Word(), Name: args[0], Position: -1, Fields: fields})
		},
	}
	o.flags(cmd)
	return cmd
}
