package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// loadTopology loads the files of -f. It prints every problem, one per
// line, as FILE:LINE:COL: message, and warnings likewise.
func loadTopology(cmd *cobra.Command, files []string) (*topology.Topology, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("no topology given: use -f FILE or -f DIR")
	}
	t, err := topology.Load(files...)
	var list topology.ErrorList
	if errors.As(err, &list) {
		return nil, printErrorList(cmd, list)
	}
	if err != nil {
		return nil, err
	}
	for _, w := range t.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
	}
	return t, nil
}

// printErrorList prints every problem of list, one per line, and says
// that nothing was applied; it returns the exit status 1.
func printErrorList(cmd *cobra.Command, list topology.ErrorList) error {
	for _, e := range list {
		fmt.Fprintln(cmd.ErrOrStderr(), e)
	}
	n := len(list)
	fmt.Fprintf(cmd.ErrOrStderr(), "%d error%s: the topology is invalid, nothing was applied\n", n, plural(n))
	return exitError{1}
}

// compiles runs the compiler's own checks on t, as loomd does before it
// takes a topology, so that validate never calls valid what loomd or
// apply refuses. Its problems are a topology.ErrorList, with positions.
func compiles(t *topology.Topology) error {
	_, err := flows.Compile(t)
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// validateResult is what `validate -o json|yaml` prints; its problems
// have the shape of loomd's (api.Problem: file, line, col, message, hint).
type validateResult struct {
	Valid    bool          `json:"valid"`
	Errors   []api.Problem `json:"errors"`
	Warnings []api.Problem `json:"warnings"`
	Hosts    int           `json:"hosts"`
	Switches int           `json:"switches"`
	Ports    int           `json:"ports"`
	ACLs     int           `json:"acls"`
}

func problems(l topology.ErrorList) []api.Problem {
	if len(l) == 0 {
		return []api.Problem{}
	}
	return api.Problems(l)
}

func newValidateCmd() *cobra.Command {
	var (
		files []string
		out   output
	)
	cmd := &cobra.Command{
		Use:   "validate -f FILE|DIR",
		Short: "Check a topology and report every error with its position",
		Long: "Check a topology and report every error with its position, as FILE:LINE:COL: message (hint).\n" +
			"Exit status 0 when it is valid (warnings allowed), 1 when it is not.",
		Example: "  loomctl validate -f topology.yaml\n  loomctl validate -f topology/ -o json | jq '.errors[]'",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			switch out.format {
			case "text":
				t, err := loadTopology(cmd, files)
				if err != nil {
					return err
				}
				if err := compiles(t); err != nil {
					var list topology.ErrorList
					if errors.As(err, &list) {
						return printErrorList(cmd, list)
					}
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "valid: %d hosts, %d switches, %d ports, %d ACLs\n", len(t.Hosts), len(t.Switches), len(t.Ports), len(t.ACLs))
				return nil
			}
			return validateStructured(cmd.OutOrStdout(), &out, files)
		},
	}
	cmd.Flags().StringSliceVarP(&files, "filename", "f", nil, "topology file or folder (repeatable)")
	out.flag(cmd, "text", "json", "yaml")
	return cmd
}

func validateStructured(w io.Writer, o *output, files []string) error {
	if len(files) == 0 {
		return fmt.Errorf("no topology given: use -f FILE or -f DIR")
	}
	res := validateFiles(files)
	if _, err := o.structured(w, res); err != nil {
		return err
	}
	if !res.Valid {
		return exitError{1}
	}
	return nil
}

// validateFiles runs every check loomd runs on a topology (its parser's
// and validator's, then the compiler's) on files, and answers as loomd's
// validate does.
func validateFiles(files []string) validateResult {
	res := validateResult{Errors: []api.Problem{}, Warnings: []api.Problem{}}
	t, err := topology.Load(files...)
	if err == nil {
		err = compiles(t)
	}
	var list topology.ErrorList
	switch {
	case errors.As(err, &list):
		res.Errors = problems(list)
	case err != nil:
		res.Errors = []api.Problem{{Message: err.Error()}}
	default:
		res.Valid = true
		res.Warnings = problems(t.Warnings)
		res.Hosts, res.Switches, res.Ports, res.ACLs = len(t.Hosts), len(t.Switches), len(t.Ports), len(t.ACLs)
	}
	return res
}
