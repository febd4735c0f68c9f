package controller

import (
	"context"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/controller/api"
	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
	"github.com/loom-sdn/loom/ovsdb"
)

// A change of the desired state of a host that the worker brought to its
// previous desired state (w.reached) is sent as the difference between
// the two, and only that:
//
//   - OVSDB: the rows of the ports that differ (ovsdb.Client.PlanChange
//     reads only those rows from the cache), in one guarded transaction;
//     its success is the confirmation (no plan of the whole bridge again);
//   - flows: the difference of the two desired states (ofctl.PlanDelta),
//     as one bundle, without a dump, on Loom's own OpenFlow connection
//     kept open (ofctl.Spare; an ovs-ofctl connected ahead for ssl:
//     targets), sent beside the OVSDB transaction; the flow monitor's echo of the
//     bundle (flowWatch.end) confirms it, without a count by another
//     ovs-ofctl (a count is taken only when the monitor is off);
//   - the new ports' OpenFlow numbers are taken from the OVSDB update the
//     client watches (woken by the update, not polled).
//
// Anything unexpected (the change is not one of ports, a row is not as
// Loom left it, a failed transaction or bundle) falls back to the whole
// reconcile, which stays the audit and recovery path; so does anything
// the flow monitor sees that the bundle does not explain.

// spareFor is how long after a change an ovs-ofctl is kept connected to
// the switch, ready for the next change's bundle (ofctl.Spare).
const spareFor = time.Minute

// change brings the host from w.reached to hs by their difference. It
// returns the result and true when it did; false when the caller must
// reconcile the whole host (nothing it did is wrong then: the
// reconcile compares everything).
func (w *worker) change(ctx context.Context, hs *flows.HostState) (HostResult, bool) {
	from := w.reached
	no := func(why string, err error) (HostResult, bool) {
		w.log.Debug("change path not taken: reconciling the whole host", zap.String("why", why), zap.Error(err))
		return HostResult{}, false
	}
	switch {
	case from == nil || from == hs:
		return no("the host's state is not known", nil)
	case w.db == nil || w.dialed != endpointOf(hs):
		return no("not connected", nil)
	case from.Bridge != hs.Bridge || from.OpenFlow != hs.OpenFlow:
		return no("the bridge or its listener changes", nil)
	case !w.known.Knows(from.Flows()):
		return no("the switch's flows are not known", nil)
	case w.fw != nil && !w.fw.mon.Connected():
		return no("the flow monitor is not connected", nil)
	}
	of := w.r.cfg.TLS.OpenFlow(hs.OpenFlow)
	// An ovs-ofctl for the bundle, connected while the OVSDB plan is made
	// (unless one from the last change still waits).
	w.spare.Start(of)
	res := HostResult{Host: hs.Host, DesiredFlows: hs.NumFlows()}
	// Each step's time, for the debug log: where a change's time goes.
	// The bundle runs beside the OVSDB steps: its own time is
	// flow_bundle; bundle_wait is what the change waited for it after
	// them.
	var steps []zap.Field
	begun := time.Now()
	t0 := begun
	mark := func(step string) {
		now := time.Now()
		steps = append(steps, zap.Duration(step, now.Sub(t0)))
		t0 = now
	}
	// The flows do not wait for the OVSDB transaction: they name ports
	// by the OpenFlow numbers Loom fixes through ofport_request (see
	// flows/pipeline.go), which OVS accepts in flows before the port
	// exists, so the bundle goes at once, beside the OVSDB steps, and a
	// change costs the longer of the two instead of their sum. Either
	// failing falls back to the whole reconcile, which compares
	// everything.
	w.fw.begin(hs)
	type sent struct {
		plan *ofctl.Plan
		err  error
		took time.Duration
	}
	bundled := make(chan sent, 1)
	go func() {
		start := time.Now()
		p, err := of.SendDelta(ctx, hs.Flows(), &w.known, &w.spare)
		bundled <- sent{p, err, time.Since(start)}
	}()
	bundle := func() {
		b := <-bundled
		res.Flows, res.Err = b.plan, b.err
		steps = append(steps, zap.Duration("flow_bundle", b.took))
		mark("bundle_wait")
	}
	// ovsdbFailed waits for the bundle (known is its until it ends) and
	// closes the monitor's window before the caller's whole reconcile.
	ovsdbFailed := func(why string, err error) (HostResult, bool) {
		bundle()
		w.fw.end(ctx, &res)
		return no(why, err)
	}
	fromSpec, toSpec := BridgeSpec(from), BridgeSpec(hs)
	plan, err := w.db.PlanChange(ctx, fromSpec, toSpec)
	if err != nil {
		return ovsdbFailed("ovsdb", err)
	}
	if plan.AddsPorts {
		// A port deleted a moment ago must be gone from ovs-vswitchd
		// before it is added again (as in reconcileHost); cheap when
		// ovs-vswitchd is idle.
		if err := w.db.WaitApplied(ctx); err != nil {
			return ovsdbFailed("ovs-vswitchd", err)
		}
	}
	mark("ovsdb_plan")
	if err := w.db.Apply(ctx, plan); err != nil {
		return ovsdbFailed("ovsdb transaction", err)
	}
	res.OVSDB = plan.Changes
	mark("ovsdb_transact")

	bundle()
	if res.Err != nil {
		w.fw.end(ctx, &res)
		return no("flow bundle", res.Err)
	}
	// The bundle's echo (a barrier on the flow monitor's connection) and
	// the new ports' numbers come at once. Foreign changes, or an
	// incomplete echo, wake a whole reconcile next.
	echo := HostResult{Flows: res.Flows}
	echoed := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		w.fw.end(ctx, &echo)
		echoed <- time.Since(start)
	}()
	if w.fw == nil && !res.Flows.Empty() {
		if n, err := of.FlowCount(ctx); err != nil || n != hs.NumFlows() {
			<-echoed
			w.known.Forget()
			return no("flow count after the bundle", err)
		}
	}

	// The ports added or changed: ovs-vswitchd numbers them (or gives up
	// on them) in a few ms.
	d := ovsdb.DiffPorts(fromSpec, toSpec)
	want := map[string]int{}
	for _, p := range toSpec.Ports {
		if slices.Contains(d.Added, p.Name) || slices.Contains(d.Changed, p.Name) {
			want[p.Name] = p.OfportRequest
		}
	}
	down, err := w.db.WaitPorts(ctx, toSpec.Name, want)
	mark("ofports")
	steps = append(steps, zap.Duration("flow_echo", <-echoed))
	if err != nil {
		return no("ports", err)
	}
	w.log.Debug("change sent", append(steps, zap.Duration("total", time.Since(begun)))...)
	// Changes come in bursts: the next ones, for a minute, find
	// ovs-ofctl connected.
	w.spare.Keep(of, spareFor)
	// The ports down are those that were, less those the change touched,
	// and those of the change OVS gave up on.
	w.mu.Lock()
	before := slices.Clone(w.status.PortsDown)
	w.mu.Unlock()
	touched := map[string]bool{}
	for _, n := range slices.Concat(d.Added, d.Changed, d.Deleted) {
		touched[n] = true
	}
	res.PortsDown = slices.DeleteFunc(before, func(p api.PortProblem) bool { return touched[p.Interface] })
	res.PortsDown = append(res.PortsDown, portProblems(hs, down, nil)...) // the bindings by iface-id are as they were (PlanChange)
	slices.SortFunc(res.PortsDown, func(a, b api.PortProblem) int {
		return strings.Compare(a.Object+"\x00"+a.Interface, b.Object+"\x00"+b.Interface)
	})
	if len(res.PortsDown) == 0 {
		res.PortsDown = nil
	}
	return res, true
}
