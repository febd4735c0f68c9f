package controller

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/loom-sdn/loom/flows"
	"github.com/loom-sdn/loom/ofctl"
)

// flowSyncTimeout bounds the wait for a bundle's echo (a barrier on the
// monitor's connection), and the probe's barrier.
const flowSyncTimeout = 2 * time.Second

// A flowWatch is a worker's flow monitor (ofctl.Monitor) on its switch. It
// wakes the worker when the switch's flows in Loom's cookie space change
// and the change is not Loom's own, and when the monitor connects again
// after it lost the switch (ovs-vswitchd restarted: the switch is empty;
// or the listener dropped the connection: changes may have been missed).
//
// Loom's own bundles are told from other changes without reading the
// switch: the changes seen during a reconcile (begin to end) are held,
// and once the reconcile is done, a barrier on the monitor's connection
// marks the end of its bundle's echo; the held changes are then matched
// against the bundle's plan (ofctl.Plan.Echo). What the plan explains costs
// nothing more; anything else (a hand edit before, during or right after
// the bundle) wakes the worker, whose next reconcile compares the whole
// switch. Changes outside a reconcile are never Loom's own.
//
// OVS 3.1 prints flow updates without their priority, so the monitor's view
// cannot name a flow exactly: an update is matched with a bundle's flows
// by value but for the priority (flows.Flow.EqualUpdate), and anything
// else is left to the reconcile, which finds what changed (a dump
// compared by value). docs/reconcile.md has the details.
type flowWatch struct {
	w   *worker
	mon *ofctl.Monitor
	log *zap.Logger
	// changed is poked by foreign changes; urgent when the host must be
	// reconciled at once, whatever its retry backoff (urgentWhy says why):
	// the monitor connected again after missing changes, or a reconcile
	// failed while someone else changed the switch (its flow count was off
	// because of them). Both hold one wake-up.
	changed, urgent chan struct{}

	mu        sync.Mutex
	began     bool        // a reconcile has begun since the watch started
	window    *flowWindow // during a reconcile
	empty     bool        // the switch had none of Loom's flows when the monitor (re)connected, and nothing changed since
	urgentWhy string
}

// flowWindow is what the monitor saw during one reconcile.
type flowWindow struct {
	connected bool // the monitor was connected when it began
	broken    bool // the connection ended or was made meanwhile
	paused    bool // the switch paused the monitor meanwhile
	changes   []ofctl.FlowChange
}

// startFlowWatch starts the worker's flow monitor, unless turned off (then
// w.fw stays nil, and its methods do nothing); the returned function stops
// it and waits for it.
func (w *worker) startFlowWatch(ctx context.Context) (stop func()) {
	if w.r.cfg.FlowMonitorOff {
		return func() {}
	}
	f := &flowWatch{w: w, log: w.log.With(zap.String("component", "flow monitor")),
		changed: make(chan struct{}, 1), urgent: make(chan struct{}, 1)}
	f.mon = ofctl.NewMonitor(ofctl.MonitorConfig{Client: f.client, Handle: f.handle})
	w.fw = f
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.mon.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// client is the switch to watch: the desired state's listener, with the
// TLS files (read at every connection).
func (f *flowWatch) client() *ofctl.Client {
	f.w.mu.Lock()
	hs := f.w.desired
	f.w.mu.Unlock()
	if hs == nil {
		return nil
	}
	return f.w.r.cfg.TLS.OpenFlow(hs.OpenFlow)
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// changedC and urgentC are the wake-ups for the worker's loop (nil, never
// ready, when the monitor is off).
func (f *flowWatch) changedC() <-chan struct{} {
	if f == nil {
		return nil
	}
	return f.changed
}

func (f *flowWatch) urgentC() <-chan struct{} {
	if f == nil {
		return nil
	}
	return f.urgent
}

// reconnected wakes the worker at once: changes may have been missed. f.mu
// is held.
func (f *flowWatch) reconnected() {
	f.urgentWhy = "openflow reconnect"
	poke(f.urgent)
}

// now is what the worker does on an urgent wake-up before it reconciles:
// put the flows back on a switch that came back empty (restore); it
// returns the reconcile's trigger.
func (f *flowWatch) now(ctx context.Context) string {
	f.restore(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.urgentWhy
}

// handle runs on the monitor's goroutine.
func (f *flowWatch) handle(e ofctl.MonitorEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch e.Kind {
	case ofctl.MonitorConnected:
		f.log.Info("flow monitor connected", zap.String("target", f.mon.Target()), zap.Int("flows", len(e.Flows)))
		f.empty = len(e.Flows) == 0
		switch {
		case f.window != nil:
			f.window.broken = true
		case f.began:
			// Whatever happened while it was away is unknown (after a
			// restart of ovs-vswitchd: the switch is empty).
			f.reconnected()
		}
	case ofctl.MonitorChanged:
		f.empty = false
		if f.window != nil {
			f.window.changes = append(f.window.changes, e.Changes...)
			return
		}
		f.foreign(e.Changes)
	case ofctl.MonitorEnded:
		f.log.Info("flow monitor ended", zap.String("target", f.mon.Target()), zap.Error(e.Err))
		if f.window != nil {
			f.window.broken = true
		}
	case ofctl.MonitorPaused:
		// After a large bundle: deletions made until it resumes are
		// never reported.
		f.log.Debug("flow monitor paused by the switch")
		if f.window != nil {
			f.window.paused = true
		}
	case ofctl.MonitorResumed:
		f.log.Debug("flow monitor resumed")
		switch {
		case f.window != nil:
			f.window.paused = true
		case f.began:
			poke(f.changed) // compare: something may have been deleted meanwhile
		}
	}
}

// foreign wakes the worker for changes someone else made; f.mu is held.
func (f *flowWatch) foreign(changes []ofctl.FlowChange) {
	c := changes[0]
	f.log.Info("flows changed on the switch", zap.Int("changes", len(changes)),
		zap.Stringer("first", c))
	poke(f.changed)
}

// begin opens the window of a reconcile of hs: changes seen from now on
// are held until end. A new listener address is watched from now on.
func (f *flowWatch) begin(hs *flows.HostState) {
	if f == nil {
		return
	}
	if t := f.mon.Target(); t != "" && t != hs.OpenFlow {
		f.mon.Restart()
	}
	connected := f.mon.Connected()
	f.mu.Lock()
	f.began = true
	f.window = &flowWindow{connected: connected}
	f.mu.Unlock()
}

// end closes the window: it waits for the echo of the bundle the reconcile
// sent, if any (a barrier), and wakes the worker for what the bundle does
// not explain, or for a connection made or lost meanwhile. A reconcile
// that failed wakes the worker at once if someone else changed the switch
// meanwhile (a bundle's check fails when the count is off because of
// them), and otherwise leaves it to its retry.
func (f *flowWatch) end(ctx context.Context, res *HostResult) {
	if f == nil {
		return
	}
	plan := res.Flows
	bundled := plan != nil && !plan.Empty() // sent, or tried to
	synced := false
	if bundled {
		f.mu.Lock()
		ok := f.window.connected && !f.window.broken
		f.mu.Unlock()
		if ok {
			sctx, cancel := context.WithTimeout(ctx, flowSyncTimeout)
			err := f.mon.Sync(sctx)
			cancel()
			if err != nil {
				f.log.Info("flow monitor: no barrier after the bundle", zap.Error(err))
			}
			synced = err == nil
		}
	}
	if res.Err == nil && !f.mon.Connected() {
		f.mon.Kick() // e.g. the bridge was just made: watch it now
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	win := f.window
	f.window = nil
	foreign, complete := win.changes, true
	if bundled {
		foreign, complete = plan.Echo(win.changes)
	}
	switch {
	case win.broken:
		if f.mon.Connected() {
			f.reconnected()
		} // else: its next connection does
	case win.paused:
		if f.mon.Connected() {
			poke(f.changed)
		} // else: resuming does
	case !win.connected:
	case res.Err != nil:
		if len(foreign) > 0 {
			f.log.Info("flows changed on the switch during a failed reconcile: again at once",
				zap.Int("changes", len(foreign)), zap.Stringer("first", foreign[0]))
			f.urgentWhy = "flow change"
			poke(f.urgent)
		}
	case len(foreign) > 0:
		f.foreign(foreign)
	case !complete:
		// The echo did not all come before the barrier (or there was no
		// barrier): look again.
		f.log.Info("flow monitor: the bundle's echo is incomplete", zap.Bool("synced", synced),
			zap.Int("changes", len(win.changes)), zap.Int("flow_mods", plan.FlowMods()))
		poke(f.changed)
	}
}

// alive tells, for the probe, whether the monitor is connected and
// answers a barrier: then it reports every change, and counting the
// switch's flows would tell nothing more. A barrier that gets no answer
// restarts the monitor's connection (a dead TCP connection is otherwise
// never noticed: ovs-ofctl sends nothing on its own).
func (f *flowWatch) alive(ctx context.Context) bool {
	if f == nil || !f.mon.Connected() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, flowSyncTimeout)
	defer cancel()
	if err := f.mon.Sync(ctx); err != nil {
		f.log.Info("flow monitor: no answer to the probe's barrier", zap.Error(err))
		f.mon.Restart()
		return false
	}
	return true
}

// restore puts the flows back at once on a switch that came back empty
// (ovs-vswitchd restarted) while its host was in sync: one bundle of every
// desired flow, as the first reconcile of an empty switch sends, without
// the steps that find out the switch is empty (the listener's check, a
// dump). Its echo is Loom's own (a window, as in a reconcile). The
// reconcile that follows compares the whole host as usual.
func (f *flowWatch) restore(ctx context.Context) {
	if f == nil {
		return
	}
	f.mu.Lock()
	empty := f.empty
	f.empty = false
	f.mu.Unlock()
	w := f.w
	w.mu.Lock()
	hs := w.desired
	inSync := w.status.AtRevision()
	w.mu.Unlock()
	if !empty || !inSync || hs == nil || hs.NumFlows() == 0 {
		return
	}
	plan := ofctl.PlanEmpty(hs.Flows())
	select {
	case w.r.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-w.r.sem }()
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, w.r.cfg.HostTimeout)
	defer cancel()
	f.begin(hs)
	err := w.r.cfg.TLS.OpenFlow(hs.OpenFlow).Apply(ctx, plan)
	f.end(ctx, &HostResult{Flows: plan, Err: err})
	if err != nil {
		w.log.Info("flows of a switch that came back empty: bundle failed", zap.Error(err))
		return
	}
	w.log.Info("flows put back on a switch that came back empty", zap.Int("flow_mods", plan.FlowMods()),
		zap.Duration("duration", time.Since(start)))
}
