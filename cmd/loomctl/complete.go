package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

// completeNames completes the positional argument at index pos with the
// names of a kind of object in the topology loomd holds (kinds: hosts,
// switches, ports, acls), or with a kind chosen by an earlier argument
// (kind "": args[0] names it, as in get). Without loomd it offers nothing.
func (g *globals) completeNames(pos int, kind string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		k := kind
		if k == "" && len(args) > 0 {
			k = args[0]
		}
		if len(args) != pos || k == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return g.names(k), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFlag makes the flag complete with the names of a kind of object
// loomd holds (--host with hosts, --from with ports...).
func (g *globals) completeFlag(cmd *cobra.Command, flag, kind string) {
	_ = cmd.RegisterFlagCompletionFunc(flag, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return g.names(kind), cobra.ShellCompDirectiveNoFileComp
	})
}

// names are the names of a kind of object in loomd's topology; none
// without loomd.
func (g *globals) names(kind string) []string {
	c, err := g.remote.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.Topology(ctx)
	if err != nil {
		return nil
	}
	if kind == "runtime-ports" {
		var out []string
		for _, p := range st.RuntimePorts {
			out = append(out, p.Name)
		}
		return out
	}
	t, err := topology.LoadBytes(api.BytesOf(st.Files))
	if err != nil {
		return nil
	}
	if r, err := st.Resolve(t); err == nil {
		t = r
	}
	return objectNames(t, kind)
}

// objectNames are the names of t's objects of kind: what get lists
// ("hosts", "l2gateways"...) or an edit's kind ("l2Gateways").
func objectNames(t *topology.Topology, kind string) []string {
	if k, ok := map[string]string{"l2Gateways": "l2gateways", "externalEndpoints": "endpoints"}[kind]; ok {
		kind = k
	}
	list, ok := kinds[kind]
	if !ok {
		return nil
	}
	var out []string
	for _, r := range list(t) {
		out = append(out, r.vals[0])
	}
	return out
}
