//go:build !nodirect

package main

// The in-process engine of --direct: loomctl connects to the hosts itself
// (OVSDB and OpenFlow). A loomctl built with -tags nodirect talks only to
// loomd and does not link the engine (see nodirect.go).

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller"
	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/topology"
)

// directFlags are the flags of the in-process engine.
type directFlags struct {
	tls      controller.TLS
	timeout  time.Duration
	parallel int
}

// addDirectFlags adds the flags of --direct runs: the TLS files for ssl:
// hosts, and, for runs over many hosts (many), the time allowed for each
// host and how many are worked on at once.
func addDirectFlags(cmd *cobra.Command, d *directFlags, hostTimeout time.Duration, many bool) {
	f := cmd.Flags()
	if many {
		f.DurationVar(&d.timeout, "host-timeout", hostTimeout, "with --direct: time allowed for each host")
		f.IntVar(&d.parallel, "parallel", 8, "with --direct: hosts worked on at once")
	}
	f.StringVar(&d.tls.PrivateKey, "private-key", os.Getenv("LOOM_PRIVATE_KEY"),
		"with --direct: controller's private key (PEM) for hosts with ssl: addresses (env LOOM_PRIVATE_KEY)")
	f.StringVar(&d.tls.Certificate, "certificate", os.Getenv("LOOM_CERTIFICATE"),
		"with --direct: controller's certificate (PEM), e.g. from ovs-pki req+sign NAME controller (env LOOM_CERTIFICATE)")
	f.StringVar(&d.tls.CACert, "ca-cert", os.Getenv("LOOM_CA_CERT"),
		"with --direct: CA certificate (PEM) that signed the switches' certificates, e.g. ovs-pki's switchca/cacert.pem (env LOOM_CA_CERT)")
}

// directPlan runs the engine over t's hosts (a dry run unless apply) and
// returns what it did or would do as the plan loomd would answer.
func directPlan(ctx context.Context, log *zap.Logger, d *directFlags, t *topology.Topology, apply bool) (*api.Plan, error) {
	// Unreadable key files stop the run before any host is touched.
	if err := d.tls.Check(); err != nil {
		return nil, err
	}
	if auto := autoPorts(t); len(auto) > 0 {
		return nil, fmt.Errorf("ports %s have ips: auto: only loomd hands out addresses (and keeps them); apply them through loomd, or give them addresses for --direct", strings.Join(auto, ", "))
	}
	e := &controller.Engine{Log: log, Opts: controller.Options{
		HostTimeout: d.timeout, Parallel: d.parallel, DryRun: !apply, TLS: d.tls,
	}}
	results, err := e.Apply(ctx, t)
	if err != nil {
		return nil, err
	}
	p := &api.Plan{Hosts: make([]api.HostPlan, len(results))}
	if len(t.Warnings) > 0 {
		p.Warnings = api.Problems(t.Warnings)
	}
	for i, r := range results {
		p.Hosts[i] = controller.PlanOf(r, true)
	}
	return p, nil
}

// directFlows reads host's flows from its switch and explains them with t.
func directFlows(ctx context.Context, d *directFlags, t *topology.Topology, host string) (*api.HostFlows, error) {
	if err := d.tls.Check(); err != nil {
		return nil, err
	}
	hs, err := flows.CompileHost(t, host)
	if err != nil {
		return nil, err
	}
	if err := d.tls.VerifyOpenFlow(ctx, hs); err != nil {
		return nil, err
	}
	return controller.InspectFlows(ctx, t, hs, d.tls.OpenFlow(hs.OpenFlow))
}
