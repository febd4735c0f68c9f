package controller

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
	"github.com/loom-sdn/loom/topology"
)

// Options tune a run over the hosts.
type Options struct {
	// HostTimeout bounds the work on one host (connect, plan, apply, verify).
	HostTimeout time.Duration
	// Parallel is how many hosts are worked on at once.
	Parallel int
	// DryRun plans without changing anything.
	DryRun bool
	// TLS is for hosts with ssl: addresses.
	TLS TLS
	// Skip names hosts not to contact, each with why; each is planned as
	// a new host instead (nothing on it yet).
	Skip map[string]string
}

// HostResult is what a run did, or would do, on one host.
type HostResult struct {
	Host string
	// OVSDB lists the changes to the host's OVSDB, human readable.
	OVSDB []string
	// Foreign lists ports on Loom's bridge that Loom does not own.
	Foreign []string
	// Flows is the flow plan (nil if the run stopped before it).
	Flows *ofctl.Plan
	// DesiredFlows is how many flows the host should hold.
	DesiredFlows int
	Duration     time.Duration
	Err          error
	// PortsDown lists the ports OVS could not set up; the rest of the host
	// works without them (not an error of the run).
	PortsDown []api.PortProblem
	// NotContacted is why the host was not contacted (Options.Skip): the
	// result is then its plan as a new host.
	NotContacted string
}

// Changed tells whether the run changed (or would change) the host.
func (r *HostResult) Changed() bool {
	return len(r.OVSDB) > 0 || (r.Flows != nil && !r.Flows.Empty())
}

// Engine applies compiled host states.
type Engine struct {
	Log  *zap.Logger
	Opts Options
}

// Apply compiles the topology and brings every host to it (or, in a dry
// run, plans). Results are sorted by host name; the error is non-nil only
// when the topology cannot be compiled. Per-host failures are in the
// results.
func (e *Engine) Apply(ctx context.Context, t *topology.Topology) ([]HostResult, error) {
	states, err := flows.Compile(t)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	if err := e.Opts.TLS.Check(); err != nil {
		return nil, err
	}
	par := e.Opts.Parallel
	if par < 1 {
		par = 8
	}
	results := make([]HostResult, len(states))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, hs := range states {
		if why, ok := e.Opts.Skip[hs.Host]; ok {
			results[i] = planAsNew(hs, why)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			r := e.host(ctx, hs)
			r.Duration = time.Since(start)
			e.logResult(&r)
			results[i] = r
		}()
	}
	wg.Wait()
	sort.Slice(results, func(i, j int) bool { return results[i].Host < results[j].Host })
	return results, nil
}

// planAsNew is the result of a host not contacted (for why): planned as
// the new host it is when it joins the topology, a bridge to create with
// its ports and every flow to add. A host that holds something already
// gets the real difference when it is reconciled.
func planAsNew(hs *flows.HostState, why string) HostResult {
	r := HostResult{Host: hs.Host, DesiredFlows: hs.NumFlows(), NotContacted: why}
	r.OVSDB = []string{"create bridge " + hs.Bridge}
	for _, p := range hs.Ports {
		if p.IfaceID != "" {
			r.OVSDB = append(r.OVSDB, "bind the interface with iface-id "+p.IfaceID+" when it appears")
			continue
		}
		r.OVSDB = append(r.OVSDB, "add port "+p.Name)
	}
	r.Flows = ofctl.PlanEmpty(hs.Flows())
	return r
}

func (e *Engine) logResult(r *HostResult) {
	fields := []zap.Field{
		zap.String("host", r.Host),
		zap.Int("ovsdb_changes", len(r.OVSDB)),
		zap.Duration("duration", r.Duration),
		zap.Bool("dry_run", e.Opts.DryRun),
	}
	if r.Flows != nil {
		fields = append(fields, zap.Int("flow_groups", len(r.Flows.Groups)), zap.Int("flow_mods", r.Flows.FlowMods()))
	}
	for _, p := range r.PortsDown {
		e.Log.Warn("port down", zap.String("host", r.Host), zap.String("object", p.Object),
			zap.String("interface", p.Interface), zap.String("problem", p.Problem))
	}
	switch {
	case r.Err != nil:
		e.Log.Warn("host failed", append(fields, zap.Error(r.Err))...)
	case e.Opts.DryRun:
		e.Log.Debug("host planned", fields...)
	default:
		e.Log.Info("host reconciled", fields...)
	}
}

// BridgeSpec is the OVSDB part of a host's desired state.
func BridgeSpec(hs *flows.HostState) ovsdb.BridgeSpec {
	spec := ovsdb.BridgeSpec{
		Name:             hs.Bridge,
		DatapathType:     hs.DatapathType,
		ControllerTarget: hs.ControllerTarget,
	}
	for _, p := range hs.Ports {
		if p.IfaceID != "" {
			spec.Adopt = append(spec.Adopt, ovsdb.AdoptSpec{IfaceID: p.IfaceID, OfportRequest: p.Ofport, Object: p.ExternalIDs[flows.ExtIDObject]})
			continue
		}
		spec.Ports = append(spec.Ports, ovsdb.PortSpec{
			Name: p.Name, Type: p.Type, Options: p.Options,
			OfportRequest: p.Ofport, ExternalIDs: p.ExternalIDs,
		})
	}
	return spec
}

func (e *Engine) host(ctx context.Context, hs *flows.HostState) (r HostResult) {
	r.Host = hs.Host
	r.DesiredFlows = hs.NumFlows()
	timeout := e.Opts.HostTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dialOpts, err := e.Opts.TLS.dialOptions(hs)
	if err != nil {
		r.Err = err
		return r
	}
	db, err := ovsdb.Dial(ctx, hs.OVSDB, e.Log.With(zap.String("host", hs.Host)), dialOpts...)
	if err != nil {
		r.Err = err
		return r
	}
	defer db.Close()
	if err := e.Opts.TLS.VerifyOpenFlow(ctx, hs); err != nil {
		r.Err = err
		return r
	}
	return reconcileHost(ctx, db, e.Opts.TLS.OpenFlow(hs.OpenFlow), hs, e.Opts.DryRun, nil, false)
}

// reconcileHost brings one host to hs over an open OVSDB connection (or, in
// a dry run, plans): one OVSDB transaction, then one flow bundle, each
// verified. It is the one place that changes a host. known (may be nil)
// is what the caller remembers of the switch's flows between calls;
// listening tells that the switch's OpenFlow listener is known to answer
// (the worker's flow monitor is connected to it).
func reconcileHost(ctx context.Context, db reconcileDB, of flowSwitch, hs *flows.HostState, dry bool, known *ofctl.Known, listening bool) (r HostResult) {
	r.Host = hs.Host
	r.DesiredFlows = hs.NumFlows()
	spec := BridgeSpec(hs)
	plan, err := db.Plan(ctx, spec)
	if err != nil {
		r.Err = err
		return r
	}
	r.OVSDB, r.Foreign = plan.Changes, plan.Foreign

	if dry {
		observed, err := of.Dump(ctx)
		if err != nil {
			if !plan.CreatesBridge {
				r.Err = err
				return r
			}
			observed = nil // a bridge still to be made holds no flows
		}
		r.Flows, r.Err = ofctl.PlanFlows(hs.Flows(), observed)
		return r
	}

	if plan.AddsPorts {
		// Cheap when ovs-vswitchd is idle (the common case): a port
		// deleted by someone a moment ago must be gone from ovs-vswitchd
		// before it is added again, or it keeps the old device.
		if err := db.WaitApplied(ctx); err != nil {
			r.Err = err
			return r
		}
	}
	if !plan.Empty() {
		hold(ctx, "ovsdb", hs.Host)
	}
	if err := db.Apply(ctx, plan); err != nil {
		r.Err = err
		return r
	}
	// The ports, and the interfaces bound by iface-id, with the OpenFlow
	// ports their flows name.
	want := plan.Want(spec)
	// A port OVS gives up on (its interface does not exist) is left down:
	// it holds back nothing else of the host (see ports.go); so is a port
	// whose interface (by iface-id) is not there.
	down, err := db.WaitPorts(ctx, spec.Name, want)
	if err != nil {
		r.Err = err
		return r
	}
	r.PortsDown = portProblems(hs, down, plan.Adopted)
	// The transaction succeeded with its guard (the bridge's rows were those
	// the plan was made from): no second plan to verify it. Its echo in the
	// cache is compared again by the worker (ovsdbMatches).
	if plan.CreatesBridge || !listening {
		if err := of.WaitReady(ctx); err != nil {
			r.Err = err
			return r
		}
	}
	hold(ctx, "flows", hs.Host)
	r.Flows, r.Err = of.Sync(ctx, hs.Flows(), known)
	return r
}
