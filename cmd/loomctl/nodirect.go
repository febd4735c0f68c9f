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

// newAttachCmd and newDetachCmd stand in for attach and detach (which
// plumb a workload into the local Open vSwitch, so need its OVSDB client)
// once attach.go carries the build tag !nodirect; until then they are
// unused here.
func newAttachCmd(*globals) *cobra.Command { return notBuiltIn("attach") }

func newDetachCmd(*globals) *cobra.Command { return notBuiltIn("detach") }

// notBuiltIn is a command left out of this build, which says so.
func notBuiltIn(name string) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Short:              "Not in this build of loomctl (-tags nodirect): it works on the local Open vSwitch",
		Example:            "  go build ./cmd/loomctl   # a loomctl with " + name,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return errors.New(name + ": this loomctl was built with -tags nodirect and only talks to loomd; build it without the tag for " + name)
		},
	}
}
