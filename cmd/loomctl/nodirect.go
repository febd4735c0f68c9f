//go:build nodirect

package main

// A loomctl built with -tags nodirect talks only to loomd: the in-process
// engine of --direct (and with it the OVSDB and OpenFlow clients) is left
// out, and --direct says so.

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/topology"
)

type directFlags struct{}

func addDirectFlags(*cobra.Command, *directFlags, time.Duration, bool) {}

var errNoDirect = errors.New("--direct: this loomctl was built with -tags nodirect and only talks to loomd; build it without the tag for --direct")

func directPlan(context.Context, *zap.Logger, *directFlags, *topology.Topology, bool) (*api.Plan, error) {
	return nil, errNoDirect
}

func directFlows(context.Context, *directFlags, *topology.Topology, string) (*api.HostFlows, error) {
	return nil, errNoDirect
}
