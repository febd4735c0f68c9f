package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// load returns the topology of -f, or, without -f, the one loomd holds.
// It prints every problem with its position.
func (g *globals) load(cmd *cobra.Command, files []string) (*topology.Topology, error) {
	if len(files) > 0 {
		return loadOffline(cmd, files)
	}
	t, _, err := g.stored(cmd)
	return t, err
}

// stored returns the topology loomd holds, as it compiles it (with the
// runtime ports and the addresses it handed out), and its revision.
func (g *globals) stored(cmd *cobra.Command) (*topology.Topology, *api.Topology, error) {
	t, st, err := g.storedFiles(cmd)
	if err != nil {
		return nil, nil, err
	}
	r, err := st.Resolve(t)
	if err != nil {
		var list topology.ErrorList
		if errors.As(err, &list) {
			return nil, nil, printProblems(cmd, api.Problems(err), "loomd's runtime ports do not fit its topology here (is loomctl older than loomd?)")
		}
		return nil, nil, err
	}
	return r, st, nil
}

// storedFiles returns the topology of loomd's files (without runtime
// ports; ips: auto ports without addresses), and its revision.
func (g *globals) storedFiles(cmd *cobra.Command) (*topology.Topology, *api.Topology, error) {
	c, err := g.remote.client()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
	defer cancel()
	st, err := c.Topology(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("%w\n(or give the topology with -f FILE|DIR)", err)
	}
	if len(st.Files) == 0 {
		return nil, nil, errors.New("loomd holds no topology yet: loomctl apply -f FILE|DIR, or give one here with -f")
	}
	t, err := topology.LoadBytes(api.BytesOf(st.Files))
	if err != nil {
		return nil, nil, printProblems(cmd, api.Problems(err), "loomd's topology does not load here (is loomctl older than loomd?)")
	}
	return t, st, nil
}

// printProblems prints each problem on stderr, then what they mean, and
// returns the exit error.
func printProblems(cmd *cobra.Command, ps []api.Problem, what string) error {
	for _, p := range ps {
		fmt.Fprintln(cmd.ErrOrStderr(), p)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%d error%s: %s\n", len(ps), plural(len(ps)), what)
	return exitError{1}
}
